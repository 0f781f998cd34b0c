// The result commands on a real sweep: `mstar run` of test/metrics over
// train.scale x train.steps x 3 seeds, then results / metrics / diff /
// export / registry sql / plot through the real binary. Known values:
// final_loss = scale / steps, value = scale * seed, loss@max = scale,
// loss@step=s = scale / (1 + s).
#include <algorithm>
#include <cmath>
#include <sstream>

#include <gtest/gtest.h>

#include "mstar/json.h"
#include "pg_server.h"
#include "results_helpers.h"

namespace mstar::testing {
namespace {

// Once per backend: the sweep recorded into an SQLite file, or into a fresh
// schema of the test PostgreSQL server (MSTAR_REGISTRY).
class ResultsCli : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::Postgres) MSTAR_REQUIRE_POSTGRES();
    Sandbox*& sb = sandboxes_[static_cast<int>(GetParam())];
    if (sb) return;
    sb = new Sandbox();
    if (GetParam() == Backend::Postgres) sb->use_registry(PostgresServer::instance().fresh_url());
    run_metrics_sweep(*sb, "rq", "{train.scale: [1, 2, 4], train.steps: [10, 20]}", "[1, 2, 3]");
  }
  static void TearDownTestSuite() {
    for (Sandbox*& sb : sandboxes_) {
      delete sb;
      sb = nullptr;
    }
  }
  const Sandbox& sandbox() const { return *sandboxes_[static_cast<int>(GetParam())]; }

  CommandResult ok(const std::vector<std::string>& args) {
    CommandResult r = run_fresh(sandbox(), args);
    EXPECT_EQ(r.code(), 0) << "mstar " << ::testing::PrintToString(args) << "\n" << r.out << r.err;
    return r;
  }
  Json json(const std::vector<std::string>& args) {
    const CommandResult r = ok(args);
    try {
      return Json::parse(r.out);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not JSON: " << r.out;
      return Json::array();
    }
  }
  static std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

  static Sandbox* sandboxes_[2];
};

Sandbox* ResultsCli::sandboxes_[2] = {nullptr, nullptr};

TEST_P(ResultsCli, GroupByAggregatesSeedsWithHandComputedCi) {
  const Json rows = json({"results", "rq", "--where", "params.train.steps = 10", "--group-by", "train.scale",
                          "--metric", "train.value,train.loss@max", "--metric", "train.final_loss", "--agg",
                          "mean,std,ci95,count", "--format", "json"});
  ASSERT_EQ(rows.size(), 3u) << rows.dump(2);
  for (const Json& row : rows) {
    const double s = row["train.scale"].get<double>();
    EXPECT_EQ(row["runs"], 3);
    // value = scale * seed over seeds {1, 2, 3}: mean 2s, std s, ci95 = t(0.975, 2) * s / sqrt(3).
    EXPECT_NEAR(row["train.value:mean"].get<double>(), 2 * s, 1e-12);
    EXPECT_NEAR(row["train.value:std"].get<double>(), s, 1e-12);
    EXPECT_NEAR(row["train.value:ci95"].get<double>(), 4.3026527 * s / std::sqrt(3.0), 1e-6);
    EXPECT_EQ(row["train.value:count"], 3);
    EXPECT_NEAR(row["train.loss@max:mean"].get<double>(), s, 1e-12);
    EXPECT_NEAR(row["train.loss@max:ci95"].get<double>(), 0, 1e-12);
    EXPECT_NEAR(row["train.final_loss:mean"].get<double>(), s / 10, 1e-12);
  }
  EXPECT_DOUBLE_EQ(rows[0]["train.scale"].get<double>(), 1);
  EXPECT_DOUBLE_EQ(rows[2]["train.scale"].get<double>(), 4);

  const CommandResult sorted =
      ok({"results", "rq", "-g", "train.scale,train.steps", "-m", "train.final_loss", "--sort=-train.final_loss",
          "--limit", "2", "--format", "csv"});
  EXPECT_EQ(sorted.out,
            "train.scale,train.steps,runs,train.final_loss:mean,train.final_loss:ci95\n4,10,3,0.4,0\n2,10,3,0.2,0\n");
}

