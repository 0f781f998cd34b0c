// Runs a Plan: node instances as child processes (`mstar exec-node`) on one
// Asio io_context, dependencies first, up to `jobs` at once within the CPU
// budget. The host is the registry's single writer; children stream events
// on a pipe and leave everything durable in their artifact directory.
#pragma once

#include <string>

#include "exec/plan.h"
#include "util/paths.h"

namespace mstar {

namespace registry { class Registry; }

struct RunOptions {
  int jobs = 1;
  int cpu_budget = 0;        // 0: the machine's cores
  bool force = false;        // recompute even when a complete artifact exists
  int max_failures = -1;     // stop scheduling after this many failed trials (-1: never)
  bool fail_fast = false;    // same as max_failures = 1
  double grace_s = 5.0;      // SIGTERM -> SIGKILL delay
  bool live = false;         // live display on a TTY instead of event lines
};

struct RunOutcome {
  size_t done = 0, cached = 0, failed = 0, skipped = 0, interrupted = 0;
  size_t trials_failed = 0;
  bool was_interrupted = false;
  int exit_code() const { return was_interrupted ? 130 : (failed || skipped || trials_failed) ? 1 : 0; }
};

RunOutcome execute_plan(const Plan& plan, registry::Registry& registry, const Paths& paths,
                        const RunOptions& options);

}  // namespace mstar
