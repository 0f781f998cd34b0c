#include "util/subprocess.h"

#include <utility>
#include <future>
#include <boost/asio.hpp>
#include <boost/process.hpp>
#include <sys/wait.h>

namespace mstar {

namespace bp = boost::process;

std::vector<std::string> CommandResult::lines() const {
  std::vector<std::string> v;
  size_t start = 0;
  while (start < out.size()) {
    size_t nl = out.find('\n', start);
    if (nl == std::string::npos) nl = out.size();
    if (nl > start) v.push_back(out.substr(start, nl - start));
    start = nl + 1;
  }
  return v;
}

std::string CommandResult::err_text() const {
  const size_t a = err.find_first_not_of(" \n\t"), b = err.find_last_not_of(" \n\t");
  return a == std::string::npos ? "exit code " + std::to_string(exit_code) : err.substr(a, b - a + 1);
}

CommandResult run_command(const std::string& program, const std::vector<std::string>& args) {
  CommandResult r;
  const auto exe = bp::search_path(program);
  if (exe.empty()) {
    r.exit_code = 127;
    r.err = program + ": not found on PATH";
    return r;
  }
  // Both pipes read concurrently: a chatty stderr cannot block stdout.
  boost::asio::io_context io;
  std::future<std::string> out, err;
  try {
    bp::child c(exe, bp::args(args), bp::std_out > out, bp::std_err > err, bp::std_in < bp::null, io);
    io.run();
    c.wait();
    const int st = c.native_exit_code();
    r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    r.out = out.get();
    r.err = err.get();
  } catch (const std::exception& e) {
    r.exit_code = 127;
    r.err = "cannot run " + program + ": " + e.what();
  }
  return r;
}

}  // namespace mstar
