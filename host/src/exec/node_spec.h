// The contract between the host and `mstar exec-node`: everything the child
// needs to run one node instance, as one JSON file, plus the child's exit
// codes and the event lines it streams back on its stdout.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "mstar/json.h"

namespace mstar {

struct NodeSpecFile {
  std::string key;
  std::string plugin;  // kind/name
  std::string plugin_version;
  std::filesystem::path library;
  Json params = Json::object();
  std::map<std::string, std::filesystem::path> inputs;  // input name -> artifact dir (or output subdir)
  std::map<std::string, std::string> input_keys;        // input name -> "KEY[/output]"
  std::map<std::string, std::filesystem::path> components;  // component plugin id -> library
  std::filesystem::path staging, final_dir, resume;
  uint64_t seed = 0;
  int threads = 1;
  // Data parallelism: the node runs as world_size processes (its plugin's
  // integer param `world_size`); this one is `rank`. Rank 0 sends the events
  // and publishes; the others write nothing into the store.
  int rank = 0;
  int world_size = 1;

  Json to_json() const;
  static NodeSpecFile from_json(const Json& j);
};

// Exit codes of `mstar exec-node`. Anything else (a signal, a plugin calling
// exit()) is recorded as it is.
enum ExecExit : int { kExecOk = 0, kExecFailed = 1, kExecBadInput = 2, kExecCancelled = 3 };

// `spec_source` is a spec file, or "--from-env" for $MSTAR_NODE_SPEC.
int exec_node_main(const std::string& spec_source);

// The node's `world_size` param when it is an integer > 1, else 1.
int node_world_size(const Json& params);

}  // namespace mstar
