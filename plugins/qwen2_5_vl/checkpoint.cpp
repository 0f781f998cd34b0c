// Gradient checkpointing as a custom autograd Function (checkpoint.h).
// The recomputation closure travels in the autograd context as a capsule.
#include "checkpoint.h"

#include <mutex>

#include <ATen/Context.h>

namespace mstar::qwen2_5_vl {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The default generators' states: the CPU one and, for a CUDA input, its device's.
struct RngState {
  torch::Tensor cpu, device;
  torch::Device where = torch::kCPU;

  static RngState capture(const torch::Device& device) {
    RngState s;
    s.where = device;
    s.cpu = generator(torch::kCPU).get_state();
    if (!device.is_cpu()) s.device = generator(device).get_state();
    return s;
  }
  void restore() const {
    generator(torch::kCPU).set_state(cpu);
    if (device.defined()) generator(where).set_state(device);
  }

 private:
  static at::Generator generator(const torch::Device& device) {
    at::Generator g = at::globalContext().defaultGenerator(device);
    return g;
  }
};

struct Recompute : torch::CustomClassHolder {
  std::function<torch::Tensor(const torch::Tensor&)> fn;
  std::vector<torch::Tensor> parameters;  // those that require grad
  bool input_grad = false;
  RngState rng;
};

class CheckpointFunction : public torch::autograd::Function<CheckpointFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, c10::intrusive_ptr<Recompute> r, const torch::Tensor& x,
                               at::TensorList /*parameters: the edges their gradients flow along*/) {
    r->rng = RngState::capture(x.device());
    ctx->save_for_backward({x});
    ctx->saved_data["recompute"] = c10::IValue::make_capsule(r);
    return r->fn(x);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto r = c10::static_intrusive_pointer_cast<Recompute>(ctx->saved_data["recompute"].toCapsule());
    const torch::Tensor x = ctx->get_saved_variables()[0].detach().requires_grad_(r->input_grad);
    std::vector<torch::Tensor> inputs;
    if (r->input_grad) inputs.push_back(x);
    inputs.insert(inputs.end(), r->parameters.begin(), r->parameters.end());

    const RngState now = RngState::capture(x.device());
    r->rng.restore();
    variable_list g;
    {
      torch::AutoGradMode grad_on(true);
      const torch::Tensor y = r->fn(x);
      g = torch::autograd::grad({y}, inputs, {grads[0]}, /*retain_graph=*/false, /*create_graph=*/false,
                                /*allow_unused=*/true);
    }
    now.restore();

    variable_list out{torch::Tensor()};  // the closure
    out.push_back(r->input_grad ? g[0] : torch::Tensor());
    out.insert(out.end(), g.begin() + (r->input_grad ? 1 : 0), g.end());
    return out;
  }
};

}  // namespace

torch::Tensor checkpointed(std::function<torch::Tensor(const torch::Tensor&)> fn, const torch::Tensor& x,
                           const torch::nn::Module& owner) {
  if (!torch::GradMode::is_enabled()) return fn(x);
  auto r = c10::make_intrusive<Recompute>();
  for (const auto& p : owner.parameters())
    if (p.requires_grad()) r->parameters.push_back(p);
  r->input_grad = x.requires_grad();
  if (!r->input_grad && r->parameters.empty()) return fn(x);
  r->fn = std::move(fn);
  const std::vector<torch::Tensor> parameters = r->parameters;
  return CheckpointFunction::apply(r, x, at::TensorList(parameters));
}

}  // namespace mstar::qwen2_5_vl
