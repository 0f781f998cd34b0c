// A few sampled groups of a GRPO step, kept for `mstar serve`'s rollout
// browser (docs/serve.md): rollouts.jsonl in the node's artifact, one line
// per group (step, group, the prompt's problem and answer, each response with
// its reward, reward components and advantage), and beside it the image the
// model saw (rollouts/STEP_GROUP.png, letterboxed as trained on). Images are
// written into the artifact, so what the browser shows always lies inside the
// artifact store.
//
// A run resumed from a checkpoint logs the steps after it again: readers
// keep the last line of each (step, group).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "examples.h"
#include "grpo.h"

namespace mstar::algorithms {

inline constexpr const char* kRolloutsFile = "rollouts.jsonl";

class RolloutLog {
 public:
  explicit RolloutLog(std::filesystem::path output_dir) : dir_(std::move(output_dir)) {}
  // Appends the first `groups` groups of n responses of `r`. Errors writing
  // are thrown as Error(Io) naming the file.
  void append(int64_t step, const Rollout& r, const std::vector<Example>& examples, const ImageBank& images,
              int64_t n, int64_t groups) const;

 private:
  std::filesystem::path dir_;
};

}  // namespace mstar::algorithms
