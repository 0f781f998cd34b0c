#include "exec/slurm_launcher.h"

#include <boost/asio.hpp>
#include <cmath>
#include <csignal>
#include <fstream>
#include <pwd.h>
#include <random>
#include <unistd.h>

#include "exec/local_launcher.h"
#include "exec/node_spec.h"
#include "mstar/artifact.h"
#include "mstar/error.h"
#include "util/log.h"
#include "util/subprocess.h"

namespace mstar {

namespace fs = std::filesystem;
namespace asio = boost::asio;

namespace {

constexpr const char* kJobPrefix = "mstar:";
// A job squeue no longer shows, or shows ended, without an exit marker: the
// marker may still be on its way over a network filesystem. Polls to wait.
constexpr int kMarkerPatience = 4;
// Seconds before the time limit at which Slurm sends the job SIGTERM
// (--signal), so a node checkpoints; Slurm may send it up to a minute early.
constexpr int kSignalLead = 60;

bool active_state(const std::string& s) {
  return s == "PENDING" || s == "CONFIGURING" || s == "RUNNING" || s == "COMPLETING" || s == "SUSPENDED" ||
         s == "REQUEUED" || s == "REQUEUE_HOLD" || s == "REQUEUE_FED" || s == "RESIZING" || s == "SIGNALING" ||
         s == "STAGE_OUT" || s == "STOPPED";
}

std::string user_name() {
  const passwd* pw = ::getpwuid(::geteuid());
  return pw ? pw->pw_name : std::to_string(::geteuid());
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string random_tag() {
  std::random_device rd;
  static const char* hex = "0123456789abcdef";
  std::string t;
  for (int i = 0; i < 10; ++i) t += hex[rd() % 16];
  return t;
}

fs::path sidecar(const fs::path& tmp, const std::string& name, const std::string& ext) { return tmp / (name + ext); }

std::string rank_spec(int rank) { return ".rank" + std::to_string(rank) + ".spec.json"; }

void remove_sidecars(const fs::path& tmp, const std::string& name, int world) {
  std::error_code ec;
  for (const char* ext : {".spec.json", ".sh", ".events", ".exit"}) fs::remove(sidecar(tmp, name, ext), ec);
  for (int r = 0; world > 1 && r < world; ++r) fs::remove(sidecar(tmp, name, rank_spec(r)), ec);
}

// A data-parallel node: one job of `world` tasks (srun), each an exec-node
// of its own rank with torchrun's variables, derived from Slurm's. Rank 0
// meets the others at the first machine of the job (its NodeAddr: the name
// Slurm knows a machine by need not resolve), on a port taken from the job
// id; its stdout is the events file, the other ranks' goes nowhere (their
// stderr shares the node's log). A rank that fails ends the others.
std::string rank_launch(const fs::path& tmp, const std::string& exe, const std::string& name,
                        const NodeSpecFile& node_spec, int world, const std::string& threads) {
  for (int r = 0; r < world; ++r) {
    NodeSpecFile spec = node_spec;
    spec.rank = r;
    spec.world_size = world;
    spec.threads = std::stoi(threads);
    write_file_atomic(sidecar(tmp, name, rank_spec(r)), spec.to_json().dump());
  }
  const std::string specs = shell_quote((tmp / name).string() + ".rank");
  const std::string task = "export RANK=$SLURM_PROCID LOCAL_RANK=$SLURM_LOCALID; spec=" + specs +
                           "$RANK.spec.json; if [ \"$RANK\" = 0 ]; then exec " + shell_quote(exe) +
                           " exec-node \"$spec\"; fi; exec " + shell_quote(exe) + " exec-node \"$spec\" >/dev/null";
  return "first=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n 1)\n"
         "addr=$(scontrol show node \"$first\" | sed -n 's/.*NodeAddr=\\([^ ]*\\).*/\\1/p')\n"
         "export MASTER_ADDR=\"${addr:-$first}\" MASTER_PORT=$((20000 + SLURM_JOB_ID % 40000)) WORLD_SIZE=" +
         std::to_string(world) + " LOCAL_WORLD_SIZE=" + std::to_string(world) + "\n" +
         "srun --kill-on-bad-exit=1 --ntasks=" + std::to_string(world) + " --cpus-per-task=" + threads +
         " sh -c " + shell_quote(task) + " &\n";
}

}  // namespace

struct SlurmLauncher::Queued {
  std::string job_id, state, reason;
};

struct SlurmLauncher::Job {
  size_t id = 0;
  LaunchCallbacks callbacks;
  std::string name, job_id, last_state = "PENDING", last_reason;
  fs::path events, exit_marker;
  std::uintmax_t offset = 0;
  std::string tail;  // a torn last line, completed by a later read
  bool cancel_requested = false, kill_requested = false, adopted = false;
  int unseen = 0;  // polls since the job was last active without a marker
  int world = 1;   // ranks: one spec file each
};

struct SlurmLauncher::Timer {
  explicit Timer(asio::io_context& io) : t(io) {}
  asio::steady_timer t;
  bool armed = false;
};

SlurmLauncher::SlurmLauncher(asio::io_context& io, std::string exe, fs::path tmp, config::LauncherConfig config)
    : io_(io), exe_(std::move(exe)), tmp_(std::move(tmp)), config_(std::move(config)),
      timer_(std::make_unique<Timer>(io)) {}

SlurmLauncher::~SlurmLauncher() = default;

void SlurmLauncher::check_available() {
  const CommandResult r = run_command("squeue", {"-h", "-u", user_name(), "-o", "%i"});
  if (r.exit_code != 0)
    throw Error(ErrorCategory::Io, "the Slurm launcher cannot reach Slurm: `squeue` " +
                                       (r.exit_code == 127 ? std::string("is not installed (apt install slurm-client)")
                                                           : "failed: " + r.err_text()) +
                                       ". Is SLURM_CONF set and slurmctld running? (docs/slurm.md)");
}

// One squeue call lists this user's jobs; ours are those named mstar:NAME.
const std::map<std::string, SlurmLauncher::Queued>& SlurmLauncher::active_by_name() {
  if (snapshot_) return *snapshot_;
  snapshot_.emplace();
  const CommandResult r = run_command("squeue", {"-h", "-u", user_name(), "-o", "%i|%T|%j"});
  if (r.exit_code != 0) throw Error(ErrorCategory::Io, "squeue failed: " + r.err_text());
  for (const std::string& line : r.lines()) {
    const size_t a = line.find('|'), b = line.find('|', a + 1);
    if (b == std::string::npos) continue;
    const std::string name = line.substr(b + 1);
    if (name.rfind(kJobPrefix, 0) != 0) continue;
    (*snapshot_)[name.substr(std::string(kJobPrefix).size())] = {line.substr(0, a), line.substr(a + 1, b - a - 1), ""};
  }
  return *snapshot_;
}

std::string SlurmLauncher::staging_name(const NodeInstance& node, int attempt) {
  return node.key + ".s" + random_tag() + std::to_string(attempt);
}

std::optional<bool> SlurmLauncher::may_still_write(const std::string& name) {
  const size_t dot = name.find('.');
  if (dot == std::string::npos || name.compare(dot + 1, 1, "s") != 0) return LocalLauncher::pid_tag_alive(name);
  const auto& active = active_by_name();
  auto it = active.find(name);
  return it != active.end() && active_state(it->second.state);
}

void SlurmLauncher::start(size_t id, const LaunchRequest& request, LaunchCallbacks callbacks) {
  auto job = std::make_shared<Job>();
  job->id = id;
  job->world = std::max(1, request.spec.world_size);
  job->callbacks = std::move(callbacks);

  // A job of an earlier host for the same node, still queued or running:
  // follow it from its first event rather than run the node twice.
  const std::string prefix = request.node->key + ".s";
  for (const auto& [name, q] : active_by_name()) {
    if (name.rfind(prefix, 0) != 0 || !active_state(q.state)) continue;
    bool taken = false;
    for (const auto& [_, j] : jobs_) taken = taken || j->name == name;
    if (taken) continue;
    job->name = name;
    job->job_id = q.job_id;
    job->adopted = true;
    std::ofstream(request.log, std::ios::app)
        << "=== mstar: " << request.node->plugin << ": following slurm job " << q.job_id
        << ", started by an earlier host ===\n";
    subsystem_logger("sched")->info("{}: following Slurm job {} (started by an earlier host)", request.node->plugin,
                                    q.job_id);
    break;
  }
  if (job->adopted) snapshot_->erase(job->name);  // followed once: a retry of this node submits anew
  if (!job->adopted) {
    job->name = request.spec.staging.filename().string();
    submit(*job, request);
  }
  job->events = sidecar(tmp_, job->name, ".events");
  job->exit_marker = sidecar(tmp_, job->name, ".exit");
  jobs_[id] = job;
  arm();
}

void SlurmLauncher::submit(Job& job, const LaunchRequest& request) {
  const NodeInstance& node = *request.node;
  const fs::path spec = sidecar(tmp_, job.name, ".spec.json");
  const fs::path script = sidecar(tmp_, job.name, ".sh");
  const fs::path marker = sidecar(tmp_, job.name, ".exit");
  const int world = std::max(1, request.spec.world_size);
  // The node's CPUs shared by its ranks, as the local launcher shares them.
  const std::string threads = std::to_string(std::max(1, request.spec.threads / world));
  std::string sh = "#!/bin/sh\n# mstar node " + node.key + " (" + node.plugin + "), attempt " +
                   std::to_string(request.attempt) + "\n" + "export OMP_NUM_THREADS=" + threads +
                   " OPENBLAS_NUM_THREADS=" + threads + "\n" +
                   "[ -n \"$OMP_WAIT_POLICY\" ] || export OMP_WAIT_POLICY=PASSIVE\n";
  if (world == 1) {
    write_file_atomic(spec, request.spec.to_json().dump());
    sh += shell_quote(exe_) + " exec-node " + shell_quote(spec.string()) + " &\n";
  } else {
    sh += rank_launch(tmp_, exe_, job.name, request.spec, world, threads);
  }
  // The shell stays as exec-node's (or srun's) parent to write the exit
  // marker; it hands Slurm's SIGTERM (scancel, --signal before the time
  // limit, preemption) on to exec-node (srun passes it to every rank), which
  // turns it into ctx.cancelled() and checkpoints.
  sh += "child=$!\n"
        "trap 'kill -TERM $child 2>/dev/null' TERM INT USR1\n"
        "while :; do wait $child; rc=$?; kill -0 $child 2>/dev/null || break; done\n"
        "echo $rc > " + shell_quote(marker.string() + ".tmp") + " && mv " +
        shell_quote(marker.string() + ".tmp") + " " + shell_quote(marker.string()) + "\nexit $rc\n";
  write_file_atomic(script, sh);

  const config::ClusterResources res = config_.defaults.merged(node.cluster);
  std::vector<std::string> args = {"--parsable",
                                   "--job-name=" + std::string(kJobPrefix) + job.name,
                                   "--output=" + sidecar(tmp_, job.name, ".events").string(),
                                   "--error=" + request.log.string(),
                                   "--open-mode=append",
                                   "--ntasks=" + std::to_string(world),
                                   "--cpus-per-task=" + threads};
  // One rank: one machine. Ranks may spread over machines (Gloo and NCCL
  // connect them over the network), each with its share of the GPUs.
  if (world == 1) args.push_back("--nodes=1");
  if (node.gpus > 0 && world == 1) args.push_back("--gres=gpu:" + std::to_string(node.gpus));
  if (node.gpus > 0 && world > 1) args.push_back("--gpus-per-task=" + std::to_string(std::max(1, node.gpus / world)));
  if (!res.mem.empty()) args.push_back("--mem=" + res.mem);
  if (!res.partition.empty()) args.push_back("--partition=" + res.partition);
  if (!res.account.empty()) args.push_back("--account=" + res.account);
  if (!res.qos.empty()) args.push_back("--qos=" + res.qos);
  if (node.timeout_s > 0) {
    const int minutes = static_cast<int>(std::ceil(node.timeout_s / 60.0)) + 1;
    args.push_back("--time=" + std::to_string(minutes));
    args.push_back("--signal=B:TERM@" + std::to_string(kSignalLead));
  }
  args.insert(args.end(), res.sbatch_args.begin(), res.sbatch_args.end());
  args.push_back(script.string());

  const CommandResult r = run_command("sbatch", args);
  if (r.exit_code != 0) {
    remove_sidecars(tmp_, job.name, world);
    throw Error(ErrorCategory::Io, "sbatch refused node " + node.key.substr(0, 12) + " (" + node.plugin + "): " +
                                       r.err_text());
  }
  job.job_id = r.out.substr(0, r.out.find_first_of(";\n"));
  std::ofstream(request.log, std::ios::app) << "=== mstar: " << node.plugin << " attempt " << request.attempt
                                            << ": slurm job " << job.job_id << " ===\n";
}

void SlurmLauncher::arm() {
  if (timer_->armed || jobs_.empty()) return;
  timer_->armed = true;
  timer_->t.expires_after(std::chrono::milliseconds(static_cast<int64_t>(config_.poll_s * 1000)));
  timer_->t.async_wait([this](const boost::system::error_code& ec) {
    timer_->armed = false;
    if (ec) return;
    tick();
    arm();
  });
}

// New complete lines of the events file go to `event`; a torn last line
// waits for the rest.
void SlurmLauncher::follow(Job& job) {
  std::ifstream in(job.events, std::ios::binary);
  if (!in) return;
  in.seekg(static_cast<std::streamoff>(job.offset));
  std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  job.offset += chunk.size();
  job.tail += chunk;
  size_t start = 0, nl;
  while ((nl = job.tail.find('\n', start)) != std::string::npos) {
    job.callbacks.event(std::string_view(job.tail).substr(start, nl - start));
    start = nl + 1;
  }
  job.tail.erase(0, start);
}

void SlurmLauncher::tick() {
  std::map<std::string, Queued> by_id;
  const CommandResult r = run_command("squeue", {"-h", "-t", "all", "-u", user_name(), "-o", "%i|%T|%r"});
  const bool answered = r.exit_code == 0;
  if (!answered) subsystem_logger("sched")->warn("squeue failed (will try again): {}", r.err_text());
  for (const std::string& line : r.lines()) {
    const size_t a = line.find('|'), b = line.find('|', a + 1);
    if (b != std::string::npos) by_id[line.substr(0, a)] = {line.substr(0, a), line.substr(a + 1, b - a - 1), line.substr(b + 1)};
  }
  // Copied: finish() erases from jobs_.
  std::vector<std::shared_ptr<Job>> jobs;
  for (const auto& [_, j] : jobs_) jobs.push_back(j);
  for (const auto& job : jobs) {
    follow(*job);
    bool active = true;
    if (answered) {
      auto it = by_id.find(job->job_id);
      if (it != by_id.end()) job->last_state = it->second.state, job->last_reason = it->second.reason;
      active = it != by_id.end() && active_state(it->second.state);
      job->unseen = active ? 0 : job->unseen + 1;
    }
    std::optional<int> code;
    std::error_code ec;
    if (fs::exists(job->exit_marker, ec)) {
      std::ifstream in(job->exit_marker);
      int c = -1;
      if (in >> c) code = c;
    }
    // A node that stopped on a SIGTERM nobody here sent was stopped by Slurm
    // (scancel, preemption, --signal before the time limit): its reason is
    // the job's final state, so wait for that (bounded).
    const bool slurm_stopped = code == kExecCancelled && !job->cancel_requested && !job->kill_requested;
    if (code ? !slurm_stopped || !active : job->unseen >= kMarkerPatience) finish(job, code);
  }
}

void SlurmLauncher::finish(const std::shared_ptr<Job>& job, std::optional<int> exit_code) {
  follow(*job);
  if (!job->tail.empty()) job->callbacks.event(job->tail), job->tail.clear();
  NodeEnd end;
  const std::string slurm_says = "Slurm job " + job->job_id + " ended " + job->last_state +
                                 (job->last_reason.empty() || job->last_reason == "None" ? "" : " (" + job->last_reason + ")");
  const bool asked = job->cancel_requested || job->kill_requested;
  if (exit_code && *exit_code > 128 && *exit_code < 160) {
    end = NodeEnd::signalled(*exit_code - 128);
  } else if (exit_code && *exit_code == kExecCancelled && !asked) {
    // SIGTERM from Slurm itself: --signal before the time limit, preemption.
    end = NodeEnd::lost_because("Slurm stopped it (SIGTERM) before it finished; " + slurm_says);
  } else if (exit_code) {
    end = NodeEnd::exited(*exit_code);
  } else if (asked) {
    end = NodeEnd::signalled(job->kill_requested ? SIGKILL : SIGTERM);
  } else {
    end = NodeEnd::lost_because(slurm_says + " without an exit marker");
  }
  remove_sidecars(tmp_, job->name, job->world);
  jobs_.erase(job->id);
  job->callbacks.end(end);
}

void SlurmLauncher::cancel(size_t id) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;
  Job& job = *it->second;
  job.cancel_requested = true;
  // A queued job has no process to tell: it is simply taken off the queue.
  if (job.last_state == "RUNNING")
    run_command("scancel", {"--batch", "--signal=TERM", job.job_id});
  else
    run_command("scancel", {job.job_id});
}

void SlurmLauncher::kill(size_t id) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;
  it->second->kill_requested = true;
  run_command("scancel", {"--full", "--signal=KILL", it->second->job_id});
  run_command("scancel", {it->second->job_id});
}

}  // namespace mstar
