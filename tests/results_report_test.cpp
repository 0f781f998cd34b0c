// The HTML report rendered by headless Chromium (not blank, no console
// errors), and two `mstar run` hosts writing one registry at once.
#include <chrono>
#include <cmath>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#include <stb/stb_image.h>

#include "mstar/error.h"
#include "mstar/registry/query.h"
#include "pg_server.h"
#include "results_helpers.h"

namespace mstar::testing {
namespace {

constexpr const char* kChromium = "/usr/bin/chromium";

struct Screenshot {
  int exit_code = -1;
  std::string log;                    // Chromium's stderr
  std::vector<std::string> console;   // lines of the page's console / uncaught errors
  int width = 0, height = 0;
  double luma_variance = 0, non_white = 0;
};

// Renders `page` headless into a 1200x2000 PNG and decodes it.
Screenshot screenshot(const Sandbox& sb, const fs::path& page, const std::string& tag) {
  Screenshot shot;
  const fs::path png = sb.dir() / (tag + ".png"), err = sb.dir() / (tag + ".chromium.log");
  bp::child c(kChromium,
              bp::args(std::vector<std::string>{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run",
                        "--user-data-dir=" + (sb.dir() / (tag + ".profile")).string(), "--enable-logging=stderr",
                        "--v=0", "--screenshot=" + png.string(), "--window-size=1200,2000",
                        "file://" + fs::absolute(page).string()}),
              bp::std_out > bp::null, bp::std_err > err.string(), bp::std_in.close());
  if (!c.wait_for(std::chrono::seconds(90))) {
    c.terminate();
    ADD_FAILURE() << "chromium did not finish in 90 s";
    return shot;
  }
  shot.exit_code = c.exit_code();
  shot.log = slurp(err);
  std::istringstream lines(shot.log);
  for (std::string line; std::getline(lines, line);)
    if (line.find(":CONSOLE") != std::string::npos || line.find("Uncaught") != std::string::npos)
      shot.console.push_back(line);
  int channels = 0;
  unsigned char* pixels = stbi_load(png.c_str(), &shot.width, &shot.height, &channels, 3);
  if (!pixels) {
    ADD_FAILURE() << "no decodable screenshot at " << png << ": " << stbi_failure_reason() << "\n" << shot.log;
    return shot;
  }
  const size_t n = static_cast<size_t>(shot.width) * static_cast<size_t>(shot.height);
  double sum = 0, sum2 = 0;
  size_t non_white = 0;
  for (size_t i = 0; i < n; ++i) {
    const double y = 0.299 * pixels[3 * i] + 0.587 * pixels[3 * i + 1] + 0.114 * pixels[3 * i + 2];
    sum += y;
    sum2 += y * y;
    non_white += y < 245;
  }
  stbi_image_free(pixels);
  const double mean = sum / static_cast<double>(n);
  shot.luma_variance = sum2 / static_cast<double>(n) - mean * mean;
  shot.non_white = static_cast<double>(non_white) / static_cast<double>(n);
  return shot;
}

void require_chromium() {
  ASSERT_TRUE(fs::exists(kChromium))
      << kChromium << " is missing: the HTML report test renders the page in headless Chromium. Run "
      << "scripts/setup.sh, which installs the Debian package `chromium`.";
}

TEST(ResultsReport, RendersInHeadlessChromium) {
  ASSERT_NO_FATAL_FAILURE(require_chromium());
  Sandbox sb;
  run_metrics_sweep(sb, "rep", "{train.scale: [1, 10, 100]}", "[1, 2, 3]");
  const fs::path page = sb.dir() / "out" / "report.html";
  const CommandResult r = run_fresh(sb, {"report", "rep", "-o", page.string()});
  ASSERT_EQ(r.code(), 0) << r.out << r.err;
  const std::string html = slurp(page);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_GE(count_of(html, "<svg"), 4u) << "final_loss and value against train.scale, two learning curves";
  EXPECT_NE(html.find("train.scale (log scale)"), std::string::npos) << "1..100 spans two decades: log x";

  const Screenshot shot = screenshot(sb, page, "report");
  EXPECT_EQ(shot.exit_code, 0) << shot.log;
  EXPECT_EQ(shot.width, 1200);
  EXPECT_EQ(shot.height, 2000);
  EXPECT_GT(shot.luma_variance, 100.0) << "blank screenshot?";
  EXPECT_GT(shot.non_white, 0.01) << "blank screenshot?";
  EXPECT_TRUE(shot.console.empty()) << ::testing::PrintToString(shot.console);
}

// The console check above must be able to fail: a page with a console error
// and an uncaught exception is caught.
TEST(ResultsReport, ConsoleCheckSeesErrors) {
  ASSERT_NO_FATAL_FAILURE(require_chromium());
  Sandbox sb;
  const fs::path page = sb.write("bad.html",
                                 "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>x</title></head><body>"
                                 "<h1>bad</h1><script>console.error('boom'); notDefined();</script></body></html>");
  const Screenshot shot = screenshot(sb, page, "bad");
  ASSERT_EQ(shot.console.size(), 2u) << shot.log;
  EXPECT_NE(shot.console[0].find("boom"), std::string::npos);
  EXPECT_NE(shot.console[1].find("Uncaught ReferenceError"), std::string::npos);
}

// Two hosts run different sweeps into one MSTAR_HOME at the same time while
// this process keeps querying it: no lost rows, no "database is locked".
// That they run at the same time is forced, not hoped for: each sweep has a
// `meet` node (one instance, its seed pinned) that waits at a barrier for
// the other host's; under load the hosts' runs would otherwise not always
// overlap (this test once failed for that reason alone).
class ResultsConcurrency : public ::testing::TestWithParam<Backend> {};

TEST_P(ResultsConcurrency, TwoHostsWriteOneRegistry) {
  Sandbox sb;
  if (GetParam() == Backend::Postgres) {
    MSTAR_REQUIRE_POSTGRES();
    sb.use_registry(PostgresServer::instance().fresh_url());
  }
  constexpr int kSteps = 5000;
  const std::string barrier = (sb.dir() / "barrier").string();
  auto experiment = [&](const std::string& name, const std::string& scales) {
    return sb.write(name + ".yaml", "name: " + name + "\nseed: 1\nnodes:\n  train: {plugin: test/metrics, params: "
                                    "{steps: " + std::to_string(kSteps) + "}}\n  meet: {plugin: test/barrier, seed: 0, "
                                    "params: {dir: '" + barrier + "', name: " + name + ", timeout: 300}}\n"
                                    "sweep:\n  grid: {train.scale: " + scales + "}\n  seeds: [1, 2, 3]\n");
  };
  const fs::path a = experiment("writer-a", "[1, 2, 3, 4]"), b = experiment("writer-b", "[5, 6, 7, 8]");
  auto start = [&](const fs::path& file, const std::string& tag) {
    return bp::child(Sandbox::mstar(), bp::args(std::vector<std::string>{"run", file.string(), "-j", "2"}),
                     bp::std_out > (sb.dir() / (tag + ".out")).string(),
                     bp::std_err > (sb.dir() / (tag + ".err")).string(), bp::std_in.close(), sb.env());
  };
  bp::child ca = start(a, "a"), cb = start(b, "b");

  // A reader meanwhile: queries may see partial sweeps, never a lock error.
  const fs::path db = sb.registry_location();
  const bool postgres = GetParam() == Backend::Postgres;
  size_t queries = 0;
  std::vector<std::string> lock_errors;
  while (ca.running() || cb.running()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (!postgres && !fs::exists(db)) continue;
    try {
      auto reg = registry::Registry::open(db, registry::OpenMode::ReadOnly);
      registry::Results res(*reg, {}, registry::Filter::parse("metrics.train.loss@max > 0 or status = 'running'"));
      registry::TableSpec spec;
      spec.group_by = {"train.scale"};
      spec.metrics = {"train.loss@max", "train.final_loss"};
      registry::results_table(res, spec);
      ++queries;
    } catch (const Error& e) {
      const std::string msg = e.what();
      if (msg.find("locked") != std::string::npos || msg.find("busy") != std::string::npos)
        lock_errors.push_back(msg);
      // Otherwise the database is still being created by a writer: try again.
    }
  }
  ca.wait();
  cb.wait();
  EXPECT_TRUE(lock_errors.empty()) << ::testing::PrintToString(lock_errors);
  EXPECT_GT(queries, 0u);
  for (const char* tag : {"a", "b"}) {
    const std::string err = slurp(sb.dir() / (std::string(tag) + ".err"));
    EXPECT_EQ(err.find("database is locked"), std::string::npos) << tag << ":\n" << err;
    EXPECT_EQ(err.find("SQLITE_BUSY"), std::string::npos) << tag << ":\n" << err;
  }
  ASSERT_EQ(ca.exit_code(), 0) << slurp(sb.dir() / "a.out") << slurp(sb.dir() / "a.err");
  ASSERT_EQ(cb.exit_code(), 0) << slurp(sb.dir() / "b.out") << slurp(sb.dir() / "b.err");

  auto reg = sb.registry();
  auto scalar = [&](const std::string& sql) {
    const registry::Table t = registry::run_readonly_sql(*reg, sql);
    return std::get<double>(t.rows.at(0).at(0));
  };
  EXPECT_EQ(scalar("SELECT count(*) FROM sweeps"), 2);
  EXPECT_EQ(scalar("SELECT count(*) FROM runs WHERE status = 'done'"), 24);
  EXPECT_EQ(scalar("SELECT count(*) FROM runs"), 24);
  EXPECT_EQ(scalar("SELECT count(*) FROM node_runs WHERE status = 'done' AND node = 'train'"), 24);
  EXPECT_EQ(scalar("SELECT count(*) FROM metrics"), 24.0 * 2 * kSteps);
  EXPECT_EQ(scalar("SELECT count(*) FROM (SELECT cache_key, key FROM metrics "
                   "GROUP BY cache_key, key HAVING count(*) = " + std::to_string(kSteps) + ") AS complete"),
            48)
      << "every series complete";
  EXPECT_EQ(scalar("SELECT count(*) FROM summaries"), 48 + 2) << "train's two, and meet's value once per host";
  EXPECT_EQ(scalar("SELECT count(*) FROM params WHERE key LIKE 'train.%' OR key = 'seed'"), 24.0 * 4)
      << "train.scale, steps, seconds and seed";
  // The two hosts ran at the same time (the barrier makes it so; a host
  // that ran alone would have failed its meet node).
  const registry::Table spans = registry::run_readonly_sql(
      *reg, "SELECT min(started), max(finished) FROM runs GROUP BY sweep_id ORDER BY sweep_id");
  ASSERT_EQ(spans.rows.size(), 2u);
  const double a0 = std::get<double>(spans.rows[0][0]), a1 = std::get<double>(spans.rows[0][1]);
  const double b0 = std::get<double>(spans.rows[1][0]), b1 = std::get<double>(spans.rows[1][1]);
  EXPECT_TRUE(a0 < b1 && b0 < a1) << "no overlap: [" << a0 << ", " << a1 << "] and [" << b0 << ", " << b1 << "]";
  EXPECT_EQ(reg->integrity_check(), "ok");
  const CommandResult check = run_fresh(sb, {"registry", "check"});
  EXPECT_EQ(check.code(), 0) << check.out << check.err;
}

INSTANTIATE_TEST_SUITE_P(Backends, ResultsConcurrency, ::testing::Values(Backend::Sqlite, Backend::Postgres),
                         backend_name);

}  // namespace
}  // namespace mstar::testing
