// Runs a Plan on one Asio io_context: dependencies first, up to `jobs` at
// once within the CPU budget, retries, timeouts and interrupts. A Launcher
// (launcher.h) runs each attempt somewhere and streams its events back; the
// attempt leaves everything durable in its artifact directory. The host is
// the registry's single writer.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "exec/plan.h"
#include "util/paths.h"

namespace boost::asio { class io_context; }

namespace mstar {

namespace registry { class Registry; }
class Launcher;

struct RunOptions {
  int jobs = 1;
  int cpu_budget = 0;        // 0: the machine's cores
  bool force = false;        // recompute even when a complete artifact exists
  int max_failures = -1;     // stop scheduling after this many failed trials (-1: never)
  bool fail_fast = false;    // same as max_failures = 1
  double grace_s = 5.0;      // SIGTERM -> SIGKILL delay
  bool live = false;         // live display on a TTY instead of event lines
  std::string launcher;      // "local" or "slurm"; "" = the experiment's `launcher:`, else local
  // The GPUs the scheduler shares out among running nodes, as
  // CUDA_VISIBLE_DEVICES names them (each node gets resources.gpus of them,
  // and sees only those); nullopt: it does not. execute_plan fills it for a
  // local run on a machine with GPUs (visible_gpus()); Slurm allocates its own.
  std::optional<std::vector<std::string>> gpus;
};

struct RunOutcome {
  size_t done = 0, cached = 0, failed = 0, skipped = 0, interrupted = 0;
  size_t trials_failed = 0;
  bool was_interrupted = false;
  int exit_code() const { return was_interrupted ? 130 : (failed || skipped || trials_failed) ? 1 : 0; }
};

// Through the launcher the options or the experiment name: child processes
// of this host (LocalLauncher) or Slurm jobs (SlurmLauncher).
RunOutcome execute_plan(const Plan& plan, registry::Registry& registry, const Paths& paths,
                        const RunOptions& options);
// Through `launcher`, which delivers on `io`; `io` runs until the plan is
// through. SIGINT and SIGTERM interrupt the run while it goes on.
RunOutcome execute_plan(const Plan& plan, registry::Registry& registry, const Paths& paths,
                        const RunOptions& options, boost::asio::io_context& io, Launcher& launcher);

}  // namespace mstar
