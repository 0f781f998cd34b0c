// Child side of a node instance. Runs the plugin, streams events to the
// host on the original stdout, sends the plugin's own prints to the log
// (stderr), and publishes the artifact: manifest written last, then the
// staging directory renamed into the store.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "exec/node_spec.h"
#include "store/artifact_store.h"
#include "mstar/plugin.h"
#include "plugins/catalog.h"
#include "util/log.h"

namespace mstar {

namespace fs = std::filesystem;

namespace {

std::atomic<bool> g_cancel{false};

// Test hook (docs/reliability.md): with MSTAR_FAULT_ENOSPC_AFTER=N in its
// environment, the node's artifact writer (metrics.jsonl and the manifest)
// fails as a full disk does once N bytes are written, so that a test can
// show the node failing cleanly, nothing half-published, and the rerun
// completing. Unset, it costs one comparison per write.
class SpaceBudget {
 public:
  SpaceBudget() {
    if (const char* n = std::getenv("MSTAR_FAULT_ENOSPC_AFTER")) left_ = std::strtoull(n, nullptr, 10);
  }
  void charge(size_t bytes, const fs::path& file) {
    if (left_ == kUnlimited) return;
    if (bytes > left_) {
      left_ = 0;
      throw_io("cannot write " + file.string() + ": " + std::strerror(ENOSPC) + " (MSTAR_FAULT_ENOSPC_AFTER)");
    }
    left_ -= bytes;
  }

