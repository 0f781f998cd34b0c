// Shared by the harnesses: scratch files for the entry points that read a
// path, and the rule every harness follows (a clean refusal is an
// mstar::Error; anything else escaping is a bug and crashes the process).
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "mstar/error.h"

namespace mstar::fuzz {

// A directory of this process under the system temp dir, made once. Per
// process because libFuzzer's -fork/-jobs modes run several at once;
// removed at exit (a crash leaves it, with the input that crashed).
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("mstar_fuzz_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  // Registered after `dir` is built, so it runs before `dir` is destroyed.
  static const int cleanup = std::atexit([] {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  });
  (void)cleanup;
  return dir;
}

// Writes the input to scratch_dir()/name and returns the path.
inline std::filesystem::path scratch_file(const std::string& name, const uint8_t* data, size_t size) {
  auto path = scratch_dir() / name;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data),
                                                                 static_cast<std::streamsize>(size));
  return path;
}

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Runs `body`; an mstar::Error is the refusal bad input deserves. Any other
// exception propagates and aborts the harness: that is a finding.
template <class Body>
int refuse_cleanly(Body&& body) {
  try {
    body();
  } catch (const mstar::Error&) {
  }
  return 0;
}

// A broken invariant: abort with the reason, so that libFuzzer saves the input.
[[noreturn]] inline void invariant_failed(const std::string& what) {
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what.c_str());
  std::abort();
}

}  // namespace mstar::fuzz
