// Private: a prepared statement on any backend, with the typed binds and
// row accessors the registry code uses. Finalized on destruction, so an
// exception between prepare and the last step leaks nothing.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "db/db.h"

namespace mstar::registry::detail {

class Statement {
 public:
  Statement(Connection& db, std::string_view sql) : impl_(db.prepare(sql)) {}
  explicit Statement(std::unique_ptr<StatementImpl> impl) : impl_(std::move(impl)) {}

  // Bind by 1-based index. Strings are copied.
  Statement& bind(int index, std::string_view value) { return impl_->bind_text(index, value, true), *this; }
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, double value) { return impl_->bind_real(index, value), *this; }
  Statement& bind(int index, int64_t value) { return impl_->bind_int(index, value), *this; }
  Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Statement& bind(int index, std::optional<int> value) {
    return value ? bind(index, static_cast<int64_t>(*value)) : bind_null(index);
  }
  // Not copied: `value` must stay alive and unchanged until the next reset().
  Statement& bind_static(int index, std::string_view value) { return impl_->bind_text(index, value, false), *this; }
  Statement& bind_null(int index) { return impl_->bind_null(index), *this; }
  // NULL when empty / when 0: for optional text and times.
  Statement& bind_text_or_null(int index, std::string_view value) {
    return value.empty() ? bind_null(index) : bind(index, value);
  }
  Statement& bind_time_or_null(int index, double value) { return value == 0 ? bind_null(index) : bind(index, value); }

  bool step() { return impl_->step(); }
  void run() {
    while (step()) {
    }
  }
  void reset() noexcept { impl_->reset(); }
  int64_t changes() const { return impl_->changes(); }

  bool is_null(int column) const { return impl_->type(column) == CellType::Null; }
  CellType type(int column) const { return impl_->type(column); }
  std::string text(int column) const { return impl_->text(column); }
  double real(int column) const { return impl_->real(column); }
  int64_t int64(int column) const { return impl_->int64(column); }
  std::optional<int> optional_int(int column) const {
    if (is_null(column)) return std::nullopt;
    return static_cast<int>(int64(column));
  }
  StatementImpl& impl() { return *impl_; }

 private:
  std::unique_ptr<StatementImpl> impl_;
};

}  // namespace mstar::registry::detail
