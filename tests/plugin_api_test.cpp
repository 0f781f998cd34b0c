// The plugin API's own behaviour: schema validation messages, typo hints,
// metadata round trips, the exception firewall of run_guarded and the
// confinement of paths read from data.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "mstar/data/paths.h"
#include "mstar/plugin.h"

using namespace mstar;

namespace {

ParamSchema schema() {
  return ParamSchema{ParamSpec::integer("rollout_n").def(5).range(1, 64).describe("samples"),
                     ParamSpec::real("kl_coef").def(0.01).at_least(0),
                     ParamSpec::enumeration("family", {"qwen", "llava"}).def("qwen"),
                     ParamSpec::string("name").require(),
                     ParamSpec::list("sizes", "int").def(Json::array()),
                     ParamSpec::plugin("reward", "reward").def(Json{{"plugin", "reward/tfq"}})};
}

std::string joined(const std::vector<ParamIssue>& issues) {
  std::string s;
  for (const auto& i : issues) s += i.path + ": " + i.message + "\n";
  return s;
}

}  // namespace

TEST(Params, DefaultsAreFilledAndIntsBecomeFloats) {
  std::vector<ParamIssue> issues;
  Json out = validate_params(schema(), Json{{"name", "x"}, {"kl_coef", 1}}, issues);
  EXPECT_TRUE(issues.empty()) << joined(issues);
  EXPECT_EQ(out["rollout_n"], 5);
  EXPECT_TRUE(out["kl_coef"].is_number_float());
  EXPECT_EQ(out["family"], "qwen");
}

TEST(Params, ErrorsNameTheKeyAndWhatWasExpected) {
  std::vector<ParamIssue> issues;
  validate_params(schema(), Json{{"rollout_n", 0}, {"family", "qwn"}, {"sizes", {1, "a"}}, {"kl_coef", "x"}}, issues);
  const std::string all = joined(issues);
  EXPECT_NE(all.find("rollout_n: expected int in [1, 64], got 0"), std::string::npos) << all;
  EXPECT_NE(all.find("did you mean 'qwen'"), std::string::npos) << all;
  EXPECT_NE(all.find("sizes[1]: expected int"), std::string::npos) << all;
  EXPECT_NE(all.find("kl_coef: expected float >= 0"), std::string::npos) << all;
  EXPECT_NE(all.find("name: required param is missing"), std::string::npos) << all;
}

TEST(Params, UnknownKeyGetsASuggestion) {
  std::vector<ParamIssue> issues;
  validate_params(schema(), Json{{"name", "x"}, {"rolout_n", 3}}, issues);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].path, "rolout_n");
  EXPECT_NE(issues[0].message.find("did you mean 'rollout_n'"), std::string::npos);
}

TEST(Params, NestedPluginReferencesAreValidatedAgainstTheirSchema) {
  ParamSchema reward{ParamSpec::real("format_weight").def(0.5).range(0, 1)};
  SchemaLookup lookup = [&](const std::string& id) -> const ParamSchema* {
    return id == "reward/tfq" ? &reward : nullptr;
  };
  std::vector<ParamIssue> issues;
  Json out = validate_params(schema(), Json{{"name", "x"}, {"reward", {{"plugin", "reward/tfq"}, {"format_weight", 2}}}},
                             issues, lookup);
  ASSERT_EQ(issues.size(), 1u) << joined(issues);
  EXPECT_EQ(issues[0].path, "reward.format_weight");
  issues.clear();
  out = validate_params(schema(), Json{{"name", "x"}}, issues, lookup);
  EXPECT_TRUE(issues.empty()) << joined(issues);
  EXPECT_EQ(out["reward"]["format_weight"], 0.5);
  issues.clear();
  validate_params(schema(), Json{{"name", "x"}, {"reward", {{"plugin", "judge/x"}}}}, issues, lookup);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_NE(issues[0].message.find("expected a plugin of kind 'reward'"), std::string::npos);
}

