// PNG/JPEG decoding through stb: decode_image, then the letterbox resize
// every loader applies and a PNG re-encode. Inputs starting with "data:" go
// through parse_data_uri first, as JSONL images do. The pixel budget is
// kept small (kMaxPixels) so that an input declaring a large image is
// refused by the budget, the path under test, rather than decoded slowly.
#include <string>

#include "fuzz_util.h"
#include "mstar/data/image.h"

namespace {

constexpr int64_t kMaxPixels = int64_t{2048} * 2048;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mstar;
  std::string bytes(fuzz::as_text(data, size));
  if (data::is_data_uri(bytes)) {
    std::string problem;
    const auto uri = data::parse_data_uri(bytes, &problem);
    if (!uri) {
      if (problem.empty()) fuzz::invariant_failed("parse_data_uri refused without saying why");
      return 0;
    }
    bytes = uri->bytes;
  }
  return fuzz::refuse_cleanly([&] {
    const data::Image image = data::decode_image(bytes, "fuzz input", kMaxPixels);
    if (image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3)
      fuzz::invariant_failed("decoded " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                             " image holds " + std::to_string(image.rgb.size()) + " bytes");
    const data::Image square = data::resize_letterbox(image, 32);
    (void)data::encode_png(square);
  });
}
