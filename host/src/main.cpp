// mstar: the host. Dispatches to a subcommand; every mstar::Error ends here
// and its category decides the exit code.
#include <cstring>
#include <iostream>

#include "cli/cli.h"
#include "mstar/error.h"
#include "mstar/params.h"
#include "mstar/version.h"
#include "util/log.h"

namespace {

void print_usage() {
  std::cout << "mstar " << MSTAR_VERSION_STRING << " - experiment graphs of plugins, sweeps and a results registry\n\n"
            << "usage: mstar COMMAND [options]   (mstar COMMAND --help for each)\n\ncommands:\n";
  for (const auto& c : mstar::cli::commands()) {
    if (c.internal) continue;
    std::string name = c.name;
    name.resize(14, ' ');
    std::cout << "  " << name << c.summary << "\n";
  }
  std::cout << "\nexample:\n  mstar run experiments/quickstart.yaml -j 2\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  bool verbose = false;
  if (!args.empty() && (args[0] == "-v" || args[0] == "--verbose")) {
    verbose = true;
    args.erase(args.begin());
  }
  mstar::init_logging(verbose);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_usage();
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    std::cout << "mstar " << MSTAR_VERSION_STRING << " (plugin API " << MSTAR_PLUGIN_API_VERSION << ")\n";
    return 0;
  }
  const std::string name = args[0];
  args.erase(args.begin());
  for (const auto& c : mstar::cli::commands()) {
    if (name != c.name) continue;
    try {
      return c.run(args);
    } catch (const mstar::Error& e) {
      std::cerr << "mstar " << name << ": " << e.what() << "\n";
      return mstar::exit_code(e.category());
    } catch (const std::exception& e) {
      std::cerr << "mstar " << name << ": internal error: " << e.what() << "\n";
      return 1;
    }
  }
  std::vector<std::string> names;
  for (const auto& c : mstar::cli::commands()) names.push_back(c.name);
  std::string hint = mstar::did_you_mean(name, names);
  std::cerr << "mstar: unknown command '" << name << "'" << (hint.empty() ? "" : " (did you mean '" + hint + "'?)")
            << "; see mstar --help\n";
  return 2;
}
