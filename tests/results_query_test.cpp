// The query engine on a registry written through the Registry API with
// hand-picked values: the --where language over runs (logic, types,
// selectors), grouped and pivoted tables, claims, rendering, read-only SQL,
// and the SVG charts. The language and the statistics alone:
// results_filter_test.cpp.
#include <cmath>
#include <ctime>
#include <sstream>

#include <fmt/format.h>

#include <set>

#include <gtest/gtest.h>

#include "mstar/error.h"
#include "mstar/registry/plot.h"
#include "mstar/registry/query.h"
#include "mstar/registry/registry.h"
#include "mstar/registry/report.h"
#include "pg_server.h"
#include "results_helpers.h"

namespace mstar::testing {
namespace {

using namespace mstar::registry;

double local_time(int y, int mo, int d) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = 12;
  tm.tm_isdst = -1;
  return static_cast<double>(std::mktime(&tm));
}

// Sweep "abl": algo {grpo, sft} x lr {0.001, 0.01} x seed {1, 2, 3}, done;
// plus a failed grpo run (seed 4) without metrics; plus "solo", outside the
// sweep, with odd param types. Values:
//   eval.accuracy   = (grpo 0.6 | sft 0.5) + 10 * lr + 0.01 * seed
//   train.reward    = seed * [0 1 2 3 4 5 4 3 2 1] at steps 0..9 (solo: 1, NaN, 3)
//   data.images     = 1000, one node instance shared by all sft runs
// One registry per backend (an SQLite file; a fresh schema of the test
// PostgreSQL server), built on first use with hand-picked values.
class ResultsQuery : public ::testing::TestWithParam<Backend> {
 protected:
  static void build(const fs::path& where) {
    auto reg = Registry::open(where, OpenMode::ReadWrite);
    reg->upsert_sweep({"abl", "abl", Json{{"grid", {{"train.algo", {"grpo", "sft"}}}}}, 0, 0});
    int n = 0;
    auto add = [&](const std::string& algo, double lr, int seed, const std::string& status) {
      RunRecord r;
      r.id = fmt::format("r{:02d}", n++);
      r.sweep_id = "abl";
      r.name = fmt::format("abl {} lr={} seed={}", algo, lr, seed);
      r.status = status;
      r.seed = seed;
      reg->upsert_run(r);
      reg->set_params(r.id, {{"train.algo", algo}, {"train.lr", lr}, {"seed", seed}});
      NodeRunRecord train = node(r.id, "train", "train-" + r.id);
      train.status = status == "done" ? "done" : "failed";
      reg->upsert_node_run(train);
      if (status != "done") return;
      NodeRunRecord eval = node(r.id, "eval", "eval-" + r.id);
      reg->upsert_node_run(eval);
      reg->set_summaries(eval.cache_key, {{"accuracy", (algo == "grpo" ? 0.6 : 0.5) + 10 * lr + 0.01 * seed}});
      const double shape[] = {0, 1, 2, 3, 4, 5, 4, 3, 2, 1};
      std::vector<MetricPoint> points;
      for (int s = 0; s < 10; ++s) points.push_back({train.cache_key, s, "reward", seed * shape[s], 1.0 + s});
      reg->append_metrics(points);
      if (algo == "sft") {
        reg->upsert_node_run(node(r.id, "data", "data-shared"));
      }
    };
    for (const char* algo : {"grpo", "sft"})
      for (double lr : {0.001, 0.01})
        for (int seed : {1, 2, 3}) add(algo, lr, seed, "done");
    add("grpo", 0.001, 4, "failed");
    reg->set_summaries("data-shared", {{"images", 1000}});

    RunRecord solo;
    solo.id = "solo1";
    solo.name = "solo";
    solo.status = "done";
    solo.seed = 7;
    solo.created = local_time(2020, 6, 15);
    reg->upsert_run(solo);
    reg->set_params(solo.id, {{"train.use_kl", true},
                              {"train.flag", "true"},
                              {"train.note", nullptr},
                              {"train.size", "10"},
                              {"seed", 7}});
    reg->upsert_node_run(node(solo.id, "train", "train-solo"));
    reg->append_metrics({{"train-solo", 0, "reward", 1, 1}, {"train-solo", 1, "reward", std::nan(""), 2},
                         {"train-solo", 2, "reward", 3, 3}});
  }
  static NodeRunRecord node(const std::string& run, const std::string& name, const std::string& cache_key) {
    NodeRunRecord n;
    n.run_id = run;
    n.node = name;
    n.cache_key = cache_key;
    n.plugin = "test/" + name;
    n.status = "done";
    return n;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
    locations_.clear();
  }
  fs::path db() const { return locations_.at(GetParam()); }
  bool postgres() const { return GetParam() == Backend::Postgres; }

