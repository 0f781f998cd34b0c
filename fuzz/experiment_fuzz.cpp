// Experiment YAML -> validated graph: load_experiment (YAML, includes,
// structure checks) then resolve_graph against the real plugins' schemas.
#include "config_world.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mstar;
  const auto& world = fuzz::config_world();
  const auto file = fuzz::scratch_file("experiment.yaml", data, size);
  return fuzz::refuse_cleanly([&] {
    const config::Experiment exp = config::load_experiment(file);
    const config::ResolvedGraph graph = config::resolve_graph(exp, world.lookup, world.ids);
    if (graph.nodes.size() != exp.nodes.size())
      fuzz::invariant_failed("resolve_graph returned " + std::to_string(graph.nodes.size()) + " nodes for " +
                             std::to_string(exp.nodes.size()));
  });
}
