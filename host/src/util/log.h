// One spdlog logger per subsystem ("host", "plugins", "sched", "registry",
// ...), all writing to stderr through the default sink, so `-v` or
// MSTAR_LOG_LEVEL tune them together.
#pragma once

#include <memory>
#include <spdlog/spdlog.h>

namespace mstar {

std::shared_ptr<spdlog::logger> subsystem_logger(const std::string& name);
// Sets up the default stderr sink and level (MSTAR_LOG_LEVEL, default info).
void init_logging(bool verbose);

}  // namespace mstar
