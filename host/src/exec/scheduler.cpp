#include "exec/scheduler.h"

#include <algorithm>
#include <boost/asio.hpp>
#include <chrono>
#include <csignal>
#include <cstring>
#include <thread>
#include <unistd.h>

#include "exec/launcher.h"
#include "exec/local_launcher.h"
#include "exec/slurm_launcher.h"
#include "exec/node_spec.h"
#include "exec/progress.h"
#include "exec/record.h"
#include "mstar/artifact.h"
#include "mstar/registry/registry.h"
#include "util/gpus.h"
#include "util/log.h"

namespace mstar {

namespace fs = std::filesystem;
namespace asio = boost::asio;

namespace {

}  // namespace

class Scheduler {
 public:
  Scheduler(const Plan& plan, registry::Registry& reg, const Paths& paths, const RunOptions& opt,
            asio::io_context& io, Launcher& launcher)
      : plan_(plan), rec_(plan, reg), paths_(paths), store_(paths.store), opt_(opt), io_(io), launcher_(launcher),
        signals_(io, SIGINT, SIGTERM), progress_(opt.live, plan.trials.size(), plan.instances.size()) {
    cpu_budget_ = opt.cpu_budget > 0 ? opt.cpu_budget : std::max(1u, std::thread::hardware_concurrency());
    if (opt.fail_fast) opt_.max_failures = 1;
    gpu_pool_ = opt.gpus;
    gpus_total_ = opt.gpus ? opt.gpus->size() : 0;
  }

  RunOutcome run();

 private:
  // One attempt the launcher has started and not yet ended.
  struct Running {
    size_t index;
    std::unique_ptr<asio::steady_timer> timeout;
    bool timed_out = false;
    std::string error_message;
    std::vector<registry::MetricPoint> points;
    std::map<std::string, double> summaries;
    std::vector<std::string> gpus;  // taken from the pool while it runs
  };

  void prepare();
  void pump();
  bool can_launch(const Instance& in) const;
  void launch(size_t index);
  void handle_event(Running& r, std::string_view line);
  void on_end(const std::shared_ptr<Running>& r, const NodeEnd& end);
  void finish(Running& r, const NodeEnd& end);
  void skip_dependants(size_t index, const std::string& why);
  void release_gpus(Running& r) {
    if (!gpu_pool_) return;
    gpu_pool_->insert(gpu_pool_->end(), r.gpus.begin(), r.gpus.end());
    std::sort(gpu_pool_->begin(), gpu_pool_->end());
    r.gpus.clear();
  }
  void on_signal();
  void schedule_flush();
  void stop_all(bool now);
  bool scheduling_stopped() const {
    return interrupted_ || (opt_.max_failures >= 0 && static_cast<int>(rec_.failed_trials()) >= opt_.max_failures);
  }

