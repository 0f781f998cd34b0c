// RGB images, PNG/JPEG decoding (stb_image), deterministic PNG encoding
// (stb_image_write), resizing to a backbone's input size, base64 and data URIs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mstar::data {

// 8-bit RGB, row-major, no padding: rgb.size() == width * height * 3.
struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;

  Image() = default;
  Image(int w, int h) : width(w), height(h), rgb(static_cast<size_t>(w) * h * 3, 0) {}
  uint8_t* at(int x, int y) { return &rgb[(static_cast<size_t>(y) * width + x) * 3]; }
  const uint8_t* at(int x, int y) const { return &rgb[(static_cast<size_t>(y) * width + x) * 3]; }
  bool empty() const { return rgb.empty(); }
};

// PNG bytes of `image`. Deterministic: the same pixels give the same bytes.
std::string encode_png(const Image& image);
// Baseline JPEG bytes (quality 1-100), for exports and tests.
std::string encode_jpeg(const Image& image, int quality = 90);

// The pixel budget of decode_image: 8192 x 8192 = 64 Mi pixels. A 50 MP
// phone photo or an 8K frame (33 MP) fits; a decode at the budget peaks at
// about 450 MiB (RGBA from stb plus the RGB copy). A few KB of PNG can
// declare gigapixels, so the size is checked before anything is decoded.
// Backbones resize far below this anyway (Qwen2.5-VL's max_pixels default
// is 12.8 M), so the budget only refuses files no real dataset needs.
inline constexpr int64_t kDefaultMaxPixels = int64_t{8192} * 8192;

// Decodes PNG or JPEG (anything stb_image reads) to RGB. An alpha channel is
// composited over white. Throws Error(BadInput) "WHAT: cannot decode image:
// REASON" when the bytes are not an image, and "WHAT: image is WxH = N
// pixels, over the budget of M pixels" before decoding when its header
// declares more than `max_pixels` pixels.
Image decode_image(std::string_view bytes, const std::string& what, int64_t max_pixels = kDefaultMaxPixels);

// Resizing policy used by every loader ("letterbox"): the image is scaled,
// keeping its aspect ratio, so that its longer side is `size` pixels, with
// stb_image_resize's default filters (Mitchell when shrinking, Catmull-Rom
// when enlarging, clamped edges); the shorter side is centred and padded with
// the grey `pad` to a `size`x`size` square. Nothing is cropped and nothing
// is distorted. An image already `size`x`size` is returned unchanged.
Image resize_letterbox(const Image& image, int size, uint8_t pad = 128);

std::string base64_encode(std::string_view bytes);
// Standard alphabet; whitespace is ignored; '=' padding optional. nullopt
// when a character is outside the alphabet or the length is impossible.
std::optional<std::string> base64_decode(std::string_view text);

struct DataUri {
  std::string mime;   // "image/png", "image/jpeg"
  std::string bytes;  // decoded payload
};

bool is_data_uri(std::string_view text);
// Parses "data:MIME;base64,PAYLOAD". Only image/png and image/jpeg (also
// image/jpg) are accepted. Returns nullopt and sets `problem` otherwise.
std::optional<DataUri> parse_data_uri(std::string_view text, std::string* problem = nullptr);
std::string make_data_uri(std::string_view mime, std::string_view bytes);

// File extension (".png", ".jpg") for a sniffed image payload, "" if unknown.
std::string image_extension(std::string_view bytes);

}  // namespace mstar::data
