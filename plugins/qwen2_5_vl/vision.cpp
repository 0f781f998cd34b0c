// The vision tower: patches (the Conv3d as one matmul), window attention
// with full attention at fullatt_block_indexes, 2D rotary, RMSNorm, gated
// MLP with biases, and the 2x2 patch merger. Tokens are reordered into
// window order once before the blocks (groups of merge x merge patches stay
// together) and restored after the merger, as transformers does.
#include "mstar/error.h"
#include "qwen2_5_vl.h"
#include "checkpoint.h"
#include "lora.h"

namespace mstar::qwen2_5_vl {

RMSNormImpl::RMSNormImpl(int64_t dim, double eps_, const torch::TensorOptions& options) : eps(eps_) {
  weight = register_parameter("weight", torch::empty({dim}, options));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  const torch::Tensor h = x.to(torch::kFloat32);
  const torch::Tensor normed = h * torch::rsqrt(h.pow(2).mean(-1, true) + eps);
  return weight * normed.to(x.scalar_type());
}

LinearImpl::LinearImpl(int64_t in, int64_t out, bool with_bias, const torch::TensorOptions& options) {
  weight = register_parameter("weight", torch::empty({out, in}, options));
  if (with_bias) bias = register_parameter("bias", torch::empty({out}, options));
}

torch::Tensor LinearImpl::forward(const torch::Tensor& x) {
  const torch::Tensor y = torch::nn::functional::linear(x, weight, bias);
  return adapter ? y + lora_delta(*adapter, x, is_training()) : y;
}

GatedMlpImpl::GatedMlpImpl(int64_t dim, int64_t hidden, bool bias, const torch::TensorOptions& options) {
  gate_proj = register_module("gate_proj", Linear(dim, hidden, bias, options));
  up_proj = register_module("up_proj", Linear(dim, hidden, bias, options));
  down_proj = register_module("down_proj", Linear(hidden, dim, bias, options));
}

torch::Tensor GatedMlpImpl::forward(const torch::Tensor& x) {
  return down_proj(torch::silu(gate_proj(x)) * up_proj(x));
}

VisionBlockImpl::VisionBlockImpl(const VisionConfig& v, const torch::TensorOptions& options) : heads(v.heads) {
  norm1 = register_module("norm1", RMSNorm(v.hidden, 1e-6, options));
  norm2 = register_module("norm2", RMSNorm(v.hidden, 1e-6, options));
  auto attn = register_module("attn", std::make_shared<torch::nn::Module>());
  qkv = attn->register_module("qkv", Linear(v.hidden, 3 * v.hidden, true, options));
  proj = attn->register_module("proj", Linear(v.hidden, v.hidden, true, options));
  mlp = register_module("mlp", GatedMlp(v.hidden, v.intermediate, true, options));
}

torch::Tensor VisionBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                                       const std::vector<int64_t>& cu_seqlens) {
  const int64_t n = x.size(0);
  // [N, 3, H, hd] -> q, k, v [N, H, hd]
  const auto qkv_parts = qkv(norm1(x)).reshape({n, 3, heads, -1}).permute({1, 0, 2, 3}).unbind(0);
  const torch::Tensor c = cos.unsqueeze(-2), s = sin.unsqueeze(-2);
  const torch::Tensor qf = qkv_parts[0].to(torch::kFloat32), kf = qkv_parts[1].to(torch::kFloat32);
  const torch::Tensor q = (qf * c + rotate_half(qf) * s).to(x.scalar_type()).transpose(0, 1).unsqueeze(0);
  const torch::Tensor k = (kf * c + rotate_half(kf) * s).to(x.scalar_type()).transpose(0, 1).unsqueeze(0);
  const torch::Tensor v = qkv_parts[2].transpose(0, 1).unsqueeze(0);
  std::vector<torch::Tensor> outs;
  for (size_t i = 0; i + 1 < cu_seqlens.size(); ++i) {
    const int64_t start = cu_seqlens[i], len = cu_seqlens[i + 1] - cu_seqlens[i];
    outs.push_back(at::scaled_dot_product_attention(q.narrow(2, start, len), k.narrow(2, start, len),
                                                    v.narrow(2, start, len)));
  }
  // [1, H, N, hd] -> [N, H*hd]
  const torch::Tensor attn = torch::cat(outs, 2).squeeze(0).transpose(0, 1).reshape({n, -1});
  const torch::Tensor h = x + proj(attn);
  return h + mlp(norm2(h));
}

