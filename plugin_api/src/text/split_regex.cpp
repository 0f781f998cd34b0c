#include "split_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <mutex>
#include <vector>

#include "mstar/error.h"

namespace mstar::text::detail {
namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof buffer);
  return reinterpret_cast<const char*>(buffer);
}

// What one match needs besides the compiled pattern. The JIT stack is larger
// than PCRE2's 32 KiB default: \s+(?!\S) over a long whitespace run
// backtracks deeply.
struct Scratch {
  pcre2_match_data* data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* stack = nullptr;
  ~Scratch() {
    pcre2_match_data_free(data);
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(stack);
  }
};

}  // namespace

std::string oniguruma_to_pcre2(std::string_view pattern, const std::string& key) {
  constexpr std::string_view kSpace = "\\p{White_Space}";
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[++i];
      switch (e) {
        case 's':
          out += in_class ? std::string(kSpace) : "[" + std::string(kSpace) + "]";
          continue;
        case 'S':
          if (in_class) {
            throw_bad_input(key + ": \\S inside a character class is not supported");
          }
          out += "[^" + std::string(kSpace) + "]";
          continue;
        case 'w': case 'W': case 'b': case 'B': case 'h': case 'H':
          throw_bad_input(key + ": \\" + std::string(1, e) +
                          " is not supported (Oniguruma, which `tokenizers` uses, and PCRE2 read it differently)");
        default:
          out += '\\';
          out += e;
          continue;
      }
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal member.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];
      continue;
    }
    if (in_class && c == ']') in_class = false;
    out += c;
  }
  return out;
}

struct SplitRegex::Impl {
  pcre2_code* code = nullptr;
  mutable std::mutex mutex;
  mutable std::vector<std::unique_ptr<Scratch>> spare;

  ~Impl() { pcre2_code_free(code); }

  std::unique_ptr<Scratch> acquire() const {
    {
      std::lock_guard lock(mutex);
      if (!spare.empty()) {
        auto s = std::move(spare.back());
        spare.pop_back();
        return s;
      }
    }
    auto s = std::make_unique<Scratch>();
    s->data = pcre2_match_data_create_from_pattern(code, nullptr);
    s->context = pcre2_match_context_create(nullptr);
    s->stack = pcre2_jit_stack_create(32 * 1024, 64 * 1024 * 1024, nullptr);
    if (!s->data || !s->context || !s->stack) throw Error(ErrorCategory::Internal, "PCRE2: out of memory");
    pcre2_jit_stack_assign(s->context, nullptr, s->stack);
    return s;
  }
  void release(std::unique_ptr<Scratch> s) const {
    std::lock_guard lock(mutex);
    spare.push_back(std::move(s));
  }
};

SplitRegex::SplitRegex(std::string_view oniguruma_pattern, const std::string& key) : impl_(std::make_unique<Impl>()) {
  const std::string pattern = oniguruma_to_pcre2(oniguruma_pattern, key);
  int error = 0;
  PCRE2_SIZE offset = 0;
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF | PCRE2_UCP,
                              &error, &offset, nullptr);
  if (!impl_->code) {
    throw_bad_input(key + ": bad regex at column " + std::to_string(offset + 1) + " (of its PCRE2 form \"" + pattern +
                    "\"): " + pcre2_message(error));
  }
  // Without JIT (a platform PCRE2 has no JIT for) matching still works,
  // only slower.
  pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE);
}

SplitRegex::~SplitRegex() = default;
SplitRegex::SplitRegex(SplitRegex&&) noexcept = default;
SplitRegex& SplitRegex::operator=(SplitRegex&&) noexcept = default;

void SplitRegex::split(std::string_view text, const std::function<void(std::string_view)>& piece) const {
  auto scratch = impl_->acquire();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t start = 0;  // where the next search begins
  size_t emitted = 0;  // end of what has been handed out
  while (start < text.size()) {
    const int rc = pcre2_match(impl_->code, subject, text.size(), start, PCRE2_NO_UTF_CHECK, scratch->data,
                               scratch->context);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      impl_->release(std::move(scratch));
      throw Error(ErrorCategory::Internal, "PCRE2 match failed: " + pcre2_message(rc));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(scratch->data);
    const size_t b = ov[0], e = ov[1];
    if (b == e) {
      // An empty match splits nothing; search again one character on, as
      // Oniguruma's iterator does.
      start = e + 1;
      while (start < text.size() && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) ++start;
      continue;
    }
    if (b > emitted) piece(text.substr(emitted, b - emitted));
    piece(text.substr(b, e - b));
    emitted = start = e;
  }
  impl_->release(std::move(scratch));
  if (emitted < text.size()) piece(text.substr(emitted));
}

}  // namespace mstar::text::detail
