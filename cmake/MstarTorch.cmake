# Where LibTorch comes from.
#
# 1. A LibTorch named by Torch_DIR or CMAKE_PREFIX_PATH (the pytorch.org
#    archive, a GPU machine's own torch): used as given.
# 2. Otherwise the project's Python environment (.venv/, made by
#    scripts/setup.sh from scripts/requirements.txt): the pinned PyPI wheel
#    ships LibTorch's headers, libraries and CMake config, found through
#    torch.utils.cmake_prefix_path.
#
# A system-wide LibTorch (Debian's libtorch-dev is 1.13) is never picked up
# by accident: it has neither fused attention nor the version the results
# were recorded with.
set(MSTAR_PYTHON "${CMAKE_SOURCE_DIR}/.venv/bin/python" CACHE FILEPATH
    "Python whose torch package provides LibTorch when neither Torch_DIR nor CMAKE_PREFIX_PATH names one")
set(MSTAR_MIN_TORCH_VERSION 2.7)

if(NOT Torch_DIR AND NOT CMAKE_PREFIX_PATH AND EXISTS "${MSTAR_PYTHON}")
  execute_process(COMMAND "${MSTAR_PYTHON}" -c "import torch.utils; print(torch.utils.cmake_prefix_path)"
                  OUTPUT_VARIABLE _mstar_torch_prefix OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE _mstar_torch_rc ERROR_QUIET)
  if(_mstar_torch_rc EQUAL 0 AND _mstar_torch_prefix)
    set(Torch_DIR "${_mstar_torch_prefix}/Torch" CACHE PATH "LibTorch's CMake config" FORCE)
  endif()
endif()

# PyPI's torch is a CUDA build: its CMake config wants the CUDA toolkit
# (the project's machines carry CUDA 13) and, without this list, compiles
# and runs a program to detect GPUs, which fails on a machine without one.
# mstar compiles no CUDA code itself; 8.0/9.0 are the A100 and H100/H200.
if(NOT DEFINED TORCH_CUDA_ARCH_LIST AND NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
  set(TORCH_CUDA_ARCH_LIST "8.0;9.0")
endif()

# LibTorch's config finds its libraries with find_library(... PATHS), which
# looks in the system's folders first: with Debian's libtorch-dev installed
# it would mix 1.13's libraries into a 2.x build. Its own root first.
if(Torch_DIR)
  get_filename_component(_mstar_torch_root "${Torch_DIR}/../../.." ABSOLUTE)
  list(PREPEND CMAKE_PREFIX_PATH "${_mstar_torch_root}")
endif()
if(Torch_DIR OR CMAKE_PREFIX_PATH)
  find_package(Torch QUIET)
endif()
if(NOT Torch_FOUND)
  message(WARNING "LibTorch not found: the ML plugins are skipped. Run scripts/setup.sh (it makes .venv/ "
                  "with the pinned torch wheel) or give a LibTorch with -DTorch_DIR=... or CMAKE_PREFIX_PATH.")
  set(MSTAR_WITH_TORCH OFF)
elseif(Torch_VERSION VERSION_LESS MSTAR_MIN_TORCH_VERSION)
  message(FATAL_ERROR "LibTorch ${Torch_VERSION} (${Torch_DIR}) is older than ${MSTAR_MIN_TORCH_VERSION}: "
                      "mstar needs fused attention and the C++11 ABI. Run scripts/setup.sh, then configure "
                      "afresh (remove ${CMAKE_BINARY_DIR}/CMakeCache.txt: LibTorch's config caches library "
                      "paths) or give a newer LibTorch with -DTorch_DIR=.")
else()
  message(STATUS "LibTorch ${Torch_VERSION}: ${Torch_DIR}")
  # Installed ML plugins and libmstar_ml find LibTorch where it was linked
  # from: its link line names libtorch_cuda.so by full path in a linker flag,
  # which CMAKE_INSTALL_RPATH_USE_LINK_PATH does not see.
  list(APPEND CMAKE_INSTALL_RPATH "${_mstar_torch_root}/lib")
  # The PyPI wheel's libtorch.so carries parts of a newer libstdc++ linked in
  # statically, and exports them (std::filesystem::remove_all among them,
  # which crashes when called from outside). A program that links LibTorch
  # must find the system's libstdc++ first: named before everything else on
  # the link line, it comes first in the search order.
  set(MSTAR_TORCH_LINK_OPTIONS "LINKER:--push-state,--no-as-needed" "-lstdc++" "LINKER:--pop-state")
endif()
