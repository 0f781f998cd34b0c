#include "trainer.h"

#include <cmath>
#include <fstream>

#include "mstar/artifact.h"
#include "mstar/error.h"
#include "mstar/ml/checkpoint.h"
#include "mstar/ml/safetensors.h"

namespace mstar::algorithms {

namespace fs = std::filesystem;

// ---- metrics ------------------------------------------------------------------------

void MetricLog::log(int64_t step, const std::string& key, double value) {
  ctx_.log(step, key, value);
  history_.push_back(Json::array({step, key, std::isfinite(value) ? Json(value) : Json(nullptr)}));
}

void MetricLog::log_all(int64_t step, const std::map<std::string, double>& values) {
  for (const auto& [key, value] : values) log(step, key, value);
}

void MetricLog::replay(const Json& history) {
  history_ = Json::array();
  for (const Json& point : history) {
    const double value = point[2].is_null() ? std::nan("") : point[2].get<double>();
    log(point[0].get<int64_t>(), point[1].get<std::string>(), value);
  }
}

void PhaseTimer::start(const std::string& phase) {
  stop();
  phase_ = phase;
  since_ = std::chrono::steady_clock::now();
}

void PhaseTimer::stop() {
  if (phase_.empty()) return;
  seconds_[phase_] += std::chrono::duration<double>(std::chrono::steady_clock::now() - since_).count();
  phase_.clear();
}

void PhaseTimer::reset() {
  phase_.clear();
  seconds_.clear();
}

// ---- optimizer ------------------------------------------------------------------------

std::vector<torch::Tensor> trainable_parameters(const ml::Backbone& model) {
  std::vector<torch::Tensor> out;
  for (const auto& p : model.parameters())
    if (p.requires_grad()) out.push_back(p);
  return out;
}

Optimizer::Optimizer(std::vector<torch::Tensor> parameters, const OptimizerConfig& config, int64_t total_updates)
    : parameters_(std::move(parameters)), config_(config), total_(std::max<int64_t>(1, total_updates)) {
  if (parameters_.empty()) throw_bad_input("nothing to train: every parameter is frozen");
  auto options = torch::optim::AdamWOptions(config.schedule.lr)
                     .betas({config.beta1, config.beta2})
                     .eps(config.eps)
                     .weight_decay(config.weight_decay);
  adamw_ = std::make_unique<torch::optim::AdamW>(parameters_, options);
}

void Optimizer::zero_grad() {
  // Gradients set to none (not to zeros): an update after a skipped one
  // starts from nothing.
  for (auto& p : parameters_) p.mutable_grad().reset();
}

Optimizer::StepResult Optimizer::step() {
  StepResult r;
  r.lr = learning_rate(config_.schedule, updates_, total_);
  for (auto& group : adamw_->param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(r.lr);
  if (config_.max_grad_norm > 0) {
    r.grad_norm = torch::nn::utils::clip_grad_norm_(parameters_, config_.max_grad_norm);
  } else {
    double sq = 0;
    for (const auto& p : parameters_)
      if (p.grad().defined()) sq += p.grad().to(torch::kFloat64).square().sum().item<double>();
    r.grad_norm = std::sqrt(sq);
  }
  r.skipped = !std::isfinite(r.grad_norm);
  if (!r.skipped) adamw_->step();
  zero_grad();
  ++updates_;
  return r;
}

// ---- random state ------------------------------------------------------------------------

torch::Tensor generator_state(torch::Generator generator) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state().clone();
}

void set_generator_state(torch::Generator generator, const torch::Tensor& state) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

// ---- checkpoints ----------------------------------------------------------------------------

namespace {
constexpr const char* kStateFile = "state.json";
constexpr const char* kTensorsFile = "tensors.safetensors";

bool complete(const fs::path& dir) { return fs::is_regular_file(dir / kStateFile); }
}  // namespace

Checkpointer::Checkpointer(fs::path resume_dir) : root_(std::move(resume_dir)) {}

fs::path Checkpointer::current() const {
  if (complete(root_ / "checkpoint")) return root_ / "checkpoint";
  // Killed between the two renames of save(): the previous one is complete.
  if (complete(root_ / "checkpoint.old")) return root_ / "checkpoint.old";
  return {};
}

bool Checkpointer::available() const { return !root_.empty() && !current().empty(); }

void Checkpointer::save(const ml::Backbone& model, const Optimizer& optimizer, const Json& state,
                        const std::vector<std::pair<std::string, torch::Tensor>>& tensors) const {
  if (root_.empty()) throw_io("no resume directory to checkpoint into");
  const fs::path tmp = root_ / "checkpoint.tmp", cur = root_ / "checkpoint", old = root_ / "checkpoint.old";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp);
  model.save(tmp / "model");
  ml::save_optimizer(optimizer.adamw(), tmp / ml::kOptimizerFile);
  ml::NamedTensors named;
  for (const auto& [name, t] : tensors) named.emplace_back(name, t.detach().contiguous().cpu());
  ml::save_safetensors(tmp / kTensorsFile, named);
  write_file_atomic(tmp / kStateFile, state.dump());
  // Keep the newest complete checkpoint reachable at every instant.
  if (complete(cur)) {
    fs::remove_all(old, ec);
    fs::rename(cur, old);
  } else {
    fs::remove_all(cur, ec);
  }
  fs::rename(tmp, cur);
  fs::remove_all(old, ec);
}

Json Checkpointer::state() const {
  const fs::path dir = current();
  if (dir.empty()) throw_io("no checkpoint in " + root_.string());
  try {
    return Json::parse(read_file(dir / kStateFile));
  } catch (const Json::exception& e) {
    throw_io("corrupt checkpoint state " + (dir / kStateFile).string() + ": " + e.what());
  }
}

fs::path Checkpointer::model_dir() const { return current() / "model"; }

void Checkpointer::load_optimizer(Optimizer& optimizer) const {
  ml::load_optimizer(optimizer.adamw(), current() / ml::kOptimizerFile);
}

torch::Tensor Checkpointer::tensor(const std::string& name) const {
  return ml::load_safetensors(current() / kTensorsFile).at(name);
}

// ---- text ------------------------------------------------------------------------------------------

void TextLog::append(const std::string& text) {
  text_ += text;
  std::ofstream out(file_, std::ios::app | std::ios::binary);
  if (!out) throw_io("cannot write " + file_.string());
  out << text;
}

void TextLog::restore(const std::string& text) {
  text_ = text;
  std::ofstream out(file_, std::ios::trunc | std::ios::binary);
  if (!out) throw_io("cannot write " + file_.string());
  out << text;
}

}  // namespace mstar::algorithms
