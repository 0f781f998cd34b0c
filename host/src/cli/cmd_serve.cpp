// `mstar serve`: the live dashboard (host/src/serve). Loopback by default;
// any other address needs a token, checked on every request.
#include <cstdlib>
#include <iostream>

#include "cli/cli.h"
#include "mstar/error.h"
#include "serve/api.h"
#include "serve/http.h"

namespace mstar::cli {

int cmd_serve(const Args& args) {
  po::options_description desc("serve options");
  StoreOptions so;
  serve::ServerOptions opt;
  so.add_to(desc, false, false);
  desc.add_options()("host", po::value(&opt.host)->default_value("127.0.0.1"),
                     "address to listen on; anything but loopback needs --token (or MSTAR_SERVE_TOKEN)")(
      "port", po::value(&opt.port)->default_value(8080), "port (0: any free one; the URL is printed)")(
      "token", po::value(&opt.token),
      "access token asked of every request (Authorization: Bearer, or /?token= once in a browser); default "
      "$MSTAR_SERVE_TOKEN")("threads", po::value(&opt.threads)->default_value(2), "server threads (1-64)");
  po::variables_map vm;
  if (!parse(args, "mstar serve [--host ADDR --token T] [--port N] [--registry DB] [--store DIR]",
             "Serves a live, read-only dashboard of the registry: sweeps with their progress while `mstar run` "
             "works, the trial table filtered with the results expression language, learning curves overlaid "
             "across runs (smoothing, 95% CI over seeds), lineage, two runs side by side and the GRPO rollout "
             "browser. Pages and scripts are compiled in; nothing is fetched from the network. See docs/serve.md.",
             "mstar serve --port 8080   # then open http://127.0.0.1:8080/", desc, nullptr, vm))
    return 0;
  if (opt.token.empty())
    if (const char* t = std::getenv("MSTAR_SERVE_TOKEN")) opt.token = t;
  if (opt.threads < 1 || opt.threads > 64)
    throw_bad_input("--threads: expected 1 to 64, got " + std::to_string(opt.threads));
  const Paths paths = so.paths();
  const serve::Handler handler = serve::make_handler({paths.registry, paths.store});
  serve::run_server(opt, handler, [&](uint16_t port) {
    const std::string host = opt.host.find(':') != std::string::npos ? "[" + opt.host + "]" : opt.host;
    // Tests and scripts wait for this line: the socket is listening when it appears.
    std::cout << "serving " << paths.registry.string() << " on http://" << host << ":" << port << "/"
              << (opt.token.empty() ? "" : " (token required)") << std::endl;
  });
  return 0;
}

}  // namespace mstar::cli
