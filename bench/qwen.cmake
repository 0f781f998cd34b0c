# qwen_compare: the C++ side of bench/qwen_compare.py (backbone/qwen2_5_vl
# against transformers on the same random checkpoint), and the peak RSS of
# loading a checkpoint.
if(MSTAR_WITH_TORCH AND TARGET qwen2_5_vl_objects)
  add_executable(qwen_compare ${CMAKE_CURRENT_LIST_DIR}/qwen_compare.cpp)
  target_link_libraries(qwen_compare PRIVATE qwen2_5_vl_objects mstar::ml)
  target_precompile_headers(qwen_compare PRIVATE <torch/torch.h>)
  mstar_warnings(qwen_compare)
endif()
