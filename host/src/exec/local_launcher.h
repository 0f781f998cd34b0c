// Node attempts as child processes of the host (`mstar exec-node`,
// Boost.Process) on the scheduler's io_context. The child's stderr is the
// node's log; its stdout is the event pipe. Children die with the host
// (exec-node sets PR_SET_PDEATHSIG). A data-parallel node (world_size > 1)
// is one attempt of several processes, one per rank, on this machine.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "exec/launcher.h"

namespace boost::asio { class io_context; }

namespace mstar {

class LocalLauncher : public Launcher {
 public:
  // `exe`: the mstar binary; nodes run mstar-exec-node beside it, or
  // `mstar exec-node` where there is none.
  LocalLauncher(boost::asio::io_context& io, std::string exe);
  ~LocalLauncher() override;

  std::string staging_name(const NodeInstance& node, int attempt) override;
  std::optional<bool> may_still_write(const std::string& name) override { return pid_tag_alive(name); }
  // The rule for KEY.PID names, for other launchers to apply to them.
  static std::optional<bool> pid_tag_alive(const std::string& name);
  void start(size_t id, const LaunchRequest& request, LaunchCallbacks callbacks) override;
  void cancel(size_t id) override;
  void kill(size_t id) override;

  struct Child;        // one running attempt (local_launcher.cpp)
  struct RankProcess;  // one of its processes

 private:
  void read_events(const std::shared_ptr<Child>& c);
  void rank_ended(const std::shared_ptr<Child>& c, RankProcess& p);
  void maybe_end(const std::shared_ptr<Child>& c);
  static void remove_spec_files(const Child& c, int world);
  void signal(size_t id, int sig);

  boost::asio::io_context& io_;
  std::string exe_;
  std::string subcommand_;  // "exec-node" when exe_ is mstar itself
  std::map<size_t, std::shared_ptr<Child>> children_;
};

}  // namespace mstar