 private:
  static constexpr size_t kUnlimited = static_cast<size_t>(-1);
  size_t left_ = kUnlimited;
};
// Created on first use: no static constructor in the host.
SpaceBudget& space_budget() {
  static SpaceBudget budget;
  return budget;
}

extern "C" void on_stop_signal(int) { g_cancel.store(true); }

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

// Event channel to the host: one JSON object per line, written with a single
// write() so lines from one process never interleave.
class Channel {
 public:
  explicit Channel(int fd) : fd_(fd) {}
  void send(const Json& event) {
    if (fd_ < 0) return;
    std::string line = event.dump() + "\n";
    const char* p = line.data();
    size_t left = line.size();
    while (left > 0) {
      ssize_t n = ::write(fd_, p, left);
      if (n <= 0) {  // host gone: keep working, the artifact still records everything
        fd_ = -1;
        return;
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
  }

 private:
  int fd_;
};

class ChildContext final : public NodeContext {
 public:
  ChildContext(const NodeSpecFile& spec, Channel& channel)
      : spec_(spec), params_(spec.params), channel_(channel) {
    for (const auto& [name, dir] : spec.inputs) {
      fs::path root = dir;
      // An output subdirectory has no manifest of its own: open the parent's.
      while (!Artifact::is_complete(root) && root.has_parent_path() && root != root.parent_path())
        root = root.parent_path();
      Artifact a = Artifact::open(root);
      inputs_.emplace(name, Artifact(dir, a.manifest()));
    }
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    const std::string name = spec.world_size > 1 ? spec.plugin + " rank " + std::to_string(spec.rank) : spec.plugin;
    logger_ = std::make_shared<spdlog::logger>(name, sink);
    logger_->set_pattern("[%H:%M:%S.%e %n %l] %v");
    logger_->flush_on(spdlog::level::info);
    plugin_logger_ = std::make_unique<SpdlogLogger>(logger_);
  }
  ~ChildContext() override {
    if (metrics_) std::fclose(metrics_);
  }

  const Params& params() const override { return params_; }
  const Artifact* input(std::string_view name) const override {
    auto it = inputs_.find(std::string(name));
    return it == inputs_.end() ? nullptr : &it->second;
  }
  std::vector<std::string> input_names() const override {
    std::vector<std::string> names;
    for (const auto& [n, _] : inputs_) names.push_back(n);
    return names;
  }
  const fs::path& output_dir() const override { return spec_.staging; }
  void log(int64_t step, std::string_view key, double value) override {
    record({{"t", "m"}, {"step", step}, {"k", key}, {"v", value}, {"time", now_seconds()}});
  }
  void summary(std::string_view key, double value) override {
    record({{"t", "s"}, {"k", key}, {"v", value}, {"time", now_seconds()}});
  }
  void annotate(std::string_view key, const Json& value) override { annotations_[std::string(key)] = value; }
  Logger& logger() override { return *plugin_logger_; }
  uint64_t seed() const override { return spec_.seed; }
  int threads() const override { return spec_.threads; }
  bool cancelled() const override { return g_cancel.load(); }
  // Created on first use: most nodes never checkpoint.
  const fs::path& resume_dir() const override {
    if (!spec_.resume.empty()) fs::create_directories(spec_.resume);
    return spec_.resume;
  }

  std::shared_ptr<void> create_component(const Json& spec, std::string_view interface_name) override {
    const std::string id = spec.is_object() ? spec.value("plugin", "") : "";
    const Component& c = component(id, interface_name);
    if (!c.descriptor->create) throw_bad_input("plugin '" + id + "' is a node, not a component");
    // Params inside lists of references are not checked by the host before
    // the run: validate every component here, defaults included.
    Json given = spec;
    given.erase("plugin");
    std::vector<ParamIssue> issues;
    SchemaLookup nested = [this](const std::string& nid) -> const ParamSchema* {
      return spec_.components.count(nid) ? &component(nid, "").info.params : nullptr;
    };
    const Json params = validate_params(c.info.params, given, issues, nested, "");
    if (!issues.empty()) {
      std::string msg = "component " + id + ":";
      for (const auto& i : issues) msg += "\n  " + i.path + ": " + i.message;
      throw_bad_input(msg);
    }
    const std::string iface(interface_name);
    char message[1024] = {0};
    DeleteFn deleter = nullptr;
    void* object = c.descriptor->create(iface.c_str(), params.dump().c_str(), this, &deleter, message, sizeof message);
    if (!object) throw_bad_input("cannot create component '" + id + "': " + message);
    // The deleter runs while the library is still loaded: the lambda holds it.
    return std::shared_ptr<void>(object, [library = c.library, deleter](void* p) { deleter(p); });
  }

  const Json& annotations() const { return annotations_; }
  // A full disk may only show when buffered lines are flushed: an error here
  // fails the node rather than publish an artifact missing metrics.
  void close_metrics() {
    if (!metrics_) return;
    const bool ok = !std::ferror(metrics_) && std::fflush(metrics_) == 0;
    const int err = errno;
    std::fclose(metrics_);
    metrics_ = nullptr;
    if (!ok) throw_io("cannot write " + (spec_.staging / kMetricsFile).string() + ": " + std::strerror(err));
  }

 private:
  struct Component {
    std::shared_ptr<OpenedLibrary> library;
    const PluginDescriptor* descriptor = nullptr;
    PluginInfo info;
  };

  const Component& component(const std::string& id, std::string_view wanted) {
    auto cached = components_.find(id);
    if (cached != components_.end()) return cached->second;
    auto it = spec_.components.find(id);
    if (it == spec_.components.end()) {
      std::vector<std::string> known;
      for (const auto& [k, _] : spec_.components) known.push_back(k);
      const std::string hint = did_you_mean(id, known);
      throw_bad_input("unknown component '" + id + "'" + (wanted.empty() ? "" : " (wanted a " + std::string(wanted) + " plugin)") +
                      (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
    }
    Component c;
    c.descriptor = &open_plugin(it->second, id, c.library);
    c.info = PluginInfo::from_json(Json::parse(c.descriptor->metadata_json));
    return components_.emplace(id, std::move(c)).first->second;
  }

  void record(const Json& event) {
    if (!metrics_) {
      metrics_ = std::fopen((spec_.staging / kMetricsFile).c_str(), "a");
      if (!metrics_) throw_io("cannot open " + (spec_.staging / kMetricsFile).string());
    }
    const std::string line = event.dump() + "\n";
    space_budget().charge(line.size(), spec_.staging / kMetricsFile);
    if (std::fwrite(line.data(), 1, line.size(), metrics_) != line.size())
      throw_io("cannot write " + (spec_.staging / kMetricsFile).string() + ": " + std::strerror(errno));
    channel_.send(event);
  }

  const NodeSpecFile& spec_;
  Params params_;
  Channel& channel_;
  std::map<std::string, Artifact> inputs_;
  std::FILE* metrics_ = nullptr;
  std::shared_ptr<spdlog::logger> logger_;
  std::unique_ptr<SpdlogLogger> plugin_logger_;
  Json annotations_ = Json::object();
  std::map<std::string, Component> components_;
};

void publish(const NodeSpecFile& spec, const PluginInfo& info, const Json& annotations) {
  Json inputs = Json::object();
  for (const auto& [name, key] : spec.input_keys) inputs[name] = key;
  Json outputs = Json::array();
  for (const auto& o : info.outputs) outputs.push_back(o.name);
  Json manifest = {{"key", spec.key},         {"plugin", spec.plugin},     {"plugin_version", spec.plugin_version},
                   {"library", spec.library.string()}, {"params", spec.params}, {"inputs", inputs},
                   {"seed", spec.seed},        {"created", now_seconds()}, {"outputs", outputs}};
  for (const auto& [k, v] : annotations.items()) manifest[k] = v;
  const std::string text = manifest.dump(2);
  space_budget().charge(text.size(), spec.staging / kManifestFile);
  ArtifactStore::publish(spec.staging, spec.final_dir, spec.resume, text);
}

// A rank's private output directory, removed with everything in it.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (fs::temp_directory_path() / "mstar-rank-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw_io("cannot create a scratch directory " + pattern + ": " + std::strerror(errno));
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

}  // namespace

int node_world_size(const Json& params) {
  const auto it = params.find("world_size");
  if (it == params.end() || !it->is_number_integer()) return 1;
  return it->get<int64_t>() > 1 ? static_cast<int>(std::min<int64_t>(it->get<int64_t>(), 1 << 16)) : 1;
}

Json NodeSpecFile::to_json() const {
  Json in = Json::object(), keys = Json::object();
  for (const auto& [k, v] : inputs) in[k] = v.string();
  for (const auto& [k, v] : input_keys) keys[k] = v;
  Json comps = Json::object();
  for (const auto& [k, v] : components) comps[k] = v.string();
  return {{"key", key},       {"plugin", plugin},         {"plugin_version", plugin_version},
          {"library", library.string()}, {"params", params}, {"inputs", in}, {"input_keys", keys},
          {"components", comps},
          {"staging", staging.string()}, {"final", final_dir.string()}, {"resume", resume.string()},
          {"seed", seed},     {"threads", threads}, {"rank", rank}, {"world_size", world_size}};
}

NodeSpecFile NodeSpecFile::from_json(const Json& j) {
  NodeSpecFile s;
  s.key = j.at("key");
  s.plugin = j.at("plugin");
  s.plugin_version = j.value("plugin_version", "");
  s.library = j.at("library").get<std::string>();
  s.params = j.value("params", Json::object());
  // Bound to names: items() of a temporary would dangle inside the loop.
  const Json inputs = j.value("inputs", Json::object());
  const Json input_keys = j.value("input_keys", Json::object());
  for (const auto& [k, v] : inputs.items()) s.inputs[k] = v.get<std::string>();
  for (const auto& [k, v] : input_keys.items()) s.input_keys[k] = v.get<std::string>();
  const Json comps = j.value("components", Json::object());
  for (const auto& [k, v] : comps.items()) s.components[k] = v.get<std::string>();
  s.staging = j.at("staging").get<std::string>();
  s.final_dir = j.at("final").get<std::string>();
  s.resume = j.value("resume", "");
  s.seed = j.value("seed", uint64_t{0});
  s.threads = j.value("threads", 1);
  s.rank = j.value("rank", 0);
  s.world_size = j.value("world_size", 1);
  return s;
}

int exec_node_main(const std::string& spec_source) {
  // Die with the host: a SIGKILLed host must not leave orphans writing into
  // the store while the next host resumes.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() == 1) return kExecCancelled;
  std::signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);

  // fd 1 is the host's event pipe; plugin prints go to the log with stderr.
  Channel channel(::dup(STDOUT_FILENO));
  ::dup2(STDERR_FILENO, STDOUT_FILENO);

  auto fail = [&](int code, const std::string& category, const std::string& message) {
    std::fprintf(stderr, "mstar exec-node: %s\n", message.c_str());
    std::fflush(stderr);
    channel.send({{"t", "error"}, {"category", category}, {"message", message}});
    return code;
  };

  NodeSpecFile spec;
  try {
    const char* env = std::getenv("MSTAR_NODE_SPEC");
    const std::string text = spec_source == "--from-env" ? std::string(env ? env : "") : read_file(spec_source);
    spec = NodeSpecFile::from_json(Json::parse(text));
  } catch (const std::exception& e) {
    return fail(kExecBadInput, "bad_input", "cannot read node spec " + spec_source + ": " + e.what());
  }
  // A rank other than 0 writes nothing into the store: its output (which
  // the plugin should not write anyway) goes to a private scratch directory.
  std::unique_ptr<ScratchDir> scratch;
  std::shared_ptr<OpenedLibrary> library;
  const PluginDescriptor* descriptor = nullptr;
  PluginInfo info;
  try {
    descriptor = &open_plugin(spec.library, spec.plugin, library);
    info = PluginInfo::from_json(Json::parse(descriptor->metadata_json));
    if (spec.rank > 0) {
      scratch = std::make_unique<ScratchDir>();
      spec.staging = scratch->path();
    } else {
      ArtifactStore::begin_staging(spec.staging);
    }
  } catch (const Error& e) {
    return fail(e.is_bad_input() ? kExecBadInput : kExecFailed, std::string(to_string(e.category())), e.what());
  } catch (const std::exception& e) {
    return fail(kExecFailed, "io", e.what());
  }

  char message[4096] = {0};
  int status = kRunFailed;
  Json annotations;
  try {
    ChildContext ctx(spec, channel);
    if (spec.world_size > 1)
      ctx.logger().info("running {} (key {}, seed {}, {} thread(s)), rank {} of {}", spec.plugin, spec.key.substr(0, 12),
                        spec.seed, spec.threads, spec.rank, spec.world_size);
    else
      ctx.logger().info("running {} (key {}, seed {}, {} thread(s))", spec.plugin, spec.key.substr(0, 12), spec.seed,
                        spec.threads);
    status = descriptor->run(&ctx, message, sizeof message);
    annotations = ctx.annotations();
    ctx.close_metrics();
  } catch (const std::exception& e) {
    return fail(kExecFailed, "io", e.what());
  }
  switch (status) {
    case kRunOk: break;
    case kRunCancelled: return fail(kExecCancelled, "interrupted", message[0] ? message : "cancelled");
    case kRunBadInput: return fail(kExecBadInput, "bad_input", message);
    default: return fail(kExecFailed, "plugin_failure", message);
  }
  if (spec.rank > 0) return kExecOk;  // rank 0 publishes
  try {
    publish(spec, info, annotations);
  } catch (const std::exception& e) {
    return fail(kExecFailed, "io", e.what());
  }
  channel.send({{"t", "done"}});
  return kExecOk;
}

}  // namespace mstar
