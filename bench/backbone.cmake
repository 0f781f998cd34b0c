# backbone_bench: sampling throughput, KV-cache speedup, training-step time,
# MFU and sampling efficiency of backbone/tiny_vlm (S/M/L x 1, 2 threads and
# 2 BLAS threads beside 1 LibTorch thread).
if(MSTAR_WITH_TORCH AND TARGET mstar_ml AND TARGET tiny_vlm)
  add_executable(backbone_bench ${CMAKE_CURRENT_LIST_DIR}/backbone_bench.cpp)
  target_link_libraries(backbone_bench PRIVATE mstar::ml)
  target_precompile_headers(backbone_bench PRIVATE <torch/torch.h>)
  target_compile_definitions(backbone_bench PRIVATE MSTAR_TINY_VLM_PLUGIN="$<TARGET_FILE:tiny_vlm>")
  add_dependencies(backbone_bench tiny_vlm)
  mstar_warnings(backbone_bench)
endif()

# backbone_compare: the C++ side of bench/backbone_compare.py (C++ against
# the eager PyTorch reference bench/backbone_ref.py, same weights and inputs).
if(MSTAR_WITH_TORCH AND TARGET mstar_ml AND TARGET tiny_vlm)
  add_executable(backbone_compare ${CMAKE_CURRENT_LIST_DIR}/backbone_compare.cpp)
  target_link_libraries(backbone_compare PRIVATE mstar::ml)
  target_precompile_headers(backbone_compare REUSE_FROM backbone_bench)
  target_compile_definitions(backbone_compare PRIVATE MSTAR_TINY_VLM_PLUGIN="$<TARGET_FILE:tiny_vlm>")
  add_dependencies(backbone_compare tiny_vlm)
  mstar_warnings(backbone_compare)
endif()
