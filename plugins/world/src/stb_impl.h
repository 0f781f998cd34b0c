// Private: the stb functions libmstar_world uses (see stb_impl.cpp).
#pragma once

#include <string>

namespace mstar::world::detail {

bool stb_write_png(std::string& out, int width, int height, int channels, const unsigned char* pixels);
bool stb_write_jpeg(std::string& out, int width, int height, int channels, const unsigned char* pixels, int quality);
// The size an image's header declares, without decoding it; false (and
// stb_failure() says why) when stb does not recognise the bytes.
bool stb_info(const unsigned char* bytes, int size, int* width, int* height);
// RGBA pixels (4 channels) or nullptr; free with stb_free.
unsigned char* stb_load(const unsigned char* bytes, int size, int* width, int* height, int* channels_in_file);
void stb_free(unsigned char* pixels);
const char* stb_failure();
bool stb_resize_rgb(const unsigned char* in, int in_w, int in_h, unsigned char* out, int out_w, int out_h);

}  // namespace mstar::world::detail
