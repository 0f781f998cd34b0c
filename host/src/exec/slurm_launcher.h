// Node attempts as Slurm batch jobs, each running `mstar exec-node SPEC`
// (docs/slurm.md). Everything goes through files in the store's tmp/, beside
// the attempt's staging directory NAME = KEY.sTAG, which every node and the
// host must see (a shared filesystem):
//   NAME.spec.json  what exec-node runs      NAME.sh    the batch script
//   NAME.events     exec-node's stdout: the event lines the host follows
//   NAME.exit       the exit code, written by the batch script at its end
// A data-parallel node (world_size W > 1) is one job of W tasks started by
// srun, one rank each, each with its own NAME.rankR.spec.json.
// The job's name is "mstar:NAME", so a host started again after a crash (or
// kill -9) finds its running jobs in squeue and follows them instead of
// submitting them twice. State comes from squeue; `sacct` is not needed (it
// needs slurmdbd).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "config/experiment.h"
#include "exec/launcher.h"

namespace boost::asio { class io_context; }

namespace mstar {

class SlurmLauncher : public Launcher {
 public:
  // `exe`: the mstar binary the jobs run (on a path the nodes see);
  // `tmp`: the store's staging root.
  SlurmLauncher(boost::asio::io_context& io, std::string exe, std::filesystem::path tmp,
                config::LauncherConfig config);
  ~SlurmLauncher() override;

  // Throws Error(Unavailable) saying what is missing when sbatch/squeue
  // cannot be run or the controller does not answer.
  void check_available();

  std::string staging_name(const NodeInstance& node, int attempt) override;
  std::optional<bool> may_still_write(const std::string& name) override;
  bool enforces_timeouts() const override { return true; }

  void start(size_t id, const LaunchRequest& request, LaunchCallbacks callbacks) override;
  void cancel(size_t id) override;
  void kill(size_t id) override;

  struct Job;     // one attempt's job (slurm_launcher.cpp)
  struct Queued;  // one line of squeue

 private:
  const std::map<std::string, Queued>& active_by_name();
  void submit(Job& job, const LaunchRequest& request);
  void arm();
  void tick();
  void follow(Job& job);
  void finish(const std::shared_ptr<Job>& job, std::optional<int> exit_code);

  boost::asio::io_context& io_;
  std::string exe_;
  std::filesystem::path tmp_;
  config::LauncherConfig config_;
  struct Timer;
  std::unique_ptr<Timer> timer_;
  std::map<size_t, std::shared_ptr<Job>> jobs_;
  // Jobs named mstar:* in the queue when first asked (a restarted host's
  // jobs): read once, before anything is submitted.
  std::optional<std::map<std::string, Queued>> snapshot_;
};

}  // namespace mstar
