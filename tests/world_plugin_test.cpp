// The two plugin libraries, loaded as the host loads them (dlopen + the one
// exported hook), run against a minimal NodeContext.
#include <dlfcn.h>
#include <optional>
#include <set>
#include <gtest/gtest.h>

#include "mstar/artifact.h"
#include "mstar/data/image.h"
#include "mstar/data/rows.h"
#include "mstar/plugin.h"
#include "world_helpers.h"

namespace fs = std::filesystem;
using mstar::Json;

namespace {

class FakeContext : public mstar::NodeContext {
 public:
  FakeContext(Json params, fs::path out)
      : params_(std::move(params)), out_(std::move(out)) {}
  const mstar::Params& params() const override { return params_; }
  const mstar::Artifact* input(std::string_view name) const override {
    return name == "data" && data ? &*data : nullptr;
  }
  std::vector<std::string> input_names() const override { return {}; }
  const fs::path& output_dir() const override { return out_; }
  void log(int64_t, std::string_view, double) override {}
  void summary(std::string_view key, double value) override { summaries[std::string(key)] = value; }
  void annotate(std::string_view key, const Json& value) override { annotations[std::string(key)] = value; }
  mstar::Logger& logger() override { return logger_; }
  uint64_t seed() const override { return 5; }
  int threads() const override { return 2; }
  bool cancelled() const override { return false; }
  const fs::path& resume_dir() const override { return out_; }
  std::shared_ptr<void> create_component(const Json& spec, std::string_view) override {
    throw mstar::Error(mstar::ErrorCategory::BadInput, "no components in this test: " + spec.dump());
  }

  std::map<std::string, double> summaries;
  Json annotations = Json::object();
  std::optional<mstar::Artifact> data;  // the `data` input, when wired

 private:
  mstar::Params params_;
  fs::path out_;
  mstar::NullLogger logger_;
};

struct Loaded {
  void* handle = nullptr;
  const mstar::LibraryDescriptor* library = nullptr;
  ~Loaded() {
    if (handle) dlclose(handle);
  }
};

void load(const char* path, Loaded& out, uint32_t plugins = 1) {
  out.handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(out.handle, nullptr) << dlerror();
  using Hook = const mstar::LibraryDescriptor* (*)();
  auto hook = reinterpret_cast<Hook>(dlsym(out.handle, MSTAR_PLUGIN_ENTRY_SYMBOL));
  ASSERT_NE(hook, nullptr);
  out.library = hook();
  ASSERT_EQ(out.library->api_version, static_cast<uint32_t>(MSTAR_PLUGIN_API_VERSION));
  ASSERT_EQ(out.library->plugin_count, plugins);
}

// The descriptor of plugin `id` in a loaded library.
const mstar::PluginDescriptor* find_plugin(const Loaded& lib, const std::string& id) {
  for (uint32_t i = 0; i < lib.library->plugin_count; ++i)
    if (mstar::PluginInfo::from_json(Json::parse(lib.library->plugins[i].metadata_json)).id() == id)
      return &lib.library->plugins[i];
  return nullptr;
}

Json resolve(const mstar::PluginInfo& info, const Json& given) {
  std::vector<mstar::ParamIssue> issues;
  Json p = mstar::validate_params(info.params, given, issues);
  for (const auto& i : issues) ADD_FAILURE() << i.path << ": " << i.message;
  return p;
}

}  // namespace

