// Tests of the results registry against both backends: a real SQLite file in
// a fresh directory, and a fresh schema on a real PostgreSQL server
// (pg_server.h). SQLite-only behaviour (backup files, WAL locks, the query
// planner) is in RegistrySqliteTest.
#include "mstar/registry/registry.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mstar/error.h"
#include "db/dialect.h"
#include "mstar/registry/copy.h"
#include "mstar/registry/query.h"
#include "mstar/registry/schema.h"
#include "pg_server.h"

namespace mstar::registry {
namespace {

namespace fs = std::filesystem;

using testing::Backend;
using testing::PostgresServer;

bool is_url(const fs::path& db) { return db.string().rfind("postgresql://", 0) == 0; }

class RegistryTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = info->name();
    std::replace(name.begin(), name.end(), '/', '_');
    dir_ = fs::temp_directory_path() / ("mstar_registry_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    db_ = dir_ / "sub" / "registry.db";  // open() creates "sub"
    if (GetParam() == Backend::Postgres) {
      MSTAR_REQUIRE_POSTGRES();
      db_ = PostgresServer::instance().fresh_url();
    }
  }
  // Another empty registry of the same backend.
  fs::path another(const std::string& file) const {
    return GetParam() == Backend::Postgres ? fs::path(PostgresServer::instance().fresh_url()) : dir_ / file;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Runs SQL on a raw connection and returns the first column of the first row.
  static std::string raw_query(const fs::path& db, const std::string& sql) {
    if (is_url(db)) return PostgresServer::query(db.string(), sql);
    sqlite3* conn = nullptr;
    EXPECT_EQ(sqlite3_open(db.c_str(), &conn), SQLITE_OK);
    std::string out;
    auto cb = [](void* arg, int, char** values, char**) {
      auto* s = static_cast<std::string*>(arg);
      if (s->empty() && values[0]) *s = values[0];
      return 0;
    };
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(conn, sql.c_str(), cb, &out, &err), SQLITE_OK) << (err ? err : "") << " in " << sql;
    sqlite3_free(err);
    sqlite3_close(conn);
    return out;
  }

  static RunRecord make_run(const std::string& id, const std::string& sweep = "") {
    RunRecord r;
    r.id = id;
    r.sweep_id = sweep;
    r.name = "trial-" + id;
    r.status = "pending";
    r.seed = 7;
    r.config = {{"nodes", {{"train", {{"plugin", "algorithm/grpo"}}}}}};
    r.env = {{"host", "test"}};
    return r;
  }

  fs::path dir_, db_;
};

class RegistrySqliteTest : public RegistryTest {};

NodeRunRecord make_node_run(const std::string& run, const std::string& node, const std::string& status) {
  NodeRunRecord nr;
  nr.run_id = run;
  nr.node = node;
  nr.cache_key = "ck-" + run + "-" + node;
  nr.plugin = "algorithm/x";
  nr.plugin_version = "1.0";
  nr.status = status;
  return nr;
}

TEST_P(RegistryTest, FlattenParams) {
  const Json nested = {{"train", {{"kl_coef", 0.01}, {"reward", {{"plugin", "reward/tfq"}, {"format_weight", 0.5}}}}},
                       {"base", {{"sizes", {1, 2}}, {"empty", Json::object()}}}};
  const auto flat = flatten_params(nested);
  ASSERT_EQ(flat.size(), 5u);
  EXPECT_EQ(flat.at("train.kl_coef"), 0.01);
  EXPECT_EQ(flat.at("train.reward.plugin"), "reward/tfq");
  EXPECT_EQ(flat.at("train.reward.format_weight"), 0.5);
  EXPECT_EQ(flat.at("base.sizes"), Json::array({1, 2}));
  EXPECT_EQ(flat.at("base.empty"), Json::object());
  EXPECT_TRUE(flatten_params(Json()).empty());
  EXPECT_THROW(flatten_params(Json::array({1})), Error);
}

TEST_P(RegistryTest, WriteAndReadBack) {
  auto reg = Registry::open(db_, OpenMode::ReadWrite);
  EXPECT_EQ(reg->schema_version(), kSchemaVersion);
  EXPECT_EQ(reg->integrity_check(), "ok");

  reg->upsert_sweep({"sw1", "grid", {{"grid", {{"train.kl_coef", {0, 0.01}}}}}, 100, 100});
  RunRecord run = make_run("r1", "sw1");
  run.created = 1000;
  reg->upsert_run(run);
  run.created = 2000;  // ignored on update
  run.status = "running";
  run.started = 1001;
  reg->upsert_run(run);
  reg->upsert_run(make_run("r2"));
  reg->set_run_status("r1", "failed", "node train crashed", 1005);

  auto got = reg->get_run("r1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->created, 1000);
  EXPECT_EQ(got->started, 1001);
  EXPECT_EQ(got->finished, 1005);
  EXPECT_EQ(got->status, "failed");
  EXPECT_EQ(got->reason, "node train crashed");
  EXPECT_EQ(got->sweep_id, "sw1");
  EXPECT_EQ(got->seed, 7);
  EXPECT_EQ(got->config, run.config);
  EXPECT_EQ(got->env, run.env);
  reg->set_run_status("r1", "done", "", 0);  // finished 0: kept
  EXPECT_EQ(reg->get_run("r1")->finished, 1005);

  EXPECT_THROW(reg->set_run_status("r1", "exploded", "", 0), Error);
  EXPECT_THROW(reg->set_run_status("nope", "done", "", 0), Error);

  const auto runs = reg->list_runs();
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].id, "r2");  // newest first
  ASSERT_EQ(reg->list_runs("sw1").size(), 1u);