  void SetUp() override {
    if (postgres()) MSTAR_REQUIRE_POSTGRES();
    if (!dir_) dir_ = new Sandbox();
    if (!locations_.count(GetParam())) {
      const fs::path where = postgres() ? fs::path(PostgresServer::instance().fresh_url()) : dir_->dir() / "registry.db";
      build(where);
      locations_[GetParam()] = where;
    }
    reg_ = Registry::open(db(), OpenMode::ReadOnly);
  }

  size_t count(const std::string& where, const std::vector<std::string>& targets = {}) {
    Results res(*reg_, targets, Filter::parse(where));
    return res.runs().size();
  }

  static Sandbox* dir_;
  static std::map<Backend, fs::path> locations_;
  std::unique_ptr<Registry> reg_;
};

Sandbox* ResultsQuery::dir_ = nullptr;
std::map<Backend, fs::path> ResultsQuery::locations_;

// ------------------------------------------------------------ filtering

TEST_P(ResultsQuery, LogicOverTheRegistry) {
  EXPECT_EQ(count(""), 14u);
  EXPECT_EQ(count("", {"abl"}), 13u);
  EXPECT_EQ(count("", {"solo1", "r00"}), 2u);
  EXPECT_EQ(count("params.train.algo = 'grpo'"), 7u);
  EXPECT_EQ(count("params.train.algo = 'grpo' or params.train.lr > 0.005"), 10u);
  EXPECT_EQ(count("params.train.algo = 'grpo' and params.train.lr > 0.005"), 3u);
  EXPECT_EQ(count("seed = 1 and (params.train.algo = 'sft' or params.train.lr = 0.01)"), 3u);
  EXPECT_EQ(count("params.train.algo == 'sft' && !(seed <> 1)"), 2u);
  EXPECT_EQ(count("params.train.algo in ('sft', 'ppo')"), 6u);
  EXPECT_EQ(count("params.train.algo not in ('sft')"), 7u);
  EXPECT_EQ(count("params.train.lr in (.001)"), 7u);
  EXPECT_EQ(count("params.train.lr = 1e-2"), 6u);
  EXPECT_EQ(count("params.train.algo is null"), 1u);
  EXPECT_EQ(count("params.train.algo is not null"), 13u);
  EXPECT_EQ(count("name like 'abl grpo%'"), 7u);
  EXPECT_EQ(count("name not like '%SEED=1'"), 10u);
  EXPECT_EQ(count("sweep = 'abl'"), 13u);
  EXPECT_EQ(count("sweep is null"), 1u);
  EXPECT_EQ(count("status = 'failed' or metrics.eval.accuracy is null"), 2u);
  EXPECT_EQ(count("created < '2021-01-01'"), 1u);
  EXPECT_EQ(count("created >= '2021-01-01 00:00'"), 13u);
}

TEST_P(ResultsQuery, ThreeValuedLogicWithMissingValues) {
  // solo has no train.algo: the comparison is unknown, and so is its negation.
  EXPECT_EQ(count("not params.train.algo = 'grpo'"), 6u);
  EXPECT_EQ(count("not (params.train.algo = 'grpo') or params.train.algo is null"), 7u);
  EXPECT_EQ(count("params.train.algo != 'grpo'"), 6u);
  // unknown or true = true; unknown and false = false.
  EXPECT_EQ(count("params.train.algo = 'x' or seed = 7"), 1u);
  EXPECT_EQ(count("not (params.train.algo = 'x' and seed = 8)"), 14u);
  // An explicit JSON null param is missing.
  EXPECT_EQ(count("params.train.note is null"), 14u);
}

TEST_P(ResultsQuery, NumbersCompareAsNumbersStringsAsStrings) {
  EXPECT_EQ(count("params.train.size = 10"), 1u) << "the string \"10\" read as a number against a number";
  EXPECT_EQ(count("params.train.size < 9"), 0u);
  EXPECT_EQ(count("params.train.size < '9'"), 1u) << "string against string: '10' < '9'";
  EXPECT_EQ(count("params.train.use_kl = true"), 1u);
  EXPECT_EQ(count("params.train.use_kl != false"), 1u);
  EXPECT_EQ(count("params.train.flag = 'true'"), 1u);
  EXPECT_EQ(count("params.train.lr > 0.002"), 6u);
  EXPECT_EQ(count("params.train.lr > '0.002'"), 6u) << "a numeric string literal against a number";
  EXPECT_EQ(count("seed >= 3"), 6u);
  EXPECT_EQ(count("3 <= seed"), 6u);
}

TEST_P(ResultsQuery, SummariesAndSharedInstances) {
  EXPECT_EQ(count("metrics.eval.accuracy > 0.7"), 3u);
  EXPECT_EQ(count("metrics.data.images = 1000"), 6u);
  EXPECT_EQ(count("metrics.data.images is null"), 8u);
}

TEST_P(ResultsQuery, SeriesSelectors) {
  EXPECT_EQ(count("metrics.train.reward@max >= 10"), 8u);
  EXPECT_EQ(count("metrics.train.reward@max = 3"), 1u) << "NaN points are skipped by max (solo)";
  EXPECT_EQ(count("metrics.train.reward@last = 2"), 4u);
  EXPECT_EQ(count("metrics.train.reward@step=3 = 9"), 4u);
  EXPECT_EQ(count("metrics.train.reward@step=100 is null"), 14u);
  EXPECT_EQ(count("metrics.train.reward@first = 0"), 12u);
  EXPECT_EQ(count("`metrics.train.reward@max` = 5"), 4u);
  EXPECT_EQ(count("metrics.train.reward@step=1 is not null and metrics.train.reward@step=1 >= 0"), 12u)
      << "a NaN point is present (not null) but compares as unknown";

  Results res(*reg_, {"abl"}, Filter::parse("params.train.algo = 'sft' and params.train.lr = 0.01"));
  ASSERT_EQ(res.runs().size(), 3u);
  for (auto [text, per_seed] : std::vector<std::pair<std::string, double>>{
           {"metrics.train.reward@max", 5}, {"metrics.train.reward@min", 0},  {"metrics.train.reward@last", 1},
           {"metrics.train.reward@first", 0}, {"metrics.train.reward@mean", 2.5}, {"metrics.train.reward@step=6", 4}}) {
    const auto& col = res.column(parse_field(text));
    for (size_t i = 0; i < col.size(); ++i)
      EXPECT_DOUBLE_EQ(std::get<double>(col[i]), per_seed * static_cast<double>(res.runs()[i].seed)) << text;
  }
  const auto& curves = res.curves("train", "reward");
  ASSERT_EQ(curves.size(), 3u);
  EXPECT_EQ(curves[0].steps.size(), 10u);
}

// ------------------------------------------------------------ tables

TEST_P(ResultsQuery, GroupedTableAggregatesSeeds) {
  Results res(*reg_, {"abl"}, Filter::parse("status = 'done'"));
  TableSpec spec;
  spec.group_by = {"train.algo", "params.train.lr"};
  spec.metrics = {"eval.accuracy", "train.reward@max"};
  spec.aggs = parse_aggs("mean,std,ci95,count");
  const Table t = results_table(res, spec);
  ASSERT_EQ(t.columns, (std::vector<std::string>{"train.algo", "train.lr", "runs", "eval.accuracy:mean",
                                                 "eval.accuracy:std", "eval.accuracy:ci95", "eval.accuracy:count",
                                                 "train.reward@max:mean", "train.reward@max:std",
                                                 "train.reward@max:ci95", "train.reward@max:count"}));
  ASSERT_EQ(t.rows.size(), 4u);
  // Sorted by the keys: grpo 0.001, grpo 0.01, sft 0.001, sft 0.01.
  const auto& row = t.rows[1];
  EXPECT_EQ(std::get<std::string>(row[0]), "grpo");
  EXPECT_DOUBLE_EQ(std::get<double>(row[1]), 0.01);
  EXPECT_DOUBLE_EQ(std::get<double>(row[2]), 3);
  EXPECT_NEAR(std::get<double>(row[3]), 0.72, 1e-12);
  EXPECT_NEAR(std::get<double>(row[4]), 0.01, 1e-12);
  EXPECT_NEAR(std::get<double>(row[5]), 0.0248414, 1e-7);
  EXPECT_DOUBLE_EQ(std::get<double>(row[6]), 3);
  // reward@max = 5 * seed: {5, 10, 15}: mean 10, std 5, ci95 = 4.3026527 * 5 / sqrt(3).
  EXPECT_DOUBLE_EQ(std::get<double>(row[7]), 10);
  EXPECT_NEAR(std::get<double>(row[8]), 5, 1e-12);
  EXPECT_NEAR(std::get<double>(row[9]), 4.3026527 * 5 / std::sqrt(3.0), 1e-5);

  spec.sort = "eval.accuracy";
  spec.descending = true;
  spec.limit = 2;
  const Table top = results_table(res, spec);
  ASSERT_EQ(top.rows.size(), 2u);
  EXPECT_NEAR(std::get<double>(top.rows[0][3]), 0.72, 1e-12);
  EXPECT_NEAR(std::get<double>(top.rows[1][3]), 0.63, 1e-12);
  spec.sort = "nope";
  EXPECT_THROW(results_table(res, spec), Error);
}

TEST_P(ResultsQuery, PivotRendersAParamAsColumns) {
  Results res(*reg_, {"abl"}, Filter::parse("status = 'done'"));
  TableSpec spec;
  spec.group_by = {"train.algo"};
  spec.pivot = "train.lr";
  spec.metrics = {"eval.accuracy"};
  spec.aggs = {Agg::Mean, Agg::Ci95};
  const Table t = results_table(res, spec);
  ASSERT_EQ(t.columns, (std::vector<std::string>{"train.algo", "train.lr=0.001 mean", "train.lr=0.001 ci95",
                                                 "train.lr=0.01 mean", "train.lr=0.01 ci95"}));
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(std::get<std::string>(t.rows[1][0]), "sft");
  EXPECT_NEAR(std::get<double>(t.rows[1][1]), 0.53, 1e-12);
  EXPECT_NEAR(std::get<double>(t.rows[1][3]), 0.62, 1e-12);
  EXPECT_NEAR(std::get<double>(t.rows[1][4]), 0.0248414, 1e-7);

  spec.text_cells = true;
  const Table text = results_table(res, spec);
  ASSERT_EQ(text.columns, (std::vector<std::string>{"train.algo", "train.lr=0.001", "train.lr=0.01"}));
  EXPECT_EQ(std::get<std::string>(text.rows[0][2]), "0.72 ± 0.02484");
  const std::string md = render(text, Format::Markdown);
  EXPECT_NE(md.find("| train.algo | train.lr=0.001 | train.lr=0.01  |"), std::string::npos) << md;
  EXPECT_NE(md.find("| grpo       | 0.63 ± 0.02484 | 0.72 ± 0.02484 |"), std::string::npos) << md;
}

TEST_P(ResultsQuery, PerRunTableShowsTheSweptParams) {
  Results res(*reg_, {"abl"}, Filter::parse("status = 'done' and seed = 1"));
  const Table t = results_table(res, TableSpec{});
  EXPECT_EQ(t.columns, (std::vector<std::string>{"run", "status", "train.algo", "train.lr", "data.images",
                                                 "eval.accuracy"}))
      << "the params that vary among the selected runs (not seed: all are 1), then every summary";
  ASSERT_EQ(t.rows.size(), 4u);
}

// A categorical axis keeps the sweep's order (S, M, L), in tables, pivots
// and charts, whatever the alphabet or the order the runs were made in;
// a value no sweep lists comes after; numbers stay in numeric order.
TEST_P(ResultsQuery, CategoricalAxisKeepsTheSweepOrder) {
  const fs::path where =
      postgres() ? fs::path(PostgresServer::instance().fresh_url()) : dir_->dir() / "sizes.db";
  {
    auto reg = Registry::open(where, OpenMode::ReadWrite);
    // As the registry keeps it: the whole experiment. The exclude names L
    // before the grid does; filters do not define the order.
    const Json config = Json::parse(R"({"name": "sizes", "sweep": {
        "exclude": [{"model.size": "L", "train.lr": 0.1}],
        "grid": {"model.size": ["S", "M", "L"], "train.lr": [0.1, 0.02]}, "seeds": [1, 2]}})");
    reg->upsert_sweep({"sizes", "sizes", config, 0, 0});
    int n = 0;
    auto add = [&](const std::string& sweep, const std::string& size, double lr, int seed, double acc) {
      RunRecord r;
      r.id = fmt::format("s{:02d}", n++);
      r.sweep_id = sweep;
      r.status = "done";
      r.seed = seed;
      reg->upsert_run(r);
      reg->set_params(r.id, {{"model.size", size}, {"train.lr", lr}, {"seed", seed}});
      reg->upsert_node_run(node(r.id, "eval", "eval-" + r.id));
      reg->set_summaries("eval-" + r.id, {{"accuracy", acc}});
    };
    for (const char* size : {"L", "M", "S"})  // made in reverse order
      for (double lr : {0.1, 0.02})
        for (int seed : {1, 2})
          if (!(std::string(size) == "L" && lr == 0.1)) add("sizes", size, lr, seed, size[0] == 'S' ? 0.1 : 0.2);
    add("", "A", 0.02, 1, 0.3);  // outside any sweep
  }
  auto reg = Registry::open(where, OpenMode::ReadOnly);
  Results res(*reg, {});
  auto texts = [](const std::vector<Value>& values) {
    std::vector<std::string> out;
    for (const Value& v : values) out.push_back(to_text(v));
    return out;
  };
  const std::vector<std::string> order = {"S", "M", "L", "A"};
  EXPECT_EQ(texts(res.axis_values(parse_field("model.size", BareName::Param))), order);
  EXPECT_EQ(texts(res.axis_values(parse_field("train.lr", BareName::Param))),
            (std::vector<std::string>{"0.02", "0.1"}))
      << "a numeric axis stays numeric, whatever the sweep's order";

  TableSpec spec;
  spec.group_by = {"model.size"};
  spec.metrics = {"eval.accuracy"};
  std::vector<std::string> rows;
  for (const auto& row : results_table(res, spec).rows) rows.push_back(to_text(row[0]));
  EXPECT_EQ(rows, order);
  spec.group_by = {"train.lr"};
  spec.pivot = "model.size";
  const Table pivoted = results_table(res, spec);
  EXPECT_EQ(pivoted.columns[1], "model.size=S mean");
  EXPECT_EQ(pivoted.columns[3], "model.size=M mean");
  EXPECT_EQ(pivoted.columns[5], "model.size=L mean");
  const Table per_run = results_table(res, TableSpec{});
  ASSERT_EQ(per_run.columns[2], "model.size");
  EXPECT_EQ(to_text(per_run.rows.front()[2]), "S");
  EXPECT_EQ(to_text(per_run.rows.back()[2]), "A");

  ChartSpec chart;
  chart.x = "model.size";
  chart.y = "eval.accuracy";
  const plot::BarChart bars = bar_chart(res, chart);
  EXPECT_EQ(bars.categories, order);
  ASSERT_EQ(bars.groups.size(), 1u);
  EXPECT_NEAR(bars.groups[0].y[0], 0.1, 1e-12) << "S's bar is S's value";
  const std::string svg = plot::render_svg(bars);
  EXPECT_LT(svg.find(">S<"), svg.find(">M<"));
  EXPECT_LT(svg.find(">M<"), svg.find(">L<"));
  chart.x = "train.lr";
  chart.group = {"model.size"};
  std::vector<std::string> legend;
  for (const auto& s : line_chart(res, chart).series) legend.push_back(s.label);
  EXPECT_EQ(legend, order);
}

