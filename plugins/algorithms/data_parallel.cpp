#include "data_parallel.h"

#include <chrono>

#include "trainer.h"

namespace mstar::algorithms {

void add_data_parallel_params(ParamSchema& schema) {
  schema.add(ParamSpec::integer("world_size").def(1).range(1, 4096).describe(
                 "processes (ranks) that train data-parallel, each on its slice of every batch; the local "
                 "launcher starts them on this machine (docs/algorithms.md)"))
      .add(ParamSpec::real("collective_timeout_s").def(600.0).range(1, 1e6).describe(
          "how long a rank waits for the others (gradient sums, rank 0's validation and checkpoints) before "
          "failing the node"))
      .add(ParamSpec::enumeration("backend", {"auto", "store", "gloo", "nccl"}).def("auto").describe(
          "how ranks exchange gradients: auto (NCCL for CUDA tensors, Gloo for CPU ones, where built in), "
          "store (through rank 0's TCPStore), gloo, nccl (docs/scaling.md)"));
}

DataParallel::DataParallel(const Params& params) {
  const int world = static_cast<int>(params.get_int("world_size"));
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(1000.0 * params.get_float("collective_timeout_s")));
  group_ = world > 1 ? ml::ProcessGroup::from_env(world, timeout, ml::parse_transport(params.get_string("backend")))
                     : ml::ProcessGroup::single();
}

std::vector<int64_t> DataParallel::shard(const std::vector<int64_t>& rows) const {
  if (size() == 1) return rows;
  const size_t n = rows.size(), w = static_cast<size_t>(size()), r = static_cast<size_t>(rank());
  return {rows.begin() + static_cast<std::ptrdiff_t>(r * n / w), rows.begin() + static_cast<std::ptrdiff_t>((r + 1) * n / w)};
}

void DataParallel::broadcast_model(const ml::Backbone& model) {
  if (size() > 1) ml::broadcast_parameters(*group_, trainable_parameters(model));
}

void DataParallel::sum_gradients(const ml::Backbone& model) {
  if (size() > 1) ml::all_reduce_gradients(*group_, trainable_parameters(model));
}

void DataParallel::any(std::initializer_list<bool*> flags) {
  if (size() == 1) return;
  std::vector<double> mine;
  for (const bool* f : flags) mine.push_back(*f ? 1.0 : 0.0);
  const std::vector<double> total = group_->sum(mine);
  size_t i = 0;
  for (bool* f : flags) *f = total[i++] > 0;
}

}  // namespace mstar::algorithms
