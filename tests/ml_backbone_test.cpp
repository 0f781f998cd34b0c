// backbone/tiny_vlm through the mstar::ml::Backbone interface.
#include <cmath>
#include <fstream>

#include <gtest/gtest.h>

#include "ml_helpers.h"
#include "mstar/error.h"
#include "mstar/ml/checkpoint.h"
#include "mstar/ml/registry.h"

namespace mstar::ml {
namespace {

using testing::max_abs_diff;
using testing::TempDir;
namespace fs = std::filesystem;

// A stop id that never occurs, so that sequences run to max_new_tokens.
constexpr int64_t kNoStop = 1 << 30;

class BackboneFamily : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { set_num_threads(1); }
};

INSTANTIATE_TEST_SUITE_P(Families, BackboneFamily, ::testing::Values("qwen", "llava"));

// Next tokens that are not <image> (a sampled placeholder would break forward()).
torch::Tensor random_tokens(const Backbone& m, int64_t n, torch::Generator& gen) {
  torch::Tensor t = torch::randint(m.tokenizer().size(), {n}, gen, torch::kInt64);
  return t.masked_fill(t == m.tokenizer().image_id(), m.tokenizer().bos_id());
}

TEST_P(BackboneFamily, KvCacheLogitsEqualRecomputation) {
  auto model = testing::make_tiny(GetParam());
  model->eval();
  torch::NoGradGuard no_grad;
  Batch prompts = testing::random_prompts(*model, 4, 11);
  torch::Tensor logits;
  auto state = model->prefill(prompts, 6, logits);
  torch::Tensor ids = prompts.token_ids, mask = prompts.attention_mask;
  torch::Generator gen = make_generator(3);
  for (int step = 0; step < 6; ++step) {
    torch::Tensor full = model->forward({prompts.images, ids, mask, {}});
    EXPECT_LT(max_abs_diff(logits, full.select(1, -1)), 1e-5) << "step " << step;
    torch::Tensor next = random_tokens(*model, 4, gen);
    ids = torch::cat({ids, next.unsqueeze(1)}, 1);
    mask = torch::cat({mask, torch::ones({4, 1}, torch::kInt64)}, 1);
    logits = model->decode_step(*state, next);
  }
}

TEST_P(BackboneFamily, GreedyGenerationEqualsNoCacheLoop) {
  auto model = testing::make_tiny(GetParam());
  model->eval();
  Batch prompts = testing::random_prompts(*model, 3, 21);
  SamplingOptions opts{.max_new_tokens = 8, .greedy = true, .stop_token_ids = {kNoStop}};
  Generation g = model->generate(prompts, opts);
  ASSERT_EQ(g.tokens.sizes(), (std::vector<int64_t>{3, 8}));
  torch::NoGradGuard no_grad;
  torch::Tensor ids = prompts.token_ids, mask = prompts.attention_mask;
  for (int step = 0; step < 8; ++step) {
    torch::Tensor last = model->forward({prompts.images, ids, mask, {}}).select(1, -1);
    torch::Tensor next = last.argmax(-1);
    EXPECT_TRUE(torch::equal(next, g.tokens.select(1, step))) << "step " << step;
    torch::Tensor lp = last.log_softmax(-1).gather(-1, next.unsqueeze(1)).squeeze(1);
    EXPECT_LT(max_abs_diff(lp, g.logprobs.select(1, step)), 1e-5);
    ids = torch::cat({ids, next.unsqueeze(1)}, 1);
    mask = torch::cat({mask, torch::ones({3, 1}, torch::kInt64)}, 1);
  }
}

TEST_P(BackboneFamily, BatchedResultsEqualOneByOne) {
  auto model = testing::make_tiny(GetParam());
  model->eval();
  Batch prompts = testing::random_prompts(*model, 3, 5);
  SamplingOptions opts{.max_new_tokens = 6, .greedy = true, .stop_token_ids = {kNoStop}};
  Generation g = model->generate(prompts, opts);
  torch::NoGradGuard no_grad;
  torch::Tensor batched = model->forward(prompts);
  for (int64_t i = 0; i < 3; ++i) {
    torch::Tensor real = prompts.attention_mask[i].to(torch::kBool);
    Batch one{prompts.images.narrow(0, i, 1), prompts.token_ids[i].masked_select(real).unsqueeze(0), torch::Tensor()};
    Generation gi = model->generate(one, opts);
    EXPECT_TRUE(torch::equal(gi.tokens[0], g.tokens[i])) << "row " << i;
    EXPECT_LT(max_abs_diff(gi.logprobs[0], g.logprobs[i]), 1e-5);
    torch::Tensor single = model->forward(one)[0];
    const int64_t n = single.size(0);
    EXPECT_LT(max_abs_diff(single, batched[i].narrow(0, batched.size(1) - n, n)), 1e-5) << "row " << i;
  }
  // Right padding gives the same logits on real tokens as left padding.
  std::vector<std::vector<int64_t>> seqs;
  for (int64_t i = 0; i < 3; ++i) {
    torch::Tensor real = prompts.token_ids[i].masked_select(prompts.attention_mask[i].to(torch::kBool));
    seqs.emplace_back(real.data_ptr<int64_t>(), real.data_ptr<int64_t>() + real.numel());
  }
  Batch right = pad_batch(seqs, model->pad_token_id(), PadSide::Right);
  right.images = prompts.images;
  torch::Tensor rl = model->forward(right);
  for (int64_t i = 0; i < 3; ++i) {
    const int64_t n = static_cast<int64_t>(seqs[static_cast<size_t>(i)].size());
    EXPECT_LT(max_abs_diff(rl[i].narrow(0, 0, n), batched[i].narrow(0, batched.size(1) - n, n)), 1e-5);
  }
}

// A row's draws come from its own stream: the rows of stream A pick the
// same tokens whether stream B's rows sample beside them or not, and rows
// that share a stream draw from it in row order.
TEST(Sampling, RowGeneratorsKeepEachStreamIndependentOfTheBatch) {
  torch::manual_seed(5);
  torch::Tensor logits = torch::randn({1, 50}).expand({6, 50}).contiguous();
  SamplingOptions opts{.temperature = 1.0};
  torch::Generator unused = make_generator(0);
  torch::Tensor lp;
  opts.row_generators = {make_generator(1), make_generator(1), make_generator(2), make_generator(2), make_generator(2),
                         make_generator(3)};
  opts.row_generators[1] = opts.row_generators[0];  // rows 0-1: stream 1; rows 2-4: stream 2; row 5: stream 3
  opts.row_generators[3] = opts.row_generators[4] = opts.row_generators[2];
  torch::Tensor mixed = sample_next(logits, opts, unused, lp, nullptr);

  SamplingOptions alone{.temperature = 1.0};
  torch::Generator two = make_generator(2);
  alone.row_generators = {two, two, two};
  torch::Tensor only_b = sample_next(logits.narrow(0, 0, 3), alone, unused, lp, nullptr);
  EXPECT_TRUE(torch::equal(mixed.narrow(0, 2, 3), only_b));
  torch::Generator one = make_generator(1);
  alone.row_generators = {one, one};
  EXPECT_TRUE(torch::equal(mixed.narrow(0, 0, 2), sample_next(logits.narrow(0, 0, 2), alone, unused, lp, nullptr)));
}

TEST_P(BackboneFamily, RowGeneratorsMustMatchTheBatch) {
  auto model = testing::make_tiny(GetParam());
  Batch prompts = testing::random_prompts(*model, 3, 5);
  SamplingOptions opts{.max_new_tokens = 2, .temperature = 1.0};
  opts.row_generators = {make_generator(1), make_generator(2)};
  try {
    model->generate(prompts, opts);
    FAIL() << "2 row generators for 3 prompts were accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("2 row generators for 3 prompts"), std::string::npos) << e.what();
  }
}

TEST_P(BackboneFamily, SamplingIsSeededAndFiltersWork) {
  auto model = testing::make_tiny(GetParam());
  Batch prompts = testing::random_prompts(*model, 4, 8);
  SamplingOptions opts{.max_new_tokens = 8, .temperature = 1.0, .stop_token_ids = {kNoStop}, .seed = 42};
  Generation a = model->generate(prompts, opts);
  Generation b = model->generate(prompts, opts);
  EXPECT_TRUE(torch::equal(a.tokens, b.tokens));
  EXPECT_TRUE(torch::equal(a.logprobs, b.logprobs));
  opts.seed = 43;
  EXPECT_FALSE(torch::equal(a.tokens, model->generate(prompts, opts).tokens));

  // A caller-owned generator advances across calls and restarts when reseeded.
  opts.generator = make_generator(9);
  Generation c1 = model->generate(prompts, opts);
  Generation c2 = model->generate(prompts, opts);
  EXPECT_FALSE(torch::equal(c1.tokens, c2.tokens));
  opts.generator = make_generator(9);
  EXPECT_TRUE(torch::equal(c1.tokens, model->generate(prompts, opts).tokens));
  opts.generator.reset();

  SamplingOptions greedy{.max_new_tokens = 8, .greedy = true, .stop_token_ids = {kNoStop}};
  Generation g = model->generate(prompts, greedy);
  SamplingOptions top1 = opts;
  top1.top_k = 1;
  EXPECT_TRUE(torch::equal(model->generate(prompts, top1).tokens, g.tokens));
  SamplingOptions nucleus = opts;
  nucleus.top_p = 1e-6;
  EXPECT_TRUE(torch::equal(model->generate(prompts, nucleus).tokens, g.tokens));
  // temperature 0 means greedy.
  SamplingOptions cold = opts;
  cold.temperature = 0;
  EXPECT_TRUE(torch::equal(model->generate(prompts, cold).tokens, g.tokens));
}

TEST_P(BackboneFamily, StopTokensEndSequencesEarly) {
  auto model = testing::make_tiny(GetParam());
  Batch prompts = testing::random_prompts(*model, 3, 4);
  SamplingOptions greedy{.max_new_tokens = 8, .greedy = true, .stop_token_ids = {kNoStop}};
  Generation g = model->generate(prompts, greedy);
  // Stop on row 0's third token: row 0 ends there (stop token included).
  const int64_t stop = g.tokens[0][2].item<int64_t>();
  greedy.stop_token_ids = {stop};
  Generation s = model->generate(prompts, greedy);
  for (int64_t i = 0; i < 3; ++i) {
    const int64_t len = s.lengths[i].item<int64_t>();
    EXPECT_EQ(s.mask[i].sum().item<int64_t>(), len);
    EXPECT_EQ(s.tokens[i][len - 1].item<int64_t>() == stop || len == s.tokens.size(1), true);
    for (int64_t t = 0; t < len; ++t) EXPECT_EQ(s.tokens[i][t].item<int64_t>(), g.tokens[i][t].item<int64_t>());
    for (int64_t t = len; t < s.tokens.size(1); ++t) {
      EXPECT_EQ(s.tokens[i][t].item<int64_t>(), model->pad_token_id());
      EXPECT_EQ(s.logprobs[i][t].item<float>(), 0.0f);
    }
  }
  EXPECT_LE(s.lengths[0].item<int64_t>(), 3);
  // When every sequence stops, decoding ends: width = the longest length.
  EXPECT_EQ(s.tokens.size(1), s.lengths.max().item<int64_t>());
}

TEST_P(BackboneFamily, LogProbsAreTemperatureScaledAndMatchSampling) {
  auto model = testing::make_tiny(GetParam());
  model->eval();
  Batch prompts = testing::random_prompts(*model, 4, 13);
  const double temperature = 0.7;
  SamplingOptions opts{.max_new_tokens = 6, .temperature = temperature, .stop_token_ids = {kNoStop}, .seed = 5};
  Generation g = model->generate(prompts, opts);
  SequenceBatch seq = append_generation(prompts, g);
  TokenScores s = model->score(seq.batch, {.temperature = temperature, .entropies = true, .log_distribution = true});
  const int64_t p = seq.prompt_width, n = g.tokens.size(1);
  EXPECT_TRUE((s.logprobs <= 0).all().item<bool>());
  EXPECT_LT(max_abs_diff(s.logprobs.narrow(1, p, n), g.logprobs), 1e-4);
  EXPECT_LT(max_abs_diff(s.entropies.narrow(1, p, n), g.entropies), 1e-4);
  const double log_v = std::log(static_cast<double>(model->tokenizer().size()));
  EXPECT_TRUE((s.entropies >= -1e-5).all().item<bool>());
  EXPECT_TRUE((s.entropies <= log_v + 1e-4).all().item<bool>());

  // By hand: log_softmax(logits / T) at the next token.
  torch::NoGradGuard no_grad;
  torch::Tensor logits = model->forward(seq.batch);
  const int64_t t = seq.batch.width();
  torch::Tensor manual = (logits.narrow(1, 0, t - 1) / temperature)
                             .log_softmax(-1)
                             .gather(-1, seq.batch.token_ids.narrow(1, 1, t - 1).unsqueeze(-1))
                             .squeeze(-1) *
                         seq.batch.attention_mask.narrow(1, 1, t - 1);
  EXPECT_LT(max_abs_diff(s.logprobs.narrow(1, 1, t - 1), manual), 1e-5);
  EXPECT_EQ(s.logprobs.select(1, 0).abs().max().item<float>(), 0.0f);
  // The full distribution agrees and sums to one.
  torch::Tensor dist = s.log_distribution.narrow(1, 1, t - 1);
  EXPECT_LT(max_abs_diff(dist.exp().sum(-1), torch::ones({4, t - 1})), 1e-5);
  torch::Tensor from_dist = dist.gather(-1, seq.batch.token_ids.narrow(1, 1, t - 1).unsqueeze(-1)).squeeze(-1) *
                            seq.batch.attention_mask.narrow(1, 1, t - 1);
  EXPECT_LT(max_abs_diff(from_dist, manual), 1e-5);
  // Hotter means flatter: higher entropy everywhere.
  TokenScores hot = model->score(seq.batch, {.temperature = 2.0, .entropies = true});
  torch::Tensor real = seq.response_mask.to(torch::kBool);
  EXPECT_TRUE((hot.entropies.masked_select(real) > s.entropies.masked_select(real)).all().item<bool>());
  // Token-level helpers agree with the scores.
  EXPECT_LT(max_abs_diff(token_logprobs(logits.narrow(1, 0, t - 1), seq.batch.token_ids.narrow(1, 1, t - 1), 2.0) *
                             seq.batch.attention_mask.narrow(1, 1, t - 1),
                         hot.logprobs.narrow(1, 1, t - 1)),
            1e-5);
}

TEST_P(BackboneFamily, GradientsReachVisionTowerAndProjector) {
  auto model = testing::make_tiny(GetParam());
  model->train();
  Batch prompts = testing::random_prompts(*model, 2, 3);
  SequenceBatch seq = pack_sequences(
      {model->build_prompt("", "is the circle blue ?"), model->build_prompt("", "<image> is the square red ?")},
      {model->encode_response("<answer> T </answer>"), model->encode_response("<think> no </think> <answer> F </answer>")},
      model->pad_token_id());
  seq.batch.images = prompts.images;
  auto loss_of = [&](Backbone& m) {
    TokenScores s = m.score(seq.batch);
    torch::Tensor mask = seq.response_mask.to(torch::kFloat32);
    return -(s.logprobs * mask).sum() / mask.sum();
  };
  loss_of(*model).backward();
  for (ParamGroup group : kParamGroups) {
    const auto named = model->module().named_parameters();
    int checked = 0;
    for (const auto& p : named) {
      if (model->group_of(p.key()) != group) continue;
      ++checked;
      ASSERT_TRUE(p.value().grad().defined()) << p.key();
      EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
    }
    EXPECT_GT(checked, 0) << to_string(group);
  }
  // Freezing the vision tower stops its gradients, not the projector's.
  auto frozen = testing::make_tiny(GetParam());
  frozen->set_trainable(ParamGroup::Vision, false);
  loss_of(*frozen).backward();
  for (const auto& p : frozen->module().named_parameters()) {
    if (frozen->group_of(p.key()) == ParamGroup::Vision) {
      EXPECT_FALSE(p.value().grad().defined()) << p.key();
    }
    if (frozen->group_of(p.key()) == ParamGroup::Projector) {
      EXPECT_TRUE(p.value().grad().defined()) << p.key();
    }
  }
  EXPECT_EQ(model->parameter_count(), model->parameter_count(ParamGroup::Vision) +
                                          model->parameter_count(ParamGroup::Projector) +
                                          model->parameter_count(ParamGroup::Language));
}

TEST_P(BackboneFamily, SaveLoadAndCloneGiveIdenticalLogits) {
  auto model = testing::make_tiny(GetParam());
  model->eval();
  Batch prompts = testing::random_prompts(*model, 3, 17);
  TempDir dir;
  model->save(dir.path());
  for (const char* f : {kWeightsFile, kConfigFile, kTokenizerFile}) EXPECT_TRUE(fs::exists(dir.path() / f)) << f;
  Json cfg = Json::parse(read_file(dir.path() / kConfigFile));
  EXPECT_EQ(cfg["architecture"], "tiny_vlm");
  EXPECT_EQ(cfg["family"], GetParam());
  EXPECT_EQ(cfg["torch_dtype"], "float32");
  EXPECT_EQ(fs::path(cfg["plugin_library"].get<std::string>()), fs::weakly_canonical(MSTAR_TINY_VLM_PLUGIN));

  torch::manual_seed(5);
  torch::Tensor r1 = torch::rand({4});
  torch::manual_seed(5);
  auto loaded = load_backbone(dir.path());
  torch::Tensor r2 = torch::rand({4});
  EXPECT_TRUE(torch::equal(r1, r2)) << "loading moved the caller's random stream";
  loaded->eval();
  EXPECT_EQ(loaded->tokenizer(), model->tokenizer());
  EXPECT_EQ(loaded->config(), model->config());
  torch::NoGradGuard no_grad;
  torch::Tensor want = model->forward(prompts);
  EXPECT_TRUE(torch::equal(loaded->forward(prompts), want));

  auto copy = model->clone();
  EXPECT_TRUE(torch::equal(copy->forward(prompts), want));
  for (auto& p : copy->parameters()) p.add_(1.0);  // independent storage
  EXPECT_TRUE(torch::equal(model->forward(prompts), want));
  EXPECT_FALSE(torch::equal(copy->forward(prompts), want));
}

TEST_P(BackboneFamily, ChatTemplateAndPromptErrors) {
  auto model = testing::make_tiny(GetParam());
  const Tokenizer& tok = model->tokenizer();
  const int64_t n = model->image_token_count();
  auto ids = model->build_prompt("be brief", "is the circle blue ?");
  ASSERT_GT(ids.size(), static_cast<size_t>(n + 6));
  EXPECT_EQ(ids[0], tok.bos_id());
  EXPECT_EQ(ids[1], tok.id(tokens::kSystem));
  EXPECT_EQ(ids.back(), tok.id(tokens::kAssistant));
  EXPECT_EQ(ids[ids.size() - 2], tok.id(tokens::kEnd));
  const auto user = std::find(ids.begin(), ids.end(), tok.id(tokens::kUser));
  ASSERT_NE(user, ids.end());
  for (int64_t i = 1; i <= n; ++i) EXPECT_EQ(*(user + i), tok.image_id());  // image before the text
  EXPECT_EQ(*(user + n + 1), tok.id("is"));
  EXPECT_EQ(std::count(ids.begin(), ids.end(), tok.image_id()), n);

  auto inside = model->build_prompt("", "is <image> blue");
  EXPECT_EQ(inside[1], tok.id(tokens::kUser));
  EXPECT_EQ(inside[2], tok.id("is"));
  EXPECT_EQ(inside[3], tok.image_id());
  EXPECT_EQ(inside[3 + n], tok.id("blue"));
  auto text_only = model->build_prompt("", "is it blue", /*with_image=*/false);
  EXPECT_EQ(std::count(text_only.begin(), text_only.end(), tok.image_id()), 0);

  EXPECT_THROW(model->build_prompt("", "<image> and <image>"), Error);
  EXPECT_THROW(model->build_prompt("", "<image> blue", false), Error);

  auto response = model->encode_response("<think> red </think> <answer> T </answer>");
  EXPECT_EQ(response.back(), tok.id(tokens::kEnd));
  response.push_back(tok.pad_id());
  EXPECT_EQ(model->decode_response(response), "<think> red </think> <answer> T </answer>");

  Batch b = pad_batch({ids}, model->pad_token_id(), PadSide::Left);
  EXPECT_THROW(model->forward(b), Error);  // placeholders without images
  b.images = torch::rand({1, 3, model->image_size() * 2, model->image_size() * 2});
  EXPECT_THROW(model->forward(b), Error);  // wrong image size
  Batch right = pad_batch({ids, text_only}, model->pad_token_id(), PadSide::Right);
  right.images = torch::rand({2, 3, model->image_size(), model->image_size()});
  EXPECT_THROW(model->generate(right, {}), Error);  // generate needs left padding
}

TEST_P(BackboneFamily, Bfloat16RunsAndSamples) {
  auto model = testing::make_tiny(GetParam());
  model->to(torch::kCPU, torch::kBFloat16);
  EXPECT_EQ(model->dtype(), torch::kBFloat16);
  Batch prompts = testing::random_prompts(*model, 2, 1);
  torch::NoGradGuard no_grad;
  torch::Tensor logits = model->forward(prompts);
  EXPECT_EQ(logits.scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::isfinite(logits).all().item<bool>());
  Generation g = model->generate(prompts, {.max_new_tokens = 4, .stop_token_ids = {kNoStop}});
  EXPECT_TRUE(torch::isfinite(g.logprobs).all().item<bool>());
}

TEST(Backbone, OptimizerStateResumesTraining) {
  set_num_threads(1);
  auto model = testing::make_tiny("qwen");
  SequenceBatch seq = pack_sequences({model->build_prompt("", "is the circle blue ?", false)},
                                     {model->encode_response("<answer> T </answer>")}, model->pad_token_id());
  auto step = [&](Backbone& m, torch::optim::Optimizer& opt) {
    opt.zero_grad();
    TokenScores s = m.score(seq.batch);
    torch::Tensor mask = seq.response_mask.to(torch::kFloat32);
    (-(s.logprobs * mask).sum() / mask.sum()).backward();
    opt.step();
  };
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(1e-2));
  step(*model, opt);
  TempDir dir;
  model->save(dir.path());
  save_optimizer(opt, dir.path() / kOptimizerFile);
  step(*model, opt);

