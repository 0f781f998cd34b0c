#include "mstar/world/generator.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "mstar/artifact.h"
#include "mstar/error.h"
#include "mstar/world/statements.h"
#include "selection.h"
#include "tasks.h"

namespace mstar::world {

using data::encode_png;

namespace fs = std::filesystem;

void WorldConfig::validate() const {
  auto check = [](bool ok, const std::string& message) {
    if (!ok) throw_bad_input("implication_world: " + message);
  };
  check(image_size >= 16 && image_size <= 1024, "image_size must be in [16, 1024]");
  check(scene.glyph_size_min >= 6 && scene.glyph_size_min <= scene.glyph_size_max && scene.glyph_size_max <= 40,
        "need 6 <= glyph_size_min <= glyph_size_max <= 40 (pixels of a 64x64 frame)");
  check(statements_min >= 1 && statements_min <= statements_max,
        "need 1 <= statements_min <= statements_max");
  check(train_images >= 0 && bench_images >= 0 && lite_train_images >= 0 && lite_bench_images >= 0 &&
            pretrain_images >= 0,
        "image counts must be >= 0");
  check(pretrain_statements >= 0 && pretrain_statements <= 20, "pretrain_statements must be in [0, 20]");
  check(scene.noise >= 0 && scene.noise <= 1, "noise must be in [0, 1]");
  check(culture.culture_in_pretrain >= 0 && culture.culture_in_pretrain <= 1, "culture_in_pretrain must be in [0, 1]");
  check(scene.min_symbols == culture.min_symbols && scene.max_symbols == culture.max_symbols,
        "internal: symbols per image differ between scene and culture config");
}

Json WorldConfig::to_json() const {
  Json out{{"seed", seed},
              {"image_size", image_size},
              {"glyphs", culture.glyphs},
              {"concepts", culture.concepts},
              {"colours", culture.colours},
              {"relations", culture.relations},
              {"glyph_size_min", scene.glyph_size_min},
              {"glyph_size_max", scene.glyph_size_max},
              {"min_symbols", culture.min_symbols},
              {"max_symbols", culture.max_symbols},
              {"noise", scene.noise},
              {"culture_in_pretrain", culture.culture_in_pretrain},
              {"shuffle_culture", culture.shuffle},
              {"heldout_combos", culture.heldout},
              {"train_images", train_images},
              {"bench_images", bench_images},
              {"lite_train_images", lite_train_images},
              {"lite_bench_images", lite_bench_images},
              {"pretrain_images", pretrain_images},
              {"pretrain_statements", pretrain_statements},
              {"pretrain_selection", pretrain_by_kind ? "kinds" : "words"},
              {"statements_min", statements_min},
              {"statements_max", statements_max},
              {"sft_source", sft_from_lite ? "lite" : "full"}};
  // Only when not the default: worlds made before the knob keep their bytes.
  if (!pretrain_tfq || pretrain_mcq || pretrain_osq) {
    Json formats = Json::array();
    if (pretrain_tfq) formats.push_back("tfq");
    if (pretrain_mcq) formats.push_back("mcq");
    if (pretrain_osq) formats.push_back("osq");
    out["pretrain_formats"] = formats;
  }
  return out;
}

ParamSchema world_param_schema() {
  // Defaults come from WorldConfig, so the schema and the config cannot disagree.
  const WorldConfig d;
  ParamSchema s;
  s.add(ParamSpec::integer("seed").at_least(0).describe("world seed; absent: the node's seed"));
  s.add(ParamSpec::integer("image_size").def(d.image_size).range(16, 1024)
            .describe("image width and height in pixels"));
  s.add(ParamSpec::integer("glyphs").def(d.culture.glyphs).range(2, 29)
            .describe("distinct symbols drawn (catalogue of 29)"));
  s.add(ParamSpec::integer("concepts").def(d.culture.concepts).range(2, 16)
            .describe("concepts the symbols stand for (<= glyphs)"));
  s.add(ParamSpec::integer("colours").def(d.culture.colours).range(2, 8).describe("colours, each carrying a tone"));
  s.add(ParamSpec::integer("relations").def(d.culture.relations).range(1, 10)
            .describe("layouts/relations in use (catalogue of 10)"));
  s.add(ParamSpec::real("glyph_size_min").def(d.scene.glyph_size_min).range(6, 40)
            .describe("smallest glyph, pixels of a 64x64 frame"));
  s.add(ParamSpec::real("glyph_size_max").def(d.scene.glyph_size_max).range(6, 40)
            .describe("largest glyph, pixels of a 64x64 frame"));
  s.add(ParamSpec::integer("min_symbols").def(d.scene.min_symbols).range(1, 4).describe("fewest glyphs per image"));
  s.add(ParamSpec::integer("max_symbols").def(d.scene.max_symbols).range(1, 4).describe("most glyphs per image"));
  s.add(ParamSpec::real("noise").def(d.scene.noise).range(0, 1).describe("background noise and shade jitter"));
  s.add(ParamSpec::real("culture_in_pretrain").def(d.culture.culture_in_pretrain).range(0, 1)
            .describe("fraction of symbol, colour and relation meanings the pretraining corpus reveals"));
  s.add(ParamSpec::boolean("shuffle_culture").def(false)
            .describe("random glyph->concept map instead of the natural one"));
  s.add(ParamSpec::real("heldout_combos").def(d.culture.heldout).at_least(0)
            .describe("(glyph, relation) combinations kept out of train: < 1 a fraction, >= 1 a count"));
  s.add(ParamSpec::integer("train_images").def(d.train_images).at_least(0)
            .describe("images of train/tfq.jsonl and tasks"));
  s.add(ParamSpec::integer("bench_images").def(d.bench_images).at_least(0)
            .describe("images of bench/tfq.jsonl and tasks"));
  s.add(ParamSpec::integer("lite_train_images").def(d.lite_train_images).at_least(0)
            .describe("images of train/tfq_lite.jsonl (disjoint)"));
  s.add(ParamSpec::integer("lite_bench_images").def(d.lite_bench_images).at_least(0)
            .describe("images of bench/tfq_lite.jsonl (disjoint)"));
  s.add(ParamSpec::integer("pretrain_images").def(d.pretrain_images).at_least(0)
            .describe("extra images used only by train/pretrain.jsonl"));
  s.add(ParamSpec::integer("pretrain_statements").def(d.pretrain_statements).range(0, 20)
            .describe("literal T/F statements per image in train/pretrain.jsonl"));
  s.add(ParamSpec::enumeration("pretrain_selection", {"words", "kinds"}).def("kinds")
            .describe("how pretrain.jsonl picks them: kinds = each kind of literal statement about equally often; "
                      "words = as tfq.jsonl does (balances words only, which favours short statements)"));
  s.add(ParamSpec::list("pretrain_formats", "string").def(Json::array({"tfq"}))
            .describe("answer formats train/pretrain.jsonl teaches on literal content: tfq (T/F statements), mcq (six "
                      "literal options, a letter answer), osq (a one-sentence answer); e.g. [tfq, mcq, osq]"));
  s.add(ParamSpec::integer("statements_min").def(d.statements_min).range(1, 30)
            .describe("fewest T/F statements per image"));
  s.add(ParamSpec::integer("statements_max").def(d.statements_max).range(1, 30)
            .describe("most T/F statements per image"));
  s.add(ParamSpec::enumeration("sft_source", {"full", "lite"}).def("full")
            .describe("rows that train/sft.jsonl gives trajectories for: tfq.jsonl or tfq_lite.jsonl"));
  return s;
}

WorldConfig world_config_from_params(const Json& p, uint64_t node_seed) {
  auto get_int = [&](const char* key, int def) { return p.contains(key) && !p[key].is_null() ? p[key].get<int>() : def; };
  auto get_real = [&](const char* key, double def) {
    return p.contains(key) && !p[key].is_null() ? p[key].get<double>() : def;
  };
  WorldConfig c;
  c.seed = p.contains("seed") && !p["seed"].is_null() ? p["seed"].get<uint64_t>() : node_seed;
  c.image_size = get_int("image_size", c.image_size);
  c.culture.glyphs = get_int("glyphs", c.culture.glyphs);
  c.culture.concepts = get_int("concepts", c.culture.concepts);
  c.culture.colours = get_int("colours", c.culture.colours);
  c.culture.relations = get_int("relations", c.culture.relations);
  c.scene.glyph_size_min = static_cast<float>(get_real("glyph_size_min", c.scene.glyph_size_min));
  c.scene.glyph_size_max = static_cast<float>(get_real("glyph_size_max", c.scene.glyph_size_max));
  c.culture.min_symbols = c.scene.min_symbols = get_int("min_symbols", c.scene.min_symbols);
  c.culture.max_symbols = c.scene.max_symbols = get_int("max_symbols", c.scene.max_symbols);
  c.scene.noise = get_real("noise", c.scene.noise);
  c.culture.culture_in_pretrain = get_real("culture_in_pretrain", c.culture.culture_in_pretrain);
  c.culture.shuffle = p.contains("shuffle_culture") && p["shuffle_culture"].is_boolean() && p["shuffle_culture"].get<bool>();
  c.culture.heldout = get_real("heldout_combos", c.culture.heldout);
  c.train_images = get_int("train_images", c.train_images);
  c.bench_images = get_int("bench_images", c.bench_images);
  c.lite_train_images = get_int("lite_train_images", c.lite_train_images);
  c.lite_bench_images = get_int("lite_bench_images", c.lite_bench_images);
  c.pretrain_images = get_int("pretrain_images", c.pretrain_images);
  c.pretrain_statements = get_int("pretrain_statements", c.pretrain_statements);
  if (p.contains("pretrain_selection") && p["pretrain_selection"].is_string())
    c.pretrain_by_kind = p["pretrain_selection"] == "kinds";
  if (p.contains("pretrain_formats") && p["pretrain_formats"].is_array()) {
    c.pretrain_tfq = c.pretrain_mcq = c.pretrain_osq = false;
    for (const Json& f : p["pretrain_formats"]) {
      const std::string name = f.is_string() ? f.get<std::string>() : f.dump();
      if (name == "tfq") c.pretrain_tfq = true;
      else if (name == "mcq") c.pretrain_mcq = true;
      else if (name == "osq") c.pretrain_osq = true;
      else throw_bad_input("implication_world: pretrain_formats: unknown format '" + name + "'; use tfq, mcq or osq");
    }
  }
  c.statements_min = get_int("statements_min", c.statements_min);
  c.statements_max = get_int("statements_max", c.statements_max);
  c.sft_from_lite = p.contains("sft_source") && p["sft_source"] == "lite";
  c.validate();
  return c;
}

namespace {

enum class GroupKind { Full, Lite, Pretrain };

struct Group {
  std::string split;   // "train" or "bench"
  GroupKind kind;
  std::string prefix;  // image id prefix
  int count;
  bool train;
  uint64_t id;         // names its random streams
  std::vector<Scene> scenes;
  std::vector<std::string> image_ids;
  std::vector<std::vector<Candidate>> statements;  // selected T/F statements per image

