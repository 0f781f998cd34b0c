// The backbone/load node: a checkpoint directory on disk (a shipped base
// model, a checkpoint trained elsewhere) as a "backbone" artifact, so that a
// graph can start from it and the cache key follows its content. It serves
// every family: the family's library is loaded through the backbone
// registry, found from config.json's plugin_library, MSTAR_PLUGIN_PATH or,
// for a checkpoint that records none (the shipped ones), as
// libmstar_<architecture>.so beside this library, among the built-ins.
#include "mstar/error.h"
#include "mstar/ml/backbone.h"
#include "mstar/ml/checkpoint.h"
#include "mstar/ml/registry.h"
#include "mstar/plugin.h"

namespace mstar::backbone_load {

class LoadNode {
 public:
  static PluginInfo info() {
    PluginInfo i;
    i.kind = "backbone";
    i.name = "load";
    i.version = "1.0.0";
    i.description =
        "Loads a backbone checkpoint directory (model.safetensors, config.json, tokenizer.json; the layout every "
        "backbone node and algorithm writes) and publishes it as a backbone artifact. The directory's content is "
        "fingerprinted into the cache key. The architecture's library is found through config.json's "
        "plugin_library, MSTAR_PLUGIN_PATH, or as libmstar_<architecture>.so among the built-in plugins.";
    i.params.add(ParamSpec::path("path").describe("checkpoint directory, relative to the working directory"))
        .add(ParamSpec::string("device").def("").describe("device of the published model; \"\" = the checkpoint's"))
        .add(ParamSpec::string("dtype").def("").describe("dtype of the published model; \"\" = the checkpoint's"))
        .add(ParamSpec::map("options").def(Json::object()).describe(
            "options of the backbone family, handed to its loader (qwen2_5_vl: lora_rank, lora_alpha, lora_dropout, "
            "lora_target_modules, lora_init, gradient_checkpointing, min_pixels, max_pixels, image_size; "
            "docs/qwen2_5_vl.md)"));
    i.outputs = {{"", "backbone", "model.safetensors, config.json, tokenizer.json"}};
    i.examples = {"base: {plugin: backbone/load, params: {path: models/tiny_vlm-qwen-S-base}}"};
    return i;
  }

  void run(NodeContext& ctx) {
    const Params& p = ctx.params();
    ml::LoadOptions options;
    options.device = p.get_string("device");
    options.dtype = p.get_string("dtype");
    options.backbone_options = p.get("options");
    options.plugin_dirs = {ml::library_of(reinterpret_cast<const void*>(&LoadNode::info)).parent_path()};
    std::unique_ptr<ml::Backbone> model = ml::load_backbone(std::filesystem::path(p.get_string("path")), options);
    // Saved again rather than copied: config.json then names this machine's
    // plugin library, and a checkpoint that does not load fails here.
    model->save(ctx.output_dir());
    ctx.annotate("type", "backbone");
    ctx.annotate("architecture", model->architecture());
    ctx.annotate("config", model->config());
    ctx.annotate("source", p.get_string("path"));
    ctx.summary("parameters", static_cast<double>(model->parameter_count()));
    ctx.logger().info("loaded {} ({} parameters) from {}", model->architecture(), model->parameter_count(),
                      p.get_string("path"));
  }
};

MSTAR_PLUGIN(LoadNode)

}  // namespace mstar::backbone_load