  const Plan& plan_;
  Recorder rec_;
  Paths paths_;
  ArtifactStore store_;
  RunOptions opt_;
  asio::io_context& io_;
  Launcher& launcher_;
  asio::signal_set signals_;
  std::unique_ptr<asio::steady_timer> grace_;
  Progress progress_;
  std::map<size_t, std::shared_ptr<Running>> running_;  // by instance index, the launcher's id
  int cpu_used_ = 0;
  std::optional<std::vector<std::string>> gpu_pool_;  // free GPUs, when the scheduler shares them out
  size_t gpus_total_ = 0;
  int cpu_budget_ = 1;
  bool interrupted_ = false;
  bool flush_posted_ = false;
};

void Scheduler::prepare() {
  fs::create_directories(store_.staging_root());
  fs::create_directories(paths_.logs());
  // Half-written work of attempts that are over is discarded, never reused;
  // the launcher that made it says whether it is over.
  store_.discard_stale_staging([this](const std::string& name) { return launcher_.may_still_write(name); });
  rec_.begin(paths_, opt_.force);
}

bool Scheduler::can_launch(const Instance& in) const {
  if (static_cast<int>(running_.size()) >= opt_.jobs) return false;
  // A node wider than the whole budget still runs, alone.
  if (running_.empty()) return true;
  return cpu_used_ + in.def->cpus <= cpu_budget_;
}

void Scheduler::pump() {
  if (!scheduling_stopped()) {
    for (size_t i = 0; i < rec_.size(); ++i) {
      Instance& in = rec_.at(i);
      if (in.state != NodeState::Pending || in.unmet > 0 || running_.count(i)) continue;
      const size_t gpus = static_cast<size_t>(in.def->gpus);
      if (gpu_pool_ && gpus > gpus_total_) {
        rec_.mark_failed(i, "asks for " + std::to_string(gpus) + " GPUs (resources.gpus) and this machine offers " +
                                std::to_string(gpus_total_) + " (CUDA_VISIBLE_DEVICES, or mstar run --gpus)",
                         std::nullopt, std::nullopt);
        progress_.finished(*in.def, "failed", "not enough GPUs");
        skip_dependants(i, in.def->plugin);
        continue;
      }
      // A node waiting for GPUs does not hold back nodes that need none.
      if (gpu_pool_ && gpus > gpu_pool_->size()) continue;
      if (!can_launch(in)) break;
      launch(i);
    }
  }
  if (running_.empty()) {
    signals_.cancel();
    if (grace_) grace_->cancel();
  }
  schedule_flush();
}

// After the handlers already queued: the ends of nodes that finished
// together, and the starts that replace them, share one transaction.
void Scheduler::schedule_flush() {
  if (flush_posted_ || !rec_.has_pending()) return;
  flush_posted_ = true;
  asio::post(io_, [this] {
    flush_posted_ = false;
    rec_.flush();
  });
}

void Scheduler::launch(size_t index) {
  Instance& in = rec_.at(index);
  const NodeInstance& def = *in.def;
  NodeSpecFile spec;
  spec.key = def.key;
  spec.plugin = def.plugin;
  spec.plugin_version = def.plugin_version;
  spec.library = def.library;
  spec.params = def.params;
  spec.seed = def.seed;
  spec.threads = def.cpus;
  spec.world_size = node_world_size(def.params);
  spec.components = plan_.components;
  for (const auto& [name, ref] : def.inputs) {
    spec.inputs[name] = store_.input(ref);
    spec.input_keys[name] = ref;
  }
  spec.staging = store_.staging(launcher_.staging_name(def, in.attempts + 1));
  spec.final_dir = store_.artifact(def.key);
  spec.resume = store_.resume(def.key);
  if (opt_.force && in.attempts == 0) store_.forget(def.key);

  in.attempts++;
  LaunchRequest request{&def, std::move(spec), paths_.log(def.key), in.attempts};
  auto r = std::make_shared<Running>();
  r->index = index;
  if (gpu_pool_) {
    const auto n = static_cast<std::ptrdiff_t>(def.gpus);
    r->gpus.assign(gpu_pool_->begin(), gpu_pool_->begin() + n);
    gpu_pool_->erase(gpu_pool_->begin(), gpu_pool_->begin() + n);
    request.gpus = r->gpus;
  }
  try {
    launcher_.start(index, request,
                    {[this, r](std::string_view line) { handle_event(*r, line); },
                     [this, r](const NodeEnd& end) { on_end(r, end); }});
  } catch (const std::exception& e) {
    release_gpus(*r);
    rec_.mark_failed(index, e.what(), std::nullopt, std::nullopt);
    skip_dependants(index, def.plugin);
    return;
  }
  cpu_used_ += def.cpus;
  running_[index] = r;
  rec_.mark_running(index, request.log.string());
  progress_.started(def, in.attempts);
  if (def.timeout_s > 0 && !launcher_.enforces_timeouts()) {
    r->timeout = std::make_unique<asio::steady_timer>(io_);
    r->timeout->expires_after(std::chrono::milliseconds(static_cast<int64_t>(def.timeout_s * 1000)));
    r->timeout->async_wait([this, r](const boost::system::error_code& ec) {
      if (ec || !running_.count(r->index)) return;
      r->timed_out = true;
      launcher_.kill(r->index);
    });
  }
}

void Scheduler::handle_event(Running& r, std::string_view line) {
  Json e;
  try {
    e = Json::parse(line);
  } catch (const std::exception&) {
    return;  // not an event: a plugin wrote to the channel fd; ignore
  }
  const std::string type = e.value("t", "");
  const std::string& key = rec_.at(r.index).def->key;
  if (type == "m") {
    r.points.push_back({key, e.value("step", int64_t{0}), e.value("k", ""), e.value("v", 0.0), e.value("time", 0.0)});
    if (r.points.size() >= 4096) {
      rec_.append_metrics(r.points);
      r.points.clear();
    }
  } else if (type == "s") {
    r.summaries[e.value("k", "")] = e.value("v", 0.0);
  } else if (type == "error") {
    r.error_message = e.value("message", "");
  }
}

void Scheduler::on_end(const std::shared_ptr<Running>& r, const NodeEnd& end) {
  if (running_.erase(r->index) == 0) return;
  if (r->timeout) r->timeout->cancel();
  finish(*r, end);
  pump();
}

void Scheduler::finish(Running& r, const NodeEnd& end) {
  Instance& in = rec_.at(r.index);
  const NodeInstance& def = *in.def;
  cpu_used_ -= def.cpus;
  release_gpus(r);
  rec_.append_metrics(r.points);
  rec_.set_summaries(def.key, r.summaries);

  const bool signaled = end.signal != 0;
  const bool lost = !end.lost.empty();
  const int sig = end.signal;
  const int code = end.exit_code;
  if (code == kExecOk && store_.is_complete(def.key)) {
    rec_.mark_done(r.index, code);
    progress_.finished(def, "done", "");
    return;
  }
  std::string reason;
  if (r.timed_out) {
    reason = "timed out after " + std::to_string(static_cast<int>(def.timeout_s)) + " s";
  } else if (signaled) {
    reason = std::string("killed by signal ") + std::to_string(sig) + " (" + ::strsignal(sig) + ")";
    // Which rank of a data-parallel node it was (the launcher says).
    if (!r.error_message.empty()) reason += ": " + r.error_message;
  } else if (lost) {
    reason = end.lost;
  } else if (!r.error_message.empty()) {
    reason = r.error_message;
  } else if (code == kExecOk) {
    reason = "exited with code 0 without publishing an artifact";
  } else {
    reason = "exited with code " + std::to_string(code);
  }
  const bool was_stopped = interrupted_ && (signaled || lost || code == kExecCancelled);
  if (was_stopped) {
    rec_.mark_interrupted(r.index, code >= 0 ? std::optional<int>(code) : std::nullopt,
                          signaled ? std::optional<int>(sig) : std::nullopt);
    progress_.finished(def, "interrupted", reason);
    return;
  }
  // Signals, timeouts and lost attempts may be transient (OOM killer, a
  // stuck disk, a failed cluster node); a bad param or a plugin error will
  // fail the same way again.
  const bool transient = r.timed_out || signaled || lost;
  if (transient && in.attempts <= def.retries && !scheduling_stopped()) {
    progress_.finished(def, "retry", reason);
    in.state = NodeState::Pending;
    return;
  }
  rec_.mark_failed(r.index, reason, code >= 0 ? std::optional<int>(code) : std::nullopt,
                   signaled ? std::optional<int>(sig) : std::nullopt);
  progress_.finished(def, "failed", reason);
  skip_dependants(r.index, def.plugin);
}

void Scheduler::skip_dependants(size_t index, const std::string& why) {
  for (size_t d : rec_.at(index).dependants) {
    Instance& dep = rec_.at(d);
    if (dep.state != NodeState::Pending) continue;
    rec_.mark_skipped(d, "upstream " + why + " (" + rec_.at(index).def->key.substr(0, 12) + ") did not finish");
    skip_dependants(d, why);
  }
}

void Scheduler::stop_all(bool now) {
  for (const auto& [index, _] : running_) now ? launcher_.kill(index) : launcher_.cancel(index);
}

void Scheduler::on_signal() {
  if (interrupted_) {  // second signal: no more grace
    stop_all(true);
    return;
  }
  interrupted_ = true;
  progress_.note("interrupted: stopping running nodes (again to kill at once)");
  stop_all(false);
  grace_ = std::make_unique<asio::steady_timer>(io_);
  grace_->expires_after(std::chrono::milliseconds(static_cast<int64_t>(opt_.grace_s * 1000)));
  grace_->async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    stop_all(true);
  });
  pump();
}

