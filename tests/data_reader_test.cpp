// The dataset layer (libmstar_data): the TFQ JSONL reader and its FILE:LINE
// errors, the pixel budget, the importer; and `mstar data stats|preview`
// (host/src/cli/data_inspect.cpp) over a generated world.
#include <gtest/gtest.h>

#include <fstream>

#include "cli/data_inspect.h"
#include "mstar/artifact.h"
#include "mstar/data/image.h"
#include "mstar/data/import.h"
#include "mstar/data/rows.h"
#include "mstar/error.h"
#include "mstar/world/generator.h"
#include "world_helpers.h"

namespace fs = std::filesystem;
using mstar::Json;
using namespace mstar::data;
using world_test::gradient;

namespace {

Json good_row(const std::string& qid, const std::string& image = "img/a.png") {
  return Json{{"images", {image}}, {"problem", "<image> true or false: the crown is red."}, {"answer", "T"},
              {"image_id", "a"},   {"question_id", qid},                                   {"level", "literal"}};
}

// A directory with img/a.png, img/broken.png and FILE holding `lines`.
fs::path write_case(const std::string& name, const std::vector<std::string>& lines) {
  const fs::path dir = world_test::temp_dir(name);
  fs::create_directories(dir / "img");
  mstar::write_file_atomic(dir / "img/a.png", encode_png(gradient(8, 8)));
  mstar::write_file_atomic(dir / "img/broken.png", "this is not a png");
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  mstar::write_file_atomic(dir / "tfq.jsonl", text);
  return dir / "tfq.jsonl";
}

struct BadCase {
  const char* name;
  std::string line;
  const char* expect;  // part of the message
};

}  // namespace

TEST(DataImage, PixelBudgetIsCheckedBeforeDecoding) {
  // A 16x16 PNG whose header claims 10000x10000 (100 M pixels; stb ignores
  // chunk CRCs): a decompression bomb's signature, in 100 bytes. Small
  // enough for stb's own limits, so only the budget stops the decoder.
  std::string bomb = encode_png(gradient(16, 16));
  for (int at : {16, 20}) bomb.replace(at, 4, std::string("\x00\x00\x27\x10", 4));
  try {
    decode_image(bomb, "bomb.png");
    FAIL() << "decoded";
  } catch (const mstar::Error& e) {
    EXPECT_TRUE(e.is_bad_input());
    EXPECT_NE(std::string(e.what()).find("bomb.png: image is 10000x10000 = 100000000 pixels, over the budget of " +
                                         std::to_string(kDefaultMaxPixels)),
              std::string::npos)
        << e.what();
  }
  const std::string png = encode_png(gradient(16, 16));
  EXPECT_THROW(decode_image(png, "p", 255), mstar::Error);
  EXPECT_EQ(decode_image(png, "p", 256).width, 16);
  // The reader checks each image against its budget and so does load_image.
  const fs::path file = write_case("budget", {good_row("q1").dump()});
  ReadOptions tight;
  tight.max_pixels = 63;  // img/a.png is 8x8
  EXPECT_THROW(read_tfq_jsonl(file, tight), mstar::Error);
  tight.max_pixels = 64;
  ImageRef ref = read_tfq_jsonl(file, tight).rows.at(0).images.at(0);
  EXPECT_EQ(load_image(ref).width, 8);
  ref.max_pixels = 63;
  EXPECT_THROW(load_image(ref), mstar::Error);
}

TEST(DataReader, ReadsGeneratedFilesRoundTrip) {
  const fs::path& w = world_test::shared_world();
  const TaskFile file = read_tfq_jsonl(w / "bench/tfq.jsonl");
  EXPECT_TRUE(file.bad_rows.empty());
  EXPECT_EQ(file.rows.size(), world_test::read_rows(w / "bench/tfq.jsonl").size());
  EXPECT_EQ(file.rows.size(), file.lines);
  const TaskRow& r = file.rows.front();
  EXPECT_FALSE(r.question_id.empty());
  EXPECT_FALSE(r.level.empty());
  EXPECT_FALSE(r.tags.empty());
  const Image img = load_image(r.images.front());
  EXPECT_EQ(img.width, 64);
  EXPECT_EQ(load_image(r.images.front(), 32).width, 32);
  size_t heldout = 0;
  for (const TaskRow& row : file.rows) heldout += row.heldout;
  EXPECT_GT(heldout, 0u);
}

