// The backbone/tiny_fuyu node: builds a vocabulary (from the optional `data`
// input, as backbone/tiny_vlm does), a freshly initialised seeded model, and
// writes it as a "backbone" artifact that load_backbone() reads back.

#include "mstar/error.h"
#include "mstar/ml/checkpoint.h"
#include "mstar/ml/vocabulary.h"
#include "mstar/plugin.h"
#include "tiny_fuyu.h"

namespace tiny_fuyu {

namespace ml = mstar::ml;
using mstar::Json;
using mstar::ParamSpec;

namespace {

// Decoder dims of the size presets: those of tiny_vlm's decoders, so that a
// sweep over families at one size compares the same language model with and
// without a vision tower.
struct Preset {
  int64_t hidden, layers, heads;
};
Preset preset(const std::string& size) {
  if (size == "M") return {128, 6, 4};
  if (size == "L") return {256, 8, 8};
  return {64, 4, 4};  // S
}

int64_t override_or(const mstar::Params& p, const char* key, int64_t preset_value) {
  const int64_t v = p.get_int(key);
  return v > 0 ? v : preset_value;
}

}  // namespace

class TinyFuyuNode {
 public:
  // Metadata only: `mstar plugins list/info` read it without running anything.
  static mstar::PluginInfo info() {
    mstar::PluginInfo i;
    i.kind = "backbone";
    i.name = "tiny_fuyu";
    i.version = "1";  // part of the cache key: bump it when the output changes
    i.description =
        "A freshly initialised Fuyu-style model (seeded): no vision encoder, image patches are linearly projected "
        "straight into a causal decoder's token stream (pre-LayerNorm, GELU MLP, learned positions, untied "
        "output head). An out-of-tree example plugin: docs/new-architecture.md. Decoding recomputes the whole "
        "sequence at each step (no KV cache). Vocabulary: built-in words plus the words of the optional `data` input.";
    i.params = mstar::ParamSchema{
        // family and size are the params every backbone node shares, so that
        // a study can swap init.plugin and still group results by init.family.
        ParamSpec::enumeration("family", {"fuyu"}).def("fuyu").describe("the only family of this plugin"),
        ParamSpec::enumeration("size", {"S", "M", "L"}).def("S").describe(
            "preset decoder dims, those of tiny_vlm: S 64d x 4, M 128d x 6, L 256d x 8"),
        ParamSpec::integer("hidden").def(0).range(0, 4096).describe("decoder width; 0 = preset"),
        ParamSpec::integer("layers").def(0).range(0, 64).describe("decoder layers; 0 = preset"),
        ParamSpec::integer("heads").def(0).range(0, 64).describe("attention heads (hidden must be a multiple); 0 = preset"),
        ParamSpec::integer("intermediate").def(0).range(0, 65536).describe("MLP width; 0 = 4 x hidden"),
        ParamSpec::integer("image_size").def(64).range(8, 1024).describe("square input images, pixels per side"),
        ParamSpec::integer("patch_size").def(8).range(1, 64).describe("pixels per patch side; one image token per patch"),
        ParamSpec::integer("max_positions").def(512).range(16, 1 << 16).describe("longest sequence, image tokens included"),
        ParamSpec::integer("vocab_min_count").def(1).range(1, 1 << 30).describe("leave out words seen fewer times (-> <unk>)"),
        ParamSpec::integer("vocab_max_size").def(0).range(0, 1 << 24).describe("vocabulary cap incl. specials; 0 = none"),
        ParamSpec::string("device").def("cpu").describe("device of the saved model (cpu, cuda, cuda:N)"),
        ParamSpec::enumeration("dtype", {"float32", "bfloat16", "float16"}).def("float32").describe("parameter dtype"),
    };
    i.inputs = {{"data", "dataset", false,
                 "dataset artifact: the words of problem/response/answer fields of its *.jsonl build the vocabulary"}};
    i.outputs = {{"", "backbone", "model.safetensors + config.json + tokenizer.json"}};
    i.examples = {"init: {plugin: backbone/tiny_fuyu, inputs: {data: world.train}, params: {size: S}}",
                  "init: {plugin: backbone/tiny_fuyu, params: {hidden: 96, layers: 3, heads: 4, image_size: 32}}"};
    return i;
  }

  void run(mstar::NodeContext& ctx) {
    ml::set_num_threads(ctx.threads());  // LibTorch's and OpenBLAS's pools
    const mstar::Params& p = ctx.params();

    ml::VocabOptions vocab;
    vocab.min_count = p.get_int("vocab_min_count");
    vocab.max_size = p.get_int("vocab_max_size");
    const mstar::Artifact* data = ctx.input("data");
    ml::Tokenizer tokenizer = ml::build_vocabulary(data ? ml::dataset_texts(data->dir()) : std::vector<std::string>{}, vocab);

    const Preset d = preset(p.get_string("size"));
    TinyFuyuOptions o(tokenizer.size(), override_or(p, "hidden", d.hidden), override_or(p, "layers", d.layers),
                      override_or(p, "heads", d.heads));
    o.intermediate(p.get_int("intermediate"))
        .image_size(p.get_int("image_size"))
        .patch_size(p.get_int("patch_size"))
        .max_positions(p.get_int("max_positions"))
        .image_token_id(tokenizer.image_id());
    validate(o);

    // The node's seed decides the init: same seed, same checkpoint (and
    // the cache key includes the seed).
    torch::manual_seed(ctx.seed());
    std::unique_ptr<ml::Backbone> model = make_backbone(o, tokenizer);
    model->to(ml::parse_device(p.get_string("device")), ml::parse_dtype(p.get_string("dtype")));
    model->save(ctx.output_dir());

    const auto count = [&](ml::ParamGroup g) { return static_cast<double>(model->parameter_count(g)); };
    ctx.annotate("type", "backbone");
    ctx.annotate("architecture", kArchitecture);
    ctx.annotate("family", p.get_string("family"));
    ctx.annotate("size", p.get_string("size"));
    ctx.annotate("config", model->config());
    // The summaries tiny_vlm reports, so that family comparisons line up
    // (parameters_vision is 0: there is no vision tower).
    ctx.summary("parameters", static_cast<double>(model->parameter_count()));
    ctx.summary("parameters_vision", count(ml::ParamGroup::Vision));
    ctx.summary("parameters_projector", count(ml::ParamGroup::Projector));
    ctx.summary("parameters_language", count(ml::ParamGroup::Language));
    ctx.summary("vocab_size", static_cast<double>(tokenizer.size()));
    ctx.logger().info("tiny_fuyu: {} parameters (projector {}), vocabulary {}, {} image tokens",
                      model->parameter_count(), model->parameter_count(ml::ParamGroup::Projector), tokenizer.size(),
                      image_token_count(o));
  }
};

MSTAR_PLUGIN(TinyFuyuNode)

}  // namespace tiny_fuyu