  auto params = flatten_params({{"train", {{"kl_coef", 0.01}, {"steps", 3}, {"flag", true}, {"text", "true"},
                                           {"list", {1, 2}}, {"none", nullptr}}}});
  reg->set_params("r1", params);
  EXPECT_EQ(reg->params("r1"), params);
  EXPECT_TRUE(reg->params("r1").at("train.steps").is_number_integer());
  EXPECT_TRUE(reg->params("r1").at("train.text").is_string());
  reg->set_params("r1", {{"train.kl_coef", 0.1}});  // replaces
  EXPECT_EQ(reg->params("r1").size(), 1u);
  EXPECT_EQ(raw_query(db_, "SELECT value_num FROM params WHERE key = 'train.kl_coef'"), "0.1");
  try {
    reg->set_params("missing-run", {{"a", 1}});  // foreign key
    FAIL() << "params of a missing run accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::Io);
    EXPECT_NE(std::string(e.what()).find(db_.string()), std::string::npos) << e.what();
  }

  NodeRunRecord nr = make_node_run("r1", "train", "failed");
  nr.reason = "signal 9";
  nr.signal = 9;
  nr.started = 1002;
  nr.attempts = 2;
  reg->upsert_node_run(nr);
  reg->upsert_node_run(make_node_run("r1", "eval", "skipped"));
  nr.reason = "killed";
  reg->upsert_node_run(nr);
  const auto nodes = reg->node_runs("r1");
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0].node, "train");  // insertion order survives updates
  EXPECT_EQ(nodes[0].reason, "killed");
  EXPECT_EQ(nodes[0].signal, 9);
  EXPECT_FALSE(nodes[0].exit_code);
  EXPECT_EQ(nodes[0].attempts, 2);
  EXPECT_EQ(nodes[0].finished, 0);
  EXPECT_EQ(nodes[0].cache_key, "ck-r1-train");

  EXPECT_FALSE(reg->has_metrics("ck-train"));
  reg->append_metrics({{"ck-train", 0, "loss", 2.0, 10}, {"ck-train", 1, "loss", 1.5, 11},
                       {"ck-train", 0, "reward", 0.1, 10}, {"ck-train", 1, "reward", NAN, 11}});
  EXPECT_TRUE(reg->has_metrics("ck-train"));
  const auto all = reg->metrics("ck-train");
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[1].key, "loss");
  EXPECT_EQ(all[1].step, 1);
  EXPECT_EQ(all[1].value, 1.5);
  EXPECT_TRUE(std::isnan(all[3].value));
  const auto loss = reg->metrics("ck-train", {"loss"});
  ASSERT_EQ(loss.size(), 2u);
  EXPECT_EQ(loss[0].time, 10);

  EXPECT_FALSE(reg->has_metrics("ck-eval"));
  reg->set_summaries("ck-eval", {{"accuracy", 0.75}, {"f1", 0.5}});
  EXPECT_TRUE(reg->has_metrics("ck-eval"));
  reg->set_summaries("ck-eval", {{"accuracy", 0.8}});  // replaces
  EXPECT_EQ(reg->summaries("ck-eval"), (std::map<std::string, double>{{"accuracy", 0.8}}));

  ASSERT_TRUE(reg->get_sweep("sw1"));
  EXPECT_EQ(reg->get_sweep("grid")->id, "sw1");
  EXPECT_EQ(reg->list_sweeps().size(), 1u);
  EXPECT_FALSE(reg->get_sweep("other"));
  EXPECT_EQ(reg->integrity_check(), "ok");
}

