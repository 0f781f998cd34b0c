#include "exec/scheduler.h"

#include <boost/asio.hpp>
#include <boost/process.hpp>
#include <chrono>
#include <csignal>
#include <cstring>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "exec/node_spec.h"
#include "exec/progress.h"
#include "exec/record.h"
#include "mstar/artifact.h"
#include "mstar/registry/registry.h"
#include "util/log.h"

namespace mstar {

namespace fs = std::filesystem;
namespace bp = boost::process;
namespace asio = boost::asio;

namespace {

constexpr size_t kMaxEnvSpec = 100000;  // well under Linux's 128 KiB per string

bool pid_alive(long pid) { return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM); }

// Staging directories are named KEY.PID; one whose host is gone is
// half-written work and is discarded, never reused.
void discard_stale_staging(const fs::path& tmp) {
  std::error_code ec;
  if (!fs::is_directory(tmp, ec)) return;
  for (const auto& entry : fs::directory_iterator(tmp, ec)) {
    const std::string name = entry.path().filename().string();
    const size_t dot = name.find('.');
    long pid = dot == std::string::npos ? 0 : std::atol(name.c_str() + dot + 1);
    if (!pid_alive(pid)) fs::remove_all(entry.path(), ec);
  }
}

}  // namespace

class Scheduler {
 public:
  Scheduler(const Plan& plan, registry::Registry& reg, const Paths& paths, const RunOptions& opt)
      : plan_(plan), rec_(plan, reg), paths_(paths), opt_(opt), signals_(io_, SIGINT, SIGTERM),
        progress_(opt.live, plan.trials.size(), plan.instances.size()) {
    cpu_budget_ = opt.cpu_budget > 0 ? opt.cpu_budget : std::max(1u, std::thread::hardware_concurrency());
    if (opt.fail_fast) opt_.max_failures = 1;
  }

  RunOutcome run();

 private:
  struct Running {
    size_t index;
    fs::path spec_path;
    std::unique_ptr<bp::async_pipe> pipe;
    std::unique_ptr<bp::child> child;
    asio::streambuf buffer;
    std::unique_ptr<asio::steady_timer> timeout;
    bool exited = false, drained = false, timed_out = false;
    int status = 0;
    std::string error_message;
    std::vector<registry::MetricPoint> points;
    std::map<std::string, double> summaries;
  };

  void prepare();
  void pump();
  bool can_launch(const Instance& in) const;
  void launch(size_t index);
  void read_events(const std::shared_ptr<Running>& r);
  void handle_event(Running& r, const std::string& line);
  void maybe_finish(const std::shared_ptr<Running>& r);
  void finish(Running& r);
  void skip_dependants(size_t index, const std::string& why);
  void on_signal();
  void stop_child(Running& r, int sig);
  bool scheduling_stopped() const {
    return interrupted_ || (opt_.max_failures >= 0 && static_cast<int>(rec_.failed_trials()) >= opt_.max_failures);
  }

  const Plan& plan_;
  Recorder rec_;
  Paths paths_;
  RunOptions opt_;
  asio::io_context io_;
  asio::signal_set signals_;
  std::unique_ptr<asio::steady_timer> grace_;
  Progress progress_;
  std::map<size_t, std::shared_ptr<Running>> running_;
  std::string exe_ = self_executable().string();
  int cpu_used_ = 0;
  int cpu_budget_ = 1;
  bool interrupted_ = false;
};

