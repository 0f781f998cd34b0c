// Version of the plugin ABI. A plugin built against a different value is
// refused by the loader before any of its node code runs. 2: mstar::Logger
// (log.h) for the node log, BuildAbi (abi.h) in the descriptor. 3: mstar/ml
// layouts: SamplingOptions::row_generators, LoadOptions::backbone_options,
// ProcessGroup's transports (distributed.h).
#pragma once

#define MSTAR_PLUGIN_API_VERSION 3

#define MSTAR_VERSION_MAJOR 0
#define MSTAR_VERSION_MINOR 1
#define MSTAR_VERSION_PATCH 0
#define MSTAR_VERSION_STRING "0.1.0"
