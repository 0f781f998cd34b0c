// The graph the algorithm node tests train on: a world of a few images and
// a tiny_vlm with a small vocabulary (so that a random policy sometimes
// stops early) and one decoder layer, as YAML node entries to append after
// "nodes:".
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "host_helpers.h"
#include "mstar/json.h"

namespace mstar::testing {

// The nodes of tests/fixtures/experiments/tiny_world_base.yaml (world and
// init), to follow a "nodes:" line.
inline std::string tiny_world_and_base() {
  std::ifstream in(std::string(MSTAR_SOURCE_DIR) + "/tests/fixtures/experiments/tiny_world_base.yaml");
  std::string line, nodes;
  bool in_nodes = false;
  while (std::getline(in, line)) {
    if (in_nodes) nodes += line + "\n";
    in_nodes = in_nodes || line == "nodes:";
  }
  return "\n" + nodes;
}

// Highest step of a checkpoint in any resume directory, or -1.
inline int checkpoint_step(const Sandbox& sb) {
  const fs::path resume = sb.home() / "store" / "resume";
  int best = -1;
  std::error_code ec;
  if (!fs::is_directory(resume, ec)) return best;
  for (const auto& e : fs::directory_iterator(resume, ec)) {
    const fs::path state = e.path() / "checkpoint" / "state.json";
    if (!fs::exists(state)) continue;
    try {
      best = std::max(best, mstar::Json::parse(slurp(state)).at("step").get<int>());
    } catch (const std::exception&) {
      // being replaced right now
    }
  }
  return best;
}

}  // namespace mstar::testing
