// Writing results: a Table as text, CSV, JSON or Markdown, and the `export`
// streams of runs and series.
#include <algorithm>
#include <cmath>
#include <set>
#include <ostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "impl.h"
#include "mstar/registry/query.h"
#include "db/statement.h"

namespace mstar::registry {

namespace {

using OrderedJson = nlohmann::ordered_json;

std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos && (s.empty() || (s.front() != ' ' && s.back() != ' ')))
    return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

OrderedJson json_value(const Value& v) {
  if (const auto* d = std::get_if<double>(&v)) {
    if (!std::isfinite(*d)) return nullptr;
    // Whole numbers (counts, seeds, steps) as JSON integers: 3, not 3.0.
    if (*d == std::floor(*d) && std::fabs(*d) < 9.0e15) return static_cast<int64_t>(*d);
    return *d;
  }
  if (const auto* b = std::get_if<bool>(&v)) return *b;
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  return nullptr;
}

}  // namespace

Format parse_format(std::string_view name, std::vector<Format> allowed, std::string_view option) {
  for (Format f : allowed)
    if (name == to_string(f)) return f;
  std::string list;
  for (Format f : allowed) list += (list.empty() ? "" : ", ") + std::string(to_string(f));
  throw_bad_input(std::string(option) + ": unknown format '" + std::string(name) + "'; use one of " + list);
}

std::string_view to_string(Format f) {
  switch (f) {
    case Format::Table: return "table";
    case Format::Csv: return "csv";
    case Format::Json: return "json";
    case Format::Markdown: return "markdown";
    case Format::Jsonl: return "jsonl";
  }
  return "table";
}

std::string render(const Table& t, Format format) {
  std::string out;
  switch (format) {
    case Format::Csv: {
      for (size_t i = 0; i < t.columns.size(); ++i) out += (i ? "," : "") + csv_cell(t.columns[i]);
      out += "\n";
      for (const auto& row : t.rows) {
        for (size_t i = 0; i < row.size(); ++i) out += (i ? "," : "") + csv_cell(to_text(row[i]));
        out += "\n";
      }
      return out;
    }
    case Format::Json:
    case Format::Jsonl: {
      OrderedJson all = OrderedJson::array();
      for (const auto& row : t.rows) {
        OrderedJson o = OrderedJson::object();
        for (size_t i = 0; i < t.columns.size() && i < row.size(); ++i) o[t.columns[i]] = json_value(row[i]);
        if (format == Format::Jsonl) out += o.dump() + "\n";
        else all.push_back(std::move(o));
      }
      return format == Format::Json ? all.dump(2) + "\n" : out;
    }
    case Format::Table:
    case Format::Markdown: break;
  }
  // Text cells; numbers right-aligned.
  // 6 significant digits, but large numbers (UNIX times, step counts) in full.
  auto cell = [](const Value& v) {
    if (is_missing(v)) return std::string("-");
    const auto* d = std::get_if<double>(&v);
    if (d && std::isfinite(*d) && std::fabs(*d) >= 1e6 && std::fabs(*d) < 1e15) return fmt::format("{:.0f}", *d);
    return to_text(v, 6);
  };
  std::vector<size_t> width(t.columns.size());
  std::vector<bool> numeric(t.columns.size(), false);
  for (size_t i = 0; i < t.columns.size(); ++i) width[i] = t.columns[i].size();
  std::vector<std::vector<std::string>> cells;
  for (const auto& row : t.rows) {
    auto& line = cells.emplace_back();
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
      line.push_back(cell(row[i]));
      // UTF-8 continuation bytes take no column ("±").
      size_t w = 0;
      for (unsigned char c : line.back()) w += (c & 0xC0) != 0x80;
      width[i] = std::max(width[i], w);
      if (std::holds_alternative<double>(row[i])) numeric[i] = true;
    }
  }
  auto pad = [](const std::string& s, size_t w, bool right) {
    size_t len = 0;
    for (unsigned char c : s) len += (c & 0xC0) != 0x80;
    const std::string fill(w > len ? w - len : 0, ' ');
    return right ? fill + s : s + fill;
  };
  const bool md = format == Format::Markdown;
  auto emit = [&](const std::vector<std::string>& line) {
    std::string s = md ? "|" : "";
    for (size_t i = 0; i < width.size(); ++i) {
      std::string c = i < line.size() ? line[i] : "";
      if (md) {
        std::string esc;
        for (char ch : c) esc += ch == '|' ? std::string("\\|") : std::string(1, ch);
        c = esc;
      }
      const std::string padded = pad(c, width[i], numeric[i]);
      s += md ? " " + padded + " |" : (i ? "  " : "") + padded;
    }
    while (!md && !s.empty() && s.back() == ' ') s.pop_back();
    out += s + "\n";
  };
  emit(t.columns);
  if (md) {
    std::string rule = "|";
    for (size_t i = 0; i < width.size(); ++i)
      rule += " " + std::string(width[i] > 1 ? width[i] - 1 : 0, '-') + (numeric[i] ? ":" : "-") + " |";
    out += rule + "\n";
  } else {
    std::vector<std::string> rule;
    for (size_t w : width) rule.push_back(std::string(w, '-'));
    emit(rule);
  }
  for (const auto& line : cells) emit(line);
  return out;
}

