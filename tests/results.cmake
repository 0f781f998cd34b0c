# Included by tests/CMakeLists.txt: the query engine, charts and report
# (results_query_test), and the result commands driving the real mstar
# binary with the test plugins (results_cli_test, results_report_test).
mstar_test(results_test
           SOURCES results_query_test.cpp results_cli_test.cpp results_report_test.cpp
           LIBRARIES mstar_host Boost::filesystem)
add_dependencies(results_test mstar testing)
