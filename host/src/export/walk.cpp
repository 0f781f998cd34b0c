#include "export/walk.h"

#include <algorithm>

#include "mstar/registry/registry.h"

namespace mstar::exporting {

void for_each_run(registry::Results& results, const std::function<void(const ExportRun&)>& visit) {
  auto& reg = results.registry();
  for (const auto& run : results.runs()) {
    ExportRun r{run, reg.params(run.id), {}, run.created, 0};
    for (auto& n : reg.node_runs(run.id)) {
      ExportNode node{std::move(n), {}, {}};
      node.points = reg.metrics(node.record.cache_key);
      node.summaries = reg.summaries(node.record.cache_key);
      for (const auto& p : node.points) {
        r.last_time = std::max(r.last_time, p.time);
        r.last_step = std::max(r.last_step, p.step);
      }
      r.nodes.push_back(std::move(node));
    }
    visit(r);
  }
}

std::string series_name(const std::string& node, const std::string& key) { return node + "/" + key; }
std::string summary_name(const std::string& node, const std::string& key) { return "summary/" + node + "/" + key; }

}  // namespace mstar::exporting
