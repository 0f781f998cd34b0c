#include "util/log.h"

#include <cstdlib>
#include <spdlog/sinks/stdout_color_sinks.h>

namespace mstar {

std::shared_ptr<spdlog::logger> subsystem_logger(const std::string& name) {
  if (auto existing = spdlog::get(name)) return existing;
  auto logger = spdlog::default_logger()->clone(name);
  spdlog::register_logger(logger);
  return logger;
}

void init_logging(bool verbose) {
  auto logger = spdlog::stderr_color_mt("mstar");
  logger->set_pattern("%^[%H:%M:%S %n %l]%$ %v");
  spdlog::set_default_logger(logger);
  spdlog::level::level_enum level = verbose ? spdlog::level::debug : spdlog::level::info;
  if (const char* env = std::getenv("MSTAR_LOG_LEVEL")) level = spdlog::level::from_str(env);
  spdlog::set_level(level);
}

}  // namespace mstar
