# Warnings for mstar's own targets only (third-party headers are SYSTEM).
function(mstar_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  # GCC 12 reports false maybe-uninitialized positives inside nlohmann::json's
  # iterators (a known GCC issue), at our call sites; the code is fine.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
  endif()
endfunction()
