// Image decoding and encoding (plugins/world/src/image.cpp, stb): formats,
// base64, letterboxing, and the defences in front of stb.
#include <gtest/gtest.h>

#include <algorithm>

#include "mstar/data/image.h"
#include "mstar/error.h"
#include "world_helpers.h"

using namespace mstar::data;
using world_test::gradient;

TEST(DataBase64, RoundTripsAndRejectsGarbage) {
  const std::vector<std::string> samples{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\0\xff\x10", 3)};
  for (const std::string& s : samples)
    EXPECT_EQ(base64_decode(base64_encode(s)).value(), s);
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_decode("Zm9v\nYmE=").value(), "fooba");
  EXPECT_EQ(base64_decode("Zm9vYg").value(), "foob");  // padding optional
  EXPECT_FALSE(base64_decode("Zm9v!").has_value());
  EXPECT_FALSE(base64_decode("Z").has_value());
  EXPECT_FALSE(base64_decode("Zm=9").has_value());
  std::string why;
  EXPECT_FALSE(parse_data_uri("data:image/gif;base64,R0lG", &why).has_value());
  EXPECT_NE(why.find("image/gif"), std::string::npos);
  EXPECT_FALSE(parse_data_uri("data:image/png,plain", &why).has_value());
  EXPECT_TRUE(parse_data_uri("data:image/jpg;base64,Zm9v").has_value());
}

TEST(DataImage, PngAndJpegDecode) {
  const Image img = gradient(20, 10);
  const Image png = decode_image(encode_png(img), "png");
  EXPECT_EQ(png.rgb, img.rgb);
  EXPECT_EQ(encode_png(img), encode_png(img));
  const Image jpg = decode_image(encode_jpeg(img, 95), "jpg");
  ASSERT_EQ(jpg.width, 20);
  int worst = 0;
  for (size_t i = 0; i < img.rgb.size(); ++i) worst = std::max(worst, std::abs(jpg.rgb[i] - img.rgb[i]));
  EXPECT_LT(worst, 40);
  EXPECT_EQ(image_extension(encode_png(img)), ".png");
  EXPECT_EQ(image_extension(encode_jpeg(img)), ".jpg");
  try {
    decode_image("garbage", "x.png");
    FAIL();
  } catch (const mstar::Error& e) {
    EXPECT_TRUE(e.is_bad_input());
    EXPECT_NE(std::string(e.what()).find("x.png: cannot decode image"), std::string::npos);
  }
}

TEST(DataImage, LetterboxKeepsAspect) {
  Image wide(100, 50);
  std::fill(wide.rgb.begin(), wide.rgb.end(), 200);
  const Image out = resize_letterbox(wide, 64);
  ASSERT_EQ(out.width, 64);
  ASSERT_EQ(out.height, 64);
  EXPECT_EQ(out.at(32, 0)[0], 128);   // padding above
  EXPECT_EQ(out.at(32, 63)[0], 128);  // and below
  EXPECT_NEAR(out.at(32, 32)[0], 200, 2);
  EXPECT_NEAR(out.at(0, 32)[0], 200, 2);  // full width used
  const Image same = resize_letterbox(gradient(64, 64), 64);
  EXPECT_EQ(same.rgb, gradient(64, 64).rgb);
}

// Debian's stb_image trusts a JPEG Huffman table's code counts: counts
// summing past 256 made it write past a 257-byte table (heap corruption,
// found by the image fuzz harness under UBSan). Such files are refused
// before stb sees them, wherever the table is (before the first scan or
// between the scans of a progressive JPEG).
TEST(DataImage, JpegWithAnOversizedHuffmanTableIsRefusedBeforeStb) {
  const std::string jpeg = encode_jpeg(gradient(16, 16));
  ASSERT_EQ(jpeg.substr(0, 2), std::string("\xFF\xD8", 2));
  std::string dht = std::string("\xFF\xC4", 2);
  const int codes = 16 * 255;
  const int length = 2 + 17 + codes;
  dht += static_cast<char>(length >> 8);
  dht += static_cast<char>(length & 0xFF);
  dht += '\x00';  // DC table 0
  dht += std::string(16, '\xFF');
  dht += std::string(codes, '\x01');
  for (const size_t at : {size_t{2}, jpeg.find(std::string("\xFF\xDA", 2))}) {
    ASSERT_NE(at, std::string::npos);
    std::string bad = jpeg;
    bad.insert(at, dht);
    try {
      decode_image(bad, "huff.jpg");
      FAIL() << "decoded (table inserted at byte " << at << ")";
    } catch (const mstar::Error& e) {
      EXPECT_TRUE(e.is_bad_input());
      EXPECT_NE(std::string(e.what()).find("huff.jpg: cannot decode image: corrupt JPEG (a Huffman table declares "
                                           "more than 256 codes)"),
                std::string::npos)
          << e.what();
    }
  }
  // A table of exactly 256 codes is legal and passes the check (stb then
  // judges the rest of the file).
  std::string ok_dht = std::string("\xFF\xC4", 2);
  const int ok_length = 2 + 17 + 256;
  ok_dht += static_cast<char>(ok_length >> 8);
  ok_dht += static_cast<char>(ok_length & 0xFF);
  ok_dht += '\x01';                   // DC table 1
  ok_dht += std::string(14, '\x00');  // no codes of lengths 1-14,
  ok_dht += '\x01';                   // one of length 15,
  ok_dht += '\xFF';                   // 255 of length 16: 256 in all
  ok_dht += std::string(256, '\x02');
  std::string legal = jpeg;
  legal.insert(2, ok_dht);
  try {
    decode_image(legal, "legal.jpg");
  } catch (const mstar::Error& e) {
    EXPECT_EQ(std::string(e.what()).find("more than 256 codes"), std::string::npos) << e.what();
  }
  EXPECT_EQ(decode_image(jpeg, "plain.jpg").width, 16);
}