  std::string image_path(size_t i) const { return "img/" + image_ids[i] + ".png"; }
  const char* name() const { return kind == GroupKind::Full ? "full" : kind == GroupKind::Lite ? "lite" : "pretrain"; }
};

std::string padded(size_t n, int width) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*zu", width, n);
  return buf;
}

class FileSet {
 public:
  void add(const std::string& relative, const Json& row) {
    auto& text = files_[relative];
    text += row.dump();
    text += '\n';
    ++rows_[relative];
  }
  void touch(const std::string& relative) { files_[relative]; rows_[relative]; }
  void write(const fs::path& root) const {
    for (const auto& [relative, text] : files_) write_file_atomic(root / relative, text);
  }
  Json counts() const {
    Json out = Json::object();
    for (const auto& [relative, n] : rows_) {
      const auto slash = relative.find('/');
      out[relative.substr(0, slash)][relative.substr(slash + 1)] = n;
    }
    return out;
  }

 private:
  std::map<std::string, std::string> files_;
  std::map<std::string, int> rows_;
};

// "kind:KIND" and, for a false statement, "distractor:HOW": validation and
// stats break results down by them.
Json statement_tags(const Candidate& c) {
  Json tags = Json::array({std::string("kind:") + claim_kind_name(c.claim.kind)});
  if (!c.truth) tags.push_back("distractor:" + c.claim.distractor);
  return tags;
}

Json row_base(const Group& g, size_t i, const std::string& question_id) {
  return Json{{"images", Json::array({g.image_path(i)})}, {"image_id", g.image_ids[i]}, {"question_id", question_id}};
}

void render_all(const std::vector<Group>& groups, const Culture& culture, const WorldConfig& config,
                const fs::path& out, const GenerationHooks& hooks) {
  struct Job {
    const Scene* scene;
    fs::path path;
  };
  std::vector<Job> jobs;
  for (const Group& g : groups)
    for (size_t i = 0; i < g.scenes.size(); ++i) jobs.push_back({&g.scenes[i], out / g.split / g.image_path(i)});

  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex error_mutex;
  std::exception_ptr error;
  auto work = [&](bool polls) {
    for (;;) {
      if (polls && hooks.cancelled && hooks.cancelled()) stop = true;
      if (stop) return;
      const size_t i = next++;
      if (i >= jobs.size()) return;
      try {
        const std::string png = encode_png(render_scene(*jobs[i].scene, culture, config.image_size, config.scene.noise));
        std::ofstream f(jobs[i].path, std::ios::binary | std::ios::trunc);
        f.write(png.data(), static_cast<std::streamsize>(png.size()));
        if (!f) throw_io("cannot write " + jobs[i].path.string());
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        stop = true;
        return;
      }
    }
  };
  const int threads = std::max(1, std::min(hooks.threads, 64));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work, false);
  work(true);
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  if (hooks.cancelled && hooks.cancelled()) throw Error(ErrorCategory::Interrupted, "implication_world: cancelled");
}

}  // namespace

