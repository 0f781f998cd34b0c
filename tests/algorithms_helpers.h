// The graph the algorithm node tests train on: a world of a few images and
// a tiny_vlm with a small vocabulary (so that a random policy sometimes
// stops early) and one decoder layer, as YAML node entries to append after
// "nodes:".
#pragma once

#include <algorithm>
#include <filesystem>

#include "host_helpers.h"
#include "mstar/json.h"

namespace mstar::testing {

inline constexpr const char* kTinyWorldAndBase = R"(
  world:
    plugin: dataset/implication_world
    seed: 1
    params: {image_size: 32, glyphs: 6, concepts: 3, colours: 3, relations: 4, train_images: 12, bench_images: 4,
             lite_train_images: 6, lite_bench_images: 4, statements_min: 3, statements_max: 3}
  init:
    plugin: backbone/tiny_vlm
    seed: 1
    inputs: {data: world.train}
    params: {family: qwen, size: S, image_size: 32, patch_size: 8, hidden: 32, layers: 1, heads: 2, kv_heads: 1,
             vision_hidden: 32, vision_layers: 1, vision_heads: 2, max_positions: 256, vocab_max_size: 96}
)";

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