TEST_P(ResultsCli, WhereWithOrNotInAndSeriesSelectors) {
  const CommandResult r =
      ok({"results", "rq", "--where",
          "(params.train.scale = 1 or params.train.scale = 4) and not seed in (2) and "
          "metrics.train.loss@step=4 >= 0.2 and metrics.train.acc@last is not null",
          "--columns", "train.scale,train.steps,seed", "-m", "train.loss@step=4,train.loss@last", "--format", "csv"});
  const auto rows = lines(r.out);
  ASSERT_EQ(rows.size(), 9u) << r.out;  // 2 scales x 2 step counts x seeds {1, 3}
  EXPECT_EQ(rows[0], "run,status,train.scale,train.steps,seed,train.loss@step=4,train.loss@last");
  EXPECT_NE(rows[1].find(",done,1,10,1,0.2,0.1"), std::string::npos) << rows[1];
  EXPECT_NE(rows[8].find(",done,4,20,3,0.8,0.2"), std::string::npos) << rows[8];

  const Json best = json({"results", "rq", "--where", "metrics.train.loss@max > 3 or params.train.scale is null",
                          "-m", "train.loss@max", "--format", "json"});
  EXPECT_EQ(best.size(), 6u) << "loss@max = scale: only scale 4";
  const Json none = json({"results", "rq", "--where", "status like 'fail%'", "--format", "json"});
  EXPECT_EQ(none.size(), 0u);
}

TEST_P(ResultsCli, PivotIsTheAblationTable) {
  const CommandResult csv = ok({"results", "rq", "-g", "train.scale", "--pivot", "train.steps", "-m",
                                "train.final_loss", "--format", "csv"});
  EXPECT_EQ(csv.out,
            "train.scale,train.steps=10 mean,train.steps=10 ci95,train.steps=20 mean,train.steps=20 ci95\n"
            "1,0.1,0,0.05,0\n2,0.2,0,0.1,0\n4,0.4,0,0.2,0\n");
  const CommandResult md =
      ok({"results", "rq", "-g", "train.scale", "--pivot", "train.steps", "-m", "train.value", "--format",
          "markdown"});
  const auto rows = lines(md.out);
  ASSERT_EQ(rows.size(), 5u) << md.out;
  EXPECT_EQ(rows[0], "| train.scale | train.steps=10 | train.steps=20 |");
  EXPECT_EQ(rows[1], "| ----------: | -------------- | -------------- |");
  EXPECT_EQ(rows[2], "|           1 | 2 ± 2.484      | 2 ± 2.484      |");
}

TEST_P(ResultsCli, BadInputIsReportedWithTheColumn) {
  CommandResult r = run_fresh(sandbox(), {"results", "rq", "--where", "params.train.lr >= "});
  EXPECT_EQ(r.code(), 2);
  EXPECT_NE(r.err.find("--where: column 20: expected a value after '>='\n  params.train.lr >= \n" +
                       std::string(2 + 19, ' ') + "^"),
            std::string::npos)
      << r.err;
  r = run_fresh(sandbox(), {"results", "nosuchsweep"});
  EXPECT_EQ(r.code(), 2);
  EXPECT_NE(r.err.find("no sweep or run 'nosuchsweep'"), std::string::npos) << r.err;
  r = run_fresh(sandbox(), {"results", "rq", "--agg", "avg"});
  EXPECT_EQ(r.code(), 2);
  EXPECT_NE(r.err.find("unknown aggregate 'avg'"), std::string::npos) << r.err;
  r = run_fresh(sandbox(), {"results", "rq", "--format", "xml"});
  EXPECT_EQ(r.code(), 2);
  r = run_fresh(sandbox(), {"results", "rq", "-m", "train.loss@best"});
  EXPECT_EQ(r.code(), 2);
  EXPECT_NE(r.err.find("unknown selector '@best'"), std::string::npos) << r.err;
}

