// How the scheduler gets one attempt of one node instance run somewhere:
// started, its event lines and its end delivered back, stopped on request.
// The scheduler decides what runs when (dependencies, -j, the CPU budget,
// retries, timeouts, interrupts) and never knows which launcher it holds.
//
//   LocalLauncher (local_launcher.h): `mstar exec-node` as a child process of
//   the host; events arrive on its stdout pipe, the end from waitpid.
//
// A Slurm launcher fits the same contract without touching the scheduler:
//   start   writes the spec to a file beside the staging directory (the
//           environment does not reach a batch job reliably) and submits
//           `sbatch --wrap "mstar exec-node SPEC"` with the node's cpus,
//           --error the node's log and --output an events file beside the
//           staging directory (exec-node's stdout is its event channel; inside
//           the staging directory the file would be published with the
//           artifact). sbatch failing is start() throwing.
//   events  a steady_timer on the same io_context follows that file (read the
//           new bytes, split complete lines, keep a torn tail for the next
//           tick) and hands each line to `event`.
//   end     the same timer polls `squeue`/`sacct` for the job's state; once it
//           is final and the file is read to the end, `end` gets the exit code
//           or signal from sacct, or `lost` for NODE_FAIL, PREEMPTED, BOOT_FAIL
//           or a job that vanished (the scheduler retries those like a signal).
//   cancel  `scancel --signal=TERM` (exec-node turns it into ctx.cancelled());
//   kill    `scancel`.
// What stays the host's in both: the store (a filesystem both sides see), the
// registry (only the host writes it), the artifact check after `end`.
// What a Slurm run would set rather than change: --cpu-budget (the
// default is this machine's cores), and node timeouts, which the scheduler
// counts from start(), queue time included.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "exec/node_spec.h"
#include "exec/plan.h"

namespace mstar {

// One attempt of one node instance.
struct LaunchRequest {
  const NodeInstance* node = nullptr;
  NodeSpecFile spec;                // what exec-node needs; staging is unique to this host and attempt
  std::filesystem::path log;        // the node's log: appended to, stderr of the attempt
  int attempt = 1;                  // 1 for the first
};

// How an attempt ended. Exactly one of the three says it: exec-node's exit
// code (ExecExit, or a plugin's own exit()), the signal that ended it, or
// why the launcher lost it.
struct NodeEnd {
  int exit_code = -1;  // -1: it did not exit by itself
  int signal = 0;      // 0: no signal
  std::string lost;    // "": the launcher saw it end

  static NodeEnd exited(int code) { return {code, 0, ""}; }
  static NodeEnd signalled(int sig) { return {-1, sig, ""}; }
  static NodeEnd lost_because(std::string why) { return {-1, 0, std::move(why)}; }
};

struct LaunchCallbacks {
  std::function<void(std::string_view line)> event;  // one event line (JSON, without its newline)
  std::function<void(const NodeEnd& end)> end;
};

class Launcher {
 public:
  virtual ~Launcher() = default;

  // Starts an attempt, which `id` names in cancel() and kill() until its
  // end is delivered; the scheduler uses one id per running attempt. Throws
  // (a std::exception saying why) when it cannot be started; nothing is
  // delivered for it then. Otherwise every event line, then exactly one
  // end, each from a handler on the scheduler's io_context: never from
  // inside start(), cancel() or kill(), so the scheduler may start and stop
  // attempts from inside a callback.
  virtual void start(size_t id, const LaunchRequest& request, LaunchCallbacks callbacks) = 0;

  // Asks the attempt to stop (plugins see ctx.cancelled()); it still ends
  // through `end`. Ignored for an id that has ended or was never started.
  virtual void cancel(size_t id) = 0;
  // Ends the attempt at once; it still ends through `end`. Ignored likewise.
  virtual void kill(size_t id) = 0;
};

}  // namespace mstar
