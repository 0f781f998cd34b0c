// mstar/ml/distributed.h across real processes: each test forks its ranks
// (before any LibTorch thread exists in them) with torchrun's variables, on
// a port of its own, and each rank reports through its exit code. The
// collectives' tests run over each transport this build has (the store,
// Gloo); NCCL needs a GPU: GpuDistributed at the end, run by gpu_check.sh.
#include <gtest/gtest.h>

#include <unistd.h>

#include "distributed_ranks.h"
#include "mstar/error.h"
#include "mstar/ml/distributed.h"

using mstar::ml::ProcessGroup;
using mstar::ml::Transport;

namespace {

class Distributed : public ::testing::TestWithParam<Transport> {
 protected:
  void SetUp() override {
    if (!mstar::ml::transport_available(GetParam())) GTEST_SKIP() << "not compiled in";
  }
  std::unique_ptr<ProcessGroup> join(int world, std::chrono::milliseconds timeout) {
    auto g = ProcessGroup::from_env(world, timeout, GetParam());
    EXPECT_EQ(g->cpu_transport(), GetParam());
    return g;
  }
};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Transports, Distributed, ::testing::Values(Transport::Store, Transport::Gloo),
                         [](const auto& info) { return std::string(mstar::ml::transport_name(info.param)); });

TEST_P(Distributed, SumsAndBroadcastsGiveEveryRankTheSameValues) {
  const auto codes = run_ranks(3, [&](int rank) {
    auto g = join(3, std::chrono::seconds(30));
    EXPECT_EQ(g->rank(), rank);
    EXPECT_EQ(g->size(), 3);
    const auto s = g->sum({1.0 * rank, 10.0});
    EXPECT_EQ(s[0], 3.0);
    EXPECT_EQ(s[1], 30.0);
    EXPECT_EQ(g->max(static_cast<double>(rank == 1)), 1.0);
    // Tensors of two reduce types and sizes over several buckets (16 bytes each).
    std::vector<torch::Tensor> t = {torch::full({3}, 1.0f + rank), torch::full({2, 2}, 0.5 * rank, torch::kFloat64),
                                    torch::arange(5, torch::kFloat32) * (rank + 1)};
    g->sum_tensors(t, 16);
    EXPECT_TRUE(torch::equal(t[0], torch::full({3}, 6.0f)));
    EXPECT_TRUE(torch::equal(t[1], torch::full({2, 2}, 1.5, torch::kFloat64)));
    EXPECT_TRUE(torch::equal(t[2], torch::arange(5, torch::kFloat32) * 6));
    std::vector<torch::Tensor> params = {torch::full({4}, static_cast<float>(rank)), torch::full({1}, 7.0f * rank)};
    mstar::ml::broadcast_parameters(*g, params);
    EXPECT_TRUE(torch::equal(params[0], torch::zeros({4})));
    EXPECT_TRUE(torch::equal(params[1], torch::zeros({1})));
    g->barrier();
    return 0;
  });
  EXPECT_EQ(codes, (std::vector<int>{0, 0, 0}));
}

TEST_P(Distributed, GradientsOfParametersWithoutOneAreSummedAsZeros) {
  const auto codes = run_ranks(2, [&](int rank) {
    auto g = join(2, std::chrono::seconds(30));
    torch::Tensor w = torch::ones({2}, torch::requires_grad());
    if (rank == 0) (w * 3).sum().backward();  // rank 1's slice held no rows
    mstar::ml::all_reduce_gradients(*g, {w});
    EXPECT_TRUE(torch::equal(w.grad(), torch::full({2}, 3.0f)));
    return 0;
  });
  EXPECT_EQ(codes, (std::vector<int>{0, 0}));
}

// 12 MB per rank: over the store's 8 MiB limit on one value (regression: a
// model that size failed its first broadcast).
TEST_P(Distributed, ContributionsLargerThanOneStoreValueTravelInChunks) {
  const auto codes = run_ranks(2, [&](int rank) {
    auto g = join(2, std::chrono::seconds(30));
    std::vector<torch::Tensor> t = {torch::arange(3 << 20, torch::kFloat32) * (rank + 1)};
    g->sum_tensors(t);
    EXPECT_TRUE(torch::equal(t[0], torch::arange(3 << 20, torch::kFloat32) * 3));
    std::vector<torch::Tensor> p = {torch::full({3 << 20}, static_cast<float>(rank))};
    mstar::ml::broadcast_parameters(*g, p);
    EXPECT_TRUE(torch::equal(p[0], torch::zeros({3 << 20})));
    return 0;
  });
  EXPECT_EQ(codes, (std::vector<int>{0, 0}));
}

TEST_P(Distributed, ACollectiveFailsWhenAnotherRankIsGone) {
  const auto codes = run_ranks(2, [&](int rank) {
    auto g = join(2, std::chrono::seconds(2));
    g->barrier();
    if (rank == 1) return 0;  // leaves without the next collective
    try {
      g->sum(1.0);
    } catch (const mstar::Error& e) {
      EXPECT_NE(std::string(e.what()).find("rank 0 of 2: sum of 1 scalars failed"), std::string::npos) << e.what();
      return 42;
    }
    return 0;
  });
  EXPECT_EQ(codes, (std::vector<int>{42, 0}));
}

