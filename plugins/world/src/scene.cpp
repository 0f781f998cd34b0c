#include "mstar/world/scene.h"

#include <algorithm>
#include <cmath>

#include "mstar/error.h"

namespace mstar::world {

const char* region_name(Region r) {
  switch (r) {
    case Region::Top: return "top";
    case Region::Bottom: return "bottom";
    case Region::Left: return "left";
    case Region::Right: return "right";
    case Region::Centre: return "centre";
    case Region::None: break;
  }
  return "none";
}

const char* region_phrase(Region r) {
  switch (r) {
    case Region::Top: return "at the top";
    case Region::Bottom: return "at the bottom";
    case Region::Left: return "on the left";
    case Region::Right: return "on the right";
    case Region::Centre: return "in the centre";
    case Region::None: break;
  }
  return "somewhere";
}

const char* number_word(int n) {
  static const char* words[] = {"zero", "one", "two", "three", "four", "five", "six"};
  return n >= 0 && n <= 6 ? words[n] : "many";
}

int Scene::count(int glyph) const {
  if (glyph < 0) return 0;
  if (glyph == agent) return agent_count;
  return glyph == patient ? 1 : 0;
}

int Scene::colour_of_glyph(int glyph) const {
  if (glyph < 0) return -1;
  if (glyph == agent) return agent_colour;
  return glyph == patient ? patient_colour : -1;
}

Region Scene::region_of_glyph(int glyph) const {
  if (glyph < 0) return Region::None;
  if (glyph == agent) return agent_region;
  return glyph == patient ? patient_region : Region::None;
}

namespace {

Placement place(int glyph, int colour, Role role, float x, float y, float size, Rng& rng, double noise) {
  Placement p;
  p.glyph = glyph;
  p.colour = colour;
  p.role = role;
  p.x = x;
  p.y = y;
  p.size = size;
  p.angle = static_cast<float>(rng.uniform(-0.2, 0.2));
  p.shade = static_cast<float>(rng.uniform(1.0 - 0.15 * std::min(1.0, noise + 0.3), 1.0 + 0.08));
  return p;
}

float jit(Rng& rng, double amount) { return static_cast<float>(rng.uniform(-amount, amount)); }

// Positions of every layout in the 64x64 frame.
void lay_out(Scene& s, const Culture& culture, const SceneConfig& cfg, Rng& rng) {
  const double lo = cfg.glyph_size_min, hi = std::max(cfg.glyph_size_min, cfg.glyph_size_max);
  auto size = [&](double cap) { return static_cast<float>(std::min(rng.uniform(lo, hi), cap)); };
  const std::string& id = culture.relation(s.relation).id;
  const double n = cfg.noise;
  const int a = s.agent, b = s.patient;
  const int ca = s.agent_colour, cb = s.patient_colour;
  s.mirrored = rng.chance(0.5);  // side-by-side layouts: agent on the right
  auto on_left = [&](bool agent) { return agent != s.mirrored; };
  auto x_of = [&](bool agent, float lx, float rx) { return on_left(agent) ? lx : rx; };
  auto side_region = [&](bool agent) { return on_left(agent) ? Region::Left : Region::Right; };
  if (id == "above") {
    const float sa = size(26), sb = size(26);
    float ay = 16 + jit(rng, 2), by = 47 + jit(rng, 2);
    ay = std::max(ay, sa / 2 + 2);
    by = std::min(by, 62 - sb / 2);
    s.placements.push_back(place(a, ca, Role::Agent, 32 + jit(rng, 6), ay, sa, rng, n));
    s.placements.push_back(place(b, cb, Role::Patient, 32 + jit(rng, 6), by, sb, rng, n));
    s.agent_region = Region::Top;
    s.patient_region = Region::Bottom;
    s.mirrored = false;
  } else if (id == "larger") {
    const float sa = static_cast<float>(std::min(hi + rng.uniform(4, 8), 32.0));
    const float sb = static_cast<float>(std::max(10.0, lo - rng.uniform(2, 4)));
    s.placements.push_back(place(a, ca, Role::Agent, x_of(true, 20, 44) + jit(rng, 2), 32 + jit(rng, 4), sa, rng, n));
    s.placements.push_back(place(b, cb, Role::Patient, x_of(false, 16, 48) + jit(rng, 2), 32 + jit(rng, 5), sb, rng, n));
    s.agent_region = side_region(true);
    s.patient_region = side_region(false);
  } else if (id == "arrow" || id == "facing" || id == "balanced") {
    const bool balance = id == "balanced";
    const float cap = balance ? 18 : (id == "arrow" ? 19 : 20);
    const float sa = size(cap), sb = size(cap);
    const float lx = id == "arrow" ? 12 : 15, rx = 64 - lx;
    float ya = 32 + jit(rng, 5), yb = 32 + jit(rng, 5);
    if (balance) {
      ya = 43 - sa / 2;
      yb = 43 - sb / 2;
    }
    s.placements.push_back(place(a, ca, Role::Agent, x_of(true, lx, rx) + jit(rng, 1), ya, sa, rng, n));
    s.placements.push_back(place(b, cb, Role::Patient, x_of(false, lx, rx) + jit(rng, 1), yb, sb, rng, n));
    s.agent_region = side_region(true);
    s.patient_region = side_region(false);
  } else if (id == "caged") {
    const float sa = size(20);
    const float sb = static_cast<float>(std::clamp(lo - 1, 10.0, 16.0));
    s.placements.push_back(place(a, ca, Role::Agent, x_of(true, 15, 49) + jit(rng, 2), 32 + jit(rng, 6), sa, rng, n));
    s.placements.push_back(place(b, cb, Role::Patient, x_of(false, 20, 44), 32, sb, rng, n));
    s.placements.back().angle = 0;
    s.agent_region = side_region(true);
    s.patient_region = side_region(false);
  } else if (id == "surrounded") {
    const float sb = static_cast<float>(std::clamp(lo, 12.0, 18.0));
    const float sa = static_cast<float>(std::clamp(lo - 2, 11.0, 16.0));
    s.placements.push_back(place(b, cb, Role::Patient, 32 + jit(rng, 2), 32 + jit(rng, 2), sb, rng, n));
    const double start = rng.uniform(0, 6.283185307179586);
    const float radius = 30 - sa / 2 - 1;
    for (int k = 0; k < s.agent_count; ++k) {
      const double t = start + 6.283185307179586 * k / s.agent_count;
      s.placements.push_back(place(a, ca, Role::Agent, 32 + radius * static_cast<float>(std::cos(t)),
                                   32 + radius * static_cast<float>(std::sin(t)), sa, rng, n));
    }
    s.patient_region = Region::Centre;
    s.agent_region = Region::None;
    s.mirrored = false;
  } else {  // unary: cracked, haloed, crossed
    const float sa = static_cast<float>(std::min(hi + rng.uniform(2, 8), id == "haloed" ? 30.0 : 34.0));
    s.placements.push_back(place(a, ca, Role::Agent, 32 + jit(rng, 3), 32 + jit(rng, 3), sa, rng, n));
    s.agent_region = Region::Centre;
    s.mirrored = false;
  }
}

}  // namespace

Scene sample_scene(const Culture& culture, const SceneConfig& config, Rng& rng, bool allow_heldout) {
  const int glyphs = culture.glyph_count();
  for (int attempt = 0; attempt < 10000; ++attempt) {
    Scene s;
    s.relation = culture.relations()[rng.below(culture.relations().size())];
    const RelationInfo& rel = culture.relation(s.relation);
    s.agent = static_cast<int>(rng.below(static_cast<uint64_t>(glyphs)));
    if (!rel.unary) {
      s.patient = static_cast<int>(rng.below(static_cast<uint64_t>(glyphs)));
      if (culture.concept_of(s.patient) == culture.concept_of(s.agent)) continue;
    }
    s.heldout = culture.is_heldout(s.agent, s.relation) || (s.patient >= 0 && culture.is_heldout(s.patient, s.relation));
    if (s.heldout && !allow_heldout) continue;
    s.agent_colour = static_cast<int>(rng.below(static_cast<uint64_t>(culture.colour_count())));
    if (!rel.unary) s.patient_colour = static_cast<int>(rng.below(static_cast<uint64_t>(culture.colour_count())));
    if (rel.min_symbols >= 3) s.agent_count = rng.between(culture.ring_copies().first, culture.ring_copies().second);
    lay_out(s, culture, config, rng);
    s.pixel_seed = rng.next();
    return s;
  }
  throw_bad_input("cannot draw a scene: the held-out combinations and concepts leave no valid image");
}

std::string message_text(const Culture& culture, int concept_a, int tone_a, int relation, int concept_b,
                         int tone_b) {
  const RelationInfo& rel = culture.relation(relation);
  auto phrase = [&](int concept_id, int tone) {
    std::string out = tone >= 0 ? culture.colour(tone).adjective + " " : "";
    return out + culture.concept_name(concept_id);
  };
  std::string out = phrase(concept_a, tone_a) + " " + rel.verb;
  if (!rel.unary) out += " " + phrase(concept_b, tone_b);
  return out;
}

std::string message(const Scene& s, const Culture& culture, bool with_tone) {
  return message_text(culture, culture.concept_of(s.agent), with_tone ? s.agent_colour : -1, s.relation,
                      s.unary() ? -1 : culture.concept_of(s.patient), with_tone ? s.patient_colour : -1);
}

std::string caption(const Scene& s, const Culture& culture) {
  auto one = [&](int glyph, int colour) {
    const GlyphInfo& g = culture.glyph(glyph);
    const std::string& c = culture.colour(colour).name;
    const bool vowel = c[0] == 'a' || c[0] == 'e' || c[0] == 'i' || c[0] == 'o' || c[0] == 'u';
    return std::string(vowel ? "an " : "a ") + c + " " + g.name;
  };
  const std::string& id = culture.relation(s.relation).id;
  const std::string A = one(s.agent, s.agent_colour);
  if (id == "cracked") return "a cracked " + A.substr(A.find(' ') + 1);
  if (id == "haloed") return A + " with a halo";
  if (id == "crossed") return A + " that is crossed out";
  const std::string B = one(s.patient, s.patient_colour);
  if (id == "above") return A + " above " + B;
  if (id == "larger") return "a large " + A.substr(A.find(' ') + 1) + " next to a small " + B.substr(B.find(' ') + 1);
  if (id == "arrow") return "an arrow from " + A + " to " + B;
  if (id == "facing") return A + " and " + B + " facing each other";
  if (id == "caged") return A + " beside " + B + " in a cage";
  if (id == "balanced") return A + " and " + B + " on a balance";
  if (id == "surrounded")
    return B + " surrounded by " + number_word(s.agent_count) + " " + culture.colour(s.agent_colour).name + " " +
           culture.glyph(s.agent).plural;
  return A + " and " + B;
}

Json scene_json(const Scene& s, const Culture& culture) {
  auto role = [&](Role r) -> Json {
    const int g = s.glyph_of(r);
    if (g < 0) return nullptr;
    const int c = s.colour_of(r);
    return Json{{"glyph", culture.glyph(g).name},       {"concept", culture.concept_name(culture.concept_of(g))},
                {"colour", culture.colour(c).name},      {"tone", culture.colour(c).tone},
                {"count", s.count(g)},                   {"region", region_name(s.region_of(r))}};
  };
  auto round1 = [](float v) { return std::round(static_cast<double>(v) * 10.0) / 10.0; };
  Json placements = Json::array();
  for (const Placement& p : s.placements)
    placements.push_back({{"glyph", culture.glyph(p.glyph).name},
                          {"colour", culture.colour(p.colour).name},
                          {"role", p.role == Role::Agent ? "agent" : "patient"},
                          {"x", round1(p.x)},
                          {"y", round1(p.y)},
                          {"size", round1(p.size)}});
  return Json{{"relation", culture.relation(s.relation).id},
              {"meaning", culture.relation(s.relation).verb},
              {"agent", role(Role::Agent)},
              {"patient", role(Role::Patient)},
              {"symbols", s.total()},
              {"placements", placements},
              {"caption", caption(s, culture)},
              {"message", message(s, culture, true)},
              {"heldout", s.heldout}};
}

}  // namespace mstar::world
