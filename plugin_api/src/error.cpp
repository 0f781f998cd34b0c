#include "mstar/error.h"

namespace mstar {

std::string_view to_string(ErrorCategory category) noexcept {
  switch (category) {
    case ErrorCategory::BadInput: return "bad_input";
    case ErrorCategory::PluginFailure: return "plugin_failure";
    case ErrorCategory::Io: return "io";
    case ErrorCategory::Internal: return "internal";
    case ErrorCategory::Interrupted: return "interrupted";
  }
  return "internal";
}

int exit_code(ErrorCategory category) noexcept {
  switch (category) {
    case ErrorCategory::BadInput: return 2;
    case ErrorCategory::Interrupted: return 130;
    default: return 1;
  }
}

void throw_bad_input(std::string message) { throw Error(ErrorCategory::BadInput, std::move(message)); }
void throw_io(std::string message) { throw Error(ErrorCategory::Io, std::move(message)); }

}  // namespace mstar
