// dataset/implication_world: determinism, splits, held-out combinations,
// answer balance, task files, culture and rendering.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>

#include "mstar/artifact.h"
#include "mstar/data/image.h"
#include "mstar/data/rows.h"
#include "mstar/error.h"
#include "mstar/world/generator.h"
#include "mstar/world/statements.h"
#include "world_helpers.h"

namespace fs = std::filesystem;
using mstar::Json;
using namespace mstar::world;
using namespace mstar::data;
using world_test::read_rows;
using world_test::shared_world;

namespace {

std::map<std::string, std::string> all_files(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) out[fs::relative(e.path(), root).generic_string()] = mstar::read_file(e.path());
  return out;
}

}  // namespace

TEST(WorldRng, DrawsAreFixedAndUnbiased) {
  Rng a(42), b(42);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(a.next(), b.next());
  // Pinned values: a change here changes every generated world.
  Rng c(1);
  EXPECT_EQ(c.next(), 12966619160104079557ull);
  EXPECT_EQ(c.below(10), 5u);
  EXPECT_EQ(stream_seed(1, {2, 3}), 2275154965636046662ull);
  std::vector<int> counts(6, 0);
  Rng d(7);
  for (int i = 0; i < 60000; ++i) ++counts[d.below(6)];
  for (int n : counts) EXPECT_NEAR(n, 10000, 400);
  EXPECT_NE(stream_seed(1, {1, 2}), stream_seed(1, {2, 1}));
}

TEST(WorldCulture, CataloguesAreLargeEnough) {
  EXPECT_GE(glyph_catalogue().size(), 24u);
  EXPECT_GE(concept_catalogue().size(), 12u);
  EXPECT_GE(relation_catalogue().size(), 8u);
  std::set<std::string> names;
  for (const auto& g : glyph_catalogue()) names.insert(g.name);
  EXPECT_EQ(names.size(), glyph_catalogue().size());
  const Culture c = Culture::build(world_test::rich_culture());
  EXPECT_EQ(c.glyph_count(), 24);
  EXPECT_EQ(c.concepts().size(), 12u);
  EXPECT_EQ(c.relations().size(), 10u);
  EXPECT_EQ(c.concept_name(c.concept_of(1)), "time");  // hourglass -> time
  EXPECT_EQ(c.concept_name(c.concept_of(0)), "power");  // crown -> power
  EXPECT_EQ(c.heldout().size(), 24u);                   // 10% of 24 x 10
}

TEST(WorldCulture, RejectsImpossibleKnobs) {
  CultureConfig c = world_test::rich_culture();
  c.concepts = 16;
  c.glyphs = 8;
  EXPECT_THROW(Culture::build(c), mstar::Error);
  CultureConfig d = world_test::rich_culture();
  d.min_symbols = 4;
  d.max_symbols = 4;
  d.relations = 7;  // surrounded (3-4 symbols) is relation 8
  EXPECT_THROW(Culture::build(d), mstar::Error);
  d.relations = 8;
  EXPECT_EQ(Culture::build(d).relations().size(), 1u);
}

TEST(WorldRender, GlyphsAreDistinctSilhouettes) {
  CultureConfig cc;
  cc.glyphs = static_cast<int>(glyph_catalogue().size());
  cc.concepts = 16;
  const Culture culture = Culture::build(cc);
  const Image sheet = render_glyph_sheet(culture, 24, 1);
  ASSERT_EQ(sheet.height, 24 * culture.glyph_count());
  std::vector<std::vector<bool>> masks;
  for (int g = 0; g < culture.glyph_count(); ++g) {
    std::vector<bool> m;
    int ink = 0;
    for (int y = 0; y < 24; ++y)
      for (int x = 0; x < 24; ++x) {
        const bool on = sheet.at(x, g * 24 + y)[0] < 128;
        ink += on;
        m.push_back(on);
      }
    EXPECT_GT(ink, 24 * 24 / 10) << glyph_catalogue()[static_cast<size_t>(g)].name << " is too thin";
    masks.push_back(m);
  }
  // Every pair of silhouettes differs in a good share of its pixels.
  for (size_t a = 0; a < masks.size(); ++a)
    for (size_t b = a + 1; b < masks.size(); ++b) {
      int diff = 0, uni = 0;
      for (size_t i = 0; i < masks[a].size(); ++i) {
        diff += masks[a][i] != masks[b][i];
        uni += masks[a][i] || masks[b][i];
      }
      EXPECT_GT(static_cast<double>(diff) / uni, 0.28)
          << glyph_catalogue()[a].name << " vs " << glyph_catalogue()[b].name;
    }
}

