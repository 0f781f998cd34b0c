// Private: the stb functions libmstar_data uses (see stb_impl.cpp).
#pragma once

#include <string>

namespace mstar::data::detail {

bool stb_write_png(std::string& out, int width, int height, int channels, const unsigned char* pixels);
bool stb_write_jpeg(std::string& out, int width, int height, int channels, const unsigned char* pixels, int quality);
// The size an image's header declares, without decoding it; false (and
// stb_failure() says why) when stb does not recognise the bytes.
bool stb_info(const unsigned char* bytes, int size, int* width, int* height);
// RGBA pixels (4 channels) or nullptr; free with stb_free.
unsigned char* stb_load(const unsigned char* bytes, int size, int* width, int* height, int* channels_in_file);
void stb_free(unsigned char* pixels);
// Why stb must not decode these JPEG bytes, or nullptr. Debian's stb_image
// (2022-09 snapshot) trusts the code counts of a Huffman table (DHT): counts
// summing past 256 make stbi__build_huffman write past its 257-byte size
// table (heap corruption, found by fuzzing). Every DHT segment of the file
// is checked before stb sees it; non-JPEG bytes pass.
const char* jpeg_defect(const unsigned char* bytes, int size);
const char* stb_failure();
bool stb_resize_rgb(const unsigned char* in, int in_w, int in_h, unsigned char* out, int out_w, int out_h);

}  // namespace mstar::data::detail
