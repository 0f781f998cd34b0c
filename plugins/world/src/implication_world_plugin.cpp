// dataset/implication_world: generates the synthetic TFQ world. judge/rubric,
// which scores answers against the world's catalogues, lives in this library
// too (rubric.cpp): the catalogues stay private to plugins/world.

#include "mstar/plugin.h"
#include "mstar/world/generator.h"

namespace {

class ImplicationWorld {
 public:
  static mstar::PluginInfo info() {
    mstar::PluginInfo i;
    i.kind = "dataset";
    i.name = "implication_world";
    i.version = std::string("1.") + mstar::world::kWorldFormatVersion;
    i.description =
        "Procedural image-implication world: glyphs stand for concepts, colours for tones, layouts for "
        "relations. Writes T/F statements (literal, symbolic, implication), MCQ, OSQ, VQA and two-hop "
        "questions, a literal pretraining corpus and expert SFT trajectories (docs/data.md).";
    i.params = mstar::world::world_param_schema();
    i.outputs = {{"train", "dataset", "train/: tfq, tfq_lite, mcq, osq, vqa, reasoning, pretrain, sft (*.jsonl), img/"},
                 {"bench", "dataset", "bench/: tfq, tfq_lite, mcq, osq, vqa, reasoning (*.jsonl), img/"}};
    i.examples = {"world: {plugin: dataset/implication_world, params: {train_images: 2000, bench_images: 500, seed: 1}}"};
    return i;
  }

  void run(mstar::NodeContext& ctx) {
    const mstar::world::WorldConfig config = mstar::world::world_config_from_params(ctx.params().json(), ctx.seed());
    mstar::world::GenerationHooks hooks;
    hooks.threads = ctx.threads();
    hooks.cancelled = [&ctx] { return ctx.cancelled(); };
    hooks.log = [&ctx](const std::string& m) { ctx.logger().info("{}", m); };
    const auto report = mstar::world::generate_world(config, ctx.output_dir(), hooks);
    ctx.annotate("type", "dataset");
    ctx.annotate("world", {{"seed", config.seed}, {"files", report.counts}});
    ctx.annotate("split_stats", mstar::world::split_stats(ctx.output_dir()));
    ctx.summary("images", report.images);
    ctx.summary("generation_seconds", report.seconds);
    for (const char* split : {"train", "bench"})
      if (report.counts.contains(split) && report.counts[split].contains("tfq.jsonl"))
        ctx.summary(std::string(split) + "_tfq_rows", report.counts[split]["tfq.jsonl"].get<double>());
  }
};

}  // namespace

MSTAR_PLUGIN(ImplicationWorld)