TEST(WorldStatements, LabelsAgreeWithScenes) {
  const Culture culture = Culture::build(world_test::rich_culture());
  const SceneConfig sc = world_test::rich_scene();
  Rng rng(5);
  std::map<std::string, int> kinds;
  for (int i = 0; i < 300; ++i) {
    const Scene s = sample_scene(culture, sc, rng, true);
    for (const Candidate& c : candidate_statements(s, culture, rng, false)) {
      EXPECT_EQ(holds(c.claim, s, culture), c.truth) << c.text;
      EXPECT_EQ(c.truth, c.claim.distractor.empty()) << c.text;
      ++kinds[claim_kind_name(c.claim.kind)];
    }
  }
  EXPECT_EQ(kinds.size(), 10u);
}

TEST(WorldStatements, SymmetricRelationsIgnoreOrder) {
  const Culture culture = Culture::build(world_test::rich_culture());
  const SceneConfig sc = world_test::rich_scene();
  Rng rng(9);
  for (int i = 0; i < 2000; ++i) {
    const Scene s = sample_scene(culture, sc, rng, true);
    if (!culture.relation(s.relation).symmetric) continue;
    Claim c;
    c.kind = ClaimKind::Message;
    c.relation = s.relation;
    c.concept_a = culture.concept_of(s.patient);
    c.concept_b = culture.concept_of(s.agent);
    EXPECT_TRUE(holds(c, s, culture));
    return;
  }
  FAIL() << "no symmetric scene drawn";
}

TEST(WorldGenerator, SameSeedGivesByteIdenticalFiles) {
  const WorldConfig config = world_test::small_config(3, 40, 20, 6, 6, 6);
  const fs::path a = world_test::temp_dir("det_a"), b = world_test::temp_dir("det_b");
  GenerationHooks one, two;
  one.threads = 1;
  two.threads = 3;  // thread count must not matter
  generate_world(config, a, one);
  generate_world(config, b, two);
  const auto fa = all_files(a), fb = all_files(b);
  ASSERT_EQ(fa.size(), fb.size());
  for (const auto& [name, bytes] : fa) {
    ASSERT_TRUE(fb.count(name)) << name;
    EXPECT_TRUE(bytes == fb.at(name)) << name << " differs";
  }
  EXPECT_GT(fa.size(), 80u + 12u);

  const fs::path c = world_test::temp_dir("det_c");
  generate_world(world_test::small_config(4, 40, 20, 6, 6, 6), c, one);
  EXPECT_NE(mstar::read_file(a / "train/tfq.jsonl"), mstar::read_file(c / "train/tfq.jsonl"));
}

