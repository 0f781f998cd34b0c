// The rows of the results registry as plain structs. Times are UNIX seconds
// (double); 0 means "not set" and is stored as SQL NULL for started/finished.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mstar/json.h"

namespace mstar::registry {

// A sweep groups the trials (runs) expanded from one experiment file.
struct SweepRecord {
  std::string id, name;
  Json config;
  double created = 0, updated = 0;  // 0 on write: now
};

// One trial = one instance of an experiment graph. `id` is a hash chosen by
// the caller; `sweep_id` is empty for a run outside any sweep.
struct RunRecord {
  std::string id, sweep_id, name, status, reason;
  double created = 0, started = 0, finished = 0;  // created 0 on first write: now
  int64_t seed = 0;
  Json config, env;
};

// One node of one run. Several runs may share a node instance (same cache_key).
struct NodeRunRecord {
  std::string run_id, node, cache_key, plugin, plugin_version, status, reason, log_path, artifact_path;
  std::optional<int> exit_code, signal;
  double started = 0, finished = 0;
  int attempts = 0;
};

// One point of a metric series. Series belong to node instances (cache keys),
// not to runs: reach a run's metrics through node_runs.cache_key.
struct MetricPoint {
  std::string cache_key;
  int64_t step = 0;
  std::string key;
  double value = 0;
  double time = 0;
};

inline constexpr std::array<std::string_view, 5> kRunStatuses = {"pending", "running", "done", "failed",
                                                                 "interrupted"};
inline constexpr std::array<std::string_view, 7> kNodeStatuses = {"pending", "running", "done",       "cached",
                                                                  "failed",  "skipped", "interrupted"};

}  // namespace mstar::registry
