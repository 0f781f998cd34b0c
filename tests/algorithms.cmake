# Tests of algorithm/grpo and algorithm/sft: the math against hand-computed
# values (links the static mstar_rl, no plugin), then end-to-end runs of the
# real `mstar` binary on tiny graphs (learning, resume after a kill).
if(MSTAR_WITH_TORCH AND TARGET algorithms)
  mstar_test(algorithms_math_test SOURCES algorithms_math_test.cpp LIBRARIES mstar_rl)
  mstar_test(algorithms_sampler_test SOURCES algorithms_sampler_test.cpp LIBRARIES mstar_rl)

  mstar_test(algorithms_node_test SOURCES algorithms_node_test.cpp
             LIBRARIES mstar_host Boost::filesystem)
  add_dependencies(algorithms_node_test mstar algorithms tiny_vlm rewards implication_world tfq_jsonl)
endif()
