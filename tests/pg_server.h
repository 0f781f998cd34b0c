// A real PostgreSQL server for the registry and results tests: initdb into a
// fresh temp dir, postgres on a Unix socket in it (no TCP port), started once
// per test process on first use and stopped at exit. initdb and postgres
// refuse to run as root, so under root (CI) both run as `nobody` through
// runuser, in a directory that user owns. Each test gets its own schema
// (fresh_url), so tests do not see each other's rows.
//
// Without the binaries (Debian: postgresql-15), tests that need the server
// fail under CI=true and skip elsewhere (require_postgres()).
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

namespace mstar::testing {

class PostgresServer {
 public:
  static PostgresServer& instance() {
    static PostgresServer server;
    return server;
  }

  // "" when running, else why not.
  const std::string& problem() const { return problem_; }
  // A URL for an admin connection to the `postgres` database.
  std::string url(const std::string& extra = "") const {
    return "postgresql:///postgres?host=" + socket_dir_ + "&user=mstar" + extra;
  }
  // A URL whose search_path is a new, empty schema: a registry of its own.
  std::string fresh_url() {
    const std::string schema = "t" + std::to_string(::getpid()) + "_" + std::to_string(++schemas_);
    exec("CREATE SCHEMA " + schema);
    return url("&options=-csearch_path%3D" + schema);
  }
  // Runs SQL on a connection to `conn_url`; the first cell of the first row.
  static std::string query(const std::string& conn_url, const std::string& sql) {
    PGconn* c = PQconnectdb(conn_url.c_str());
    std::string out;
    if (PQstatus(c) != CONNECTION_OK) {
      ADD_FAILURE() << "connect " << conn_url << ": " << PQerrorMessage(c);
    } else {
      PGresult* r = PQexec(c, sql.c_str());
      const auto status = PQresultStatus(r);
      if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) ADD_FAILURE() << sql << ": " << PQresultErrorMessage(r);
      else if (status == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) out = PQgetvalue(r, 0, 0);
      PQclear(r);
    }
    PQfinish(c);
    return out;
  }
  std::string exec(const std::string& sql) const { return query(url(), sql); }
  const std::string& socket_dir() const { return socket_dir_; }

  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

