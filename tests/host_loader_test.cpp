// Plugin loading: every kind of bad library is refused with a message that
// says what to fix, and the host survives all of them.
#include <sstream>

#include "host_helpers.h"
#include "mstar/json.h"
#include "mstar/version.h"

using namespace mstar::testing;

namespace {

std::string list_all(const Sandbox& sb, const fs::path& dir) {
  auto r = sb.run({"plugins", "list", "--all", "--plugin-path", dir.string()});
  EXPECT_EQ(r.code(), 0) << r.err;
  return r.out;
}

// The test plugins copied into SANDBOX/plugins, a directory of its own.
fs::path copy_testing_plugin(const Sandbox& sb) {
  const fs::path dir = sb.dir() / "plugins";
  fs::create_directories(dir);
  const fs::path lib = dir / "libmstar_testing_copy.so";
  fs::copy_file(fs::path(MSTAR_BINARY_DIR) / "plugins/libmstar_testing.so", lib);
  return lib;
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

// What crosses the boundary by layout (abi.h) must match: a library built
// against another nlohmann::json, std::string ABI or LibTorch, or for plugin
// API 1, is refused with both values named and none of its plugins listed.
TEST(Loader, RefusesLibrariesBuiltAgainstOtherJsonStringTorchOrApi) {
  Sandbox sb;
  const fs::path dir = sb.dir() / "plugins";
  fs::create_directories(dir);
  const fs::path built = fs::path(MSTAR_BINARY_DIR) / "test_plugins/bad_abi";
  for (const char* claim : {"bad_json_version", "bad_string_abi", "bad_torch_version", "old_api"})
    fs::copy_file(built / ("libbad_abi_" + std::string(claim) + ".so"), dir / ("lib" + std::string(claim) + ".so"));

  const std::string out = list_all(sb, dir);
  const std::string json = std::to_string(NLOHMANN_JSON_VERSION_MAJOR) + "." + std::to_string(NLOHMANN_JSON_VERSION_MINOR);
  const std::string other_json = std::to_string(NLOHMANN_JSON_VERSION_MAJOR) + "." +
                                 std::to_string(NLOHMANN_JSON_VERSION_MINOR + 1) + ".0";
  EXPECT_NE(out.find("libbad_json_version.so: built against nlohmann::json " + other_json +
                     "; this mstar has nlohmann::json " + json),
            std::string::npos)
      << out;
  // GCC's new-ABI std::string (the one this build has), against the old one.
  EXPECT_NE(out.find("libbad_string_abi.so: built against sizeof(std::string) = 8, _GLIBCXX_USE_CXX11_ABI=0; "
                     "this mstar has sizeof(std::string) = " + std::to_string(sizeof(std::string)) +
                     ", _GLIBCXX_USE_CXX11_ABI=" + std::to_string(_GLIBCXX_USE_CXX11_ABI)),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("libold_api.so: built for plugin API version 1, this mstar has version " +
                     std::to_string(MSTAR_PLUGIN_API_VERSION)),
            std::string::npos)
      << out;
  if (std::string(MSTAR_TORCH_VERSION).empty()) {
    // No libmstar_ml here: the LibTorch claim has nothing to be compared with.
    EXPECT_NE(out.find("abi_mismatch"), std::string::npos) << out;
  } else {
    EXPECT_NE(out.find("libbad_torch_version.so: built against LibTorch 99.0.0; this mstar has LibTorch " +
                       std::string(MSTAR_TORCH_VERSION)),
              std::string::npos)
        << out;
    EXPECT_EQ(out.find("abi_mismatch"), std::string::npos) << "a refused library's plugin is listed:\n" << out;
  }
  // The answer is cached (the next list does not probe again) and says the same.
  EXPECT_EQ(list_all(sb, dir), out);
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

// Loading a library runs its code as this user: a plugin directory or
// library that someone else could have written is refused before it is
// probed, unless --trust-plugin-dir.
TEST(Loader, RefusesPluginsSomeoneElseCouldHaveWritten) {
  Sandbox sb;
  const fs::path lib = copy_testing_plugin(sb);
  const fs::path dir = lib.parent_path();
  fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                           fs::perms::others_read | fs::perms::others_exec);
  fs::permissions(lib, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);

  fs::permissions(dir, fs::perms::others_write, fs::perm_options::add);
  std::string out = list_all(sb, dir);
  EXPECT_NE(out.find("plugin directory is world-writable (mode 0757)"), std::string::npos) << out;
  EXPECT_NE(out.find("chmod go-w " + dir.string()), std::string::npos) << out;
  EXPECT_EQ(out.find("libmstar_testing_copy.so"), std::string::npos) << "never probed:\n" << out;
  auto trusted = sb.run({"plugins", "list", "--plugin-path", dir.string(), "--trust-plugin-dir"});
  EXPECT_EQ(trusted.code(), 0) << trusted.err;
  EXPECT_NE(trusted.out.find("libmstar_testing_copy.so"), std::string::npos) << trusted.out;
  fs::permissions(dir, fs::perms::others_write, fs::perm_options::remove);

  fs::permissions(lib, fs::perms::others_write, fs::perm_options::add);
  out = list_all(sb, dir);
  EXPECT_NE(out.find("libmstar_testing_copy.so: is world-writable (mode 0646)"), std::string::npos) << out;
  fs::permissions(lib, fs::perms::others_write, fs::perm_options::remove);

  if (::geteuid() == 0) {  // changing the group or owner of a file needs root
    ASSERT_EQ(::chown(lib.c_str(), 0, 65534), 0);  // nogroup: not the owner's private group
    fs::permissions(lib, fs::perms::group_write, fs::perm_options::add);
    out = list_all(sb, dir);
    EXPECT_NE(out.find("libmstar_testing_copy.so: is group-writable (mode 0664)"), std::string::npos) << out;
    fs::permissions(lib, fs::perms::group_write, fs::perm_options::remove);
    ASSERT_EQ(::chown(lib.c_str(), 65534, 0), 0);
    out = list_all(sb, dir);
    EXPECT_NE(out.find("libmstar_testing_copy.so: is owned by uid 65534, neither root nor you"), std::string::npos)
        << out;
    ASSERT_EQ(::chown(lib.c_str(), 0, 0), 0);
  }
  out = list_all(sb, dir);
  EXPECT_EQ(out.find("libmstar_testing_copy.so: is"), std::string::npos) << out;
  // Loaded again once safe: test/echo comes from the copy.
  std::istringstream lines(out);
  bool echo_from_copy = false;
  for (std::string line; std::getline(lines, line);)
    echo_from_copy |= line.find(" echo ") != std::string::npos && line.find("libmstar_testing_copy.so") != std::string::npos;
  EXPECT_TRUE(echo_from_copy) << out;
}

// Each run records the SHA-256 of every plugin library it used, equal to
// what sha256sum says of the file.
TEST(Loader, RunsRecordEachPluginLibrarysSha256) {
  Sandbox sb;
  const fs::path lib = copy_testing_plugin(sb);
  const fs::path dir = lib.parent_path();
  auto file = sb.write("e.yaml", "name: e\nnodes:\n  a: {plugin: test/echo}\n  b: {plugin: test/sum, inputs: {a: a}}\n");
  auto r = sb.run({"run", file.string(), "--plugin-path", dir.string()});
  ASSERT_EQ(r.code(), 0) << r.err;

  bp::ipstream sum_out;
  bp::child sum("/usr/bin/sha256sum", lib.string(), bp::std_out > sum_out);
  std::string expected;
  sum_out >> expected;
  sum.wait();
  ASSERT_EQ(expected.size(), 64u);

  auto reg = sb.registry();
  const auto runs = reg->list_runs();
  ASSERT_EQ(runs.size(), 1u);
  const mstar::Json plugins = reg->get_run(runs[0].id)->env.at("plugins");
  for (const char* id : {"test/echo", "test/sum"}) {
    ASSERT_TRUE(plugins.contains(id)) << plugins.dump(2);
    EXPECT_EQ(plugins[id]["library"], fs::canonical(lib).string());
    EXPECT_EQ(plugins[id]["sha256"], expected);
  }
  EXPECT_FALSE(plugins.contains("test/sleep")) << "only what the run used";
}
