// Sweeps, narrowing (--set-sweep): edits the parsed sweep where the key
// varies, then renders it back into the experiment.
#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "config/sweep_ast.h"

namespace mstar::config {

using detail::Diagnostics;
using detail::hint;
using detail::list_of;
using detail::pointer_join;
using sweeps::Block;
using sweeps::Factor;
using sweeps::Table;

namespace {

// Splits "a,b,[1,2],'x,y'" at the commas outside brackets and quotes.
std::vector<std::string> split_values(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  char quote = 0;
  for (char c : text) {
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      --depth;
    } else if (c == ',' && depth == 0) {
      out.push_back(cur);
      cur.clear();
      continue;
    }
    cur += c;
  }
  out.push_back(cur);
  return out;
}

bool contains_value(const std::vector<Json>& values, const Json& v) {
  return std::any_of(values.begin(), values.end(), [&](const Json& x) { return detail::values_equal(x, v); });
}

void erase_locs_under(std::map<std::string, SourceLoc>& locs, const std::string& ptr) {
  for (auto it = locs.lower_bound(ptr); it != locs.end();) {
    if (it->first != ptr && it->first.rfind(ptr + "/", 0) != 0) break;
    it = locs.erase(it);
  }
}

// A factor (a table or a random block) where a key varies, and the JSON
// pointer of its block.
struct Place {
  Factor* factor;
  std::string block_ptr;
};

std::vector<Place> places_of(Block& root, const std::string& key) {
  std::vector<Place> out;
  sweeps::for_each_block(root, "/sweep", [&](Block& b, const std::string& ptr) {
    for (auto& f : b.factors)
      if (!std::holds_alternative<sweeps::Union>(f) && sweeps::factor_keys(f, false).count(key))
        out.push_back({&f, ptr});
  });
  return out;
}

// Keeps the rows of a table whose value of `key` is listed (rows without the
// key stay); a random distribution of `key` becomes a choice of the listed
// values. The listed values found go to `matched`.
void select(Factor& f, const std::string& key, const std::vector<Json>& values, std::vector<Json>& matched) {
  auto note = [&](const Json& v) {
    if (contains_value(values, v) && !contains_value(matched, v)) matched.push_back(v);
  };
  if (auto* t = std::get_if<Table>(&f)) {
    std::vector<Json> kept;
    for (auto& row : t->rows) {
      if (row.contains(key)) {
        note(row[key]);
        if (!contains_value(values, row[key])) continue;
      }
      kept.push_back(std::move(row));
    }
    t->rows = std::move(kept);
    return;
  }
  for (auto& p : std::get<sweeps::Random>(f).params) {
    if (p.key != key) continue;
    p.dist = sweeps::Dist::Choice;
    p.choices = values;
    p.spec = Json{{"choice", values}};
  }
  for (const auto& v : values) note(v);
}

// True when the sweep yields no assignment (an emptied table); drops the
// emptied union entries on the way.
bool prune(Block& root) {
  auto yields_nothing = [](const Block& b) {
    return std::any_of(b.factors.begin(), b.factors.end(), [](const Factor& f) {
      if (const auto* t = std::get_if<Table>(&f)) return t->rows.empty();
      if (const auto* u = std::get_if<sweeps::Union>(&f)) return u->blocks.empty();
      return false;
    });
  };
  sweeps::for_each_block(root, "/sweep", [&](Block& b, const std::string&) {
    for (auto& f : b.factors)
      if (auto* u = std::get_if<sweeps::Union>(&f)) std::erase_if(u->blocks, yields_nothing);
  });
  return yields_nothing(root);
}

}  // namespace

void narrow_sweep(Experiment& target, const std::vector<std::string>& set_sweep_args) {
  Diagnostics diag;
  Experiment exp = target;  // committed only when every argument applies
  sweeps::Sweep s = sweeps::parse_checked(exp.sweep);
  bool has_sweep = !exp.sweep.is_null();
  for (const auto& arg : set_sweep_args) {
    const SourceLoc where{"--set-sweep '" + arg + "'"};
    const size_t eq = arg.find('=');
    std::string key = arg.substr(0, eq);
    key.erase(0, key.find_first_not_of(" \t"));
    key.erase(key.find_last_not_of(" \t") + 1);
    if (eq == std::string::npos || key.empty() || eq + 1 >= arg.size()) {
      diag.add(where, "expected KEY=V1,V2,... (e.g. base.size=S,M)");
      continue;
    }
    std::vector<Json> values;
    bool ok = true;
    for (const auto& text : split_values(arg.substr(eq + 1))) {
      try {
        detail::LocMap scratch;
        detail::OJson v = detail::yaml_to_json(YAML::Load(text), where.file, "", scratch, diag, &where);
        Json pv = detail::to_plain(v);
        if (!contains_value(values, pv)) values.push_back(pv);
      } catch (const YAML::Exception& e) {
        diag.add(where, "cannot parse '" + text + "' as YAML: " + e.msg);
        ok = false;
      }
    }
    if (!ok) continue;

    if (key == "seed" || key == "seeds") {
      Json seeds = Json::array();
      for (const auto& v : values) {
        if (!v.is_number_integer()) {
          diag.add(where, "seeds: expected ints, got " + detail::show(v));
          ok = false;
        }
        seeds.push_back(v);
      }
      if (!ok) continue;
      s.seeds_src = seeds;
      has_sweep = true;
      erase_locs_under(exp.locs, "/sweep/seeds");
      exp.locs["/sweep/seeds"] = where;
      continue;
    }

    const std::vector<Place> places = places_of(s.root, key);
    if (places.empty()) {
      const auto keys = sweeps::block_keys(s.root, false);
      const std::vector<std::string> axes(keys.begin(), keys.end());
      diag.add(where, "'" + key + "' is not a sweep axis" + hint(key, axes) + "; axes: " +
                          (axes.empty() ? "(none)" : list_of(axes)) + ", seeds");
      continue;
    }
    if (auto* grid = places.size() == 1 ? std::get_if<Table>(places[0].factor) : nullptr;
        grid && grid->construct == Table::Construct::Grid) {
      // The one place the key varies: replace its values (new ones allowed).
      grid->rows.clear();
      for (const auto& v : values) grid->rows.push_back(Json{{key, v}});
      const std::string ptr = pointer_join(pointer_join(places[0].block_ptr, "grid"), key);
      erase_locs_under(exp.locs, ptr);
      exp.locs[ptr] = where;
      continue;
    }
    // Several places (union branches, zip, points, random): keep the listed values.
    std::vector<Json> matched;
    for (const auto& place : places) select(*place.factor, key, values, matched);
    std::vector<std::string> missing;
    for (const auto& v : values)
      if (!contains_value(matched, v)) missing.push_back(detail::value_text(v));
    if (!missing.empty()) {
      diag.add(where, "'" + key + "' takes no value " + detail::join(missing, ", ") +
                          " in this sweep: where a key varies in several places (union, zip, points), "
                          "--set-sweep only selects among the values already listed");
      continue;
    }
    if (prune(s.root)) diag.add(where, "no trial is left in the sweep");
  }
  exp.sweep = has_sweep ? sweeps::render(s) : Json();
  exp.raw["sweep"] = exp.sweep;
  exp.sweep_loc = exp.loc_of("/sweep");
  if (diag.empty()) detail::check_sweep(exp, diag);
  diag.throw_if_any();
  target = std::move(exp);
}

}  // namespace mstar::config