// A row per metric, a column per group: what docs/results.md shows for
// studies with many metrics.
TEST_P(ResultsQuery, MetricRowsTurnTheGroupedTable) {
  Results res(*reg_, {"abl"}, Filter::parse("status = 'done'"));
  TableSpec spec;
  spec.group_by = {"train.algo"};
  spec.metrics = {"eval.accuracy", "train.reward@max"};
  spec.metric_rows = true;
  const Table t = results_table(res, spec);
  ASSERT_EQ(t.columns, (std::vector<std::string>{"metric", "grpo", "sft"}));
  ASSERT_EQ(t.rows.size(), 3u);
  EXPECT_EQ(to_text(t.rows[0][0]), "runs");
  EXPECT_EQ(to_text(t.rows[0][1]), "6");
  EXPECT_EQ(to_text(t.rows[1][0]), "eval.accuracy");
  // grpo: 0.6 + 10 lr + 0.01 seed over lr {0.001, 0.01} x seed {1, 2, 3}: mean 0.675.
  EXPECT_EQ(to_text(t.rows[1][1]).rfind("0.675 ± 0.05", 0), 0u) << to_text(t.rows[1][1]);
  EXPECT_EQ(to_text(t.rows[2][0]), "train.reward@max");
  spec.group_by = {"train.algo", "train.lr"};
  EXPECT_EQ(results_table(res, spec).columns[1], "train.algo=grpo, train.lr=0.001");
  spec.group_by.clear();
  EXPECT_THROW(results_table(res, spec), Error) << "the groups are the columns";
}

