// LoRA adapters (lora.h): attaching them to Linears, peft's names and
// config, and the adapter files.
#include "lora.h"

#include <cmath>
#include <set>

#include "mstar/artifact.h"
#include "mstar/error.h"

namespace mstar::qwen2_5_vl {

namespace fs = std::filesystem;

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

// peft's check_target_module_exists for a list of names.
bool matches(const std::string& module, const std::string& target) {
  return module == target || ends_with(module, "." + target);
}

bool reduced(torch::Dtype d) { return d == torch::kBFloat16 || d == torch::kFloat16; }

std::string shape_of(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? "," : "") + std::to_string(t.size(i));
  return s + "]";
}

// Every Linear of the model with its (mstar) module name.
std::vector<std::pair<std::string, std::shared_ptr<LinearImpl>>> linears(const Qwen2_5_VL& model) {
  std::vector<std::pair<std::string, std::shared_ptr<LinearImpl>>> out;
  for (const auto& m : model->named_modules("", /*include_self=*/false))
    if (auto l = std::dynamic_pointer_cast<LinearImpl>(m.value())) out.emplace_back(m.key(), l);
  return out;
}

std::vector<std::string> string_list(const Json& v, const std::string& where) {
  std::vector<std::string> out;
  if (v.is_array())
    for (const auto& e : v) {
      if (!e.is_string()) break;
      out.push_back(e.get<std::string>());
    }
  if (!v.is_array() || out.size() != v.size() || out.empty())
    throw_bad_input(where + " must be a non-empty list of module names, got " + v.dump());
  return out;
}

void check(const LoraOptions& o, const std::string& origin) {
  if (o.rank < 0) throw_bad_input(origin + ": lora rank must not be negative");
  if (o.dropout < 0.0 || o.dropout >= 1.0) throw_bad_input(origin + ": lora dropout must be in [0, 1)");
  if (o.init != "default" && o.init != "gaussian")
    throw_bad_input(origin + ": lora init is \"" + o.init + "\"; expected \"default\" (A kaiming-uniform) or \"gaussian\"");
}

}  // namespace

torch::Tensor lora_delta(const LoraAdapter& adapter, const torch::Tensor& x, bool training) {
  torch::Tensor in = x.to(adapter.a.scalar_type());
  if (training && adapter.dropout > 0.0) in = torch::dropout(in, adapter.dropout, true);
  const torch::Tensor d = torch::nn::functional::linear(torch::nn::functional::linear(in, adapter.a), adapter.b);
  return (d * adapter.scaling).to(x.scalar_type());
}

std::string hf_name(const std::string& name) {
  if (starts_with(name, "model.")) return "model.language_model." + name.substr(6);
  if (starts_with(name, "visual.")) return "model." + name;
  return name;
}

std::string peft_name(const std::string& parameter_name) { return "base_model.model." + hf_name(parameter_name); }

bool is_adapter_parameter(const std::string& name) {
  return ends_with(name, ".lora_A.weight") || ends_with(name, ".lora_B.weight");
}

int64_t add_adapters(Qwen2_5_VL& model, const LoraOptions& o) {
  check(o, "lora");
  if (o.rank == 0) return 0;
  if (o.targets.empty()) throw_bad_input("lora_target_modules is empty");
  const auto all = linears(model);
  for (const std::string& target : o.targets) {
    // peft would adapt the patch embedding (a Conv3d) too; mstar adapts Linears only.
    if (matches(hf_name("visual.patch_embed.proj"), target))
      throw_bad_input("lora_target_modules: \"" + target +
                      "\" matches the patch embedding model.visual.patch_embed.proj, a Conv3d, which mstar cannot "
                      "adapt (name the vision blocks' \"attn.proj\" instead)");
    const bool found = std::any_of(all.begin(), all.end(), [&](const auto& l) { return matches(hf_name(l.first), target); });
    if (found) continue;
    std::set<std::string> leaves;
    for (const auto& l : all) leaves.insert(l.first.substr(l.first.rfind('.') + 1));
    std::string known;
    for (const auto& n : leaves) known += (known.empty() ? "" : ", ") + n;
    throw_bad_input("lora_target_modules: \"" + target + "\" matches no Linear layer of qwen2_5_vl (its Linear layers: " +
                    known + ", or a dotted suffix of their names)");
  }
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.set_requires_grad(false);
  int64_t adapted = 0;
  for (const auto& [name, linear] : all) {
    const std::string hf = hf_name(name);
    if (!std::any_of(o.targets.begin(), o.targets.end(), [&](const std::string& t) { return matches(hf, t); })) continue;
    if (linear->adapter) throw Error(ErrorCategory::Internal, "lora: " + name + " has an adapter already");
    const torch::Tensor& w = linear->weight;
    const auto opts = w.options().dtype(reduced(w.scalar_type()) ? torch::kFloat32 : w.scalar_type());
    auto adapter = std::make_shared<LoraAdapter>();
    adapter->a = linear->register_module("lora_A", std::make_shared<torch::nn::Module>())
                     ->register_parameter("weight", torch::empty({o.rank, w.size(1)}, opts));
    adapter->b = linear->register_module("lora_B", std::make_shared<torch::nn::Module>())
                     ->register_parameter("weight", torch::zeros({w.size(0), o.rank}, opts));
    if (o.init == "gaussian") adapter->a.normal_(0.0, 1.0 / static_cast<double>(o.rank));
    else torch::nn::init::kaiming_uniform_(adapter->a, std::sqrt(5.0));
    adapter->scaling = o.alpha / static_cast<double>(o.rank);
    adapter->dropout = o.dropout;
    linear->adapter = adapter;
    ++adapted;
  }
  return adapted;
}

