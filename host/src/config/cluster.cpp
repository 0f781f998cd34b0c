// The cluster side of an experiment file: a node's `resources:` beyond cpus
// and gpus, and the file's `launcher:`. Only the Slurm launcher reads them;
// checking them here means a typo fails before a single job is submitted.
#include <regex>

#include "config/internal.h"

namespace mstar::config {

ClusterResources ClusterResources::merged(const ClusterResources& over) const {
  ClusterResources out = *this;
  if (!over.mem.empty()) out.mem = over.mem;
  if (!over.partition.empty()) out.partition = over.partition;
  if (!over.account.empty()) out.account = over.account;
  if (!over.qos.empty()) out.qos = over.qos;
  out.sbatch_args.insert(out.sbatch_args.end(), over.sbatch_args.begin(), over.sbatch_args.end());
  return out;
}

namespace detail {

namespace {

const std::vector<std::string> kLauncherKinds = {"local", "slurm"};
const std::vector<std::string> kLauncherKeys = {"kind", "poll", "mem", "partition", "account", "qos", "sbatch_args"};

// Slurm's --mem: a number of megabytes, or with a K/M/G/T suffix.
bool valid_mem(const std::string& s) { return std::regex_match(s, std::regex("[0-9]+[KMGT]?")); }

}  // namespace

void parse_cluster_resources(const Json& r, const std::string& ptr, const std::string& what, const LocMap& locs,
                             Diagnostics& diag, ClusterResources& out) {
  auto at = [&](const std::string& key) { return loc_lookup(locs, pointer_join(ptr, key)); };
  if (r.contains("mem") && !r["mem"].is_null()) {
    const Json& m = r["mem"];
    std::string text = m.is_number_integer() && m.get<int64_t>() > 0 ? std::to_string(m.get<int64_t>())
                       : m.is_string()                                 ? m.get<std::string>()
                                                                       : std::string();
    if (!valid_mem(text))
      diag.add(at("mem"), what + ".mem: expected megabytes (16000) or a size with K/M/G/T (16G), got " + show(m));
    else
      out.mem = text;
  }
  for (const char* key : {"partition", "account", "qos"}) {
    if (!r.contains(key) || r[key].is_null()) continue;
    const Json& v = r[key];
    std::string* field = key == std::string("partition") ? &out.partition
                         : key == std::string("account") ? &out.account
                                                         : &out.qos;
    if (!v.is_string() || v.get<std::string>().empty() ||
        v.get<std::string>().find_first_of(" \t\n") != std::string::npos)
      diag.add(at(key), what + "." + key + ": expected a name without spaces, got " + show(v));
    else
      *field = v.get<std::string>();
  }
  if (r.contains("sbatch_args") && !r["sbatch_args"].is_null()) {
    const Json& a = r["sbatch_args"];
    bool ok = a.is_array();
    for (const auto& x : ok ? a : Json::array()) ok = ok && x.is_string() && !x.get<std::string>().empty();
    if (!ok)
      diag.add(at("sbatch_args"), what + ".sbatch_args: expected a list of sbatch options ([--constraint=a100]), got " +
                                      show(a));
    else
      for (const auto& x : a) out.sbatch_args.push_back(x.get<std::string>());
  }
}

LauncherConfig parse_launcher(const Json& v, const LocMap& locs, Diagnostics& diag) {
  LauncherConfig out;
  const SourceLoc loc = loc_lookup(locs, "/launcher");
  const Json kind = v.is_object() ? v.value("kind", Json()) : v;
  if (!kind.is_string() || std::find(kLauncherKinds.begin(), kLauncherKinds.end(), kind.get<std::string>()) ==
                               kLauncherKinds.end()) {
    diag.add(v.is_object() ? loc_lookup(locs, "/launcher/kind") : loc,
             (v.is_object() ? "launcher.kind: expected local or slurm, got " + show(kind)
                            : "launcher: expected local or slurm (or a map {kind: slurm, partition: ..., poll: 1s}), got " +
                                  show(v)));
    return out;
  }
  out.kind = kind.get<std::string>();
  if (!v.is_object()) return out;
  unknown_keys(v, kLauncherKeys, "/launcher", "launcher", locs, diag);
  parse_cluster_resources(v, "/launcher", "launcher", locs, diag, out.defaults);
  if (v.contains("poll") && !v["poll"].is_null()) {
    auto s = parse_duration(v["poll"]);
    if (!s || !(*s >= 0.05 && *s <= 600))
      diag.add(loc_lookup(locs, "/launcher/poll"),
               "launcher.poll: expected a duration from 0.05 s to 10 m (0.5, 2s), got " + show(v["poll"]));
    else
      out.poll_s = *s;
  }
  return out;
}

}  // namespace detail
}  // namespace mstar::config