void Scheduler::prepare() {
  fs::create_directories(paths_.staging_root());
  fs::create_directories(paths_.logs());
  discard_stale_staging(paths_.staging_root());
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
      if (!can_launch(in)) break;
      launch(i);
    }
  }
  if (running_.empty()) {
    signals_.cancel();
    if (grace_) grace_->cancel();
  }
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
  spec.components = plan_.components;
  for (const auto& [name, ref] : def.inputs) {
    const size_t slash = ref.find('/');
    fs::path dir = paths_.artifact(ref.substr(0, slash));
    if (slash != std::string::npos) dir /= ref.substr(slash + 1);
    spec.inputs[name] = dir;
    spec.input_keys[name] = ref;
  }
  const std::string tag = def.key + "." + std::to_string(::getpid());
  spec.staging = paths_.staging_root() / tag;
  spec.final_dir = paths_.artifact(def.key);
  spec.resume = paths_.resume(def.key);
  std::error_code ec;
  if (opt_.force && in.attempts == 0) fs::remove_all(spec.final_dir, ec);

  // The spec travels in the environment: no file to create and delete per
  // node (inode churn dominated the per-node overhead). Huge param sets fall
  // back to a file.
  const std::string spec_json = spec.to_json().dump();
  fs::path spec_path;
  std::string spec_arg = "--from-env";
  if (spec_json.size() > kMaxEnvSpec) {
    spec_path = paths_.staging_root() / (tag + ".spec.json");
    write_file_atomic(spec_path, spec_json);
    spec_arg = spec_path.string();
  }

  auto r = std::make_shared<Running>();
  r->index = index;
  r->spec_path = spec_path;
  in.attempts++;
  std::FILE* log = std::fopen(paths_.log(def.key).c_str(), "a");
  if (log) std::fprintf(log, "=== mstar: %s attempt %d ===\n", def.plugin.c_str(), in.attempts), std::fflush(log);
  try {
    r->pipe = std::make_unique<bp::async_pipe>(io_);
    // Boost.Process 1.74 calls this while iterating its list of waiting
    // children (launching the next child from inside it would append to that
    // list mid-iteration), and, when the child has already exited, from
    // inside bp::child's constructor (asio::dispatch), before r->child is
    // set. Its `int` is the decoded code, which cannot tell "exit 7" from
    // "signal 7", so the raw wait status is read from the child after a post,
    // by which time the constructor has returned.
    auto on_exit = [this, r](int, const std::error_code&) {
      asio::post(io_, [this, r] {
        if (!r->child) return;  // the constructor threw; the launch failure is recorded
        r->status = r->child->native_exit_code();
        r->exited = true;
        maybe_finish(r);
      });
    };
    bp::environment env = boost::this_process::environment();
    env["MSTAR_NODE_SPEC"] = spec_arg == "--from-env" ? spec_json : std::string();
    // BLAS/OpenMP pools sized to the node's CPU share. Passive waiting: with
    // spinning OpenMP threads, two nodes sharing two cores ran 20-40x slower.
    const std::string cpus = std::to_string(def.cpus);
    for (const char* var : {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"}) env[var] = cpus;
    if (env.find("OMP_WAIT_POLICY") == env.end()) env["OMP_WAIT_POLICY"] = "PASSIVE";
    if (log) {
      r->child = std::make_unique<bp::child>(exe_, "exec-node", spec_arg, bp::std_out > *r->pipe, bp::std_err > log,
                                             bp::std_in < bp::null, env, io_, bp::on_exit(on_exit));
    } else {
      r->child = std::make_unique<bp::child>(exe_, "exec-node", spec_arg, bp::std_out > *r->pipe,
                                             bp::std_err > bp::null, bp::std_in < bp::null, env, io_,
                                             bp::on_exit(on_exit));
    }
  } catch (const std::exception& e) {
    if (log) std::fclose(log);
    rec_.mark_failed(index, std::string("cannot start the node process: ") + e.what(), std::nullopt, std::nullopt);
    skip_dependants(index, def.plugin);
    return;
  }
  if (log) std::fclose(log);
  cpu_used_ += def.cpus;
  running_[index] = r;
  rec_.mark_running(index, paths_.log(def.key).string());
  progress_.started(def, in.attempts);
  if (def.timeout_s > 0) {
    r->timeout = std::make_unique<asio::steady_timer>(io_);
    r->timeout->expires_after(std::chrono::milliseconds(static_cast<int64_t>(def.timeout_s * 1000)));
    r->timeout->async_wait([this, r](const boost::system::error_code& ec) {
      if (ec || r->exited) return;
      r->timed_out = true;
      stop_child(*r, SIGKILL);
    });
  }
  read_events(r);
}

void Scheduler::read_events(const std::shared_ptr<Running>& r) {
  asio::async_read_until(*r->pipe, r->buffer, '\n', [this, r](const boost::system::error_code& ec, size_t) {
    if (ec) {
      r->drained = true;
      maybe_finish(r);
      return;
    }
    std::istream is(&r->buffer);
    std::string line;
    std::getline(is, line);
    handle_event(*r, line);
    read_events(r);
  });
}

void Scheduler::handle_event(Running& r, const std::string& line) {
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

void Scheduler::maybe_finish(const std::shared_ptr<Running>& r) {
  if (!r->exited || !r->drained) return;
  if (running_.erase(r->index) == 0) return;
  if (r->timeout) r->timeout->cancel();
  finish(*r);
  pump();
}

void Scheduler::finish(Running& r) {
  Instance& in = rec_.at(r.index);
  const NodeInstance& def = *in.def;
  cpu_used_ -= def.cpus;
  std::error_code ec;
  if (!r.spec_path.empty()) fs::remove(r.spec_path, ec);
  rec_.append_metrics(r.points);
  rec_.set_summaries(def.key, r.summaries);

  const int st = r.status;
  const bool signaled = WIFSIGNALED(st);
  const int sig = signaled ? WTERMSIG(st) : 0;
  const int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  if (code == kExecOk && Artifact::is_complete(paths_.artifact(def.key))) {
    rec_.mark_done(r.index, code);
    progress_.finished(def, "done", "");
    return;
  }
  std::string reason;
  if (r.timed_out) {
    reason = "timed out after " + std::to_string(static_cast<int>(def.timeout_s)) + " s";
  } else if (signaled) {
    reason = std::string("killed by signal ") + std::to_string(sig) + " (" + ::strsignal(sig) + ")";
  } else if (!r.error_message.empty()) {
    reason = r.error_message;
  } else if (code == kExecOk) {
    reason = "exited with code 0 without publishing an artifact";
  } else {
    reason = "exited with code " + std::to_string(code);
  }
  const bool was_stopped = interrupted_ && (signaled || code == kExecCancelled);
  if (was_stopped) {
    rec_.mark_interrupted(r.index, code >= 0 ? std::optional<int>(code) : std::nullopt,
                          signaled ? std::optional<int>(sig) : std::nullopt);
    progress_.finished(def, "interrupted", reason);
    return;
  }
  // Signals and timeouts may be transient (OOM killer, a stuck disk); a bad
  // param or a plugin error will fail the same way again.
  const bool transient = r.timed_out || signaled;
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

void Scheduler::stop_child(Running& r, int sig) {
  if (r.exited || !r.child) return;
  ::kill(r.child->id(), sig);
}

void Scheduler::on_signal() {
  if (interrupted_) {  // second signal: no more grace
    for (auto& [_, r] : running_) stop_child(*r, SIGKILL);
    return;
  }
  interrupted_ = true;
  progress_.note("interrupted: stopping running nodes (again to kill at once)");
  for (auto& [_, r] : running_) stop_child(*r, SIGTERM);
  grace_ = std::make_unique<asio::steady_timer>(io_);
  grace_->expires_after(std::chrono::milliseconds(static_cast<int64_t>(opt_.grace_s * 1000)));
  grace_->async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    for (auto& [_, r] : running_) stop_child(*r, SIGKILL);
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

RunOutcome execute_plan(const Plan& plan, registry::Registry& registry, const Paths& paths, const RunOptions& options) {
  Scheduler s(plan, registry, paths, options);
  return s.run();
}

}  // namespace mstar
