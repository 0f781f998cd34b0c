// The backbone/tiny_vlm node: builds a freshly initialised, seeded model and
// writes it as a "backbone" artifact (Hugging Face layout).

#include "mstar/error.h"
#include "mstar/ml/backbone.h"
#include "mstar/ml/checkpoint.h"
#include "mstar/ml/vocabulary.h"
#include "mstar/plugin.h"
#include "tiny_vlm.h"

namespace mstar::tiny_vlm {

namespace {

// One line per family x size at a 256-token vocabulary.
std::string presets_text() {
  std::string s;
  for (Family f : {Family::Qwen, Family::Llava})
    for (const char* size : {"S", "M", "L"}) {
      TinyVlmOptions o = preset(f, size, 256);
      ParamCounts c = count_parameters(o);
      s += "\n  " + to_string(f) + " " + size + ": vision " + std::to_string(o.vision().hidden()) + "d x" +
           std::to_string(o.vision().layers()) + " (" + std::to_string(o.vision().heads()) + " heads, mlp " +
           std::to_string(vision_intermediate(o)) + "), text " + std::to_string(o.text().hidden()) + "d x" +
           std::to_string(o.text().layers()) + " (" + std::to_string(o.text().heads()) + " heads, " +
           std::to_string(kv_heads(o)) + " kv, mlp " + std::to_string(text_intermediate(o)) + "), " +
           std::to_string(image_token_count(o)) + " image tokens; params vision " + std::to_string(c.vision) +
           " + projector " + std::to_string(c.projector) + " + language " + std::to_string(c.language) + " = " +
           std::to_string(c.total());
    }
  return s;
}

int64_t override_or(const Params& p, const char* key, int64_t preset_value) {
  const int64_t v = p.get_int(key);
  return v > 0 ? v : preset_value;
}

}  // namespace

class TinyVlmNode {
 public:
  static PluginInfo info() {
    PluginInfo i;
    i.kind = "backbone";
    i.name = "tiny_vlm";
    i.version = "1";
    i.description =
        "A freshly initialised small vision-language model (seeded), written as a Hugging Face-layout "
        "checkpoint (model.safetensors, config.json, tokenizer.json). family qwen: ViT with 2D RoPE, RMSNorm, "
        "SwiGLU and a 2x2 patch merger; family llava: CLIP-style ViT (class token, learned positions, LayerNorm, "
        "GELU) and a 2-layer GELU projector; both feed a Qwen2-like decoder (RoPE, RMSNorm, SwiGLU, GQA, tied "
        "embeddings). Vocabulary: built-in words plus the words of the optional `data` input. Presets at 64x64 "
        "images, patch 8 and a 256-token vocabulary (the language count grows by hidden per extra token):" +
        presets_text();
    i.params = ParamSchema{
        ParamSpec::enumeration("family", {"qwen", "llava"}).def("qwen").describe("architecture family"),
        ParamSpec::enumeration("size", {"S", "M", "L"}).def("S").describe("preset dims (about 0.5M / 3M / 12M parameters)"),
        ParamSpec::integer("image_size").def(64).range(8, 1024).describe("square input images, pixels per side"),
        ParamSpec::integer("patch_size").def(8).range(1, 64).describe("ViT patch size"),
        ParamSpec::integer("hidden").def(0).range(0, 8192).describe("decoder width; 0 = preset"),
        ParamSpec::integer("layers").def(0).range(0, 128).describe("decoder layers; 0 = preset"),
        ParamSpec::integer("heads").def(0).range(0, 128).describe("decoder attention heads; 0 = preset"),
        ParamSpec::integer("kv_heads").def(0).range(0, 128).describe("decoder key/value heads (GQA); 0 = preset"),
        ParamSpec::integer("intermediate").def(0).range(0, 65536).describe("decoder SwiGLU width; 0 = 8/3 x hidden"),
        ParamSpec::integer("vision_hidden").def(0).range(0, 8192).describe("ViT width; 0 = preset"),
        ParamSpec::integer("vision_layers").def(0).range(0, 128).describe("ViT layers; 0 = preset"),
        ParamSpec::integer("vision_heads").def(0).range(0, 128).describe("ViT heads; 0 = preset"),
        ParamSpec::integer("vision_intermediate").def(0).range(0, 65536).describe("ViT MLP width; 0 = family default"),
        ParamSpec::boolean("tie_embeddings").def(true).describe("share input embedding and output head"),
        ParamSpec::real("embed_std").def(0.0).range(0.0, 10.0).describe("embedding init std; 0 = 1/sqrt(hidden)"),
        ParamSpec::integer("max_positions").def(1024).range(16, 1 << 20).describe("longest sequence (prompt + response)"),
        ParamSpec::real("rope_theta").def(10000.0).at_least(1.0).describe("RoPE base of the decoder"),
        ParamSpec::integer("vocab_min_count").def(1).range(1, 1 << 30).describe("leave out words seen fewer times (-> <unk>)"),
        ParamSpec::integer("vocab_max_size").def(0).range(0, 1 << 24).describe("vocabulary cap incl. specials; 0 = none"),
        ParamSpec::string("device").def("cpu").describe("device of the saved model (cpu, cuda, cuda:N)"),
        ParamSpec::enumeration("dtype", {"float32", "bfloat16", "float16"}).def("float32").describe("parameter dtype"),
    };
    i.inputs = {{"data", "dataset", false,
                 "dataset artifact: the words of problem/response/answer fields of its *.jsonl build the vocabulary"}};
    i.outputs = {{"", "backbone", "model.safetensors + config.json + tokenizer.json"}};
    i.examples = {"base: {plugin: backbone/tiny_vlm, inputs: {data: world.train}, params: {family: qwen, size: S}}",
                  "base: {plugin: backbone/tiny_vlm, params: {family: llava, size: M, image_size: 64, patch_size: 8}}"};
    return i;
  }