  auto resumed = load_backbone(dir.path());
  torch::optim::AdamW opt2(resumed->parameters(), torch::optim::AdamWOptions(1e-2));
  load_optimizer(opt2, dir.path() / kOptimizerFile);
  step(*resumed, opt2);
  auto a = model->parameters(), b = resumed->parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_LT(max_abs_diff(a[i], b[i]), 1e-6) << i;

  // A fresh optimizer (no state) would have taken another step.
  auto fresh = load_backbone(dir.path());
  torch::optim::AdamW opt3(fresh->parameters(), torch::optim::AdamWOptions(1e-2));
  step(*fresh, opt3);
  double diff = 0;
  auto c = fresh->parameters();
  for (size_t i = 0; i < a.size(); ++i) diff = std::max(diff, max_abs_diff(a[i], c[i]));
  EXPECT_GT(diff, 1e-6);
  EXPECT_THROW(load_optimizer(opt3, dir.path() / "missing.pt"), Error);
}

// The node: every family x size builds, saves, loads through the artifact
// and takes one training step at the default 64x64 images.
TEST(TinyVlmNode, AllFamiliesAndSizesBuildLoadAndTrainOneStep) {
  set_num_threads(1);
  const std::map<std::string, std::pair<int64_t, int64_t>> expected = {
      {"S", {300'000, 800'000}}, {"M", {2'000'000, 4'000'000}}, {"L", {9'000'000, 15'000'000}}};
  for (const char* family : {"qwen", "llava"}) {
    for (const char* size : {"S", "M", "L"}) {
      SCOPED_TRACE(std::string(family) + " " + size);
      TempDir dir;
      Artifact a = testing::run_tiny_vlm_node({{"family", family}, {"size", size}}, dir.path() / "out");
      EXPECT_EQ(a.manifest()["type"], "backbone");
      auto model = load_backbone(a);
      const int64_t total = a.manifest()["parameters"]["total"].get<int64_t>();
      EXPECT_EQ(model->parameter_count(), total);
      EXPECT_GE(total, expected.at(size).first);
      EXPECT_LE(total, expected.at(size).second);
      EXPECT_EQ(model->image_size(), 64);
      EXPECT_EQ(model->image_token_count(), std::string(family) == "qwen" ? 16 : 64);

      model->train();
      torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(1e-3));
      SequenceBatch seq = pack_sequences(
          {model->build_prompt("answer T or F", "<image> is the circle blue ?"), model->build_prompt("", "is it red ?")},
          {model->encode_response("<think> it is </think> <answer> T </answer>"),
           model->encode_response("<answer> F </answer>")},
          model->pad_token_id());
      seq.batch.images = torch::rand({2, 3, 64, 64});
      torch::Tensor before = model->parameters().front().detach().clone();
      TokenScores s = model->score(seq.batch);
      torch::Tensor mask = seq.response_mask.to(torch::kFloat32);
      torch::Tensor loss = -(s.logprobs * mask).sum() / mask.sum();
      ASSERT_TRUE(std::isfinite(loss.item<double>()));
      loss.backward();
      opt.step();
      EXPECT_FALSE(torch::equal(before, model->parameters().front()));
    }
  }
}

