// Gradient checkpointing for LibTorch's C++ frontend, which has no
// torch.utils.checkpoint: a block's forward runs without autograd (nothing
// saved but its input) and backward runs it again under autograd to get the
// gradients of the input and of the block's trainable parameters. The RNG
// state of the forward is restored for the recomputation, so dropout masks
// match. Only for calls without a KV cache (a cache write is not repeatable).
#pragma once

#include <functional>

#include <torch/torch.h>

namespace mstar::qwen2_5_vl {

// fn(x) computed with its activations recomputed in backward; `owner`'s
// parameters that require grad get their gradients. fn must capture what
// it needs by value (it runs again during backward). Without grad mode, or
// with nothing to differentiate, it is plain fn(x).
torch::Tensor checkpointed(std::function<torch::Tensor(const torch::Tensor&)> fn, const torch::Tensor& x,
                           const torch::nn::Module& owner);

}  // namespace mstar::qwen2_5_vl