  void run(NodeContext& ctx) {
    ml::set_num_threads(ctx.threads());
    const Params& p = ctx.params();
    auto& log = ctx.logger();

    ml::VocabOptions vocab;
    vocab.min_count = p.get_int("vocab_min_count");
    vocab.max_size = p.get_int("vocab_max_size");
    const Artifact* data = ctx.input("data");
    ml::Tokenizer tokenizer = ml::build_vocabulary(data ? ml::dataset_texts(data->dir()) : std::vector<std::string>{}, vocab);

    const Family family = family_from_string(p.get_string("family"));
    TinyVlmOptions o = preset(family, p.get_string("size"), tokenizer.size());
    auto& v = o.vision();
    auto& t = o.text();
    v.hidden(override_or(p, "vision_hidden", v.hidden()))
        .layers(override_or(p, "vision_layers", v.layers()))
        .heads(override_or(p, "vision_heads", v.heads()))
        .intermediate(p.get_int("vision_intermediate"));
    t.hidden(override_or(p, "hidden", t.hidden()))
        .layers(override_or(p, "layers", t.layers()))
        .heads(override_or(p, "heads", t.heads()))
        .kv_heads(override_or(p, "kv_heads", t.kv_heads()))
        .intermediate(p.get_int("intermediate"))
        .max_positions(p.get_int("max_positions"))
        .rope_theta(p.get_float("rope_theta"))
        .tie_embeddings(p.get_bool("tie_embeddings"))
        .embed_std(p.get_float("embed_std"));
    if (t.kv_heads() > t.heads()) t.kv_heads(t.heads());
    o.image_size(p.get_int("image_size")).patch_size(p.get_int("patch_size")).image_token_id(tokenizer.image_id());
    validate(o);

    torch::manual_seed(ctx.seed());
    std::unique_ptr<ml::Backbone> model = make_backbone(o, tokenizer);
    const ParamCounts expected = count_parameters(o);
    if (model->parameter_count() != expected.total() ||
        model->parameter_count(ml::ParamGroup::Vision) != expected.vision ||
        model->parameter_count(ml::ParamGroup::Projector) != expected.projector)
      throw Error(ErrorCategory::Internal, "tiny_vlm: parameter count " + std::to_string(model->parameter_count()) +
                                               " differs from the documented formula " + std::to_string(expected.total()));
    model->to(ml::parse_device(p.get_string("device")), ml::parse_dtype(p.get_string("dtype")));
    model->save(ctx.output_dir());

    const Json counts = {{"vision", expected.vision}, {"projector", expected.projector},
                         {"language", expected.language}, {"total", expected.total()}};
    ctx.annotate("type", "backbone");
    ctx.annotate("architecture", kArchitecture);
    ctx.annotate("family", to_string(family));
    ctx.annotate("size", p.get_string("size"));
    ctx.annotate("parameters", counts);
    ctx.annotate("config", model->config());
    ctx.summary("parameters", static_cast<double>(expected.total()));
    ctx.summary("parameters_vision", static_cast<double>(expected.vision));
    ctx.summary("parameters_projector", static_cast<double>(expected.projector));
    ctx.summary("parameters_language", static_cast<double>(expected.language));
    ctx.summary("vocab_size", static_cast<double>(tokenizer.size()));
    log.info("tiny_vlm {} {}: {} parameters (vision {}, projector {}, language {}), vocabulary {}, {} image tokens",
             to_string(family), p.get_string("size"), expected.total(), expected.vision, expected.projector,
             expected.language, tokenizer.size(), image_token_count(o));
  }
};

MSTAR_PLUGIN(TinyVlmNode)

}  // namespace mstar::tiny_vlm
