// PNG/JPEG decoding through stb: decode_image, then the letterbox resize
// every loader applies and a PNG re-encode. Inputs starting with "data:" go
// through parse_data_uri first, as JSONL images do.
//
// Known defect left out until its fix lands: decode_image has no pixel
// budget before decoding (plugins/world/src/image.cpp), so images whose
// header declares more than kMaxPixels are skipped, read with stb's own
// header probe (a private copy of stb_image, static to this file).
#include <string>

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO
#include <stb/stb_image.h>

#include "fuzz_util.h"
#include "mstar/world/image.h"

namespace {

constexpr long long kMaxPixels = 4096LL * 4096;

bool pixel_bomb_risk(std::string_view bytes) {
  int w = 0, h = 0, channels = 0;
  if (!stbi_info_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()), static_cast<int>(bytes.size()), &w,
                             &h, &channels))
    return false;
  return static_cast<long long>(w) * h > kMaxPixels;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mstar;
  std::string bytes(fuzz::as_text(data, size));
  if (world::is_data_uri(bytes)) {
    std::string problem;
    const auto uri = world::parse_data_uri(bytes, &problem);
    if (!uri) {
      if (problem.empty()) fuzz::invariant_failed("parse_data_uri refused without saying why");
      return 0;
    }
    bytes = uri->bytes;
  }
  if (pixel_bomb_risk(bytes)) return 0;
  return fuzz::refuse_cleanly([&] {
    const world::Image image = world::decode_image(bytes, "fuzz input");
    if (image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3)
      fuzz::invariant_failed("decoded " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                             " image holds " + std::to_string(image.rgb.size()) + " bytes");
    const world::Image square = world::resize_letterbox(image, 32);
    (void)world::encode_png(square);
  });
}