TEST(Params, DidYouMeanIgnoresUnrelatedWords) {
  EXPECT_EQ(did_you_mean("kl_coeff", {"kl_coef", "lr"}), "kl_coef");
  EXPECT_EQ(did_you_mean("temperature", {"kl_coef", "lr"}), "");
}

TEST(PluginInfo, MetadataRoundTripsThroughJson) {
  PluginInfo info;
  info.kind = "algorithm";
  info.name = "grpo";
  info.version = "1.2.0";
  info.params = schema();
  info.inputs = {{"model", "backbone", true, "policy"}};
  info.outputs = {{"", "backbone", "trained policy"}};
  PluginInfo back = PluginInfo::from_json(Json::parse(info.to_json().dump()));
  EXPECT_EQ(back.id(), "algorithm/grpo");
  EXPECT_EQ(back.params.to_json(), info.params.to_json());
  EXPECT_EQ(back.inputs.at(0).type, "backbone");
}

namespace {

class NullContext : public NodeContext {
 public:
  const Params& params() const override { return params_; }
  const Artifact* input(std::string_view) const override { return nullptr; }
  std::vector<std::string> input_names() const override { return {}; }
  const std::filesystem::path& output_dir() const override { return dir_; }
  void log(int64_t, std::string_view, double) override {}
  void summary(std::string_view, double) override {}
  void annotate(std::string_view, const Json&) override {}
  Logger& logger() override { return logger_; }
  uint64_t seed() const override { return 0; }
  int threads() const override { return 1; }
  bool cancelled() const override { return false; }
  const std::filesystem::path& resume_dir() const override { return dir_; }
  std::shared_ptr<void> create_component(const Json&, std::string_view) override { return nullptr; }

 private:
  Params params_;
  std::filesystem::path dir_;
  NullLogger logger_;
};

}  // namespace

TEST(PluginBoundary, ExceptionsBecomeStatusAndMessage) {
  NullContext ctx;
  char msg[64];
  EXPECT_EQ(detail::run_guarded(&ctx, msg, sizeof msg, [](NodeContext&) { throw std::runtime_error("bad"); }),
            kRunFailed);
  EXPECT_STREQ(msg, "uncaught exception: bad");
  EXPECT_EQ(detail::run_guarded(&ctx, msg, sizeof msg, [](NodeContext&) { throw_bad_input("key x"); }), kRunBadInput);
  EXPECT_EQ(detail::run_guarded(&ctx, msg, sizeof msg, [](NodeContext&) { throw 42; }), kRunFailed);
  EXPECT_EQ(detail::run_guarded(&ctx, msg, sizeof msg, [](NodeContext&) {}), kRunOk);
  // Long messages are cut, never overflow.
  char tiny[8];
  detail::run_guarded(&ctx, tiny, sizeof tiny, [](NodeContext&) { throw std::runtime_error(std::string(100, 'x')); });
  EXPECT_EQ(std::string(tiny).size(), 7u);
}

TEST(Errors, CategoryDecidesExitCode) {
  EXPECT_EQ(exit_code(ErrorCategory::BadInput), 2);
  EXPECT_EQ(exit_code(ErrorCategory::PluginFailure), 1);
  EXPECT_EQ(exit_code(ErrorCategory::Interrupted), 130);
}

namespace {

namespace fs = std::filesystem;

// dataset/ (img/a.png, img/out.png -> outside/secret.png), outside/secret.png
// and roots/photos/p.png, fresh per test.
struct PathsFixture {
  fs::path top = fs::temp_directory_path() / ("mstar_paths_" + std::to_string(::getpid()));
  fs::path dataset = top / "dataset", outside = top / "outside", photos = top / "roots/photos";
  PathsFixture() {
    fs::remove_all(top);
    for (const fs::path& d : {dataset / "img", outside, photos}) fs::create_directories(d);
    for (const fs::path& f : {dataset / "img/a.png", outside / "secret.png", photos / "p.png"}) std::ofstream(f) << "x";
    fs::create_symlink(outside / "secret.png", dataset / "img/out.png");
  }
  ~PathsFixture() { fs::remove_all(top); }
};

// The message of the Error(BadInput) that resolving `source` throws; "" if none.
std::string refusal(const data::PathConfinement& c, const std::string& source) {
  try {
    c.resolve(source, "rows.jsonl:7");
  } catch (const Error& e) {
    EXPECT_TRUE(e.is_bad_input());
    return e.what();
  }
  return "";
}

}  // namespace

