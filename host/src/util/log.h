// One spdlog logger per subsystem ("host", "plugins", "sched", "registry",
// ...), all writing to stderr through the default sink, so `-v` or
// MSTAR_LOG_LEVEL tune them together.
#pragma once

#include <memory>
#include <spdlog/spdlog.h>

#include "mstar/log.h"

namespace mstar {

std::shared_ptr<spdlog::logger> subsystem_logger(const std::string& name);
// Sets up the default stderr sink and level (MSTAR_LOG_LEVEL, default info).
void init_logging(bool verbose);

// The plugins' Logger (mstar/log.h) over a spdlog logger: the host's side
// of the boundary, where lines arrive formatted.
class SpdlogLogger final : public Logger {
 public:
  explicit SpdlogLogger(std::shared_ptr<spdlog::logger> logger) : logger_(std::move(logger)) {}
  bool enabled(LogLevel level) const noexcept override;
  void write(LogLevel level, std::string_view line) noexcept override;

 private:
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace mstar
