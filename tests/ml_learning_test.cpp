// The embedding-scale regression test of the backbones issue: supervised
// training on a text-only lookup (64 glyphs -> 8 concepts; "gX means cY ?"
// -> T/F) must reach >= 95% within a few hundred steps, and the answer logit
// must depend on the statement from the start (a saturated or flat softmax
// learns nothing statement-dependent).
#include <random>

#include <gtest/gtest.h>

#include "ml_helpers.h"
#include "mstar/ml/checkpoint.h"
#include "mstar/ml/registry.h"

namespace mstar::ml {
namespace {

struct Lookup {
  std::vector<int> concept_of;  // glyph -> concept
  static constexpr int kGlyphs = 64, kConcepts = 8;
  static std::string statement(int g, int c) {
    std::string s = "g";
    s += std::to_string(g);
    s += " means c";
    s += std::to_string(c);
    s += " ?";
    return s;
  }
};

TEST(LearningTest, TextLookupReaches95PercentAndAnswersDependOnTheStatement) {
  set_num_threads(1);
  testing::load_tiny_vlm();
  std::mt19937 rng(1234);
  Lookup table;
  for (int g = 0; g < Lookup::kGlyphs; ++g) table.concept_of.push_back(static_cast<int>(rng() % Lookup::kConcepts));

  std::vector<std::string> corpus;
  for (int g = 0; g < Lookup::kGlyphs; ++g)
    for (int c = 0; c < Lookup::kConcepts; ++c) corpus.push_back(Lookup::statement(g, c));
  corpus.push_back("T F");
  Tokenizer tok = Tokenizer::build(corpus);
  Json config = testing::tiny_config("qwen", tok);
  config["text_config"]["hidden_size"] = 64;
  torch::manual_seed(1);
  auto model = BackboneRegistry::instance().create("tiny_vlm", config, tok);
  const int64_t t_id = tok.id("T"), f_id = tok.id("F");

  // Every statement once, for evaluation: prompt ids and the truth.
  std::vector<std::vector<int64_t>> all_prompts;
  std::vector<bool> truth;
  for (int g = 0; g < Lookup::kGlyphs; ++g)
    for (int c = 0; c < Lookup::kConcepts; ++c) {
      all_prompts.push_back(model->build_prompt("", Lookup::statement(g, c), /*with_image=*/false));
      truth.push_back(table.concept_of[static_cast<size_t>(g)] == c);
    }
  Batch eval_batch = pad_batch(all_prompts, tok.pad_id(), PadSide::Left);
  torch::Tensor truth_t = torch::tensor(std::vector<int64_t>(truth.begin(), truth.end()), torch::kInt64).to(torch::kBool);
  // margin = logit(T) - logit(F) at the answer position, per statement.
  auto margins = [&] {
    torch::NoGradGuard no_grad;
    torch::Tensor last = model->forward(eval_batch).select(1, -1);
    return last.select(1, t_id) - last.select(1, f_id);
  };
  auto balanced_accuracy = [&] {
    torch::Tensor predicted_true = margins() > 0;
    torch::Tensor correct = predicted_true == truth_t;
    const double tpr = correct.masked_select(truth_t).to(torch::kFloat64).mean().item<double>();
    const double tnr = correct.masked_select(truth_t.logical_not()).to(torch::kFloat64).mean().item<double>();
    return 0.5 * (tpr + tnr);
  };

  const double initial_spread = margins().std().item<double>();
  EXPECT_GT(initial_spread, 1e-2) << "answer logit is flat across statements at init";

  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(3e-3));
  model->train();
  const int batch = 64;
  double accuracy = 0;
  int steps = 0;
  for (; steps < 400; ++steps) {
    std::vector<std::vector<int64_t>> prompts, responses;
    for (int i = 0; i < batch; ++i) {
      const int g = static_cast<int>(rng() % Lookup::kGlyphs);
      const int right = table.concept_of[static_cast<size_t>(g)];
      const bool is_true = i % 2 == 0;  // balanced T/F
      int c = right;
      while (!is_true && c == right) c = static_cast<int>(rng() % Lookup::kConcepts);
      prompts.push_back(model->build_prompt("", Lookup::statement(g, c), false));
      responses.push_back(model->encode_response(is_true ? "T" : "F", /*end_turn=*/false));
    }
    SequenceBatch seq = pack_sequences(prompts, responses, tok.pad_id());
    opt.zero_grad();
    TokenScores s = model->score(seq.batch);
    torch::Tensor mask = seq.response_mask.to(torch::kFloat32);
    torch::Tensor loss = -(s.logprobs * mask).sum() / mask.sum();
    loss.backward();
    opt.step();
    if ((steps + 1) % 50 == 0) {
      model->eval();
      accuracy = balanced_accuracy();
      model->train();
      if (accuracy >= 0.97) {
        ++steps;
        break;
      }
    }
  }
  RecordProperty("steps", steps);
  RecordProperty("balanced_accuracy", std::to_string(accuracy));
  EXPECT_GE(accuracy, 0.95) << "after " << steps << " steps";
  const double final_spread = margins().std().item<double>();
  EXPECT_GT(final_spread, 1.0);
  std::cout << "lookup: balanced accuracy " << accuracy << " after " << steps << " steps; margin spread "
            << initial_spread << " -> " << final_spread << "\n";
}

}  // namespace
}  // namespace mstar::ml
