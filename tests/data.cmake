# The dataset layer as an out-of-tree author uses it: a benchmark plugin
# built against `cmake --install` output (mstar/data/*.h, mstar::data) reads
# a TFQ JSONL dataset imported by dataset/tfq_jsonl and is run by the
# installed `mstar`. No LibTorch: it builds in seconds.
if(TARGET tfq_jsonl)
  add_test(NAME data_benchmark_out_of_tree
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/data_benchmark_test.sh ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR})
  set_tests_properties(data_benchmark_out_of_tree PROPERTIES TIMEOUT 600 RUN_SERIAL TRUE)
endif()
