#include "serve/api.h"

#include <cmath>
#include <set>

#include "mstar/error.h"
#include "mstar/registry/report.h"
#include "serve/api_internal.h"
#include "serve/assets.h"

namespace mstar::serve {

namespace detail {

registry::Registry& Context::registry() {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& conn = connections_[std::this_thread::get_id()];
  if (!conn) conn = registry::Registry::open(options_.registry, registry::OpenMode::ReadOnly);
  return *conn;
}

Json to_json(const registry::Value& v) {
  if (std::holds_alternative<bool>(v)) return std::get<bool>(v);
  if (std::holds_alternative<double>(v)) {
    const double d = std::get<double>(v);
    return std::isfinite(d) ? Json(d) : Json();
  }
  if (std::holds_alternative<std::string>(v)) return std::get<std::string>(v);
  return Json();
}

Response json_response(const Json& body) {
  Response r;
  r.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
  r.headers["Cache-Control"] = "no-store";
  return r;
}

Response error_response(int status, const std::string& message) {
  Response r = json_response(Json{{"error", message}});
  r.status = status;
  return r;
}

std::string param(const Request& req, const std::string& key, const std::string& fallback) {
  const auto it = req.query.find(key);
  return it == req.query.end() ? fallback : it->second;
}

}  // namespace detail

namespace {

using namespace detail;

// Every sweep's trials and node instances, newest trial first, in one
// statement (the schema is docs/registry.md's public contract) instead of a
// node_runs query per trial on every poll.
constexpr const char* kProgressSql =
    "SELECT r.sweep_id, r.id, r.status, n.cache_key, n.status FROM runs r "
    "LEFT JOIN node_runs n ON n.run_id = r.id WHERE r.sweep_id IS NOT NULL "
    "ORDER BY r.created DESC, r.id, n.node";

// Every sweep with its trials and node instances counted by state: the
// progress bars, polled while `mstar run` writes.
Response sweeps(Context& ctx) {
  auto& reg = ctx.registry();
  struct Progress {
    std::map<std::string, size_t> trials, nodes;
    std::set<std::string> runs, instances;
  };
  std::map<std::string, Progress> progress;
  for (const auto& row : registry::run_readonly_sql(reg, kProgressSql).rows) {
    auto& p = progress[registry::to_text(row[0])];
    if (p.runs.insert(registry::to_text(row[1])).second) ++p.trials[registry::to_text(row[2])];
    // A node instance shared by several trials is one piece of work.
    if (!registry::is_missing(row[3]) && p.instances.insert(registry::to_text(row[3])).second)
      ++p.nodes[registry::to_text(row[4])];
  }
  Json out = Json::array();
  for (const auto& s : reg.list_sweeps()) {
    const auto& p = progress[s.id];
    out.push_back({{"id", s.id},
                   {"name", s.name},
                   {"created", s.created},
                   {"updated", s.updated},
                   {"trials", p.trials},
                   {"nodes", p.nodes},
                   {"instances", p.instances.size()}});
  }
  return json_response(out);
}

std::vector<std::string> targets_of(const Request& req) {
  const std::string t = param(req, "target");
  if (t.empty()) return {};
  return {t};
}

// The trial table: results_table over the selected runs, filtered with the
// results expression language (`where`).
Response runs(Context& ctx, const Request& req) {
  const registry::Filter filter = registry::Filter::parse(param(req, "where"), "where");
  registry::Results res(ctx.registry(), targets_of(req), filter);
  registry::TableSpec spec;
  const registry::Table table = registry::results_table(res, spec);
  Json rows = Json::array();
  for (const auto& row : table.rows) {
    Json r = Json::array();
    for (const auto& v : row) r.push_back(to_json(v));
    rows.push_back(std::move(r));
  }
  Json ids = Json::array();
  for (const auto& r : res.runs()) ids.push_back(r.id);
  return json_response({{"columns", table.columns}, {"rows", rows}, {"run_ids", ids}});
}

// The trial table pivoted: one row per value of `rows` (a param; none: one
// row), one column per value of `columns`, each cell the mean ± 95% CI of
// `metric` over the seeds there (results_table's pivot, as `mstar results
// --pivot`).
Response pivot(Context& ctx, const Request& req) {
  registry::Results res(ctx.registry(), targets_of(req), registry::Filter::parse(param(req, "where"), "where"));
  registry::TableSpec spec;
  spec.pivot = param(req, "columns");
  if (spec.pivot.empty()) return error_response(400, "pivot: give columns=PARAM");
  if (const std::string rows = param(req, "rows"); !rows.empty()) spec.group_by = {rows};
  if (const std::string metric = param(req, "metric"); !metric.empty()) spec.metrics = {metric};
  spec.aggs = {registry::Agg::Mean, registry::Agg::Ci95, registry::Agg::Count};
  spec.text_cells = true;
  const registry::Table table = registry::results_table(res, spec);
  Json rows = Json::array();
  for (const auto& row : table.rows) {
    Json r = Json::array();
    for (const auto& v : row) r.push_back(to_json(v));
    rows.push_back(std::move(r));
  }
  return json_response({{"columns", table.columns}, {"rows", rows}});
}

// The series the selected runs logged (NODE.KEY), for the curve picker; the
// swept params and the summaries, for the pivot's pickers.
Response series(Context& ctx, const Request& req) {
  registry::Results res(ctx.registry(), targets_of(req), registry::Filter::parse(param(req, "where"), "where"));
  Json keys = Json::array();
  for (const auto& [node, key] : res.series_keys()) keys.push_back(node + "." + key);
  Json axes = Json::array();
  for (const auto& f : res.varying_params(false)) axes.push_back(f.label());
  Json metrics = Json::array();
  for (const auto& f : res.summary_fields()) metrics.push_back(f.label());
  return json_response({{"keys", keys}, {"axes", axes}, {"metrics", metrics}});
}

// Learning curves overlaid across runs (curve_chart): smoothed, and with
// `seeds=mean` one line per setting of the swept params with its 95% CI band.
Response curves(Context& ctx, const Request& req) {
  registry::Results res(ctx.registry(), targets_of(req), registry::Filter::parse(param(req, "where"), "where"));
  registry::CurveSpec spec;
  spec.keys = {param(req, "key")};
  if (spec.keys[0].empty()) return error_response(400, "curves: give key=NODE.KEY");
  const std::string smooth = param(req, "smooth", "0");
  try {
    spec.smooth = std::stod(smooth);
  } catch (const std::exception&) {
    return error_response(400, "smooth: expected a number in [0, 1), got '" + smooth + "'");
  }
  if (!(spec.smooth >= 0 && spec.smooth < 1))
    return error_response(400, "smooth: expected a number in [0, 1), got '" + smooth + "'");
  if (param(req, "seeds") == "mean") {
    for (const auto& f : res.varying_params(false)) spec.group.push_back(f.name());
    if (spec.group.empty()) spec.group.push_back("sweep");  // only seeds vary: one mean line
  }
  const auto chart = registry::curve_chart(res, spec);
  Json out = Json::array();
  for (const auto& s : chart.series) {
    Json points = Json::array();
    for (size_t i = 0; i < s.x.size(); ++i) {
      Json p = {{"x", s.x[i]}, {"y", std::isfinite(s.y[i]) ? Json(s.y[i]) : Json()}};
      if (i < s.lo.size() && std::isfinite(s.lo[i]) && std::isfinite(s.hi[i])) {
        p["lo"] = s.lo[i];
        p["hi"] = s.hi[i];
      }
      points.push_back(std::move(p));
    }
    out.push_back({{"label", s.label}, {"points", points}});
  }
  return json_response({{"title", chart.title}, {"y_label", chart.y_label}, {"series", out}});
}

Response route(Context& ctx, const Request& req) {
  const std::string& p = req.path;
  if (p.starts_with("/api/")) {
    if (p == "/api/sweeps") return sweeps(ctx);
    if (p == "/api/runs") return runs(ctx, req);
    if (p == "/api/series") return series(ctx, req);
    if (p == "/api/pivot") return pivot(ctx, req);
    if (p == "/api/curves") return curves(ctx, req);
    if (p == "/api/run") return run_detail(ctx, req);
    if (p == "/api/diff") return run_diff(ctx, req);
    if (p == "/api/rollouts") return rollouts(ctx, req);
    if (p == "/api/file") return store_file(ctx, req);
    return error_response(404, "no endpoint " + p + " (see docs/serve.md)");
  }
  if (const Asset* a = find_asset(p)) {
    Response r;
    r.content_type = std::string(a->content_type);
    r.body = std::string(a->data);
    return r;
  }
  Response r;
  r.status = 404;
  r.content_type = "text/plain; charset=utf-8";
  r.body = "not found\n";
  return r;
}

}  // namespace

Handler make_handler(const ApiOptions& options) {
  // Fails here, before listening, when the registry is missing or not one.
  registry::Registry::open(options.registry, registry::OpenMode::ReadOnly);
  auto ctx = std::make_shared<Context>(options);
  return [ctx](const Request& req) {
    try {
      return route(*ctx, req);
    } catch (const Error& e) {
      return error_response(e.is_bad_input() ? 400 : 500, e.what());
    }
  };
}

}  // namespace mstar::serve
