// The walk that every `mstar export --FORMAT DIR` writer shares: the selected
// runs one at a time (so memory holds one run's points, not a sweep's), each
// with its params and its nodes' metric series and summaries, read through
// the registry's public API.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "mstar/json.h"
#include "mstar/registry/query.h"
#include "mstar/registry/records.h"

namespace mstar::exporting {

struct ExportNode {
  registry::NodeRunRecord record;
  std::vector<registry::MetricPoint> points;  // ordered by key then step
  std::map<std::string, double> summaries;
};

struct ExportRun {
  const registry::Results::Run& run;
  std::map<std::string, Json> params;  // flattened: node.param
  std::vector<ExportNode> nodes;       // in insertion order
  double last_time = 0;                // the latest point (or the run's creation)
  int64_t last_step = 0;               // the largest step logged
};

// Calls `visit` for every selected run, in the selection's order.
void for_each_run(registry::Results& results, const std::function<void(const ExportRun&)>& visit);

// The names both formats give a node's series and its final summaries:
// "NODE/KEY" and "summary/NODE/KEY" (TensorBoard and MLflow group on '/').
std::string series_name(const std::string& node, const std::string& key);
std::string summary_name(const std::string& node, const std::string& key);

}  // namespace mstar::exporting
