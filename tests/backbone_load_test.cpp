// backbone/load is a plugin library of its own (plugins/backbone_load) and
// serves every family: in a fresh node process nothing is registered, so it
// loads the family's library through the backbone registry. The shipped
// checkpoint records no plugin_library; it is found as libmstar_tiny_vlm.so
// beside backbone/load among the built-ins (Sandbox clears MSTAR_PLUGIN_PATH).
#include "host_helpers.h"
#include "mstar/json.h"

namespace mstar::testing {
namespace {

const fs::path kBaseModel = fs::path(MSTAR_SOURCE_DIR) / "models" / "tiny_vlm-qwen-S-base";

TEST(BackboneLoad, LoadsAShippedCheckpointThroughTheFamilysOwnLibrary) {
  Sandbox sb;
  auto info = sb.run({"plugins", "info", "backbone/load", "--format", "json"});
  ASSERT_EQ(info.code(), 0) << info.err;
  EXPECT_EQ(fs::path(Json::parse(info.out).at("library").get<std::string>()).filename(),
            "libmstar_backbone_load.so");
  ASSERT_EQ(Json::parse(slurp(kBaseModel / "config.json")).count("plugin_library"), 0u);

  auto r = sb.run({"run", sb.write("load.yaml", "name: load\nnodes:\n  base: {plugin: backbone/load, params: {path: " +
                                                    kBaseModel.string() + "}}\n")
                              .string()});
  ASSERT_EQ(r.code(), 0) << r.err << r.out;
  auto reg = sb.registry();
  const auto base = nodes_of(*reg, reg->list_runs().at(0).id).at("base");
  ASSERT_EQ(base.status, "done") << base.reason;
  const Json config = Json::parse(slurp(fs::path(base.artifact_path) / "config.json"));
  EXPECT_EQ(config.at("architecture"), "tiny_vlm");
  EXPECT_EQ(fs::path(config.at("plugin_library").get<std::string>()),
            fs::weakly_canonical(fs::path(MSTAR_BINARY_DIR) / "plugins" / "libmstar_tiny_vlm.so"));
}

TEST(BackboneLoad, AFamilyWithNoLibraryFailsTheNodeNamingWhereItLooked) {
  Sandbox sb;
  sb.write("ckpt/config.json", R"({"architecture": "martian"})");
  auto r = sb.run({"run", sb.write("load.yaml", "name: load\nnodes:\n  base: {plugin: backbone/load, params: {path: " +
                                                    (sb.dir() / "ckpt").string() + "}}\n")
                              .string()});
  EXPECT_NE(r.code(), 0);
  auto reg = sb.registry();
  const auto base = nodes_of(*reg, reg->list_runs().at(0).id).at("base");
  EXPECT_EQ(base.status, "failed");
  EXPECT_NE(base.reason.find("backbone architecture 'martian' is not registered"), std::string::npos) << base.reason;
  EXPECT_NE(base.reason.find("libmstar_martian.so"), std::string::npos) << base.reason;
}

}  // namespace
}  // namespace mstar::testing
