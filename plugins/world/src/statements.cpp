#include "mstar/world/statements.h"

#include <algorithm>
#include <set>

namespace mstar::world {

const char* level_name(Level level) {
  switch (level) {
    case Level::Literal: return "literal";
    case Level::Symbolic: return "symbolic";
    case Level::Implication: return "implication";
  }
  return "?";
}

const char* claim_kind_name(ClaimKind kind) {
  switch (kind) {
    case ClaimKind::Present: return "present";
    case ClaimKind::Colour: return "colour";
    case ClaimKind::Count: return "count";
    case ClaimKind::Total: return "total";
    case ClaimKind::Layout: return "layout";
    case ClaimKind::Position: return "position";
    case ClaimKind::RefConcept: return "ref_concept";
    case ClaimKind::RefTone: return "ref_tone";
    case ClaimKind::RelationMeaning: return "relation_meaning";
    case ClaimKind::Message: return "message";
  }
  return "?";
}

Level level_of(ClaimKind kind) {
  switch (kind) {
    case ClaimKind::RefConcept:
    case ClaimKind::RefTone:
    case ClaimKind::RelationMeaning: return Level::Symbolic;
    case ClaimKind::Message: return Level::Implication;
    default: return Level::Literal;
  }
}

namespace {

// Phrases that point at a role of a layout ("the symbol inside the cage");
// "" where the layout has none beyond position (above, facing, balanced).
std::string role_phrase(const std::string& relation, Role role) {
  const bool agent = role == Role::Agent;
  if (relation == "larger") return agent ? "that is larger" : "that is smaller";
  if (relation == "arrow") return agent ? "where the arrow starts" : "that the arrow points to";
  if (relation == "caged") return agent ? "outside the cage" : "inside the cage";
  if (relation == "surrounded") return agent ? "of the ring" : "inside the ring";
  if (!agent) return "";
  if (relation == "cracked") return "that is cracked";
  if (relation == "haloed") return "with the halo";
  if (relation == "crossed") return "that is crossed out";
  return "";
}

bool binary_relation_matches(const Claim& c, const Scene& s, const Culture& culture) {
  if (c.relation != s.relation) return false;
  if (culture.relation(s.relation).unary) return c.glyph == s.agent && c.glyph2 < 0;
  if (c.glyph == s.agent && c.glyph2 == s.patient) return true;
  return culture.relation(s.relation).symmetric && c.glyph == s.patient && c.glyph2 == s.agent;
}

bool message_matches(const Claim& c, const Scene& s, const Culture& culture) {
  if (c.relation != s.relation) return false;
  auto side_ok = [&](int concept_id, int tone, Role role) {
    return concept_id == culture.concept_of(s.glyph_of(role)) && (tone < 0 || tone == s.colour_of(role));
  };
  if (culture.relation(s.relation).unary) return c.concept_b < 0 && side_ok(c.concept_a, c.tone_a, Role::Agent);
  if (side_ok(c.concept_a, c.tone_a, Role::Agent) && side_ok(c.concept_b, c.tone_b, Role::Patient)) return true;
  return culture.relation(s.relation).symmetric && side_ok(c.concept_a, c.tone_a, Role::Patient) &&
         side_ok(c.concept_b, c.tone_b, Role::Agent);
}

}  // namespace

int resolve(const Ref& ref, const Scene& s) {
  switch (ref.kind) {
    case Ref::Kind::Role:
      if (ref.relation != s.relation) return -1;
      if (ref.role == Role::Patient && s.unary()) return -1;
      return static_cast<int>(ref.role);
    case Ref::Kind::Region:
      if (ref.region == Region::None) return -1;
      if (s.agent_region == ref.region) return 0;
      if (!s.unary() && s.patient_region == ref.region) return 1;
      return -1;
    case Ref::Kind::Colour: {
      const bool a = s.agent_colour == ref.colour;
      const bool b = !s.unary() && s.patient_colour == ref.colour;
      if (a == b) return -1;  // neither, or both: not a unique symbol
      return a ? 0 : 1;
    }
  }
  return -1;
}

std::string ref_noun_phrase(const Ref& ref, const Culture& culture) {
  switch (ref.kind) {
    case Ref::Kind::Role: {
      const std::string& id = culture.relation(ref.relation).id;
      if (id == "surrounded" && ref.role == Role::Agent) return "each symbol of the ring";
      return "the symbol " + role_phrase(id, ref.role);
    }
    case Ref::Kind::Region: return std::string("the symbol ") + region_phrase(ref.region);
    case Ref::Kind::Colour: return "the " + culture.colour(ref.colour).name + " symbol";
  }
  return "the symbol";
}

std::vector<Ref> references(const Scene& s, const Culture& culture, bool allow_colour) {
  std::vector<Ref> refs;
  const std::string& id = culture.relation(s.relation).id;
  for (Role role : {Role::Agent, Role::Patient}) {
    if (role == Role::Patient && s.unary()) continue;
    if (!role_phrase(id, role).empty()) {
      Ref r;
      r.kind = Ref::Kind::Role;
      r.relation = s.relation;
      r.role = role;
      refs.push_back(r);
    }
    if (s.region_of(role) != Region::None) {
      Ref r;
      r.kind = Ref::Kind::Region;
      r.region = s.region_of(role);
      refs.push_back(r);
    }
    if (allow_colour && !s.unary() && s.agent_colour != s.patient_colour) {
      Ref r;
      r.kind = Ref::Kind::Colour;
      r.colour = s.colour_of(role);
      refs.push_back(r);
    }
  }
  return refs;
}

bool holds(const Claim& c, const Scene& s, const Culture& culture) {
  switch (c.kind) {
    case ClaimKind::Present: return s.count(c.glyph) > 0;
    case ClaimKind::Colour: return s.count(c.glyph) > 0 && s.colour_of_glyph(c.glyph) == c.colour;
    case ClaimKind::Count: return s.count(c.glyph) == c.number;
    case ClaimKind::Total: return s.total() == c.number;
    case ClaimKind::Layout: return binary_relation_matches(c, s, culture);
    case ClaimKind::Position: return s.count(c.glyph) > 0 && s.region_of_glyph(c.glyph) == c.region;
    case ClaimKind::RefConcept: {
      const int role = resolve(c.ref, s);
      return role >= 0 && culture.concept_of(s.glyph_of(static_cast<Role>(role))) == c.concept_a;
    }
    case ClaimKind::RefTone: {
      const int role = resolve(c.ref, s);
      return role >= 0 && s.colour_of(static_cast<Role>(role)) == c.tone_a;
    }
    case ClaimKind::RelationMeaning: return s.relation == c.relation;
    case ClaimKind::Message: return message_matches(c, s, culture);
  }
  return false;
}

std::string claim_text(const Claim& c, const Culture& culture) {
  auto name = [&](int g) { return culture.glyph(g).name; };
  switch (c.kind) {
    case ClaimKind::Present:
      return "there is " + culture.glyph(c.glyph).article + " " + name(c.glyph) + " in the image.";
    case ClaimKind::Colour: return "the " + name(c.glyph) + " is " + culture.colour(c.colour).name + ".";
    case ClaimKind::Count:
      return std::string("the image shows ") + number_word(c.number) + " " +
             (c.number == 1 ? name(c.glyph) : culture.glyph(c.glyph).plural) + ".";
    case ClaimKind::Total:
      return c.number == 1 ? std::string("there is one symbol in the image.")
                           : std::string("there are ") + number_word(c.number) + " symbols in the image.";
    case ClaimKind::Layout: {
      const std::string& id = culture.relation(c.relation).id;
      const std::string A = name(c.glyph);
      if (id == "cracked") return "the " + A + " is cracked.";
      if (id == "haloed") return "the " + A + " has a halo.";
      if (id == "crossed") return "the " + A + " is crossed out.";
      const std::string B = name(c.glyph2);
      if (id == "above") return "the " + A + " is above the " + B + ".";
      if (id == "larger") return "the " + A + " is larger than the " + B + ".";
      if (id == "arrow") return "an arrow points from the " + A + " to the " + B + ".";
      if (id == "facing") return "the " + A + " and the " + B + " face each other.";
      if (id == "caged") return "the " + B + " is in a cage next to the " + A + ".";
      if (id == "balanced") return "the " + A + " and the " + B + " sit on a balance.";
      if (id == "surrounded") return "the " + B + " is surrounded by " + culture.glyph(c.glyph).plural + ".";
      return "the " + A + " and the " + B + " are together.";
    }
    case ClaimKind::Position: return "the " + name(c.glyph) + " is " + region_phrase(c.region) + ".";
    case ClaimKind::RefConcept:
      return ref_noun_phrase(c.ref, culture) + " stands for " + culture.concept_name(c.concept_a) + ".";
    case ClaimKind::RefTone:
      return "the colour of " + ref_noun_phrase(c.ref, culture) + " conveys " + culture.colour(c.tone_a).tone + ".";
    case ClaimKind::RelationMeaning:
      return "the arrangement of the symbols expresses " + culture.relation(c.relation).noun + ".";
    case ClaimKind::Message:
      return "the image says that " + message_text(culture, c.concept_a, c.tone_a, c.relation, c.concept_b, c.tone_b) + ".";
  }
  return "";
}

namespace {

// Collects candidates, checking each label and dropping repeated texts.
class Collector {
 public:
  Collector(const Scene& s, const Culture& culture, bool train) : s_(s), culture_(culture), train_(train) {}