// The stated rule: a 95% CI excluding 0 decides, the direction says which way.
TEST(ResultsClaims, VerdictRule) {
  EXPECT_EQ(claim_verdict(0.05, 0.02, +1), "agree");
  EXPECT_EQ(claim_verdict(-0.05, 0.02, -1), "agree");
  EXPECT_EQ(claim_verdict(-0.05, 0.02, +1), "disagree");
  EXPECT_EQ(claim_verdict(0.05, 0.02, -1), "disagree");
  EXPECT_EQ(claim_verdict(0.01, 0.02, +1), "within noise");
  EXPECT_EQ(claim_verdict(0.02, 0.02, +1), "within noise") << "an interval touching 0 does not exclude it";
  EXPECT_EQ(claim_verdict(0.5, std::nan(""), +1), "not measurable at this scale") << "one seed: no interval";
}

TEST(ResultsClaims, BadFilesNameTheLine) {
  Sandbox sb;
  auto error_of = [&](const std::string& text) {
    try {
      read_claims(sb.write("claims.tsv", text));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string good = "g\tA gain\t+82.6%\tREADME\tabl\teval.accuracy\t-\t-\t-\t+\n";
  EXPECT_EQ(read_claims(sb.write("claims.tsv", "# comment\n\n" + good)).size(), 1u);
  EXPECT_NE(error_of(good + "x\tonly\tthree\n").find("claims.tsv:2: 3 tab-separated fields, expected 10"),
            std::string::npos) << error_of(good + "x\tonly\tthree\n");
  EXPECT_NE(error_of("x\tc\t-\t-\tabl\teval.accuracy\t-\t-\t-\tup\n").find(":1: column 10 (direction): 'up'"),
            std::string::npos);
  EXPECT_NE(error_of("x\tc\t-\t-\tabl\teval\t-\t-\t-\t+\n").find(":1: 'eval'"), std::string::npos)
      << error_of("x\tc\t-\t-\tabl\teval\t-\t-\t-\t+\n");
  EXPECT_NE(error_of("x\tc\t-\t-\tabl\teval.accuracy\tseed >\t-\t-\t+\n").find(":1: where: column"),
            std::string::npos) << error_of("x\tc\t-\t-\tabl\teval.accuracy\tseed >\t-\t-\t+\n");
}

TEST_P(ResultsQuery, ClaimsAreMeasuredInTheRegistry) {
  Sandbox sb;
  const auto file = sb.write("claims.tsv",
      "# id claim paper citation sweep metric where baseline baseline_where direction\n"
      "algo\tGRPO beats SFT\t+10%\tREADME, Main\tabl\teval.accuracy\tparams.train.algo = 'grpo' and status = 'done'\t-\t"
      "params.train.algo = 'sft' and status = 'done'\t+\n"
      "algo_loss\tGRPO loses to SFT\t-\t-\tabl\teval.accuracy\tparams.train.algo = 'grpo' and status = 'done'\t-\t"
      "params.train.algo = 'sft' and status = 'done'\t-\n"
      "seed\tSeed 2 beats seed 1\t-\t-\tabl\teval.accuracy\tparams.train.algo = 'grpo' and seed = 2\t-\t"
      "params.train.algo = 'grpo' and seed = 1\t+\n"
      "paired\tNo change\t-\t-\tabl\teval.accuracy\t-\teval.accuracy\t-\t+\n"
      "one\tOne run\t-\t-\tabl\teval.accuracy\tseed = 1 and params.train.algo = 'sft' and params.train.lr = 0.01\t-\t-\t+\n"
      "absent\tNot run\t-\t-\tnope\teval.accuracy\t-\t-\t-\t+\n");
  const Table t = claims_table(*reg_, read_claims(file));
  ASSERT_EQ(t.rows.size(), 6u);
  auto cell = [&](size_t row, size_t col) { return to_text(t.rows[row][col]); };
  // grpo - sft = 0.1 exactly; each group's std 0.0501 over 6 runs; Welch df 10: t 2.228 * 0.0289 = 0.064.
  EXPECT_EQ(cell(0, 1), "+10% (README, Main)");
  EXPECT_EQ(cell(0, 2), "+0.100 ± 0.064 (n=6)");
  EXPECT_EQ(cell(0, 4), "agree");
  EXPECT_EQ(cell(1, 1), "figure not in the public repo");
  EXPECT_EQ(cell(1, 4), "disagree");
  EXPECT_EQ(cell(2, 4), "within noise") << cell(2, 2);  // +0.01 with two runs a side
  EXPECT_EQ(cell(3, 2), "+0.000 ± 0.000 (n=12)") << "paired, run by run";
  EXPECT_EQ(cell(3, 4), "within noise");
  EXPECT_EQ(cell(4, 2), "+0.610 (n=1)");
  EXPECT_EQ(cell(4, 4), "not measurable at this scale");
  EXPECT_EQ(cell(5, 4), "not run");
}

// ------------------------------------------------------------ rendering

TEST(ResultsRender, FormatsKeepTypes) {
  Table t;
  t.columns = {"name", "x", "note"};
  t.rows = {{std::string("a,b"), 0.1, Value()}, {std::string("say \"hi\""), std::nan(""), true}};
  EXPECT_EQ(render(t, Format::Csv), "name,x,note\n\"a,b\",0.1,\n\"say \"\"hi\"\"\",nan,true\n");
  const Json j = Json::parse(render(t, Format::Json));
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["name"], "a,b");
  EXPECT_DOUBLE_EQ(j[0]["x"].get<double>(), 0.1);
  EXPECT_TRUE(j[0]["note"].is_null());
  EXPECT_TRUE(j[1]["x"].is_null()) << "NaN is null in JSON";
  EXPECT_EQ(j[1]["note"], true);
  EXPECT_EQ(render(t, Format::Jsonl).find("{\"name\":\"a,b\",\"x\":0.1,\"note\":null}\n"), 0u);
  const std::string table = render(t, Format::Table);
  EXPECT_NE(table.find("a,b       0.1  -\n"), std::string::npos) << table;
  EXPECT_EQ(parse_format("markdown", {Format::Table, Format::Markdown}), Format::Markdown);
  EXPECT_THROW(parse_format("xml", {Format::Table}), Error);
}

// ------------------------------------------------------------ read-only SQL

TEST_P(ResultsQuery, RegistrySqlIsReadOnly) {
  Table t = run_readonly_sql(*reg_, "SELECT count(*) AS n FROM runs WHERE sweep_id = ?1", {"abl"});
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.columns[0], "n");
  EXPECT_DOUBLE_EQ(std::get<double>(t.rows[0][0]), 13);
  t = run_readonly_sql(*reg_, "  select key, value from summaries where cache_key = 'data-shared'; -- done\n");
  ASSERT_EQ(t.rows.size(), 1u);
  t = run_readonly_sql(*reg_, postgres() ? "SELECT column_name FROM information_schema.columns WHERE table_name = "
                                           "'runs' AND table_schema = current_schema()"
                                         : "PRAGMA table_info(runs)");
  EXPECT_GT(t.rows.size(), 5u);
  t = run_readonly_sql(*reg_, "WITH x AS (SELECT 1 AS a) SELECT a FROM x");
  EXPECT_EQ(t.rows.size(), 1u);

  for (const char* sql : {"DELETE FROM runs", "UPDATE runs SET name = 'x'", "INSERT INTO meta VALUES ('a', 'b')",
                          "DROP TABLE runs", "CREATE TABLE t(a)", "CREATE INDEX i ON runs(name)",
                          "ALTER TABLE runs ADD COLUMN x", "VACUUM", "REINDEX", "ANALYZE",
                          "WITH x AS (SELECT 1) DELETE FROM runs", "REPLACE INTO meta VALUES ('a', 'b')",
                          "ATTACH DATABASE '/tmp/mstar-attack.db' AS a", "PRAGMA query_only = 0",
                          "PRAGMA journal_mode = DELETE", "PRAGMA writable_schema = 1",
                          "SELECT 1; DELETE FROM runs", "BEGIN IMMEDIATE", "CREATE TEMP TABLE t(a)"}) {
    try {
      run_readonly_sql(*reg_, sql);
      ADD_FAILURE() << "not refused: " << sql;
    } catch (const Error& e) {
      EXPECT_TRUE(e.is_bad_input()) << sql << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find("registry sql: "), std::string::npos) << e.what();
    }
  }
  EXPECT_FALSE(fs::exists("/tmp/mstar-attack.db"));
  t = run_readonly_sql(*reg_, "SELECT count(*) FROM runs");
  EXPECT_DOUBLE_EQ(std::get<double>(t.rows[0][0]), 14) << "nothing was deleted";
  try {
    run_readonly_sql(*reg_, "SELECT nope FROM runs");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(postgres() ? "column \"nope\" does not exist" : "no such column: nope"),
              std::string::npos)
        << e.what();
  }
  auto rw = Registry::open(db(), OpenMode::ReadWrite);
  EXPECT_THROW(run_readonly_sql(*rw, "SELECT 1"), Error) << "only on read-only connections";
}

