#include "exec/progress.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace mstar {

namespace {

std::string short_name(const NodeInstance& n) { return n.plugin + "@" + n.key.substr(0, 8); }

std::string clock_text() {
  std::time_t t = std::time(nullptr);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", std::localtime(&t));
  return buf;
}

}  // namespace

Progress::Progress(bool live, size_t /*trials*/, size_t instances)
    : live_(live), instances_(instances), start_(std::chrono::steady_clock::now()) {}

void Progress::line(const std::string& text) {
  if (live_) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "[%s] %s\n", clock_text().c_str(), text.c_str());
  if (live_) redraw();
  std::fflush(stderr);
}

void Progress::redraw() {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string eta = "?";
  if (done_ > 0) {
    const double per = elapsed / static_cast<double>(done_ + failed_);
    eta = std::to_string(static_cast<int>(per * static_cast<double>(instances_ - done_ - failed_))) + "s";
  }
  std::string names;
  for (const auto& r : running_) names += (names.empty() ? "" : ", ") + r;
  if (names.size() > 60) names = names.substr(0, 57) + "...";
  std::fprintf(stderr, "\r\033[K%zu/%zu nodes finished, %zu failed, %zu running [%s] ETA %s", done_ + failed_,
               instances_, failed_, running_.size(), names.c_str(), eta.c_str());
  std::fflush(stderr);
}

void Progress::started(const NodeInstance& node, int attempt) {
  running_.insert(short_name(node));
  began_[node.key] = std::chrono::steady_clock::now();
  if (live_) return redraw();
  line("start   " + short_name(node) + (attempt > 1 ? " (attempt " + std::to_string(attempt) + ")" : ""));
}

void Progress::finished(const NodeInstance& node, const std::string& outcome, const std::string& reason) {
  running_.erase(short_name(node));
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began_[node.key]).count();
  if (outcome == "done") ++done_;
  if (outcome == "failed" || outcome == "interrupted") ++failed_;
  char dur[32];
  std::snprintf(dur, sizeof dur, "%.2fs", secs);
  std::string text = outcome;
  text.resize(std::max<size_t>(text.size() + 1, 8), ' ');  // "interrupted" is wider than the column
  text += short_name(node) + " " + dur + (reason.empty() ? "" : ": " + reason);
  if (live_ && outcome == "done") return redraw();
  line(text);
}

void Progress::note(const std::string& text) { line(text); }

void Progress::close() {
  if (live_) std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
}

}  // namespace mstar
