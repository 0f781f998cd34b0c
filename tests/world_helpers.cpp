#include "world_helpers.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <mutex>

#include "mstar/data/rows.h"

namespace world_test {

mstar::data::Image gradient(int w, int h) {
  mstar::data::Image img(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      img.at(x, y)[0] = static_cast<uint8_t>(x * 255 / std::max(1, w - 1));
      img.at(x, y)[1] = static_cast<uint8_t>(y * 255 / std::max(1, h - 1));
      img.at(x, y)[2] = 77;
    }
  return img;
}

namespace fs = std::filesystem;

namespace {
struct Cleanup {
  std::vector<fs::path> dirs;
  ~Cleanup() {
    if (std::getenv("MSTAR_KEEP_TEST_DIRS")) return;
    for (const auto& d : dirs) {
      std::error_code ec;
      fs::remove_all(d, ec);
    }
  }
};
Cleanup& cleanup() {
  static Cleanup c;
  return c;
}
}  // namespace

fs::path temp_dir(const std::string& name) {
  static int counter = 0;
  fs::path dir = fs::temp_directory_path() /
                 ("mstar_world_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  cleanup().dirs.push_back(dir);
  return dir;
}

mstar::world::WorldConfig rich_world() {
  mstar::world::WorldConfig c;
  c.culture.glyphs = 24;
  c.culture.concepts = 12;
  c.culture.max_symbols = c.scene.max_symbols = 4;
  c.scene.glyph_size_min = 16;
  c.scene.glyph_size_max = 22;
  c.scene.noise = 0.3;
  return c;
}

mstar::world::CultureConfig rich_culture() { return rich_world().culture; }
mstar::world::SceneConfig rich_scene() { return rich_world().scene; }

mstar::world::WorldConfig small_config(uint64_t seed, int train, int bench, int lite_train, int lite_bench,
                                       int pretrain) {
  mstar::world::WorldConfig c = rich_world();
  c.seed = seed;
  c.train_images = train;
  c.bench_images = bench;
  c.lite_train_images = lite_train;
  c.lite_bench_images = lite_bench;
  c.pretrain_images = pretrain;
  return c;
}

const fs::path& shared_world() {
  static std::once_flag once;
  static fs::path dir;
  std::call_once(once, [] {
    dir = temp_dir("shared");
    mstar::world::GenerationHooks hooks;
    hooks.threads = 2;
    mstar::world::generate_world(small_config(11, 800, 300, 40, 40, 20), dir, hooks);
  });
  return dir;
}

std::vector<mstar::Json> read_rows(const fs::path& file) {
  std::vector<mstar::Json> rows;
  mstar::data::for_each_jsonl(file, [&](size_t, const mstar::Json& row) { rows.push_back(row); });
  return rows;
}

}  // namespace world_test