// ------------------------------------------------------------ charts

TEST(ResultsPlot, TicksAndSmoothing) {
  EXPECT_EQ(plot::nice_ticks(0, 1), (std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}));
  auto ticks = plot::nice_ticks(0.013, 0.087);
  EXPECT_LE(ticks.front(), 0.013);
  EXPECT_GE(ticks.back(), 0.087);
  EXPECT_EQ(plot::log_ticks(1, 1000), (std::vector<double>{1, 10, 100, 1000}));
  EXPECT_EQ(plot::log_ticks(1, 100), (std::vector<double>{1, 2, 5, 10, 20, 50, 100}));
  EXPECT_EQ(plot::smooth({1, 2, 3}, 0), (std::vector<double>{1, 2, 3}));
  for (double v : plot::smooth({4, 4, 4, 4}, 0.9)) EXPECT_NEAR(v, 4, 1e-12) << "debiased";
  const auto s = plot::smooth({0, 10, std::nan(""), 10}, 0.5);
  EXPECT_NEAR(s[1], (0.5 * 0 * 0.5 + 0.5 * 10) / 0.75, 1e-12);
  EXPECT_TRUE(std::isnan(s[2]));
}

TEST(ResultsPlot, LineChartSvgIsWellFormedAndLabelled) {
  plot::LineChart c;
  c.title = "accuracy <vs> data & size";
  c.x_label = "data.images";
  c.y_label = "eval.accuracy (mean ± 95% CI)";
  c.legend_title = "train.algo";
  c.log_x = true;
  c.series = {{"grpo", {100, 1000, 10000}, {0.5, 0.6, 0.7}, {0.45, 0.55, 0.66}, {0.55, 0.65, 0.74}},
              {"sft", {100, 1000, 10000}, {0.4, std::nan(""), 0.6}, {}, {}}};
  const std::string svg = plot::render_svg(c);
  EXPECT_EQ(xml_problem(svg), "") << svg;
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  for (const char* text : {">accuracy &lt;vs&gt; data &amp; size</text>", ">data.images</text>",
                           ">eval.accuracy (mean ± 95% CI)</text>", ">train.algo</text>", ">grpo</text>",
                           ">sft</text>", ">100</text>", ">1000</text>", ">10000</text>"})
    EXPECT_NE(svg.find(text), std::string::npos) << text;
  EXPECT_EQ(count_of(svg, "<polygon"), 1u) << "one band (grpo); sft has none";
  EXPECT_EQ(count_of(svg, "<polyline"), 1u) << "grpo's line; sft's NaN leaves single points";

  plot::BarChart b;
  b.title = "ablation";
  b.x_label = "reward";
  b.y_label = "accuracy";
  b.categories = {"format", "tfq", "both"};
  b.groups = {{"S", {0, 1, 2}, {0.5, 0.6, -0.1}, {0.4, 0.5, -0.2}, {0.6, 0.7, 0.0}},
              {"M", {0, 1, 2}, {0.55, std::nan(""), 0.7}, {}, {}}};
  const std::string bars = plot::render_svg(b);
  EXPECT_EQ(xml_problem(bars), "") << bars;
  for (const char* text : {">ablation</text>", ">reward</text>", ">accuracy</text>", ">format</text>",
                           ">both</text>", ">S</text>", ">M</text>"})
    EXPECT_NE(bars.find(text), std::string::npos) << text;
  EXPECT_EQ(count_of(bars, "<rect"), 1u + 5u + 2u) << "background, 5 bars, 2 legend keys";

  plot::LineChart empty;
  empty.title = "nothing";
  EXPECT_EQ(xml_problem(plot::render_svg(empty)), "");
  EXPECT_NE(plot::render_svg(empty).find("no data"), std::string::npos);
}

