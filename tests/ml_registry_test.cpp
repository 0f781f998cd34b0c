#include <cstdlib>

#include <gtest/gtest.h>
#include <torch/version.h>

#include "ml_helpers.h"
#include "mstar/error.h"
#include "mstar/ml/registry.h"

namespace mstar::ml {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

std::unique_ptr<Backbone> no_backbone(const Json&, Tokenizer) { return nullptr; }

TEST(BackboneRegistry, RefusesDuplicatesAndListsKnownOnUnknown) {
  auto& registry = BackboneRegistry::instance();
  registry.add({"test_arch_a", "first", "/lib/one.so", &no_backbone});
  try {
    registry.add({"test_arch_a", "second", "/lib/two.so", &no_backbone});
    FAIL() << "duplicate accepted";
  } catch (const Error& e) {
    EXPECT_TRUE(e.is_bad_input());
    EXPECT_NE(std::string(e.what()).find("/lib/one.so"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("/lib/two.so"), std::string::npos) << e.what();
  }
  try {
    registry.get("no_such_arch");
    FAIL() << "unknown accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_arch"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("test_arch_a"), std::string::npos) << e.what();
  }
  // A factory that returns nothing is a plugin failure.
  EXPECT_THROW(registry.create("test_arch_a", Json::object(), Tokenizer()), Error);
  registry.remove("test_arch_a");
  EXPECT_FALSE(registry.contains("test_arch_a"));
}

TEST(BackboneRegistry, RegistrarRecordsFailuresInsteadOfThrowing) {
  auto& registry = BackboneRegistry::instance();
  const auto before = registry.failures().size();
  {
    BackboneRegistrar first("test_arch_b", &no_backbone, reinterpret_cast<const void*>(&no_backbone), "");
    BackboneRegistrar second("test_arch_b", &no_backbone, reinterpret_cast<const void*>(&no_backbone), "");
  }
  EXPECT_EQ(registry.failures().size(), before + 1);
  // The anchor resolves to the binary that holds it (this test executable).
  EXPECT_EQ(registry.get("test_arch_b").library, library_of(reinterpret_cast<const void*>(&no_backbone)));
  EXPECT_FALSE(registry.get("test_arch_b").library.empty());
  registry.remove("test_arch_b");
}

TEST(BackboneRegistry, PluginLibraryRegistersAtLoad) {
  testing::load_tiny_vlm();
  EXPECT_TRUE(BackboneRegistry::instance().contains("tiny_vlm"));
  EXPECT_EQ(BackboneRegistry::instance().get("tiny_vlm").library,
            fs::weakly_canonical(MSTAR_TINY_VLM_PLUGIN));
  testing::load_tiny_vlm();  // a second load is a no-op
}

// The handshake in an algorithm's process: a family library built against
// another LibTorch shares tensors and modules with this libmstar_ml, so it
// is refused, and the architecture its registrar added while loading is
// taken back.
TEST(BackboneRegistry, RefusesAFamilyLibraryBuiltAgainstAnotherLibTorch) {
  const std::string lib = fs::weakly_canonical(MSTAR_OTHER_TORCH_PLUGIN).string();
  for (int attempt = 0; attempt < 2; ++attempt) {  // the second load says the same, never a silent no-op
    try {
      load_library(lib);
      FAIL() << "accepted";
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_TRUE(e.is_bad_input());
      EXPECT_NE(m.find("plugin library " + lib + ": built against LibTorch 99.0.0; this mstar has LibTorch " +
                       std::string(TORCH_VERSION)),
                std::string::npos)
          << m;
    }
    EXPECT_FALSE(BackboneRegistry::instance().contains("other_torch_family"));
  }
  Json config = {{"architecture", "other_torch_family"}, {"plugin_library", lib}};
  try {
    ensure_architecture(config, "ckpt/config.json");
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("LibTorch 99.0.0"), std::string::npos) << e.what();
  }
}

// A checkpoint that records no library (a shipped one) is looked for by the
// built-in name, libmstar_<architecture>.so, in MSTAR_PLUGIN_PATH and the
// directories given.
TEST(BackboneRegistry, FindsAnUnrecordedLibraryByTheArchitecturesName) {
  const fs::path lib = fs::weakly_canonical(MSTAR_TINY_VLM_PLUGIN);
  ::unsetenv("MSTAR_PLUGIN_PATH");
  const Json config = {{"architecture", "tiny_vlm"}};
  std::vector<fs::path> tried;
  EXPECT_TRUE(find_plugin_library(config, &tried, {"/nowhere"}).empty());
  EXPECT_EQ(tried, std::vector<fs::path>{"/nowhere/libmstar_tiny_vlm.so"});
  EXPECT_EQ(find_plugin_library(config, nullptr, {"/nowhere", lib.parent_path()}), lib);
  // A name that could leave the directory is not looked for.
  EXPECT_TRUE(find_plugin_library(Json{{"architecture", "../tiny_vlm"}}, nullptr, {lib.parent_path()}).empty());
}

TEST(BackboneRegistry, FindsMovedLibrariesThroughPluginPath) {
  const fs::path lib = fs::weakly_canonical(MSTAR_TINY_VLM_PLUGIN);
  Json config = {{"architecture", "tiny_vlm"}, {"plugin_library", "/gone/away/" + lib.filename().string()}};
  ::unsetenv("MSTAR_PLUGIN_PATH");
  std::vector<fs::path> tried;
  EXPECT_TRUE(find_plugin_library(config, &tried).empty());
  EXPECT_EQ(tried.size(), 1u);
  ::setenv("MSTAR_PLUGIN_PATH", ("/nowhere:" + lib.parent_path().string()).c_str(), 1);
  EXPECT_EQ(find_plugin_library(config), lib.parent_path() / lib.filename());
  ::unsetenv("MSTAR_PLUGIN_PATH");
}

TEST(BackboneRegistry, UnknownArchitectureWithoutLibraryIsAnError) {
  Json config = {{"architecture", "martian_vlm"}};
  try {
    ensure_architecture(config, "x/config.json");
    FAIL() << "accepted";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("x/config.json"), std::string::npos) << m;
    EXPECT_NE(m.find("martian_vlm"), std::string::npos) << m;
  }
  EXPECT_THROW(ensure_architecture(Json::object(), "y"), Error);
  config["plugin_library"] = "/no/such/libmstar_martian.so";
  EXPECT_THROW(ensure_architecture(config, "z"), Error);
}

TEST(BackboneRegistry, ArtifactWithoutCheckpointIsAnError) {
  TempDir dir;
  write_file_atomic(dir.path() / kManifestFile, R"({"plugin": "dataset/x", "key": "k"})");
  Artifact a = Artifact::open(dir.path());
  EXPECT_THROW(backbone_dir(a), Error);
  fs::create_directories(dir.path() / "model");
  write_file_atomic(dir.path() / "model" / kConfigFile, "{}");
  EXPECT_EQ(backbone_dir(a), dir.path() / "model");
}

}  // namespace
}  // namespace mstar::ml
