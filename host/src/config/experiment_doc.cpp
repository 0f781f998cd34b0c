// The experiment document before it is checked: a file and its includes,
// merged, then the command line's overrides applied (experiment.cpp builds
// the Experiment from it).
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <iterator>

#include "config/internal.h"

namespace fs = std::filesystem;

namespace mstar::config::detail {
namespace {

// The offset of the first byte that is not part of valid UTF-8 (overlong
// forms, surrogates and code points above U+10FFFF included), or npos.
// yaml-cpp passes such bytes through; the JSON documents built from them
// would fail much later, when dumped for a cache key.
size_t invalid_utf8_at(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    const size_t n = (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xE ? 2 : (c >> 3) == 0x1E ? 3 : 0;
    if (n == 0 || i + n >= s.size()) return i;
    uint32_t cp = c & (0x3F >> n);
    for (size_t k = 1; k <= n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (b & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return i;
    i += n + 1;
  }
  return std::string_view::npos;
}

// Deep merge for includes: maps merge key by key, anything else (lists,
// scalars) is replaced, null deletes. `sweep` is replaced as a whole.
void merge_into(OJson& base, const OJson& over, bool top) {
  for (auto& [k, v] : over.items()) {
    if (v.is_null()) {
      base.erase(k);
      continue;
    }
    if (!(top && k == "sweep") && v.is_object() && base.contains(k) && base[k].is_object())
      merge_into(base[k], v, false);
    else
      base[k] = v;
  }
}

void merge_doc(Doc& base, const Doc& over) {
  merge_into(base.value, over.value, true);
  for (const auto& [p, l] : over.locs) base.locs[p] = l;
}

}  // namespace

Doc load_doc(const fs::path& path, const SourceLoc& from, std::vector<fs::path>& chain,
             std::vector<fs::path>& sources, Diagnostics& diag) {
  Doc doc;
  const std::string display = path.lexically_normal().string();
  const SourceLoc where = from.empty() ? SourceLoc{display} : from;
  std::error_code ec;
  const fs::path canon = fs::weakly_canonical(path, ec);
  if (std::find(chain.begin(), chain.end(), canon) != chain.end()) {
    std::vector<std::string> names;
    for (const auto& c : chain) names.push_back(c.filename().string());
    names.push_back(canon.filename().string());
    diag.add(where, "include cycle: " + detail::join(names, " -> "));
    return doc;
  }
  if (!fs::is_regular_file(path, ec)) {
    diag.add(where, "cannot read experiment file '" + display + "': " +
                        (fs::exists(path, ec) ? "not a regular file" : "no such file"));
    return doc;
  }
  if (const uintmax_t size = fs::file_size(path, ec); !ec && size > detail::kMaxExperimentFileBytes) {
    diag.add(where, "experiment file '" + display + "' is " + std::to_string(size) + " bytes; at most " +
                        std::to_string(detail::kMaxExperimentFileBytes) + " are read (is it an experiment file?)");
    return doc;
  }
  YAML::Node root;
  try {
    root = YAML::LoadFile(path.string());
  } catch (const YAML::ParserException& e) {
    diag.add(detail::mark_loc(display, e.mark), "YAML syntax error: " + e.msg);
    return doc;
  } catch (const YAML::Exception& e) {
    diag.add(where, "cannot read experiment file '" + display + "': " + e.msg);
    return doc;
  }
  {
    std::ifstream in(path, std::ios::binary);
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (const size_t bad = invalid_utf8_at(text); bad != std::string_view::npos) {
      const size_t line_start = bad == 0 ? std::string::npos : text.rfind('\n', bad - 1);
      const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<long>(bad), '\n');
      const size_t col = line_start == std::string::npos ? bad + 1 : bad - line_start;
      diag.add(SourceLoc{display, static_cast<int>(line), static_cast<int>(col)},
               "not valid UTF-8 (byte " + std::to_string(static_cast<unsigned char>(text[bad])) + ")");
      return doc;
    }
  }
  LocMap locs;
  locs[""] = SourceLoc{display, 1, 1};
  OJson value = detail::yaml_to_json(root, display, "", locs, diag);
  if (value.is_null()) value = OJson::object();
  if (!value.is_object()) {
    diag.add(locs[""], "expected a map at the top of the file (name, nodes, sweep, ...)");
    return doc;
  }
  chain.push_back(canon);
  Doc acc;
  if (value.contains("include")) {
    const OJson inc = value["include"];
    std::vector<std::pair<std::string, std::string>> files;  // path, pointer
    if (inc.is_string()) {
      files.emplace_back(inc.get<std::string>(), "/include");
    } else if (inc.is_array()) {
      for (size_t i = 0; i < inc.size(); ++i) {
        const std::string ptr = "/include/" + std::to_string(i);
        if (inc[i].is_string()) files.emplace_back(inc[i].get<std::string>(), ptr);
        else diag.add(detail::loc_lookup(locs, ptr), "include: expected a file name, got " + detail::show(detail::to_plain(inc[i])));
      }
    } else if (!inc.is_null()) {
      diag.add(detail::loc_lookup(locs, "/include"), "include: expected a file name or a list of file names");
    }
    for (const auto& [name, ptr] : files) {
      Doc sub = load_doc(path.parent_path() / name, detail::loc_lookup(locs, ptr), chain, sources, diag);
      merge_doc(acc, sub);
    }
    value.erase("include");
  }
  chain.pop_back();
  sources.push_back(path.lexically_normal());
  merge_doc(acc, Doc{std::move(value), std::move(locs)});
  return acc;
}

void apply_override(Doc& doc, const std::string& text, Diagnostics& diag, std::vector<std::string>& keys) {
  const SourceLoc where{"override '" + text + "'"};
  std::string body = text;
  char op = '=';
  if (!body.empty() && (body[0] == '+' || body[0] == '~')) {
    op = body[0];
    body.erase(0, 1);
  }
  const size_t eq = body.find('=');
  std::string key = body.substr(0, eq);
  key.erase(0, key.find_first_not_of(" \t"));
  key.erase(key.find_last_not_of(" \t") + 1);
  if (eq == std::string::npos && op != '~') {
    diag.add(where, "expected KEY=VALUE, e.g. train.lr=3e-5");
    return;
  }
  const std::vector<std::string> segs = detail::split(key, '.');
  if (key.empty() || std::any_of(segs.begin(), segs.end(), [](const std::string& s) { return s.empty(); })) {
    diag.add(where, "expected KEY=VALUE with KEY a dot path such as train.lr");
    return;
  }
  OJson value;
  if (op != '~') {
    try {
      YAML::Node n = YAML::Load(body.substr(eq + 1));
      LocMap scratch;
      value = detail::yaml_to_json(n, where.file, "", scratch, diag, &where);
    } catch (const YAML::Exception& e) {
      diag.add(where, "cannot parse the value as YAML: " + e.msg);
      return;
    }
  }
  // The JSON pointer of the target and the object holding it.
  std::string ptr;
  OJson* parent = nullptr;
  std::string leaf;
  const bool top_level = segs.size() == 1 && (segs[0] == "seed" || segs[0] == "name" || segs[0] == "description");
  if (top_level) {
    parent = &doc.value;
    leaf = segs[0];
    ptr = pointer_join("", leaf);
  } else {
    OJson& nodes = doc.value["nodes"];
    if (!nodes.is_object()) nodes = OJson::object();
    std::vector<std::string> names;
    for (auto& [n, v] : nodes.items()) names.push_back(n);
    if (!nodes.contains(segs[0])) {
      std::string msg = "unknown node '" + segs[0] + "'" + hint(segs[0], names);
      if (segs.size() == 1) msg = "unknown key '" + segs[0] + "'" + hint(segs[0], {"seed", "name", "description"});
      diag.add(where, msg + "; nodes: " + list_of(names));
      return;
    }
    if (segs.size() == 1) {
      diag.add(where, "expected NODE.PARAM=VALUE, e.g. " + segs[0] + ".lr=3e-5");
      return;
    }
    OJson& node = nodes[segs[0]];
    if (!node.is_object()) node = OJson::object();
    ptr = pointer_join("/nodes", segs[0]);
    if (segs.size() == 2 && segs[1] == "plugin") {
      parent = &node;
      leaf = "plugin";
      ptr = pointer_join(ptr, "plugin");
    } else {
      OJson* cur = &node;
      std::string cur_ptr = ptr;
      std::vector<std::string> path = {"params"};
      path.insert(path.end(), segs.begin() + 1, segs.end());
      for (size_t i = 0; i + 1 < path.size(); ++i) {
        OJson& next = (*cur)[path[i]];
        cur_ptr = pointer_join(cur_ptr, path[i]);
        if (next.is_null()) next = OJson::object();
        if (!next.is_object()) {
          std::vector<std::string> shown(segs.begin(), segs.begin() + static_cast<std::ptrdiff_t>(i) + 1);
          diag.add(where, "'" + detail::join(shown, ".") + "' is not a map, it cannot have a key '" + path[i + 1] + "'");
          return;
        }
        cur = &next;
      }
      parent = cur;
      leaf = path.back();
      ptr = pointer_join(cur_ptr, leaf);
    }
  }
  // Locations below the target now come from the override.
  for (auto it = doc.locs.lower_bound(ptr); it != doc.locs.end();) {
    if (it->first != ptr && it->first.rfind(ptr + "/", 0) != 0) break;
    it = doc.locs.erase(it);
  }
  if (op == '~') {
    parent->erase(leaf);
  } else {
    (*parent)[leaf] = value;
    doc.locs[ptr] = where;
  }
  keys.push_back(key);
}

}  // namespace mstar::config::detail
