// `mstar export --mlflow DIR`: MLflow's file store, the plain-file layout that
// `mlflow ui --backend-store-uri DIR` and MlflowClient("file:DIR") read (MLflow
// 3 reads it with MLFLOW_ALLOW_FILE_STORE=true; it is in maintenance there).
//
// Layout (DIR is the mlruns root):
//   DIR/EXP/meta.yaml            one experiment per sweep (runs outside any
//                                sweep go to experiment 0, "Default")
//   DIR/EXP/RUN/meta.yaml        status, start/end time, run name
//   DIR/EXP/RUN/params/KEY       the run's flattened params (node.param, seed)
//   DIR/EXP/RUN/metrics/NODE/KEY "timestamp_ms value step" per point;
//                                metrics/summary/NODE/KEY the node's summary
//   DIR/EXP/RUN/tags/KEY         mstar.run_id, mstar.sweep, mstar.status,
//                                mstar.plugin.NODE ("plugin version"), ...
// EXP is the sweep id when MLflow accepts it as an id, else a hash of it; RUN
// is the mstar run id. Exporting again replaces those runs' directories.
#pragma once

#include <cstddef>
#include <filesystem>

#include "mstar/registry/query.h"

namespace mstar::exporting {

struct MlflowStats {
  size_t experiments = 0, runs = 0, points = 0;
};

// Error(BadInput) naming a param, node or metric name MLflow cannot store as
// a path (an empty, "." or ".." component, or a character outside
// [A-Za-z0-9_.- :/]); Error(Io) naming a file that cannot be written.
MlflowStats export_mlflow(registry::Results& results, const std::filesystem::path& dir);

}  // namespace mstar::exporting
