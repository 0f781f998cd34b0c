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
            ${CMAKE_CURRENT_LIST_DIR}/ml_fast_paths_test.cpp
    LIBRARIES mstar::ml)
  target_precompile_headers(ml_test PRIVATE <torch/torch.h>)

  # What needs a GPU; skips with a message on a machine without one.
  mstar_test(ml_gpu_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/ml_gpu_test.cpp LIBRARIES mstar::ml LABELS gpu)
  target_precompile_headers(ml_gpu_test REUSE_FROM ml_test)
  target_compile_definitions(ml_gpu_test PRIVATE MSTAR_TINY_VLM_PLUGIN="$<TARGET_FILE:tiny_vlm>")
  add_dependencies(ml_gpu_test tiny_vlm)
  # A family library built (it says) against another LibTorch.
  add_library(other_torch_family MODULE ${CMAKE_CURRENT_LIST_DIR}/fixtures/bad_plugins/other_torch_family.cpp)
  target_link_libraries(other_torch_family PRIVATE mstar::ml)
  set_target_properties(other_torch_family PROPERTIES PREFIX "lib"
                        LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/test_plugins/other_torch)
  target_compile_definitions(ml_test PRIVATE MSTAR_TINY_VLM_PLUGIN="$<TARGET_FILE:tiny_vlm>"
                             MSTAR_OTHER_TORCH_PLUGIN="$<TARGET_FILE:other_torch_family>")
  add_dependencies(ml_test tiny_vlm other_torch_family)

  # backbone/load, a library of its own, run by the real mstar in a fresh
  # node process.
  mstar_test(backbone_load_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/backbone_load_test.cpp
             LIBRARIES mstar_host Boost::filesystem)
  add_dependencies(backbone_load_test mstar backbone_load tiny_vlm)
endif()
