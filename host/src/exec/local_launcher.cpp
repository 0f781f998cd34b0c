#include "exec/local_launcher.h"

#include <boost/asio.hpp>
#include <boost/process.hpp>
#include <csignal>
#include <cstdio>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <cstdlib>

#include "mstar/artifact.h"

namespace mstar {

namespace fs = std::filesystem;
namespace bp = boost::process;
namespace asio = boost::asio;

namespace {

constexpr size_t kMaxEnvSpec = 100000;  // well under Linux's 128 KiB per string

bool pid_alive(long pid) { return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM); }

}  // namespace

struct LocalLauncher::Child {
  size_t id = 0;
  LaunchCallbacks callbacks;
  fs::path spec_path;  // only for specs too large for the environment
  std::unique_ptr<bp::async_pipe> pipe;
  std::unique_ptr<bp::child> child;
  asio::streambuf buffer;
  bool exited = false, drained = false;
  int status = 0;  // raw wait status
};

LocalLauncher::LocalLauncher(asio::io_context& io, std::string exe) : io_(io), exe_(std::move(exe)) {}

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

void LocalLauncher::start(size_t id, const LaunchRequest& request, LaunchCallbacks callbacks) {
  auto c = std::make_shared<Child>();
  c->id = id;
  c->callbacks = std::move(callbacks);

  // The spec travels in the environment: no file to create and delete per
  // node (inode churn dominated the per-node overhead). Huge param sets fall
  // back to a file.
  const std::string spec_json = request.spec.to_json().dump();
  std::string spec_arg = "--from-env";
  if (spec_json.size() > kMaxEnvSpec) {
    c->spec_path = request.spec.staging.string() + ".spec.json";
    write_file_atomic(c->spec_path, spec_json);
    spec_arg = c->spec_path.string();
  }

  std::FILE* log = std::fopen(request.log.c_str(), "a");
  if (log)
    std::fprintf(log, "=== mstar: %s attempt %d ===\n", request.node->plugin.c_str(), request.attempt), std::fflush(log);
  try {
    c->pipe = std::make_unique<bp::async_pipe>(io_);
    // Boost.Process 1.74 calls this while iterating its list of waiting
    // children (starting the next child from inside it would append to that
    // list mid-iteration), and, when the child has already exited, from
    // inside bp::child's constructor (asio::dispatch), before c->child is
    // set. Its `int` is the decoded code, which cannot tell "exit 7" from
    // "signal 7", so the raw wait status is read from the child after a post,
    // by which time the constructor has returned.
    auto on_exit = [this, c](int, const std::error_code&) {
      asio::post(io_, [this, c] {
        if (!c->child) return;  // the constructor threw: start() has thrown
        c->status = c->child->native_exit_code();
        c->exited = true;
        maybe_end(c);
      });
    };
    // set() and erase() only: Boost 1.74's environment operator[] and find()
    // compare the key past the end of shorter entries (a heap overread that
    // ASan reports on every launch).
    bp::environment env = boost::this_process::environment();
    env.set("MSTAR_NODE_SPEC", spec_arg == "--from-env" ? spec_json : std::string());
    // BLAS/OpenMP pools sized to the node's CPU share. Passive waiting: with
    // spinning OpenMP threads, two nodes sharing two cores ran 20-40x slower.
    const std::string cpus = std::to_string(request.spec.threads);
    for (const char* var : {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"}) env.set(var, cpus);
    // The node sees the GPUs it was given and no others ("" hides them all
    // from a node that asked for none).
    if (request.gpus) {
      std::string list;
      for (const std::string& g : *request.gpus) list += (list.empty() ? "" : ",") + g;
      env.set("CUDA_VISIBLE_DEVICES", list);
    }
    if (!std::getenv("OMP_WAIT_POLICY")) env.set("OMP_WAIT_POLICY", "PASSIVE");
    if (log) {
      c->child = std::make_unique<bp::child>(exe_, "exec-node", spec_arg, bp::std_out > *c->pipe, bp::std_err > log,
                                             bp::std_in < bp::null, env, io_, bp::on_exit(on_exit));
    } else {
      c->child = std::make_unique<bp::child>(exe_, "exec-node", spec_arg, bp::std_out > *c->pipe,
                                             bp::std_err > bp::null, bp::std_in < bp::null, env, io_,
                                             bp::on_exit(on_exit));
    }
  } catch (const std::exception& e) {
    if (log) std::fclose(log);
    std::error_code ec;
    if (!c->spec_path.empty()) fs::remove(c->spec_path, ec);
    throw std::runtime_error(std::string("cannot start the node process: ") + e.what());
  }
  if (log) std::fclose(log);
  children_[id] = c;
  read_events(c);
}

void LocalLauncher::read_events(const std::shared_ptr<Child>& c) {
  asio::async_read_until(*c->pipe, c->buffer, '\n', [this, c](const boost::system::error_code& ec, size_t) {
    if (ec) {
      c->drained = true;
      maybe_end(c);
      return;
    }
    std::istream is(&c->buffer);
    std::string line;
    std::getline(is, line);
    c->callbacks.event(line);
    read_events(c);
  });
}

// The end waits for both the exit and the end of the pipe: the last events
// may still be in it when the child is reaped.
void LocalLauncher::maybe_end(const std::shared_ptr<Child>& c) {
  if (!c->exited || !c->drained) return;
  if (children_.erase(c->id) == 0) return;
  std::error_code ec;
  if (!c->spec_path.empty()) fs::remove(c->spec_path, ec);
  const int st = c->status;
  NodeEnd end;
  if (WIFSIGNALED(st)) end.signal = WTERMSIG(st);
  if (WIFEXITED(st)) end.exit_code = WEXITSTATUS(st);
  c->callbacks.end(end);
}

void LocalLauncher::signal(size_t id, int sig) {
  auto it = children_.find(id);
  if (it == children_.end()) return;
  const Child& c = *it->second;
  if (c.exited || !c.child) return;
  ::kill(c.child->id(), sig);
}

void LocalLauncher::cancel(size_t id) { signal(id, SIGTERM); }
void LocalLauncher::kill(size_t id) { signal(id, SIGKILL); }

}  // namespace mstar
