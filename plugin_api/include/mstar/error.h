// One error type for the whole project. The category, not the message,
// decides what breaks: exit codes of the CLI and the failure reason stored
// in the registry both derive from it.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace mstar {

enum class ErrorCategory {
  BadInput,       // YAML, params, plugin choice: the user must change something.
  PluginFailure,  // a plugin threw or returned an error while running.
  Io,             // files, processes, the registry database.
  Internal,       // a bug in mstar itself.
  Interrupted,    // SIGINT/SIGTERM: the work stays resumable.
};

std::string_view to_string(ErrorCategory category) noexcept;

// 0 success, 1 a node failed, 2 bad input, 130 interrupted.
int exit_code(ErrorCategory category) noexcept;

class Error : public std::runtime_error {
 public:
  Error(ErrorCategory category, std::string message)
      : std::runtime_error(std::move(message)), category_(category) {}

  ErrorCategory category() const noexcept { return category_; }
  bool is_bad_input() const noexcept { return category_ == ErrorCategory::BadInput; }

 private:
  ErrorCategory category_;
};

[[noreturn]] void throw_bad_input(std::string message);
[[noreturn]] void throw_io(std::string message);

}  // namespace mstar