TEST_P(RegistryTest, PrefixLookup) {
  auto reg = Registry::open(db_, OpenMode::ReadWrite);
  for (const char* id : {"abc123", "abd456", "abc789", "ff", "ffe"}) reg->upsert_run(make_run(id));
  EXPECT_EQ(reg->get_run("abd")->id, "abd456");
  EXPECT_EQ(reg->get_run("abc7")->id, "abc789");
  EXPECT_EQ(reg->get_run("abc123")->id, "abc123");
  EXPECT_EQ(reg->get_run("ff")->id, "ff");  // exact beats longer ids
  EXPECT_FALSE(reg->get_run("zz"));
  EXPECT_FALSE(reg->get_run(""));
  try {
    reg->get_run("abc");
    FAIL() << "ambiguous prefix accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::BadInput);
    EXPECT_NE(std::string(e.what()).find("abc123"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("abc789"), std::string::npos) << e.what();
  }
}

TEST_P(RegistryTest, ReadOnly) {
  try {
    Registry::open(db_, OpenMode::ReadOnly);
    FAIL() << "opened a missing database";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::Io);
    EXPECT_NE(std::string(e.what()).find(db_.string()), std::string::npos) << e.what();
  }
  if (!is_url(db_)) {
    EXPECT_FALSE(fs::exists(db_));
  }

  Registry::open(db_, OpenMode::ReadWrite)->upsert_run(make_run("r1"));
  auto ro = Registry::open(db_, OpenMode::ReadOnly);
  EXPECT_EQ(ro->get_run("r1")->name, "trial-r1");
  EXPECT_THROW(ro->upsert_run(make_run("r2")), Error);
  for (const char* sql : {"INSERT INTO meta(key, value) VALUES ('x', 'y')", "DELETE FROM runs",
                          "WITH d AS (DELETE FROM runs RETURNING id) SELECT * FROM d", "DROP TABLE runs"}) {
    try {
      run_readonly_sql(*ro, sql);
      ADD_FAILURE() << "registry sql ran " << sql;
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::BadInput) << e.what();
    }
  }
  EXPECT_EQ(to_text(run_readonly_sql(*ro, "SELECT name FROM runs WHERE id = ?1", {"r1"}).rows.at(0).at(0)),
            "trial-r1");
  EXPECT_EQ(ro->list_runs().size(), 1u);
}

TEST_P(RegistryTest, MigratesV1InPlaceWithBackup) {
  if (!is_url(db_)) fs::create_directories(db_.parent_path());
  // A v1 registry built by hand, in the backend's dialect.
  auto ddl = [&](std::string_view sql) {
    return is_url(db_) ? detail::dialect::postgres_ddl(sql) : std::string(sql);
  };
  raw_query(db_, ddl(schema_v1_sql()));
  raw_query(db_, R"sql(
    INSERT INTO sweeps(id, name, config_json, created, updated) VALUES ('sw', 'old', '{}', 1, 1);
    INSERT INTO runs(id, sweep_id, name, status, created, seed, config_json)
      VALUES ('old-run', 'sw', 'legacy', 'done', 5, 3, '{"a":1}');
    INSERT INTO params VALUES ('old-run', 'train.lr', 'number', '0.001', 0.001);
    INSERT INTO node_runs(run_id, node, cache_key, status, exit_code) VALUES ('old-run', 'train', 'ck', 'done', 0);
    INSERT INTO metrics VALUES ('ck', 1, 'loss', 0.5, 9);)sql");

  auto reg = Registry::open(db_, OpenMode::ReadWrite);
  EXPECT_EQ(reg->schema_version(), 2);
  if (!is_url(db_)) {  // PostgreSQL migrates in one transaction, without a backup file
    fs::path backup = db_;
    backup += ".bak-v1";
    ASSERT_TRUE(fs::exists(backup));
    EXPECT_EQ(raw_query(backup, "SELECT value FROM meta WHERE key = 'schema_version'"), "1");
    EXPECT_EQ(raw_query(backup, "SELECT name FROM runs"), "legacy");
  }

  const auto run = reg->get_run("old");
  ASSERT_TRUE(run);
  EXPECT_EQ(run->name, "legacy");
  EXPECT_EQ(run->config, Json({{"a", 1}}));
  EXPECT_EQ(run->env, Json::object());
  EXPECT_EQ(run->reason, "");
  EXPECT_EQ(reg->params("old-run").at("train.lr"), 0.001);
  EXPECT_EQ(reg->node_runs("old-run").at(0).attempts, 0);
  EXPECT_EQ(reg->node_runs("old-run").at(0).exit_code, 0);
  EXPECT_EQ(reg->metrics("ck").size(), 1u);
  RunRecord updated = *run;
  updated.env = {{"git", "abc"}};
  reg->upsert_run(updated);
  EXPECT_EQ(reg->get_run("old-run")->env, updated.env);
  EXPECT_EQ(reg->integrity_check(), "ok");
  reg.reset();
  EXPECT_EQ(Registry::open(db_, OpenMode::ReadOnly)->schema_version(), 2);
}

