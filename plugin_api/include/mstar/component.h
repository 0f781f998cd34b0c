// Components: plugins that are not graph nodes but objects a node builds
// and calls in-process: reward functions, judges. A node names one in its
// params as a nested plugin reference ({plugin: reward/tfq, format_weight:
// 0.5}); the host validates those params against the component's schema
// before the run, and the node creates it through its context:
//
//   auto reward = mstar::make_component<mstar::RewardFunction>(ctx, ctx.params().get("reward"));
//
// A component class names its interface and takes its validated params:
//
//   class TfqReward : public mstar::RewardFunction {
//    public:
//     using Interface = mstar::RewardFunction;
//     static mstar::PluginInfo info();
//     TfqReward(const mstar::Params& params, mstar::ComponentHost& host);
//     ...
//   };
//   MSTAR_COMPONENT(TfqReward)
#pragma once

#include <memory>
#include <string_view>

#include "mstar/json.h"

namespace mstar {

class ComponentHost {
 public:
  virtual ~ComponentHost() = default;
  // Builds the component `spec["plugin"]` with the rest of `spec` as its
  // (already validated) params. The object keeps its library loaded.
  // Throws Error(BadInput) for an unknown plugin or another interface.
  virtual std::shared_ptr<void> create_component(const Json& spec, std::string_view interface_name) = 0;
};

template <class Interface>
std::shared_ptr<Interface> make_component(ComponentHost& host, const Json& spec) {
  return std::static_pointer_cast<Interface>(host.create_component(spec, Interface::kInterface));
}

}  // namespace mstar
