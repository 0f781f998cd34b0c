// One run's page (params, nodes, lineage), two runs side by side, the
// rollout browser, and the files it shows, read only from the artifact store.
#include <fstream>
#include <set>

#include "mstar/error.h"
#include "serve/api_internal.h"

namespace mstar::serve {

namespace fs = std::filesystem;

std::optional<fs::path> confined_file(const fs::path& root, const std::string& relative) {
  const fs::path rel(relative);
  if (relative.empty() || rel.is_absolute() || rel.has_root_name()) return std::nullopt;
  std::error_code ec;
  // canonical() resolves every symlink and `..`, so what is compared is where
  // the bytes really are.
  const fs::path base = fs::canonical(root, ec);
  if (ec) return std::nullopt;
  const fs::path file = fs::canonical(base / rel, ec);
  if (ec || !fs::is_regular_file(file, ec)) return std::nullopt;
  const auto [b, f] = std::mismatch(base.begin(), base.end(), file.begin(), file.end());
  if (b != base.end()) return std::nullopt;
  return file;
}

namespace detail {

namespace {

constexpr const char* kRolloutsFile = "rollouts.jsonl";
constexpr size_t kMaxRolloutBytes = 32 << 20;

registry::RunRecord find_run(registry::Registry& reg, const std::string& id) {
  if (id.empty()) throw_bad_input("give run=ID");
  auto run = reg.get_run(id);
  if (!run) throw_bad_input("no run '" + id + "'");
  return *run;
}

// The store-relative path of `p` when it lies inside the store; "" otherwise.
std::string store_relative(const fs::path& store, const fs::path& p) {
  std::error_code ec;
  const fs::path base = fs::weakly_canonical(store, ec);
  const fs::path full = fs::weakly_canonical(p, ec);
  if (ec) return "";
  const auto [b, f] = std::mismatch(base.begin(), base.end(), full.begin(), full.end());
  if (b != base.end()) return "";
  return full.lexically_relative(base).generic_string();
}

}  // namespace

// The run, its params and every node: plugin, state, summaries, artifact and
// the nodes it read from (the lineage: world -> base -> GRPO -> evaluation).
Response run_detail(Context& ctx, const Request& req) {
  auto& reg = ctx.registry();
  const auto run = find_run(reg, param(req, "id"));
  const auto node_runs = reg.node_runs(run.id);
  std::map<std::string, std::string> node_of_key;
  for (const auto& n : node_runs) node_of_key[n.cache_key] = n.node;
  const Json cfg = run.config.value("nodes", Json::object());
  Json nodes = Json::array();
  for (const auto& n : node_runs) {
    Json inputs = Json::object();
    if (cfg.contains(n.node) && cfg[n.node].contains("inputs"))
      for (const auto& [name, ref] : cfg[n.node]["inputs"].items()) {
        // "KEY" or "KEY/OUTPUT": the upstream instance, named by its node here.
        const std::string key = ref.get<std::string>().substr(0, ref.get<std::string>().find('/'));
        inputs[name] = node_of_key.count(key) ? node_of_key[key] : key;
      }
    std::error_code ec;
    const bool has_rollouts =
        !n.artifact_path.empty() && fs::is_regular_file(fs::path(n.artifact_path) / kRolloutsFile, ec);
    nodes.push_back({{"node", n.node},
                     {"plugin", n.plugin},
                     {"version", n.plugin_version},
                     {"status", n.status},
                     {"reason", n.reason},
                     {"cache_key", n.cache_key},
                     {"artifact", n.artifact_path},
                     {"started", n.started},
                     {"finished", n.finished},
                     {"attempts", n.attempts},
                     {"inputs", inputs},
                     {"rollouts", has_rollouts},
                     {"summaries", reg.summaries(n.cache_key)}});
  }
  Json params = Json::object();
  for (const auto& [k, v] : reg.params(run.id)) params[k] = v;
  return json_response({{"id", run.id},
                        {"sweep", run.sweep_id},
                        {"name", run.name},
                        {"status", run.status},
                        {"reason", run.reason},
                        {"seed", run.seed},
                        {"created", run.created},
                        {"started", run.started},
                        {"finished", run.finished},
                        {"params", params},
                        {"nodes", nodes}});
}

// Two runs side by side: every param and every summary of both.
Response run_diff(Context& ctx, const Request& req) {
  auto& reg = ctx.registry();
  const auto a = find_run(reg, param(req, "a")), b = find_run(reg, param(req, "b"));
  const auto pa = reg.params(a.id), pb = reg.params(b.id);
  std::set<std::string> keys;
  for (const auto& [k, v] : pa) keys.insert(k);
  for (const auto& [k, v] : pb) keys.insert(k);
  Json params = Json::array();
  for (const auto& k : keys) {
    const Json va = pa.count(k) ? pa.at(k) : Json(), vb = pb.count(k) ? pb.at(k) : Json();
    params.push_back({{"key", k}, {"a", va}, {"b", vb}, {"differs", va != vb}});
  }
  std::map<std::string, std::pair<Json, Json>> metrics;
  for (const auto& n : reg.node_runs(a.id))
    for (const auto& [k, v] : reg.summaries(n.cache_key)) metrics[n.node + "." + k].first = v;
  for (const auto& n : reg.node_runs(b.id))
    for (const auto& [k, v] : reg.summaries(n.cache_key)) metrics[n.node + "." + k].second = v;
  Json m = Json::array();
  for (const auto& [k, v] : metrics) m.push_back({{"metric", k}, {"a", v.first}, {"b", v.second}});
  auto head = [](const registry::RunRecord& r) {
    return Json{{"id", r.id}, {"name", r.name}, {"status", r.status}, {"seed", r.seed}};
  };
  return json_response({{"a", head(a)}, {"b", head(b)}, {"params", params}, {"metrics", m}});
}

// The groups a GRPO node logged (rollouts.jsonl in its artifact, written by
// plugins/algorithms/rollout_log.cpp), with each image turned into a URL of
// /api/file when it lies in the store.
Response rollouts(Context& ctx, const Request& req) {
  auto& reg = ctx.registry();
  const auto run = find_run(reg, param(req, "run"));
  const std::string node = param(req, "node");
  for (const auto& n : reg.node_runs(run.id)) {
    if (n.node != node) continue;
    if (n.artifact_path.empty()) throw_bad_input("node '" + node + "' has no artifact yet (" + n.status + ")");
    const fs::path file = fs::path(n.artifact_path) / kRolloutsFile;
    std::ifstream in(file);
    if (!in) throw_bad_input("node '" + node + "' logged no rollouts (" + file.string() + " is missing)");
    Json groups = Json::array();
    // A resumed run logs the steps after its checkpoint again: the last line of a (step, group) wins.
    std::map<std::pair<int64_t, int64_t>, size_t> index;
    std::string line;
    size_t bytes = 0;
    while (std::getline(in, line) && (bytes += line.size()) < kMaxRolloutBytes) {
      Json g = Json::parse(line, nullptr, false);
      if (g.is_discarded() || !g.is_object()) continue;  // a torn last line
      const std::string image = g.value("image", "");
      g["image_url"] = "";
      if (image.starts_with("data:image/")) {
        g["image_url"] = image;
      } else if (!image.empty()) {
        // Relative to the artifact (rollout_log.cpp); store_relative confines it.
        const fs::path abs = fs::path(image).is_absolute() ? fs::path(image) : fs::path(n.artifact_path) / image;
        const std::string rel = store_relative(ctx.options().store, abs.string());
        if (!rel.empty()) g["image_url"] = "/api/file?path=" + rel;
      }
      const auto at = std::make_pair(g.value("step", int64_t{0}), g.value("group", int64_t{0}));
      if (const auto it = index.find(at); it != index.end()) {
        groups[it->second] = std::move(g);
        continue;
      }
      index[at] = groups.size();
      groups.push_back(std::move(g));
    }
    return json_response({{"run", run.id}, {"node", node}, {"groups", groups}});
  }
  throw_bad_input("run " + run.id + " has no node '" + node + "'");
}

// An image from the artifact store: path is store-relative; anything that
// resolves outside the store (`..`, absolute, a symlink out) is refused.
Response store_file(Context& ctx, const Request& req) {
  const std::string rel = param(req, "path");
  static const std::map<std::string, std::string> kTypes = {
      {".png", "image/png"}, {".jpg", "image/jpeg"}, {".jpeg", "image/jpeg"},
      {".gif", "image/gif"}, {".webp", "image/webp"}, {".bmp", "image/bmp"}};
  const auto file = confined_file(ctx.options().store, rel);
  if (!file) return error_response(404, "no such file in the artifact store: " + rel);
  std::string ext = file->extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto type = kTypes.find(ext);
  if (type == kTypes.end()) return error_response(403, "only images are served from the store: " + rel);
  std::ifstream in(*file, std::ios::binary);
  Response r;
  r.content_type = type->second;
  r.body.assign(std::istreambuf_iterator<char>(in), {});
  return r;
}

}  // namespace detail

}  // namespace mstar::serve
