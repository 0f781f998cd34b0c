// One image of the world as data: which glyphs, colours and layout, where
// everything sits. Sampling a scene and rendering it are separate steps so
// that statements are computed from the scene, never from pixels.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mstar/data/image.h"
#include "mstar/json.h"
#include "mstar/world/culture.h"
#include "mstar/world/rng.h"

namespace mstar::world {

using data::Image;

enum class Region { Top, Bottom, Left, Right, Centre, None };
const char* region_name(Region r);    // "top", ..., "centre"
const char* region_phrase(Region r);  // "at the top", ..., "in the centre"
inline constexpr Region kRegions[] = {Region::Top, Region::Bottom, Region::Left, Region::Right, Region::Centre};

enum class Role { Agent = 0, Patient = 1 };

// A glyph drawn in the image. Coordinates are pixels of a 64x64 frame; the
// renderer scales them to the image size.
struct Placement {
  int glyph = -1;
  int colour = -1;
  Role role = Role::Agent;
  float x = 32, y = 32;  // centre
  float size = 20;       // diameter of the glyph's box
  float angle = 0;       // radians, small jitter
  float shade = 1;       // multiplies the palette colour
};

struct SceneConfig {
  float glyph_size_min = 22;  // pixels of a 64x64 frame
  float glyph_size_max = 28;
  int min_symbols = 1;
  int max_symbols = 2;
  double noise = 0.0;         // background noise and jitter, 0..1 (defaults: culture.h)
};

struct Scene {
  int relation = -1;
  int agent = -1, patient = -1;  // glyph ids; patient -1 for unary relations
  int agent_colour = -1, patient_colour = -1;
  int agent_count = 1;           // copies of the agent (surrounded: 2 or 3)
  Region agent_region = Region::None, patient_region = Region::None;
  bool mirrored = false;         // agent on the right (side-by-side layouts)
  std::vector<Placement> placements;
  uint64_t pixel_seed = 0;       // background noise and decorations
  bool heldout = false;          // shows a held-out (glyph, relation) combination

  bool unary() const { return patient < 0; }
  int total() const { return agent_count + (unary() ? 0 : 1); }
  int count(int glyph) const;
  int glyph_of(Role r) const { return r == Role::Agent ? agent : patient; }
  int colour_of(Role r) const { return r == Role::Agent ? agent_colour : patient_colour; }
  Region region_of(Role r) const { return r == Role::Agent ? agent_region : patient_region; }
  // The glyph's colour, -1 when absent.
  int colour_of_glyph(int glyph) const;
  Region region_of_glyph(int glyph) const;
};

// Draws a scene from the world's distribution. With allow_heldout false
// (train), combinations the culture holds out are never drawn.
Scene sample_scene(const Culture& culture, const SceneConfig& config, Rng& rng, bool allow_heldout);

// Pixels of a scene, image_size x image_size.
Image render_scene(const Scene& scene, const Culture& culture, int image_size, double noise);

// Every active glyph in a grid (documentation and eyeballing distinctness).
Image render_glyph_sheet(const Culture& culture, int cell = 32, int columns = 8);

// Plain-language descriptions, shared by captions, trajectories and judges.
std::string caption(const Scene& scene, const Culture& culture);          // "a red crown above a blue heart"
std::string message(const Scene& scene, const Culture& culture, bool with_tone);  // "angry power dominates calm time"
// "{tone} {concept} {verb} {tone} {concept}"; tone_* = colour index or -1
// (no adjective), concept_b / tone_b ignored for unary relations.
std::string message_text(const Culture& culture, int concept_a, int tone_a, int relation, int concept_b,
                         int tone_b);
const char* number_word(int n);  // "one" ... "four", else the digits
Json scene_json(const Scene& scene, const Culture& culture);

}  // namespace mstar::world
