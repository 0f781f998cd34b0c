// safetensors: 8-byte little-endian header length N, N bytes of JSON header
// ({"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
// "__metadata__": {"k": "v"}}), then the raw little-endian tensor bytes,
// offsets relative to the end of the header. The reader checks everything
// before it trusts a number and names the file (and tensor) in each error:
// truncated files, header overruns, unknown dtypes, byte counts that do not
// match dtype x shape, overlapping or unindexed bytes.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

namespace mstar::ml {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

struct SafeTensors {
  NamedTensors tensors;  // in file order
  std::map<std::string, std::string> metadata;

  // Throws Error(BadInput) naming the tensor when absent.
  const torch::Tensor& at(const std::string& name) const;
};

// Supported dtypes: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL.
std::string safetensors_dtype(torch::Dtype dtype);
torch::Dtype dtype_from_safetensors(const std::string& name);  // throws BadInput

// Writes atomically (temporary file + rename). Tensors may live on any
// device; names must be unique.
void save_safetensors(const std::filesystem::path& file, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads every tensor into CPU memory. Throws Error(BadInput) for a corrupt
// file, Error(Io) when it cannot be read.
SafeTensors load_safetensors(const std::filesystem::path& file);

// Copies the file's tensors into `targets` (for instance a module's
// parameters), in place and without autograd. Strict: each target must be
// present with the same dtype and shape, and the file must hold no other
// tensor; otherwise Error(BadInput) naming the file and the tensor.
void load_safetensors_into(const std::filesystem::path& file, const NamedTensors& targets);

// A safetensors file mapped into memory (read-only, validated as
// load_safetensors() validates). tensor() is a CPU view of the mapping, no
// copy, valid while this object lives: loading a large checkpoint this way
// holds one converted tensor at a time rather than the whole file.
class MappedSafeTensors {
 public:
  explicit MappedSafeTensors(const std::filesystem::path& file);
  ~MappedSafeTensors();
  MappedSafeTensors(const MappedSafeTensors&) = delete;
  MappedSafeTensors& operator=(const MappedSafeTensors&) = delete;
  const std::filesystem::path& file() const;
  std::vector<std::string> names() const;  // in file order
  bool contains(const std::string& name) const;
  // Throws Error(BadInput) naming the file and the tensor when absent.
  torch::Tensor tensor(const std::string& name) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Hugging Face weights in `dir`: model.safetensors, or the shards that
// model.safetensors.index.json maps names to. Copied into `targets` (any
// dtype and device: a floating-point tensor converts to the target's
// floating dtype, other dtypes must match), one tensor at a time. `rename`
// maps a checkpoint name onto a target name (identity when not given; an
// empty result skips the tensor). Strict:
// a missing shard, a tensor the index places in a shard that lacks it, an
// unknown or missing tensor, a shape or dtype mismatch and a corrupt file
// are Error(BadInput) naming the file and the tensor.
void load_checkpoint_into(const std::filesystem::path& dir, const NamedTensors& targets,
                          const std::function<std::string(const std::string&)>& rename = {});

}  // namespace mstar::ml
