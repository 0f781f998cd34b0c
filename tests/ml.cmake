# Tests of libmstar_ml and backbone/tiny_vlm (LibTorch). The backbone tests
# load the plugin library through the registry, as algorithm plugins do.
if(MSTAR_WITH_TORCH AND TARGET mstar_ml AND TARGET tiny_vlm)
  mstar_test(ml_test
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/ml_tokenizer_test.cpp
            ${CMAKE_CURRENT_LIST_DIR}/ml_safetensors_test.cpp
            ${CMAKE_CURRENT_LIST_DIR}/ml_registry_test.cpp
            ${CMAKE_CURRENT_LIST_DIR}/ml_backbone_test.cpp
            ${CMAKE_CURRENT_LIST_DIR}/ml_learning_test.cpp
            ${CMAKE_CURRENT_LIST_DIR}/ml_golden_test.cpp
    LIBRARIES mstar::ml)
  target_precompile_headers(ml_test PRIVATE <torch/torch.h>)
  target_compile_definitions(ml_test PRIVATE MSTAR_TINY_VLM_PLUGIN="$<TARGET_FILE:tiny_vlm>")
  add_dependencies(ml_test tiny_vlm)
endif()
