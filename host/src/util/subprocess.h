// Running a short command to its end and keeping what it printed: the
// Slurm client tools (sbatch, squeue, scancel). Not for long-running
// children: those are the launchers' (Boost.Process on the io_context).
#pragma once

#include <string>
#include <vector>

namespace mstar {

struct CommandResult {
  int exit_code = -1;  // 127: not found on PATH; 128+N: killed by signal N
  std::string out, err;

  std::vector<std::string> lines() const;  // `out`, split at newlines, empty lines dropped
  std::string err_text() const;            // `err` trimmed, or "exit code N" when it is empty
};

// Runs `program` (looked up on PATH) with `args`, stdin from /dev/null.
CommandResult run_command(const std::string& program, const std::vector<std::string>& args);

}  // namespace mstar
