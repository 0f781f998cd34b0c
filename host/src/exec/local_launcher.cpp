#include "exec/local_launcher.h"

// vfork, not fork: fork copied the host's page tables and made its heap
// copy-on-write for every node started, a fifth of the host's time in a
// sweep of short nodes. Boost.Process 1.74 compiles its vfork executor only
// when this is set (its feature test predates glibc 2.12's vfork in
// <unistd.h>); the child does nothing before execve but dup2 and close.
#define BOOST_POSIX_HAS_VFORK 1
#include <boost/asio.hpp>
#include <boost/process.hpp>
#include <boost/process/posix.hpp>
#include <csignal>
#include <cstdio>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <cstdlib>
#include <optional>

#include "mstar/artifact.h"
#include "mstar/json.h"

namespace mstar {

namespace fs = std::filesystem;
namespace bp = boost::process;
namespace asio = boost::asio;

namespace {

constexpr size_t kMaxEnvSpec = 100000;  // well under Linux's 128 KiB per string

bool pid_alive(long pid) { return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM); }

}  // namespace

// One process of an attempt: rank 0, or another rank of a data-parallel node.
struct LocalLauncher::RankProcess {
  int rank = 0;
  std::unique_ptr<bp::async_pipe> pipe;  // rank 0 only: the event pipe
  std::unique_ptr<bp::child> child;
  asio::streambuf buffer;
  bool exited = false, drained = false;
  int status = 0;  // raw wait status
};

struct LocalLauncher::Child {
  size_t id = 0;
  LaunchCallbacks callbacks;
  fs::path spec_path;  // only for specs too large for the environment
  std::vector<std::unique_ptr<RankProcess>> ranks;
  std::optional<int> failed;  // the first rank that ended badly: its status is the attempt's
};

// mstar-exec-node beside mstar starts in a third of the time (it links a
// fraction of the libraries); a tree without it (an old install) runs
// `mstar exec-node`, which does the same.
LocalLauncher::LocalLauncher(asio::io_context& io, std::string exe) : io_(io), exe_(std::move(exe)) {
  const fs::path lean = fs::path(exe_).parent_path() / "mstar-exec-node";
  if (::access(lean.c_str(), X_OK) == 0) {
    exe_ = lean.string();
  } else {
    subcommand_ = "exec-node";
  }
}

LocalLauncher::~LocalLauncher() = default;

// KEY.PID: the host's pid makes the staging directory this host's; a later
// host discards it once this one is gone. Retries reuse it (exec-node
// starts from an empty staging directory).
std::string LocalLauncher::staging_name(const NodeInstance& node, int) {
  return node.key + "." + std::to_string(::getpid());
}

std::optional<bool> LocalLauncher::pid_tag_alive(const std::string& name) {
  const size_t dot = name.find('.');
  if (dot == std::string::npos || dot + 1 == name.size()) return false;  // no tag: nobody's
  char* end = nullptr;
  const long pid = std::strtol(name.c_str() + dot + 1, &end, 10);
  if (*end != '\0') return std::nullopt;
  return pid_alive(pid);
}

namespace {

// A port nobody listens on now, for rank 0's rendezvous (as torchrun picks
// one; another process may take it before rank 0 binds it, which fails the
// attempt with a clear error and is rare).
int free_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  return acceptor.local_endpoint().port();
}

}  // namespace

