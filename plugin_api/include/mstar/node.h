// What a running node sees of the host. The host implements NodeContext in
// the child process (`mstar exec-node`); plugins only call it.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mstar/artifact.h"
#include "mstar/component.h"
#include "mstar/log.h"
#include "mstar/params.h"

namespace mstar {

class NodeContext : public ComponentHost {
 public:
  virtual ~NodeContext() = default;

  // Params after validation: every declared key is present (defaults filled).
  virtual const Params& params() const = 0;

  // Upstream artifact wired to input `name`, or nullptr when not wired.
  virtual const Artifact* input(std::string_view name) const = 0;
  virtual std::vector<std::string> input_names() const = 0;

  // Where this node writes its outputs. Named outputs ("train", "bench")
  // are subdirectories; downstream nodes reference them as `node.train`.
  virtual const std::filesystem::path& output_dir() const = 0;

  // A point of a metric series (learning curves) and a final value. Both are
  // kept in the artifact (metrics.jsonl) and streamed to the registry.
  virtual void log(int64_t step, std::string_view key, double value) = 0;
  virtual void summary(std::string_view key, double value) = 0;
  // Extra manifest fields (artifact type, model config, ...).
  virtual void annotate(std::string_view key, const Json& value) = 0;

  // The node's log (see log.h): ctx.logger().info("loaded {}", path).
  virtual Logger& logger() = 0;
  virtual uint64_t seed() const = 0;
  // CPU threads this node may use (its `resources.cpus`).
  virtual int threads() const = 0;
  // True once the host asked the node to stop (SIGTERM); long loops poll it
  // and return early, leaving the artifact incomplete and the run resumable.
  virtual bool cancelled() const = 0;
  // Scratch space that survives a restart of this node instance (checkpoints
  // for resume). Removed when the artifact completes.
  virtual const std::filesystem::path& resume_dir() const = 0;
};

}  // namespace mstar