TEST(WorldGenerator, LayoutAndRowKeys) {
  const fs::path& w = shared_world();
  for (const char* f : {"world.json", "glyphs.png", "train/tfq.jsonl", "train/tfq_lite.jsonl", "train/mcq.jsonl",
                        "train/osq.jsonl", "train/vqa.jsonl", "train/reasoning.jsonl", "train/pretrain.jsonl",
                        "train/sft.jsonl", "train/scenes.jsonl", "bench/tfq.jsonl", "bench/tfq_lite.jsonl",
                        "bench/mcq.jsonl", "bench/osq.jsonl", "bench/vqa.jsonl", "bench/reasoning.jsonl"})
    EXPECT_TRUE(fs::is_regular_file(w / f)) << f;
  EXPECT_FALSE(fs::exists(w / "bench/sft.jsonl"));
  EXPECT_FALSE(fs::exists(w / "bench/pretrain.jsonl"));

  const auto rows = read_rows(w / "train/tfq.jsonl");
  ASSERT_FALSE(rows.empty());
  std::map<std::string, int> per_image;
  for (const Json& r : rows) {
    for (const char* key : {"images", "problem", "answer", "image_id", "question_id", "level"})
      ASSERT_TRUE(r.contains(key)) << key << " in " << r.dump();
    EXPECT_EQ(r["problem"].get<std::string>().rfind("<image> ", 0), 0u);
    EXPECT_TRUE(fs::is_regular_file(w / "train" / r["images"][0].get<std::string>()));
    ++per_image[r["image_id"].get<std::string>()];
  }
  EXPECT_EQ(per_image.size(), 800u);
  for (const auto& [id, n] : per_image) {
    EXPECT_GE(n, 5) << id;
    EXPECT_LE(n, 10) << id;
  }
  const Json world = Json::parse(mstar::read_file(w / "world.json"));
  EXPECT_EQ(world["culture"]["glyphs"].size(), 24u);
  EXPECT_EQ(world["culture"]["relations"].size(), 10u);
  EXPECT_EQ(world["files"]["train"]["tfq.jsonl"].get<size_t>(), rows.size());
}

TEST(WorldGenerator, BenchImagesAreDisjointFromTrain) {
  const fs::path& w = shared_world();
  std::set<std::string> train_ids, train_pixels;
  for (const Json& r : read_rows(w / "train/scenes.jsonl")) {
    train_ids.insert(r["image_id"].get<std::string>());
    train_pixels.insert(mstar::read_file(w / "train" / r["images"][0].get<std::string>()));
  }
  EXPECT_EQ(train_ids.size(), 800u + 40u + 20u);
  EXPECT_EQ(train_pixels.size(), train_ids.size()) << "two train images are identical";
  size_t bench = 0;
  for (const Json& r : read_rows(w / "bench/scenes.jsonl")) {
    ++bench;
    EXPECT_FALSE(train_ids.count(r["image_id"].get<std::string>()));
    EXPECT_FALSE(train_pixels.count(mstar::read_file(w / "bench" / r["images"][0].get<std::string>())))
        << r["image_id"] << " is also a train image";
  }
  EXPECT_EQ(bench, 300u + 40u);
}