TEST_P(ResultsQuery, ChartsFromResults) {
  Results res(*reg_, {"abl"}, Filter::parse("status = 'done'"));
  ChartSpec spec;
  spec.x = "train.lr";
  spec.y = "eval.accuracy";
  spec.group = {"train.algo"};
  const plot::LineChart line = line_chart(res, spec);
  ASSERT_EQ(line.series.size(), 2u);
  EXPECT_EQ(line.series[0].label, "grpo");
  EXPECT_EQ(line.series[0].x, (std::vector<double>{0.001, 0.01}));
  EXPECT_NEAR(line.series[0].y[1], 0.72, 1e-12);
  EXPECT_NEAR(line.series[0].hi[1] - line.series[0].y[1], 0.0248414, 1e-7);
  spec.x = "train.algo";
  spec.group = {"train.lr"};
  EXPECT_THROW(line_chart(res, spec), Error) << "a line needs a numeric x";
  const plot::BarChart bars = bar_chart(res, spec);
  EXPECT_EQ(bars.categories, (std::vector<std::string>{"grpo", "sft"}));
  ASSERT_EQ(bars.groups.size(), 2u);
  EXPECT_NEAR(bars.groups[1].y[1], 0.62, 1e-12);

  CurveSpec curve;
  curve.keys = {"train.reward"};
  curve.group = {"train.algo"};
  const plot::LineChart curves = curve_chart(res, curve);
  ASSERT_EQ(curves.series.size(), 2u);
  ASSERT_EQ(curves.series[0].x.size(), 10u);
  EXPECT_DOUBLE_EQ(curves.series[0].y[5], 10) << "mean of 5 * seed over seeds 1..3, both lrs";
  curve.group.clear();
  const plot::LineChart per_run = curve_chart(res, curve);
  EXPECT_EQ(per_run.series.size(), 12u) << "one line per run";
  // Legends show what differs: the sweep name all runs share is dropped,
  // and every label stays distinct.
  std::set<std::string> labels;
  for (const auto& s : per_run.series) {
    labels.insert(s.label);
    EXPECT_NE(s.label.rfind("abl ", 0), 0u) << s.label;
  }
  EXPECT_EQ(labels.size(), 12u);
  curve.keys = {"train.reward", "train.loss"};
  for (const auto& s : curve_chart(res, curve).series) {
    const std::string tail = s.label.substr(s.label.rfind(' ') + 1);
    EXPECT_TRUE(tail == "reward" || tail == "loss") << s.label;
  }
}

TEST_P(ResultsQuery, ReportIsSelfContained) {
  ReportOptions opt;
  opt.targets = {"abl"};
  const std::string html = render_report(*reg_, opt);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(count_of(html, "http://"), count_of(html, "http://www.w3.org/2000/svg")) << "only SVG namespaces";
  EXPECT_GE(count_of(html, "<svg"), 3u);
  for (const char* text : {"Summary: mean ± 95% CI over seeds", "Ablation tables", "Learning curves", "Trials",
                           "train.lr=0.01", "0.72 ± 0.02484", "&quot;train.algo&quot;"})
    EXPECT_NE(html.find(text), std::string::npos) << text;
}

INSTANTIATE_TEST_SUITE_P(Backends, ResultsQuery, ::testing::Values(Backend::Sqlite, Backend::Postgres), backend_name);

}  // namespace
}  // namespace mstar::testing
