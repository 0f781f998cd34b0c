// YAML -> JSON with source locations, and small helpers shared by the
// config library.
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <limits>

#include "config/internal.h"
#include "mstar/error.h"
#include "mstar/params.h"

namespace mstar::config {

std::string SourceLoc::str() const {
  if (line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(col);
}

namespace detail {

// ------------------------------------------------------------ Diagnostics --

void Diagnostics::add(const SourceLoc& loc, const std::string& message) {
  add_line(loc.empty() ? message : loc.str() + ": " + message);
}

void Diagnostics::add_line(const std::string& line) {
  if (seen_.insert(line).second) lines_.push_back(line);
}

void Diagnostics::throw_if_any() const {
  if (lines_.empty()) return;
  throw_bad_input(join(lines_, "\n"));
}

// ----------------------------------------------------------- JSON pointer --

std::string pointer_token(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  for (char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

std::string pointer_join(const std::string& ptr, std::string_view key) {
  return ptr + "/" + pointer_token(key);
}

SourceLoc loc_lookup(const LocMap& locs, const std::string& ptr) {
  std::string p = ptr;
  while (true) {
    auto it = locs.find(p);
    if (it != locs.end()) return it->second;
    if (p.empty()) return {};
    const size_t slash = p.rfind('/');
    p.resize(slash == std::string::npos ? 0 : slash);
  }
}

// ------------------------------------------------------------ YAML -> JSON --

SourceLoc mark_loc(const std::string& file, const YAML::Mark& mark) {
  if (mark.is_null()) return {file, 0, 0};
  return {file, mark.line + 1, mark.column + 1};
}

namespace {

bool all_digits(std::string_view s, bool hex = false) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(std::isdigit(static_cast<unsigned char>(c)) || (hex && std::isxdigit(static_cast<unsigned char>(c)))))
      return false;
  return true;
}

// [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
bool is_float_text(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t int_digits = 0, frac_digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++int_digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++frac_digits;
  }
  if (int_digits == 0 && frac_digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!all_digits(s.substr(i))) return false;
    i = s.size();
  }
  return i == s.size();
}

std::optional<OJson> parse_int(std::string_view s) {
  int base = 10;
  bool negative = false;
  std::string_view digits = s;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
    base = s[1] == 'x' ? 16 : 8;
    digits = s.substr(2);
    if (!all_digits(digits, base == 16)) return std::nullopt;
    if (base == 8 && digits.find_first_of("89") != std::string_view::npos) return std::nullopt;
  } else {
    if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) {
      negative = digits[0] == '-';
      digits = digits.substr(1);
    }
    if (!all_digits(digits)) return std::nullopt;
  }
  uint64_t u = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), u, base);
  if (ec == std::errc() && end == digits.data() + digits.size()) {
    if (!negative && u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return OJson(static_cast<int64_t>(u));
    if (negative && u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) + 1)
      return OJson(static_cast<int64_t>(0 - u));
  }
  // Too large for int64: keep the value as a float.
  double d = 0;
  std::string text(digits);
  auto r = std::from_chars(text.data(), text.data() + text.size(), d);
  if (r.ec != std::errc() || base != 10) return std::nullopt;
  return OJson(negative ? -d : d);
}

std::optional<double> parse_float(std::string_view s) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  double d = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return d;
}

