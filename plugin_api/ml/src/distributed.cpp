#include "mstar/ml/distributed.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "distributed_c10d.h"
#include "mstar/error.h"

namespace mstar::ml {

namespace {

int env_int(const char* name, int fallback, int lo, int hi) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  if (*end != '\0' || n < lo || n > hi)
    throw_bad_input(std::string("environment variable ") + name + "=" + v + ": expected an integer in [" +
                    std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return static_cast<int>(n);
}

[[noreturn]] void collective_failed(const std::string& what, const RankInfo& info, const std::exception& e) {
  throw Error(ErrorCategory::PluginFailure,
              "rank " + std::to_string(info.rank) + " of " + std::to_string(info.world_size) + ": " + what +
                  " failed (another rank died or is too slow?): " + e.what());
}

// fp64 stays fp64; every other floating type is reduced in fp32.
torch::ScalarType reduce_type(const torch::Tensor& t) {
  return t.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
}

}  // namespace

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::TCPStore> store;
  // Null where the store carries the collectives instead.
  c10::intrusive_ptr<c10d::Backend> gloo, nccl;
  std::chrono::milliseconds timeout{0};
  uint64_t sequence = 0;  // store collectives so far: the same on every rank, so it names the next one
};

Transport parse_transport(const std::string& name) {
  for (Transport t : {Transport::Auto, Transport::Store, Transport::Gloo, Transport::Nccl})
    if (name == transport_name(t)) return t;
  throw_bad_input("transport '" + name + "': expected auto, store, gloo or nccl");
}

const char* transport_name(Transport t) {
  switch (t) {
    case Transport::Store: return "store";
    case Transport::Gloo: return "gloo";
    case Transport::Nccl: return "nccl";
    default: return "auto";
  }
}

bool transport_available(Transport t) {
  if (t == Transport::Gloo) return detail::gloo_compiled();
  if (t == Transport::Nccl) return detail::nccl_compiled();
  return true;
}

Transport ProcessGroup::cpu_transport() const { return impl_->gloo ? Transport::Gloo : Transport::Store; }
Transport ProcessGroup::cuda_transport() const { return impl_->nccl ? Transport::Nccl : cpu_transport(); }

RankInfo rank_from_env() {
  RankInfo info;
  info.world_size = env_int("WORLD_SIZE", 1, 1, 1 << 16);
  if (info.world_size == 1) {
    // A group of one with a master: from_env with an explicit transport
    // still builds it (the GPU check runs NCCL on one GPU that way).
    const char* addr = std::getenv("MASTER_ADDR");
    info.master_addr = addr ? addr : "";
    info.master_port = env_int("MASTER_PORT", 0, 1, 65535);
    return info;
  }
  info.rank = env_int("RANK", -1, 0, info.world_size - 1);
  if (info.rank < 0) throw_bad_input("WORLD_SIZE is set but RANK is not");
  info.local_rank = env_int("LOCAL_RANK", info.rank, 0, 1 << 16);
  const char* addr = std::getenv("MASTER_ADDR");
  if (!addr || !*addr) throw_bad_input("WORLD_SIZE > 1 needs MASTER_ADDR (the address of rank 0)");
  info.master_addr = addr;
  info.master_port = env_int("MASTER_PORT", -1, 1, 65535);
  if (info.master_port < 0) throw_bad_input("WORLD_SIZE > 1 needs MASTER_PORT");
  return info;
}

ProcessGroup::ProcessGroup(RankInfo info, std::unique_ptr<Impl> impl) : info_(std::move(info)), impl_(std::move(impl)) {}
// Rank 0 serves the store, and a rank's transport may still be sending its
// last bytes when its collective returns: no rank tears down before every
// rank has finished (bounded by the timeout; skipped when an error is
// unwinding, where the launcher stops the ranks anyway).
ProcessGroup::~ProcessGroup() {
  if (!impl_ || !impl_->store || std::uncaught_exceptions() > 0) return;
  try {
    if (impl_->store->add("bye", 1) == size()) impl_->store->set("bye/all", std::vector<uint8_t>{});
    impl_->store->wait({"bye/all"});
  } catch (const std::exception&) {
    // a rank that is gone has nothing left to read
  }
  impl_->nccl.reset();
  impl_->gloo.reset();
}

std::unique_ptr<ProcessGroup> ProcessGroup::single() {
  return std::unique_ptr<ProcessGroup>(new ProcessGroup(RankInfo{}, std::make_unique<Impl>()));
}

