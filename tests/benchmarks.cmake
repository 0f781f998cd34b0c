# Tests of the judge components (plugins/judges) and the benchmark nodes
# (plugins/benchmarks). judges_test needs no LibTorch; benchmarks_test runs
# the real mstar binary on a small world with a random tiny_vlm.
if(TARGET judges)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(BENCH_HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
  mstar_test(judges_test SOURCES benchmarks_extraction_test.cpp benchmarks_judges_test.cpp
             LIBRARIES mstar::data mstar::core PkgConfig::BENCH_HTTPLIB Threads::Threads ${CMAKE_DL_LIBS})
  # judge/rubric is built with the world (its catalogues are the world's).
  target_compile_definitions(judges_test PRIVATE MSTAR_JUDGES_PLUGIN="$<TARGET_FILE:judges>"
                             MSTAR_WORLD_PLUGIN="$<TARGET_FILE:implication_world>")
  add_dependencies(judges_test judges implication_world)
endif()
if(TARGET benchmarks AND TARGET mstar_bench_common)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(BENCH_HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
  mstar_test(benchmarks_test SOURCES benchmarks_metrics_test.cpp benchmarks_run_test.cpp
             LIBRARIES mstar_bench_common mstar_host Boost::filesystem PkgConfig::BENCH_HTTPLIB Threads::Threads)
  add_dependencies(benchmarks_test mstar benchmarks judges tiny_vlm implication_world)
endif()
