// Plugin loading: every kind of bad library is refused with a message that
// says what to fix, and the host survives all of them.
#include "host_helpers.h"

using namespace mstar::testing;

namespace {

std::string list_all(const Sandbox& sb, const fs::path& dir) {
  auto r = sb.run({"plugins", "list", "--all", "--plugin-path", dir.string()});
  EXPECT_EQ(r.code(), 0) << r.err;
  return r.out;
}

}  // namespace

TEST(Loader, RefusesNonPluginsWrongVersionsCrashesAndDuplicates) {
  Sandbox sb;
  const fs::path dir = sb.dir() / "plugins";
  fs::create_directories(dir);
  // A text file pretending to be a library.
  sb.write("plugins/libfake.so", "not an ELF file");
  // A real shared library that is not a plugin.
  fs::copy_file(fs::path(MSTAR_BINARY_DIR) / "lib" / "libmstar_core.so", dir / "libnotaplugin.so");
  // Built for another API version; crashing in a static initialiser.
  fs::copy_file(fs::path(MSTAR_BINARY_DIR) / "test_plugins/bad_version/libbad_version_plugin.so", dir / "libbadver.so");
  fs::copy_file(fs::path(MSTAR_BINARY_DIR) / "test_plugins/crash_init/libmstar_crash_init_plugin.so",
                dir / "libcrashinit.so");
  // The same plugins twice.
  fs::copy_file(fs::path(MSTAR_BINARY_DIR) / "plugins/libmstar_testing.so", dir / "libmstar_testing_copy.so");

  const std::string out = list_all(sb, dir);
  EXPECT_NE(out.find("libfake.so: not a loadable shared library"), std::string::npos) << out;
  EXPECT_NE(out.find("libnotaplugin.so: is not an mstar plugin"), std::string::npos) << out;
  EXPECT_NE(out.find("mstar_add_plugin"), std::string::npos) << out;
  EXPECT_NE(out.find("built for plugin API version 99"), std::string::npos) << out;
  EXPECT_NE(out.find("crashed while loading (signal 11)"), std::string::npos) << out;
  EXPECT_NE(out.find("duplicate plugin 'test/echo'"), std::string::npos) << out;
  // The copy in --plugin-path comes first in the search order and wins.
  EXPECT_NE(out.find("libmstar_testing_copy.so"), std::string::npos);
}

TEST(Loader, ProbeResultsAreCachedAndRefreshedWhenTheLibraryChanges) {
  Sandbox sb;
  const fs::path dir = sb.dir() / "plugins";
  fs::create_directories(dir);
  ASSERT_EQ(sb.run({"plugins", "list", "--plugin-path", dir.string()}).code(), 0);
  const fs::path cache = sb.home() / "plugin-cache.json";
  ASSERT_TRUE(fs::exists(cache));
  sb.write("plugins/libnew.so", "garbage");
  const std::string out = list_all(sb, dir);
  EXPECT_NE(out.find("libnew.so"), std::string::npos) << out;
  EXPECT_NE(slurp(cache).find("libnew.so"), std::string::npos);
}

TEST(Loader, UnknownCommandAndBadFlagsAreBadInput) {
  Sandbox sb;
  auto r = sb.run({"rnu"});
  EXPECT_EQ(r.code(), 2);
  EXPECT_NE(r.err.find("did you mean 'run'"), std::string::npos) << r.err;
  auto h = sb.run({"run", "--help"});
  EXPECT_EQ(h.code(), 0);
  EXPECT_NE(h.out.find("example:"), std::string::npos);
  auto bad = sb.run({"run", "x.yaml", "--jobz", "2"});
  EXPECT_EQ(bad.code(), 2);
}