std::unique_ptr<ProcessGroup> ProcessGroup::from_env(int expected_world_size, std::chrono::milliseconds timeout,
                                                     Transport transport) {
  if (!transport_available(transport))
    throw_bad_input(std::string("transport ") + transport_name(transport) + ": this build of mstar has no " +
                    (transport == Transport::Gloo ? "Gloo (configure with libgloo-dev installed)"
                                                  : "NCCL (needs a CUDA LibTorch and nccl.h at configure time)") +
                    "; docs/scaling.md");
  RankInfo info = rank_from_env();
  if (info.world_size != expected_world_size)
    throw_bad_input("world_size is " + std::to_string(expected_world_size) + " but this process was started as " +
                    (info.world_size == 1 ? std::string("a single process (WORLD_SIZE unset)")
                                          : "one of " + std::to_string(info.world_size) + " ranks") +
                    ": the launcher must start the ranks (the local launcher does; docs/algorithms.md)");
  if (info.world_size == 1 && (transport == Transport::Auto || transport == Transport::Store ||
                               info.master_addr.empty() || info.master_port == 0))
    return single();
  auto impl = std::make_unique<Impl>();
  impl->timeout = timeout;
  c10d::TCPStoreOptions opts;
  opts.port = static_cast<uint16_t>(info.master_port);
  opts.isServer = info.rank == 0;
  opts.numWorkers = static_cast<size_t>(info.world_size);
  opts.waitWorkers = true;
  opts.timeout = timeout;
  try {
    impl->store = c10::make_intrusive<c10d::TCPStore>(info.master_addr, opts);
  } catch (const std::exception& e) {
    collective_failed("joining the group at " + info.master_addr + ":" + std::to_string(info.master_port), info, e);
  }
  // Every rank takes the same branches (the node's params and build are
  // the same), so each backend's rendezvous finds all ranks.
  const bool gloo = transport == Transport::Gloo || (transport != Transport::Store && detail::gloo_compiled());
  const bool nccl = transport == Transport::Nccl ||
                    (transport == Transport::Auto && detail::nccl_compiled() && torch::cuda::is_available());
  try {
    if (gloo) impl->gloo = detail::make_gloo(c10::make_intrusive<c10d::PrefixStore>("gloo", impl->store), info, timeout);
    if (nccl) impl->nccl = detail::make_nccl(c10::make_intrusive<c10d::PrefixStore>("nccl", impl->store), info, timeout);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    collective_failed(std::string("connecting ") + (gloo ? "Gloo" : "NCCL"), info, e);
  }
  return std::unique_ptr<ProcessGroup>(new ProcessGroup(std::move(info), std::move(impl)));
}

