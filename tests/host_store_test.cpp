// ArtifactStore on its own: keys, paths, publishing (and the race of two
// attempts publishing one key), and which staging entries a new host may
// remove.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "host_unit_helpers.h"
#include "mstar/artifact.h"
#include "mstar/error.h"
#include "store/artifact_store.h"

using namespace mstar;
using mstar::testing::TempDir;
namespace fs = std::filesystem;

namespace {

void touch(const fs::path& p, const std::string& text = "x") {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

}  // namespace

TEST(ArtifactStore, KeysAreCanonicalContentHashes) {
  Json a = {{"plugin", "test/gen"}, {"params", {{"lr", 0.1}, {"steps", 3}}}};
  Json b = Json::parse(R"({"params": {"steps": 3, "lr": 0.1}, "plugin": "test/gen"})");
  const std::string k = ArtifactStore::cache_key(a);
  EXPECT_EQ(k.size(), 40u);
  EXPECT_EQ(k, ArtifactStore::cache_key(b)) << "key order must not matter";
  b["params"]["lr"] = 0.2;
  EXPECT_NE(k, ArtifactStore::cache_key(b));
}

TEST(ArtifactStore, PathsOfArtifactsInputsStagingAndResume) {
  ArtifactStore s("/st");
  EXPECT_EQ(s.artifact("abcdef"), fs::path("/st/ab/abcdef"));
  EXPECT_EQ(s.input("abcdef"), fs::path("/st/ab/abcdef"));
  EXPECT_EQ(s.input("abcdef/train"), fs::path("/st/ab/abcdef/train"));
  EXPECT_EQ(s.staging("abcdef.123"), fs::path("/st/tmp/abcdef.123"));
  EXPECT_EQ(s.resume("abcdef"), fs::path("/st/resume/abcdef"));
}

TEST(ArtifactStore, PublishMakesItCompleteAndDropsTheCheckpoints) {
  TempDir t;
  ArtifactStore s(t.dir());
  const std::string key = "ab12";
  const fs::path staging = s.staging(key + ".1");
  touch(staging / "old.txt");
  ArtifactStore::begin_staging(staging);
  EXPECT_FALSE(fs::exists(staging / "old.txt")) << "an attempt starts from an empty staging directory";
  touch(staging / "value.json", "3");
  touch(s.resume(key) / "ckpt");
  EXPECT_FALSE(s.is_complete(key));
  ArtifactStore::publish(staging, s.artifact(key), s.resume(key), R"({"key": "ab12"})");
  EXPECT_TRUE(s.is_complete(key));
  EXPECT_TRUE(fs::exists(s.artifact(key) / "value.json"));
  EXPECT_FALSE(fs::exists(staging));
  EXPECT_FALSE(fs::exists(s.resume(key)));
  s.forget(key);
  EXPECT_FALSE(fs::exists(s.artifact(key)));
}

// Two attempts of one key (a host and a Slurm job it lost track of) both
// finish: the second finds the first's complete artifact and discards its own.
TEST(ArtifactStore, TheSecondPublisherOfAKeyDiscardsItsCopy) {
  TempDir t;
  ArtifactStore s(t.dir());
  for (const char* tag : {"k1.a", "k1.b"}) {
    ArtifactStore::begin_staging(s.staging(tag));
    touch(s.staging(tag) / "who", tag);
  }
  ArtifactStore::publish(s.staging("k1.a"), s.artifact("k1"), {}, "{}");
  ArtifactStore::publish(s.staging("k1.b"), s.artifact("k1"), {}, "{}");
  EXPECT_FALSE(fs::exists(s.staging("k1.b")));
  std::ifstream in(s.artifact("k1") / "who");
  std::string who;
  in >> who;
  EXPECT_EQ(who, "k1.a");
}

TEST(ArtifactStore, APublishThatCannotCompleteSaysWhere) {
  TempDir t;
  ArtifactStore s(t.dir());
  touch(s.artifact("k2") / "junk");  // an incomplete, non-empty directory in the way
  ArtifactStore::begin_staging(s.staging("k2.a"));
  try {
    ArtifactStore::publish(s.staging("k2.a"), s.artifact("k2"), {}, "{}");
    FAIL() << "published over an incomplete directory";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::Io);
    EXPECT_NE(std::string(e.what()).find(s.artifact("k2").string()), std::string::npos) << e.what();
  }
}

TEST(ArtifactStore, StaleStagingGoesOnlyWhenItsOwnerSaysSo) {
  TempDir t;
  ArtifactStore s(t.dir());
  EXPECT_EQ(s.discard_stale_staging([](const std::string&) { return false; }), 0u) << "no tmp/ yet";
  for (const char* d : {"k1.live", "k2.dead", "k3.other"}) fs::create_directories(s.staging(d));
  for (const char* f : {"k1.live.events", "k2.dead.events", "k2.dead.exit"}) touch(s.staging(f));
  std::map<std::string, int> asked;
  const size_t removed = s.discard_stale_staging([&](const std::string& name) -> std::optional<bool> {
    ++asked[name];
    if (name == "k3.other") return std::nullopt;
    return name == "k1.live";
  });
  EXPECT_EQ(removed, 1u);
  EXPECT_TRUE(fs::exists(s.staging("k1.live")) && fs::exists(s.staging("k1.live.events")));
  EXPECT_FALSE(fs::exists(s.staging("k2.dead")) || fs::exists(s.staging("k2.dead.events")) ||
               fs::exists(s.staging("k2.dead.exit")));
  EXPECT_TRUE(fs::exists(s.staging("k3.other")));
  EXPECT_EQ(asked, (std::map<std::string, int>{{"k1.live", 1}, {"k2.dead", 1}, {"k3.other", 1}}));
}
