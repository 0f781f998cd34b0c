// Internal commands: the child side of the host's process model.
#include "cli/cli.h"
#include "exec/node_spec.h"
#include "mstar/error.h"
#include "plugins/catalog.h"

namespace mstar::cli {

int cmd_exec_node(const Args& args) {
  if (args.size() != 1 || args[0] == "--help")
    throw_bad_input("usage: mstar exec-node SPEC.json (started by `mstar run`, not by hand)");
  return exec_node_main(args[0]);
}

int cmd_probe_plugin(const Args& args) {
  if (args.size() != 1 || args[0] == "--help")
    throw_bad_input("usage: mstar probe-plugin LIBRARY.so (prints the library's plugin descriptors as JSON)");
  return probe_plugin_library(args[0]);
}

}  // namespace mstar::cli
