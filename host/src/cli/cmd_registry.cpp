// `mstar registry sql|schema|check`: raw, read-only access to the registry.
#include <iostream>

#include "cli/cli.h"
#include "cli/cmd_results.h"
#include "mstar/error.h"
#include "mstar/registry/query.h"

namespace mstar::cli {

namespace {

constexpr const char* kUsage = "mstar registry sql \"SELECT ...\" [--arg V...] [--format table|csv|json|markdown]\n"
                               "       mstar registry schema\n"
                               "       mstar registry check";

int registry_sql(const Args& args) {
  po::options_description desc("registry sql options");
  StoreOptions so;
  std::string sql, format;
  std::vector<std::string> binds;
  so.add_to(desc, false, false);
  desc.add_options()("sql", po::value(&sql)->required(), "one SQL statement (quote it for the shell)")(
      "arg", po::value(&binds)->composing(), "a value for ?1, ?2, ... in order (numbers bind as numbers)")(
      "format,f", po::value(&format)->default_value("table"), "table, csv, json or markdown");
  po::positional_options_description pos;
  pos.add("sql", 1);
  po::variables_map vm;
  if (!parse(args, "mstar registry sql \"SELECT ...\" [--arg V...] [--format table|csv|json|markdown]",
             "Runs one SQL statement on a read-only connection to the registry. Statements that would write, "
             "change the schema, attach files or change settings are refused. Tables and example queries: "
             "docs/registry.md.",
             "mstar registry sql \"SELECT r.id, s.value FROM runs r JOIN node_runs n ON n.run_id = r.id "
             "JOIN summaries s ON s.cache_key = n.cache_key WHERE n.node = ?1 AND s.key = ?2\" --arg eval --arg "
             "accuracy",
             desc, &pos, vm))
    return 0;
  const auto fmt = registry::parse_format(
      format, {registry::Format::Table, registry::Format::Csv, registry::Format::Json, registry::Format::Markdown});
  auto reg = open_registry_ro(so);
  std::cout << registry::render(registry::run_readonly_sql(*reg, sql, binds), fmt);
  return 0;
}

int registry_schema(const Args& args) {
  po::options_description desc("registry schema options");
  StoreOptions so;
  so.add_to(desc, false, false);
  po::variables_map vm;
  if (!parse(args, "mstar registry schema", "Prints the registry's tables and indexes (CREATE statements).",
             "mstar registry schema", desc, nullptr, vm))
    return 0;
  auto reg = open_registry_ro(so);
  const auto t = registry::run_readonly_sql(
      *reg, "SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid");
  for (const auto& row : t.rows) std::cout << registry::to_text(row[0]) << ";\n";
  std::cout << "-- schema version " << reg->schema_version() << "; see docs/registry.md\n";
  return 0;
}

int registry_check(const Args& args) {
  po::options_description desc("registry check options");
  StoreOptions so;
  so.add_to(desc, false, false);
  po::variables_map vm;
  if (!parse(args, "mstar registry check", "Runs SQLite's integrity check on the registry; exit code 1 if it fails.",
             "mstar registry check", desc, nullptr, vm))
    return 0;
  auto reg = open_registry_ro(so);
  const std::string result = reg->integrity_check();
  std::cout << reg->path().string() << ": " << result << "\n";
  return result == "ok" ? 0 : 1;
}

}  // namespace

int cmd_registry(const Args& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << "usage: " << kUsage
              << "\n\nRaw access to the results registry: sql runs one read-only statement, schema prints the "
                 "tables, check runs the integrity check.\n\nexample:\n  mstar registry sql \"SELECT status, "
                 "count(*) FROM runs GROUP BY status\"\n";
    return args.empty() ? 2 : 0;
  }
  const Args rest(args.begin() + 1, args.end());
  if (args[0] == "sql") return registry_sql(rest);
  if (args[0] == "schema") return registry_schema(rest);
  if (args[0] == "check") return registry_check(rest);
  throw_bad_input("registry: unknown subcommand '" + args[0] + "'; use sql, schema or check (usage: " + kUsage + ")");
}

}  // namespace mstar::cli