TEST_P(RegistryTest, RefusesNewerAndForeignDatabases) {
  Registry::open(db_, OpenMode::ReadWrite).reset();
  raw_query(db_, "UPDATE meta SET value = '3' WHERE key = 'schema_version'");
  for (OpenMode mode : {OpenMode::ReadWrite, OpenMode::ReadOnly}) {
    try {
      Registry::open(db_, mode);
      FAIL() << "opened a newer database";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_EQ(e.category(), ErrorCategory::Io);
      EXPECT_NE(msg.find(db_.string()), std::string::npos) << msg;
      EXPECT_NE(msg.find("version 3"), std::string::npos) << msg;
      EXPECT_NE(msg.find("up to 2"), std::string::npos) << msg;
    }
  }
  if (!is_url(db_)) fs::create_directories(dir_);
  const fs::path foreign = another("foreign.db");
  raw_query(foreign, "CREATE TABLE t(x INTEGER)");
  EXPECT_THROW(Registry::open(foreign, OpenMode::ReadWrite), Error);
}

TEST_P(RegistryTest, ReingestCreatesNoDuplicates) {
  auto reg = Registry::open(db_, OpenMode::ReadWrite);
  std::vector<MetricPoint> points;
  for (int step = 0; step < 100; ++step) points.push_back({"ck", step, "loss", 1.0 / (step + 1), double(step)});
  reg->append_metrics(points);
  reg->append_metrics(points);
  points[5].value = 42;
  reg->append_metrics({points[5]});
  EXPECT_EQ(raw_query(db_, "SELECT count(*) FROM metrics"), "100");
  EXPECT_EQ(reg->metrics("ck", {"loss"}).at(5).value, 42);
  // The same point twice in one batch (and more rows than one statement
  // takes): the later one wins.
  std::vector<MetricPoint> batch;
  for (int step = 0; step < 450; ++step) batch.push_back({"ck2", step % 300, "loss", double(step), 1.0});
  reg->append_metrics(batch);
  const auto stored = reg->metrics("ck2", {"loss"});
  ASSERT_EQ(stored.size(), 300u);
  EXPECT_EQ(stored.at(10).value, 310);
  EXPECT_EQ(stored.at(200).value, 200);
}

// batch(): the writes land together or not at all, and the batch's own
// reads see them before they land.
TEST_P(RegistryTest, ABatchIsOneTransaction) {
  auto reg = Registry::open(db_, OpenMode::ReadWrite);
  reg->batch("two runs", [&] {
    reg->upsert_run(make_run("r1"));
    reg->upsert_node_run(make_node_run("r1", "train", "running"));
    EXPECT_TRUE(reg->get_run("r1"));  // this connection, inside the transaction
    EXPECT_EQ(raw_query(db_, "SELECT count(*) FROM runs"), "0");  // another connection: not yet
    reg->batch("nested", [&] { reg->upsert_run(make_run("r2")); });
  });
  EXPECT_EQ(raw_query(db_, "SELECT count(*) FROM runs"), "2");
  EXPECT_EQ(raw_query(db_, "SELECT count(*) FROM node_runs"), "1");

  // A failing write fails the whole batch: r3 is not recorded.
  try {
    reg->batch("a run and a status of an unknown run", [&] {
      reg->upsert_run(make_run("r3"));
      reg->set_run_status("no-such-run", "done", "", 1.0);
    });
    ADD_FAILURE() << "the batch did not fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no-such-run"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(reg->get_run("r3"));
  reg->upsert_run(make_run("r3"));  // the connection is usable again, outside any batch
  EXPECT_EQ(raw_query(db_, "SELECT count(*) FROM runs"), "3");
}

std::string query_plan(const fs::path& file, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &st, nullptr), SQLITE_OK);
  std::string plan;
  while (sqlite3_step(st) == SQLITE_ROW) plan += reinterpret_cast<const char*>(sqlite3_column_text(st, 3));
  sqlite3_finalize(st);
  sqlite3_close(db);
  return plan;
}

