# Tests of the host: they drive the real mstar binary and the test plugins.
mstar_test(host_test SOURCES host_run_test.cpp host_loader_test.cpp host_resume_test.cpp
           LIBRARIES mstar_host Boost::filesystem)

add_library(bad_version_plugin MODULE fixtures/bad_plugins/bad_version.cpp)
target_link_libraries(bad_version_plugin PRIVATE mstar::core)
set_target_properties(bad_version_plugin PROPERTIES PREFIX "lib"
                      LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/test_plugins/bad_version)
mstar_add_plugin(crash_init_plugin SOURCES fixtures/bad_plugins/crash_init.cpp
                 OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/test_plugins/crash_init)
# Descriptors claiming another build (abi.h), one library per claim:
# test_plugins/bad_abi/libbad_abi_<claim>.so.
set(MSTAR_BAD_ABI_PLUGINS)
foreach(claim BAD_JSON_VERSION BAD_STRING_ABI BAD_TORCH_VERSION OLD_API)
  string(TOLOWER ${claim} name)
  add_library(bad_abi_${name} MODULE fixtures/bad_plugins/bad_abi.cpp)
  target_link_libraries(bad_abi_${name} PRIVATE mstar::core)
  target_compile_definitions(bad_abi_${name} PRIVATE ${claim})
  set_target_properties(bad_abi_${name} PROPERTIES PREFIX "lib"
                        LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/test_plugins/bad_abi)
  list(APPEND MSTAR_BAD_ABI_PLUGINS bad_abi_${name})
endforeach()
# The LibTorch the host compares with (host/CMakeLists.txt), "" without it.
target_compile_definitions(host_test PRIVATE
  MSTAR_TORCH_VERSION="$<IF:$<BOOL:${MSTAR_WITH_TORCH}>,${Torch_VERSION},>")
add_dependencies(host_test mstar testing bad_version_plugin crash_init_plugin ${MSTAR_BAD_ABI_PLUGINS})

# The handshake's checks and the Logger both sides of the boundary see.
mstar_test(plugin_abi_test SOURCES plugin_abi_test.cpp LIBRARIES mstar_host)

# The out-of-tree plugin, built against `cmake --install` output.
add_test(NAME external_plugin_out_of_tree
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/external_plugin_test.sh ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR})
set_tests_properties(external_plugin_out_of_tree PROPERTIES TIMEOUT 600 RUN_SERIAL TRUE)

mstar_test(rewards_test SOURCES rewards_test.cpp LIBRARIES mstar_host mstar::data Boost::filesystem)
add_dependencies(rewards_test mstar testing rewards)

# Unit tests of the host's planning and scheduling: plugins in memory and a
# fake launcher, no mstar binary, no child process.
mstar_test(host_unit_test SOURCES host_plan_test.cpp host_scheduler_test.cpp host_store_test.cpp LIBRARIES mstar_host)
