# Data-parallel training: algorithm/sft and algorithm/grpo as 2 ranks started
# by the local launcher against 1 rank (same parameters), and a rank killed
# mid-run.
if(MSTAR_WITH_TORCH AND TARGET algorithms)
  mstar_test(dp_node_test SOURCES dp_node_test.cpp LIBRARIES mstar_host Boost::filesystem)
  add_dependencies(dp_node_test mstar algorithms tiny_vlm rewards implication_world tfq_jsonl)
endif()

if(MSTAR_WITH_TORCH AND TARGET mstar_ml)
  mstar_test(distributed_test SOURCES distributed_test.cpp LIBRARIES mstar::ml Boost::headers)
  mstar_test(distributed_gpu_test SOURCES distributed_gpu_test.cpp LIBRARIES mstar::ml Boost::headers LABELS gpu)
endif()

# balance_batch's partition on its own (no torch).
if(MSTAR_WITH_TORCH AND TARGET mstar_rl)
  mstar_test(dp_balance_test SOURCES dp_balance_test.cpp LIBRARIES mstar_rl)
endif()