TEST(WorldGenerator, HeldOutCombinationsNeverReachTrain) {
  const fs::path& w = shared_world();
  const Json world = Json::parse(mstar::read_file(w / "world.json"));
  std::set<std::pair<std::string, std::string>> held;
  for (const Json& h : world["culture"]["heldout"])
    held.insert({h["glyph"].get<std::string>(), h["relation"].get<std::string>()});
  ASSERT_FALSE(held.empty());
  auto shows_heldout = [&](const Json& scene) {
    for (const char* role : {"agent", "patient"})
      if (scene[role].is_object() &&
          held.count({scene[role]["glyph"].get<std::string>(), scene["relation"].get<std::string>()}))
        return true;
    return false;
  };
  for (const Json& s : read_rows(w / "train/scenes.jsonl")) {
    EXPECT_FALSE(shows_heldout(s)) << s["image_id"];
    EXPECT_FALSE(s["heldout"].get<bool>());
  }
  // Train text never names a held-out pair in a (unary) layout statement either.
  const std::map<std::string, std::string> unary_phrase{
      {"cracked", " is cracked."}, {"crossed", " is crossed out."}, {"haloed", " has a halo."}};
  for (const char* file : {"train/tfq.jsonl", "train/tfq_lite.jsonl", "train/pretrain.jsonl", "train/sft.jsonl"})
    for (const Json& r : read_rows(w / file)) {
      const std::string p = r["problem"];
      for (const auto& [g, rel] : held) {
        auto phrase = unary_phrase.find(rel);
        if (phrase == unary_phrase.end()) continue;
        EXPECT_EQ(p.find("the " + g + phrase->second), std::string::npos) << file << ": " << p;
      }
    }
  size_t heldout_images = 0, tagged_rows = 0, heldout_scene_rows = 0;
  std::set<std::string> heldout_ids;
  for (const Json& s : read_rows(w / "bench/scenes.jsonl")) {
    EXPECT_EQ(shows_heldout(s), s["heldout"].get<bool>()) << s["image_id"];
    if (s["heldout"].get<bool>()) {
      ++heldout_images;
      heldout_ids.insert(s["image_id"].get<std::string>());
    }
  }
  EXPECT_GT(heldout_images, 10u);
  for (const Json& r : read_rows(w / "bench/tfq.jsonl")) {
    const bool tagged = r.value("heldout", false);
    tagged_rows += tagged;
    heldout_scene_rows += heldout_ids.count(r["image_id"].get<std::string>());
    EXPECT_EQ(tagged, heldout_ids.count(r["image_id"].get<std::string>()) == 1);
  }
  EXPECT_EQ(tagged_rows, heldout_scene_rows);
}

TEST(WorldGenerator, AnswersAreBalancedPerLevel) {
  const fs::path& w = shared_world();
  for (const char* file : {"train/tfq.jsonl", "bench/tfq.jsonl", "train/tfq_lite.jsonl", "bench/tfq_lite.jsonl"}) {
    std::map<std::string, std::pair<int, int>> counts;  // level -> (T, F)
    for (const Json& r : read_rows(w / file)) {
      auto& c = counts[r["level"]];
      (r["answer"] == "T" ? c.first : c.second)++;
    }
    ASSERT_EQ(counts.size(), 3u) << file;
    for (const auto& [level, c] : counts) {
      const double t = static_cast<double>(c.first) / (c.first + c.second);
      EXPECT_GE(t, 0.4) << file << " " << level;
      EXPECT_LE(t, 0.6) << file << " " << level;
    }
  }
}

TEST(WorldGenerator, TaskFilesAreWellFormed) {
  const fs::path& w = shared_world();
  std::map<std::string, int> letters;
  for (const Json& r : read_rows(w / "bench/mcq.jsonl")) {
    ASSERT_EQ(r["options"].size(), 6u);
    const std::string a = r["answer"];
    ASSERT_EQ(a.size(), 1u);
    ASSERT_GE(a[0], 'A');
    ASSERT_LE(a[0], 'F');
    EXPECT_EQ(r["options"][a[0] - 'A'], r["answer_text"]);
    std::set<std::string> distinct(r["options"].begin(), r["options"].end());
    EXPECT_EQ(distinct.size(), 6u);
    ++letters[a];
  }
  EXPECT_EQ(letters.size(), 6u);
  for (const Json& r : read_rows(w / "bench/osq.jsonl")) {
    EXPECT_TRUE(r["facts"].contains("relation"));
    EXPECT_TRUE(r["facts"]["agent"].contains("concept"));
    EXPECT_FALSE(r["keywords"].empty());
  }
  std::set<std::string> types;
  for (const Json& r : read_rows(w / "bench/vqa.jsonl")) {
    types.insert(r["type"]);
    EXPECT_LE(r["answer"].get<std::string>().find(' '), std::string::npos) << "short answers are one word";
  }
  EXPECT_EQ(types, (std::set<std::string>{"count", "colour", "position", "identity"}));
  for (const Json& r : read_rows(w / "bench/reasoning.jsonl")) {
    ASSERT_EQ(r["hops"].size(), 2u);
    EXPECT_EQ(r["hops"][1], r["answer"]);
  }
}

