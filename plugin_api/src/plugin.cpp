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

}  // namespace

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