TEST(DataReader, EveryKindOfBadRowNamesFileAndLine) {
  const std::string png_uri = make_data_uri("image/png", encode_png(gradient(4, 4)));
  Json missing = good_row("q2");
  missing.erase("answer");
  Json wrong_type = good_row("q2");
  wrong_type["problem"] = 5;
  Json bad_answer = good_row("q2");
  bad_answer["answer"] = "True";
  Json not_list = good_row("q2");
  not_list["images"] = "img/a.png";
  Json empty_list = good_row("q2");
  empty_list["images"] = Json::array();
  Json bad_qid = good_row("q2");
  bad_qid["question_id"] = Json::array();
  Json bad_tags = good_row("q2");
  bad_tags["tags"] = "x";
  const std::vector<BadCase> cases = {
      {"invalid_json", "{\"images\": [", "not valid JSON"},
      {"not_object", "[1, 2]", "expected a JSON object"},
      {"missing_key", missing.dump(), "missing key 'answer'"},
      {"wrong_type", wrong_type.dump(), "'problem' must be a string"},
      {"bad_answer", bad_answer.dump(), "answer must be \"T\" or \"F\", got \"True\""},
      {"images_not_list", not_list.dump(), "'images' must be a list"},
      {"images_empty", empty_list.dump(), "'images' is empty"},
      {"qid_type", bad_qid.dump(), "'question_id' must be a string"},
      {"tags_type", bad_tags.dump(), "'tags' must be a list"},
      {"missing_image", good_row("q2", "img/nope.png").dump(), "not found"},
      {"undecodable_image", good_row("q2", "img/broken.png").dump(), "cannot decode image"},
      {"bad_base64", good_row("q2", "data:image/png;base64,@@@").dump(), "invalid base64"},
      {"bad_mime", good_row("q2", "data:text/plain;base64,Zm9v").dump(), "unsupported data URI type"},
      {"base64_not_image", good_row("q2", "data:image/png;base64,Zm9vYmFy").dump(), "cannot decode image"},
      {"duplicate_qid", good_row("q1").dump(), "duplicate question_id 'q1' (first at line 1)"},
  };
  for (const BadCase& c : cases) {
    const fs::path file = write_case(c.name, {good_row("q1").dump(), c.line, good_row("q3", png_uri).dump()});
    try {
      read_tfq_jsonl(file);
      ADD_FAILURE() << c.name << ": no error";
    } catch (const mstar::Error& e) {
      EXPECT_TRUE(e.is_bad_input()) << c.name;
      const std::string msg = e.what();
      EXPECT_NE(msg.find(file.string() + ":2: "), std::string::npos) << c.name << ": " << msg;
      EXPECT_NE(msg.find(c.expect), std::string::npos) << c.name << ": " << msg;
    }
    ReadOptions skip;
    skip.skip_bad_rows = true;
    const TaskFile read = read_tfq_jsonl(file, skip);
    EXPECT_EQ(read.rows.size(), 2u) << c.name;
    ASSERT_EQ(read.bad_rows.size(), 1u) << c.name;
    EXPECT_EQ(read.bad_rows[0].line, 2u);
    EXPECT_NE(read.bad_rows[0].problem.find(c.expect), std::string::npos) << c.name;
  }
}

TEST(DataReader, ImagePathsStayInsideTheDatasetFolder) {
  const fs::path file = write_case("confine", {good_row("q1").dump()});
  const fs::path outside = world_test::temp_dir("confine_outside");
  mstar::write_file_atomic(outside / "o.png", encode_png(gradient(4, 4)));
  const std::string o = fs::canonical(outside / "o.png").string();
  for (const std::string& source : {"../" + outside.filename().string() + "/o.png", o, std::string("img/link.png")}) {
    const fs::path bad = write_case("confine_bad", {good_row("q1").dump(), good_row("q2", source).dump()});
    fs::create_symlink(outside / "o.png", bad.parent_path() / "img/link.png");
    try {
      read_tfq_jsonl(bad);
      ADD_FAILURE() << source << ": read";
    } catch (const mstar::Error& e) {
      EXPECT_TRUE(e.is_bad_input());
      EXPECT_EQ(std::string(e.what()).rfind(bad.string() + ":2: image: path '" + source + "' resolves to " + o, 0), 0u)
          << e.what();
    }
    ReadOptions roots;
    roots.image_roots = {outside};
    EXPECT_EQ(read_tfq_jsonl(bad, roots).rows.at(1).images.at(0).path, o) << source;
  }
  // A folder of its own for the rows: "../" inside it may reach its parent.
  const fs::path nested = file.parent_path() / "train";
  fs::create_directories(nested);
  mstar::write_file_atomic(nested / "tfq.jsonl", good_row("q1", "../img/a.png").dump() + "\n");
  EXPECT_THROW(read_tfq_jsonl(nested / "tfq.jsonl"), mstar::Error);
  ReadOptions dataset;
  dataset.dataset_dir = file.parent_path();
  EXPECT_EQ(read_tfq_jsonl(nested / "tfq.jsonl", dataset).rows.size(), 1u);
}