// A node with world_size > 1 runs as that many exec-node processes, each
// with torchrun's variables; rank 0's stdout is the event pipe, the other
// ranks' events are dropped (their logs share the node's log). The attempt
// ends when every rank has; the first rank to fail ends the others.
void LocalLauncher::start(size_t id, const LaunchRequest& request, LaunchCallbacks callbacks) {
  auto c = std::make_shared<Child>();
  c->id = id;
  c->callbacks = std::move(callbacks);
  const int world = std::max(1, request.spec.world_size);
  const int port = world > 1 ? free_port() : 0;

  std::FILE* log = std::fopen(request.log.c_str(), "a");
  if (log)
    std::fprintf(log, "=== mstar: %s attempt %d%s ===\n", request.node->plugin.c_str(), request.attempt,
                 world > 1 ? (", " + std::to_string(world) + " ranks").c_str() : ""),
        std::fflush(log);
  try {
    for (int rank = 0; rank < world; ++rank) {
      auto proc = std::make_unique<RankProcess>();
      proc->rank = rank;
      RankProcess* p = proc.get();
      c->ranks.push_back(std::move(proc));
      NodeSpecFile spec = request.spec;
      spec.rank = rank;
      spec.world_size = world;
      spec.threads = std::max(1, request.spec.threads / world);  // the node's CPUs shared by its ranks
      // The spec travels in the environment: no file to create and delete per
      // node (inode churn dominated the per-node overhead). Huge param sets
      // fall back to a file (rank 0's; the others read their rank from RANK).
      const std::string spec_json = spec.to_json().dump();
      std::string spec_arg = "--from-env";
      std::vector<std::string> argv;
      if (spec_json.size() > kMaxEnvSpec) {
        const fs::path file = request.spec.staging.string() + ".rank" + std::to_string(rank) + ".spec.json";
        write_file_atomic(file, spec_json);
        if (rank == 0) c->spec_path = file;
        spec_arg = file.string();
      }
      if (!subcommand_.empty()) argv.push_back(subcommand_);
      argv.push_back(spec_arg);
      // Boost.Process 1.74 calls this while iterating its list of waiting
      // children (starting the next child from inside it would append to that
      // list mid-iteration), and, when the child has already exited, from
      // inside bp::child's constructor (asio::dispatch), before p->child is
      // set. Its `int` is the decoded code, which cannot tell "exit 7" from
      // "signal 7", so the raw wait status is read from the child after a post,
      // by which time the constructor has returned.
      auto on_exit = [this, c, p](int, const std::error_code&) {
        asio::post(io_, [this, c, p] {
          if (!p->child) return;  // the constructor threw: start() has thrown
          p->status = p->child->native_exit_code();
          p->exited = true;
          rank_ended(c, *p);
        });
      };
      // set() and erase() only: Boost 1.74's environment operator[] and find()
      // compare the key past the end of shorter entries (a heap overread that
      // ASan reports on every launch).
      bp::environment env = boost::this_process::environment();
      env.set("MSTAR_NODE_SPEC", spec_arg == "--from-env" ? spec_json : std::string());
      // BLAS/OpenMP pools sized to the node's CPU share. Passive waiting: with
      // spinning OpenMP threads, two nodes sharing two cores ran 20-40x slower.
      const std::string cpus = std::to_string(spec.threads);
      for (const char* var : {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"}) env.set(var, cpus);
      if (world > 1) {
        env.set("MASTER_ADDR", "127.0.0.1");
        env.set("MASTER_PORT", std::to_string(port));
        env.set("RANK", std::to_string(rank));
        env.set("LOCAL_RANK", std::to_string(rank));
        env.set("WORLD_SIZE", std::to_string(world));
        env.set("LOCAL_WORLD_SIZE", std::to_string(world));
      }
      // The node sees the GPUs it was given and no others ("" hides them all
      // from a node that asked for none); its ranks pick theirs by LOCAL_RANK.
      if (request.gpus) {
        std::string list;
        for (const std::string& g : *request.gpus) list += (list.empty() ? "" : ",") + g;
        env.set("CUDA_VISIBLE_DEVICES", list);
      }
      if (!std::getenv("OMP_WAIT_POLICY")) env.set("OMP_WAIT_POLICY", "PASSIVE");
      if (rank == 0) {
        p->pipe = std::make_unique<bp::async_pipe>(io_);
        if (log)
          p->child = std::make_unique<bp::child>(bp::exe(exe_), bp::args(argv), bp::posix::use_vfork, bp::std_out > *p->pipe, bp::std_err > log,
                                                 bp::std_in < bp::null, env, io_, bp::on_exit(on_exit));
        else
          p->child = std::make_unique<bp::child>(bp::exe(exe_), bp::args(argv), bp::posix::use_vfork, bp::std_out > *p->pipe,
                                                 bp::std_err > bp::null, bp::std_in < bp::null, env, io_,
                                                 bp::on_exit(on_exit));
      } else {
        p->drained = true;
        if (log)
          p->child = std::make_unique<bp::child>(bp::exe(exe_), bp::args(argv), bp::posix::use_vfork, bp::std_out > bp::null, bp::std_err > log,
                                                 bp::std_in < bp::null, env, io_, bp::on_exit(on_exit));
        else
          p->child = std::make_unique<bp::child>(bp::exe(exe_), bp::args(argv), bp::posix::use_vfork, bp::std_out > bp::null,
                                                 bp::std_err > bp::null, bp::std_in < bp::null, env, io_,
                                                 bp::on_exit(on_exit));
      }
    }
  } catch (const std::exception& e) {
    if (log) std::fclose(log);
    for (const auto& p : c->ranks)
      if (p->child && !p->exited) ::kill(p->child->id(), SIGKILL);
    remove_spec_files(*c, world);
    throw std::runtime_error(std::string("cannot start the node process: ") + e.what());
  }
  if (log) std::fclose(log);
  children_[id] = c;
  read_events(c);
}

void LocalLauncher::remove_spec_files(const Child& c, int world) {
  if (c.spec_path.empty()) return;
  std::error_code ec;
  const std::string base = c.spec_path.string().substr(0, c.spec_path.string().size() - std::string(".rank0.spec.json").size());
  for (int rank = 0; rank < world; ++rank) fs::remove(base + ".rank" + std::to_string(rank) + ".spec.json", ec);
}

void LocalLauncher::read_events(const std::shared_ptr<Child>& c) {
  RankProcess& p = *c->ranks.front();
  asio::async_read_until(*p.pipe, p.buffer, '\n', [this, c](const boost::system::error_code& ec, size_t) {
    RankProcess& p = *c->ranks.front();
    if (ec) {
      p.drained = true;
      maybe_end(c);
      return;
    }
    std::istream is(&p.buffer);
    std::string line;
    std::getline(is, line);
    c->callbacks.event(line);
    read_events(c);
  });
}

namespace {

bool ended_badly(int status) { return WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0); }

}  // namespace

// A rank that fails ends its attempt: the others are killed at once rather
// than left to time out in a collective.
void LocalLauncher::rank_ended(const std::shared_ptr<Child>& c, RankProcess& p) {
  if (ended_badly(p.status) && !c->failed) {
    c->failed = p.rank;
    if (p.rank > 0) {
      // Rank 0's events are the host's only news; say which rank failed.
      std::string how = WIFSIGNALED(p.status) ? "killed by signal " + std::to_string(WTERMSIG(p.status))
                                              : "exit code " + std::to_string(WEXITSTATUS(p.status));
      const Json e = {{"t", "error"},
                      {"category", "plugin_failure"},
                      {"message", "rank " + std::to_string(p.rank) + " of " + std::to_string(c->ranks.size()) +
                                      " failed (" + how + "; its lines in the node's log say why), the others were "
                                      "stopped"}};
      c->callbacks.event(e.dump());
    }
    for (const auto& other : c->ranks)
      if (other.get() != &p && !other->exited && other->child) ::kill(other->child->id(), SIGKILL);
  }
  maybe_end(c);
}

// The end waits for every rank's exit and the end of the pipe: the last
// events may still be in it when rank 0 is reaped.
void LocalLauncher::maybe_end(const std::shared_ptr<Child>& c) {
  for (const auto& p : c->ranks)
    if (!p->exited || !p->drained) return;
  if (children_.erase(c->id) == 0) return;
  remove_spec_files(*c, static_cast<int>(c->ranks.size()));
  const int st = c->ranks.at(static_cast<size_t>(c->failed.value_or(0)))->status;
  NodeEnd end;
  if (WIFSIGNALED(st)) end.signal = WTERMSIG(st);
  if (WIFEXITED(st)) end.exit_code = WEXITSTATUS(st);
  c->callbacks.end(end);
}

void LocalLauncher::signal(size_t id, int sig) {
  auto it = children_.find(id);
  if (it == children_.end()) return;
  for (const auto& p : it->second->ranks)
    if (!p->exited && p->child) ::kill(p->child->id(), sig);
}

void LocalLauncher::cancel(size_t id) { signal(id, SIGTERM); }
void LocalLauncher::kill(size_t id) { signal(id, SIGKILL); }

}  // namespace mstar
