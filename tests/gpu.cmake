# scripts/gpu_check.sh's CPU path (docs/gpu.md): pack the Debian packages
# (cached in the build folder, so a rerun downloads nothing), unpack them
# into a scratch root and configure mstar against them and this build's
# LibTorch. SKIP (77) where Debian's archive cannot be reached.
if(MSTAR_WITH_TORCH AND Torch_DIR)
  add_test(NAME gpu_check_cpu_path
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/gpu_check_test.sh ${CMAKE_SOURCE_DIR}
                   ${CMAKE_BINARY_DIR}/gpu_check "${MSTAR_PYTHON}" "${Torch_DIR}")
  set_tests_properties(gpu_check_cpu_path PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
endif()
