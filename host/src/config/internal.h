// Internals of the config library shared by its .cpp files. Not installed,
// not for use outside host/src/config.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/experiment.h"

namespace YAML {
class Node;
struct Mark;
}  // namespace YAML

namespace mstar::config::detail {

// The document keeps the file's key order while it is loaded (node order);
// the Experiment exposes the sorted, canonical mstar::Json.
using OJson = nlohmann::ordered_json;
using LocMap = std::map<std::string, SourceLoc>;

// Collects problems ("LOC: message") and throws them together.
class Diagnostics {
 public:
  void add(const SourceLoc& loc, const std::string& message);
  void add_line(const std::string& line);  // already prefixed
  bool empty() const { return lines_.empty(); }
  size_t size() const { return lines_.size(); }
  const std::vector<std::string>& lines() const { return lines_; }
  // Throws Error(BadInput) with one line per problem, if there is any.
  void throw_if_any() const;

 private:
  std::vector<std::string> lines_;
  std::set<std::string> seen_;
};

// --- JSON pointers ---------------------------------------------------------
std::string pointer_token(std::string_view key);  // escapes '~' and '/'
std::string pointer_join(const std::string& ptr, std::string_view key);
// Nearest known location of `ptr` or one of its ancestors; empty if none.
SourceLoc loc_lookup(const LocMap& locs, const std::string& ptr);

// --- YAML -> JSON -----------------------------------------------------------
SourceLoc mark_loc(const std::string& file, const YAML::Mark& mark);

// Converts a YAML node. Plain scalars resolve per the YAML 1.2 core schema
// (null, bool, int, float; everything else is a string); quoted scalars are
// strings. Locations of map entries (the key's position) and sequence
// elements go to `locs` under their JSON pointer. With `fixed` set, every
// location is `*fixed` (values parsed from an override string).
//
// Aliases (`*name`) copy the anchored node, so a few lines can stand for
// billions of nodes (an "alias bomb"); yaml-cpp shares them, the conversion
// would not. Each call may produce at most kMaxYamlNodes nodes and
// kMaxYamlBytes bytes of scalar text; past that it throws a BadInput error
// naming the file and line where the budget ran out. The largest shipped
// experiment has a few hundred values; a sweep listing 20,000 points of ten
// keys still fits. (Refusing a bomb at the budget takes 0.2 s, 1.5 s under
// ASan: the fuzz harnesses' 10 s limit must hold.)
inline constexpr size_t kMaxYamlNodes = 200'000;
inline constexpr size_t kMaxYamlBytes = 32u << 20;
OJson yaml_to_json(const YAML::Node& node, const std::string& file, const std::string& ptr,
                   LocMap& locs, Diagnostics& diag, const SourceLoc* fixed = nullptr);

// An experiment file larger than this is refused before it is parsed: real
// experiment files are a few KB, and yaml-cpp holds the whole tree in memory.
inline constexpr uintmax_t kMaxExperimentFileBytes = 4u << 20;

Json to_plain(const OJson& j);
OJson to_ordered(const Json& j);

// --- keys and values ----------------------------------------------------------
std::vector<std::string> split(std::string_view text, char sep);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
// " (did you mean 'x'?)" or "".
std::string hint(std::string_view word, const std::vector<std::string>& candidates);
// ", known: a, b, c" style list, shortened past `max` items.
std::string list_of(const std::vector<std::string>& items, size_t max = 12);
std::string show(const Json& v);  // compact, shortened
// Numbers compare by value (0 == 0.0): integral floats become ints.
Json normalize_numbers(const Json& v);
std::string canonical(const Json& v);
bool values_equal(const Json& a, const Json& b);
// Display form of a value in labels and messages: strings bare, others JSON.
std::string value_text(const Json& v);

// "unknown key 'k' in WHAT (did you mean ...); expected one of: ..." for
// every key of `obj` not in `known` (and, with allow_x, not "x-...").
void unknown_keys(const Json& obj, const std::vector<std::string>& known, const std::string& ptr,
                  const std::string& what, const LocMap& locs, Diagnostics& diag, bool allow_x = false);
// Seconds from 600, "90s", "10m", "2h"; nullopt when it is none of those.
std::optional<double> parse_duration(const Json& v);

// --- the document (experiment_doc.cpp) ---------------------------------------
// An experiment file with its includes merged, in file order, and the
// location of every value by JSON pointer.
struct Doc {
  OJson value = OJson::object();
  LocMap locs;
};
// Reads `path` and, depth first, the files it includes (deep merge: maps key
// by key, anything else replaced, null deletes; `sweep` replaced whole).
// `chain` is the include stack (for cycles), `sources` collects every file
// read; problems go to `diag`, located at `from` when the file itself is
// missing.
Doc load_doc(const std::filesystem::path& path, const SourceLoc& from, std::vector<std::filesystem::path>& chain,
             std::vector<std::filesystem::path>& sources, Diagnostics& diag);
// Applies one override ("node.param=V", "+node.param=V", "~node.param",
// "node.plugin=K/N", "seed=N") to the merged document; problems go to `diag`.
// The dotted key of an applied override is appended to `keys`.
void apply_override(Doc& doc, const std::string& text, Diagnostics& diag, std::vector<std::string>& keys);

// --- cluster launchers (cluster.cpp) -----------------------------------------
// The cluster keys of a node's `resources:` (mem, partition, account, qos,
// sbatch_args) into `out`; cpus and gpus are the caller's.
void parse_cluster_resources(const Json& r, const std::string& ptr, const std::string& what, const LocMap& locs,
                             Diagnostics& diag, ClusterResources& out);
// The experiment's `launcher:`: "local", "slurm", or {kind: slurm, poll: 1s,
// partition: ..., account: ..., qos: ..., mem: ..., sbatch_args: [...]}.
LauncherConfig parse_launcher(const Json& v, const LocMap& locs, Diagnostics& diag);

// The base (unswept) value of a sweep key "node.param.sub" / "node.plugin",
// nullopt when the file does not set it.
std::optional<Json> base_value(const Experiment& exp, const std::string& key);

// Sweep-key names used anywhere in the sweep block (for warnings).
std::vector<std::string> sweep_keys(const Json& sweep);
// Structural check of the sweep block; problems go to `diag`.
void check_sweep(const Experiment& exp, Diagnostics& diag);

}  // namespace mstar::config::detail
