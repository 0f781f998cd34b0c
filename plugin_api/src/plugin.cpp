#include "mstar/plugin.h"

#include <cstring>
#include <exception>

namespace mstar {

namespace {

void copy_message(char* dst, std::size_t size, const std::string& text) {
  if (!dst || size == 0) return;
  std::size_t n = std::min(size - 1, text.size());
  std::memcpy(dst, text.data(), n);
  dst[n] = '\0';
}

std::string cxx11_abi_text(std::uint32_t value) {
  return value == kNotLibstdcxx ? std::string("a standard library other than libstdc++")
                                : "_GLIBCXX_USE_CXX11_ABI=" + std::to_string(value);
}

}  // namespace

std::string version_text(std::uint32_t packed) {
  return std::to_string(packed / 10000) + "." + std::to_string(packed / 100 % 100) + "." +
         std::to_string(packed % 100);
}

std::string descriptor_problem(const LibraryDescriptor* d, const BuildAbi& here) {
  if (!d) return std::string(MSTAR_PLUGIN_ENTRY_SYMBOL) + "() returned null";
  if (d->api_version != MSTAR_PLUGIN_API_VERSION)
    return "built for plugin API version " + std::to_string(d->api_version) + ", this mstar has version " +
           std::to_string(MSTAR_PLUGIN_API_VERSION) + ". Rebuild the plugin against this mstar.";
  if (d->descriptor_size != sizeof(LibraryDescriptor) || d->descriptor_align != alignof(LibraryDescriptor))
    return "descriptor layout mismatch (size " + std::to_string(d->descriptor_size) + " align " +
           std::to_string(d->descriptor_align) + ", expected " + std::to_string(sizeof(LibraryDescriptor)) +
           " and " + std::to_string(alignof(LibraryDescriptor)) + "). Rebuild the plugin.";
  const BuildAbi& theirs = d->abi;
  std::string built, has;
  auto differ = [&](const std::string& mine, const std::string& ours) {
    built += (built.empty() ? "" : ", ") + mine;
    has += (has.empty() ? "" : ", ") + ours;
  };
  if (theirs.json_version != here.json_version)
    differ("nlohmann::json " + version_text(theirs.json_version), "nlohmann::json " + version_text(here.json_version));
  if (theirs.json_size != here.json_size)
    differ("sizeof(nlohmann::json) = " + std::to_string(theirs.json_size),
           "sizeof(nlohmann::json) = " + std::to_string(here.json_size));
  if (theirs.string_size != here.string_size)
    differ("sizeof(std::string) = " + std::to_string(theirs.string_size),
           "sizeof(std::string) = " + std::to_string(here.string_size));
  if (theirs.cxx11_abi != here.cxx11_abi) differ(cxx11_abi_text(theirs.cxx11_abi), cxx11_abi_text(here.cxx11_abi));
  if (theirs.torch_version != 0 && here.torch_version != 0 && theirs.torch_version != here.torch_version)
    differ("LibTorch " + version_text(theirs.torch_version), "LibTorch " + version_text(here.torch_version));
  if (built.empty()) return "";
  return "built against " + built + "; this mstar has " + has +
         ". These types cross the plugin boundary: rebuild the plugin against this mstar and its dependencies "
         "(find_package(mstar) finds them).";
}

Json PluginInfo::to_json() const {
  Json in = Json::array(), out = Json::array();
  for (const auto& i : inputs) in.push_back({{"name", i.name}, {"type", i.type}, {"required", i.required}, {"doc", i.doc}});
  for (const auto& o : outputs) out.push_back({{"name", o.name}, {"type", o.type}, {"doc", o.doc}});
  return Json{{"kind", kind},           {"name", name},   {"version", version},
              {"description", description}, {"params", params.to_json()},
              {"inputs", in},           {"outputs", out}, {"examples", examples},
              {"api_version", MSTAR_PLUGIN_API_VERSION}, {"interface", interface_name}};
}

PluginInfo PluginInfo::from_json(const Json& j) {
  PluginInfo info;
  info.kind = j.at("kind").get<std::string>();
  info.name = j.at("name").get<std::string>();
  info.version = j.value("version", "0");
  info.description = j.value("description", "");
  info.params = ParamSchema::from_json(j.value("params", Json::array()));
  for (const auto& i : j.value("inputs", Json::array()))
    info.inputs.push_back({i.at("name"), i.value("type", ""), i.value("required", true), i.value("doc", "")});
  for (const auto& o : j.value("outputs", Json::array()))
    info.outputs.push_back({o.at("name"), o.value("type", ""), o.value("doc", "")});
  info.examples = j.value("examples", std::vector<std::string>{});
  info.interface_name = j.value("interface", "");
  return info;
}

namespace detail {

int run_guarded(NodeContext* ctx, char* message, std::size_t size, void (*body)(NodeContext&)) noexcept {
  try {
    body(*ctx);
    if (ctx->cancelled()) {
      copy_message(message, size, "cancelled");
      return kRunCancelled;
    }
    return kRunOk;
  } catch (const Error& e) {
    copy_message(message, size, e.what());
    if (e.category() == ErrorCategory::Interrupted) return kRunCancelled;
    return e.is_bad_input() ? kRunBadInput : kRunFailed;
  } catch (const std::exception& e) {
    copy_message(message, size, std::string("uncaught exception: ") + e.what());
    return kRunFailed;
  } catch (...) {
    copy_message(message, size, "uncaught non-standard exception");
    return kRunFailed;
  }
}

void* create_guarded(const char* wanted, const char* provided, const char* params_json, ComponentHost* host,
                     char* message, std::size_t size, void* (*body)(const Params&, ComponentHost&)) noexcept {
  if (std::strcmp(wanted, provided) != 0) {
    copy_message(message, size, std::string("implements '") + provided + "', not '" + wanted + "'");
    return nullptr;
  }
  try {
    return body(Params(Json::parse(params_json)), *host);
  } catch (const std::exception& e) {
    copy_message(message, size, e.what());
  } catch (...) {
    copy_message(message, size, "uncaught non-standard exception");
  }
  return nullptr;
}

}  // namespace detail
}  // namespace mstar
