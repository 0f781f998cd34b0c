// Logging from plugin code: the node's log, owned by the host.
//
//   ctx.logger().info("step {}: loss {:.4f}", step, loss);
//
// Only a level and a finished line cross into the host: the helpers below
// format on the plugin's side (fmt's code is compiled into the plugin), so
// a plugin depends neither on the host's logging library nor on the layout
// of its logger. A disabled level skips the formatting.
#pragma once

#include <fmt/format.h>

#include <string_view>
#include <utility>

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
  void log(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
    if (enabled(level)) write(level, fmt::format(format, std::forward<Args>(args)...));
  }
  template <class... Args>
  void debug(fmt::format_string<Args...> format, Args&&... args) {
    log(LogLevel::Debug, format, std::forward<Args>(args)...);
  }
  template <class... Args>
  void info(fmt::format_string<Args...> format, Args&&... args) {
    log(LogLevel::Info, format, std::forward<Args>(args)...);
  }
  template <class... Args>
  void warn(fmt::format_string<Args...> format, Args&&... args) {
    log(LogLevel::Warn, format, std::forward<Args>(args)...);
  }
  template <class... Args>
  void error(fmt::format_string<Args...> format, Args&&... args) {
    log(LogLevel::Error, format, std::forward<Args>(args)...);
  }
};

// Drops every line: for contexts built in unit tests.
class NullLogger final : public Logger {
 public:
  bool enabled(LogLevel) const noexcept override { return false; }
  void write(LogLevel, std::string_view) noexcept override {}
};

}  // namespace mstar