TEST(WorldPlugins, ImplicationWorldRunsThroughTheAbi) {
  Loaded lib;
  load(MSTAR_WORLD_PLUGIN, lib, 2);  // dataset/implication_world and judge/rubric
  if (HasFatalFailure()) return;
  ASSERT_NE(find_plugin(lib, "judge/rubric"), nullptr);
  const mstar::PluginDescriptor* world = find_plugin(lib, "dataset/implication_world");
  ASSERT_NE(world, nullptr);
  const auto info = mstar::PluginInfo::from_json(Json::parse(world->metadata_json));
  EXPECT_EQ(info.id(), "dataset/implication_world");
  ASSERT_EQ(info.outputs.size(), 2u);
  EXPECT_EQ(info.outputs[0].name, "train");
  EXPECT_EQ(info.outputs[1].name, "bench");
  EXPECT_EQ(info.outputs[1].type, "dataset");

  const fs::path out = world_test::temp_dir("plugin_world");
  FakeContext ctx(resolve(info, Json{{"train_images", 30}, {"bench_images", 10}, {"lite_train_images", 3},
                                      {"lite_bench_images", 3}}),
                  out);
  char message[512] = {0};
  ASSERT_EQ(world->run(&ctx, message, sizeof message), mstar::kRunOk) << message;
  EXPECT_EQ(ctx.summaries["images"], 46);
  EXPECT_EQ(ctx.annotations["type"], "dataset");
  EXPECT_EQ(ctx.annotations["world"]["seed"], 5);  // the node's seed: no `seed` param given
  EXPECT_FALSE(mstar::data::read_tfq_jsonl(out / "bench/tfq.jsonl").rows.empty());
  // What `mstar data stats` shows of the world's scenes, recorded in the manifest.
  EXPECT_EQ(ctx.annotations["split_stats"]["train"]["scenes"]["images"], 30 + 3);
  EXPECT_EQ(ctx.annotations["split_stats"]["bench"]["scenes"]["images"], 10 + 3);

  FakeContext bad(resolve(info, Json{{"glyphs", 4}, {"concepts", 8}}), world_test::temp_dir("plugin_bad"));
  EXPECT_EQ(world->run(&bad, message, sizeof message), mstar::kRunBadInput);
  EXPECT_NE(std::string(message).find("concepts"), std::string::npos) << message;
}

TEST(WorldPlugins, TfqJsonlImportsAndReportsBadInput) {
  Loaded lib;
  load(MSTAR_TFQ_JSONL_PLUGIN, lib);
  if (HasFatalFailure()) return;
  const auto info = mstar::PluginInfo::from_json(Json::parse(lib.library->plugins[0].metadata_json));
  EXPECT_EQ(info.id(), "dataset/tfq_jsonl");
  const fs::path out = world_test::temp_dir("plugin_import");
  FakeContext ctx(resolve(info, Json{{"source", world_test::shared_world().string()}}), out);
  char message[512] = {0};
  ASSERT_EQ(lib.library->plugins[0].run(&ctx, message, sizeof message), mstar::kRunOk) << message;
  EXPECT_GT(ctx.summaries["rows"], 1000);
  EXPECT_EQ(ctx.summaries["bad_rows"], 0);
  EXPECT_TRUE(fs::is_regular_file(out / "train/tfq.jsonl"));

  FakeContext missing(resolve(info, Json{{"source", "/nonexistent/tfq"}}), world_test::temp_dir("plugin_missing"));
  EXPECT_EQ(lib.library->plugins[0].run(&missing, message, sizeof message), mstar::kRunBadInput);
  EXPECT_NE(std::string(message).find("/nonexistent/tfq"), std::string::npos);

  // From another node's split (`inputs: {data: world.train}`), the rows of
  // its first 10 images only; without source or input, a clear error.
  const fs::path subset_out = world_test::temp_dir("plugin_subset");
  FakeContext subset(resolve(info, Json{{"max_images", 10}}), subset_out);
  subset.data = mstar::Artifact(world_test::shared_world() / "train", Json::object());
  ASSERT_EQ(lib.library->plugins[0].run(&subset, message, sizeof message), mstar::kRunOk) << message;
  std::set<std::string> images;
  for (const auto& row : mstar::data::read_tfq_jsonl(subset_out / "train/tfq.jsonl").rows)
    images.insert(row.image_id);
  EXPECT_EQ(images.size(), 10u);
  FakeContext neither(resolve(info, Json::object()), world_test::temp_dir("plugin_neither"));
  EXPECT_EQ(lib.library->plugins[0].run(&neither, message, sizeof message), mstar::kRunBadInput);
  EXPECT_NE(std::string(message).find("`data` input"), std::string::npos) << message;
}