TEST(WorldGenerator, CorporaFollowTheirContracts) {
  const fs::path& w = shared_world();
  const Json world = Json::parse(mstar::read_file(w / "world.json"));
  std::vector<std::string> concepts;
  for (const Json& c : world["culture"]["concepts"]) concepts.push_back(c);
  std::set<std::string> kinds;
  for (const Json& r : read_rows(w / "train/pretrain.jsonl")) {
    kinds.insert(r["kind"]);
    ASSERT_TRUE(r.contains("response"));
    // culture_in_pretrain = 0: no concept word anywhere in the literal corpus.
    const std::string text = r["problem"].get<std::string>() + " " + r["response"].get<std::string>();
    for (const std::string& c : concepts)
      EXPECT_EQ((" " + text + " ").find(" " + c + " "), std::string::npos) << c << " in " << text;
    EXPECT_NE(r["kind"], "culture");
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"caption", "literal", "vqa"}));
  const auto sft = read_rows(w / "train/sft.jsonl");
  EXPECT_EQ(sft.size(), read_rows(w / "train/tfq.jsonl").size());
  for (const Json& r : sft) {
    const std::string resp = r["response"];
    EXPECT_EQ(resp.rfind("<think>", 0), 0u);
    EXPECT_NE(resp.find("stands for"), std::string::npos);
    EXPECT_NE(resp.find("so the image says that"), std::string::npos);
    EXPECT_NE(resp.find("</think><answer>" + r["answer"].get<std::string>() + "</answer>"), std::string::npos);
  }
}

TEST(WorldGenerator, CultureInPretrainRevealsMeanings) {
  WorldConfig config = world_test::small_config(8, 60, 0, 0, 0, 0);
  config.culture.culture_in_pretrain = 0.5;
  const fs::path dir = world_test::temp_dir("reveal");
  generate_world(config, dir);
  const Json world = Json::parse(mstar::read_file(dir / "world.json"));
  int revealed = 0;
  for (const Json& g : world["culture"]["glyphs"]) revealed += g["revealed_in_pretrain"].get<bool>();
  EXPECT_EQ(revealed, 12);
  int culture_rows = 0;
  for (const Json& r : read_rows(dir / "train/pretrain.jsonl")) culture_rows += r["kind"] == "culture";
  EXPECT_GT(culture_rows, 10);
}

