// How the scheduler gets one attempt of one node instance run somewhere:
// started, its event lines and its end delivered back, stopped on request.
// The scheduler decides what runs when (dependencies, -j, the CPU budget,
// retries, timeouts, interrupts) and never knows which launcher it holds.
//
//   LocalLauncher (local_launcher.h): `mstar exec-node` as a child process of
//   the host; events arrive on its stdout pipe, the end from waitpid.
//
//   SlurmLauncher (slurm_launcher.h): a batch job per attempt running
//   `mstar exec-node`; events through a file the host follows, the end from
//   an exit marker the job writes and from squeue.
// What stays the host's for both: the store (a filesystem both sides see),
// the registry (only the host writes it), the artifact check after `end`.
//
// Staging directories (the store's tmp/KEY.TAG) are named by the launcher:
// a local attempt's tag is the host's pid, a Slurm attempt's a random tag
// its job is named after. A later host removes a staging directory only
// when the launcher that made it says nothing may still write into it (a
// Slurm job outlives a killed host).
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "exec/node_spec.h"
#include "exec/plan.h"

namespace mstar {

// One attempt of one node instance.
struct LaunchRequest {
  const NodeInstance* node = nullptr;
  NodeSpecFile spec;                // what exec-node needs; staging is unique to this host and attempt
  std::filesystem::path log;        // the node's log: appended to, stderr of the attempt
  int attempt = 1;                  // 1 for the first
  // The GPUs of this machine the attempt may use (as CUDA_VISIBLE_DEVICES
  // names them: ordinals, or UUIDs), when the
  // scheduler shares them out (local runs); nullopt when it does not (a
  // cluster allocates them itself).
  std::optional<std::vector<std::string>> gpus;
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

  // The name, under the store's tmp/, of a new attempt's staging directory:
  // "KEY." and a tag without dots.
  virtual std::string staging_name(const NodeInstance& node, int attempt) = 0;
  // Whether what made tmp/NAME (NAME = KEY.TAG) may still be writing into
  // it; nullopt when the tag is another launcher's, which is left alone.
  virtual std::optional<bool> may_still_write(const std::string& name) = 0;
  // True when the launcher enforces a node's `timeout` itself (Slurm's
  // --time); the scheduler then sets no timer of its own.
  virtual bool enforces_timeouts() const { return false; }

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
