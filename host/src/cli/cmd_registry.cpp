// `mstar registry sql|schema|check|copy`: raw, read-only access to the
// registry, and copying one registry into another (SQLite <-> PostgreSQL).
#include <fmt/format.h>

#include <iostream>

#include "cli/cli.h"
#include "cli/cmd_results.h"
#include "mstar/error.h"
#include "mstar/registry/copy.h"
#include "mstar/registry/query.h"
#include "mstar/registry/registry.h"

namespace mstar::cli {

namespace {

constexpr const char* kUsage = "mstar registry sql \"SELECT ...\" [--arg V...] [--format table|csv|json|markdown]\n"
                               "       mstar registry schema\n"
                               "       mstar registry check\n"
                               "       mstar registry copy SRC DST";

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
  for (const std::string& statement : reg->schema_sql()) std::cout << statement << ";\n";
  std::cout << "-- schema version " << reg->schema_version() << "; see docs/registry.md\n";
  return 0;
}

int registry_check(const Args& args) {
  po::options_description desc("registry check options");
  StoreOptions so;
  so.add_to(desc, false, false);
  po::variables_map vm;
  if (!parse(args, "mstar registry check",
             "Runs SQLite's integrity check on the registry (PostgreSQL: checks that every registry table can be "
             "read); exit code 1 if it fails.",
             "mstar registry check", desc, nullptr, vm))
    return 0;
  auto reg = open_registry_ro(so);
  const std::string result = reg->integrity_check();
  std::cout << reg->path().string() << ": " << result << "\n";
  return result == "ok" ? 0 : 1;
}

int registry_copy(const Args& args) {
  po::options_description desc("registry copy options");
  std::string source, destination;
  desc.add_options()("source", po::value(&source)->required(), "the registry to read: a file or a postgresql:// URL")(
      "destination", po::value(&destination)->required(),
      "the registry to fill: a new file, or an empty PostgreSQL database (created at the current schema)");
  po::positional_options_description pos;
  pos.add("source", 1).add("destination", 1);
  po::variables_map vm;
  if (!parse(args, "mstar registry copy SRC DST",
             "Copies every row of the registry SRC into DST, across backends (SQLite file <-> PostgreSQL URL), "
             "in one transaction; then prints the row count and checksum of every table on both sides. Exit code "
             "1 if any differs. DST must hold no runs yet. See docs/registry.md.",
             "mstar registry copy .mstar/registry.db postgresql://mstar@db.lab:5432/mstar\n"
             "  mstar registry copy postgresql://mstar@db.lab/mstar backup.db",
             desc, &pos, vm))
    return 0;
  const auto path_of = [](const std::string& where) {
    return where.rfind("postgres", 0) == 0 ? std::filesystem::path(where) : std::filesystem::absolute(where);
  };
  const registry::CopyResult result = registry::copy_registry(path_of(source), path_of(destination));
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < result.source.size(); ++i) {
    const auto& s = result.source[i];
    const auto& d = result.destination[i];
    const bool same = s.rows == d.rows && s.checksum == d.checksum;
    rows.push_back({s.table, std::to_string(s.rows), std::to_string(d.rows), s.checksum.substr(0, 12),
                    d.checksum.substr(0, 12), same ? "ok" : "DIFFERS"});
  }
  print_table({"table", "rows (src)", "rows (dst)", "sha1 (src)", "sha1 (dst)", ""}, rows, "table");
  std::cout << (result.identical() ? "copy verified: every table has the same rows and checksum\n"
                                   : "copy DIFFERS from its source (see above)\n");
  return result.identical() ? 0 : 1;
}

}  // namespace

int cmd_registry(const Args& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << "usage: " << kUsage
              << "\n\nRaw access to the results registry: sql runs one read-only statement, schema prints the "
                 "tables, check runs the integrity check, copy moves a registry between SQLite and PostgreSQL. "
                 "--registry (or MSTAR_REGISTRY) takes a file or a postgresql:// URL.\n\nexample:\n  mstar "
                 "registry sql \"SELECT status, count(*) FROM runs GROUP BY status\"\n  mstar registry copy "
                 ".mstar/registry.db postgresql://mstar@db.lab:5432/mstar\n";
    return args.empty() ? 2 : 0;
  }
  const Args rest(args.begin() + 1, args.end());
  if (args[0] == "sql") return registry_sql(rest);
  if (args[0] == "schema") return registry_schema(rest);
  if (args[0] == "check") return registry_check(rest);
  if (args[0] == "copy") return registry_copy(rest);
  throw_bad_input("registry: unknown subcommand '" + args[0] + "'; use sql, schema, check or copy (usage: " + kUsage +
                  ")");
}

}  // namespace mstar::cli
