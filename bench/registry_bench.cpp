// registry_bench: ingest N metric points (default 1,000,000) into a fresh
// registry in batches, then time `mstar results`-style queries through the
// query engine: a --group-by over two params with a @max series selector.
//
//   build/bench/registry_bench [POINTS] [--keep DIR]
//
// Layout: 100 runs (2 algos x 5 learning rates x 10 seeds), one `train` node
// instance each, 10 metric keys per instance, POINTS / 1000 steps per key.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "mstar/registry/query.h"
#include "mstar/registry/registry.h"

namespace fs = std::filesystem;
using namespace mstar::registry;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double cpu_seconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

struct Timing {
  double first_ms, median_ms;
  size_t rows;
};

// Opens the registry read-only and runs the query like one `mstar results`
// process would; the first run includes opening, later ones are repeats.
Timing time_query(const fs::path& db, const std::string& where, const TableSpec& spec, int repeats) {
  std::vector<double> ms;
  size_t rows = 0;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto reg = Registry::open(db, OpenMode::ReadOnly);
    Results res(*reg, {"bench"}, Filter::parse(where));
    const Table t = results_table(res, spec);
    ms.push_back(seconds_since(t0) * 1e3);
    rows = t.rows.size();
  }
  const double first = ms.front();
  std::sort(ms.begin(), ms.end());
  return {first, ms[ms.size() / 2], rows};
}

}  // namespace

int main(int argc, char** argv) {
  size_t points = 1'000'000;
  fs::path keep;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--keep" && i + 1 < argc) keep = argv[++i];
    else points = std::strtoull(argv[i], nullptr, 10);
  }
  constexpr size_t kRuns = 100, kKeys = 10;
  const size_t steps = std::max<size_t>(1, points / (kRuns * kKeys));
  points = kRuns * kKeys * steps;
  const fs::path dir = keep.empty() ? fs::temp_directory_path() / ("mstar-registry-bench-" + std::to_string(::getpid()))
                                    : keep;
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path db = dir / "registry.db";

  const char* algos[] = {"grpo", "sft"};
  const double lrs[] = {1e-4, 3e-4, 1e-3, 3e-3, 1e-2};
  std::mt19937_64 rng(42);
  std::normal_distribution<double> noise(0, 0.05);
  {
    auto reg = Registry::open(db, OpenMode::ReadWrite);
    reg->upsert_sweep({"bench", "bench", mstar::Json::object(), 0, 0});
    std::vector<std::string> cache_keys;
    size_t r = 0;
    for (const char* algo : algos)
      for (double lr : lrs)
        for (int seed = 1; seed <= 10; ++seed, ++r) {
          RunRecord run;
          run.id = "run" + std::to_string(1000 + r);
          run.sweep_id = "bench";
          run.name = std::string("bench ") + algo;
          run.status = "done";
          run.seed = seed;
          reg->upsert_run(run);
          reg->set_params(run.id, {{"train.algo", algo}, {"train.lr", lr}, {"seed", seed}});
          NodeRunRecord n;
          n.run_id = run.id;
          n.node = "train";
          n.cache_key = "key" + std::to_string(1000 + r);
          n.plugin = "algorithm/bench";
          n.status = "done";
          reg->upsert_node_run(n);
          cache_keys.push_back(n.cache_key);
        }

    // Ingest: one batch = one node instance's 10 keys x steps points.
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = cpu_seconds();
    std::vector<MetricPoint> batch;
    batch.reserve(kKeys * steps);
    for (size_t i = 0; i < kRuns; ++i) {
      batch.clear();
      const double gain = (i < kRuns / 2 ? 1.0 : 0.8) * (1 + 0.1 * static_cast<double>(i % 5));
      for (size_t k = 0; k < kKeys; ++k)
        for (size_t s = 0; s < steps; ++s)
          batch.push_back({cache_keys[i], static_cast<int64_t>(s), k == 0 ? "reward_mean" : "k" + std::to_string(k),
                           gain * (1 - std::exp(-static_cast<double>(s) / 200.0)) + noise(rng), 1.7e9 + s});
      reg->append_metrics(batch);
      reg->set_summaries(cache_keys[i], {{"final_reward", batch[steps - 1].value}});
    }
    const double wall = seconds_since(t0), cpu = cpu_seconds() - c0;
    std::printf("ingest: %zu points in %zu batches of %zu: %.2f s wall (%.0f points/s), %.2f s CPU (%.0f points/s)\n",
                points, kRuns, kKeys * steps, wall, static_cast<double>(points) / wall, cpu,
                static_cast<double>(points) / cpu);
  }
  std::printf("database: %.1f MiB\n", static_cast<double>(fs::file_size(db)) / (1 << 20));

  TableSpec one;
  one.group_by = {"train.algo", "train.lr"};
  one.metrics = {"train.reward_mean@max"};
  one.aggs = {Agg::Mean, Agg::Ci95};
  Timing t1 = time_query(db, "", one, 7);
  std::printf("query --group-by train.algo,train.lr --metric train.reward_mean@max (%zu series, %zu points read): "
              "first %.1f ms, median %.1f ms, %zu groups\n",
              kRuns, kRuns * steps, t1.first_ms, t1.median_ms, t1.rows);

  TableSpec all = one;
  all.metrics = {"train.reward_mean@max"};
  for (size_t k = 1; k < kKeys; ++k) all.metrics.push_back("train.k" + std::to_string(k) + "@max");
  Timing t2 = time_query(db, "", all, 5);
  std::printf("query --group-by train.algo,train.lr, @max of all %zu keys (all %zu points read): first %.1f ms, "
              "median %.1f ms\n",
              kKeys, points, t2.first_ms, t2.median_ms);

  TableSpec filtered = one;
  filtered.metrics = {"train.reward_mean@max", "train.reward_mean@last", "train.final_reward"};
  Timing t3 = time_query(db, "metrics.train.reward_mean@max > 1.0 or (params.train.algo = 'sft' and not seed in (1, 2))",
                         filtered, 7);
  std::printf("query --where '@max > 1.0 or (algo = sft and not seed in (1, 2))' + group-by, @max/@last/summary: "
              "first %.1f ms, median %.1f ms, %zu groups\n",
              t3.first_ms, t3.median_ms, t3.rows);
  if (keep.empty()) fs::remove_all(dir);
  return 0;
}
