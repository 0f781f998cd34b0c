// The `mstar` command line: a table of subcommands, each with its own
// Boost.Program_options description, a one-line summary and an example that
// `--help` prints.
#pragma once

#include <boost/program_options.hpp>
#include <string>
#include <vector>

#include "util/paths.h"

namespace mstar::cli {

namespace po = boost::program_options;

using Args = std::vector<std::string>;

struct Command {
  const char* name;
  const char* summary;
  int (*run)(const Args& args);
  bool internal = false;
};

const std::vector<Command>& commands();

// Parses `args` against `desc` (+ positional), handling --help by printing
// usage, `summary` and `example`. Returns false when help was printed.
bool parse(const Args& args, const std::string& usage, const std::string& summary, const std::string& example,
           po::options_description& desc, const po::positional_options_description* positional,
           po::variables_map& vm);

// Options shared by the commands that touch the registry and store.
struct StoreOptions {
  std::string registry, store;
  std::vector<std::string> plugin_path;
  bool trust_plugin_dir = false;
  std::string format = "table";
  void add_to(po::options_description& desc, bool with_plugins, bool with_format);
  Paths paths() const { return resolve_paths(registry, store); }
};

// Renders rows as an aligned text table (or JSON) on stdout.
void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                 const std::string& format);

std::string format_time(double unix_seconds);
std::string format_duration(double seconds);

// Subcommands (one file each under cli/).
int cmd_plugins(const Args&);
int cmd_run(const Args&);
int cmd_runs(const Args&);
int cmd_show(const Args&);
int cmd_logs(const Args&);
int cmd_artifact(const Args&);
int cmd_status(const Args&);
int cmd_data(const Args&);
int cmd_exec_node(const Args&);
int cmd_probe_plugin(const Args&);
// Results (cmd_results.cpp, cmd_plot.cpp, cmd_registry.cpp).
int cmd_results(const Args&);
int cmd_metrics(const Args&);
int cmd_diff(const Args&);
int cmd_export(const Args&);
int cmd_plot(const Args&);
int cmd_report(const Args&);
int cmd_claims(const Args&);
int cmd_registry(const Args&);
// The dashboard (cmd_serve.cpp, serve/).
int cmd_serve(const Args&);

}  // namespace mstar::cli
