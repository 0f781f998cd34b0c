// Shared by the world tests: temporary directories and one generated world.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "mstar/data/image.h"
#include "mstar/json.h"
#include "mstar/world/generator.h"

namespace world_test {

// A w x h test image: red grows left to right, green top to bottom.
mstar::data::Image gradient(int w, int h);

// A fresh directory under the system temp dir, removed at exit.
std::filesystem::path temp_dir(const std::string& name);

// The world of the full structure, and the generator's defaults
// before they were chosen by measurement (docs/data.md, "Choosing the
// defaults"): 24 glyphs standing for 12 concepts, 1-4 glyphs of 16-22 px,
// noise 0.3. The world tests run on it because it draws every layout
// (surrounded needs 3-4 glyphs) and every kind of statement.
mstar::world::WorldConfig rich_world();
mstar::world::CultureConfig rich_culture();
mstar::world::SceneConfig rich_scene();

// The rich world with the given split sizes (everything else default).
mstar::world::WorldConfig small_config(uint64_t seed, int train, int bench, int lite_train = 10, int lite_bench = 10,
                                       int pretrain = 5);

// One world shared by the tests of a process: 800 train, 300 bench images.
const std::filesystem::path& shared_world();

std::vector<mstar::Json> read_rows(const std::filesystem::path& file);

}  // namespace world_test
