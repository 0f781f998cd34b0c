// judge/rubric: a deterministic judge for the implication world. It reads
// the row's structured facts (osq.jsonl "facts") and scores the paper's
// five OSQ dimensions from which facts the answer states correctly, using
// the world's catalogues to notice wrong ones:
//
//   surface   the image's symbols are identified (by glyph or meaning)
//   emotion   the tones the colours convey
//   domain    the concepts the symbols stand for
//   rhetoric  the relation the layout expresses (verb or noun)
//   deep      the message: concepts in their roles around the verb, tones on them
//
// Each dimension is in [0, 1]; the score is 1 + round(4 * mean), so nothing
// right is 1 and everything right is 5. docs/benchmarks.md has the details.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <optional>
#include <set>

#include "mstar/judge.h"
#include "mstar/plugin.h"
#include "mstar/world/culture.h"

namespace mstar::judges {

namespace {

using Words = std::vector<std::string>;

Words words_of(std::string_view text) {
  Words out;
  std::string word;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c >= 0x80) {
      word += static_cast<char>(std::tolower(c));
    } else if (!word.empty()) {
      out.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) out.push_back(std::move(word));
  return out;
}

// Start positions of `phrase` (a word sequence) in `words`.
std::vector<size_t> find_phrase(const Words& words, const Words& phrase) {
  std::vector<size_t> at;
  if (phrase.empty() || phrase.size() > words.size()) return at;
  for (size_t i = 0; i + phrase.size() <= words.size(); ++i)
    if (std::equal(phrase.begin(), phrase.end(), words.begin() + static_cast<std::ptrdiff_t>(i))) at.push_back(i);
  return at;
}

// A vocabulary item: the canonical name and the phrases that mention it.
struct Term {
  std::string name;
  std::vector<Words> phrases;
};

std::vector<size_t> mentions(const Words& words, const Term& term) {
  std::vector<size_t> at;
  for (const auto& phrase : term.phrases)
    for (size_t i : find_phrase(words, phrase)) at.push_back(i);
  std::sort(at.begin(), at.end());
  return at;
}

// The world's catalogues as vocabularies.
struct Vocabulary {
  std::vector<Term> concepts, tones, relations, glyphs, colours;
  // Relation verbs alone (the message structure needs the verb).
  std::vector<Term> verbs;

  static const Vocabulary& get() {
    static const Vocabulary v = [] {
      Vocabulary v;
      for (const auto& c : world::concept_catalogue()) v.concepts.push_back({c, {words_of(c)}});
      for (const auto& c : world::colour_catalogue()) {
        v.tones.push_back({c.tone, {words_of(c.tone), words_of(c.adjective)}});
        v.colours.push_back({c.name, {words_of(c.name)}});
      }
      for (const auto& g : world::glyph_catalogue())
        v.glyphs.push_back({g.name, {words_of(g.name), words_of(g.plural)}});
      for (const auto& r : world::relation_catalogue()) {
        Term verb{r.verb, {words_of(r.verb)}};
        Words base = words_of(r.verb);  // "dominates" -> "dominate", "is fragile" -> "are fragile"
        if (base.front() == "is") {
          base.front() = "are";
        } else if (base.front().size() > 1 && base.front().back() == 's') {
          base.front().pop_back();
        }
        verb.phrases.push_back(base);
        v.verbs.push_back(verb);
        verb.phrases.push_back(words_of(r.noun));
        v.relations.push_back(verb);
      }
      return v;
    }();
    return v;
  }
};

const Term* find_term(const std::vector<Term>& terms, const std::string& name) {
  for (const auto& t : terms)
    if (t.name == name) return &t;
  return nullptr;
}

// |expected ∩ named| / |expected ∪ named| over the terms of a vocabulary.
double jaccard(const Words& words, const std::vector<Term>& terms, const std::set<std::string>& expected) {
  std::set<std::string> named;
  for (const auto& t : terms)
    if (!mentions(words, t).empty()) named.insert(t.name);
  std::set<std::string> all = expected;
  all.insert(named.begin(), named.end());
  if (all.empty()) return 1.0;
  size_t both = 0;
  for (const auto& e : expected) both += named.count(e);
  return static_cast<double>(both) / static_cast<double>(all.size());
}

struct Side {
  std::string concept_name, tone, glyph, colour;
};

std::optional<Side> side_of(const Json& j) {
  if (!j.is_object()) return std::nullopt;
  Side s;
  for (auto [key, field] :
       {std::pair{"concept", &s.concept_name}, {"tone", &s.tone}, {"glyph", &s.glyph}, {"colour", &s.colour}}) {
    if (!j.contains(key) || !j[key].is_string()) return std::nullopt;
    *field = j[key].get<std::string>();
  }
  return s;
}

// Is the side's tone word among the two words before position `at`?
bool toned(const Words& words, size_t at, const Side& side) {
  const Term* tone = find_term(Vocabulary::get().tones, side.tone);
  if (!tone) return false;
  for (size_t i : mentions(words, *tone))
    if (i < at && at - i <= 2) return true;
  return false;
}

}  // namespace