TEST(DataReader, EmptyFilesAreRefusedNamingTheFile) {
  const fs::path empty = write_case("empty", {"", "  "});
  ReadOptions skip;
  skip.skip_bad_rows = true;
  for (const ReadOptions& o : {ReadOptions{}, skip}) {
    try {
      read_tfq_jsonl(empty, o);
      ADD_FAILURE() << "read";
    } catch (const mstar::Error& e) {
      EXPECT_TRUE(e.is_bad_input());
      EXPECT_EQ(std::string(e.what()), empty.string() + ": no rows (the file is empty)");
    }
  }
  const fs::path all_bad = write_case("all_bad", {"[1]", good_row("q2", "img/nope.png").dump()});
  try {
    read_tfq_jsonl(all_bad, skip);
    ADD_FAILURE() << "read";
  } catch (const mstar::Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(all_bad.string() + ": no rows left: all 2 rows are bad (first: " +
                                              all_bad.string() + ":1: expected a JSON object",
                                          0),
              0u)
        << e.what();
  }
  ReadOptions tolerant = skip;
  tolerant.allow_empty = true;
  EXPECT_TRUE(read_tfq_jsonl(all_bad, tolerant).rows.empty());
  // The importer refuses them too, before anything is written for them.
  EXPECT_THROW(import_tfq(empty, world_test::temp_dir("empty_out"), ImportOptions{}), mstar::Error);
  ImportOptions import_skip;
  import_skip.skip_bad_rows = true;
  EXPECT_THROW(import_tfq(all_bad, world_test::temp_dir("all_bad_out"), import_skip), mstar::Error);
}

TEST(DataReader, Base64ImagesAndMinimalRows) {
  const Image img = gradient(16, 12);
  const std::string png_uri = make_data_uri("image/png", encode_png(img));
  const std::string jpg_uri = make_data_uri("image/jpeg", encode_jpeg(img, 92));
  // The Hugging Face export has only images, problem and answer.
  const fs::path file = write_case(
      "base64", {Json{{"images", {png_uri}}, {"problem", "<image> a statement."}, {"answer", "T"}}.dump(),
                 Json{{"images", {jpg_uri}}, {"problem", "<image> another."}, {"answer", "F"}}.dump(), "",
                 Json{{"images", {"img/a.png", png_uri}}, {"problem", "<image><image> two."}, {"answer", "F"}}.dump()});
  const TaskFile read = read_tfq_jsonl(file);
  ASSERT_EQ(read.rows.size(), 3u);
  EXPECT_EQ(read.rows[2].line, 4u);  // the blank line is counted, not read
  EXPECT_TRUE(read.rows[0].images[0].inline_data());
  EXPECT_EQ(read.rows[0].images[0].mime, "image/png");
  EXPECT_EQ(load_image(read.rows[0].images[0]).rgb, img.rgb);
  EXPECT_EQ(read.rows[1].images[0].mime, "image/jpeg");
  EXPECT_EQ(load_image(read.rows[1].images[0]).width, 16);
  EXPECT_EQ(load_image(read.rows[1].images[0], 24).height, 24);
  EXPECT_EQ(read.rows[2].images.size(), 2u);
  EXPECT_TRUE(read.rows[0].question_id.empty());
  EXPECT_TRUE(read.rows[0].level.empty());
}

