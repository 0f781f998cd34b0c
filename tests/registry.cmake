# Included by tests/CMakeLists.txt.
mstar_test(registry_test SOURCES registry_test.cpp LIBRARIES mstar::registry)
