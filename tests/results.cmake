# Included by tests/CMakeLists.txt: the query engine, charts and report
# (results_query_test, results_filter_test), and the result commands driving the real mstar
# binary with the test plugins (results_cli_test, results_report_test). Each
# runs on SQLite and on a real PostgreSQL server the tests start (pg_server.h).
mstar_test(results_test
           SOURCES results_query_test.cpp results_filter_test.cpp results_cli_test.cpp results_report_test.cpp
           LIBRARIES mstar_host Boost::filesystem PostgreSQL::PostgreSQL)
add_dependencies(results_test mstar testing)