  void add(const Claim& c, bool intended) {
    if (train_ && names_heldout(c)) return;
    if (holds(c, s_, culture_) != intended) return;
    std::string text = claim_text(c, culture_);
    if (!texts_.insert(text).second) return;
    out_.push_back({c, std::move(text), intended});
  }
  std::vector<Candidate> take() { return std::move(out_); }

 private:
  bool names_heldout(const Claim& c) const {
    if (c.kind != ClaimKind::Layout) return false;
    return culture_.is_heldout(c.glyph, c.relation) || (c.glyph2 >= 0 && culture_.is_heldout(c.glyph2, c.relation));
  }
  const Scene& s_;
  const Culture& culture_;
  bool train_;
  std::set<std::string> texts_;
  std::vector<Candidate> out_;
};

// Up to `n` distinct values of `pool` other than those in `exclude`, in random order.
std::vector<int> others(std::vector<int> pool, std::initializer_list<int> exclude, size_t n, Rng& rng) {
  pool.erase(std::remove_if(pool.begin(), pool.end(),
                            [&](int v) { return std::find(exclude.begin(), exclude.end(), v) != exclude.end(); }),
             pool.end());
  rng.shuffle(pool);
  if (pool.size() > n) pool.resize(n);
  return pool;
}

std::vector<int> range_of(int n) {
  std::vector<int> v;
  for (int i = 0; i < n; ++i) v.push_back(i);
  return v;
}

Claim with_distractor(Claim c, const char* how) {
  c.distractor = how;
  return c;
}

}  // namespace

std::vector<Candidate> candidate_statements(const Scene& s, const Culture& culture, Rng& rng, bool train) {
  Collector out(s, culture, train);
  const RelationInfo& rel = culture.relation(s.relation);
  const std::vector<int> glyphs = range_of(culture.glyph_count());
  const std::vector<int> colours = range_of(culture.colour_count());
  std::vector<int> same_arity, other_arity;
  for (int r : culture.relations())
    (culture.relation(r).unary == rel.unary ? same_arity : other_arity).push_back(r);
  std::vector<int> present{s.agent};
  if (!s.unary()) present.push_back(s.patient);

  // ---- literal ----
  for (int g : present) {
    Claim c;
    c.glyph = g;
    c.kind = ClaimKind::Present;
    out.add(c, true);
    c.kind = ClaimKind::Colour;
    c.colour = s.colour_of_glyph(g);
    out.add(c, true);
    for (int wrong : others(colours, {c.colour}, 2, rng)) {
      c.colour = wrong;
      out.add(with_distractor(c, "wrong_colour"), false);
    }
    c = Claim{};
    c.kind = ClaimKind::Count;
    c.glyph = g;
    c.number = s.count(g);
    out.add(c, true);
    for (int wrong : others(culture.possible_glyph_counts(), {c.number}, 2, rng)) {
      c.number = wrong;
      out.add(with_distractor(c, "wrong_count"), false);
    }
    if (s.region_of_glyph(g) != Region::None) {
      c = Claim{};
      c.kind = ClaimKind::Position;
      c.glyph = g;
      c.region = s.region_of_glyph(g);
      out.add(c, true);
      for (int wrong : others({0, 1, 2, 3, 4}, {static_cast<int>(c.region)}, 2, rng)) {
        c.region = static_cast<Region>(wrong);
        out.add(with_distractor(c, "wrong_position"), false);
      }
    }
  }
  const std::vector<int> absent = others(glyphs, {s.agent, s.patient}, 3, rng);
  for (int g : absent) {
    Claim c;
    c.kind = ClaimKind::Present;
    c.glyph = g;
    out.add(with_distractor(c, "absent_glyph"), false);
  }
  {
    Claim c;
    c.kind = ClaimKind::Total;
    c.number = s.total();
    out.add(c, true);
    for (int wrong : others(culture.possible_totals(), {c.number}, 2, rng)) {
      c.number = wrong;
      out.add(with_distractor(c, "wrong_count"), false);
    }
  }
  {
    Claim c;
    c.kind = ClaimKind::Layout;
    c.relation = s.relation;
    c.glyph = s.agent;
    c.glyph2 = s.patient;
    out.add(c, true);
    if (!rel.unary && !rel.symmetric) {
      Claim w = c;
      std::swap(w.glyph, w.glyph2);
      out.add(with_distractor(w, "swapped_roles"), false);
    }
    for (int r : others(same_arity, {s.relation}, 2, rng)) {
      Claim w = c;
      w.relation = r;
      out.add(with_distractor(w, "flipped_relation"), false);
    }
    if (!absent.empty()) {
      Claim w = c;
      if (!rel.unary && rng.chance(0.5)) w.glyph2 = absent[0];
      else w.glyph = absent[0];
      out.add(with_distractor(w, "wrong_glyph"), false);
    }
    if (!other_arity.empty()) {
      Claim w = c;
      w.relation = rng.pick(other_arity);
      if (culture.relation(w.relation).unary) {
        w.glyph = rng.pick(present);
        w.glyph2 = -1;
      } else if (!absent.empty()) {
        w.glyph2 = absent.back();
        if (rng.chance(0.5)) std::swap(w.glyph, w.glyph2);
      }
      if (culture.relation(w.relation).unary || w.glyph2 >= 0) out.add(with_distractor(w, "flipped_relation"), false);
    }
  }

  // ---- symbolic ----
  const std::vector<int>& concepts = culture.concepts();
  for (const Ref& ref : references(s, culture, true)) {
    const Role role = static_cast<Role>(resolve(ref, s));
    const int concept_id = culture.concept_of(s.glyph_of(role));
    Claim c;
    c.kind = ClaimKind::RefConcept;
    c.ref = ref;
    c.concept_a = concept_id;
    out.add(c, true);
    if (!s.unary()) {
      c.concept_a = culture.concept_of(s.glyph_of(role == Role::Agent ? Role::Patient : Role::Agent));
      out.add(with_distractor(c, "other_symbol"), false);
    }
    for (int wrong : others(concepts, {concept_id, c.concept_a}, 1, rng)) {
      c.concept_a = wrong;
      out.add(with_distractor(c, "wrong_concept"), false);
    }
    if (ref.kind == Ref::Kind::Colour) continue;  // "the colour of the red symbol" would give the tone away
    Claim t;
    t.kind = ClaimKind::RefTone;
    t.ref = ref;
    t.tone_a = s.colour_of(role);
    out.add(t, true);
    for (int wrong : others(colours, {t.tone_a}, 1, rng)) {
      t.tone_a = wrong;
      out.add(with_distractor(t, "wrong_tone"), false);
    }
  }
  {
    Claim c;
    c.kind = ClaimKind::RelationMeaning;
    c.relation = s.relation;
    out.add(c, true);
    std::vector<int> all = culture.relations();
    for (int r : others(all, {s.relation}, 2, rng)) {
      c.relation = r;
      out.add(with_distractor(c, "flipped_relation"), false);
    }
  }

  // ---- implication ----
  for (bool toned : {false, true}) {
    Claim c;
    c.kind = ClaimKind::Message;
    c.relation = s.relation;
    c.concept_a = culture.concept_of(s.agent);
    c.tone_a = toned ? s.agent_colour : -1;
    if (!rel.unary) {
      c.concept_b = culture.concept_of(s.patient);
      c.tone_b = toned ? s.patient_colour : -1;
    }
    out.add(c, true);
    if (!rel.unary && !rel.symmetric) {
      Claim w = c;
      std::swap(w.concept_a, w.concept_b);
      std::swap(w.tone_a, w.tone_b);
      out.add(with_distractor(w, "swapped_roles"), false);
    }
    for (int wrong : others(concepts, {c.concept_a, c.concept_b}, 1, rng)) {
      Claim w = c;
      if (!rel.unary && rng.chance(0.5)) w.concept_b = wrong;
      else w.concept_a = wrong;
      out.add(with_distractor(w, "wrong_concept"), false);
    }
    for (int r : others(same_arity, {s.relation}, 1, rng)) {
      Claim w = c;
      w.relation = r;
      out.add(with_distractor(w, "flipped_relation"), false);
    }
    if (toned) {
      Claim w = c;
      const bool on_b = !rel.unary && rng.chance(0.5);
      int& tone = on_b ? w.tone_b : w.tone_a;
      const std::vector<int> wrong = others(colours, {tone}, 1, rng);
      if (!wrong.empty()) {
        tone = wrong[0];
        out.add(with_distractor(w, "wrong_tone"), false);
      }
    }
  }
  return out.take();
}

}  // namespace mstar::world