TEST(DataImport, CopiesAWorldAndDecodesDataUris) {
  const fs::path& w = world_test::shared_world();
  const fs::path out = world_test::temp_dir("import_world");
  const ImportReport report = import_tfq(w, out, ImportOptions{});
  const size_t expected = world_test::read_rows(w / "train/tfq.jsonl").size() +
                          world_test::read_rows(w / "train/tfq_lite.jsonl").size() +
                          world_test::read_rows(w / "bench/tfq.jsonl").size() +
                          world_test::read_rows(w / "bench/tfq_lite.jsonl").size();
  EXPECT_EQ(report.rows, expected);
  EXPECT_EQ(report.bad_rows, 0u);
  EXPECT_EQ(mstar::read_file(out / "bench/tfq.jsonl"), mstar::read_file(w / "bench/tfq.jsonl"));
  EXPECT_TRUE(fs::is_regular_file(out / "bench/img/bench-000000.png"));
  EXPECT_FALSE(fs::exists(out / "train/mcq.jsonl"));
  EXPECT_TRUE(fs::is_regular_file(out / "import_report.json"));

  // A Hugging Face style export: one file with data URIs and no ids.
  const std::string uri = make_data_uri("image/png", encode_png(gradient(5, 5)));
  const fs::path src = write_case(
      "import_hf", {Json{{"images", {uri}}, {"problem", "<image> one."}, {"answer", "T"}}.dump(),
                    Json{{"images", {uri}}, {"problem", "<image> two."}, {"answer", "F"}}.dump(),
                    Json{{"images", {"img/a.png"}}, {"problem", "<image> three."}, {"answer", "maybe"}}.dump()});
  const fs::path out2 = world_test::temp_dir("import_hf_out");
  EXPECT_THROW(import_tfq(src.parent_path(), out2, ImportOptions{}), mstar::Error);
  ImportOptions skip;
  skip.skip_bad_rows = true;
  skip.default_split = "bench";
  const ImportReport r2 = import_tfq(src.parent_path(), out2, skip);
  EXPECT_EQ(r2.rows, 2u);
  EXPECT_EQ(r2.bad_rows, 1u);
  EXPECT_EQ(r2.images, 1u);  // the same data URI twice: one file
  const TaskFile again = read_tfq_jsonl(out2 / "bench/tfq.jsonl");
  ASSERT_EQ(again.rows.size(), 2u);
  EXPECT_FALSE(again.rows[0].images[0].inline_data());
  EXPECT_EQ(again.rows[0].images[0].source.rfind("img/", 0), 0u);
  EXPECT_EQ(again.rows[0].question_id, "tfq-1");
  EXPECT_EQ(again.rows[1].question_id, "tfq-2");
  EXPECT_FALSE(again.rows[0].image_id.empty());
}

TEST(DataImport, ParamsAndLinks) {
  std::vector<mstar::ParamIssue> issues;
  const Json p = mstar::validate_params(tfq_import_param_schema(), Json{{"source", "/x"}, {"link", "symlink"}}, issues);
  ASSERT_TRUE(issues.empty());
  const ImportOptions o = tfq_import_options_from_params(p);
  EXPECT_EQ(o.link, LinkMode::Symlink);
  EXPECT_FALSE(o.skip_bad_rows);
  mstar::validate_params(tfq_import_param_schema(), Json{{"max_images", -1}}, issues);
  EXPECT_EQ(issues.size(), 1u);  // a count, not negative
  issues.clear();

  const fs::path src = write_case("import_link", {good_row("q1").dump()});
  const fs::path out = world_test::temp_dir("import_link_out");
  import_tfq(src, out, o);
  EXPECT_TRUE(fs::is_symlink(out / "train/img/a.png"));
  // The links point into the source: a reader allows that folder only when
  // told, and the import report tells it.
  EXPECT_THROW(read_tfq_jsonl(out / "train/tfq.jsonl"), mstar::Error);
  const ReadPolicy policy = recorded_read_policy(out / "train");
  EXPECT_EQ(policy.image_roots, std::vector<fs::path>{fs::canonical(src.parent_path())});
  ReadOptions read;
  read.image_roots = policy.image_roots;
  EXPECT_EQ(read_tfq_jsonl(out / "train/tfq.jsonl", read).rows.size(), 1u);
}

TEST(DataImport, MaxImagesKeepsTheRowsOfTheFirstImages) {
  // Rows of images a, b, a, c: with max_images 2 the rows of a and b stay
  // (both of a's), c's goes; the report counts what was kept.
  Json b = good_row("q2"), c = good_row("q4");
  b["image_id"] = "b";
  c["image_id"] = "c";
  const fs::path src = write_case("import_max_images", {good_row("q1").dump(), b.dump(), good_row("q3").dump(), c.dump()});
  const fs::path out = world_test::temp_dir("import_max_images_out");
  ImportOptions o;
  o.max_images = 2;
  const ImportReport r = import_tfq(src, out, o);
  EXPECT_EQ(r.rows, 3u);
  std::vector<std::string> ids;
  for (const auto& row : read_tfq_jsonl(out / "train/tfq.jsonl").rows) ids.push_back(row.question_id);
  EXPECT_EQ(ids, (std::vector<std::string>{"q1", "q2", "q3"}));
}