TEST_P(ResultsCli, MetricsDiffAndExport) {
  const Json runs = json({"results", "rq", "--where", "params.train.scale = 2 and params.train.steps = 10",
                          "--columns", "seed", "--format", "json"});
  ASSERT_EQ(runs.size(), 3u);
  const std::string a = runs[0]["run"], b = runs[2]["run"];

  const Json series = json({"metrics", a, "train", "--key", "loss", "--format", "json"});
  ASSERT_EQ(series.size(), 1u);
  EXPECT_EQ(series[0]["key"], "loss");
  ASSERT_EQ(series[0]["step"].size(), 10u);
  EXPECT_DOUBLE_EQ(series[0]["value"][4].get<double>(), 2.0 / 5);
  const CommandResult csv = ok({"metrics", a.substr(0, 8)});
  EXPECT_EQ(lines(csv.out).size(), 1u + 2 * 10u) << "header + loss and acc";
  EXPECT_EQ(lines(csv.out)[0], "node,key,step,value,time");
  CommandResult bad = run_fresh(sandbox(), {"metrics", a, "train", "--key", "los"});
  EXPECT_EQ(bad.code(), 2);
  EXPECT_NE(bad.err.find("has no metric 'los' (its keys: acc, loss)"), std::string::npos) << bad.err;

  const CommandResult diff = ok({"diff", a, b});
  EXPECT_NE(diff.out.find("params that differ:"), std::string::npos) << diff.out;
  EXPECT_NE(diff.out.find("seed   1  3"), std::string::npos) << diff.out;
  EXPECT_EQ(diff.out.find("train.scale "), std::string::npos) << "equal params are not listed:\n" << diff.out;
  const auto diff_lines = lines(diff.out);
  const auto value_line = std::find_if(diff_lines.begin(), diff_lines.end(),
                                       [](const std::string& l) { return l.rfind("train.value ", 0) == 0; });
  ASSERT_NE(value_line, diff_lines.end()) << diff.out;
  EXPECT_NE(value_line->find(" 2 "), std::string::npos) << *value_line;
  EXPECT_NE(value_line->find(" 6 "), std::string::npos) << *value_line;
  EXPECT_NE(value_line->find(" +4 "), std::string::npos) << *value_line;
  EXPECT_NE(value_line->find(" +200.00%"), std::string::npos) << *value_line;
  const Json dj = json({"diff", a, b, "--format", "json"});
  EXPECT_EQ(dj["params"].size(), 1u);
  for (const Json& m : dj["metrics"])
    if (m["metric"] == "train.value") {
      EXPECT_DOUBLE_EQ(m["delta"].get<double>(), 4);
    }

  const CommandResult trials = ok({"export", "rq"});
  const auto rows = lines(trials.out);
  ASSERT_EQ(rows.size(), 19u);
  EXPECT_EQ(rows[0].rfind("run,sweep,name,status,seed,created,started,finished,", 0), 0u) << rows[0];
  for (const char* col : {"params.train.scale", "params.train.steps", "metrics.train.final_loss", "metrics.train.value"})
    EXPECT_NE(rows[0].find(col), std::string::npos) << col;
  const fs::path out = sandbox().dir() / "points.jsonl";
  ok({"export", "rq", "--series", "--format", "jsonl", "-o", out.string()});
  const auto points = lines(slurp(out));
  EXPECT_EQ(points.size(), 9u * 2 * 10 + 9u * 2 * 20);
  const Json first = Json::parse(points.front());
  for (const char* k : {"run", "node", "key", "step", "value", "time"}) EXPECT_TRUE(first.contains(k)) << k;
}

TEST_P(ResultsCli, RegistrySqlRefusesWrites) {
  const Json n = json({"registry", "sql", "SELECT count(*) AS n FROM runs WHERE sweep_id = ?1", "--arg", "rq",
                       "--format", "json"});
  EXPECT_EQ(n[0]["n"], 18);
  for (const char* sql : {"DELETE FROM runs", "DROP TABLE metrics", "UPDATE runs SET status = 'failed'",
                          "PRAGMA query_only = OFF", "ATTACH 'x.db' AS x"}) {
    const CommandResult r = run_fresh(sandbox(), {"registry", "sql", sql});
    EXPECT_EQ(r.code(), 2) << sql;
    EXPECT_NE(r.err.find("refused"), std::string::npos) << sql << ": " << r.err;
  }
  const Json again = json({"registry", "sql", "SELECT count(*) AS n FROM runs", "--format", "json"});
  EXPECT_EQ(again[0]["n"], 18);
  EXPECT_NE(ok({"registry", "check"}).out.find(": ok"), std::string::npos);
  EXPECT_NE(ok({"registry", "schema"}).out.find("CREATE TABLE metrics"), std::string::npos);
}

