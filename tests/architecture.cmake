# docs/new-architecture.md end to end, the way a user adds a backbone family:
# install this build into a temporary prefix, build docs/examples/tiny_fuyu
# out of tree against it (find_package(mstar)), then run backbone/tiny_fuyu
# through MSTAR_PLUGIN_PATH: one GRPO step and one TFQ-Bench run.
if(MSTAR_WITH_TORCH AND TARGET mstar_ml AND TARGET algorithms AND TARGET benchmarks AND TARGET implication_world)
  add_test(NAME new_architecture_out_of_tree
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/new_architecture_test.sh ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR})
  # Serial and generous: it compiles LibTorch code (about 2 minutes on 2 cores
  # without a ccache hit) besides running the graph (a few seconds).
  set_tests_properties(new_architecture_out_of_tree PROPERTIES TIMEOUT 1200 RUN_SERIAL TRUE)
endif()
