// A small RAII wrapper over PCRE2 (Debian's libpcre2), used by the reward
// and benchmark plugins: the reference implementation's patterns are
// Python `re` patterns, and PCRE2 reads them unchanged (non-greedy, DOTALL).
// PCRE2 stays inside libmstar_data (behind Impl): neither this header nor
// the installed package needs it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mstar::data {

class Regex {
 public:
  // kUnicode: \b, \w and \s use Unicode properties (PCRE2_UCP), as they do
  // in Python 3 `str` patterns; without it they are ASCII-only.
  enum Flags : unsigned { kNone = 0, kDotAll = 1, kCaseless = 2, kUnicode = 4 };
  // Throws Error(BadInput) with the column of a bad pattern.
  explicit Regex(std::string_view pattern, unsigned flags = kNone);
  ~Regex();
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;

  // Python re.fullmatch.
  bool full_match(std::string_view subject) const;
  // Python re.search: group `group` of the first match.
  std::optional<std::string> search(std::string_view subject, int group = 0) const;
  // Python re.findall for one group: every non-overlapping match.
  std::vector<std::string> find_all(std::string_view subject, int group = 0) const;
  size_t count(std::string_view subject) const { return find_all(subject).size(); }
  // Python re.sub with a literal replacement: every non-overlapping match
  // replaced by `replacement` (no group references).
  std::string replace_all(std::string_view subject, std::string_view replacement) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string strip(std::string_view s);
std::string lower(std::string_view s);

}  // namespace mstar::data
