// What `mstar data stats` shows about a split's scenes. The host knows no
// world: the plugin records this block in its artifact's manifest
// ("split_stats"), and the host prints whatever a dataset recorded there.
#include "mstar/data/jsonl.h"
#include "mstar/world/generator.h"

namespace mstar::world {

namespace {

void bump(Json& obj, const std::string& key, int64_t by = 1) {
  if (!obj.is_object()) obj = Json::object();
  obj[key] = obj.value(key, static_cast<int64_t>(0)) + by;
}

}  // namespace

Json scene_stats(const std::filesystem::path& scenes_file) {
  Json sc{{"images", 0}, {"relations", Json::object()}, {"symbols", Json::object()},
          {"symbols_per_image", Json::object()}, {"heldout_images", 0}, {"groups", Json::object()}};
  data::for_each_jsonl(scenes_file, [&](size_t, const Json& row) {
    bump(sc, "images");
    if (row.contains("relation") && row["relation"].is_string()) bump(sc["relations"], row["relation"].get<std::string>());
    if (row.contains("group") && row["group"].is_string()) bump(sc["groups"], row["group"].get<std::string>());
    for (const char* role : {"agent", "patient"})
      if (row.contains(role) && row[role].is_object() && row[role].contains("glyph"))
        bump(sc["symbols"], row[role]["glyph"].get<std::string>(), row[role].value("count", 1));
    if (row.contains("symbols") && row["symbols"].is_number_integer())
      bump(sc["symbols_per_image"], std::to_string(row["symbols"].get<int>()));
    if (row.value("heldout", false)) bump(sc, "heldout_images");
  });
  return sc;
}

Json split_stats(const std::filesystem::path& world_dir) {
  Json out = Json::object();
  for (const char* split : {"train", "bench"}) {
    const std::filesystem::path scenes = world_dir / split / "scenes.jsonl";
    if (std::filesystem::is_regular_file(scenes)) out[split] = {{"scenes", scene_stats(scenes)}};
  }
  return out;
}

}  // namespace mstar::world