TEST_P(ResultsCli, PlotsAreWellFormedSvg) {
  const fs::path line = sandbox().dir() / "plots" / "line.svg";
  ok({"plot", "line", "rq", "--x", "train.steps", "--y", "train.final_loss", "--group", "train.scale", "--logx",
      "-o", line.string()});
  std::string svg = slurp(line);
  EXPECT_EQ(xml_problem(svg), "") << svg;
  for (const char* text : {"<svg", ">train.final_loss vs train.steps</text>", ">train.steps (log scale)</text>",
                           ">train.final_loss (mean ± 95% CI)</text>", ">train.scale</text>"})
    EXPECT_NE(svg.find(text), std::string::npos) << text;
  EXPECT_EQ(count_of(svg, "<polyline"), 3u) << "one line per scale";
  EXPECT_EQ(count_of(svg, "stroke-width=\"2.5\""), 3u) << "three legend keys";

  const fs::path bar = sandbox().dir() / "plots" / "bar.svg";
  ok({"plot", "bar", "rq", "--x", "train.scale", "--y", "train.value", "--group", "train.steps", "-o",
      bar.string()});
  svg = slurp(bar);
  EXPECT_EQ(xml_problem(svg), "") << svg;
  EXPECT_NE(svg.find(">train.value by train.scale</text>"), std::string::npos);
  EXPECT_NE(svg.find(">train.steps</text>"), std::string::npos);
  EXPECT_EQ(count_of(svg, "<rect"), 1u + 6u + 2u) << "background, 3 scales x 2 step counts, 2 legend keys";

  const fs::path curve = sandbox().dir() / "plots" / "curve.svg";
  ok({"plot", "curve", "rq", "--key", "train.loss", "--group", "train.scale", "--where", "params.train.steps = 20",
      "--smooth", "0.5", "-o", curve.string()});
  svg = slurp(curve);
  EXPECT_EQ(xml_problem(svg), "") << svg;
  EXPECT_NE(svg.find(">learning curve: train.loss</text>"), std::string::npos);
  EXPECT_NE(svg.find(">step</text>"), std::string::npos);
  EXPECT_EQ(count_of(svg, "<polyline"), 3u);

  CommandResult r = run_fresh(sandbox(), {"plot", "line", "rq", "--x", "train.scale", "-o", (sandbox().dir() / "x.svg").string()});
  EXPECT_EQ(r.code(), 2);
  EXPECT_NE(r.err.find("give --x FIELD and --y FIELD"), std::string::npos) << r.err;
  r = run_fresh(sandbox(), {"plot", "pie", "rq", "-o", (sandbox().dir() / "x.svg").string()});
  EXPECT_EQ(r.code(), 2);
}

TEST_P(ResultsCli, EveryCommandHasHelpWithAnExample) {
  for (const char* cmd : {"results", "metrics", "diff", "plot", "report", "export"}) {
    const CommandResult r = ok({cmd, "--help"});
    EXPECT_NE(r.out.find("usage: mstar " + std::string(cmd)), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("example:\n  mstar " + std::string(cmd)), std::string::npos) << r.out;
  }
  for (const char* sub : {"sql", "schema", "check"}) {
    const CommandResult r = ok({"registry", sub, "--help"});
    EXPECT_NE(r.out.find("example:\n  mstar registry " + std::string(sub)), std::string::npos) << r.out;
  }
  EXPECT_NE(ok({"registry", "--help"}).out.find("mstar registry sql"), std::string::npos);
  EXPECT_NE(ok({"--help"}).out.find("  results "), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Backends, ResultsCli, ::testing::Values(Backend::Sqlite, Backend::Postgres), backend_name);

}  // namespace
}  // namespace mstar::testing
