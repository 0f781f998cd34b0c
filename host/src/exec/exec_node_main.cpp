// mstar-exec-node: the child side of a local node instance, as its own small
// executable. `mstar exec-node` does the same, but the mstar binary links the
// registry (SQLite, libpq and its ~20 libraries), YAML and the CLI, and the
// dynamic loader's relocations and page faults for those were most of the
// per-node overhead of a sweep of short nodes (docs/scaling.md, "Host
// overhead"). This one links only what exec_node.cpp needs.
#include <cstdio>
#include <exception>
#include <string>

#include "exec/node_spec.h"
#include "mstar/error.h"
#include "util/log.h"

int main(int argc, char** argv) {
  if (argc != 2 || std::string(argv[1]) == "--help") {
    std::fprintf(stderr, "usage: mstar-exec-node SPEC.json|--from-env (started by `mstar run`, not by hand)\n");
    return mstar::exit_code(mstar::ErrorCategory::BadInput);
  }
  mstar::init_logging(false);
  try {
    return mstar::exec_node_main(argv[1]);
  } catch (const mstar::Error& e) {
    std::fprintf(stderr, "mstar exec-node: %s\n", e.what());
    return mstar::exit_code(e.category());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mstar exec-node: internal error: %s\n", e.what());
    return 1;
  }
}
