// The hidden "culture" of the implication world: what is drawn (glyphs,
// colours, layouts) and what it means (concepts, tones, relations). The
// catalogues are fixed tables; a Culture picks the active part of them from
// the difficulty knobs and holds out some (glyph, relation) combinations.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mstar/json.h"

namespace mstar::world {

struct GlyphInfo {
  std::string name;     // "crown"
  std::string plural;   // "crowns"
  std::string article;  // "a" or "an"
  int natural_concept;  // index into concept_catalogue()
};

struct ColourInfo {
  std::string name;  // "red"
  uint8_t rgb[3];
  std::string tone;       // noun: "anger"
  std::string adjective;  // "angry"
};

// A layout and the relation it carries. The agent is the first role
// ("power dominates time"), the patient the second; unary relations have an
// agent only.
struct RelationInfo {
  std::string id;      // layout name: "above"
  std::string verb;    // "dominates", or "is fragile" for unary relations
  std::string noun;    // "dominance"
  bool unary = false;
  bool symmetric = false;  // "A confronts B" == "B confronts A"
  int min_symbols = 1;     // glyphs drawn at least
  std::string layout;      // how it is drawn (documentation, world.json)
  std::string rule;        // the cultural rule, as the SFT trajectories say it
};

const std::vector<GlyphInfo>& glyph_catalogue();       // 29 glyphs
const std::vector<std::string>& concept_catalogue();   // 16 concepts
const std::vector<ColourInfo>& colour_catalogue();     // 8 colours
const std::vector<RelationInfo>& relation_catalogue(); // 10 relations

// Defaults chosen by measurement (docs/data.md, "Choosing the defaults"): an
// S tiny_vlm pretrained for 10 minutes on 2 cores perceives this world. The
// catalogues allow far more (29 glyphs, 16 concepts, 8 colours, 10 relations).
struct CultureConfig {
  int glyphs = 6;
  int concepts = 6;
  int colours = 6;
  int relations = 10;
  int min_symbols = 1;
  int max_symbols = 2;
  bool shuffle = false;     // random glyph -> concept map instead of the natural one
  double heldout = 0.1;     // < 1: fraction of (glyph, relation) combos; >= 1: their number
  double culture_in_pretrain = 0.0;
  uint64_t seed = 0;
};

class Culture {
 public:
  // Throws Error(BadInput) when the knobs leave no usable world.
  static Culture build(const CultureConfig& config);

  int glyph_count() const { return static_cast<int>(glyph_concept_.size()); }
  int colour_count() const { return colours_; }
  const std::vector<int>& concepts() const { return concepts_; }    // active, sorted
  const std::vector<int>& relations() const { return relations_; }  // active, sorted
  int concept_of(int glyph) const { return glyph_concept_.at(glyph); }
  int min_symbols() const { return min_symbols_; }
  int max_symbols() const { return max_symbols_; }
  // Copies of the agent a "surrounded" layout draws: [lo, hi].
  std::pair<int, int> ring_copies() const;
  // Counts a statement may claim: those some image can show, so that no
  // claimed number is false by its text alone.
  std::vector<int> possible_glyph_counts() const;
  std::vector<int> possible_totals() const;

  const GlyphInfo& glyph(int g) const { return glyph_catalogue().at(g); }
  const std::string& concept_name(int c) const { return concept_catalogue().at(c); }
  const ColourInfo& colour(int c) const { return colour_catalogue().at(c); }
  const RelationInfo& relation(int r) const { return relation_catalogue().at(r); }

  bool is_heldout(int glyph, int relation) const;
  const std::vector<std::pair<int, int>>& heldout() const { return heldout_; }

  // Meanings the literal pretraining corpus may reveal (culture_in_pretrain).
  bool revealed_glyph(int g) const { return revealed_glyphs_.at(g); }
  bool revealed_colour(int c) const { return revealed_colours_.at(c); }
  bool revealed_relation(int r) const { return revealed_relations_.at(r); }

  // The tables a judge needs: glyphs with their concepts, colours with
  // tones, relations with their layouts, held-out combinations.
  Json to_json() const;

 private:
  std::vector<int> glyph_concept_;
  std::vector<int> concepts_;
  std::vector<int> relations_;
  int colours_ = 0;
  int min_symbols_ = 1;
  int max_symbols_ = 4;
  std::vector<std::pair<int, int>> heldout_;
  std::vector<bool> heldout_table_;  // glyph * relation_catalogue().size() + relation
  std::vector<bool> revealed_glyphs_, revealed_colours_, revealed_relations_;
};

}  // namespace mstar::world
