// The c10d backends behind ProcessGroup (distributed_c10d.cpp): built in a
// translation unit of their own because their headers need USE_C10D_GLOO /
// USE_C10D_NCCL, Debian's gloo headers and nccl.h; the implementations are
// the ones inside LibTorch (Debian's libgloo is never linked: two glooes in
// one process would clash).
#pragma once

#include <chrono>

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include "mstar/ml/distributed.h"

namespace mstar::ml::detail {

bool gloo_compiled();
bool nccl_compiled();

// Rank `info.rank`'s end of a group meeting through `store` (a prefix of
// the group's TCPStore). Gloo binds to the loopback when the master is on
// it, else to the interface GLOO_SOCKET_IFNAME names, else to the address
// this machine's hostname resolves to.
c10::intrusive_ptr<c10d::Backend> make_gloo(const c10::intrusive_ptr<c10d::Store>& store, const RankInfo& info,
                                            std::chrono::milliseconds timeout);
// NCCL on the GPU LOCAL_RANK picks (modulo the GPUs this process sees).
c10::intrusive_ptr<c10d::Backend> make_nccl(const c10::intrusive_ptr<c10d::Store>& store, const RankInfo& info,
                                            std::chrono::milliseconds timeout);

}  // namespace mstar::ml::detail
