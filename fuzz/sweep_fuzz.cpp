// Sweep expansion: the `sweep:` block of an experiment checked against the
// plugins' schemas, expanded into trials, each trial applied to the base
// config and resolved.
#include "config_world.h"

namespace {
// Small enough that one input stays fast; expand_sweep refuses more.
constexpr uint64_t kMaxTrials = 256;
// Resolving is the slow part: a few trials cover its code.
constexpr size_t kResolvedTrials = 4;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mstar;
  const auto& world = fuzz::config_world();
  const auto file = fuzz::scratch_file("sweep.yaml", data, size);
  return fuzz::refuse_cleanly([&] {
    const config::Experiment exp = config::load_experiment(file);
    config::validate_sweep_keys(exp, world.lookup, world.ids);
    const std::vector<config::Trial> trials = config::expand_sweep(exp, kMaxTrials);
    if (trials.empty()) fuzz::invariant_failed("expand_sweep gave no trial");
    for (const config::Trial& t : trials) {
      const config::Experiment applied = config::apply_assignment(exp, t);
      if (applied.seed != t.seed) fuzz::invariant_failed("apply_assignment did not set the trial seed");
      (void)config::trial_label(t);
    }
    const std::vector<config::Trial> first(trials.begin(),
                                           trials.begin() + static_cast<long>(std::min(trials.size(), kResolvedTrials)));
    (void)config::resolve_trials(exp, first, world.lookup, world.ids);
  });
}
