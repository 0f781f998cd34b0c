// The fixtures of tests/reference/qwen2_5_vl_reference.py, made at test time
// with the project's .venv and cached in the build directory under the
// script's hash (shared by the Qwen2.5-VL test sources).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>

#include "mstar/artifact.h"

namespace qwen_test {

namespace fs = std::filesystem;
using mstar::read_file;

inline const fs::path kScript = fs::path(MSTAR_SOURCE_DIR) / "tests/reference/qwen2_5_vl_reference.py";

inline std::string script_hash() {
  const std::string text = read_file(kScript);
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

struct Reference {
  fs::path dir;
  std::string problem;  // why there is none
  bool broken = false;  // transformers is there but the script failed: never a skip
};

inline const Reference& reference() {
  static const Reference ref = [] {
    const fs::path dir = fs::path(MSTAR_BINARY_DIR) / "qwen2_5_vl_reference" / script_hash();
    if (fs::exists(dir / "index.json")) return Reference{dir, ""};
    const std::string python = MSTAR_PYTHON;
    if (python.empty() || !fs::exists(python)) return Reference{{}, "no Python interpreter with the venv (" + python + ")"};
    if (std::system((python + " -c 'import transformers, peft, PIL, safetensors' >/dev/null 2>&1").c_str()) != 0)
      return Reference{{}, python + " cannot import transformers, peft, PIL and safetensors (run scripts/setup or pip install)"};
    // ctest -j runs tests of this binary in parallel processes: each writes its own copy, the first rename wins.
    const fs::path tmp = dir.string() + ".tmp" + std::to_string(::getpid());
    fs::remove_all(tmp);
    fs::create_directories(dir.parent_path());
    const std::string cmd = python + " " + kScript.string() + " " + tmp.string() + " > " + tmp.string() + ".log 2>&1";
    if (std::system(cmd.c_str()) != 0) return Reference{{}, "the reference script failed; see " + tmp.string() + ".log", true};
    std::error_code ec;
    fs::rename(tmp, dir, ec);
    if (ec) fs::remove_all(tmp);  // another process got there first
    fs::remove(tmp.string() + ".log");
    if (!fs::exists(dir / "index.json")) return Reference{{}, "cannot move " + tmp.string() + " to " + dir.string(), true};
    return Reference{dir, ""};
  }();
  return ref;
}

#define REQUIRE_REFERENCE()                                                                   \
  const ::qwen_test::Reference& ref = ::qwen_test::reference();                             \
  if (ref.dir.empty()) {                                                                      \
    const char* ci = std::getenv("CI");                                                       \
    if (ref.broken || (ci && std::string(ci) == "true")) FAIL() << "no transformers reference: " << ref.problem; \
    GTEST_SKIP() << "no transformers reference: " << ref.problem;                             \
  }

}  // namespace qwen_test
