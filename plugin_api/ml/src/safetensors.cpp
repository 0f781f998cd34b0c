#include "mstar/ml/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <set>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <torch/torch.h>

#include "mstar/error.h"
#include "mstar/artifact.h"
#include "mstar/json.h"

namespace mstar::ml {

static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace fs = std::filesystem;

namespace {

struct DtypeName {
  torch::Dtype dtype;
  const char* name;
};
const DtypeName kDtypes[] = {
    {torch::kFloat64, "F64"}, {torch::kFloat32, "F32"}, {torch::kFloat16, "F16"}, {torch::kBFloat16, "BF16"},
    {torch::kInt64, "I64"},   {torch::kInt32, "I32"},   {torch::kInt16, "I16"},   {torch::kInt8, "I8"},
    {torch::kUInt8, "U8"},    {torch::kBool, "BOOL"},
};

// Largest header we accept (the reference implementation uses 100 MB).
constexpr uint64_t kMaxHeader = 100'000'000;

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

struct Entry {
  std::string name;
  torch::Dtype dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;
};

struct Parsed {
  std::vector<Entry> entries;
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;
};

// Reads and validates the header of `file` (size `file_size`).
Parsed parse_header(std::ifstream& in, const fs::path& file, uint64_t file_size) {
  const std::string where = "safetensors file " + file.string();
  if (file_size < 8) throw_bad_input(where + " is truncated: " + std::to_string(file_size) + " bytes, no header length");
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len_bytes[i];
  if (n > kMaxHeader) throw_bad_input(where + ": header length " + std::to_string(n) + " is implausibly large");
  if (n > file_size - 8)
    throw_bad_input(where + ": header length " + std::to_string(n) + " overruns the file (" +
                    std::to_string(file_size) + " bytes): truncated or not a safetensors file");
  std::string header(n, '\0');
  in.read(header.data(), static_cast<std::streamsize>(n));
  if (!in) throw_io("cannot read the header of " + file.string());

  Json j;
  try {
    j = Json::parse(header);
  } catch (const Json::exception& e) {
    throw_bad_input(where + ": header is not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw_bad_input(where + ": header is not a JSON object");

  Parsed p;
  p.data_start = 8 + n;
  const uint64_t data_size = file_size - p.data_start;
  for (const auto& [name, v] : j.items()) {
    if (name == "__metadata__") {
      if (!v.is_object()) throw_bad_input(where + ": __metadata__ is not an object");
      for (const auto& [k, s] : v.items()) {
        if (!s.is_string()) throw_bad_input(where + ": __metadata__." + k + " is not a string");
        p.metadata[k] = s.get<std::string>();
      }
      continue;
    }
    const std::string what = where + ", tensor '" + name + "'";
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      throw_bad_input(what + ": entry needs dtype, shape and data_offsets");
    Entry e;
    e.name = name;
    if (!v["dtype"].is_string()) throw_bad_input(what + ": dtype is not a string");
    try {
      e.dtype = dtype_from_safetensors(v["dtype"].get<std::string>());
    } catch (const Error& err) {
      throw_bad_input(what + ": " + err.what());
    }
    if (!v["shape"].is_array()) throw_bad_input(what + ": shape is not a list");
    // `span` is the product of the non-zero sizes: LibTorch refuses a shape
    // whose sizes overflow int64 even when another size is 0.
    uint64_t numel = 1, span = c10::elementSize(e.dtype);
    for (const auto& d : v["shape"]) {
      if (!d.is_number_unsigned()) throw_bad_input(what + ": shape " + v["shape"].dump() + " is not a list of sizes");
      const uint64_t size = d.get<uint64_t>();
      if (size != 0 && (__builtin_mul_overflow(span, size, &span) || span > INT64_MAX))
        throw_bad_input(what + ": shape " + v["shape"].dump() + " is too large");
      e.shape.push_back(static_cast<int64_t>(size));
      numel *= size;
    }
    const auto& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw_bad_input(what + ": data_offsets must be [begin, end]");
    e.begin = off[0].get<uint64_t>();
    e.end = off[1].get<uint64_t>();
    if (e.begin > e.end) throw_bad_input(what + ": data_offsets " + off.dump() + " are reversed");
    if (e.end > data_size)
      throw_bad_input(what + ": data_offsets " + off.dump() + " overrun the data section of " +
                      std::to_string(data_size) + " bytes (truncated file?)");
    const uint64_t need = numel * c10::elementSize(e.dtype);
    if (e.end - e.begin != need)
      throw_bad_input(what + ": holds " + std::to_string(e.end - e.begin) + " bytes but " +
                      v["dtype"].get<std::string>() + " " + shape_text(e.shape) + " needs " + std::to_string(need));
    p.entries.push_back(std::move(e));
  }
  // The data section must be covered exactly: no overlaps, no holes.
  std::vector<const Entry*> order;
  for (const auto& e : p.entries) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t pos = 0;
  for (const Entry* e : order) {
    if (e->begin < pos) throw_bad_input(where + ", tensor '" + e->name + "': bytes overlap another tensor");
    if (e->begin > pos) throw_bad_input(where + ", tensor '" + e->name + "': unindexed bytes before it");
    pos = e->end;
  }
  if (pos != data_size)
    throw_bad_input(where + ": " + std::to_string(data_size - pos) + " trailing bytes not covered by any tensor");
  // Keep the header's order for the caller.
  std::sort(p.entries.begin(), p.entries.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  return p;
}

void read_into(std::ifstream& in, const fs::path& file, const Parsed& p, const Entry& e, torch::Tensor& dst) {
  in.seekg(static_cast<std::streamoff>(p.data_start + e.begin));
  in.read(static_cast<char*>(dst.data_ptr()), static_cast<std::streamsize>(e.end - e.begin));
  if (!in) throw_io("cannot read tensor '" + e.name + "' from " + file.string());
}

std::ifstream open(const fs::path& file, uint64_t& size) {
  std::error_code ec;
  size = fs::file_size(file, ec);
  if (ec) throw_io("cannot read safetensors file " + file.string() + ": " + ec.message());
  std::ifstream in(file, std::ios::binary);
  if (!in) throw_io("cannot open safetensors file " + file.string());
  return in;
}

}  // namespace

const torch::Tensor& SafeTensors::at(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return t;
  throw_bad_input("safetensors: no tensor named '" + name + "'");
}

std::string safetensors_dtype(torch::Dtype dtype) {
  for (const auto& d : kDtypes)
    if (d.dtype == dtype) return d.name;
  throw_bad_input(std::string("safetensors: unsupported dtype ") + c10::toString(dtype));
}

torch::Dtype dtype_from_safetensors(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return d.dtype;
  throw_bad_input("unknown safetensors dtype '" + name + "'");
}

void save_safetensors(const fs::path& file, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  // Data in name order: the same tensors always give the same bytes.
  std::vector<std::pair<std::string, torch::Tensor>> sorted;
  std::set<std::string> seen;
  for (const auto& [name, t] : tensors) {
    if (name.empty() || name == "__metadata__") throw_bad_input("safetensors: invalid tensor name '" + name + "'");
    if (!seen.insert(name).second) throw_bad_input("safetensors: tensor '" + name + "' given twice for " + file.string());
    if (!t.defined()) throw_bad_input("safetensors: tensor '" + name + "' is undefined");
    sorted.emplace_back(name, t.detach().to(torch::kCPU).contiguous());
  }
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });

  Json header = Json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : sorted) {
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * t.element_size();
    header[name] = {{"dtype", safetensors_dtype(t.scalar_type())},
                    {"shape", t.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // align the data to 8 bytes

  fs::path tmp = file;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw_io("cannot write " + tmp.string());
    uint64_t n = text.size();
    unsigned char len_bytes[8];
    for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>(n >> (8 * i));
    out.write(reinterpret_cast<const char*>(len_bytes), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& [name, t] : sorted)
      out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * t.element_size()));
    out.flush();
    if (!out) throw_io("failed writing " + tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, file, ec);
  if (ec) throw_io("cannot rename " + tmp.string() + " to " + file.string() + ": " + ec.message());
}

SafeTensors load_safetensors(const fs::path& file) {
  uint64_t size = 0;
  std::ifstream in = open(file, size);
  Parsed p = parse_header(in, file, size);
  SafeTensors out;
  out.metadata = p.metadata;
  for (const auto& e : p.entries) {
    torch::Tensor t = torch::empty(e.shape, torch::TensorOptions().dtype(e.dtype));
    read_into(in, file, p, e, t);
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

void load_safetensors_into(const fs::path& file, const NamedTensors& targets) {
  uint64_t size = 0;
  std::ifstream in = open(file, size);
  Parsed p = parse_header(in, file, size);
  const std::string where = "safetensors file " + file.string();

  std::map<std::string, const Entry*> by_name;
  for (const auto& e : p.entries) by_name[e.name] = &e;
  std::set<std::string> wanted;
  for (const auto& [name, t] : targets) wanted.insert(name);
  for (const auto& e : p.entries)
    if (!wanted.count(e.name))
      throw_bad_input(where + ": unknown tensor '" + e.name + "' (the model has no such parameter)");

  torch::NoGradGuard no_grad;
  for (const auto& [name, target] : targets) {
    auto it = by_name.find(name);
    if (it == by_name.end()) throw_bad_input(where + ": missing tensor '" + name + "'");
    const Entry& e = *it->second;
    if (e.dtype != target.scalar_type())
      throw_bad_input(where + ", tensor '" + name + "': dtype " + safetensors_dtype(e.dtype) +
                      " but the model expects " + safetensors_dtype(target.scalar_type()));
    if (e.shape != target.sizes().vec())
      throw_bad_input(where + ", tensor '" + name + "': shape " + shape_text(e.shape) + " but the model expects " +
                      shape_text(target.sizes().vec()));
    torch::Tensor cpu = torch::empty(e.shape, torch::TensorOptions().dtype(e.dtype));
    read_into(in, file, p, e, cpu);
    torch::Tensor dst = target;  // shares storage with the target
    dst.copy_(cpu);
  }
}

// ---- memory-mapped files and sharded checkpoints -----------------------------------

struct MappedSafeTensors::Impl {
  fs::path file;
  Parsed parsed;
  void* base = nullptr;
  size_t length = 0;
};

MappedSafeTensors::MappedSafeTensors(const fs::path& file) : impl_(std::make_unique<Impl>()) {
  impl_->file = file;
  uint64_t size = 0;
  {
    std::ifstream in = open(file, size);
    impl_->parsed = parse_header(in, file, size);
  }
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_io("cannot open safetensors file " + file.string());
  impl_->length = static_cast<size_t>(size);
  impl_->base = ::mmap(nullptr, impl_->length, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (impl_->base == MAP_FAILED) {
    impl_->base = nullptr;
    throw_io("cannot map safetensors file " + file.string() + " into memory");
  }
}

MappedSafeTensors::~MappedSafeTensors() {
  if (impl_ && impl_->base) ::munmap(impl_->base, impl_->length);
}

const fs::path& MappedSafeTensors::file() const { return impl_->file; }

std::vector<std::string> MappedSafeTensors::names() const {
  std::vector<std::string> out;
  for (const auto& e : impl_->parsed.entries) out.push_back(e.name);
  return out;
}

bool MappedSafeTensors::contains(const std::string& name) const {
  for (const auto& e : impl_->parsed.entries)
    if (e.name == name) return true;
  return false;
}

torch::Tensor MappedSafeTensors::tensor(const std::string& name) const {
  for (const auto& e : impl_->parsed.entries) {
    if (e.name != name) continue;
    // The mapping is read-only: the view is only ever a copy source.
    char* data = static_cast<char*>(impl_->base) + impl_->parsed.data_start + e.begin;
    return torch::from_blob(data, e.shape, torch::TensorOptions().dtype(e.dtype));
  }
  throw_bad_input("safetensors file " + impl_->file.string() + ": no tensor '" + name + "'");
}

namespace {

// Drops a copied tensor's pages of the mapping from the process: touched
// pages of a file mapping count in its RSS until unmapped, so a shard's
// pages would stay in it beside the loaded model (peak RSS 1.5x a 3B
// checkpoint's bytes instead of ~1.1x). The page cache keeps them; the
// mapping is read-only and private, so nothing is lost. Only whole pages
// inside the tensor go: a page shared with a neighbour stays mapped.
void release_pages(const torch::Tensor& src) {
  static const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(src.data_ptr());
  const uintptr_t first = (begin + page - 1) / page * page, last = (begin + src.nbytes()) / page * page;
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

}  // namespace

void load_checkpoint_into(const fs::path& dir, const NamedTensors& targets,
                          const std::function<std::string(const std::string&)>& rename) {
  const fs::path single = dir / "model.safetensors", index_file = dir / "model.safetensors.index.json";
  // checkpoint name -> shard file
  std::vector<std::pair<std::string, fs::path>> placement;
  if (fs::exists(index_file)) {
    Json index;
    try {
      index = Json::parse(read_file(index_file));
    } catch (const Json::exception& e) {
      throw_bad_input(index_file.string() + ": not valid JSON: " + e.what());
    }
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
      throw_bad_input(index_file.string() + ": no \"weight_map\" object");
    for (const auto& [name, shard] : index["weight_map"].items()) {
      if (!shard.is_string() || shard.get<std::string>().find('/') != std::string::npos)
        throw_bad_input(index_file.string() + ": weight_map entry '" + name + "' must be a file name in " + dir.string());
      placement.emplace_back(name, dir / shard.get<std::string>());
    }
  } else if (fs::exists(single)) {
    MappedSafeTensors file(single);
    for (const auto& name : file.names()) placement.emplace_back(name, single);
  } else {
    throw_io(dir.string() + ": neither model.safetensors nor model.safetensors.index.json");
  }

  std::map<std::string, torch::Tensor> wanted;
  for (const auto& [name, t] : targets) wanted[name] = t;
  std::map<fs::path, std::vector<std::pair<std::string, torch::Tensor>>> by_shard;
  std::set<std::string> seen;
  for (const auto& [name, shard] : placement) {
    const std::string target = rename ? rename(name) : name;
    if (target.empty()) continue;  // deliberately not loaded
    auto it = wanted.find(target);
    if (it == wanted.end())
      throw_bad_input(shard.string() + ": unknown tensor '" + name + "' (the model has no such parameter)");
    if (!seen.insert(target).second)
      throw_bad_input(shard.string() + ": tensor '" + name + "' maps onto '" + target + "', which another tensor also fills");
    by_shard[shard].emplace_back(name, it->second);
  }
  for (const auto& [name, t] : targets)
    if (!seen.count(name))
      throw_bad_input(dir.string() + ": missing tensor '" + name + "' (in no file of the checkpoint)");

  torch::NoGradGuard no_grad;
  for (const auto& [shard, entries] : by_shard) {
    if (!fs::exists(shard))
      throw_io(index_file.string() + " places tensor '" + entries.front().first + "' in " + shard.string() +
               ", which does not exist (missing shard)");
    MappedSafeTensors file(shard);
    for (const auto& [name, target] : entries) {
      if (!file.contains(name))
        throw_bad_input(shard.string() + ": lacks tensor '" + name + "', which " + index_file.filename().string() +
                        " places there");
      const torch::Tensor src = file.tensor(name);
      const bool convertible = src.is_floating_point() && target.is_floating_point();
      if (src.scalar_type() != target.scalar_type() && !convertible)
        throw_bad_input(shard.string() + ", tensor '" + name + "': dtype " + safetensors_dtype(src.scalar_type()) +
                        " but the model expects " + safetensors_dtype(target.scalar_type()));
      if (src.sizes() != target.sizes())
        throw_bad_input(shard.string() + ", tensor '" + name + "': shape " + shape_text(src.sizes().vec()) +
                        " but the model expects " + shape_text(target.sizes().vec()));
      torch::Tensor dst = target;  // shares storage with the target
      dst.copy_(src);
      release_pages(src);
    }
  }
}

}  // namespace mstar::ml