RunOutcome Scheduler::run() {
  prepare();
  std::function<void(const boost::system::error_code&, int)> on_sig = [this, &on_sig](const boost::system::error_code& ec, int) {
    if (ec) return;
    on_signal();
    if (!running_.empty()) signals_.async_wait(on_sig);
  };
  signals_.async_wait(on_sig);
  pump();
  io_.run();
  progress_.close();
  return rec_.end(interrupted_);
}

RunOutcome execute_plan(const Plan& plan, registry::Registry& registry, const Paths& paths, const RunOptions& options,
                        asio::io_context& io, Launcher& launcher) {
  Scheduler s(plan, registry, paths, options, io, launcher);
  return s.run();
}

RunOutcome execute_plan(const Plan& plan, registry::Registry& registry, const Paths& paths, const RunOptions& options) {
  asio::io_context io;
  const std::string kind = !options.launcher.empty() ? options.launcher : plan.launcher.kind;
  if (kind == "slurm") {
    SlurmLauncher launcher(io, self_executable().string(), paths.artifacts().staging_root(), plan.launcher);
    launcher.check_available();
    RunOptions opt = options;
    if (opt.cpu_budget == 0) opt.cpu_budget = 1 << 30;  // the cluster shares its CPUs out, not this host
    return execute_plan(plan, registry, paths, opt, io, launcher);
  }
  LocalLauncher launcher(io, self_executable().string());
  RunOptions opt = options;
  if (!opt.gpus) {
    std::vector<std::string> gpus = visible_gpus();
    if (!gpus.empty()) opt.gpus = std::move(gpus);  // none: nodes keep what they see (device: auto is the CPU)
  }
  return execute_plan(plan, registry, paths, opt, io, launcher);
}

}  // namespace mstar