// pretrain_formats: the MCQ and OSQ answer formats on literal content, each
// row well-formed, and the rows of the default corpus unchanged beside them.
TEST(WorldGenerator, PretrainFormatsTeachMcqAndOsqAnswers) {
  std::vector<mstar::ParamIssue> issues;
  const Json resolved = mstar::validate_params(
      world_param_schema(), Json{{"pretrain_formats", Json::array({"tfq", "mcq", "osq"})}}, issues);
  ASSERT_TRUE(issues.empty());
  WorldConfig config = world_test::small_config(8, 40, 0, 0, 0, 0);
  const WorldConfig parsed = world_config_from_params(resolved, 1);
  config.pretrain_mcq = parsed.pretrain_mcq;
  config.pretrain_osq = parsed.pretrain_osq;
  ASSERT_TRUE(config.pretrain_mcq && config.pretrain_osq && parsed.pretrain_tfq);
  const fs::path dir = world_test::temp_dir("formats"), plain = world_test::temp_dir("formats-plain");
  generate_world(config, dir);
  generate_world(world_test::small_config(8, 40, 0, 0, 0, 0), plain);
  const Json world = Json::parse(mstar::read_file(dir / "world.json"));
  EXPECT_EQ(world["config"]["pretrain_formats"], Json::array({"tfq", "mcq", "osq"})) << world["config"].dump();
  std::vector<std::string> concepts;
  for (const Json& c : world["culture"]["concepts"]) concepts.push_back(c);
  int mcq = 0, osq = 0;
  std::vector<Json> others;
  for (const Json& r : read_rows(dir / "train/pretrain.jsonl")) {
    const std::string problem = r["problem"], answer = r["answer"], response = r["response"];
    for (const std::string& c : concepts)
      EXPECT_EQ((" " + problem + " " + response + " ").find(" " + c + " "), std::string::npos) << "a meaning: " << c;
    if (r["kind"] == "mcq") {
      ++mcq;
      EXPECT_EQ(r["level"], "literal");
      EXPECT_EQ(problem.rfind("<image> which statement is true of the image?\nA. ", 0), 0u) << problem;
      EXPECT_NE(problem.find("\nF. "), std::string::npos);
      ASSERT_EQ(answer.size(), 1u);
      EXPECT_TRUE(answer[0] >= 'A' && answer[0] <= 'F');
      EXPECT_EQ(response, "<answer> " + answer + " </answer>") << "the MCQ benchmark's choice_format";
    } else if (r["kind"] == "osq") {
      ++osq;
      EXPECT_EQ(problem, "<image> what does this image show? answer in one sentence.");
      EXPECT_EQ(response.back(), '.');
      EXPECT_EQ(response.find('.'), response.size() - 1) << "one sentence";
    } else {
      others.push_back(r);
    }
  }
  EXPECT_GE(mcq, 30) << "one per image where six literal options exist";
  EXPECT_EQ(osq, 40);
  EXPECT_EQ(others, read_rows(plain / "train/pretrain.jsonl")) << "the default rows, as they were";
  const Json plain_world = Json::parse(mstar::read_file(plain / "world.json"));
  EXPECT_FALSE(plain_world["config"].contains("pretrain_formats")) << "default worlds keep their bytes";
  Json bad = resolved;
  bad["pretrain_formats"] = Json::array({"tfq", "essay"});
  EXPECT_THROW(world_config_from_params(bad, 1), mstar::Error);
}

TEST(WorldGenerator, KnobsChangeTheWorld) {
  WorldConfig config = world_test::small_config(8, 50, 10, 0, 0, 0);
  config.culture.glyphs = 12;
  config.culture.concepts = 6;
  config.culture.colours = 3;
  config.culture.relations = 8;
  config.culture.min_symbols = config.scene.min_symbols = 2;
  config.culture.max_symbols = config.scene.max_symbols = 2;
  config.image_size = 96;
  const fs::path dir = world_test::temp_dir("knobs");
  generate_world(config, dir);
  std::set<std::string> relations, glyphs;
  for (const Json& s : read_rows(dir / "train/scenes.jsonl")) {
    relations.insert(s["relation"]);
    EXPECT_EQ(s["symbols"], 2);
    glyphs.insert(s["agent"]["glyph"].get<std::string>());
  }
  for (const std::string& r : relations)
    EXPECT_TRUE(r != "cracked" && r != "surrounded" && r != "haloed" && r != "crossed") << r;
  EXPECT_LE(glyphs.size(), 12u);
  const Image img = decode_image(mstar::read_file(dir / "train/img/train-000000.png"), "x");
  EXPECT_EQ(img.width, 96);
  EXPECT_EQ(img.height, 96);
}

TEST(WorldGenerator, ParamsMapOntoConfig) {
  std::vector<mstar::ParamIssue> issues;
  const Json resolved =
      mstar::validate_params(world_param_schema(), Json{{"train_images", 7}, {"noise", 0.5}, {"seed", 3}}, issues);
  ASSERT_TRUE(issues.empty());
  const WorldConfig c = world_config_from_params(resolved, 99);
  EXPECT_EQ(c.seed, 3u);
  EXPECT_EQ(c.train_images, 7);
  EXPECT_DOUBLE_EQ(c.scene.noise, 0.5);
  EXPECT_EQ(c.bench_images, 500);
  EXPECT_EQ(world_config_from_params(mstar::validate_params(world_param_schema(), Json::object(), issues), 99).seed, 99u);
  Json bad = resolved;
  bad["glyph_size_min"] = 30.0;
  bad["glyph_size_max"] = 20.0;
  EXPECT_THROW(world_config_from_params(bad, 1), mstar::Error);
}

