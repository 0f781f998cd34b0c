#include "rollout_log.h"

#include <cstring>
#include <fstream>

#include "mstar/data/image.h"
#include "mstar/error.h"

namespace mstar::algorithms {

namespace {

// [3,S,S] floats in [0,1] -> 8-bit RGB.
data::Image to_image(const torch::Tensor& chw) {
  const torch::Tensor hwc =
      (chw.detach().to(torch::kCPU, torch::kFloat).clamp(0, 1) * 255).round().to(torch::kUInt8).permute({1, 2, 0}).contiguous();
  data::Image img(static_cast<int>(hwc.size(1)), static_cast<int>(hwc.size(0)));
  std::memcpy(img.rgb.data(), hwc.data_ptr<uint8_t>(), img.rgb.size());
  return img;
}

// The sequence's advantage: GRPO's is one number per response, spread over
// its tokens; the mean over the response tokens recovers it.
double sequence_advantage(const Rollout& r, int64_t i) {
  if (!r.advantages.defined() || !r.mask.defined()) return 0;
  const torch::Tensor m = r.mask[i].to(torch::kCPU, torch::kDouble);
  const double tokens = m.sum().item<double>();
  return tokens > 0 ? (r.advantages[i].to(torch::kCPU, torch::kDouble) * m).sum().item<double>() / tokens : 0;
}

}  // namespace

void RolloutLog::append(int64_t step, const Rollout& r, const std::vector<Example>& examples, const ImageBank& images,
                        int64_t n, int64_t groups) const {
  const std::filesystem::path file = dir_ / kRolloutsFile;
  std::ofstream out(file, std::ios::app);
  if (!out) throw_io("cannot append to " + file.string());
  for (int64_t g = 0; g < groups && g * n < r.size(); ++g) {
    const Example& ex = examples.at(static_cast<size_t>(r.rows[static_cast<size_t>(g * n)]));
    Json line = {{"step", step},
                 {"group", g},
                 {"prompt", ex.row.raw.value("problem", ex.row.problem)},
                 {"answer", ex.row.answer},
                 {"level", ex.row.level},
                 {"image", ""}};
    if (ex.image >= 0) {
      const std::filesystem::path png = dir_ / "rollouts" / (std::to_string(step) + "_" + std::to_string(g) + ".png");
      std::error_code ec;
      std::filesystem::create_directories(png.parent_path(), ec);
      std::ofstream img(png, std::ios::binary);
      img << data::encode_png(to_image(images.batch({ex.image})[0]));
      if (!img.flush()) throw_io("cannot write " + png.string());
      // Relative to the artifact: the staging directory is renamed when published.
      line["image"] = std::filesystem::relative(png, dir_).string();
    }
    Json samples = Json::array();
    for (int64_t k = 0; k < n && g * n + k < r.size(); ++k) {
      const auto i = static_cast<size_t>(g * n + k);
      samples.push_back({{"response", r.texts[i]},
                         {"reward", r.rewards[i].overall},
                         {"components", r.rewards[i].components},
                         {"advantage", sequence_advantage(r, static_cast<int64_t>(i))}});
    }
    line["samples"] = std::move(samples);
    out << line.dump(-1, ' ', false, Json::error_handler_t::replace) << "\n";
  }
  if (!out.flush()) throw_io("cannot append to " + file.string());
}

}  // namespace mstar::algorithms
