#include "distributed_c10d.h"

#include <cstdlib>

#include "mstar/error.h"

#ifdef MSTAR_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef MSTAR_WITH_NCCL
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace mstar::ml::detail {

bool gloo_compiled() {
#ifdef MSTAR_WITH_GLOO
  return true;
#else
  return false;
#endif
}

bool nccl_compiled() {
#ifdef MSTAR_WITH_NCCL
  return true;
#else
  return false;
#endif
}

c10::intrusive_ptr<c10d::Backend> make_gloo(const c10::intrusive_ptr<c10d::Store>& store, const RankInfo& info,
                                            std::chrono::milliseconds timeout) {
#ifdef MSTAR_WITH_GLOO
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
  if (info.master_addr == "127.0.0.1" || info.master_addr == "localhost")
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  else if (ifname && *ifname)
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
  else
    options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  // One worker thread: a rank's collectives run one at a time anyway, and
  // ranks already share the node's cores.
  options->threads = 1;
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, info.rank, info.world_size, options);
#else
  (void)store, (void)info, (void)timeout;
  throw Error(ErrorCategory::Internal, "Gloo is not compiled in");
#endif
}

c10::intrusive_ptr<c10d::Backend> make_nccl(const c10::intrusive_ptr<c10d::Store>& store, const RankInfo& info,
                                            std::chrono::milliseconds timeout) {
#ifdef MSTAR_WITH_NCCL
  const int devices = static_cast<int>(c10::cuda::device_count());
  if (devices == 0) throw_bad_input("transport nccl: this process sees no CUDA device");
  c10::cuda::set_device(static_cast<c10::DeviceIndex>(info.local_rank % devices));
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, info.rank, info.world_size, options);
#else
  (void)store, (void)info, (void)timeout;
  throw Error(ErrorCategory::Internal, "NCCL is not compiled in");
#endif
}

}  // namespace mstar::ml::detail
