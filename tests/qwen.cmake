# backbone/qwen2_5_vl against Hugging Face transformers. The test runs
# tests/reference/qwen2_5_vl_reference.py with the project's venv to make its
# fixtures (cached in the build directory by the script's hash).
if(MSTAR_WITH_TORCH AND TARGET qwen2_5_vl_objects)
  mstar_test(qwen2_5_vl_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/qwen2_5_vl_test.cpp
             ${CMAKE_CURRENT_LIST_DIR}/qwen2_5_vl_tfq_test.cpp ${CMAKE_CURRENT_LIST_DIR}/qwen2_5_vl_experiment_test.cpp
             ${CMAKE_CURRENT_LIST_DIR}/qwen2_5_vl_lora_test.cpp
             LIBRARIES qwen2_5_vl_objects mstar::ml)
  target_precompile_headers(qwen2_5_vl_test PRIVATE <torch/torch.h>)
  target_compile_definitions(qwen2_5_vl_test PRIVATE MSTAR_PYTHON="${CMAKE_SOURCE_DIR}/.venv/bin/python")
  # The experiment test runs the mstar binary with these plugins.
  foreach(t mstar qwen2_5_vl backbone_load algorithms rewards tfq_jsonl)
    if(TARGET ${t})
      add_dependencies(qwen2_5_vl_test ${t})
    endif()
  endforeach()
endif()
