// Logging from plugin code: the node's log, owned by the host.
//
//   ctx.logger().info("step {}: loss {:.4f}", step, loss);
//
// Only a level and a finished line cross into the host: the helpers below
// format on the plugin's side (mstar/format.h, compiled into the plugin), so
// a plugin depends neither on the host's logging library nor on the layout
// of its logger. A disabled level skips the formatting.
#pragma once

#include <string_view>

#include "mstar/format.h"

namespace mstar {

enum class LogLevel : int { Debug = 1, Info = 2, Warn = 3, Error = 4 };

class Logger {
 public:
  virtual ~Logger() = default;
  // False when lines of `level` would be dropped.
  virtual bool enabled(LogLevel level) const noexcept = 0;
  // One line, formatted, without a trailing newline.
  virtual void write(LogLevel level, std::string_view line) noexcept = 0;

  template <class... Args>
  void log(LogLevel level, std::string_view format, const Args&... args) {
    if (enabled(level)) write(level, mstar::format(format, args...));
  }
  template <class... Args>
  void debug(std::string_view format, const Args&... args) {
    log(LogLevel::Debug, format, args...);
  }
  template <class... Args>
  void info(std::string_view format, const Args&... args) {
    log(LogLevel::Info, format, args...);
  }
  template <class... Args>
  void warn(std::string_view format, const Args&... args) {
    log(LogLevel::Warn, format, args...);
  }
  template <class... Args>
  void error(std::string_view format, const Args&... args) {
    log(LogLevel::Error, format, args...);
  }
};

// Drops every line: for contexts built in unit tests.
class NullLogger final : public Logger {
 public:
  bool enabled(LogLevel) const noexcept override { return false; }
  void write(LogLevel, std::string_view) noexcept override {}
};

}  // namespace mstar