bool is_null_text(std::string_view s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

std::optional<bool> bool_text(std::string_view s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

bool is_special_float(std::string_view s) {
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) s.remove_prefix(1);
  return s == ".inf" || s == ".Inf" || s == ".INF" || s == ".nan" || s == ".NaN" || s == ".NAN";
}

constexpr std::string_view kTagPrefix = "tag:yaml.org,2002:";

OJson scalar_to_json(const YAML::Node& node, const SourceLoc& loc, Diagnostics& diag) {
  const std::string& s = node.Scalar();
  const std::string& tag = node.Tag();
  auto bad = [&](const std::string& what) {
    diag.add(loc, what);
    return OJson(s);
  };
  if (tag == "!") return OJson(s);  // quoted: always a string
  std::string_view kind;
  if (tag.rfind(kTagPrefix, 0) == 0) kind = std::string_view(tag).substr(kTagPrefix.size());
  else if (tag != "?" && !tag.empty()) return bad("unsupported YAML tag '" + tag + "'");

  if (kind == "str") return OJson(s);
  if (kind.empty() || kind == "null")
    if (is_null_text(s)) return OJson(nullptr);
  if (kind.empty() || kind == "bool")
    if (auto b = bool_text(s)) return OJson(*b);
  if (kind.empty() || kind == "int")
    if (auto i = parse_int(s)) return *i;
  if (kind.empty() || kind == "float") {
    if (is_float_text(s))
      if (auto d = parse_float(s)) {
        if (!std::isfinite(*d)) return bad("number '" + s + "' is out of range");
        return OJson(*d);
      }
    if (is_special_float(s)) return bad("'" + s + "': infinite and NaN values are not supported");
  }
  if (!kind.empty()) return bad("'" + s + "' is not a valid !!" + std::string(kind));
  return OJson(s);
}

// What one conversion may still produce (see kMaxYamlNodes).
struct ExpansionBudget {
  size_t nodes = kMaxYamlNodes;
  size_t bytes = kMaxYamlBytes;

  void spend(const YAML::Node& node, const SourceLoc& loc) {
    const size_t text = node.IsScalar() ? node.Scalar().size() : 0;
    if (nodes == 0 || text > bytes)
      throw_bad_input(loc.str() + ": the document expands to more than " + std::to_string(kMaxYamlNodes) +
                      " values or " + std::to_string(kMaxYamlBytes >> 20) +
                      " MiB of text; YAML aliases (*name) copy what they refer to, so nested aliases "
                      "multiply (an 'alias bomb'): write the values out or use fewer levels of aliases");
    --nodes;
    bytes -= text;
  }
};

OJson convert(const YAML::Node& node, const std::string& file, const std::string& ptr, LocMap& locs,
              Diagnostics& diag, const SourceLoc* fixed, ExpansionBudget& budget) {
  auto loc_of = [&](const YAML::Mark& m, const SourceLoc& fallback) {
    if (fixed) return *fixed;
    SourceLoc l = mark_loc(file, m);
    return l.line == 0 ? fallback : l;
  };
  const SourceLoc here = fixed ? *fixed : loc_lookup(locs, ptr);
  budget.spend(node, loc_of(node.Mark(), here));
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return OJson(nullptr);
    case YAML::NodeType::Scalar:
      return scalar_to_json(node, loc_of(node.Mark(), here), diag);
    case YAML::NodeType::Sequence: {
      OJson arr = OJson::array();
      size_t i = 0;
      for (const auto& item : node) {
        std::string child = pointer_join(ptr, std::to_string(i++));
        locs[child] = loc_of(item.Mark(), here);
        arr.push_back(convert(item, file, child, locs, diag, fixed, budget));
      }
      return arr;
    }
    case YAML::NodeType::Map: {
      OJson obj = OJson::object();
      std::vector<YAML::Node> merges;
      for (const auto& kv : node) {
        const YAML::Node& key = kv.first;
        const SourceLoc kloc = loc_of(key.Mark(), here);
        if (!key.IsScalar()) {
          diag.add(kloc, "map keys must be plain strings");
          continue;
        }
        const std::string& k = key.Scalar();
        if (k == "<<" && key.Tag() == "?") {  // YAML merge key: `<<: *anchor`
          merges.push_back(kv.second);
          continue;
        }
        if (obj.contains(k)) {
          diag.add(kloc, "duplicate key '" + k + "'");
          continue;
        }
        std::string child = pointer_join(ptr, k);
        locs[child] = kloc;
        obj[k] = convert(kv.second, file, child, locs, diag, fixed, budget);
      }
      // Merged keys fill in what the map does not set itself.
      for (const auto& m : merges) {
        std::vector<YAML::Node> sources;
        if (m.IsMap()) sources.push_back(m);
        else if (m.IsSequence())
          for (const auto& s : m) sources.push_back(s);
        for (const auto& src : sources) {
          if (!src.IsMap()) {
            diag.add(loc_of(m.Mark(), here), "'<<' (merge key) expects a map or a list of maps");
            continue;
          }
          LocMap sub_locs;
          OJson sub = convert(src, file, ptr, sub_locs, diag, fixed, budget);
          for (auto& [k, v] : sub.items()) {
            if (obj.contains(k)) continue;
            obj[k] = v;
            const std::string child = pointer_join(ptr, k);
            for (auto it = sub_locs.lower_bound(child); it != sub_locs.end(); ++it) {
              if (it->first != child && it->first.rfind(child + "/", 0) != 0) break;
              locs[it->first] = it->second;
            }
          }
        }
      }
      return obj;
    }
  }
  return OJson(nullptr);
}

}  // namespace

