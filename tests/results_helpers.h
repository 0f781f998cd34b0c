// Helpers for the results tests: a well-formedness check for the SVG/XML we
// write, a small registry built through the Registry API with hand-picked
// values, and a sweep of the test plugins run through the real binary.
#pragma once

#include <gtest/gtest.h>
#include <string>
#include <vector>

#include "host_helpers.h"
#include "mstar/registry/registry.h"

namespace mstar::testing {

// "" when `text` is well-formed XML (tags balanced and matching, attributes
// quoted, entities closed), else what is wrong and where.
inline std::string xml_problem(const std::string& text) {
  std::vector<std::string> stack;
  size_t i = 0;
  bool root_seen = false;
  while (i < text.size()) {
    if (text[i] == '&') {
      const size_t semi = text.find(';', i);
      if (semi == std::string::npos || semi - i > 10) return "unescaped '&' at " + std::to_string(i);
      i = semi + 1;
      continue;
    }
    if (text[i] != '<') {
      if (!root_seen && !isspace(static_cast<unsigned char>(text[i])))
        return "text before the root element at " + std::to_string(i);
      ++i;
      continue;
    }
    if (text.compare(i, 4, "<!--") == 0) {
      const size_t end = text.find("-->", i);
      if (end == std::string::npos) return "unclosed comment";
      i = end + 3;
      continue;
    }
    if (text.compare(i, 2, "<?") == 0 || text.compare(i, 2, "<!") == 0) {
      const size_t end = text.find('>', i);
      if (end == std::string::npos) return "unclosed declaration";
      i = end + 1;
      continue;
    }
    // A tag: find its end outside quotes.
    size_t j = i + 1;
    char quote = 0;
    for (; j < text.size(); ++j) {
      if (quote) {
        if (text[j] == quote) quote = 0;
        else if (text[j] == '<') return "'<' inside an attribute at " + std::to_string(j);
        continue;
      }
      if (text[j] == '"' || text[j] == '\'') quote = text[j];
      else if (text[j] == '>') break;
      else if (text[j] == '<') return "'<' inside a tag at " + std::to_string(j);
    }
    if (j >= text.size()) return "unclosed tag at " + std::to_string(i);
    const std::string tag = text.substr(i + 1, j - i - 1);
    i = j + 1;
    if (tag.empty()) return "empty tag";
    if (tag[0] == '/') {
      const std::string name = tag.substr(1);
      if (stack.empty()) return "closing </" + name + "> without an opening tag";
      if (stack.back() != name) return "</" + name + "> closes <" + stack.back() + ">";
      stack.pop_back();
      continue;
    }
    const size_t name_end = tag.find_first_of(" \t\n/");
    const std::string name = tag.substr(0, name_end);
    if (stack.empty() && root_seen) return "a second root element <" + name + ">";
    root_seen = true;
    if (tag.back() != '/') stack.push_back(name);
  }
  if (!stack.empty()) return "unclosed <" + stack.back() + ">";
  if (!root_seen) return "no element";
  return "";
}

// Sandbox::run, with its output files removed first: Boost.Process opens
// `std_out > path` without O_TRUNC, so a shorter output would keep the tail
// of the previous command's.
inline CommandResult run_fresh(const Sandbox& sb, const std::vector<std::string>& args) {
  std::error_code ec;
  fs::remove(sb.dir() / "stdout.txt", ec);
  fs::remove(sb.dir() / "stderr.txt", ec);
  return sb.run(args);
}

inline size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + what.size())) ++n;
  return n;
}

// A sweep of test/metrics through the real binary: train.scale x
// train.steps x seeds. Known values: final_loss = scale / steps,
// value = scale * seed, loss at step s = scale / (1 + s), acc at step s =
// scale * s / steps.
inline void run_metrics_sweep(const Sandbox& sb, const std::string& name, const std::string& grid,
                              const std::string& seeds) {
  const auto file = sb.write(name + ".yaml", "name: " + name + "\nseed: 1\nnodes:\n"
                                             "  train: {plugin: test/metrics, params: {steps: 20}}\n"
                                             "sweep:\n  grid: " + grid + "\n  seeds: " + seeds + "\n");
  const CommandResult r = run_fresh(sb, {"run", file.string(), "-j", "2"});
  ASSERT_EQ(r.code(), 0) << r.out << r.err;
}

}  // namespace mstar::testing
