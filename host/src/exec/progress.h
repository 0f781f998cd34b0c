// What a person sees while a run goes on: on a TTY one live status line
// (done / running / failed / cached, the running nodes, an ETA); elsewhere
// (CI logs) one plain line per event.
#pragma once

#include <chrono>
#include <set>
#include <string>

#include "exec/plan.h"

namespace mstar {

class Progress {
 public:
  Progress(bool live, size_t trials, size_t instances);
  void started(const NodeInstance& node, int attempt);
  void finished(const NodeInstance& node, const std::string& outcome, const std::string& reason);
  void note(const std::string& text);
  void close();

 private:
  void redraw();
  void line(const std::string& text);

  bool live_;
  size_t instances_;
  size_t done_ = 0, failed_ = 0;
  std::set<std::string> running_;
  std::chrono::steady_clock::time_point start_;
  double busy_seconds_ = 0;
  std::map<std::string, std::chrono::steady_clock::time_point> began_;
};

}  // namespace mstar
