# Tests of the host: they drive the real mstar binary and the test plugins.
mstar_test(host_test SOURCES host_run_test.cpp host_loader_test.cpp host_resume_test.cpp
           LIBRARIES mstar_host Boost::filesystem)

add_library(bad_version_plugin MODULE fixtures/bad_plugins/bad_version.cpp)
target_link_libraries(bad_version_plugin PRIVATE mstar::core)
set_target_properties(bad_version_plugin PROPERTIES PREFIX "lib"
                      LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/test_plugins/bad_version)
mstar_add_plugin(crash_init_plugin SOURCES fixtures/bad_plugins/crash_init.cpp
                 OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/test_plugins/crash_init)
add_dependencies(host_test mstar testing bad_version_plugin crash_init_plugin)

# The out-of-tree plugin, built against `cmake --install` output.
add_test(NAME external_plugin_out_of_tree
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/external_plugin_test.sh ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR})
set_tests_properties(external_plugin_out_of_tree PROPERTIES TIMEOUT 600 RUN_SERIAL TRUE)

mstar_test(rewards_test SOURCES rewards_test.cpp LIBRARIES mstar_host mstar::data Boost::filesystem)
add_dependencies(rewards_test mstar testing rewards)

# Unit tests of the host's planning and scheduling: plugins in memory and a
# fake launcher, no mstar binary, no child process.
mstar_test(host_unit_test SOURCES host_plan_test.cpp host_scheduler_test.cpp LIBRARIES mstar_host)
