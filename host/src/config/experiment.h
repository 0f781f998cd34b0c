// Experiment configuration: YAML files -> an Experiment, validated against
// plugin metadata into a graph, and expanded into the trials of a sweep.
//
//   Experiment exp = load_experiment("exp.yaml", {"train.lr=3e-5"});
//   narrow_sweep(exp, {"base.size=S,M"});           // --set-sweep
//   validate_sweep_keys(exp, lookup, known_ids);     // sweep keys vs. schemas
//   for (const Trial& t : expand_sweep(exp)) {
//     ResolvedGraph g = resolve_graph(apply_assignment(exp, t), lookup, known_ids);
//     ...
//   }
//
// Every error is an mstar::Error(BadInput) whose message starts with the
// FILE:LINE:COL of the offending YAML node (or "override 'k=v'" for a
// command-line override) and names the key. Problems found in one pass are
// reported together, one per line. The reference is docs/experiments.md and
// docs/sweeps.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mstar/json.h"
#include "mstar/plugin.h"

namespace mstar::config {

// Where a value came from: a file position (1-based) or, with line == 0, a
// free-form origin such as "override 'train.lr=abc'".
struct SourceLoc {
  std::string file;
  int line = 0, col = 0;

  std::string str() const;  // "exp.yaml:12:5", or just `file` when line == 0
  bool empty() const { return file.empty(); }
};

// An input wiring: "world.train" -> {world, train}; "base" -> {base, ""}
// ("" is the producer's artifact root).
struct InputRef {
  std::string node, output;

  static InputRef parse(std::string_view text);  // splits at the first '.'
  std::string str() const;
  bool operator==(const InputRef&) const = default;
};

// What a cluster launcher asks its scheduler for, beyond cpus and gpus (see
// docs/slurm.md). The local launcher ignores it; it is not part of any cache
// key: where a node ran does not change what it computed.
struct ClusterResources {
  std::string mem;        // "16G", "500M", or MB as an int; "" = the partition's default
  std::string partition, account, qos;  // "" = the cluster's default
  std::vector<std::string> sbatch_args;  // passed through to sbatch as they are

  // `over` wins where it says something; sbatch_args add up (this one's first).
  ClusterResources merged(const ClusterResources& over) const;
};

// The experiment file's `launcher:` (or `mstar run --launcher`).
struct LauncherConfig {
  std::string kind;            // "" (not said: local), "local" or "slurm"
  ClusterResources defaults;   // for every node; a node's resources override them
  double poll_s = 0.5;         // how often the Slurm launcher looks at its jobs
};

struct NodeSpec {
  std::string name;
  std::string plugin;                    // "kind/name"
  Json params = Json::object();          // as written (after load), resolved (after resolve_graph)
  std::map<std::string, InputRef> inputs;  // input name -> producer
  int cpus = 1;                          // resources.cpus
  int gpus = 0;                          // resources.gpus: what a `device: cuda[:N]` param may use
  double timeout_s = 0;                  // 0 = no timeout
  int retries = 0;
  ClusterResources cluster;              // resources: mem, partition, account, qos, sbatch_args
  std::optional<int64_t> seed;           // node-level `seed:` pins the node's seed (else the trial's)
  std::string description;
  SourceLoc loc;                         // the node's key under `nodes:`
  std::map<std::string, SourceLoc> param_locs;  // dotted param path ("reward.format_weight") -> loc

  // The location of `path` or of its nearest ancestor ("a.b[2]" -> "a.b" ->
  // "a"); the node's own location when none is known.
  SourceLoc param_loc(const std::string& path) const;
  // The seed this node runs with in a trial seeded `trial_seed`.
  int64_t effective_seed(int64_t trial_seed) const { return seed.value_or(trial_seed); }
};

struct Experiment {
  std::string name;
  std::string description;
  std::filesystem::path file;                    // the file given to load_experiment
  std::vector<std::filesystem::path> sources;    // every file read (includes first), for provenance
  std::vector<NodeSpec> nodes;                   // file order
  Json sweep;                                    // raw `sweep:` block, null if none
  SourceLoc sweep_loc;
  int64_t seed = 0;
  LauncherConfig launcher;
  Json raw;                                      // the whole merged document (includes, overrides applied)
  std::map<std::string, SourceLoc> locs;         // JSON pointer into `raw` ("/nodes/train/params/lr") -> loc

