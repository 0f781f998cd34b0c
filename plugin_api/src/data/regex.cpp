#define PCRE2_CODE_UNIT_WIDTH 8
#include "mstar/data/regex.h"

#include <algorithm>
#include <cctype>
#include <pcre2.h>

#include "mstar/error.h"

namespace mstar::data {

struct Regex::Impl {
  pcre2_code* code = nullptr;
  ~Impl() {
    if (code) pcre2_code_free(code);
  }
};

namespace {

struct MatchData {
  explicit MatchData(const pcre2_code* code) : data(pcre2_match_data_create_from_pattern(code, nullptr)) {}
  ~MatchData() { pcre2_match_data_free(data); }
  pcre2_match_data* data;
};

}  // namespace

Regex::Regex(std::string_view pattern, unsigned flags) : impl_(std::make_unique<Impl>()) {
  uint32_t options = PCRE2_UTF;
  if (flags & kDotAll) options |= PCRE2_DOTALL;
  if (flags & kCaseless) options |= PCRE2_CASELESS;
  if (flags & kUnicode) options |= PCRE2_UCP;
  int error = 0;
  PCRE2_SIZE offset = 0;
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, &error, &offset,
                              nullptr);
  if (!impl_->code) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    throw_bad_input("regular expression '" + std::string(pattern) + "', column " + std::to_string(offset + 1) +
                    ": " + reinterpret_cast<const char*>(message));
  }
}

Regex::~Regex() = default;
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;

bool Regex::full_match(std::string_view subject) const {
  MatchData md(impl_->code);
  const int rc = pcre2_match(impl_->code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0,
                             PCRE2_ANCHORED | PCRE2_ENDANCHORED, md.data, nullptr);
  return rc > 0;
}

std::optional<std::string> Regex::search(std::string_view subject, int group) const {
  auto all = find_all(subject, group);
  if (all.empty()) return std::nullopt;
  return all.front();
}

std::vector<std::string> Regex::find_all(std::string_view subject, int group) const {
  std::vector<std::string> out;
  MatchData md(impl_->code);
  PCRE2_SIZE start = 0;
  while (start <= subject.size()) {
    const int rc = pcre2_match(impl_->code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), start, 0,
                               md.data, nullptr);
    if (rc <= 0) break;
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.data);
    if (group < rc && ov[2 * group] != PCRE2_UNSET)
      out.emplace_back(subject.substr(ov[2 * group], ov[2 * group + 1] - ov[2 * group]));
    else
      out.emplace_back();
    // An empty match advances by one, as Python's findall does.
    start = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
  }
  return out;
}

std::string Regex::replace_all(std::string_view subject, std::string_view replacement) const {
  std::string out;
  MatchData md(impl_->code);
  PCRE2_SIZE start = 0, copied = 0;
  while (start <= subject.size()) {
    const int rc = pcre2_match(impl_->code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), start, 0,
                               md.data, nullptr);
    if (rc <= 0) break;
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.data);
    out.append(subject.substr(copied, ov[0] - copied));
    out.append(replacement);
    copied = ov[1];
    start = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
  }
  out.append(subject.substr(std::min<size_t>(copied, subject.size())));
  return out;
}

std::string strip(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace mstar::data
