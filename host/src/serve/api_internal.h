// Shared by the API's source files: the per-thread registry connection and
// small JSON helpers.
#pragma once

#include <map>
#include <mutex>
#include <thread>

#include "mstar/json.h"
#include "mstar/registry/query.h"
#include "mstar/registry/registry.h"
#include "serve/api.h"

namespace mstar::serve::detail {

class Context {
 public:
  explicit Context(ApiOptions options) : options_(std::move(options)) {}
  const ApiOptions& options() const { return options_; }
  // This thread's read-only connection: a Registry serialises its calls, and
  // the query engine's statements are not shared between threads.
  registry::Registry& registry();

 private:
  ApiOptions options_;
  std::mutex mutex_;
  std::map<std::thread::id, std::unique_ptr<registry::Registry>> connections_;
};

Json to_json(const registry::Value& v);
Response json_response(const Json& body);
Response error_response(int status, const std::string& message);
// The query parameter, or "" (or `fallback`) when absent.
std::string param(const Request& req, const std::string& key, const std::string& fallback = "");

// Handlers in api_run.cpp.
Response run_detail(Context& ctx, const Request& req);
Response run_diff(Context& ctx, const Request& req);
Response rollouts(Context& ctx, const Request& req);
Response store_file(Context& ctx, const Request& req);

}  // namespace mstar::serve::detail
