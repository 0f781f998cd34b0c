// The GPUs this process may hand to its children, without CUDA (the host
// links no LibTorch and no CUDA runtime).
#pragma once

#include <string>
#include <vector>

namespace mstar {

// CUDA_VISIBLE_DEVICES' entries when it is set (ordinals or UUIDs, as
// given: a child's CUDA_VISIBLE_DEVICES names physical devices, not the
// parent's renumbered ones); otherwise "0".."N-1" for the N GPUs the NVIDIA
// driver lists in /proc/driver/nvidia/gpus; empty when there are none.
std::vector<std::string> visible_gpus();

// "0,1,3" -> {"0", "1", "3"}; throws Error(BadInput) naming `what` for an
// empty entry.
std::vector<std::string> parse_gpu_list(const std::string& text, const std::string& what);

}  // namespace mstar