TEST(WorldPlugins, TfqJsonlConfinesImagePathsToSourceAndImageRoots) {
  Loaded lib;
  load(MSTAR_TFQ_JSONL_PLUGIN, lib);
  if (HasFatalFailure()) return;
  const auto info = mstar::PluginInfo::from_json(Json::parse(lib.library->plugins[0].metadata_json));
  const fs::path outside = world_test::temp_dir("plugin_outside");
  mstar::write_file_atomic(outside / "o.png", mstar::data::encode_png(mstar::data::Image(4, 4)));
  const std::string o = fs::canonical(outside / "o.png").string();
  // An export in its own folder whose one row names IMAGE; img/link.png
  // inside it is a symlink to the outside image.
  auto export_with = [&](const std::string& image) {
    const fs::path src = world_test::temp_dir("plugin_export");
    fs::create_directories(src / "img");
    fs::create_symlink(outside / "o.png", src / "img/link.png");
    const Json row{{"images", {image}}, {"problem", "<image> a statement."}, {"answer", "T"}};
    mstar::write_file_atomic(src / "tfq.jsonl", row.dump() + "\n");
    return src;
  };
  auto run = [&](const Json& params, std::string& message) {
    FakeContext ctx(resolve(info, params), world_test::temp_dir("plugin_confined_out"));
    char buffer[2048] = {0};
    const int status = lib.library->plugins[0].run(&ctx, buffer, sizeof buffer);
    message = buffer;
    return status;
  };
  std::string message;
  for (const std::string& image : {"../" + outside.filename().string() + "/o.png", o, std::string("img/link.png")}) {
    const fs::path src = export_with(image);
    ASSERT_EQ(run(Json{{"source", src.string()}}, message), mstar::kRunBadInput) << image;
    EXPECT_NE(message.find((src / "tfq.jsonl").string() + ":1: image: path '" + image + "' resolves to " + o),
              std::string::npos)
        << message;
    // Listed in image_roots, the same folder is allowed and its image copied in.
    FakeContext ok(resolve(info, Json{{"source", src.string()}, {"image_roots", {outside.string()}}}),
                   world_test::temp_dir("plugin_roots_out"));
    char buffer[2048] = {0};
    ASSERT_EQ(lib.library->plugins[0].run(&ok, buffer, sizeof buffer), mstar::kRunOk) << buffer;
    EXPECT_EQ(ok.summaries["rows"], 1);
    const auto rows = mstar::data::read_tfq_jsonl(ok.output_dir() / "train/tfq.jsonl").rows;
    EXPECT_EQ(mstar::read_file(rows.at(0).images.at(0).path), mstar::read_file(outside / "o.png"));
  }
  EXPECT_EQ(run(Json{{"source", export_with("img/link.png").string()}, {"image_roots", {"relative/dir"}}}, message),
            mstar::kRunBadInput);
  EXPECT_NE(message.find("'relative/dir' must be an absolute path"), std::string::npos) << message;
  // The pixel budget is a param too.
  EXPECT_EQ(run(Json{{"source", export_with(o).string()}, {"image_roots", {outside.string()}},
                     {"max_image_pixels", 15}},
                message),
            mstar::kRunBadInput);
  EXPECT_NE(message.find("image is 4x4 = 16 pixels, over the budget of 15"), std::string::npos) << message;
  // An empty export is refused, naming the file.
  const fs::path empty = world_test::temp_dir("plugin_empty");
  mstar::write_file_atomic(empty / "tfq.jsonl", "");
  EXPECT_EQ(run(Json{{"source", empty.string()}}, message), mstar::kRunBadInput);
  EXPECT_NE(message.find((empty / "tfq.jsonl").string() + ": no rows"), std::string::npos) << message;
}
