// The results expression language (`--where`): Filter::parse, then the
// canonical text must parse back to itself, and the filter is evaluated on
// values taken from the input (missing, bools, numbers, strings).
#include <algorithm>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "mstar/registry/query.h"

namespace {

// The i-th field's value for one run: all four kinds appear, taken from the input.
mstar::registry::Value value_for(size_t i, std::string_view text) {
  const unsigned char b = text.empty() ? 0 : static_cast<unsigned char>(text[i % text.size()]);
  switch (b % 4) {
    case 0: return {};
    case 1: return (b & 4) != 0;
    case 2: return static_cast<double>(b) - 128.0;
    default: return std::string(text.substr(i % text.size(), 3));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mstar;
  const std::string_view text = fuzz::as_text(data, size);
  registry::Filter filter;
  try {
    filter = registry::Filter::parse(text);
  } catch (const Error&) {
    return 0;
  }
  const std::string canonical = filter.to_string();
  try {
    const registry::Filter again = registry::Filter::parse(canonical);
    if (again.to_string() != canonical)
      fuzz::invariant_failed("canonical text '" + canonical + "' reparses as '" + again.to_string() + "'");
  } catch (const Error& e) {
    fuzz::invariant_failed("canonical text '" + canonical + "' does not parse: " + e.what());
  }
  std::vector<registry::Value> values;
  for (size_t i = 0; i < filter.fields().size(); ++i) values.push_back(value_for(i, text));
  (void)filter.matches(values);
  return 0;
}