void move_model(Qwen2_5_VL& model, torch::Device device, torch::Dtype dtype) {
  torch::NoGradGuard no_grad;
  model->to(device);
  // Parameter by parameter: a module-wide cast would round the adapters through the reduced dtype.
  for (auto& p : model->named_parameters()) {
    const torch::Dtype want = is_adapter_parameter(p.key()) && reduced(dtype) ? torch::kFloat32 : dtype;
    if (p.value().scalar_type() != want) p.value().set_data(p.value().to(want));
  }
}

// ---- configuration ------------------------------------------------------------------

LoraOptions lora_from_peft_config(const Json& j, const std::string& origin) {
  if (!j.is_object()) throw_bad_input(origin + ": not a JSON object");
  if (j.value("peft_type", std::string("LORA")) != "LORA")
    throw_bad_input(origin + ": peft_type " + j["peft_type"].dump() + "; only LORA adapters are implemented");
  for (const char* flag : {"use_dora", "use_rslora", "fan_in_fan_out"})
    if (j.contains(flag) && j[flag].is_boolean() && j[flag].get<bool>())
      throw_bad_input(origin + ": \"" + flag + "\" is true; mstar implements plain LoRA only");
  for (const char* pattern : {"rank_pattern", "alpha_pattern"})
    if (j.contains(pattern) && j[pattern].is_object() && !j[pattern].empty())
      throw_bad_input(origin + ": \"" + pattern + "\" (per-module ranks) is not implemented");
  if (j.contains("bias") && j["bias"] != "none") throw_bad_input(origin + ": bias " + j["bias"].dump() + " is not implemented; expected \"none\"");
  LoraOptions o;
  if (!j.contains("r") || !j["r"].is_number_integer() || j["r"].get<int64_t>() <= 0)
    throw_bad_input(origin + ": \"r\" must be a positive integer");
  o.rank = j["r"].get<int64_t>();
  o.alpha = j.contains("lora_alpha") && j["lora_alpha"].is_number() ? j["lora_alpha"].get<double>() : 8.0;
  o.dropout = j.contains("lora_dropout") && j["lora_dropout"].is_number() ? j["lora_dropout"].get<double>() : 0.0;
  if (!j.contains("target_modules") || j["target_modules"].is_string())
    throw_bad_input(origin + ": \"target_modules\" must be a list of module names (a regex string is not implemented)");
  o.targets = string_list(j["target_modules"], origin + ": \"target_modules\"");
  if (j.contains("init_lora_weights") && j["init_lora_weights"] == "gaussian") o.init = "gaussian";
  if (j.contains("base_model_name_or_path") && j["base_model_name_or_path"].is_string())
    o.base = j["base_model_name_or_path"].get<std::string>();
  check(o, origin);
  return o;
}

Json peft_config(const LoraOptions& o) {
  return {{"peft_type", "LORA"},
          {"task_type", nullptr},
          {"r", o.rank},
          {"lora_alpha", o.alpha},
          {"lora_dropout", o.dropout},
          {"target_modules", o.targets},
          {"init_lora_weights", o.init == "gaussian" ? Json("gaussian") : Json(true)},
          {"bias", "none"},
          {"fan_in_fan_out", false},
          {"use_rslora", false},
          {"use_dora", false},
          {"modules_to_save", nullptr},
          {"inference_mode", true},
          {"base_model_name_or_path", o.base.empty() ? Json(nullptr) : Json(o.base)},
          {"auto_mapping",
           {{"base_model_class", "Qwen2_5_VLForConditionalGeneration"},
            {"parent_library", "transformers.models.qwen2_5_vl.modeling_qwen2_5_vl"}}}};
}

Json to_json(const LoraOptions& o) {
  return {{"rank", o.rank}, {"alpha", o.alpha}, {"dropout", o.dropout}, {"target_modules", o.targets}, {"init", o.init},
          {"base", o.base}};
}

// ---- files ----------------------------------------------------------------------------

void save_adapter(const Qwen2_5_VL& model, const LoraOptions& o, const fs::path& dir) {
  ml::NamedTensors tensors;
  for (const auto& p : model->named_parameters())
    if (is_adapter_parameter(p.key())) tensors.emplace_back(peft_name(p.key()), p.value().detach());
  if (tensors.empty()) throw Error(ErrorCategory::Internal, "save_adapter: the model has no adapters");
  ml::save_safetensors(dir / kAdapterWeightsFile, tensors, {{"format", "pt"}});
  write_file_atomic(dir / kAdapterConfigFile, peft_config(o).dump(2));
}