 private:
  PostgresServer() { problem_ = start(); }
  ~PostgresServer() {
    if (::getpid() != owner_) return;  // a forked test child exiting
    if (pid_ > 0) {
      // Fast shutdown (no waiting for clients), sent to the postmaster
      // itself: runuser does not pass SIGINT on.
      std::ifstream pidfile(dir_ + "/data/postmaster.pid");
      pid_t postmaster = -1;
      if (pidfile >> postmaster && postmaster > 0) ::kill(postmaster, SIGINT);
      else ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  static std::string bin_dir() {
    for (const char* v : {"15", "16", "17", "14", "13"}) {
      const std::string d = std::string("/usr/lib/postgresql/") + v + "/bin";
      if (std::filesystem::exists(d + "/initdb") && std::filesystem::exists(d + "/postgres")) return d;
    }
    return "";
  }

  // argv run as the server's user; returns the exit status.
  std::vector<std::string> as_user(std::vector<std::string> argv) const {
    if (::geteuid() != 0) return argv;
    const char* runuser = std::filesystem::exists("/usr/sbin/runuser") ? "/usr/sbin/runuser" : "runuser";
    argv.insert(argv.begin(), {runuser, "-u", "nobody", "--"});
    return argv;
  }

  static pid_t spawn(const std::vector<std::string>& argv, const std::string& log) {
    const pid_t pid = ::fork();
    if (pid != 0) return pid;
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    FILE* f = std::freopen(log.c_str(), "a", stdout);
    if (f) ::dup2(::fileno(stdout), 2);
    if (::chdir("/") != 0) ::_exit(126);  // `nobody` may not read the test's working directory
    ::execvp(args[0], args.data());
    ::_exit(127);
  }

  // Runs argv to its end; true when it exited with 0.
  static bool run(const std::vector<std::string>& argv, const std::string& log) {
    int status = 0;
    ::waitpid(spawn(argv, log), &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }

  // initdb is most of a start (about 1.5 s), and ctest runs every test in a
  // process of its own: it runs once per machine into a template in /tmp
  // (built aside, then renamed into place, so concurrent tests never see
  // half of one), and each server copies it.
  std::string data_from_template(const std::string& bin, const std::string& log) {
    namespace fs = std::filesystem;
    const std::string version = fs::path(bin).parent_path().filename().string();
    // 1 MiB WAL segments: the copy is 28 MB instead of 43 MB.
    const std::string tmpl = "/tmp/mstar_pg_template_" + version + "_" + std::to_string(::geteuid());
    if (!fs::exists(tmpl + "/PG_VERSION")) {
      const std::string partial = tmpl + ".partial" + std::to_string(::getpid());
      fs::create_directories(partial);
      if (::geteuid() == 0 && ::chown(partial.c_str(), 65534, 65534) != 0) return "chown " + partial + " failed";
      if (!run(as_user({bin + "/initdb", "-D", partial, "-U", "mstar", "-A", "trust", "-E", "UTF8", "--locale=C",
                        "--no-sync", "--wal-segsize=1"}),
               log))
        return "initdb failed; see " + log;
      std::error_code ec;
      fs::rename(partial, tmpl, ec);  // another test may have won the race: use its template
      if (ec) fs::remove_all(partial, ec);
    }
    if (!run(as_user({"cp", "-a", tmpl, dir_ + "/data"}), log)) return "copying " + tmpl + " failed; see " + log;
    return "";
  }

  std::string start() {
    const std::string bin = bin_dir();
    if (bin.empty()) return "no PostgreSQL server binaries (initdb, postgres) under /usr/lib/postgresql/*/bin: "
                            "install Debian's postgresql (scripts/setup.sh)";
    char tmpl[] = "/tmp/mstar_pg_XXXXXX";
    if (!::mkdtemp(tmpl)) return "mkdtemp failed";
    dir_ = tmpl;
    socket_dir_ = dir_ + "/sock";
    std::filesystem::create_directories(socket_dir_);
    if (::geteuid() == 0) {
      // The server's user owns the directory; the tests (root) reach the socket anyway.
      for (const std::string& d : {dir_, socket_dir_})
        if (::chown(d.c_str(), 65534, 65534) != 0) return "chown " + d + " to nobody failed";
    }
    const std::string log = dir_ + "/server.log";
    if (std::string why = data_from_template(bin, log); !why.empty()) return why;
    int status = 0;
    pid_ = spawn(as_user({bin + "/postgres", "-D", dir_ + "/data", "-k", socket_dir_, "-c", "listen_addresses=",
                          "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off", "-c",
                          "max_connections=60"}),
                 log);
    // Ready when it accepts connections: poll, with a deadline.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (PQping(url().c_str()) != PQPING_OK) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return "postgres exited at start; see " + log;
      }
      if (std::chrono::steady_clock::now() > deadline) return "postgres did not accept connections in 60 s; see " + log;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return "";
  }

  std::string dir_, socket_dir_, problem_;
  pid_t pid_ = -1;
  pid_t owner_ = ::getpid();
  int schemas_ = 0;
};

// Fails under CI=true, skips elsewhere, when the server cannot run.
#define MSTAR_REQUIRE_POSTGRES()                                                                      \
  do {                                                                                                \
    const std::string& why = ::mstar::testing::PostgresServer::instance().problem();                   \
    if (!why.empty()) {                                                                               \
      const char* ci = std::getenv("CI");                                                             \
      if (ci && std::string(ci) == "true") FAIL() << "PostgreSQL tests cannot run under CI: " << why; \
      GTEST_SKIP() << "PostgreSQL tests skipped: " << why;                                            \
    }                                                                                                 \
  } while (0)

enum class Backend { Sqlite, Postgres };

// gtest (and so ctest's test names) print the parameter with this.
inline void PrintTo(Backend b, std::ostream* os) { *os << (b == Backend::Sqlite ? "sqlite" : "postgres"); }

inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::Sqlite ? "sqlite" : "postgres";
}

}  // namespace mstar::testing
