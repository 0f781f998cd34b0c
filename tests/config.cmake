# Experiment configuration: YAML loading, overrides, graph validation, sweeps.
mstar_test(config_test SOURCES config_test.cpp sweep_test.cpp LIBRARIES mstar_config)