OJson yaml_to_json(const YAML::Node& node, const std::string& file, const std::string& ptr,
                   LocMap& locs, Diagnostics& diag, const SourceLoc* fixed) {
  ExpansionBudget budget;
  return convert(node, file, ptr, locs, diag, fixed, budget);
}

Json to_plain(const OJson& j) {
  switch (j.type()) {
    case OJson::value_t::object: {
      Json out = Json::object();
      for (auto& [k, v] : j.items()) out[k] = to_plain(v);
      return out;
    }
    case OJson::value_t::array: {
      Json out = Json::array();
      for (const auto& v : j) out.push_back(to_plain(v));
      return out;
    }
    case OJson::value_t::string: return j.get<std::string>();
    case OJson::value_t::boolean: return j.get<bool>();
    case OJson::value_t::number_integer: return j.get<int64_t>();
    case OJson::value_t::number_unsigned: return j.get<uint64_t>();
    case OJson::value_t::number_float: return j.get<double>();
    default: return nullptr;
  }
}

OJson to_ordered(const Json& j) {
  switch (j.type()) {
    case Json::value_t::object: {
      OJson out = OJson::object();
      for (auto& [k, v] : j.items()) out[k] = to_ordered(v);
      return out;
    }
    case Json::value_t::array: {
      OJson out = OJson::array();
      for (const auto& v : j) out.push_back(to_ordered(v));
      return out;
    }
    case Json::value_t::string: return j.get<std::string>();
    case Json::value_t::boolean: return j.get<bool>();
    case Json::value_t::number_integer: return j.get<int64_t>();
    case Json::value_t::number_unsigned: return j.get<uint64_t>();
    case Json::value_t::number_float: return j.get<double>();
    default: return nullptr;
  }
}

// ------------------------------------------------------------------ helpers --

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t pos = text.find(sep, start);
    out.emplace_back(text.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

std::string hint(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best = did_you_mean(word, candidates);
  return best.empty() ? std::string() : " (did you mean '" + best + "'?)";
}

std::string list_of(const std::vector<std::string>& items, size_t max) {
  if (items.size() <= max) return join(items, ", ");
  std::vector<std::string> head(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(max));
  return join(head, ", ") + ", ... (" + std::to_string(items.size()) + " in all)";
}

std::string show(const Json& v) {
  std::string s = v.dump();
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

Json normalize_numbers(const Json& v) {
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) return Json(static_cast<int64_t>(d));
    return v;
  }
  if (v.is_number_unsigned() && v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return Json(static_cast<int64_t>(v.get<uint64_t>()));
  if (v.is_object()) {
    Json out = Json::object();
    for (auto& [k, x] : v.items()) out[k] = normalize_numbers(x);
    return out;
  }
  if (v.is_array()) {
    Json out = Json::array();
    for (const auto& x : v) out.push_back(normalize_numbers(x));
    return out;
  }
  return v;
}

std::string canonical(const Json& v) { return normalize_numbers(v).dump(); }

bool values_equal(const Json& a, const Json& b) { return canonical(a) == canonical(b); }

std::string value_text(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

}  // namespace detail
}  // namespace mstar::config