VisionImpl::VisionImpl(const VisionConfig& v, const torch::TensorOptions& options) : config(v) {
  auto patch_embed = register_module("patch_embed", std::make_shared<torch::nn::Module>());
  auto proj = patch_embed->register_module("proj", std::make_shared<torch::nn::Module>());
  patch_weight = proj->register_parameter("weight", torch::empty({v.hidden, v.in_channels, v.temporal_patch, v.patch, v.patch}, options));
  auto list = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < v.depth; ++i) {
    blocks.push_back(VisionBlock(v, options));
    list->push_back(blocks.back());
  }
  const int64_t merged = v.hidden * v.merge * v.merge;
  auto merger = register_module("merger", std::make_shared<torch::nn::Module>());
  ln_q = merger->register_module("ln_q", RMSNorm(v.hidden, 1e-6, options));
  auto mlp = merger->register_module("mlp", std::make_shared<torch::nn::Module>());
  mlp0 = mlp->register_module("0", Linear(merged, merged, true, options));
  mlp2 = mlp->register_module("2", Linear(merged, v.out_hidden, true, options));
}

torch::Tensor VisionImpl::forward(const torch::Tensor& pixel_values, const torch::Tensor& grid_thw) {
  const VisionConfig& v = config;
  const torch::Device dev = patch_weight.device();
  const torch::Dtype dtype = patch_weight.scalar_type();
  if (pixel_values.dim() != 2 || pixel_values.size(1) != v.patch_dim())
    throw_bad_input("qwen2_5_vl: pixel_values must be [patches, " + std::to_string(v.patch_dim()) + "]");
  const torch::Tensor g = grid_thw.to(torch::kCPU);
  const int64_t n = pixel_values.size(0), unit = v.merge * v.merge;
  if ((g.select(1, 0) * g.select(1, 1) * g.select(1, 2)).sum().item<int64_t>() != n)
    throw_bad_input("qwen2_5_vl: image_grid_thw counts a different number of patches than pixel_values has (" +
                    std::to_string(n) + ")");

  torch::Tensor x = torch::matmul(pixel_values.to(dev, dtype), patch_weight.view({v.hidden, -1}).t());

  const auto [windows, cu_window] = window_index(g, v);
  const std::vector<int64_t> cu_full = frame_cu_seqlens(g);
  const torch::Tensor order = windows.to(dev);
  auto permute = [&](const torch::Tensor& t) { return t.reshape({n / unit, unit, -1}).index_select(0, order).reshape({n, -1}); };
  x = permute(x);

  // 2D rotary: half of each rotation pair from the row, half from the column.
  const int64_t spatial = v.head_dim() / 2;
  const torch::Tensor inv_freq =
      1.0 / torch::pow(v.rope_theta, torch::arange(0, spatial, 2, torch::kFloat32) / static_cast<double>(spatial));
  const torch::Tensor freqs = vision_position_ids(g, v.merge).to(torch::kFloat32).unsqueeze(-1) * inv_freq;  // [N,2,F]
  auto layout = [&](const torch::Tensor& f) {
    const torch::Tensor hw = torch::cat({f.select(1, 0), f.select(1, 1)}, -1);
    return permute(torch::cat({hw, hw}, -1).to(dev));
  };
  const torch::Tensor cos = layout(freqs.cos()), sin = layout(freqs.sin());

  for (int64_t i = 0; i < v.depth; ++i) {
    const bool full = std::find(v.fullatt_blocks.begin(), v.fullatt_blocks.end(), i) != v.fullatt_blocks.end();
    VisionBlock block = blocks[static_cast<size_t>(i)];
    const std::vector<int64_t>& cu = full ? cu_full : cu_window;
    if (!checkpointing) {
      x = block->forward(x, cos, sin, cu);
      continue;
    }
    x = checkpointed([block, cos, sin, cu](const torch::Tensor& in) mutable { return block->forward(in, cos, sin, cu); },
                     x, *block);
  }
  x = ln_q(x).view({n / unit, -1});
  x = mlp2(torch::gelu(mlp0(x)));
  return x.index_select(0, torch::argsort(order));
}

}  // namespace mstar::qwen2_5_vl
