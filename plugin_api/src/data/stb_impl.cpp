// The one translation unit that compiles stb_image, stb_image_write and
// stb_image_resize (Debian's libstb-dev headers). Their functions are static
// here, so no stb symbol leaves libmstar_data and another library that
// compiles its own copy of stb never clashes with this one. image.cpp reaches
// them through the wrappers below.
#include "stb_impl.h"

#include <algorithm>

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO
#include <stb/stb_image.h>

#define STB_IMAGE_WRITE_STATIC
#define STBI_WRITE_NO_STDIO
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

#define STB_IMAGE_RESIZE_STATIC
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb/stb_image_resize.h>

namespace mstar::data::detail {

namespace {
void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::string*>(context);
  out->append(static_cast<const char*>(data), static_cast<size_t>(size));
}
}  // namespace

bool stb_write_png(std::string& out, int width, int height, int channels, const unsigned char* pixels) {
  // stb's defaults (compression level 8, per-row filter heuristic) are
  // never changed, so the PNG bytes depend on the pixels only. Safe to call
  // from several threads: the writer keeps no state between calls.
  return stbi_write_png_to_func(append_bytes, &out, width, height, channels, pixels, width * channels) != 0;
}

bool stb_write_jpeg(std::string& out, int width, int height, int channels, const unsigned char* pixels, int quality) {
  return stbi_write_jpg_to_func(append_bytes, &out, width, height, channels, pixels, quality) != 0;
}

bool stb_info(const unsigned char* bytes, int size, int* width, int* height) {
  int channels = 0;
  return stbi_info_from_memory(bytes, size, width, height, &channels) != 0;
}

unsigned char* stb_load(const unsigned char* bytes, int size, int* width, int* height, int* channels_in_file) {
  return stbi_load_from_memory(bytes, size, width, height, channels_in_file, 4);
}

void stb_free(unsigned char* pixels) { stbi_image_free(pixels); }

const char* jpeg_defect(const unsigned char* bytes, int size) {
  if (size < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8) return nullptr;
  const auto be16 = [&](int at) { return (bytes[at] << 8) | bytes[at + 1]; };
  bool entropy = false;  // inside a scan's entropy-coded data, markers are searched for
  for (int pos = 2; pos + 1 < size;) {
    if (bytes[pos] != 0xFF) {
      if (!entropy) return nullptr;  // not a marker where one must be: stb refuses the file itself
      ++pos;
      continue;
    }
    const int marker = bytes[pos + 1];
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    // Stuffed zero or restart marker: part of the entropy-coded data.
    if (marker == 0x00 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) {
      pos += 2;
      continue;
    }
    if (marker == 0xD9) return nullptr;  // end of image
    if (pos + 3 >= size) return nullptr;  // truncated: stb reports it
    const int length = be16(pos + 2);
    const int end = std::min(size, pos + 2 + length);
    if (marker == 0xC4) {
      for (int t = pos + 4; t + 17 <= end;) {
        int codes = 0;
        for (int i = 0; i < 16; ++i) codes += bytes[t + 1 + i];
        if (codes > 256) return "corrupt JPEG (a Huffman table declares more than 256 codes)";
        t += 17 + codes;
      }
    }
    entropy = marker == 0xDA;
    pos = pos + 2 + length;
  }
  return nullptr;
}

const char* stb_failure() { return stbi_failure_reason(); }

bool stb_resize_rgb(const unsigned char* in, int in_w, int in_h, unsigned char* out, int out_w, int out_h) {
  return stbir_resize_uint8(in, in_w, in_h, 0, out, out_w, out_h, 0, 3) != 0;
}

}  // namespace mstar::data::detail
