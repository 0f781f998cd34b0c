#include "export/tensorboard.h"

#include <array>
#include <cstring>
#include <fstream>
#include <set>

#include "export/walk.h"
#include "mstar/error.h"

namespace mstar::exporting {

namespace fs = std::filesystem;

uint32_t crc32c(std::string_view bytes) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0x82F63B78u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char b : bytes) crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

uint32_t masked_crc32c(std::string_view bytes) {
  const uint32_t crc = crc32c(bytes);
  return ((crc >> 15) | (crc << 17)) + 0xA282EAD8u;
}

namespace {

// ---- protobuf wire format: just what Event, Summary and HParams need.

void varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}
void tag(std::string& out, int field, int wire) { varint(out, (static_cast<uint64_t>(field) << 3) | wire); }
void fixed(std::string& out, const void* p, size_t n) { out.append(static_cast<const char*>(p), n); }  // little-endian host
void f_double(std::string& out, int field, double v) {
  tag(out, field, 1);
  fixed(out, &v, 8);
}
void f_float(std::string& out, int field, float v) {
  tag(out, field, 5);
  fixed(out, &v, 4);
}
void f_int(std::string& out, int field, int64_t v) {
  tag(out, field, 0);
  varint(out, static_cast<uint64_t>(v));
}
void f_bytes(std::string& out, int field, std::string_view v) {
  tag(out, field, 2);
  varint(out, v.size());
  out += v;
}

// google.protobuf.Value: number 2, string 3, bool 4.
std::string pb_value(const Json& v) {
  std::string out;
  if (v.is_boolean()) f_int(out, 4, v.get<bool>() ? 1 : 0);
  else if (v.is_number()) f_double(out, 2, v.get<double>());
  else if (v.is_string()) f_bytes(out, 3, v.get<std::string>());
  else f_bytes(out, 3, v.dump());
  return out;
}

// Summary.Value{tag, simple_value}.
std::string scalar_value(const std::string& name, double v) {
  std::string out;
  f_bytes(out, 1, name);
  f_float(out, 2, static_cast<float>(v));
  return out;
}

// Summary.Value for the HParams plugin: metadata{plugin_data{"hparams",
// content}} and an empty DT_FLOAT tensor, as TensorBoard's own writer does.
std::string hparams_value(const std::string& name, const std::string& content) {
  std::string plugin, metadata, tensor, out;
  f_bytes(plugin, 1, "hparams");
  f_bytes(plugin, 2, content);
  f_bytes(metadata, 1, plugin);
  f_int(tensor, 1, 1);     // dtype DT_FLOAT
  f_bytes(tensor, 2, "");  // tensor_shape {}
  f_bytes(out, 1, name);
  f_bytes(out, 8, tensor);
  f_bytes(out, 9, metadata);
  return out;
}

// Event{wall_time 1, step 2, file_version 3 | summary 5 {value 1...}}.
std::string event(double wall_time, int64_t step, const std::vector<std::string>& values) {
  std::string out, summary;
  f_double(out, 1, wall_time);
  f_int(out, 2, step);
  for (const auto& v : values) f_bytes(summary, 1, v);
  f_bytes(out, 5, summary);
  return out;
}

class EventFile {
 public:
  EventFile(const fs::path& dir, double created) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    path_ = dir / ("events.out.tfevents." + std::to_string(static_cast<int64_t>(created)) + ".mstar");
    out_.open(path_, std::ios::binary | std::ios::trunc);
    if (!out_) throw_io("cannot write " + path_.string());
    std::string first;
    f_double(first, 1, created);
    f_bytes(first, 3, "brain.Event:2");
    record(first);
  }
  void record(const std::string& data) {
    const uint64_t n = data.size();
    std::string len(reinterpret_cast<const char*>(&n), 8);
    const uint32_t len_crc = masked_crc32c(len), data_crc = masked_crc32c(data);
    out_ << len;
    out_.write(reinterpret_cast<const char*>(&len_crc), 4);
    out_ << data;
    out_.write(reinterpret_cast<const char*>(&data_crc), 4);
  }
  void close() {
    if (!out_.flush()) throw_io("cannot write " + path_.string());
  }

 private:
  fs::path path_;
  std::ofstream out_;
};

}  // namespace

TensorBoardStats export_tensorboard(registry::Results& results, const fs::path& dir) {
  TensorBoardStats stats;
  std::set<std::string> metric_tags;
  std::vector<registry::Field> axes = results.varying_params(true);
  double first_created = 0;
  for_each_run(results, [&](const ExportRun& r) {
    const auto& run = r.run;
    if (first_created == 0 || run.created < first_created) first_created = run.created;
    EventFile file(dir / run.id, run.created);
    // HParams session start: every param of the run (TensorBoard's table shows the swept ones).
    std::string start;
    for (const auto& [k, v] : r.params) {
      std::string entry;
      f_bytes(entry, 1, k);
      f_bytes(entry, 2, pb_value(v));
      f_bytes(start, 1, entry);
    }
    f_bytes(start, 4, run.sweep_id);  // group_name
    f_double(start, 5, run.started > 0 ? run.started : run.created);
    std::string data;
    f_bytes(data, 3, start);
    file.record(event(run.created, 0, {hparams_value("_hparams_/session_start_info", data)}));
    for (const auto& n : r.nodes) {
      for (const auto& p : n.points) {
        file.record(event(p.time, p.step, {scalar_value(series_name(n.record.node, p.key), p.value)}));
        ++stats.scalars;
      }
      std::vector<std::string> finals;
      for (const auto& [k, v] : n.summaries) {
        const std::string name = summary_name(n.record.node, k);
        finals.push_back(scalar_value(name, v));
        metric_tags.insert(name);
      }
      if (!finals.empty())
        file.record(event(n.record.finished > 0 ? n.record.finished : r.last_time, r.last_step, finals));
    }
    // HParams session end: 1 success, 2 failure, 3 running, 0 unknown.
    std::string end;
    f_int(end, 1, run.status == "done" ? 1 : run.status == "failed" ? 2 : run.status == "running" ? 3 : 0);
    f_double(end, 2, run.finished);
    data.clear();
    f_bytes(data, 4, end);
    file.record(event(run.finished > 0 ? run.finished : r.last_time, r.last_step,
                      {hparams_value("_hparams_/session_end_info", data)}));
    file.close();
    ++stats.runs;
  });
  // The experiment: hparam_infos (the swept params) and metric_infos (the summaries).
  std::string experiment;
  for (const auto& f : axes) {
    std::string info;
    f_bytes(info, 1, f.key.empty() ? f.label() : f.key);
    f_bytes(experiment, 4, info);
  }
  for (const auto& t : metric_tags) {
    std::string name, info;
    f_bytes(name, 2, t);  // MetricName{tag}
    f_bytes(info, 1, name);
    f_bytes(experiment, 5, info);
  }
  f_double(experiment, 3, first_created);
  std::string data;
  f_bytes(data, 2, experiment);
  EventFile root(dir, first_created);
  root.record(event(first_created, 0, {hparams_value("_hparams_/experiment", data)}));
  root.close();
  return stats;
}

}  // namespace mstar::exporting
