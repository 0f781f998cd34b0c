// A fused CPU kernel for tiny_vlm's RMSNorm. At these widths
// (64-256) a training step spends as long in element-wise work as in its
// matmuls, and RMSNorm as ATen composes it (pow, mean, add, rsqrt, mul,
// mul, and as many again backward) reads and writes the whole activation
// a dozen times: here it is one pass forward and one backward, parallel
// over rows. Float32 CPU tensors take the fused path; anything else (GPU,
// bfloat16, autocast) the composite one. SwiGLU's silu(gate) * up was fused
// the same way and measured slower than ATen's two ops: its exp is scalar
// here, vectorised (AVX2/AVX-512 builds of each kernel) in ATen.
#include <cmath>
#include <vector>

#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include "tiny_vlm.h"

namespace mstar::tiny_vlm {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// Rows per task: enough work per task to pay for the scheduling.
int64_t grain(int64_t width) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, width)); }

float row_rstd(const float* x, int64_t d, double eps) {
  float ss = 0;
#pragma omp simd reduction(+ : ss)
  for (int64_t j = 0; j < d; ++j) ss += x[j] * x[j];
  return static_cast<float>(1.0 / std::sqrt(static_cast<double>(ss) / static_cast<double>(d) + eps));
}

// y = x * rstd * w row by row; rstd [rows] comes out for the backward pass.
torch::Tensor rms_norm_rows(const torch::Tensor& x, const torch::Tensor& w, double eps, torch::Tensor& rstd) {
  const int64_t d = x.size(-1), n = x.numel() / d;
  torch::Tensor y = torch::empty_like(x);
  rstd = torch::empty({n}, x.options());
  const float* xp = x.data_ptr<float>();
  const float* wp = w.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  float* rp = rstd.data_ptr<float>();
  at::parallel_for(0, n, grain(d), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float* xr = xp + i * d;
      float* yr = yp + i * d;
      const float r = row_rstd(xr, d, eps);
      rp[i] = r;
#pragma omp simd
      for (int64_t j = 0; j < d; ++j) yr[j] = xr[j] * r * wp[j];
    }
  });
  return y;
}

class RmsNormFunction : public torch::autograd::Function<RmsNormFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& input, const torch::Tensor& weight, double eps) {
    torch::Tensor x = input.contiguous(), w = weight.contiguous(), rstd;
    torch::Tensor y = rms_norm_rows(x, w, eps, rstd);
    ctx->save_for_backward({x, w, rstd});
    return y;
  }

  // y = x r w with r = (mean(x^2) + eps)^-1/2:
  //   dx = r (g w - x r^2 mean(g w x)),  dw = sum over rows of g x r.
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &x = saved[0], &w = saved[1], &rstd = saved[2];
    torch::Tensor g = grads[0].contiguous();
    const int64_t d = x.size(-1), n = x.numel() / d;
    torch::Tensor dx = torch::empty_like(x);
    const int threads = at::get_num_threads();
    torch::Tensor dw_parts = torch::zeros({threads, d}, x.options());
    const float *xp = x.data_ptr<float>(), *wp = w.data_ptr<float>(), *rp = rstd.data_ptr<float>();
    const float* gp = g.data_ptr<float>();
    float* dxp = dx.data_ptr<float>();
    float* dwp = dw_parts.data_ptr<float>();
    at::parallel_for(0, n, grain(d), [&](int64_t begin, int64_t end) {
      float* dw = dwp + at::get_thread_num() * d;
      for (int64_t i = begin; i < end; ++i) {
        const float* xr = xp + i * d;
        const float* gr = gp + i * d;
        float* dxr = dxp + i * d;
        const float r = rp[i];
        float dot = 0;
#pragma omp simd reduction(+ : dot)
        for (int64_t j = 0; j < d; ++j) dot += gr[j] * wp[j] * xr[j];
        const float c = r * r * r * dot / static_cast<float>(d);
#pragma omp simd
        for (int64_t j = 0; j < d; ++j) {
          dxr[j] = r * gr[j] * wp[j] - c * xr[j];
          dw[j] += gr[j] * xr[j] * r;
        }
      }
    });
    return {dx.view(grads[0].sizes()), dw_parts.sum(0), torch::Tensor()};
  }
};

// Float32 on the CPU, outside autocast (which wants its own casts).
bool fast_cpu(const torch::Tensor& x) {
  return x.device().is_cpu() && x.scalar_type() == torch::kFloat32 && !at::autocast::is_autocast_enabled(at::kCPU);
}

bool fusable(const torch::Tensor& x, const torch::Tensor& w) {
  return fast_cpu(x) && w.scalar_type() == torch::kFloat32 && w.dim() == 1 && w.size(0) == x.size(-1);
}

}  // namespace

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  if (fusable(x, weight)) {
    if (torch::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad()))
      return RmsNormFunction::apply(x, weight, eps);
    torch::Tensor rstd;
    return rms_norm_rows(x.contiguous(), weight.contiguous(), eps, rstd);
  }
  if (x.scalar_type() == torch::kFloat32) return x * torch::rsqrt(x.pow(2).mean(-1, true) + eps) * weight;
  torch::Tensor xf = x.to(torch::kFloat32);
  return (xf * torch::rsqrt(xf.pow(2).mean(-1, true) + eps)).to(x.scalar_type()) * weight;
}

}  // namespace mstar::tiny_vlm