// ---------------------------------------------------------------- export

void export_runs(Results& res, Format format, std::ostream& out) {
  Table t;
  t.columns = {"run", "sweep", "name", "status", "seed", "created", "started", "finished"};
  std::vector<Field> fields;
  for (const char* name : {"id", "sweep", "name", "status", "seed", "created", "started", "finished"})
    fields.push_back(parse_field(name));
  for (const std::string& key : res.param_keys()) {
    if (key == "seed") continue;  // the seed column
    Field f;
    f.kind = FieldKind::Param;
    f.key = key;
    fields.push_back(f);
    t.columns.push_back(f.name());
  }
  for (const Field& f : res.summary_fields()) {
    fields.push_back(f);
    t.columns.push_back(f.name());
  }
  std::vector<const std::vector<Value>*> cols;
  for (const Field& f : fields) cols.push_back(&res.column(f));
  for (size_t r = 0; r < res.runs().size(); ++r) {
    std::vector<Value> row;
    for (const auto* col : cols) row.push_back((*col)[r]);
    t.rows.push_back(std::move(row));
  }
  out << render(t, format);
}

void export_series(Results& res, Format format, std::ostream& out) {
  Registry& reg = res.registry();
  const bool csv = format == Format::Csv;
  if (csv) out << "run,node,key,step,value,time\n";
  else if (format == Format::Json) out << "[";
  bool first = true;
  detail::retry_busy(reg.path(), "export series", [&] {
    detail::Statement st(detail::RegistryAccess::connection(reg), R"sql(
      SELECT n.node, m.key, m.step, m.value, m.time FROM node_runs n
      JOIN metrics m ON m.cache_key = n.cache_key WHERE n.run_id = ?1 ORDER BY n.node, m.key, m.step)sql");
    for (const auto& run : res.runs()) {
      st.bind(1, run.id);
      const std::string run_json = OrderedJson(run.id).dump();
      while (st.step()) {
        const std::string node = st.text(0), key = st.text(1);
        const double value = st.is_null(3) ? std::nan("") : st.real(3);
        if (csv) {
          out << csv_cell(run.id) << ',' << csv_cell(node) << ',' << csv_cell(key) << ',' << st.int64(2) << ','
              << to_text(Value(value)) << ',' << fmt::format("{}", st.real(4)) << '\n';
          continue;
        }
        if (format == Format::Json) out << (first ? "\n  " : ",\n  ");
        first = false;
        out << "{\"run\":" << run_json << ",\"node\":" << OrderedJson(node).dump()
            << ",\"key\":" << OrderedJson(key).dump() << ",\"step\":" << st.int64(2)
            << ",\"value\":" << (std::isfinite(value) ? fmt::format("{}", value) : "null")
            << ",\"time\":" << fmt::format("{}", st.real(4)) << "}";
        if (format == Format::Jsonl) out << "\n";
      }
      st.reset();
    }
  });
  if (format == Format::Json) out << (first ? "]\n" : "\n]\n");
}

}  // namespace mstar::registry
