#include "tasks.h"

#include <algorithm>
#include <set>

namespace mstar::world::detail {

namespace {

std::vector<int> shuffled_without(std::vector<int> pool, std::initializer_list<int> exclude, Rng& rng) {
  pool.erase(std::remove_if(pool.begin(), pool.end(),
                            [&](int v) { return std::find(exclude.begin(), exclude.end(), v) != exclude.end(); }),
             pool.end());
  rng.shuffle(pool);
  return pool;
}

std::vector<Role> roles(const Scene& s) {
  return s.unary() ? std::vector<Role>{Role::Agent} : std::vector<Role>{Role::Agent, Role::Patient};
}

}  // namespace

Json mcq_task(const Scene& s, const Culture& culture, Rng& rng) {
  const RelationInfo& rel = culture.relation(s.relation);
  std::vector<int> same, same_asymmetric;
  for (int r : culture.relations()) {
    if (r == s.relation || culture.relation(r).unary != rel.unary) continue;
    same.push_back(r);
    if (!culture.relation(r).symmetric) same_asymmetric.push_back(r);
  }
  // Swapped roles ("time dominates power") as the second concept pair needs
  // three asymmetric relations: "A confronts B" and "B confronts A" would be
  // two options saying the same thing.
  const bool swap = !rel.unary && !rel.symmetric && same_asymmetric.size() >= 2 && rng.chance(0.5);
  std::vector<int>& pool = swap ? same_asymmetric : same;
  rng.shuffle(pool);
  std::vector<int> rels{s.relation};
  for (size_t i = 0; i < pool.size() && rels.size() < 3; ++i) rels.push_back(pool[i]);
  const size_t pairs_needed = 6 / rels.size();  // 2, 3 or 6

  const int ca = culture.concept_of(s.agent);
  const int cb = s.unary() ? -1 : culture.concept_of(s.patient);
  std::vector<std::pair<int, int>> pairs{{ca, cb}};
  if (swap) {
    pairs.push_back({cb, ca});  // both concepts in every option
  } else {
    // Vary one slot only, so the fixed slot is shared by all options.
    const bool vary_b = !rel.unary && rng.chance(0.5);
    for (int c : shuffled_without(culture.concepts(), {ca, cb}, rng)) {
      if (pairs.size() == pairs_needed) break;
      pairs.push_back(vary_b ? std::pair<int, int>{ca, c} : std::pair<int, int>{c, cb});
    }
  }
  if (pairs.size() != pairs_needed) return nullptr;

  std::vector<std::pair<std::string, bool>> options;
  for (const auto& [a, b] : pairs)
    for (int r : rels) {
      Claim c;
      c.kind = ClaimKind::Message;
      c.relation = r;
      c.concept_a = a;
      c.concept_b = culture.relation(r).unary ? -1 : b;
      options.push_back({message_text(culture, a, -1, r, c.concept_b, -1), holds(c, s, culture)});
    }
  if (std::count_if(options.begin(), options.end(), [](const auto& o) { return o.second; }) != 1) return nullptr;
  rng.shuffle(options);
  std::string problem = "<image> which message does the image convey?";
  Json texts = Json::array();
  std::string answer;
  for (size_t i = 0; i < options.size(); ++i) {
    const char letter = static_cast<char>('A' + i);
    problem += std::string("\n") + letter + ". " + options[i].first;
    texts.push_back(options[i].first);
    if (options[i].second) answer = std::string(1, letter);
  }
  return Json{{"problem", problem}, {"answer", answer}, {"options", texts},
              {"answer_text", message(s, culture, false)}};
}

Json literal_mcq_task(const Scene& s, const Culture& culture, Rng& rng) {
  std::vector<std::string> truths, falses;
  std::set<std::string> seen;
  for (const Candidate& c : candidate_statements(s, culture, rng, true)) {
    if (c.claim.level() != Level::Literal || !seen.insert(c.text).second) continue;
    (c.truth ? truths : falses).push_back(c.text);
  }
  if (truths.empty() || falses.size() < 5) return nullptr;
  rng.shuffle(falses);
  std::vector<std::pair<std::string, bool>> options{{rng.pick(truths), true}};
  for (size_t i = 0; i < 5; ++i) options.push_back({falses[i], false});
  rng.shuffle(options);
  std::string problem = "<image> which statement is true of the image?", answer;
  for (size_t i = 0; i < options.size(); ++i) {
    const char letter = static_cast<char>('A' + i);
    problem += std::string("\n") + letter + ". " + options[i].first;
    if (options[i].second) answer = std::string(1, letter);
  }
  return Json{{"kind", "mcq"}, {"level", "literal"}, {"problem", problem}, {"answer", answer},
              {"response", "<answer> " + answer + " </answer>"}};
}

Json osq_task(const Scene& s, const Culture& culture) {
  auto side = [&](Role r) -> Json {
    const int g = s.glyph_of(r);
    if (g < 0) return nullptr;
    const int c = s.colour_of(r);
    return Json{{"concept", culture.concept_name(culture.concept_of(g))},
                {"tone", culture.colour(c).tone},
                {"glyph", culture.glyph(g).name},
                {"colour", culture.colour(c).name}};
  };
  const RelationInfo& rel = culture.relation(s.relation);
  Json keywords = Json::array({culture.concept_name(culture.concept_of(s.agent))});
  if (!s.unary()) keywords.push_back(culture.concept_name(culture.concept_of(s.patient)));
  keywords.push_back(rel.verb);
  Json facts{{"relation", rel.id},       {"meaning", rel.verb},
             {"symmetric", rel.symmetric}, {"agent", side(Role::Agent)},
             {"patient", side(Role::Patient)}, {"tone_words", Json::array()}};
  facts["tone_words"].push_back(culture.colour(s.agent_colour).adjective);
  if (!s.unary()) facts["tone_words"].push_back(culture.colour(s.patient_colour).adjective);
  return Json{{"problem", "<image> what message does this image convey? answer in one sentence."},
              {"answer", message(s, culture, true) + "."},
              {"short_answer", message(s, culture, false) + "."},
              {"facts", facts},
              {"keywords", keywords}};
}

std::vector<Json> vqa_tasks(const Scene& s, const Culture& culture, Rng& rng) {
  std::vector<Json> out;
  const std::vector<Role> rs = roles(s);
  const Role any = rng.pick(rs);
  const int g = s.glyph_of(any);
  if (rng.chance(0.5)) {
    out.push_back({{"type", "count"}, {"problem", "<image> how many symbols are in the image?"},
                   {"answer", std::to_string(s.total())}});
  } else {
    out.push_back({{"type", "count"},
                   {"problem", "<image> how many " + culture.glyph(g).plural + " are in the image?"},
                   {"answer", std::to_string(s.count(g))}});
  }
  out.push_back({{"type", "colour"}, {"problem", "<image> what colour is the " + culture.glyph(g).name + "?"},
                 {"answer", culture.colour(s.colour_of(any)).name}});
  std::vector<Role> placed;
  for (Role r : rs)
    if (s.region_of(r) != Region::None) placed.push_back(r);
  if (!placed.empty()) {
    const Role p = rng.pick(placed);
    out.push_back({{"type", "position"},
                   {"problem", "<image> where is the " + culture.glyph(s.glyph_of(p)).name + "?"},
                   {"answer", region_name(s.region_of(p))}});
    const Role q = rng.pick(placed);
    out.push_back({{"type", "identity"},
                   {"problem", std::string("<image> which symbol is ") + region_phrase(s.region_of(q)) + "?"},
                   {"answer", culture.glyph(s.glyph_of(q)).name}});
  }
  return out;
}

std::vector<Json> reasoning_tasks(const Scene& s, const Culture& culture, Rng& rng, int count) {
  std::vector<Json> all;
  std::vector<Ref> refs = references(s, culture, false);
  if (!refs.empty()) {
    const Ref ref = rng.pick(refs);
    const Role role = static_cast<Role>(resolve(ref, s));
    const int g = s.glyph_of(role);
    all.push_back({{"type", "ref_concept"},
                   {"problem", "<image> what does " + ref_noun_phrase(ref, culture) + " stand for?"},
                   {"answer", culture.concept_name(culture.concept_of(g))},
                   {"hops", {culture.glyph(g).name, culture.concept_name(culture.concept_of(g))}}});
    const Ref ref2 = rng.pick(refs);
    const Role role2 = static_cast<Role>(resolve(ref2, s));
    const ColourInfo& colour = culture.colour(s.colour_of(role2));
    all.push_back({{"type", "ref_tone"},
                   {"problem", "<image> what feeling does the colour of " + ref_noun_phrase(ref2, culture) + " convey?"},
                   {"answer", colour.tone},
                   {"hops", {colour.name, colour.tone}}});
  }
  const Role r = rng.pick(roles(s));
  const int g = s.glyph_of(r);
  const std::string concept_name = culture.concept_name(culture.concept_of(g));
  all.push_back({{"type", "concept_colour"},
                 {"problem", "<image> what colour is the symbol that stands for " + concept_name + "?"},
                 {"answer", culture.colour(s.colour_of(r)).name},
                 {"hops", {culture.glyph(g).name, culture.colour(s.colour_of(r)).name}}});
  if (s.region_of(r) != Region::None)
    all.push_back({{"type", "concept_position"},
                   {"problem", "<image> where is the symbol that stands for " + concept_name + "?"},
                   {"answer", region_name(s.region_of(r))},
                   {"hops", {culture.glyph(g).name, region_name(s.region_of(r))}}});
  rng.shuffle(all);
  if (all.size() > static_cast<size_t>(count)) all.resize(static_cast<size_t>(count));
  return all;
}

std::string expert_response(const Scene& s, const Culture& culture, bool truth) {
  std::string t = "<think>the image shows " + caption(s, culture) + ". ";
  for (Role r : roles(s)) {
    const int g = s.glyph_of(r);
    t += "the " + culture.glyph(g).name + " stands for " + culture.concept_name(culture.concept_of(g)) + ". ";
  }
  std::set<int> seen;
  for (Role r : roles(s)) {
    const int c = s.colour_of(r);
    if (!seen.insert(c).second) continue;
    t += culture.colour(c).name + " conveys " + culture.colour(c).tone + ". ";
  }
  t += culture.relation(s.relation).rule + ". ";
  t += "so the image says that " + message(s, culture, true) + ". ";
  t += std::string("the statement is ") + (truth ? "true" : "false") + ".</think>";
  t += std::string("<answer>") + (truth ? "T" : "F") + "</answer>";
  return t;
}

std::vector<Json> culture_reveal_tasks(const Scene& s, const Culture& culture) {
  std::vector<Json> out;
  std::set<int> colours;
  for (Role r : roles(s)) {
    const int g = s.glyph_of(r);
    if (culture.revealed_glyph(g)) {
      const std::string c = culture.concept_name(culture.concept_of(g));
      out.push_back({{"kind", "culture"},
                     {"problem", "<image> what does the " + culture.glyph(g).name + " stand for?"},
                     {"answer", c},
                     {"response", "the " + culture.glyph(g).name + " stands for " + c + "."}});
    }
    const int col = s.colour_of(r);
    if (culture.revealed_colour(col) && colours.insert(col).second) {
      const ColourInfo& info = culture.colour(col);
      out.push_back({{"kind", "culture"},
                     {"problem", "<image> what does the colour " + info.name + " convey here?"},
                     {"answer", info.tone},
                     {"response", info.name + " conveys " + info.tone + "."}});
    }
  }
  if (culture.revealed_relation(s.relation)) {
    const RelationInfo& rel = culture.relation(s.relation);
    out.push_back({{"kind", "culture"},
                   {"problem", "<image> what does the arrangement of the symbols express?"},
                   {"answer", rel.noun},
                   {"response", rel.rule + "."}});
  }
  return out;
}

}  // namespace mstar::world::detail
