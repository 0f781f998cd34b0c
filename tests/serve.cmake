# Included by tests/CMakeLists.txt: `mstar serve` over HTTP (stdlib Python)
# and in Debian's headless Chromium (Selenium, pinned in
# scripts/requirements.txt). Both run the real binary over sweeps of the test
# plugins. The browser test skips (77) without chromium/chromium-driver/
# selenium, and fails instead when CI=true.
if(EXISTS "${MSTAR_PYTHON}")
  set(serve_python "${MSTAR_PYTHON}")
else()
  find_program(serve_python python3 REQUIRED)
endif()
add_test(NAME serve_http COMMAND ${serve_python} ${CMAKE_CURRENT_SOURCE_DIR}/serve_http_test.py $<TARGET_FILE:mstar>)
add_test(NAME serve_browser
         COMMAND ${serve_python} ${CMAKE_CURRENT_SOURCE_DIR}/serve_browser_test.py $<TARGET_FILE:mstar>
                 ${CMAKE_BINARY_DIR}/test_artifacts/serve)
# `mstar export --tensorboard` read back with the tensorboard package's reader.
add_test(NAME serve_tensorboard_export
         COMMAND ${serve_python} ${CMAKE_CURRENT_SOURCE_DIR}/serve_tensorboard_test.py $<TARGET_FILE:mstar>)
# `mstar export --mlflow` read back with MLflow's own client.
add_test(NAME serve_mlflow_export
         COMMAND ${serve_python} ${CMAKE_CURRENT_SOURCE_DIR}/serve_mlflow_test.py $<TARGET_FILE:mstar>)
# The bounded load test of the JSON API while a sweep writes the registry
# (bench/serve_load.py, a few seconds): zero errors; req/s and p99 printed.
add_test(NAME serve_load
         COMMAND ${serve_python} ${PROJECT_SOURCE_DIR}/bench/serve_load.py $<TARGET_FILE:mstar> --seconds 3 --clients 2)
set_tests_properties(serve_http serve_browser serve_tensorboard_export serve_mlflow_export serve_load PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)

# The GRPO node's rollout log, served (needs the LibTorch plugins).
if(TARGET algorithms AND TARGET tiny_vlm)
  add_test(NAME serve_rollouts
           COMMAND ${serve_python} ${CMAKE_CURRENT_SOURCE_DIR}/serve_rollouts_test.py $<TARGET_FILE:mstar>)
  set_tests_properties(serve_rollouts PROPERTIES TIMEOUT 600)
endif()
