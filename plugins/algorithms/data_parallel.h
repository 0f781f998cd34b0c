// Data parallelism of an algorithm node (`world_size` > 1): the node runs as
// that many processes (the launcher starts them, docs/algorithms.md), each
// takes its slice of every global batch, token counts and gradients are
// summed over ranks before the update, so a step equals the one-process
// step on the whole batch; rank 0 alone writes checkpoints, metrics and the
// artifact.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

#include <torch/torch.h>

#include "mstar/ml/backbone.h"
#include "mstar/ml/distributed.h"
#include "mstar/params.h"

namespace mstar::algorithms {

// world_size, collective_timeout_s.
void add_data_parallel_params(ParamSchema& schema);

class DataParallel {
 public:
  // Joins the ranks the node's `world_size` says (one process: no group).
  explicit DataParallel(const Params& params);

  int rank() const { return group_->rank(); }
  int size() const { return group_->size(); }
  // Rank 0: checkpoints, metrics, samples, the artifact.
  bool writer() const { return group_->is_root(); }
  ml::ProcessGroup& group() { return *group_; }

  // This rank's contiguous slice of a global batch (rows r*n/W .. (r+1)*n/W).
  std::vector<int64_t> shard(const std::vector<int64_t>& rows) const;
  // Rank 0's trainable parameters on every rank.
  void broadcast_model(const ml::Backbone& model);
  // Each trainable parameter's gradient summed over ranks.
  void sum_gradients(const ml::Backbone& model);
  std::vector<double> sum(const std::vector<double>& values) { return group_->sum(values); }
  // Each flag becomes true on every rank when it is on any rank (one
  // collective): a cancel seen by one rank between two steps must stop all
  // of them at the same step.
  void any(std::initializer_list<bool*> flags);

 private:
  std::unique_ptr<ml::ProcessGroup> group_;
};

}  // namespace mstar::algorithms
