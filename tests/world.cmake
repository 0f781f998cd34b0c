# Tests of the implication world (plugins/world) and of the dataset layer
# (libmstar_data: reader, importer, images; `mstar data` over a world).
if(TARGET mstar_world)
  mstar_test(world_test
    SOURCES world_test.cpp data_reader_test.cpp data_image_test.cpp world_baseline_test.cpp world_plugin_test.cpp
            world_helpers.cpp
    LIBRARIES mstar_world mstar::data mstar_host ${CMAKE_DL_LIBS})
  add_dependencies(world_test implication_world tfq_jsonl)
  target_compile_definitions(world_test PRIVATE
    MSTAR_WORLD_PLUGIN="$<TARGET_FILE:implication_world>"
    MSTAR_TFQ_JSONL_PLUGIN="$<TARGET_FILE:tfq_jsonl>")
endif()