TEST(DataPaths, InsideTheDatasetFolderIsCanonical) {
  PathsFixture f;
  const data::PathConfinement c(f.dataset);
  EXPECT_EQ(c.resolve("img/a.png", "x"), fs::canonical(f.dataset / "img/a.png"));
  EXPECT_EQ(c.resolve("img/../img/./a.png", "x"), fs::canonical(f.dataset / "img/a.png"));
  EXPECT_EQ(c.resolve((f.dataset / "img/a.png").string(), "x"), fs::canonical(f.dataset / "img/a.png"));
  // A missing file inside is the caller's "not found", not a confinement error.
  EXPECT_EQ(c.resolve("img/missing.png", "x"), fs::canonical(f.dataset) / "img/missing.png");
}

TEST(DataPaths, EveryWayOutIsRefusedNamingWhereAndWhat) {
  PathsFixture f;
  const data::PathConfinement c(f.dataset);
  const std::string secret = fs::canonical(f.outside / "secret.png").string();
  for (const std::string& source : {std::string("../outside/secret.png"), secret, std::string("img/out.png"),
                                    std::string("img/nothing/../../../outside/secret.png")}) {
    const std::string msg = refusal(c, source);
    EXPECT_EQ(msg.rfind("rows.jsonl:7: path '" + source + "' resolves to " + secret, 0), 0u) << msg;
    EXPECT_NE(msg.find("outside the dataset folder " + fs::canonical(f.dataset).string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("image_roots"), std::string::npos) << msg;
  }
  // A sibling sharing the folder's name as a prefix is not inside it.
  fs::create_directories(f.top / "dataset2");
  EXPECT_NE(refusal(c, "../dataset2/x.png"), "");
}

TEST(DataPaths, ImageRootsAllowAbsolutePathsAndSymlinksIntoThem) {
  PathsFixture f;
  const data::PathConfinement c(f.dataset, {f.photos, f.outside});
  EXPECT_EQ(c.resolve((f.photos / "p.png").string(), "x"), fs::canonical(f.photos / "p.png"));
  EXPECT_EQ(c.resolve("img/out.png", "x"), fs::canonical(f.outside / "secret.png"));
  EXPECT_EQ(data::resolve_confined(f.dataset, {f.photos}, (f.photos / "p.png").string(), "x"),
            fs::canonical(f.photos / "p.png"));
  // Only the roots listed: a root's parent is still outside.
  EXPECT_NE(refusal(data::PathConfinement(f.dataset, {f.photos}), (f.top / "roots/q.png").string()), "");
}

TEST(DataPaths, BadRootsAndFoldersAreBadInput) {
  PathsFixture f;
  auto message = [](const fs::path& dir, const std::vector<fs::path>& roots) -> std::string {
    try {
      data::PathConfinement c(dir, roots);
    } catch (const Error& e) {
      EXPECT_TRUE(e.is_bad_input());
      return e.what();
    }
    return "";
  };
  EXPECT_NE(message(f.dataset, {"roots/photos"}).find("'roots/photos' must be an absolute path"), std::string::npos);
  EXPECT_NE(message(f.dataset, {f.top / "nope"}).find("nope' is not an existing directory"), std::string::npos);
  EXPECT_NE(message(f.top / "nope", {}).find("dataset folder"), std::string::npos);
  EXPECT_NE(refusal(data::PathConfinement(f.dataset), ""), "");
}
