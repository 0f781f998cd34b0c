# Included by tests/CMakeLists.txt. The registry tests run against SQLite and
# a real PostgreSQL server that the tests start (pg_server.h); they see the
# registry's private headers for its dialect layer.
mstar_test(registry_test SOURCES registry_test.cpp registry_backend_test.cpp
           LIBRARIES mstar::registry SQLite::SQLite3 PostgreSQL::PostgreSQL)
target_include_directories(registry_test PRIVATE ${PROJECT_SOURCE_DIR}/registry/src)
