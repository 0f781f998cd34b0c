#include "mstar/data/image.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>

#include "mstar/error.h"
#include "stb_impl.h"

namespace mstar::data {

std::string encode_png(const Image& image) {
  std::string out;
  if (image.empty() || !detail::stb_write_png(out, image.width, image.height, 3, image.rgb.data()))
    throw Error(ErrorCategory::Internal, "cannot encode a " + std::to_string(image.width) + "x" +
                                             std::to_string(image.height) + " image as PNG");
  return out;
}

std::string encode_jpeg(const Image& image, int quality) {
  std::string out;
  if (image.empty() || !detail::stb_write_jpeg(out, image.width, image.height, 3, image.rgb.data(), quality))
    throw Error(ErrorCategory::Internal, "cannot encode a " + std::to_string(image.width) + "x" +
                                             std::to_string(image.height) + " image as JPEG");
  return out;
}

Image decode_image(std::string_view bytes, const std::string& what, int64_t max_pixels) {
  if (bytes.empty()) throw_bad_input(what + ": cannot decode image: no bytes");
  if (bytes.size() > static_cast<size_t>(INT_MAX)) throw_bad_input(what + ": cannot decode image: too large");
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  const int size = static_cast<int>(bytes.size());
  auto failure = [&] {
    const char* reason = detail::stb_failure();
    throw_bad_input(what + ": cannot decode image: " + (reason ? reason : "unknown format"));
  };
  // Before stb reads even the header: stb's header probe builds the Huffman
  // tables of a JPEG too.
  if (const char* defect = detail::jpeg_defect(data, size))
    throw_bad_input(what + ": cannot decode image: " + defect);
  int w = 0, h = 0, channels = 0;
  // Bytes whose header stb cannot read are refused here rather than handed
  // to the decoder: the budget must hold for every format stb decodes.
  if (!detail::stb_info(data, size, &w, &h)) failure();
  const int64_t pixels_declared = int64_t{w} * h;
  if (pixels_declared > max_pixels)
    throw_bad_input(what + ": image is " + std::to_string(w) + "x" + std::to_string(h) + " = " +
                    std::to_string(pixels_declared) + " pixels, over the budget of " + std::to_string(max_pixels) +
                    " pixels (not decoded)");
  unsigned char* pixels = detail::stb_load(data, size, &w, &h, &channels);
  if (!pixels) failure();
  Image image(w, h);
  const size_t n = static_cast<size_t>(w) * h;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char* p = pixels + i * 4;
    const unsigned a = p[3];
    for (int c = 0; c < 3; ++c)  // over white: c*a + 255*(1-a), rounded
      image.rgb[i * 3 + c] = static_cast<uint8_t>((p[c] * a + 255u * (255u - a) + 127u) / 255u);
  }
  detail::stb_free(pixels);
  return image;
}

Image resize_letterbox(const Image& image, int size, uint8_t pad) {
  if (size <= 0 || image.empty()) throw Error(ErrorCategory::Internal, "resize_letterbox: empty image or size");
  if (image.width == size && image.height == size) return image;
  const double scale = static_cast<double>(size) / std::max(image.width, image.height);
  const int w = std::clamp(static_cast<int>(std::lround(image.width * scale)), 1, size);
  const int h = std::clamp(static_cast<int>(std::lround(image.height * scale)), 1, size);
  Image scaled(w, h);
  if (!detail::stb_resize_rgb(image.rgb.data(), image.width, image.height, scaled.rgb.data(), w, h))
    throw Error(ErrorCategory::Internal, "stb_image_resize failed");
  Image out(size, size);
  std::fill(out.rgb.begin(), out.rgb.end(), pad);
  const int x0 = (size - w) / 2, y0 = (size - h) / 2;
  for (int y = 0; y < h; ++y)
    std::copy_n(scaled.at(0, y), static_cast<size_t>(w) * 3, out.at(x0, y0 + y));
  return out;
}

namespace {
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) | (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                       static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest == 1) {
    const uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    const uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) | (static_cast<uint8_t>(bytes[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0;
  size_t symbols = 0, padding = 0;
  for (char c : text) {
    if (is_space(c)) continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    if (padding > 0) return std::nullopt;  // data after padding
    const int v = base64_value(c);
    if (v < 0) return std::nullopt;
    ++symbols;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  if (symbols % 4 == 1 || padding > 2) return std::nullopt;
  if (padding > 0 && (symbols + padding) % 4 != 0) return std::nullopt;
  return out;
}

bool is_data_uri(std::string_view text) { return text.substr(0, 5) == "data:"; }

std::optional<DataUri> parse_data_uri(std::string_view text, std::string* problem) {
  auto fail = [&](std::string why) -> std::optional<DataUri> {
    if (problem) *problem = std::move(why);
    return std::nullopt;
  };
  if (!is_data_uri(text)) return fail("not a data: URI");
  const size_t comma = text.find(',');
  if (comma == std::string_view::npos) return fail("data URI without ','");
  std::string_view header = text.substr(5, comma - 5);
  const std::string_view suffix = ";base64";
  if (header.size() < suffix.size() || header.substr(header.size() - suffix.size()) != suffix)
    return fail("data URI is not base64-encoded (expected ';base64,')");
  std::string mime(header.substr(0, header.size() - suffix.size()));
  std::transform(mime.begin(), mime.end(), mime.begin(), [](unsigned char c) { return std::tolower(c); });
  if (mime == "image/jpg") mime = "image/jpeg";
  if (mime != "image/png" && mime != "image/jpeg")
    return fail("unsupported data URI type '" + mime + "' (expected image/png or image/jpeg)");
  auto bytes = base64_decode(text.substr(comma + 1));
  if (!bytes) return fail("invalid base64 in data URI");
  if (bytes->empty()) return fail("empty data URI");
  return DataUri{std::move(mime), std::move(*bytes)};
}

std::string make_data_uri(std::string_view mime, std::string_view bytes) {
  return "data:" + std::string(mime) + ";base64," + base64_encode(bytes);
}

std::string image_extension(std::string_view bytes) {
  if (bytes.size() >= 8 && bytes.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8)) return ".png";
  if (bytes.size() >= 3 && static_cast<uint8_t>(bytes[0]) == 0xFF && static_cast<uint8_t>(bytes[1]) == 0xD8 &&
      static_cast<uint8_t>(bytes[2]) == 0xFF)
    return ".jpg";
  return "";
}

}  // namespace mstar::data