  const NodeSpec* find_node(std::string_view name) const;
  NodeSpec* find_node(std::string_view name);
  std::vector<std::string> node_names() const;
  // The location of a JSON pointer into `raw`, or of its nearest ancestor.
  SourceLoc loc_of(const std::string& pointer) const;
};

// Reads `file` (and its includes), applies Hydra-style overrides
// ("train.lr=3e-5", "+train.new=1", "~train.lr", "seed=3", "train.plugin=algorithm/sft")
// and checks the document's structure (keys, types, sweep syntax, sweep keys
// naming existing nodes). Plugin params are checked later by resolve_graph.
Experiment load_experiment(const std::filesystem::path& file,
                           const std::vector<std::string>& overrides = {});

// ---------------------------------------------------------------- graph --

// `lookup("dataset/implication_world")` returns the plugin's metadata or
// nullptr; `known_ids` lists every known plugin id, for "did you mean".
using PluginLookup = std::function<const PluginInfo*(const std::string& id)>;

// Convenience for callers (and tests) holding their PluginInfos in a vector.
PluginLookup lookup_in(const std::vector<PluginInfo>& plugins);
std::vector<std::string> plugin_ids(const std::vector<PluginInfo>& plugins);

struct ResolvedGraph {
  std::vector<NodeSpec> nodes;  // topological order (ties broken by file order), params resolved
  std::vector<const PluginInfo*> plugins;  // parallel to `nodes`

  const NodeSpec* find(std::string_view name) const;
};

// Resolves every node's params against its plugin's schema (defaults, types,
// nested plugin references; a nested reference written without `plugin:`,
// e.g. `reward: {format_weight: 0.2}`, means the default's plugin), checks the wiring of inputs (producer exists,
// input declared by the consumer, required inputs present, output declared
// by the producer, artifact types agree) and rejects cycles
// ("a -> b -> c -> a"). Throws one Error(BadInput) listing every problem.
ResolvedGraph resolve_graph(const Experiment& exp, const PluginLookup& lookup,
                            const std::vector<std::string>& known_ids = {});

// ---------------------------------------------------------------- sweep --

struct Trial {
  // Swept values by dotted key plus "seed": {"base.size":"S","seed":1,"train.kl_coef":0.01}.
  // Json keeps keys sorted, so equal assignments serialise identically.
  Json assignment = Json::object();
  int64_t seed = 0;
};

// The trials of the experiment's sweep, in a deterministic order: every
// assignment with the first seed, then with the second seed, ...
// No sweep -> one trial {seed: exp.seed}. `max_trials` (0 = no limit) guards
// against an accidental combinatorial explosion.
std::vector<Trial> expand_sweep(const Experiment& exp, uint64_t max_trials = 0);

// `--set-sweep KEY=V1,V2,...`: restricts a sweep axis (or `seed`/`seeds`) to
// the listed values. See docs/sweeps.md for the exact rules.
void narrow_sweep(Experiment& exp, const std::vector<std::string>& set_sweep_args);

// Checks every key used in the sweep against the plugins' schemas (nodes and
// params exist, with "did you mean"); swept plugin choices must exist.
void validate_sweep_keys(const Experiment& exp, const PluginLookup& lookup,
                         const std::vector<std::string>& known_ids = {});

// The base config with the trial's values set: "node.param.sub" sets a
// param, "node.plugin" the node's plugin, a null value removes the param
// (its default applies). Sets exp.seed to the trial seed.
Experiment apply_assignment(const Experiment& exp, const Trial& trial);

// "base.size=S train.kl_coef=0.01 seed=1" (seed last).
std::string trial_label(const Trial& trial);

// apply_assignment + resolve_graph for every trial; all problems of all
// trials are reported together (each distinct line once).
std::vector<ResolvedGraph> resolve_trials(const Experiment& exp, const std::vector<Trial>& trials,
                                          const PluginLookup& lookup,
                                          const std::vector<std::string>& known_ids = {});

}  // namespace mstar::config
