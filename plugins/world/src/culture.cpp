#include "mstar/world/culture.h"

#include <algorithm>
#include <cmath>

#include "mstar/error.h"
#include "mstar/world/rng.h"

namespace mstar::world {

const std::vector<std::string>& concept_catalogue() {
  static const std::vector<std::string> concepts = {
      "power", "time",   "love",   "money", "knowledge", "hope",  "freedom", "faith",
      "danger", "home",  "nature", "truth", "war",       "fame",  "peace",   "youth"};
  return concepts;
}

// Order matters: the first N glyphs are the active ones, and the first 24
// cover the first 12 concepts twice each, so 24 glyphs give every one of 12
// concepts two symbols (as real cultures do: crown and sword both mean power).
const std::vector<GlyphInfo>& glyph_catalogue() {
  static const std::vector<GlyphInfo> glyphs = {
      {"crown", "crowns", "a", 0},       {"hourglass", "hourglasses", "an", 1},
      {"heart", "hearts", "a", 2},       {"coin", "coins", "a", 3},
      {"key", "keys", "a", 4},           {"sun", "suns", "a", 5},
      {"butterfly", "butterflies", "a", 6}, {"cross", "crosses", "a", 7},
      {"bolt", "bolts", "a", 8},         {"house", "houses", "a", 9},
      {"tree", "trees", "a", 10},        {"eye", "eyes", "an", 11},
      {"sword", "swords", "a", 0},       {"candle", "candles", "a", 1},
      {"apple", "apples", "an", 2},      {"diamond", "diamonds", "a", 3},
      {"ladder", "ladders", "a", 4},     {"star", "stars", "a", 5},
      {"flag", "flags", "a", 6},         {"bell", "bells", "a", 7},
      {"mushroom", "mushrooms", "a", 8}, {"umbrella", "umbrellas", "an", 9},
      {"mountain", "mountains", "a", 10}, {"moon", "moons", "a", 11},
      {"shield", "shields", "a", 12},    {"chalice", "chalices", "a", 13},
      {"drop", "drops", "a", 14},        {"fish", "fish", "a", 15},
      {"lock", "locks", "a", 9},
  };
  return glyphs;
}

const std::vector<ColourInfo>& colour_catalogue() {
  static const std::vector<ColourInfo> colours = {
      {"red", {205, 35, 35}, "anger", "angry"},
      {"blue", {35, 75, 210}, "calm", "calm"},
      {"green", {30, 150, 55}, "envy", "envious"},
      {"yellow", {235, 185, 15}, "joy", "joyful"},
      {"purple", {135, 45, 175}, "mystery", "mysterious"},
      {"black", {28, 28, 32}, "fear", "fearful"},
      {"orange", {240, 115, 15}, "passion", "passionate"},
      {"pink", {235, 105, 170}, "tenderness", "tender"},
  };
  return colours;
}

const std::vector<RelationInfo>& relation_catalogue() {
  static const std::vector<RelationInfo> relations = {
      {"above", "dominates", "dominance", false, false, 2, "the agent is drawn above the patient",
       "what is above dominates what is below"},
      {"larger", "overshadows", "overshadowing", false, false, 2,
       "the agent is drawn much larger than the patient, side by side", "the larger overshadows the smaller"},
      {"arrow", "leads to", "consequence", false, false, 2, "an arrow points from the agent to the patient",
       "what the arrow starts from leads to what it points to"},
      {"facing", "confronts", "confrontation", false, true, 2,
       "two symbols side by side with wedges pointing at each other", "symbols that face each other confront each other"},
      {"cracked", "is fragile", "fragility", true, false, 1, "one large symbol with a crack through it",
       "a cracked symbol is fragile"},
      {"caged", "constrains", "constraint", false, false, 2, "the patient sits in a cage beside the agent",
       "what stands beside the cage constrains what is inside it"},
      {"balanced", "is weighed against", "weighing", false, true, 2, "two symbols on the ends of a balance beam",
       "symbols on a balance are weighed against each other"},
      {"surrounded", "besieges", "siege", false, false, 3,
       "the patient in the centre, surrounded by two or three copies of the agent",
       "what forms a ring around a symbol besieges it"},
      {"haloed", "is sacred", "sacredness", true, false, 1, "one large symbol inside a ring of dots",
       "a symbol with a halo is sacred"},
      {"crossed", "is rejected", "rejection", true, false, 1, "one large symbol crossed out by an X",
       "a crossed out symbol is rejected"},
  };
  return relations;
}

namespace {

int max_glyphs_drawn(const RelationInfo& r) { return r.min_symbols >= 3 ? 4 : r.min_symbols; }

std::vector<bool> reveal(int count, double fraction, const std::vector<int>& active, Rng& rng) {
  std::vector<bool> out(static_cast<size_t>(count), false);
  std::vector<int> order = active;
  rng.shuffle(order);
  const size_t n = static_cast<size_t>(std::lround(fraction * static_cast<double>(order.size())));
  for (size_t i = 0; i < n && i < order.size(); ++i) out[static_cast<size_t>(order[i])] = true;
  return out;
}

}  // namespace

Culture Culture::build(const CultureConfig& config) {
  const int n_glyphs = static_cast<int>(glyph_catalogue().size());
  const int n_concepts = static_cast<int>(concept_catalogue().size());
  const int n_colours = static_cast<int>(colour_catalogue().size());
  const int n_relations = static_cast<int>(relation_catalogue().size());
  auto check = [](bool ok, const std::string& message) {
    if (!ok) throw_bad_input(message);
  };
  check(config.glyphs >= 2 && config.glyphs <= n_glyphs, "glyphs must be in [2, " + std::to_string(n_glyphs) + "]");
  check(config.concepts >= 2 && config.concepts <= n_concepts,
        "concepts must be in [2, " + std::to_string(n_concepts) + "]");
  check(config.concepts <= config.glyphs, "concepts (" + std::to_string(config.concepts) +
                                              ") cannot exceed glyphs (" + std::to_string(config.glyphs) +
                                              "): every concept needs a symbol");
  check(config.colours >= 2 && config.colours <= n_colours, "colours must be in [2, " + std::to_string(n_colours) + "]");
  check(config.relations >= 1 && config.relations <= n_relations,
        "relations must be in [1, " + std::to_string(n_relations) + "]");
  check(config.min_symbols >= 1 && config.max_symbols <= 4 && config.min_symbols <= config.max_symbols,
        "symbols per image: need 1 <= min_symbols <= max_symbols <= 4");
  check(config.heldout >= 0, "heldout_combos must be >= 0");

  Culture c;
  Rng rng(stream_seed(config.seed, {0xC0170000}));
  c.colours_ = config.colours;
  c.min_symbols_ = config.min_symbols;
  c.max_symbols_ = config.max_symbols;

  // glyph -> concept
  c.glyph_concept_.resize(static_cast<size_t>(config.glyphs));
  if (config.shuffle) {
    std::vector<int> pool;
    for (int g = 0; g < config.glyphs; ++g) pool.push_back(g % config.concepts);
    rng.shuffle(pool);
    c.glyph_concept_ = pool;
  } else {
    for (int g = 0; g < config.glyphs; ++g) {
      const int natural = glyph_catalogue()[static_cast<size_t>(g)].natural_concept;
      c.glyph_concept_[static_cast<size_t>(g)] = natural < config.concepts ? natural : natural % config.concepts;
    }
  }
  for (int concept_id : c.glyph_concept_)
    if (std::find(c.concepts_.begin(), c.concepts_.end(), concept_id) == c.concepts_.end())
      c.concepts_.push_back(concept_id);
  std::sort(c.concepts_.begin(), c.concepts_.end());
  check(c.concepts_.size() >= 2, "the glyphs chosen stand for fewer than 2 concepts");

  for (int r = 0; r < config.relations; ++r) {
    const RelationInfo& info = relation_catalogue()[static_cast<size_t>(r)];
    if (info.min_symbols <= config.max_symbols && max_glyphs_drawn(info) >= config.min_symbols)
      c.relations_.push_back(r);
  }
  check(!c.relations_.empty(), "no relation can be drawn with " + std::to_string(config.min_symbols) + " to " +
                                   std::to_string(config.max_symbols) + " symbols per image");

  // Held-out (glyph, relation) combinations: at most half of a glyph's
  // relations and half of a relation's glyphs, so that train still shows
  // every glyph and every relation.
  c.heldout_table_.assign(static_cast<size_t>(n_glyphs * n_relations), false);
  std::vector<std::pair<int, int>> combos;
  for (int g = 0; g < config.glyphs; ++g)
    for (int r : c.relations_) combos.emplace_back(g, r);
  size_t wanted = config.heldout < 1.0
                      ? static_cast<size_t>(std::lround(config.heldout * static_cast<double>(combos.size())))
                      : static_cast<size_t>(std::lround(config.heldout));
  rng.shuffle(combos);
  std::vector<int> per_glyph(static_cast<size_t>(n_glyphs), 0), per_relation(static_cast<size_t>(n_relations), 0);
  const int glyph_cap = static_cast<int>(c.relations_.size()) / 2;
  const int relation_cap = config.glyphs / 2 - 1;
  for (const auto& [g, r] : combos) {
    if (c.heldout_.size() >= wanted) break;
    if (per_glyph[static_cast<size_t>(g)] >= glyph_cap || per_relation[static_cast<size_t>(r)] >= relation_cap)
      continue;
    ++per_glyph[static_cast<size_t>(g)];
    ++per_relation[static_cast<size_t>(r)];
    c.heldout_.emplace_back(g, r);
    c.heldout_table_[static_cast<size_t>(g * n_relations + r)] = true;
  }
  std::sort(c.heldout_.begin(), c.heldout_.end());

  std::vector<int> glyph_ids, colour_ids;
  for (int g = 0; g < config.glyphs; ++g) glyph_ids.push_back(g);
  for (int k = 0; k < config.colours; ++k) colour_ids.push_back(k);
  c.revealed_glyphs_ = reveal(n_glyphs, config.culture_in_pretrain, glyph_ids, rng);
  c.revealed_colours_ = reveal(n_colours, config.culture_in_pretrain, colour_ids, rng);
  c.revealed_relations_ = reveal(n_relations, config.culture_in_pretrain, c.relations_, rng);
  return c;
}

std::pair<int, int> Culture::ring_copies() const {
  const int lo = std::max(2, min_symbols_ - 1);
  return {lo, std::max(lo, std::min(3, max_symbols_ - 1))};
}

std::vector<int> Culture::possible_glyph_counts() const {
  std::vector<int> out{1};
  for (int r : relations_)
    if (relation(r).min_symbols >= 3)
      for (int n = ring_copies().first; n <= ring_copies().second; ++n) out.push_back(n);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<int> Culture::possible_totals() const {
  std::vector<int> out;
  for (int r : relations_) {
    if (relation(r).min_symbols >= 3) {
      for (int n = ring_copies().first; n <= ring_copies().second; ++n) out.push_back(n + 1);
    } else {
      out.push_back(relation(r).min_symbols);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool Culture::is_heldout(int glyph, int relation) const {
  return heldout_table_[static_cast<size_t>(glyph) * relation_catalogue().size() + static_cast<size_t>(relation)];
}

Json Culture::to_json() const {
  Json glyphs = Json::array();
  for (int g = 0; g < glyph_count(); ++g) {
    Json held = Json::array();
    for (int r : relations_)
      if (is_heldout(g, r)) held.push_back(relation(r).id);
    glyphs.push_back({{"id", g},
                      {"name", glyph(g).name},
                      {"plural", glyph(g).plural},
                      {"concept", concept_name(concept_of(g))},
                      {"heldout_relations", held},
                      {"revealed_in_pretrain", revealed_glyph(g)}});
  }
  Json concepts = Json::array();
  for (int k : concepts_) concepts.push_back(concept_name(k));
  Json colours = Json::array();
  for (int k = 0; k < colours_; ++k)
    colours.push_back({{"name", colour(k).name},
                       {"rgb", {colour(k).rgb[0], colour(k).rgb[1], colour(k).rgb[2]}},
                       {"tone", colour(k).tone},
                       {"adjective", colour(k).adjective},
                       {"revealed_in_pretrain", revealed_colour(k)}});
  Json rels = Json::array();
  for (int r : relations_)
    rels.push_back({{"id", relation(r).id},
                    {"verb", relation(r).verb},
                    {"noun", relation(r).noun},
                    {"unary", relation(r).unary},
                    {"symmetric", relation(r).symmetric},
                    {"layout", relation(r).layout},
                    {"rule", relation(r).rule},
                    {"revealed_in_pretrain", revealed_relation(r)}});
  Json held = Json::array();
  for (const auto& [g, r] : heldout_) held.push_back({{"glyph", glyph(g).name}, {"relation", relation(r).id}});
  return Json{{"glyphs", glyphs}, {"concepts", concepts}, {"colours", colours}, {"relations", rels}, {"heldout", held}};
}

}  // namespace mstar::world
