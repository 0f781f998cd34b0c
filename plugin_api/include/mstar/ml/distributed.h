// Data parallelism across processes: a process group built from the
// torchrun-style variables the launcher gives each rank (MASTER_ADDR,
// MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK), and the collectives a
// data-parallel trainer needs: gradients and scalars summed over ranks,
// parameters broadcast from rank 0.
//
// Transport: c10d's TCPStore (LibTorch), served by rank 0. Every rank
// publishes its contribution under a key per collective and reads all of
// them, summing in rank order, so every rank gets the same bits (the
// optimizers then stay identical without a broadcast per step). The
// PyPI wheel ships no Gloo headers, so ProcessGroupGloo cannot be compiled
// against; NCCL likewise needs its headers (docs/scaling.md).
//
// Every collective waits at most `timeout` for the other ranks and then
// throws Error(PluginFailure) naming the collective: a dead rank fails the others
// instead of hanging them.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace mstar::ml {

struct RankInfo {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr;
  int master_port = 0;
};

// The variables of this process; a single rank when WORLD_SIZE is unset.
// Throws Error(BadInput) naming a malformed variable.
RankInfo rank_from_env();

class ProcessGroup {
 public:
  // Joins the group the environment describes. `expected_world_size` is
  // the node's `world_size`: a process started as another number of ranks
  // (a launcher that does not start ranks) is refused with a clear error.
  static std::unique_ptr<ProcessGroup> from_env(int expected_world_size, std::chrono::milliseconds timeout);
  // The group of one process: every collective is the identity.
  static std::unique_ptr<ProcessGroup> single();
  ~ProcessGroup();

  int rank() const { return info_.rank; }
  int size() const { return info_.world_size; }
  bool is_root() const { return info_.rank == 0; }

  // Sum over ranks, in rank order, of CPU-resident doubles.
  std::vector<double> sum(const std::vector<double>& values);
  double sum(double value) { return sum(std::vector<double>{value})[0]; }
  double max(double value);
  // Sums each tensor over ranks in place (any device and floating dtype;
  // reduced in fp32 or fp64 on the CPU, flattened into buckets of at most
  // `bucket_bytes`, one collective per bucket).
  void sum_tensors(const std::vector<torch::Tensor>& tensors, size_t bucket_bytes = size_t{64} << 20);
  // Rank `root`'s values into every rank's tensors, in place.
  void broadcast(const std::vector<torch::Tensor>& tensors, int root = 0);
  void barrier();

  struct Impl;

 private:
  ProcessGroup(RankInfo info, std::unique_ptr<Impl> impl);
  std::vector<std::vector<char>> all_gather_bytes(const std::string& what, const std::vector<char>& mine);
  RankInfo info_;
  std::unique_ptr<Impl> impl_;
};

// The parameters' gradients summed over ranks (parameters without a
// gradient contribute zeros, so every rank reduces the same buffer).
void all_reduce_gradients(ProcessGroup& group, const std::vector<torch::Tensor>& parameters);
// Rank 0's parameter values on every rank (at start: the ranks begin equal).
void broadcast_parameters(ProcessGroup& group, const std::vector<torch::Tensor>& parameters);

}  // namespace mstar::ml
