#include "mstar/ml/checkpoint.h"

#include <ATen/autocast_mode.h>

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>

#include <torch/serialize.h>
#include <torch/torch.h>

#include "mstar/error.h"

namespace mstar::ml {

namespace fs = std::filesystem;

void save_optimizer(const torch::optim::Optimizer& optimizer, const fs::path& file) {
  fs::path tmp = file;
  tmp += ".tmp";
  try {
    torch::serialize::OutputArchive archive;
    optimizer.save(archive);
    archive.save_to(tmp.string());
  } catch (const c10::Error& e) {
    throw_io("cannot write optimizer state " + tmp.string() + ": " + e.what_without_backtrace());
  }
  std::error_code ec;
  fs::rename(tmp, file, ec);
  if (ec) throw_io("cannot rename " + tmp.string() + " to " + file.string() + ": " + ec.message());
}

void load_optimizer(torch::optim::Optimizer& optimizer, const fs::path& file) {
  if (!fs::exists(file)) throw_io("no optimizer state at " + file.string());
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(file.string());
  } catch (const c10::Error& e) {
    throw_io("cannot read optimizer state " + file.string() + ": " + e.what_without_backtrace());
  }
  try {
    optimizer.load(archive);
  } catch (const c10::Error& e) {
    throw_bad_input("optimizer state " + file.string() + " does not fit this optimizer: " + e.what_without_backtrace());
  }
}

void set_num_threads(int threads) {
  threads = std::max(1, threads);
  torch::set_num_threads(threads);
  // Looked up at run time: a LibTorch built on MKL or another BLAS has no such symbol.
  using SetThreads = void (*)(int);
  static const auto openblas = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (openblas) openblas(threads);
}

torch::Device parse_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  torch::Device device(torch::kCPU);
  try {
    device = torch::Device(name);
  } catch (const c10::Error&) {
    throw_bad_input("unknown device '" + name + "' (expected cpu, cuda, cuda:N or auto)");
  }
  // Said here, at the node's start, rather than by the first kernel launch
  // deep inside a forward pass.
  if (device.is_cuda()) {
    const int64_t count = torch::cuda::is_available() ? static_cast<int64_t>(torch::cuda::device_count()) : 0;
    const int64_t index = device.has_index() ? device.index() : 0;
    if (index >= count) {
      const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
      throw_bad_input("device '" + name + "': this node's process sees " + std::to_string(count) +
                      " usable CUDA device(s) (CUDA_VISIBLE_DEVICES=" + (visible ? visible : "unset") +
                      "); run it where its resources.gpus are, or use device: cpu or auto");
    }
  }
  return device;
}

torch::Dtype parse_dtype(const std::string& name) {
  if (name == "float32" || name == "float" || name == "fp32") return torch::kFloat32;
  if (name == "bfloat16" || name == "bf16") return torch::kBFloat16;
  if (name == "float16" || name == "half" || name == "fp16") return torch::kFloat16;
  if (name == "float64" || name == "double") return torch::kFloat64;
  throw_bad_input("unknown dtype '" + name + "' (expected float32, bfloat16 or float16)");
}

std::string dtype_name(torch::Dtype dtype) {
  switch (dtype) {
    case torch::kFloat32: return "float32";
    case torch::kBFloat16: return "bfloat16";
    case torch::kFloat16: return "float16";
    case torch::kFloat64: return "float64";
    default: return c10::toString(dtype);
  }
}

torch::Dtype parse_compute_dtype(const std::string& name, const std::string& key) {
  if (name == "float32") return torch::kFloat32;
  if (name == "bfloat16") return torch::kBFloat16;
  throw_bad_input(key + ": unknown dtype '" + name + "' (expected float32 or bfloat16)");
}

AutocastGuard::AutocastGuard(torch::Device device, torch::Dtype dtype) : type_(device.type()) {
  if (dtype == torch::kFloat32) return;
  active_ = true;
  was_enabled_ = at::autocast::is_autocast_enabled(type_);
  was_dtype_ = at::autocast::get_autocast_dtype(type_);
  was_caching_ = at::autocast::is_autocast_cache_enabled();
  // The cast-weight cache lives until the outermost autocast scope ends; a
  // guard around a whole training loop would keep serving the weights of
  // before the optimizer's steps. Casting again per use is cheap.
  at::autocast::set_autocast_cache_enabled(false);
  at::autocast::set_autocast_dtype(type_, dtype);
  at::autocast::set_autocast_enabled(type_, true);
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(type_, was_enabled_);
  at::autocast::set_autocast_dtype(type_, was_dtype_);
  at::autocast::set_autocast_cache_enabled(was_caching_);
}

}  // namespace mstar::ml
