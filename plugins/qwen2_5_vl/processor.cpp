// The image processor, as Qwen2VLImageProcessor with use_fast=False runs it:
// Pillow's bicubic resize of the uint8 image to smart_resize's size, then
// x * (1/255) in float64 cast to float32, (x - mean) / std in float32, and
// the patches flattened in merge-window order. Pillow's resampling is
// re-implemented (Resample.c: 22-bit fixed-point coefficients, horizontal
// pass then vertical, each rounded and clipped to uint8) so that pixel values
// agree exactly rather than to interpolation error.
#include <cmath>

#include "mstar/error.h"
#include "qwen2_5_vl.h"

namespace mstar::qwen2_5_vl {

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

double bicubic(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// Per output pixel: first input index, tap count and fixed-point weights (ksize each).
struct Coefficients {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<int32_t> weights;
};

Coefficients precompute(int in_size, int out_size) {
  constexpr double support_1 = 2.0;  // the bicubic filter's support
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = support_1 * filterscale;
  Coefficients c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.weights.assign(static_cast<size_t>(out_size) * c.ksize, 0);
  std::vector<double> k(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      k[x] = bicubic((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    for (int x = 0; x < xmax; ++x) {
      const double w = ww != 0.0 ? k[x] / ww : k[x];
      c.weights[static_cast<size_t>(xx) * c.ksize + x] =
          w < 0 ? static_cast<int32_t>(-0.5 + w * (1 << kPrecisionBits)) : static_cast<int32_t>(0.5 + w * (1 << kPrecisionBits));
    }
    c.first[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

uint8_t clip8(int32_t v) {
  const int32_t s = v >> kPrecisionBits;  // arithmetic shift, as Pillow's lookup table indexes it
  return static_cast<uint8_t>(s < 0 ? 0 : s > 255 ? 255 : s);
}

// One separable pass along `axis` (1 = width, 0 = height) of an [H,W,3] image.
std::vector<uint8_t> resample_pass(const std::vector<uint8_t>& in, int h, int w, int out_len, int axis) {
  const int in_len = axis == 1 ? w : h;
  const Coefficients c = precompute(in_len, out_len);
  const int oh = axis == 1 ? h : out_len, ow = axis == 1 ? out_len : w;
  std::vector<uint8_t> out(static_cast<size_t>(oh) * ow * 3);
  for (int y = 0; y < oh; ++y)
    for (int x = 0; x < ow; ++x) {
      const int o = axis == 1 ? x : y;
      const int32_t* k = &c.weights[static_cast<size_t>(o) * c.ksize];
      for (int ch = 0; ch < 3; ++ch) {
        int32_t ss = 1 << (kPrecisionBits - 1);
        for (int i = 0; i < c.count[o]; ++i) {
          const int src = c.first[o] + i;
          const size_t idx = axis == 1 ? (static_cast<size_t>(y) * w + src) * 3 + ch : (static_cast<size_t>(src) * w + x) * 3 + ch;
          ss += static_cast<int32_t>(in[idx]) * k[i];
        }
        out[(static_cast<size_t>(y) * ow + x) * 3 + ch] = clip8(ss);
      }
    }
  return out;
}

void check_image(const torch::Tensor& rgb) {
  if (!rgb.defined() || rgb.dim() != 3 || rgb.size(2) != 3 || rgb.scalar_type() != torch::kUInt8)
    throw_bad_input("qwen2_5_vl image processor: an image must be uint8 [H,W,3]");
  if (rgb.size(0) == 0 || rgb.size(1) == 0) throw_bad_input("qwen2_5_vl image processor: empty image");
}

}  // namespace

std::pair<int64_t, int64_t> smart_resize(int64_t height, int64_t width, int64_t factor, int64_t min_pixels,
                                         int64_t max_pixels) {
  const double ratio = static_cast<double>(std::max(height, width)) / static_cast<double>(std::min(height, width));
  if (ratio > 200)
    throw_bad_input("qwen2_5_vl image processor: aspect ratio " + std::to_string(ratio) + " of a " +
                    std::to_string(height) + "x" + std::to_string(width) + " image exceeds 200");
  // Python's round() rounds half to even; so does nearbyint in the default rounding mode.
  auto round_to = [&](int64_t x) { return static_cast<int64_t>(std::nearbyint(static_cast<double>(x) / factor)) * factor; };
  int64_t h = round_to(height), w = round_to(width);
  if (h * w > max_pixels) {
    const double beta = std::sqrt(static_cast<double>(height * width) / static_cast<double>(max_pixels));
    h = std::max(factor, static_cast<int64_t>(std::floor(height / beta / factor)) * factor);
    w = std::max(factor, static_cast<int64_t>(std::floor(width / beta / factor)) * factor);
  } else if (h * w < min_pixels) {
    const double beta = std::sqrt(static_cast<double>(min_pixels) / static_cast<double>(height * width));
    h = static_cast<int64_t>(std::ceil(height * beta / factor)) * factor;
    w = static_cast<int64_t>(std::ceil(width * beta / factor)) * factor;
  }
  return {h, w};
}

torch::Tensor resize_bicubic(const torch::Tensor& rgb, int64_t out_height, int64_t out_width) {
  check_image(rgb);
  if (out_height <= 0 || out_width <= 0) throw_bad_input("qwen2_5_vl image processor: resize to an empty size");
  const torch::Tensor src = rgb.contiguous().to(torch::kCPU);
  const int h = static_cast<int>(src.size(0)), w = static_cast<int>(src.size(1));
  std::vector<uint8_t> img(src.data_ptr<uint8_t>(), src.data_ptr<uint8_t>() + src.numel());
  // Pillow skips a pass whose size does not change.
  int cur_w = w;
  if (out_width != w) {
    img = resample_pass(img, h, w, static_cast<int>(out_width), 1);
    cur_w = static_cast<int>(out_width);
  }
  if (out_height != h) img = resample_pass(img, h, cur_w, static_cast<int>(out_height), 0);
  return torch::from_blob(img.data(), {out_height, out_width, 3}, torch::kUInt8).clone();
}

std::vector<int64_t> ProcessedImages::token_counts() const {
  std::vector<int64_t> out;
  const torch::Tensor g = grid_thw.to(torch::kCPU);
  for (int64_t i = 0; i < g.size(0); ++i)
    out.push_back(g[i][0].item<int64_t>() * g[i][1].item<int64_t>() * g[i][2].item<int64_t>() / 4);
  return out;
}

ProcessedImages process_images(const std::vector<torch::Tensor>& images, const ProcessorConfig& p) {
  const int64_t factor = p.patch * p.merge;
  std::vector<torch::Tensor> patches;
  std::vector<int64_t> grids;
  for (const torch::Tensor& image : images) {
    check_image(image);
    const auto [h, w] = smart_resize(image.size(0), image.size(1), factor, p.min_pixels, p.max_pixels);
    torch::Tensor resized = resize_bicubic(image, h, w);
    torch::Tensor x = (resized.to(torch::kFloat64) * p.rescale).to(torch::kFloat32).permute({2, 0, 1});  // [C,H,W]
    const torch::Tensor mean = torch::tensor({p.mean[0], p.mean[1], p.mean[2]}).view({3, 1, 1});
    const torch::Tensor stdv = torch::tensor({p.std[0], p.std[1], p.std[2]}).view({3, 1, 1});
    x = (x - mean) / stdv;
    const int64_t gh = h / p.patch, gw = w / p.patch;
    // [C, gh/m, m, P, gw/m, m, P] -> [gh/m, gw/m, m, m, C, T, P, P]: merge windows first, then channels.
    x = x.reshape({3, gh / p.merge, p.merge, p.patch, gw / p.merge, p.merge, p.patch}).permute({1, 4, 2, 5, 0, 3, 6});
    x = x.unsqueeze(5).expand({gh / p.merge, gw / p.merge, p.merge, p.merge, 3, p.temporal_patch, p.patch, p.patch});
    patches.push_back(x.reshape({gh * gw, 3 * p.temporal_patch * p.patch * p.patch}));
    grids.insert(grids.end(), {1, gh, gw});
  }
  ProcessedImages out;
  out.pixel_values = patches.empty() ? torch::empty({0, 3 * p.temporal_patch * p.patch * p.patch}) : torch::cat(patches);
  out.grid_thw = torch::tensor(grids, torch::kInt64).view({-1, 3});
  return out;
}

std::vector<torch::Tensor> images_from_batch(const torch::Tensor& images) {
  if (!images.defined() || images.dim() != 4 || images.size(1) != 3)
    throw_bad_input("qwen2_5_vl: batch images must be [B,3,H,W] in [0,1]");
  torch::Tensor u8 = (images.detach().to(torch::kCPU, torch::kFloat32).clamp(0, 1) * 255.0).round().to(torch::kUInt8);
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < u8.size(0); ++i) out.push_back(u8[i].permute({1, 2, 0}).contiguous());
  return out;
}

}  // namespace mstar::qwen2_5_vl
