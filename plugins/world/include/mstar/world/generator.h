// dataset/implication_world: writes a whole world (images, statements, task
// files, corpora, culture tables) into a directory. Layout, formats and
// knobs: docs/data.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "mstar/json.h"
#include "mstar/params.h"
#include "mstar/world/culture.h"
#include "mstar/world/scene.h"

namespace mstar::world {

// Bump when the same config would produce different files.
inline constexpr const char* kWorldFormatVersion = "2";

struct WorldConfig {
  uint64_t seed = 0;
  int image_size = 64;
  CultureConfig culture;  // culture.seed is ignored: `seed` is used
  SceneConfig scene;      // symbols per image must match culture's
  int train_images = 2000;
  int bench_images = 500;
  int lite_train_images = 100;
  int lite_bench_images = 50;
  int pretrain_images = 0;  // extra images only for pretrain.jsonl
  int pretrain_statements = 6;   // literal T/F statements per image in pretrain.jsonl
  bool pretrain_by_kind = true;  // pick them kind by kind, not by words alone (docs/data.md)
  // Answer formats pretrain.jsonl teaches on literal content (pretrain_formats):
  // tfq = the T/F statements above; mcq = one "which statement is true" row per
  // image with six literal options, answered "<answer> C </answer>" as the MCQ
  // benchmark scores; osq = one "what does this image show? answer in one
  // sentence." row answered by the caption. The formats of the benchmarks,
  // never a meaning: MCQ and OSQ measure something before RL.
  bool pretrain_tfq = true, pretrain_mcq = false, pretrain_osq = false;
  int statements_min = 5;
  int statements_max = 10;
  bool sft_from_lite = false;  // sft.jsonl from tfq_lite rows instead of tfq rows

  // Throws Error(BadInput) naming the offending knob.
  void validate() const;
  Json to_json() const;
};

// The plugin's parameter schema, and the config it resolves to. `params`
// are validated params (defaults filled); `node_seed` is used when the
// params give no `seed`.
ParamSchema world_param_schema();
WorldConfig world_config_from_params(const Json& params, uint64_t node_seed);

struct GenerationHooks {
  int threads = 1;                        // rendering and PNG encoding
  std::function<bool()> cancelled;        // polled between images
  std::function<void(const std::string&)> log;
};

struct GenerationReport {
  int images = 0;
  double seconds = 0;
  Json counts;  // rows per split and file
};

// Writes the world into `out_dir` (created if needed): world.json,
// glyphs.png, train/ and bench/. Throws Error(Interrupted) when cancelled.
GenerationReport generate_world(const WorldConfig& config, const std::filesystem::path& out_dir,
                                const GenerationHooks& hooks = {});

// A split's scenes counted: {"images", "relations": {ID: n}, "symbols":
// {GLYPH: n}, "symbols_per_image": {"2": n}, "heldout_images", "groups"}.
Json scene_stats(const std::filesystem::path& scenes_file);
// {SPLIT: {"scenes": scene_stats}} for the splits of a generated world: the
// plugin records it in its manifest as "split_stats", which `mstar data
// stats` shows (docs/data.md, "Looking at data").
Json split_stats(const std::filesystem::path& world_dir);

}  // namespace mstar::world
