// The reward interface (a component, see component.h). A reward function
// sees the whole sample row (image id, level, metadata), not only the
// answer: rewards that depend on more than the answer string stay possible.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "mstar/json.h"

namespace mstar {

struct RewardResult {
  double overall = 0;
  // Named parts ("accuracy", "format", ...), logged one series each.
  std::map<std::string, double> components;
};

class RewardFunction {
 public:
  static constexpr const char* kInterface = "reward";
  virtual ~RewardFunction() = default;
  // `sample` is the dataset row: {"answer": "T", "level": ..., "image_id": ..., ...}.
  virtual RewardResult score(std::string_view response, const Json& sample) const = 0;
};

}  // namespace mstar