class RubricJudge : public Judge {
 public:
  using Interface = Judge;
  static PluginInfo info() {
    PluginInfo i;
    i.kind = "judge";
    i.name = "rubric";
    i.version = "1";
    i.description =
        "Deterministic OSQ judge for the implication world: scores the paper's five dimensions (surface "
        "information, emotional expression, domain and context, rhetorical skill, deep implication) from which of "
        "the row's structured facts the answer states correctly, each in [0, 1], and maps their mean m to "
        "1 + round(4 m) points. Rows without world facts are judge failures.";
    i.examples = {"judge: {plugin: judge/rubric}"};
    return i;
  }
  RubricJudge(const Params&, ComponentHost&) {}

  JudgeResult judge(const Json& item) const override {
    try {
      return score(item);
    } catch (const std::exception& e) {  // a field of the wrong type
      JudgeResult r;
      r.error = std::string("judge/rubric: malformed item: ") + e.what();
      return r;
    }
  }

 private:
  JudgeResult score(const Json& item) const {
    JudgeResult r;
    const Json& facts = item.contains("facts") ? item["facts"] : Json();
    const auto agent = facts.is_object() && facts.contains("agent") ? side_of(facts["agent"]) : std::nullopt;
    const std::string meaning = facts.is_object() ? facts.value("meaning", "") : "";
    const Vocabulary& vocab = Vocabulary::get();
    const Term* verb = find_term(vocab.verbs, meaning);
    if (!agent || !verb) {
      r.error = "judge/rubric: the item has no world facts (facts.agent, facts.meaning)";
      return r;
    }
    std::vector<Side> sides{*agent};
    if (facts.contains("patient") && !facts["patient"].is_null()) {
      auto patient = side_of(facts["patient"]);
      if (!patient) {
        r.error = "judge/rubric: facts.patient is malformed";
        return r;
      }
      sides.push_back(*patient);
    }
    const bool symmetric = facts.value("symmetric", false);
    const Words words = words_of(item.value("response", ""));

    std::set<std::string> concepts, tones, glyphs, colours;
    for (const auto& s : sides) {
      concepts.insert(s.concept_name);
      tones.insert(s.tone);
      glyphs.insert(s.glyph);
      colours.insert(s.colour);
    }

    // surface: sides identified by glyph or concept, over sides + wrong glyph and colour names.
    size_t identified = 0, wrong = 0;
    for (const auto& s : sides) {
      const Term* g = find_term(vocab.glyphs, s.glyph);
      const Term* c = find_term(vocab.concepts, s.concept_name);
      identified += (g && !mentions(words, *g).empty()) || (c && !mentions(words, *c).empty());
    }
    for (const auto& g : vocab.glyphs) wrong += !glyphs.count(g.name) && !mentions(words, g).empty();
    for (const auto& c : vocab.colours) wrong += !colours.count(c.name) && !mentions(words, c).empty();
    const double surface = static_cast<double>(identified) / static_cast<double>(sides.size() + wrong);

    const double emotion = jaccard(words, vocab.tones, tones);
    const double domain = jaccard(words, vocab.concepts, concepts);
    const double rhetoric = jaccard(words, vocab.relations, {meaning});
    const double deep = deep_implication(words, sides, *verb, symmetric);

    r.dimensions = {
        {"surface", surface}, {"emotion", emotion}, {"domain", domain}, {"rhetoric", rhetoric}, {"deep", deep}};
    const double mean = (surface + emotion + domain + rhetoric + deep) / 5.0;
    r.score = 1.0 + static_cast<double>(std::lround(4.0 * mean));
    r.ok = true;
    r.raw = "surface " + fixed(surface) + ", emotion " + fixed(emotion) + ", domain " + fixed(domain) + ", rhetoric " +
            fixed(rhetoric) + ", deep " + fixed(deep);
    return r;
  }

  static std::string fixed(double v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.2f", v);
    return buf;
  }

  // 1 when the answer states the message with its roles (agent concept,
  // verb, patient concept in this order; either order for a symmetric
  // relation) and each concept carries its tone; 0.5 with the roles right
  // but tones missing (proportionally); 0 without the structure.
  static double deep_implication(const Words& words, const std::vector<Side>& sides, const Term& verb, bool symmetric) {
    const Vocabulary& vocab = Vocabulary::get();
    const Term* a = find_term(vocab.concepts, sides[0].concept_name);
    if (!a) return 0;
    const auto agent_at = mentions(words, *a);
    double best = 0;
    for (size_t v : mentions(words, verb)) {
      if (sides.size() == 1) {
        for (size_t i : agent_at)
          if (i < v) best = std::max(best, 0.5 + 0.5 * (toned(words, i, sides[0]) ? 1.0 : 0.0));
        continue;
      }
      const Term* b = find_term(vocab.concepts, sides[1].concept_name);
      if (!b) return 0;
      const auto patient_at = mentions(words, *b);
      auto try_order = [&](const std::vector<size_t>& first, const Side& first_side, const std::vector<size_t>& second,
                           const Side& second_side) {
        for (size_t i : first) {
          if (i >= v) continue;
          for (size_t j : second) {
            if (j <= v) continue;
            const double tones = (toned(words, i, first_side) ? 0.5 : 0.0) + (toned(words, j, second_side) ? 0.5 : 0.0);
            best = std::max(best, 0.5 + 0.5 * tones);
          }
        }
      };
      try_order(agent_at, sides[0], patient_at, sides[1]);
      if (symmetric) try_order(patient_at, sides[1], agent_at, sides[0]);
    }
    return best;
  }
};
MSTAR_COMPONENT(RubricJudge)

}  // namespace mstar::judges
