// NCCL (mstar/ml/distributed.h) on CUDA tensors, as forked ranks: two where
// the machine has two GPUs; else one rank with a real NCCL group of one
// (NCCL refuses two ranks on one GPU), which still runs every collective
// through ProcessGroupNCCL. Labelled gpu: scripts/gpu_check.sh runs it.
#include <gtest/gtest.h>

#include "distributed_ranks.h"
#include "mstar/ml/distributed.h"

using mstar::ml::ProcessGroup;
using mstar::ml::Transport;

TEST(GpuDistributed, NcclSumsAndBroadcastsCudaTensors) {
  if (!mstar::ml::transport_available(Transport::Nccl)) GTEST_SKIP() << "NCCL not compiled in";
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no GPU";
  const int world = torch::cuda::device_count() >= 2 ? 2 : 1;
  const auto codes = run_ranks(world, [&](int rank) {
    ::setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
    auto g = ProcessGroup::from_env(world, std::chrono::seconds(120), Transport::Nccl);
    EXPECT_EQ(g->cuda_transport(), Transport::Nccl);
    const torch::Device gpu(torch::kCUDA, static_cast<c10::DeviceIndex>(rank));
    std::vector<torch::Tensor> t = {torch::full({1000}, 1.0f + rank, gpu),
                                    torch::full({3}, 2.0, torch::TensorOptions(gpu).dtype(torch::kBFloat16))};
    g->sum_tensors(t);
    EXPECT_TRUE(t[0].is_cuda() && t[1].is_cuda());
    EXPECT_TRUE(torch::equal(t[0].cpu(), torch::full({1000}, world == 2 ? 3.0f : 1.0f)));
    EXPECT_TRUE(torch::equal(t[1].cpu(), torch::full({3}, 2.0 * world, torch::kBFloat16)));
    std::vector<torch::Tensor> p = {torch::full({5}, 7.0f * rank, gpu), torch::full({2}, 1.0 + rank, gpu)};
    mstar::ml::broadcast_parameters(*g, p);
    EXPECT_TRUE(torch::equal(p[0].cpu(), torch::zeros({5})));
    EXPECT_TRUE(torch::equal(p[1].cpu(), torch::ones({2})));
    EXPECT_EQ(g->sum(1.0), static_cast<double>(world));  // CPU scalars: Gloo (or the store)
    g->barrier();
    return 0;
  });
  EXPECT_EQ(codes, std::vector<int>(static_cast<size_t>(world), 0));
}
