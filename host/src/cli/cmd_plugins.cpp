#include <iostream>

#include "cli/cli.h"
#include "mstar/error.h"
#include "plugins/catalog.h"

namespace mstar::cli {

namespace {

std::string render_default(const ParamSpec& p) {
  if (p.required) return "(required)";
  if (p.default_value.is_null()) return "-";
  return p.default_value.is_string() ? p.default_value.get<std::string>() : p.default_value.dump();
}

int plugins_info(const PluginCatalog& cat, const std::string& id, const std::string& format) {
  const LoadedPlugin& p = cat.require(id);
  if (format == "json") {
    Json j = p.info.to_json();
    j["library"] = p.library.string();
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << p.info.id() << " " << p.info.version << "  (" << p.library.string() << ")\n\n"
            << p.info.description << "\n\nparams:\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : p.info.params.specs())
    rows.push_back({s.name, std::string(to_string(s.type)), render_default(s), s.allowed(), s.doc});
  print_table({"name", "type", "default", "allowed", "doc"}, rows, "table");
  if (!p.info.inputs.empty()) {
    std::cout << "\ninputs:\n";
    rows.clear();
    for (const auto& i : p.info.inputs)
      rows.push_back({i.name, i.type.empty() ? "any" : i.type, i.required ? "yes" : "no", i.doc});
    print_table({"name", "type", "required", "doc"}, rows, "table");
  }
  if (!p.info.outputs.empty()) {
    std::cout << "\noutputs:\n";
    rows.clear();
    for (const auto& o : p.info.outputs) rows.push_back({o.name.empty() ? "(root)" : o.name, o.type, o.doc});
    print_table({"name", "type", "doc"}, rows, "table");
  }
  for (const auto& ex : p.info.examples) std::cout << "\nexample:\n" << ex << "\n";
  return 0;
}

}  // namespace

int cmd_plugins(const Args& args) {
  po::options_description desc("plugins options");
  StoreOptions so;
  std::string action, id;
  bool all = false;
  so.add_to(desc, true, true);
  desc.add_options()("action", po::value(&action)->default_value("list"), "list | info")(
      "id", po::value(&id), "KIND/NAME for info")("all", po::bool_switch(&all), "also list refused libraries");
  po::positional_options_description pos;
  pos.add("action", 1).add("id", 1);
  po::variables_map vm;
  if (!parse(args, "mstar plugins [list|info KIND/NAME] [--format table|json] [--plugin-path DIR]",
             "Lists the plugins found in --plugin-path, MSTAR_PLUGIN_PATH and the built-in directory, "
             "or prints one plugin's description and parameter table.",
             "mstar plugins info test/sleep", desc, &pos, vm))
    return 0;
  const Paths paths = so.paths();
  PluginCatalog cat = PluginCatalog::discover(so.plugin_path, paths.home / "plugin-cache.json", so.trust_plugin_dir);
  if (action == "info") {
    if (id.empty()) throw_bad_input("plugins info needs KIND/NAME, e.g. `mstar plugins info test/echo`");
    return plugins_info(cat, id, so.format);
  }
  if (action != "list") throw_bad_input("plugins: unknown action '" + action + "' (expected list or info)");
  std::vector<std::vector<std::string>> rows;
  for (const auto& [pid, p] : cat.plugins())
    rows.push_back({p.info.kind, p.info.name, p.info.version, std::to_string(MSTAR_PLUGIN_API_VERSION),
                    p.library.string()});
  if (all)
    for (const auto& r : cat.refusals()) rows.push_back({"refused", "-", "-", "-", r.library.string() + ": " + r.reason});
  print_table({"kind", "name", "version", "api", "library"}, rows, so.format);
  return 0;
}

}  // namespace mstar::cli