LoraOptions load_adapter(Qwen2_5_VL& model, const fs::path& dir) {
  const fs::path config_file = dir / kAdapterConfigFile, weights_file = dir / kAdapterWeightsFile;
  LoraOptions o;
  try {
    o = lora_from_peft_config(Json::parse(read_file(config_file)), config_file.string());
  } catch (const Json::exception& e) {
    throw_bad_input(config_file.string() + ": not valid JSON or a value of the wrong type: " + e.what());
  }
  if (!fs::exists(weights_file)) throw_io(dir.string() + " has " + kAdapterConfigFile + " but no " + kAdapterWeightsFile);
  try {
    add_adapters(model, o);
  } catch (const Error& e) {
    throw_bad_input(config_file.string() + ": " + e.what());
  }
  const ml::SafeTensors file = ml::load_safetensors(weights_file);
  std::map<std::string, torch::Tensor> targets;
  for (const auto& p : model->named_parameters())
    if (is_adapter_parameter(p.key())) targets.emplace(peft_name(p.key()), p.value());
  torch::NoGradGuard no_grad;
  for (const auto& [name, t] : file.tensors) {
    auto it = targets.find(name);
    if (it == targets.end())
      throw_bad_input(weights_file.string() + ": tensor " + name +
                      " adapts no Linear of this model under target_modules of " + config_file.string() +
                      " (an adapter for another base model?)");
    if (t.sizes() != it->second.sizes()) {
      const bool a = ends_with(name, "lora_A.weight");
      const int64_t rank_axis = a ? 0 : 1;
      const std::string why = t.dim() == 2 && t.size(rank_axis) != o.rank
                                  ? "its rank " + std::to_string(t.size(rank_axis)) + " is not r = " + std::to_string(o.rank) +
                                        " of " + config_file.string()
                                  : "the base model's layer has other dimensions (an adapter for another base model?)";
      throw_bad_input(weights_file.string() + ": tensor " + name + " has shape " + shape_of(t) + " where the model expects " +
                      shape_of(it->second) + ": " + why);
    }
    it->second.copy_(t);
    targets.erase(it);
  }
  if (!targets.empty())
    throw_bad_input(weights_file.string() + ": tensor " + targets.begin()->first + " is missing (" +
                    std::to_string(targets.size()) + " adapter tensors absent)");
  return o;
}

// ---- user options ------------------------------------------------------------------

BackboneOptions backbone_options_from_json(const Json& j, const std::string& origin) {
  if (!j.is_object()) throw_bad_input(origin + ": must be a map, got " + j.dump());
  static const std::vector<std::string> kKeys = {
      "image_size", "min_pixels",   "max_pixels",          "gradient_checkpointing",
      "lora_rank",  "lora_alpha",   "lora_dropout",        "lora_target_modules", "lora_init"};
  // freeze_vision is not among them: requires_grad is not saved; the algorithms have it.
  for (const auto& [key, value] : j.items())
    if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end()) {
      std::string known;
      for (const auto& k : kKeys) known += (known.empty() ? "" : ", ") + k;
      throw_bad_input(origin + ": unknown qwen2_5_vl option \"" + key + "\" (known: " + known + ")");
    }
  auto where = [&](const char* key) { return origin + ": \"" + key + "\""; };
  auto integer = [&](const char* key, int64_t fallback) {
    if (!j.contains(key)) return fallback;
    if (!j[key].is_number_integer() || j[key].get<int64_t>() < 0)
      throw_bad_input(where(key) + " must be a non-negative integer, got " + j[key].dump());
    return j[key].get<int64_t>();
  };
  auto real = [&](const char* key, double fallback) {
    if (!j.contains(key)) return fallback;
    if (!j[key].is_number()) throw_bad_input(where(key) + " must be a number, got " + j[key].dump());
    return j[key].get<double>();
  };
  auto boolean = [&](const char* key) {
    if (!j.contains(key)) return false;
    if (!j[key].is_boolean()) throw_bad_input(where(key) + " must be true or false, got " + j[key].dump());
    return j[key].get<bool>();
  };
  BackboneOptions o;
  o.image_size = integer("image_size", 0);
  o.min_pixels = integer("min_pixels", 0);
  o.max_pixels = integer("max_pixels", 0);
  o.gradient_checkpointing = boolean("gradient_checkpointing");
  o.lora.rank = integer("lora_rank", 0);
  o.lora.alpha = real("lora_alpha", o.lora.alpha);
  o.lora.dropout = real("lora_dropout", o.lora.dropout);
  if (j.contains("lora_target_modules")) o.lora.targets = string_list(j["lora_target_modules"], where("lora_target_modules"));
  if (j.contains("lora_init")) {
    if (!j["lora_init"].is_string()) throw_bad_input(where("lora_init") + " must be a string");
    o.lora.init = j["lora_init"].get<std::string>();
  }
  check(o.lora, origin);
  return o;
}

}  // namespace mstar::qwen2_5_vl