// The query shapes of docs/registry.md use the primary key, not a scan.
TEST_P(RegistrySqliteTest, MetricQueriesUseThePrimaryKey) {
  Registry::open(db_, OpenMode::ReadWrite).reset();
  EXPECT_NE(query_plan(db_, "SELECT cache_key, value FROM metrics WHERE key = 'k' AND step = 5")
                .find("ANY(cache_key) AND key=? AND step=?"),
            std::string::npos);
  EXPECT_NE(query_plan(db_, "SELECT value FROM metrics WHERE cache_key = 'c' AND key = 'k'")
                .find("PRIMARY KEY (cache_key=? AND key=?)"),
            std::string::npos);
}

// Writes `runs` runs, each with params, a node run and 4 metric points, in
// many short transactions.
void write_runs(const fs::path& db, const std::string& prefix, int runs) {
  auto reg = Registry::open(db, OpenMode::ReadWrite);
  for (int i = 0; i < runs; ++i) {
    RunRecord r;
    r.id = prefix + "-" + std::to_string(i);
    r.status = "running";
    reg->upsert_run(r);
    reg->set_params(r.id, {{"train.i", i}, {"train.who", prefix}});
    reg->upsert_node_run(make_node_run(r.id, "train", "done"));
    std::vector<MetricPoint> points;
    for (int step = 0; step < 4; ++step) points.push_back({"ck-" + r.id, step, "loss", double(i), double(step)});
    reg->append_metrics(points);
    reg->set_run_status(r.id, "done", "", 1);
  }
}

TEST_P(RegistryTest, ConcurrentWriterProcesses) {
  // The children also race to create the database.
  constexpr int kChildren = 4;
  const int kRuns = is_url(db_) ? 150 : 500;  // a PostgreSQL transaction costs a round trip
  std::vector<pid_t> children;
  for (int c = 0; c < kChildren; ++c) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int code = 0;
      try {
        write_runs(db_, "p" + std::to_string(c), kRuns);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "child %d: %s\n", c, e.what());
        code = 1;
      }
      std::fflush(stderr);
      ::_exit(code);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "a writer process failed";
  }
  auto reg = Registry::open(db_, OpenMode::ReadOnly);
  EXPECT_EQ(reg->list_runs().size(), size_t(kChildren * kRuns));
  EXPECT_EQ(raw_query(db_, "SELECT count(*) FROM runs WHERE status = 'done'"), std::to_string(kChildren * kRuns));
  EXPECT_EQ(raw_query(db_, "SELECT count(*) FROM params"), std::to_string(2 * kChildren * kRuns));
  EXPECT_EQ(raw_query(db_, "SELECT count(*) FROM node_runs"), std::to_string(kChildren * kRuns));
  EXPECT_EQ(raw_query(db_, "SELECT count(*) FROM metrics"), std::to_string(4 * kChildren * kRuns));
  EXPECT_EQ(reg->integrity_check(), "ok");
}

TEST_P(RegistryTest, ConcurrentWriterThreads) {
  constexpr int kThreads = 4, kRuns = 100;
  Registry::open(db_, OpenMode::ReadWrite).reset();
  std::vector<std::thread> threads;
  std::vector<std::string> errors(kThreads + 1);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        write_runs(db_, "t" + std::to_string(t), kRuns);  // a connection per thread
      } catch (const std::exception& e) {
        errors[t] = e.what();
      }
    });
  }
  // ... and two threads sharing one Registry (its mutex serializes them).
  auto shared = Registry::open(db_, OpenMode::ReadWrite);
  std::thread a([&] {
    for (int i = 0; i < kRuns; ++i) shared->upsert_run(make_run("shared-a" + std::to_string(i)));
  });
  try {
    for (int i = 0; i < kRuns; ++i) shared->upsert_run(make_run("shared-b" + std::to_string(i)));
  } catch (const std::exception& e) {
    errors[kThreads] = e.what();
  }
  a.join();
  for (auto& t : threads) t.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  EXPECT_EQ(shared->list_runs().size(), size_t(kThreads * kRuns + 2 * kRuns));
  EXPECT_EQ(raw_query(db_, "SELECT count(*) FROM metrics"), std::to_string(4 * kThreads * kRuns));
  EXPECT_EQ(shared->integrity_check(), "ok");
}