// Every rank's bytes, in rank order. A contribution travels in chunks
// (the store's libuv server refuses values over 8 MiB) under
// "c<seq>/<rank>/<chunk>", their count under "c<seq>/<rank>". The last rank
// to read a collective's keys deletes them, so the store holds at most a few
// collectives' data.
std::vector<std::vector<char>> ProcessGroup::all_gather_bytes(const std::string& what, const std::vector<char>& mine) {
  if (size() == 1) return {mine};
  constexpr size_t kChunk = size_t{4} << 20;
  const std::string prefix = "c" + std::to_string(impl_->sequence++) + "/";
  const auto key = [&](int r) { return prefix + std::to_string(r); };
  const auto chunk_key = [&](int r, size_t i) { return key(r) + "/" + std::to_string(i); };
  std::vector<std::vector<char>> all(static_cast<size_t>(size()));
  try {
    c10d::TCPStore& store = *impl_->store;
    const size_t chunks = (mine.size() + kChunk - 1) / kChunk;
    for (size_t i = 0; i < chunks; ++i) {
      const auto* p = reinterpret_cast<const uint8_t*>(mine.data()) + i * kChunk;
      store.set(chunk_key(rank(), i), std::vector<uint8_t>(p, p + std::min(kChunk, mine.size() - i * kChunk)));
    }
    const std::string count = std::to_string(chunks);
    store.set(key(rank()), std::vector<uint8_t>(count.begin(), count.end()));  // last: the chunks are there
    // One request per step (multiGet waits for its keys as get does).
    std::vector<std::string> count_keys;
    std::vector<int> others;
    for (int r = 0; r < size(); ++r)
      if (r != rank()) count_keys.push_back(key(r)), others.push_back(r);
    const std::vector<std::vector<uint8_t>> counts = store.multiGet(count_keys);
    std::vector<std::string> data_keys, to_delete = {prefix + "read"};
    std::vector<size_t> per_rank;
    for (size_t j = 0; j < others.size(); ++j) {
      const size_t n = std::stoul(std::string(counts[j].begin(), counts[j].end()));
      per_rank.push_back(n);
      for (size_t i = 0; i < n; ++i) data_keys.push_back(chunk_key(others[j], i));
    }
    const std::vector<std::vector<uint8_t>> data = data_keys.empty() ? std::vector<std::vector<uint8_t>>{}
                                                                      : store.multiGet(data_keys);
    all[static_cast<size_t>(rank())] = mine;
    size_t at = 0;
    for (size_t j = 0; j < others.size(); ++j) {
      std::vector<char>& out = all[static_cast<size_t>(others[j])];
      for (size_t i = 0; i < per_rank[j]; ++i, ++at) out.insert(out.end(), data[at].begin(), data[at].end());
    }
    if (store.add(prefix + "read", 1) == size()) {
      for (int r = 0; r < size(); ++r) {
        to_delete.push_back(key(r));
        const size_t n = r == rank() ? chunks : per_rank[static_cast<size_t>(r < rank() ? r : r - 1)];
        for (size_t i = 0; i < n; ++i) to_delete.push_back(chunk_key(r, i));
      }
      for (const std::string& k : to_delete) store.deleteKey(k);
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    collective_failed(what, info_, e);
  }
  return all;
}

namespace {

void wait(const c10::intrusive_ptr<c10d::Work>& work, std::chrono::milliseconds timeout) {
  if (!work->wait(timeout)) throw std::runtime_error("timed out after " + std::to_string(timeout.count()) + " ms");
}

// Issues one collective on `flat` through NCCL (where `flat` is on the GPU
// and NCCL is up) or Gloo, and copies a CPU result back to `flat`'s device.
// False when neither backend is up: the caller falls back to the store.
template <typename Issue>
bool on_backend(ProcessGroup::Impl& impl, const RankInfo& info, torch::Tensor& flat, const std::string& what,
                const Issue& issue) {
  try {
    const c10::intrusive_ptr<c10d::Backend>& backend = flat.is_cuda() && impl.nccl ? impl.nccl : impl.gloo;
    if (!backend) return false;
    torch::Tensor t = backend == impl.nccl ? flat : flat.to(torch::kCPU);
    std::vector<at::Tensor> tensors{t};
    wait(issue(*backend, tensors), impl.timeout);
    if (!t.is_same(flat)) flat.copy_(t);
    return true;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    collective_failed(what, info, e);
  }
}

}  // namespace

// `flat`: contiguous, one dtype. NCCL takes it where it is on the GPU; Gloo
// and the store on the CPU.
void ProcessGroup::reduce_flat(torch::Tensor& flat, bool max, const std::string& what) {
  const bool done = on_backend(*impl_, info_, flat, what, [&](c10d::Backend& backend, std::vector<at::Tensor>& t) {
    c10d::AllreduceOptions opts;
    opts.reduceOp = max ? c10d::ReduceOp::MAX : c10d::ReduceOp::SUM;
    opts.timeout = impl_->timeout;
    return backend.allreduce(t, opts);
  });
  if (done) return;
  const torch::Tensor cpu = flat.to(torch::kCPU).contiguous();
  std::vector<char> mine(cpu.nbytes());
  std::memcpy(mine.data(), cpu.data_ptr(), mine.size());
  const auto all = all_gather_bytes(what, mine);
  torch::Tensor total;
  for (const auto& part : all) {
    if (part.size() != mine.size()) throw Error(ErrorCategory::Internal, "ranks disagree on the size of a " + what);
    const torch::Tensor p = torch::from_blob(const_cast<char*>(part.data()), cpu.sizes(), cpu.options());
    total = !total.defined() ? p.clone() : max ? torch::maximum(total, p) : total + p;
  }
  flat.copy_(total);
}

// `flat`: contiguous bytes (kUInt8).
void ProcessGroup::broadcast_flat(torch::Tensor& flat, int root, const std::string& what) {
  const bool done = on_backend(*impl_, info_, flat, what, [&](c10d::Backend& backend, std::vector<at::Tensor>& t) {
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    opts.timeout = impl_->timeout;
    return backend.broadcast(t, opts);
  });
  if (done) return;
  // Others send nothing: only the root's bytes travel (and are read).
  std::vector<char> mine;
  const torch::Tensor cpu = flat.to(torch::kCPU).contiguous();
  if (rank() == root) mine.assign(static_cast<const char*>(cpu.data_ptr()), static_cast<const char*>(cpu.data_ptr()) + cpu.nbytes());
  const auto all = all_gather_bytes(what, mine);
  if (rank() == root) return;
  const std::vector<char>& bytes = all.at(static_cast<size_t>(root));
  if (bytes.size() != cpu.nbytes()) throw Error(ErrorCategory::Internal, "ranks disagree on the size of a " + what);
  flat.copy_(torch::from_blob(const_cast<char*>(bytes.data()), cpu.sizes(), cpu.options()));
}

std::vector<double> ProcessGroup::sum(const std::vector<double>& values) {
  if (!impl_->store) return values;
  torch::Tensor t = torch::tensor(c10::ArrayRef<double>(values), torch::kFloat64);
  reduce_flat(t, false, "sum of " + std::to_string(values.size()) + " scalars");
  return {t.data_ptr<double>(), t.data_ptr<double>() + values.size()};
}

double ProcessGroup::max(double value) {
  if (!impl_->store) return value;
  torch::Tensor t = torch::tensor({value}, torch::kFloat64);
  reduce_flat(t, true, "max");
  return t.item<double>();
}

void ProcessGroup::sum_tensors(const std::vector<torch::Tensor>& tensors, size_t bucket_bytes) {
  if (!impl_->store || tensors.empty()) return;
  torch::NoGradGuard no_grad;
  // NCCL reduces where the tensors are; the others on the CPU.
  const auto device = [&](const torch::Tensor& t) { return t.is_cuda() && impl_->nccl ? t.device() : torch::kCPU; };
  size_t begin = 0;
  while (begin < tensors.size()) {
    // A bucket: consecutive tensors of one reduce type and device, up to bucket_bytes.
    const torch::ScalarType type = reduce_type(tensors[begin]);
    const torch::Device where = device(tensors[begin]);
    const size_t elem = type == torch::kFloat64 ? 8 : 4;
    size_t end = begin, bytes = 0;
    while (end < tensors.size() && reduce_type(tensors[end]) == type && device(tensors[end]) == where &&
           (end == begin || bytes + static_cast<size_t>(tensors[end].numel()) * elem <= bucket_bytes)) {
      bytes += static_cast<size_t>(tensors[end].numel()) * elem;
      ++end;
    }
    std::vector<torch::Tensor> flat;
    for (size_t i = begin; i < end; ++i) flat.push_back(tensors[i].detach().to(where, type).reshape({-1}));
    torch::Tensor bucket = torch::cat(flat).contiguous();
    reduce_flat(bucket, false, "gradient all-reduce (" + std::to_string(bytes) + " bytes)");
    int64_t offset = 0;
    for (size_t i = begin; i < end; ++i) {
      const torch::Tensor& t = tensors[i];
      t.copy_(bucket.narrow(0, offset, t.numel()).view(t.sizes()));
      offset += t.numel();
    }
    begin = end;
  }
}

// One collective of all the tensors' bytes (NCCL: when they are all on one GPU).
void ProcessGroup::broadcast(const std::vector<torch::Tensor>& tensors, int root) {
  if (!impl_->store || tensors.empty()) return;
  torch::NoGradGuard no_grad;
  torch::Device where = tensors[0].is_cuda() && impl_->nccl ? tensors[0].device() : torch::kCPU;
  for (const torch::Tensor& t : tensors)
    if (t.device() != where) where = torch::kCPU;
  std::vector<torch::Tensor> bytes;
  for (const torch::Tensor& t : tensors)
    bytes.push_back(t.detach().to(where).contiguous().reshape({-1}).view(torch::kUInt8));
  torch::Tensor flat = torch::cat(bytes);
  broadcast_flat(flat, root, "broadcast from rank " + std::to_string(root));
  if (rank() == root) return;
  int64_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const int64_t n = bytes[i].numel();
    // clone: a slice's offset need not be aligned for the wider dtype.
    tensors[i].copy_(flat.narrow(0, offset, n).clone().view(tensors[i].scalar_type()).view(tensors[i].sizes()));
    offset += n;
  }
}

void ProcessGroup::barrier() {
  if (!impl_->store) return;
  if (!impl_->gloo) {
    all_gather_bytes("barrier", {});
    return;
  }
  try {
    c10d::BarrierOptions opts;
    opts.timeout = impl_->timeout;
    wait(impl_->gloo->barrier(opts), impl_->timeout);
  } catch (const std::exception& e) {
    collective_failed("barrier", info_, e);
  }
}

void all_reduce_gradients(ProcessGroup& group, const std::vector<torch::Tensor>& parameters) {
  if (group.size() == 1) return;
  std::vector<torch::Tensor> grads;
  for (const torch::Tensor& p : parameters) {
    torch::Tensor& g = p.mutable_grad();
    if (!g.defined()) g = torch::zeros_like(p);
    grads.push_back(g);
  }
  group.sum_tensors(grads);
}

void broadcast_parameters(ProcessGroup& group, const std::vector<torch::Tensor>& parameters) {
  group.broadcast(parameters, 0);
}

}  // namespace mstar::ml
