// Data parallelism across processes: a process group built from the
// torchrun-style variables the launcher gives each rank (MASTER_ADDR,
// MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK), and the collectives a
// data-parallel trainer needs: gradients and scalars summed over ranks,
// parameters broadcast from rank 0.
//
// Transports (docs/scaling.md): c10d's ProcessGroupGloo for CPU tensors and
// ProcessGroupNCCL for CUDA tensors, where they were compiled in (Gloo needs
// Debian's libgloo-dev headers, NCCL a CUDA LibTorch and nccl.h; the
// implementations are LibTorch's own). Either way rank 0 serves a c10d
// TCPStore: the rendezvous, and the fallback `store` transport, where every
// rank publishes its contribution under a key per collective and reads all
// of them, summing in rank order. Both give every rank the same bits (Gloo's
// ring hands each rank the chunk one rank reduced), so the optimizers stay
// identical without a broadcast per step.
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

// How collectives travel. Auto: NCCL for CUDA tensors and Gloo for the rest
// where compiled in, else the store. Nccl: as Auto, but an error where NCCL
// is not compiled in. Gloo: Gloo for everything (CUDA tensors through the
// CPU). Store: the TCPStore for everything.
enum class Transport { Auto, Store, Gloo, Nccl };
// "auto", "store", "gloo", "nccl"; Error(BadInput) otherwise.
Transport parse_transport(const std::string& name);
const char* transport_name(Transport t);
// Whether this build has the transport (Auto and Store: always).
bool transport_available(Transport t);

class ProcessGroup {
 public:
  // Joins the group the environment describes. `expected_world_size` is
  // the node's `world_size`: a process started as another number of ranks
  // (a launcher that does not start ranks) is refused with a clear error.
  // `transport` Gloo or Nccl where this build lacks it: Error(BadInput).
  static std::unique_ptr<ProcessGroup> from_env(int expected_world_size, std::chrono::milliseconds timeout,
                                                Transport transport = Transport::Auto);
  // The group of one process: every collective is the identity.
  static std::unique_ptr<ProcessGroup> single();
  ~ProcessGroup();

  int rank() const { return info_.rank; }
  int size() const { return info_.world_size; }
  bool is_root() const { return info_.rank == 0; }
  // What carries CPU tensors (Gloo or Store) and CUDA tensors (Nccl, or as CPU).
  Transport cpu_transport() const;
  Transport cuda_transport() const;

  // Sum over ranks of CPU-resident doubles (the store: in rank order).
  std::vector<double> sum(const std::vector<double>& values);
  double sum(double value) { return sum(std::vector<double>{value})[0]; }
  double max(double value);
  // Sums each tensor over ranks in place (any device and floating dtype;
  // reduced in fp32 or fp64, on the GPU with NCCL, else on the CPU;
  // flattened into buckets of at most `bucket_bytes`, one collective per
  // bucket).
  void sum_tensors(const std::vector<torch::Tensor>& tensors, size_t bucket_bytes = size_t{64} << 20);
  // Rank `root`'s values into every rank's tensors, in place.
  void broadcast(const std::vector<torch::Tensor>& tensors, int root = 0);
  void barrier();

  struct Impl;

 private:
  ProcessGroup(RankInfo info, std::unique_ptr<Impl> impl);
  void reduce_flat(torch::Tensor& flat, bool max, const std::string& what);
  void broadcast_flat(torch::Tensor& flat, int root, const std::string& what);
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
