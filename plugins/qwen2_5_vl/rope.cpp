// Positions: the vision tower's patch coordinates and attention windows, and
// the decoder's 3D M-RoPE ids (transformers' get_rope_index): text tokens
// count up on all three axes; an image's tokens get (t, h, w) offset by the
// position where it starts, after which text resumes at start + max(h, w).
#include "mstar/error.h"
#include "qwen2_5_vl.h"

namespace mstar::qwen2_5_vl {

namespace {

struct Grid {
  int64_t t, h, w;
};

std::vector<Grid> grids(const torch::Tensor& grid_thw) {
  if (!grid_thw.defined() || grid_thw.dim() != 2 || grid_thw.size(1) != 3)
    throw_bad_input("qwen2_5_vl: image_grid_thw must be [images, 3]");
  const torch::Tensor g = grid_thw.to(torch::kCPU, torch::kInt64).contiguous();
  std::vector<Grid> out;
  const int64_t* p = g.data_ptr<int64_t>();
  for (int64_t i = 0; i < g.size(0); ++i) out.push_back({p[3 * i], p[3 * i + 1], p[3 * i + 2]});
  return out;
}

}  // namespace

torch::Tensor vision_position_ids(const torch::Tensor& grid_thw, int64_t merge) {
  std::vector<torch::Tensor> parts;
  for (const Grid& g : grids(grid_thw)) {
    torch::Tensor hpos = torch::arange(g.h).view({-1, 1}).expand({g.h, g.w});
    torch::Tensor wpos = torch::arange(g.w).view({1, -1}).expand({g.h, g.w});
    auto blocks = [&](const torch::Tensor& x) {
      return x.reshape({g.h / merge, merge, g.w / merge, merge}).transpose(1, 2).flatten();
    };
    parts.push_back(torch::stack({blocks(hpos), blocks(wpos)}, -1).repeat({g.t, 1}));
  }
  return torch::cat(parts);
}

std::pair<torch::Tensor, std::vector<int64_t>> window_index(const torch::Tensor& grid_thw, const VisionConfig& v) {
  const int64_t win = v.window / v.merge / v.patch;  // window side in merged tokens
  const int64_t unit = v.merge * v.merge;
  std::vector<int64_t> index, cu{0};
  int64_t base = 0;
  for (const Grid& g : grids(grid_thw)) {
    const int64_t lh = g.h / v.merge, lw = g.w / v.merge;
    // Windows tile the grid from the top-left; the last row/column of windows may be partial.
    const int64_t nh = (lh + win - (lh % win)) / win, nw = (lw + win - (lw % win)) / win;
    for (int64_t t = 0; t < g.t; ++t)
      for (int64_t wy = 0; wy < nh; ++wy)
        for (int64_t wx = 0; wx < nw; ++wx) {
          int64_t n = 0;
          for (int64_t y = wy * win; y < std::min(lh, (wy + 1) * win); ++y)
            for (int64_t x = wx * win; x < std::min(lw, (wx + 1) * win); ++x, ++n)
              index.push_back(base + (t * lh + y) * lw + x);
          // Empty windows add a repeated boundary, which transformers drops (unique_consecutive).
          if (n > 0) cu.push_back(cu.back() + n * unit);
        }
    base += g.t * lh * lw;
  }
  return {torch::tensor(index, torch::kInt64), cu};
}

std::vector<int64_t> frame_cu_seqlens(const torch::Tensor& grid_thw) {
  std::vector<int64_t> cu{0};
  for (const Grid& g : grids(grid_thw))
    for (int64_t t = 0; t < g.t; ++t) cu.push_back(cu.back() + g.h * g.w);
  return cu;
}

RopeIndex rope_index(const torch::Tensor& ids_in, const torch::Tensor& mask_in, const torch::Tensor& grid_thw,
                     const Config& config) {
  const torch::Tensor ids = ids_in.to(torch::kCPU, torch::kInt64).contiguous();
  const int64_t b = ids.size(0), width = ids.size(1);
  const torch::Tensor mask = mask_in.defined() ? mask_in.to(torch::kCPU, torch::kInt64).contiguous()
                                               : torch::ones({b, width}, torch::kInt64);
  const std::vector<Grid> g = grid_thw.defined() && grid_thw.numel() > 0 ? grids(grid_thw) : std::vector<Grid>{};
  torch::Tensor pos = torch::zeros({3, b, width}, torch::kInt64);
  torch::Tensor deltas = torch::zeros({b}, torch::kInt64);
  auto p = pos.accessor<int64_t, 3>();
  const int64_t* id = ids.data_ptr<int64_t>();
  const int64_t* m = mask.data_ptr<int64_t>();
  const int64_t merge = config.vision.merge;
  size_t next_image = 0;
  for (int64_t row = 0; row < b; ++row) {
    int64_t current = 0, max_pos = -1, real = 0;
    int64_t col = 0;
    while (col < width) {
      const int64_t k = row * width + col;
      if (!m[k]) {
        ++col;
        continue;
      }
      if (id[k] != config.image_token_id) {
        for (int a = 0; a < 3; ++a) p[a][row][col] = current;
        max_pos = std::max(max_pos, current);
        ++current, ++real, ++col;
        continue;
      }
      // A run of image tokens (padding inside it is skipped, as transformers drops it first).
      if (next_image >= g.size())
        throw_bad_input("qwen2_5_vl: more <|image_pad|> runs in the batch than images (" + std::to_string(g.size()) + ")");
      const Grid grid = g[next_image++];
      const int64_t lt = grid.t, lh = grid.h / merge, lw = grid.w / merge, n = lt * lh * lw;
      int64_t filled = 0;
      for (; col < width && filled < n; ++col) {
        const int64_t kk = row * width + col;
        if (!m[kk]) continue;
        if (id[kk] != config.image_token_id)
          throw_bad_input("qwen2_5_vl: an image run in row " + std::to_string(row) + " has " + std::to_string(filled) +
                          " <|image_pad|> tokens but its image needs " + std::to_string(n));
        const int64_t t = filled / (lh * lw), y = filled / lw % lh, x = filled % lw;
        p[0][row][col] = current + t;
        p[1][row][col] = current + y;
        p[2][row][col] = current + x;
        max_pos = std::max({max_pos, current + t, current + y, current + x});
        ++filled, ++real;
      }
      if (filled < n)
        throw_bad_input("qwen2_5_vl: row " + std::to_string(row) + " ends inside an image (" + std::to_string(filled) +
                        " of " + std::to_string(n) + " <|image_pad|> tokens)");
      current += std::max(grid.h, grid.w) / merge;
    }
    deltas[row] = max_pos + 1 - real;
  }
  if (next_image != g.size())
    throw_bad_input("qwen2_5_vl: " + std::to_string(g.size()) + " images but " + std::to_string(next_image) +
                    " <|image_pad|> runs in the batch");
  return {pos, deltas};
}

torch::Tensor rotate_half(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

}  // namespace mstar::qwen2_5_vl