TEST(DataReader, TaskRowsOfGenericFilesNameFileAndLine) {
  // read_task_rows (what benchmarks read) over a non-TFQ file: free answers,
  // the first image resolved, kind from a "kind:X" tag, errors at FILE:LINE.
  Json free = good_row("q1");
  free["answer"] = "two crowns";
  free["tags"] = {"kind:count"};
  const fs::path file = write_case("generic_rows", {free.dump(), "", good_row("q2").dump()});
  ReadTaskOptions options;
  options.category_key = "level";
  const auto rows = read_task_rows(file, options);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].answer, "two crowns");
  EXPECT_EQ(rows[0].kind, "count");
  EXPECT_EQ(rows[0].category, "literal");
  EXPECT_EQ(rows[1].line, 3u);  // blank lines count, as in an editor
  EXPECT_EQ(rows[1].image().url(), fs::canonical(file.parent_path() / "img/a.png").string());
  Json missing = good_row("q3");
  missing.erase("problem");
  const fs::path bad = write_case("generic_bad", {good_row("q1").dump(), missing.dump()});
  try {
    read_task_rows(bad, options);
    FAIL() << "a row without 'problem' was accepted";
  } catch (const mstar::Error& e) {
    EXPECT_NE(std::string(e.what()).find(bad.string() + ":2: missing key 'problem'"), std::string::npos) << e.what();
  }
}

TEST(DataInspect, StatsAndPreview) {
  using mstar::cli::dataset_stats;
  using mstar::cli::render_preview_html;
  const fs::path& w = world_test::shared_world();
  const Json stats = dataset_stats(w);
  const Json& tfq = stats["splits"]["bench"]["files"]["tfq.jsonl"];
  EXPECT_EQ(tfq["rows"].get<size_t>(), world_test::read_rows(w / "bench/tfq.jsonl").size());
  EXPECT_EQ(tfq["images"], 300);
  EXPECT_EQ(tfq["levels"].size(), 3u);
  EXPECT_GT(tfq["heldout_rows"].get<int>(), 0);
  EXPECT_FALSE(stats["splits"]["train"]["files"]["mcq.jsonl"].contains("answers"));
  // No manifest: nothing a plugin recorded, and scenes.jsonl is no task file.
  EXPECT_FALSE(stats["splits"]["train"].contains("scenes"));
  EXPECT_FALSE(stats["splits"]["train"]["files"].contains("scenes.jsonl"));

  const std::string html = render_preview_html(w, 6);
  EXPECT_EQ(html.rfind("<!doctype html>", 0), 0u);
  size_t images = 0;
  for (size_t at = 0; (at = html.find("<img src=\"data:image/png;base64,", at)) != std::string::npos; ++at) ++images;
  EXPECT_EQ(images, 6u);
  EXPECT_NE(html.find("true or false: "), std::string::npos);
  EXPECT_NE(html.find("implication"), std::string::npos);
  EXPECT_EQ(html.find("<image>"), std::string::npos);
  // A split directory alone works too.
  EXPECT_NE(render_preview_html(w / "bench", 2).find("bench"), std::string::npos);
}

TEST(DataInspect, StatsShowWhatTheWorldPluginRecorded) {
  // The world's extras (relations, symbols) reach `mstar data stats` through
  // the artifact's manifest ("split_stats", written by
  // dataset/implication_world), not through world code in the host.
  const fs::path& w = world_test::shared_world();
  const Json recorded = mstar::world::split_stats(w);
  EXPECT_EQ(recorded["train"]["scenes"]["relations"].size(), 10u);
  EXPECT_EQ(recorded["train"]["scenes"]["images"], 860);
  const fs::path artifact = world_test::temp_dir("inspect_manifest");
  fs::create_directories(artifact / "train");
  fs::copy_file(w / "train/tfq_lite.jsonl", artifact / "train/tfq_lite.jsonl");
  mstar::write_file_atomic(artifact / "manifest.json", Json{{"split_stats", recorded}}.dump());
  const Json stats = mstar::cli::dataset_stats(artifact);
  EXPECT_EQ(stats["splits"]["train"]["scenes"], recorded["train"]["scenes"]);
  // A split directory finds its artifact's manifest one level up.
  EXPECT_EQ(mstar::cli::dataset_stats(artifact / "train")["splits"]["train"]["scenes"]["images"], 860);
}
