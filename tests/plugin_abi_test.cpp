// The handshake's checks (descriptor_problem(): API version, layout, then
// what crosses the boundary by layout, abi.h) and the plugins' Logger, which
// formats on the plugin's side and hands the host a finished line.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/sinks/ostream_sink.h>

#include "mstar/log.h"
#include "mstar/plugin.h"
#include "util/log.h"

using namespace mstar;

namespace {

LibraryDescriptor this_build() {
  return LibraryDescriptor{MSTAR_PLUGIN_API_VERSION, sizeof(LibraryDescriptor), alignof(LibraryDescriptor), 0,
                           nullptr, kCompiledAbi};
}

const std::string kAdvice =
    ". These types cross the plugin boundary: rebuild the plugin against this mstar and its dependencies "
    "(find_package(mstar) finds them).";

TEST(Handshake, AcceptsThisBuildAndComparesLibTorchOnlyWhenBothKnowIt) {
  LibraryDescriptor d = this_build();
  EXPECT_EQ(descriptor_problem(&d, kCompiledAbi), "");
  d.abi.torch_version = pack_version(1, 13, 0);  // a LibTorch plugin, a host without LibTorch
  EXPECT_EQ(descriptor_problem(&d, kCompiledAbi), "");
  BuildAbi here = kCompiledAbi;
  here.torch_version = pack_version(2, 1, 0);
  d.abi.torch_version = 0;  // a plugin without LibTorch
  EXPECT_EQ(descriptor_problem(&d, here), "");
}

TEST(Handshake, NamesEveryDifferenceWithBothValues) {
  LibraryDescriptor d = this_build();
  BuildAbi here = kCompiledAbi;
  here.json_version = pack_version(3, 11, 2);
  here.torch_version = pack_version(1, 13, 0);
  d.abi.json_version = pack_version(3, 10, 5);
  d.abi.json_size = kCompiledAbi.json_size + 8;  // JSON_DIAGNOSTICS adds a parent pointer
  d.abi.torch_version = pack_version(2, 1, 0);
  const std::string json_size = std::to_string(kCompiledAbi.json_size);
  EXPECT_EQ(descriptor_problem(&d, here),
            "built against nlohmann::json 3.10.5, sizeof(nlohmann::json) = " +
                std::to_string(kCompiledAbi.json_size + 8) + ", LibTorch 2.1.0; this mstar has nlohmann::json 3.11.2, "
                "sizeof(nlohmann::json) = " + json_size + ", LibTorch 1.13.0" + kAdvice);

  d = this_build();
  d.abi.string_size = 8;
  d.abi.cxx11_abi = kNotLibstdcxx;
  here = kCompiledAbi;
  here.cxx11_abi = 1;
  EXPECT_EQ(descriptor_problem(&d, here),
            "built against sizeof(std::string) = 8, a standard library other than libstdc++; this mstar has "
            "sizeof(std::string) = " + std::to_string(sizeof(std::string)) + ", _GLIBCXX_USE_CXX11_ABI=1" + kAdvice);
}

TEST(Handshake, ReadsTheVersionBeforeAnythingElse) {
  // API version 1's descriptor: shorter, no BuildAbi to read.
  struct V1 {
    std::uint32_t api_version, descriptor_size, descriptor_align, plugin_count;
    const void* plugins;
  };
  const V1 old{1, sizeof(V1), alignof(V1), 0, nullptr};
  EXPECT_EQ(descriptor_problem(reinterpret_cast<const LibraryDescriptor*>(&old), kCompiledAbi),
            "built for plugin API version 1, this mstar has version " + std::to_string(MSTAR_PLUGIN_API_VERSION) +
                ". Rebuild the plugin against this mstar.");
  LibraryDescriptor d = this_build();
  d.descriptor_size = sizeof(V1);
  EXPECT_EQ(descriptor_problem(&d, kCompiledAbi),
            "descriptor layout mismatch (size " + std::to_string(sizeof(V1)) + " align " +
                std::to_string(alignof(LibraryDescriptor)) + ", expected " +
                std::to_string(sizeof(LibraryDescriptor)) + " and " + std::to_string(alignof(LibraryDescriptor)) +
                "). Rebuild the plugin.");
  EXPECT_EQ(descriptor_problem(nullptr, kCompiledAbi), "mstar_plugin_library() returned null");
  EXPECT_EQ(version_text(pack_version(1, 13, 0)), "1.13.0");
}

class Recorder final : public Logger {
 public:
  LogLevel threshold = LogLevel::Info;
  std::vector<std::pair<LogLevel, std::string>> lines;
  bool enabled(LogLevel level) const noexcept override { return level >= threshold; }
  void write(LogLevel level, std::string_view line) noexcept override { lines.emplace_back(level, line); }
};

// Counts how often it is formatted.
struct Counted {
  int* formatted;
};

std::ostream& operator<<(std::ostream& out, const Counted& c) {
  ++*c.formatted;
  return out << 7;
}

}  // namespace

namespace {

// The fmt subset plugins use, with nothing behind it (mstar/format.h).
TEST(Format, WritesTheFmtSubsetPluginsUse) {
  EXPECT_EQ(format("{} of {}: {}", 3, std::string("ten"), true), "3 of ten: true");
  EXPECT_EQ(format("{:.4f} {:.0f} {:+.1f} {:+.1f}", 0.123456, 99.5, 2.25, -0.04), "0.1235 100 +2.2 -0.0");
  EXPECT_EQ(format("{:.2e}", 12345.0), "1.23e+04");
  EXPECT_EQ(format("{{literal}} {}", 'x'), "{literal} x");
  EXPECT_EQ(format("no placeholder", 1, 2), "no placeholder [1, 2]");
  EXPECT_EQ(format("two {} {}", 1), "two 1 {}");
  EXPECT_EQ(join(std::vector<double>{0.5, 2}, "; "), "0.5; 2");
  EXPECT_EQ(join(std::vector<std::string>{}, ", "), "");
}

TEST(Logger, FormatsOnThePluginSideAndSkipsDisabledLevels) {
  Recorder recorder;
  Logger& log = recorder;
  int formatted = 0;
  log.info("step {}: loss {:.2f}, {}", 3, 0.126, Counted{&formatted});
  log.debug("never shown: {}", Counted{&formatted});
  log.error("braces {{}} are text: {}", "x");
  EXPECT_EQ(formatted, 1) << "a disabled level must not format its arguments";
  ASSERT_EQ(recorder.lines.size(), 2u);
  EXPECT_EQ(recorder.lines[0], std::make_pair(LogLevel::Info, std::string("step 3: loss 0.13, 7")));
  EXPECT_EQ(recorder.lines[1], std::make_pair(LogLevel::Error, std::string("braces {} are text: x")));
}

// The host's side: spdlog's level decides, and a finished line is written
// as it is (its braces are not a format again).
TEST(Logger, HostWritesFinishedLinesThroughSpdlog) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  auto spd = std::make_shared<spdlog::logger>("node", sink);
  spd->set_pattern("%l %v");
  spd->set_level(spdlog::level::warn);
  SpdlogLogger host(spd);
  Logger& log = host;
  EXPECT_FALSE(log.enabled(LogLevel::Info));
  EXPECT_TRUE(log.enabled(LogLevel::Warn));
  log.info("dropped {}", 1);
  log.warn("kept {} and {{}}", 2);
  log.error("{}", "{} {0} {:x}");
  EXPECT_EQ(out.str(), "warning kept 2 and {}\nerror {} {0} {:x}\n");
}

}  // namespace
