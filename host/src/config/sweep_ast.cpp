// Sweeps, the parsed form's own operations: the keys of a factor or block,
// and rendering back to the JSON it parses from.
#include "config/sweep_ast.h"

namespace mstar::config::sweeps {

const char* factor_name(const Factor& f) {
  if (const auto* t = std::get_if<Table>(&f)) {
    switch (t->construct) {
      case Table::Construct::Grid: return "grid";
      case Table::Construct::Zip: return "zip";
      case Table::Construct::Points: return "points";
    }
  }
  return std::holds_alternative<Random>(f) ? "random" : "union";
}

std::set<std::string> factor_keys(const Factor& f, bool with_sets) {
  std::set<std::string> keys;
  if (const auto* t = std::get_if<Table>(&f)) {
    keys.insert(t->columns.begin(), t->columns.end());
    for (const auto& row : t->rows)
      for (auto& [k, v] : row.items()) keys.insert(k);
  } else if (const auto* r = std::get_if<Random>(&f)) {
    for (const auto& p : r->params) keys.insert(p.key);
  } else {
    for (const auto& sub : std::get<Union>(f).blocks) {
      auto ks = block_keys(sub, with_sets);
      keys.insert(ks.begin(), ks.end());
    }
  }
  return keys;
}

std::set<std::string> block_keys(const Block& b, bool with_sets) {
  std::set<std::string> keys;
  for_each_block(b, "", [&](const Block& blk, const std::string&) {
    for (const auto& f : blk.factors) {
      if (std::holds_alternative<Union>(f)) continue;  // its blocks are visited
      auto ks = factor_keys(f, with_sets);
      keys.insert(ks.begin(), ks.end());
    }
    if (with_sets && blk.whens)
      for (const auto& r : *blk.whens)
        for (auto& [k, v] : r.set.items()) keys.insert(k);
  });
  return keys;
}

void check_disjoint(const Block& b, const SourceLoc& loc, Diagnostics& diag) {
  // The grid's axes count as one factor.
  std::vector<std::pair<std::string, std::set<std::string>>> factors;
  for (const auto& f : b.factors) {
    const std::string name = factor_name(f);
    auto keys = factor_keys(f, true);
    if (name == "grid" && !factors.empty() && factors.back().first == "grid")
      factors.back().second.insert(keys.begin(), keys.end());
    else
      factors.push_back({name, std::move(keys)});
  }
  for (size_t i = 0; i < factors.size(); ++i)
    for (size_t k = i + 1; k < factors.size(); ++k)
      for (const auto& key : factors[i].second)
        if (factors[k].second.count(key))
          diag.add(loc, "sweep key '" + key + "' is set by both " + factors[i].first + " and " + factors[k].first +
                            "; a key may vary in one factor of a product only");
}

namespace {

Json column(const Table& t, const std::string& key) {
  Json out = Json::array();
  for (const auto& row : t.rows) out.push_back(row.at(key));
  return out;
}

Json render_block(const Block& b) {
  Json out = Json::object();
  Json zips = Json::array();
  for (const auto& f : b.factors) {
    if (const auto* t = std::get_if<Table>(&f)) {
      if (t->construct == Table::Construct::Points) {
        out["points"] = t->rows;
        continue;
      }
      Json& dst = t->construct == Table::Construct::Grid ? out["grid"] : zips.emplace_back(Json::object());
      for (const auto& key : t->columns) dst[key] = column(*t, key);
    } else if (const auto* r = std::get_if<Random>(&f)) {
      Json params = Json::object();
      for (const auto& p : r->params) params[p.key] = p.spec;
      out["random"] = r->src;
      out["random"]["params"] = params;
    } else {
      Json blocks = Json::array();
      for (const auto& sub : std::get<Union>(f).blocks) blocks.push_back(render_block(sub));
      out["union"] = blocks;
    }
  }
  if (!zips.empty()) out["zip"] = b.zip_list ? zips : zips[0];
  if (b.excludes) out["exclude"] = *b.excludes;
  if (b.whens) {
    Json rules = Json::array();
    for (const auto& r : *b.whens) rules.push_back(r.src);
    out["when"] = rules;
  }
  return out;
}

}  // namespace

Json render(const Sweep& s) {
  Json out = render_block(s.root);
  if (!s.seeds_src.is_null()) out["seeds"] = s.seeds_src;
  return out;
}


}  // namespace mstar::config::sweeps