TEST(WorldGenerator, DefaultsAreTheMeasuredWorld) {
  // The schema reads its defaults from WorldConfig: params left out resolve
  // to exactly a default-constructed config.
  std::vector<mstar::ParamIssue> issues;
  const Json resolved = mstar::validate_params(world_param_schema(), Json::object(), issues);
  ASSERT_TRUE(issues.empty());
  const WorldConfig d;
  const WorldConfig c = world_config_from_params(resolved, 0);
  EXPECT_EQ(c.image_size, d.image_size);
  EXPECT_EQ(c.culture.glyphs, d.culture.glyphs);
  EXPECT_EQ(c.culture.concepts, d.culture.concepts);
  EXPECT_EQ(c.culture.colours, d.culture.colours);
  EXPECT_EQ(c.culture.relations, d.culture.relations);
  EXPECT_EQ(c.culture.max_symbols, d.culture.max_symbols);
  EXPECT_EQ(c.scene.max_symbols, d.scene.max_symbols);
  EXPECT_EQ(c.scene.min_symbols, d.scene.min_symbols);
  EXPECT_FLOAT_EQ(c.scene.glyph_size_min, d.scene.glyph_size_min);
  EXPECT_FLOAT_EQ(c.scene.glyph_size_max, d.scene.glyph_size_max);
  EXPECT_DOUBLE_EQ(c.scene.noise, d.scene.noise);
  EXPECT_DOUBLE_EQ(c.culture.heldout, d.culture.heldout);
  EXPECT_EQ(c.pretrain_statements, d.pretrain_statements);
  EXPECT_EQ(c.pretrain_by_kind, d.pretrain_by_kind);
  EXPECT_EQ(c.train_images, d.train_images);
  EXPECT_EQ(c.bench_images, d.bench_images);
  // The world docs/data.md measured perception on (experiments/perception.yaml).
  EXPECT_EQ(resolved["glyphs"], 6);
  EXPECT_EQ(resolved["concepts"], 6);
  EXPECT_EQ(resolved["colours"], 6);
  EXPECT_EQ(resolved["max_symbols"], 2);
  EXPECT_EQ(resolved["glyph_size_min"], 22.0);
  EXPECT_EQ(resolved["glyph_size_max"], 28.0);
  EXPECT_EQ(resolved["noise"], 0.0);
  // Two glyphs at most leave out `surrounded` (3-4 glyphs): nine relations.
  EXPECT_EQ(Culture::build(c.culture).relations().size(), 9u);
}

TEST(WorldGenerator, TwoThousandImagesComplete) {
  const fs::path dir = world_test::temp_dir("two_thousand");
  GenerationHooks hooks;
  hooks.threads = 2;
  const GenerationReport report = generate_world(world_test::small_config(21, 2000, 0, 0, 0, 0), dir, hooks);
  EXPECT_EQ(report.images, 2000);
  EXPECT_GE(report.counts["train"]["tfq.jsonl"].get<int>(), 2000 * 5);
  std::cout << "[ info ] 2000 images with statements in " << report.seconds << " s\n";
}

TEST(WorldGenerator, CancellationStopsEarly) {
  const fs::path dir = world_test::temp_dir("cancel");
  GenerationHooks hooks;
  int polls = 0;
  hooks.cancelled = [&] { return ++polls > 5; };
  try {
    generate_world(world_test::small_config(1, 200, 0, 0, 0, 0), dir, hooks);
    FAIL() << "expected Interrupted";
  } catch (const mstar::Error& e) {
    EXPECT_EQ(e.category(), mstar::ErrorCategory::Interrupted);
  }
  EXPECT_FALSE(fs::exists(dir / "world.json"));
}