GenerationReport generate_world(const WorldConfig& config, const fs::path& out, const GenerationHooks& hooks) {
  const auto started = std::chrono::steady_clock::now();
  config.validate();
  auto log = [&](const std::string& m) {
    if (hooks.log) hooks.log(m);
  };
  CultureConfig cc = config.culture;
  cc.seed = config.seed;
  const Culture culture = Culture::build(cc);
  const uint64_t seed = config.seed;

  std::vector<Group> groups;
  groups.push_back({"train", GroupKind::Full, "train-", config.train_images, true, 1, {}, {}, {}});
  groups.push_back({"train", GroupKind::Lite, "train-lite-", config.lite_train_images, true, 2, {}, {}, {}});
  groups.push_back({"train", GroupKind::Pretrain, "train-pre-", config.pretrain_images, true, 3, {}, {}, {}});
  groups.push_back({"bench", GroupKind::Full, "bench-", config.bench_images, false, 4, {}, {}, {}});
  groups.push_back({"bench", GroupKind::Lite, "bench-lite-", config.lite_bench_images, false, 5, {}, {}, {}});

  int images = 0;
  for (Group& g : groups) {
    for (int i = 0; i < g.count; ++i) {
      Rng rng(stream_seed(seed, {1, g.id, static_cast<uint64_t>(i)}));
      g.scenes.push_back(sample_scene(culture, config.scene, rng, !g.train));
      g.image_ids.push_back(g.prefix + padded(static_cast<size_t>(i), 6));
    }
    images += g.count;
  }
  for (const char* split : {"train", "bench"}) fs::create_directories(out / split / "img");
  log("implication_world: rendering " + std::to_string(images) + " images");
  render_all(groups, culture, config, out, hooks);

  FileSet files;
  for (const char* f : {"tfq.jsonl", "tfq_lite.jsonl", "mcq.jsonl", "osq.jsonl", "vqa.jsonl", "reasoning.jsonl",
                        "scenes.jsonl"}) {
    files.touch(std::string("train/") + f);
    files.touch(std::string("bench/") + f);
  }
  files.touch("train/pretrain.jsonl");
  files.touch("train/sft.jsonl");

  const std::vector<Level> all_levels{Level::Literal, Level::Symbolic, Level::Implication};
  for (Group& g : groups) {
    detail::StatementSelector selector(detail::SelectionPolicy::Words, stream_seed(seed, {3, g.id}));
    const std::string dir = g.split + "/";
    const bool heldout_tags = !g.train;
    for (size_t i = 0; i < g.scenes.size(); ++i) {
      const Scene& s = g.scenes[i];
      Json scene_row = scene_json(s, culture);
      scene_row["image_id"] = g.image_ids[i];
      scene_row["images"] = Json::array({g.image_path(i)});
      scene_row["group"] = g.name();
      files.add(dir + "scenes.jsonl", scene_row);
      if (g.kind == GroupKind::Pretrain) {
        g.statements.emplace_back();
        continue;
      }
      Rng rng(stream_seed(seed, {2, g.id, i}));
      const int k = rng.between(config.statements_min, config.statements_max);
      g.statements.push_back(selector.select(candidate_statements(s, culture, rng, g.train), k, all_levels));
      const std::string tfq_file = dir + (g.kind == GroupKind::Full ? "tfq.jsonl" : "tfq_lite.jsonl");
      int q = 0;
      for (const Candidate& c : g.statements.back()) {
        Json row = row_base(g, i, g.image_ids[i] + "-t" + padded(static_cast<size_t>(q++), 2));
        row["problem"] = detail::kTfqPrompt + c.text;
        row["answer"] = c.truth ? "T" : "F";
        row["level"] = level_name(c.claim.level());
        row["tags"] = statement_tags(c);
        if (heldout_tags && s.heldout) row["heldout"] = true;
        files.add(tfq_file, row);
      }
      if (g.kind != GroupKind::Full) continue;

      Rng task_rng(stream_seed(seed, {4, g.id, i}));
      Json mcq = detail::mcq_task(s, culture, task_rng);
      if (!mcq.is_null()) {
        Json row = row_base(g, i, g.image_ids[i] + "-mcq");
        row.update(mcq);
        if (heldout_tags && s.heldout) row["heldout"] = true;
        files.add(dir + "mcq.jsonl", row);
      }
      {
        Json row = row_base(g, i, g.image_ids[i] + "-osq");
        row.update(detail::osq_task(s, culture));
        if (heldout_tags && s.heldout) row["heldout"] = true;
        files.add(dir + "osq.jsonl", row);
      }
      int v = 0;
      for (const Json& task : detail::vqa_tasks(s, culture, task_rng)) {
        Json row = row_base(g, i, g.image_ids[i] + "-v" + padded(static_cast<size_t>(v++), 2));
        row.update(task);
        files.add(dir + "vqa.jsonl", row);
      }
      int r = 0;
      for (const Json& task : detail::reasoning_tasks(s, culture, task_rng, 2)) {
        Json row = row_base(g, i, g.image_ids[i] + "-r" + padded(static_cast<size_t>(r++), 2));
        row.update(task);
        if (heldout_tags && s.heldout) row["heldout"] = true;
        files.add(dir + "reasoning.jsonl", row);
      }
    }
  }

  // Corpora (train only): literal pretraining and expert trajectories.
  {
    detail::StatementSelector selector(config.pretrain_by_kind ? detail::SelectionPolicy::Kinds
                                                               : detail::SelectionPolicy::Words,
                                       stream_seed(seed, {6}));
    for (Group& g : groups) {
      if (g.split != "train" || g.kind == GroupKind::Lite) continue;
      for (size_t i = 0; i < g.scenes.size(); ++i) {
        const Scene& s = g.scenes[i];
        const std::string& id = g.image_ids[i];
        int p = 0;
        auto next_id = [&] { return id + "-p" + padded(static_cast<size_t>(p++), 2); };
        const std::string cap = caption(s, culture) + ".";
        Json row = row_base(g, i, next_id());
        row.update({{"kind", "caption"}, {"problem", "<image> describe the image."}, {"answer", cap}, {"response", cap}});
        files.add("train/pretrain.jsonl", row);
        Rng rng(stream_seed(seed, {5, g.id, i}));
        for (const Candidate& c : config.pretrain_tfq ? selector.select(candidate_statements(s, culture, rng, true),
                                                                        config.pretrain_statements, {Level::Literal})
                                                      : std::vector<Candidate>{}) {
          const std::string answer = c.truth ? "T" : "F";
          Json lit = row_base(g, i, next_id());
          lit.update({{"kind", "literal"},
                      {"problem", detail::kTfqPrompt + c.text},
                      {"answer", answer},
                      {"response", "<answer>" + answer + "</answer>"},
                      {"level", "literal"},
                      {"tags", statement_tags(c)}});
          files.add("train/pretrain.jsonl", lit);
        }
        std::vector<Json> vqa = detail::vqa_tasks(s, culture, rng);
        rng.shuffle(vqa);
        for (size_t k = 0; k < vqa.size() && k < 2; ++k) {
          Json q = row_base(g, i, next_id());
          q.update(vqa[k]);
          q["kind"] = "vqa";
          q["response"] = vqa[k]["answer"];
          files.add("train/pretrain.jsonl", q);
        }
        for (const Json& reveal : detail::culture_reveal_tasks(s, culture)) {
          Json q = row_base(g, i, next_id());
          q.update(reveal);
          files.add("train/pretrain.jsonl", q);
        }
        Rng format_rng(stream_seed(seed, {7, g.id, i}));  // its own stream: the rows above stay as they were
        if (config.pretrain_mcq) {
          Json mcq = detail::literal_mcq_task(s, culture, format_rng);
          if (!mcq.is_null()) {
            Json q = row_base(g, i, next_id());
            q.update(mcq);
            files.add("train/pretrain.jsonl", q);
          }
        }
        if (config.pretrain_osq) {
          Json q = row_base(g, i, next_id());
          q.update({{"kind", "osq"}, {"level", "literal"}, {"problem", detail::kLiteralOsqPrompt},
                    {"answer", cap}, {"response", cap}});
          files.add("train/pretrain.jsonl", q);
        }
      }
    }
    const GroupKind sft_kind = config.sft_from_lite ? GroupKind::Lite : GroupKind::Full;
    for (const Group& g : groups) {
      if (g.split != "train" || g.kind != sft_kind) continue;
      for (size_t i = 0; i < g.scenes.size(); ++i) {
        int q = 0;
        for (const Candidate& c : g.statements[i]) {
          Json row = row_base(g, i, g.image_ids[i] + "-t" + padded(static_cast<size_t>(q++), 2));
          row["problem"] = detail::kTfqPrompt + c.text;
          row["answer"] = c.truth ? "T" : "F";
          row["level"] = level_name(c.claim.level());
          row["response"] = detail::expert_response(g.scenes[i], culture, c.truth);
          files.add("train/sft.jsonl", row);
        }
      }
    }
  }

  files.write(out);
  write_file_atomic(out / "glyphs.png", encode_png(render_glyph_sheet(culture)));
  GenerationReport report;
  report.images = images;
  report.counts = files.counts();
  Json world{{"format_version", kWorldFormatVersion},
             {"generator", "dataset/implication_world"},
             {"config", config.to_json()},
             {"culture", culture.to_json()},
             {"files", report.counts},
             {"images", images}};
  write_file_atomic(out / "world.json", world.dump(2) + "\n");
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  log("implication_world: " + std::to_string(images) + " images in " + std::to_string(report.seconds) + " s");
  return report;
}

}  // namespace mstar::world
