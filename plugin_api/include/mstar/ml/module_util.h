// Small pieces every Backbone implementation needs and would otherwise
// copy: the parameter copy behind clone(), and the token-id check at the
// top of forward(). Header-only, so that adding them changed no library.
#pragma once

#include <string>

#include <torch/torch.h>

#include "mstar/error.h"

namespace mstar::ml {

// Copies the values and requires_grad flags of `from`'s named parameters
// into the same-named parameters of `to`, which must have the same
// architecture (a freshly built twin, as in clone()). Call under
// torch::NoGradGuard.
inline void copy_parameters(const torch::nn::Module& from, torch::nn::Module& to) {
  auto dst = to.named_parameters();
  for (const auto& p : from.named_parameters()) {
    torch::Tensor* d = dst.find(p.key());
    if (!d) throw Error(ErrorCategory::Internal, "copy_parameters: no parameter " + p.key() + " in the copy");
    d->copy_(p.value());
    d->set_requires_grad(p.value().requires_grad());
  }
}

// User-reachable mistakes are errors, not asserts: an id past the
// vocabulary would otherwise crash inside the embedding lookup. `who`
// prefixes the message ("tiny_vlm").
inline void check_token_ids(const torch::Tensor& ids, int64_t vocab_size, const std::string& who) {
  if (!ids.defined() || ids.dim() != 2 || ids.scalar_type() != torch::kInt64)
    throw_bad_input(who + ": token_ids must be an int64 tensor [B,T]");
  if (ids.numel() == 0) throw_bad_input(who + ": empty batch");
  if (ids.min().item<int64_t>() < 0 || ids.max().item<int64_t>() >= vocab_size)
    throw_bad_input(who + ": token id outside the vocabulary of " + std::to_string(vocab_size));
}

}  // namespace mstar::ml
