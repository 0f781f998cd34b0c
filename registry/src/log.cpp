#include <chrono>
#include <random>
#include <thread>

#include <spdlog/spdlog.h>

#include "impl.h"

namespace mstar::registry {

// The "registry" logger shares the sinks of the default logger, so it writes
// wherever the host sends its log. Created on first use, never at load time.
spdlog::logger& logger() {
  static const std::shared_ptr<spdlog::logger> instance = [] {
    if (auto existing = spdlog::get("registry")) return existing;
    const auto& sinks = spdlog::default_logger()->sinks();
    auto created = std::make_shared<spdlog::logger>("registry", sinks.begin(), sinks.end());
    created->set_level(spdlog::default_logger()->level());
    try {
      spdlog::register_logger(created);
    } catch (const spdlog::spdlog_ex&) {
      if (auto raced = spdlog::get("registry")) return raced;  // registered meanwhile by someone else
    }
    return created;
  }();
  return *instance;
}

namespace detail {

void backoff(int attempt) {
  thread_local std::minstd_rand rng(std::random_device{}());
  const int base_ms = std::min(1000, 5 << std::min(attempt - 1, 10));
  std::uniform_int_distribution<int> jitter(0, base_ms);
  std::this_thread::sleep_for(std::chrono::milliseconds(base_ms / 2 + jitter(rng)));
}

}  // namespace detail

}  // namespace mstar::registry
