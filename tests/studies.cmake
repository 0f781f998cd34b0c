# The shipped studies (experiments/*.yaml): dry-run expansion counts, shared
# upstream work across studies, and the quickstart end to end at a reduced
# size (needs the shipped base in models/).
if(MSTAR_WITH_TORCH AND TARGET algorithms AND TARGET benchmarks)
  mstar_test(studies_test SOURCES studies_test.cpp LIBRARIES mstar_host Boost::filesystem)
  add_dependencies(studies_test mstar algorithms tiny_vlm backbone_load rewards implication_world tfq_jsonl benchmarks
                   bench_compare judges)
endif()