// A write waits (busy_timeout) for a lock held by another connection.
TEST_P(RegistrySqliteTest, WaitsForAnotherWriter) {
  auto reg = Registry::open(db_, OpenMode::ReadWrite);
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(db_.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::thread release([other] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr);
  });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_NO_THROW(reg->upsert_run(make_run("r1")));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(250));
  release.join();
  sqlite3_close(other);
  EXPECT_TRUE(reg->get_run("r1"));
}

// Wall and CPU (user + system) seconds of fn(). On a shared box the CPU time
// is what the code costs; the wall time also counts the neighbours.
template <class F>
std::pair<double, double> timed(F&& fn) {
  const auto wall = std::chrono::steady_clock::now();
  const std::clock_t cpu = std::clock();
  fn();
  return {std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count(),
          double(std::clock() - cpu) / CLOCKS_PER_SEC};
}

// 1M points: ingest rate and the query shapes of docs/registry.md.
// Timing-sensitive, so opt-in: MSTAR_REGISTRY_BENCH=1. Asserts on CPU time.
TEST_P(RegistrySqliteTest, MetricsThroughput) {
  if (!std::getenv("MSTAR_REGISTRY_BENCH")) GTEST_SKIP() << "set MSTAR_REGISTRY_BENCH=1 to run";
  auto reg = Registry::open(db_, OpenMode::ReadWrite);
  constexpr int kNodes = 100, kKeys = 10, kSteps = 1000, kBatch = 10'000, kPoints = kNodes * kKeys * kSteps;
  std::vector<MetricPoint> batch;
  const auto [ingest_wall, ingest_cpu] = timed([&] {
    for (int n = 0; n < kNodes; ++n) {
      const std::string ck = "ck-" + std::to_string(n) + "-0123456789abcdef0123456789abcdef";
      for (int s = 0; s < kSteps; ++s) {
        for (int k = 0; k < kKeys; ++k) batch.push_back({ck, s, "metric/" + std::to_string(k), s * 0.001 + k, 1.0 * s});
        if (batch.size() < kBatch) continue;
        reg->append_metrics(batch);
        batch.clear();
      }
    }
  });
  std::printf("ingest: %.0f points/s (wall), %.0f points/s (cpu)\n", kPoints / ingest_wall, kPoints / ingest_cpu);
  EXPECT_GE(kPoints / ingest_cpu, 200'000);
  reg.reset();
  sqlite3* ro = nullptr;  // read-only, as the query engine opens it
  ASSERT_EQ(sqlite3_open_v2(db_.c_str(), &ro, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);

  auto time_query = [&](const char* sql) {
    int rows = 0;
    const auto [wall, cpu] = timed([&] {
      sqlite3_stmt* st = nullptr;
      EXPECT_EQ(sqlite3_prepare_v2(ro, sql, -1, &st, nullptr), SQLITE_OK);
      while (sqlite3_step(st) == SQLITE_ROW) ++rows;
      sqlite3_finalize(st);
    });
    std::printf("%.1f ms wall, %.1f ms cpu, %d rows: %s\n", wall * 1e3, cpu * 1e3, rows, sql);
    return cpu * 1e3;
  };
  EXPECT_LT(time_query("SELECT cache_key, key, max(value) FROM metrics GROUP BY cache_key, key"), 250);
  EXPECT_LT(time_query("SELECT cache_key, max(value) FROM metrics WHERE key = 'metric/3' GROUP BY cache_key"), 250);
  EXPECT_LT(time_query("SELECT cache_key, value FROM metrics WHERE key = 'metric/3' AND step = 500"), 50);
  sqlite3_close(ro);
}

INSTANTIATE_TEST_SUITE_P(Backends, RegistryTest, ::testing::Values(Backend::Sqlite, Backend::Postgres),
                         testing::backend_name);
INSTANTIATE_TEST_SUITE_P(Sqlite, RegistrySqliteTest, ::testing::Values(Backend::Sqlite), testing::backend_name);

}  // namespace
}  // namespace mstar::registry
