#include "util/log.h"

#include <cstdlib>
#include <spdlog/sinks/stdout_color_sinks.h>

namespace mstar {

namespace {

spdlog::level::level_enum to_spdlog(LogLevel level) {
  switch (level) {
    case LogLevel::Debug: return spdlog::level::debug;
    case LogLevel::Info: return spdlog::level::info;
    case LogLevel::Warn: return spdlog::level::warn;
    case LogLevel::Error: return spdlog::level::err;
  }
  return spdlog::level::err;  // a level from a newer plugin API: shown rather than lost
}

}  // namespace

bool SpdlogLogger::enabled(LogLevel level) const noexcept { return logger_->should_log(to_spdlog(level)); }

void SpdlogLogger::write(LogLevel level, std::string_view line) noexcept {
  // The line is the message, not a format: braces in it stay as they are.
  logger_->log(to_spdlog(level), spdlog::string_view_t(line.data(), line.size()));
}

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
