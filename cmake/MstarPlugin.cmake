# mstar_add_plugin(NAME SOURCES file... [LIBRARIES lib...] [TORCH])
#
# Builds a loadable mstar plugin library. Used by the built-in plugins and,
# through the installed package (find_package(mstar)), by out-of-tree ones.
# Each plugin gets plugin_entry.cpp, which defines the one exported hook the
# loader reads; everything else stays hidden to keep libraries from
# interposing each other's symbols.
function(mstar_add_plugin NAME)
  cmake_parse_arguments(ARG "TORCH" "OUTPUT_DIRECTORY" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "mstar_add_plugin(${NAME}): SOURCES is required")
  endif()
  add_library(${NAME} MODULE ${ARG_SOURCES} ${MSTAR_PLUGIN_ENTRY_SOURCE})
  target_link_libraries(${NAME} PRIVATE mstar::core ${ARG_LIBRARIES})
  # Installed built-ins live in <libdir>/mstar/plugins, two levels below libmstar_core.
  set_target_properties(${NAME} PROPERTIES PREFIX "libmstar_" CXX_VISIBILITY_PRESET hidden
                        VISIBILITY_INLINES_HIDDEN ON INSTALL_RPATH "$ORIGIN/../..")
  if(CMAKE_INSTALL_RPATH)  # LibTorch's folder, for the ML plugins (cmake/MstarTorch.cmake)
    set_property(TARGET ${NAME} APPEND PROPERTY INSTALL_RPATH ${CMAKE_INSTALL_RPATH})
  endif()
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${NAME} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY})
  elseif(DEFINED MSTAR_PLUGIN_OUTPUT_DIR)
    set_target_properties(${NAME} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${MSTAR_PLUGIN_OUTPUT_DIR})
  endif()
  if(COMMAND mstar_warnings)
    mstar_warnings(${NAME})
  endif()
endfunction()
