// The one translation unit that compiles stb_image, stb_image_write and
// stb_image_resize (Debian's libstb-dev headers). Their functions are static
// here, so no stb symbol leaves libmstar_world and another library that
// compiles its own copy of stb never clashes with this one. image.cpp reaches
// them through the wrappers below.
#include "stb_impl.h"

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

namespace mstar::world::detail {

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

const char* stb_failure() { return stbi_failure_reason(); }

bool stb_resize_rgb(const unsigned char* in, int in_w, int in_h, unsigned char* out, int out_w, int out_h) {
  return stbir_resize_uint8(in, in_w, in_h, 0, out, out_w, out_h, 0, 3) != 0;
}

}  // namespace mstar::world::detail
