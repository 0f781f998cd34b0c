// mstar/ml/distributed.h across real processes: each test forks its ranks
// (before any LibTorch thread exists in them) with torchrun's variables, on
// a port of its own, and each rank reports through its exit code.
#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <cstdlib>
#include <functional>
#include <sys/wait.h>
#include <unistd.h>

#include "mstar/error.h"
#include "mstar/ml/distributed.h"

using mstar::ml::ProcessGroup;

namespace {

int free_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::address_v4::loopback(), 0});
  return a.local_endpoint().port();
}

// Runs body(rank) in `world` forked ranks; returns their exit codes (a
// failed EXPECT inside a rank: exit 1; body's own code otherwise).
std::vector<int> run_ranks(int world, const std::function<int(int)>& body) {
  const std::string port = std::to_string(free_port());
  std::vector<pid_t> pids;
  for (int rank = 0; rank < world; ++rank) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", port.c_str(), 1);
      ::setenv("RANK", std::to_string(rank).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
      int code = 0;
      try {
        code = body(rank);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "rank %d: %s\n", rank, e.what());
        code = 90;
      }
      if (::testing::Test::HasFailure()) code = 1;
      std::fflush(stderr);
      ::_exit(code);
    }
    pids.push_back(pid);
  }
  std::vector<int> codes;
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    codes.push_back(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
  return codes;
}

}  // namespace

TEST(Distributed, SumsAndBroadcastsGiveEveryRankTheSameValues) {
  const auto codes = run_ranks(3, [](int rank) {
    auto g = ProcessGroup::from_env(3, std::chrono::seconds(30));
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

TEST(Distributed, GradientsOfParametersWithoutOneAreSummedAsZeros) {
  const auto codes = run_ranks(2, [](int rank) {
    auto g = ProcessGroup::from_env(2, std::chrono::seconds(30));
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
TEST(Distributed, ContributionsLargerThanOneStoreValueTravelInChunks) {
  const auto codes = run_ranks(2, [](int rank) {
    auto g = ProcessGroup::from_env(2, std::chrono::seconds(30));
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

TEST(Distributed, ACollectiveFailsWhenAnotherRankIsGone) {
  const auto codes = run_ranks(2, [](int rank) {
    auto g = ProcessGroup::from_env(2, std::chrono::seconds(2));
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

TEST(Distributed, AWorldSizeTheLauncherDidNotStartIsRefused) {
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
