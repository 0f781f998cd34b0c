#include "mstar/ml/distributed.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>

#include <torch/csrc/distributed/c10d/TCPStore.hpp>

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
  uint64_t sequence = 0;  // collectives so far: the same on every rank, so it names the next one
};

RankInfo rank_from_env() {
  RankInfo info;
  info.world_size = env_int("WORLD_SIZE", 1, 1, 1 << 16);
  if (info.world_size == 1) return info;
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
// Rank 0 serves the store: leaving before the others have read the last
// collective's keys would fail them. So the others say goodbye and rank 0
// waits for them (bounded by the timeout; skipped when an error is
// unwinding, where the launcher stops the ranks anyway).
ProcessGroup::~ProcessGroup() {
  if (size() == 1 || !impl_ || !impl_->store || std::uncaught_exceptions() > 0) return;
  try {
    if (!is_root()) {
      impl_->store->set("bye/" + std::to_string(rank()), std::vector<uint8_t>{});
      return;
    }
    std::vector<std::string> keys;
    for (int r = 1; r < size(); ++r) keys.push_back("bye/" + std::to_string(r));
    impl_->store->wait(keys);
  } catch (const std::exception&) {
    // a rank that is gone has nothing left to read
  }
}

std::unique_ptr<ProcessGroup> ProcessGroup::single() {
  return std::unique_ptr<ProcessGroup>(new ProcessGroup(RankInfo{}, std::make_unique<Impl>()));
}

std::unique_ptr<ProcessGroup> ProcessGroup::from_env(int expected_world_size, std::chrono::milliseconds timeout) {
  RankInfo info = rank_from_env();
  if (info.world_size != expected_world_size)
    throw_bad_input("world_size is " + std::to_string(expected_world_size) + " but this process was started as " +
                    (info.world_size == 1 ? std::string("a single process (WORLD_SIZE unset)")
                                          : "one of " + std::to_string(info.world_size) + " ranks") +
                    ": the launcher must start the ranks (the local launcher does; docs/algorithms.md)");
  if (info.world_size == 1) return single();
  auto impl = std::make_unique<Impl>();
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

std::vector<double> ProcessGroup::sum(const std::vector<double>& values) {
  if (size() == 1) return values;
  std::vector<char> mine(values.size() * sizeof(double));
  std::memcpy(mine.data(), values.data(), mine.size());
  const auto all = all_gather_bytes("sum of " + std::to_string(values.size()) + " scalars", mine);
  std::vector<double> out(values.size(), 0.0), part(values.size());
  for (const auto& bytes : all) {
    if (bytes.size() != mine.size()) throw Error(ErrorCategory::Internal, "ranks disagree on a collective's size");
    std::memcpy(part.data(), bytes.data(), bytes.size());
    for (size_t i = 0; i < out.size(); ++i) out[i] += part[i];
  }
  return out;
}

double ProcessGroup::max(double value) {
  if (size() == 1) return value;
  std::vector<char> mine(sizeof(double));
  std::memcpy(mine.data(), &value, sizeof value);
  double best = value;
  for (const auto& bytes : all_gather_bytes("max", mine)) {
    double v = 0;
    std::memcpy(&v, bytes.data(), sizeof v);
    best = std::max(best, v);
  }
  return best;
}

void ProcessGroup::sum_tensors(const std::vector<torch::Tensor>& tensors, size_t bucket_bytes) {
  if (size() == 1 || tensors.empty()) return;
  torch::NoGradGuard no_grad;
  size_t begin = 0;
  while (begin < tensors.size()) {
    // A bucket: consecutive tensors of one reduce type, up to bucket_bytes.
    const torch::ScalarType type = reduce_type(tensors[begin]);
    const size_t elem = type == torch::kFloat64 ? 8 : 4;
    size_t end = begin, bytes = 0;
    while (end < tensors.size() && reduce_type(tensors[end]) == type &&
           (end == begin || bytes + static_cast<size_t>(tensors[end].numel()) * elem <= bucket_bytes)) {
      bytes += static_cast<size_t>(tensors[end].numel()) * elem;
      ++end;
    }
    std::vector<torch::Tensor> flat;
    for (size_t i = begin; i < end; ++i) flat.push_back(tensors[i].detach().to(torch::kCPU, type).reshape({-1}));
    torch::Tensor bucket = torch::cat(flat).contiguous();
    std::vector<char> mine(bytes);
    std::memcpy(mine.data(), bucket.data_ptr(), bytes);
    const auto all = all_gather_bytes("gradient all-reduce (" + std::to_string(bytes) + " bytes)", mine);
    torch::Tensor total = torch::zeros_like(bucket);
    for (const auto& part : all) {
      if (part.size() != bytes) throw Error(ErrorCategory::Internal, "ranks disagree on a bucket's size");
      total += torch::from_blob(const_cast<char*>(part.data()), bucket.sizes(), bucket.options());
    }
    int64_t offset = 0;
    for (size_t i = begin; i < end; ++i) {
      const torch::Tensor& t = tensors[i];
      t.copy_(total.narrow(0, offset, t.numel()).view(t.sizes()));
      offset += t.numel();
    }
    begin = end;
  }
}

void ProcessGroup::broadcast(const std::vector<torch::Tensor>& tensors, int root) {
  if (size() == 1 || tensors.empty()) return;
  torch::NoGradGuard no_grad;
  std::vector<char> mine;
  std::vector<torch::Tensor> flat;
  for (const torch::Tensor& t : tensors) flat.push_back(t.detach().to(torch::kCPU).contiguous());
  if (rank() == root)
    for (const torch::Tensor& f : flat) {
      const auto* p = static_cast<const char*>(f.data_ptr());
      mine.insert(mine.end(), p, p + f.nbytes());
    }
  // Others send nothing: only the root's bytes travel (and are read).
  const auto all = all_gather_bytes("broadcast from rank " + std::to_string(root), mine);
  if (rank() == root) return;
  const std::vector<char>& bytes = all.at(static_cast<size_t>(root));
  size_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const size_t n = flat[i].nbytes();
    if (offset + n > bytes.size()) throw Error(ErrorCategory::Internal, "broadcast: ranks disagree on the tensors");
    std::memcpy(flat[i].data_ptr(), bytes.data() + offset, n);
    tensors[i].copy_(flat[i]);
    offset += n;
  }
}

void ProcessGroup::barrier() { all_gather_bytes("barrier", {}); }

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