TEST(TinyVlmNode, SeededAndVocabularyFromDataset) {
  TempDir dir;
  const fs::path data = dir.path() / "world";
  fs::create_directories(data / "train");
  {
    std::ofstream out(data / "train" / "sft.jsonl");
    out << R"({"problem": "Is the glorp zibbed?", "response": "<think> glorp </think> <answer> T </answer>"})" << "\n";
    out << R"({"problem": "Is the glorp flumped?", "answer": "F"})" << "\n";
  }
  write_file_atomic(data / kManifestFile, R"({"plugin": "dataset/test", "key": "d", "type": "dataset"})");
  Artifact world = Artifact::open(data);
  Artifact a = testing::run_tiny_vlm_node({{"family", "qwen"}, {"size", "S"}}, dir.path() / "a", {{"data", world}}, 3);
  Artifact b = testing::run_tiny_vlm_node({{"family", "qwen"}, {"size", "S"}}, dir.path() / "b", {{"data", world}}, 3);
  Artifact c = testing::run_tiny_vlm_node({{"family", "qwen"}, {"size", "S"}}, dir.path() / "c", {{"data", world}}, 4);
  auto ma = load_backbone(a), mb = load_backbone(b), mc = load_backbone(c);
  for (const char* w : {"glorp", "zibbed", "flumped", "?", "T", "F"}) EXPECT_TRUE(ma->tokenizer().find(w)) << w;
  EXPECT_EQ(read_file(a.dir() / kWeightsFile), read_file(b.dir() / kWeightsFile));  // same seed, same bytes
  EXPECT_NE(read_file(a.dir() / kWeightsFile), read_file(c.dir() / kWeightsFile));
  EXPECT_EQ(a.manifest()["family"], "qwen");
}

}  // namespace
}  // namespace mstar::ml

namespace mstar::ml {
namespace {

// device: auto takes a GPU when there is one; a CUDA device the process
// cannot use fails at the node's start, saying how many it sees.
TEST(Device, AutoAndUnusableCudaAreSaidClearly) {
  const bool cuda = torch::cuda::is_available();
  EXPECT_EQ(parse_device("auto").is_cuda(), cuda);
  EXPECT_EQ(parse_device("cpu"), torch::Device(torch::kCPU));
  auto message = [](const std::string& name) {
    try {
      parse_device(name);
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::BadInput);
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(message("cuda:99").find("device 'cuda:99': this node's process sees"), std::string::npos);
  if (!cuda) EXPECT_NE(message("cuda").find("sees 0 usable CUDA device(s)"), std::string::npos) << message("cuda");
  EXPECT_NE(message("gpu").find("unknown device 'gpu' (expected cpu, cuda, cuda:N or auto)"), std::string::npos);
}

}  // namespace
}  // namespace mstar::ml