// A rank alive but absent from the collective (stuck elsewhere): the others
// fail after the timeout instead of hanging. The absent rank waits on a pipe
// until rank 0 has its error.
TEST_P(Distributed, ACollectiveTimesOutWhenAnotherRankDoesNotJoinIt) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const auto codes = run_ranks(2, [&](int rank) {
    auto g = join(2, std::chrono::seconds(2));
    g->barrier();
    if (rank == 1) {
      char c = 0;
      return ::read(fds[0], &c, 1) == 1 ? 0 : 5;
    }
    int code = 0;
    try {
      std::vector<torch::Tensor> t = {torch::ones({1000})};
      g->sum_tensors(t);
    } catch (const mstar::Error& e) {
      EXPECT_NE(std::string(e.what()).find("rank 0 of 2: gradient all-reduce (4000 bytes) failed"), std::string::npos)
          << e.what();
      code = 42;
    }
    const char c = 'x';
    EXPECT_EQ(::write(fds[1], &c, 1), 1);
    return code;
  });
  ::close(fds[0]), ::close(fds[1]);
  EXPECT_EQ(codes, (std::vector<int>{42, 0}));
}

// Gloo's ring adds in another order than rank order: its sums are within
// rounding of the store's (the rank-order sum each rank computes here from
// every rank's seeded data), and every rank gets the same bits (the
// optimizers stay in step without a broadcast).
TEST(DistributedGloo, SumsMatchTheRankOrderSumAndAreTheSameBitsOnEveryRank) {
  if (!mstar::ml::transport_available(Transport::Gloo)) GTEST_SKIP() << "Gloo not compiled in";
  constexpr int kWorld = 3;
  const auto data = [](int rank) {
    torch::manual_seed(1000 + rank);
    return std::vector<torch::Tensor>{torch::randn({1000}), torch::randn({7, 3}, torch::kFloat64),
                                      torch::randn({513}, torch::kBFloat16)};
  };
  const auto codes = run_ranks(kWorld, [&](int rank) {
    auto g = ProcessGroup::from_env(kWorld, std::chrono::seconds(30), Transport::Gloo);
    std::vector<torch::Tensor> mine = data(rank);
    g->sum_tensors(mine, 2048);
    std::vector<torch::Tensor> expected = data(0);
    for (int r = 1; r < kWorld; ++r) {
      const auto other = data(r);
      for (size_t i = 0; i < expected.size(); ++i) {
        const auto type = other[i].scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
        expected[i] = expected[i].to(type) + other[i].to(type);  // what the store computes
      }
    }
    EXPECT_TRUE(torch::allclose(mine[0], expected[0], 1e-6, 1e-6));
    EXPECT_TRUE(torch::allclose(mine[1], expected[1], 1e-12, 1e-12));
    EXPECT_TRUE(torch::allclose(mine[2].to(torch::kFloat32), expected[2].to(torch::kBFloat16).to(torch::kFloat32)));
    // Rank 0's bits on every rank: broadcast them and compare exactly.
    std::vector<torch::Tensor> root;
    for (const auto& t : mine) root.push_back(t.clone());
    g->broadcast(root, 0);
    for (size_t i = 0; i < mine.size(); ++i) EXPECT_TRUE(torch::equal(root[i], mine[i])) << i;
    const double s = g->sum(0.1 * (rank + 1));
    EXPECT_NEAR(s, 0.6, 1e-15);
    EXPECT_EQ(g->max(static_cast<double>(rank)), kWorld - 1.0);
    return 0;
  });
  EXPECT_EQ(codes, (std::vector<int>(kWorld, 0)));
}

TEST(DistributedSetup, TransportNamesAreParsedAndABadOneIsRefused) {
  EXPECT_EQ(mstar::ml::parse_transport("gloo"), Transport::Gloo);
  EXPECT_EQ(mstar::ml::parse_transport("store"), Transport::Store);
  try {
    mstar::ml::parse_transport("mpi");
    FAIL() << "no error";
  } catch (const mstar::Error& e) {
    EXPECT_TRUE(e.is_bad_input());
    EXPECT_NE(std::string(e.what()).find("expected auto, store, gloo or nccl"), std::string::npos) << e.what();
  }
}

TEST(DistributedSetup, AWorldSizeTheLauncherDidNotStartIsRefused) {
  ::unsetenv("WORLD_SIZE");
  try {
    ProcessGroup::from_env(2, std::chrono::seconds(1));
    FAIL() << "no error";
  } catch (const mstar::Error& e) {
    EXPECT_TRUE(e.is_bad_input());
    EXPECT_NE(std::string(e.what()).find("world_size is 2 but this process was started as a single process"),
              std::string::npos)
        << e.what();
  }
}
