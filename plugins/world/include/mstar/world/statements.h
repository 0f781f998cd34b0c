// True/False statements about a scene. A statement is a Claim (data) that
// renders to text and is checked against the scene by holds(): labels are
// always computed, never assumed, so a distractor that happens to be true
// (e.g. swapped roles of a symmetric relation) is labelled T or dropped.
//
// No statement's truth may follow from its text alone. The culture is fixed
// per world, so "the crown stands for power" would be answerable without the
// image; symbolic statements therefore point at symbols by position, role or
// colour ("the symbol at the top stands for power"), never by name.
#pragma once

#include <string>
#include <vector>

#include "mstar/world/culture.h"
#include "mstar/world/rng.h"
#include "mstar/world/scene.h"

namespace mstar::world {

enum class Level { Literal, Symbolic, Implication };
const char* level_name(Level level);  // "literal", "symbolic", "implication"

enum class ClaimKind {
  Present,          // literal: there is a crown in the image
  Colour,           // literal: the crown is red
  Count,            // literal: the image shows two crowns
  Total,            // literal: there are three symbols in the image
  Layout,           // literal: the crown is above the heart
  Position,         // literal: the crown is at the top
  RefConcept,       // symbolic: the symbol at the top stands for power
  RefTone,          // symbolic: the colour of the symbol at the top conveys anger
  RelationMeaning,  // symbolic: the arrangement of the symbols expresses dominance
  Message,          // implication: the image says that angry power dominates calm time
};
const char* claim_kind_name(ClaimKind kind);
Level level_of(ClaimKind kind);

// How a symbolic statement points at a symbol of the image.
struct Ref {
  enum class Kind { Role, Region, Colour };
  Kind kind = Kind::Region;
  int relation = -1;           // Role: the layout whose role is meant
  Role role = Role::Agent;     // Role
  Region region = Region::None;  // Region
  int colour = -1;             // Colour
};

struct Claim {
  ClaimKind kind = ClaimKind::Present;
  int glyph = -1, glyph2 = -1;  // Present, Colour, Count, Position, Layout (glyph2: patient)
  int colour = -1;              // Colour
  int number = -1;              // Count, Total
  int relation = -1;            // Layout, RelationMeaning, Message
  Region region = Region::None;  // Position
  Ref ref;                      // RefConcept, RefTone
  int concept_a = -1, concept_b = -1;  // RefConcept (a), Message
  int tone_a = -1, tone_b = -1;        // RefTone (a), Message; colour indices, -1 = no tone
  std::string distractor;       // how a false candidate was made; "" for true ones

  Level level() const { return level_of(kind); }
};

bool holds(const Claim& claim, const Scene& scene, const Culture& culture);
// Lower-case sentence ending with '.', without the "<image>" prefix.
std::string claim_text(const Claim& claim, const Culture& culture);
// The role a reference points at in `scene`, or -1 when it points at nothing
// (or at more than one symbol).
int resolve(const Ref& ref, const Scene& scene);
std::string ref_noun_phrase(const Ref& ref, const Culture& culture);
// References usable for `scene` (each resolves to exactly one role).
std::vector<Ref> references(const Scene& scene, const Culture& culture, bool allow_colour);

// True statements and plausible distractors for one scene, each labelled by
// holds() (candidates whose label disagrees with their construction are
// dropped), without duplicate texts. With `train`, statements that name a
// held-out (glyph, relation) combination are left out, so that train text
// never mentions one.
struct Candidate {
  Claim claim;
  std::string text;
  bool truth = false;
};
std::vector<Candidate> candidate_statements(const Scene& scene, const Culture& culture, Rng& rng, bool train);

}  // namespace mstar::world
