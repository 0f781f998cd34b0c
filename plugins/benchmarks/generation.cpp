#include "generation.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <numeric>

#include "mstar/error.h"
#include "mstar/seed.h"

namespace mstar::bench {

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string duration_text(double seconds) {
  const auto s = static_cast<int64_t>(seconds + 0.5);
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
  return std::to_string(s / 3600) + "h" + std::to_string(s % 3600 / 60) + "m";
}

}  // namespace

void add_decoding_params(ParamSchema& schema, int64_t max_new_tokens) {
  schema
      .add(ParamSpec::integer("max_new_tokens")
               .def(max_new_tokens)
               .range(1, 1 << 16)
               .describe("tokens generated at most per answer"))
      .add(ParamSpec::real("temperature")
               .def(0.5)
               .range(0.0, 10.0)
               .describe("sampling temperature (the reference's validation setting is 0.5); 0 = greedy"))
      .add(ParamSpec::boolean("greedy").def(false).describe("argmax decoding instead of sampling"))
      .add(ParamSpec::real("top_p").def(1.0).range(0.0, 1.0).describe("nucleus sampling; 1 = off"))
      .add(ParamSpec::integer("top_k").def(0).range(0, 1 << 20).describe("top-k sampling; 0 = off"))
      .add(ParamSpec::integer("n").def(1).range(1, 256).describe(
          "answers per question; n > 1 adds majority-vote metrics, the others are means over the n"))
      .add(ParamSpec::integer("batch_size").def(32).range(1, 1 << 16).describe("sequences per generate() call"))
      .add(ParamSpec::string("device").def("").describe("cpu, cuda, cuda:N; \"\" = as the checkpoint"))
      .add(ParamSpec::enumeration("dtype", {"", "float32", "bfloat16", "float16"}).def("").describe(
          "weights and compute of the evaluated model; \"\" = as the checkpoint (bfloat16 is for GPUs)"));
}

DecodeOptions decode_options(const Params& params, uint64_t seed) {
  DecodeOptions o;
  o.max_new_tokens = params.get_int("max_new_tokens");
  o.temperature = params.get_float("temperature");
  o.greedy = params.get_bool("greedy") || o.temperature == 0.0;
  o.top_p = params.get_float("top_p");
  o.top_k = params.get_int("top_k");
  o.samples = params.get_int("n");
  o.batch_size = params.get_int("batch_size");
  o.seed = seed;
  return o;
}

ml::LoadOptions load_options(const Params& params) {
  ml::LoadOptions o;
  o.device = params.get_string("device");
  o.dtype = params.get_string("dtype");
  return o;
}

Json to_json(const DecodeOptions& o) {
  return Json{{"max_new_tokens", o.max_new_tokens},
              {"greedy", o.greedy},
              {"temperature", o.temperature},
              {"top_p", o.top_p},
              {"top_k", o.top_k},
              {"n", o.samples},
              {"batch_size", o.batch_size},
              {"seed", o.seed}};
}

ResponseGenerator::ResponseGenerator(NodeContext& ctx, std::unique_ptr<ml::Backbone> model, DecodeOptions options)
    : ctx_(ctx), model_(std::move(model)), options_(options) {
  model_->eval();
}

torch::Tensor ResponseGenerator::image_tensor(const data::ImageRef& ref) {
  auto it = images_.find(ref.source);
  if (it != images_.end()) return it->second;
  const int size = static_cast<int>(model_->image_size());
  data::Image img = data::load_image(ref, size);
  torch::Tensor t = torch::from_blob(img.rgb.data(), {img.height, img.width, 3}, torch::kUInt8)
                        .permute({2, 0, 1})
                        .to(torch::kFloat32)
                        .div_(255.0)
                        .contiguous();
  return images_.emplace(ref.source, t).first->second;
}

std::vector<std::vector<std::string>> ResponseGenerator::run(std::string_view system, const std::vector<Query>& queries,
                                                             std::string_view label) {
  const int64_t n = options_.samples;
  std::vector<std::vector<std::string>> out(queries.size());
  if (queries.empty()) return out;

  std::vector<std::vector<int64_t>> prompts;
  prompts.reserve(queries.size());
  for (const auto& q : queries) prompts.push_back(model_->build_prompt(system, q.user, q.image != nullptr));
  // Similar lengths share a batch: less left padding to compute over.
  std::vector<size_t> order(queries.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return prompts[a].size() < prompts[b].size(); });

  const size_t rows_per_batch = static_cast<size_t>(std::max<int64_t>(1, options_.batch_size / n));
  const int64_t s = model_->image_size();
  ProgressLog progress(ctx_, std::string(label), queries.size() * static_cast<size_t>(n), "answers");
  size_t done = 0;
  for (size_t begin = 0, batch = 0; begin < order.size(); begin += rows_per_batch, ++batch) {
    if (ctx_.cancelled()) throw Error(ErrorCategory::Interrupted, std::string(label) + ": stopped by the host");
    const size_t end = std::min(order.size(), begin + rows_per_batch);
    std::vector<std::vector<int64_t>> seqs;
    std::vector<torch::Tensor> pixels;
    for (size_t j = begin; j < end; ++j) {
      const Query& q = queries[order[j]];
      torch::Tensor img = q.image ? image_tensor(*q.image) : torch::zeros({3, s, s});
      for (int64_t k = 0; k < n; ++k) {
        seqs.push_back(prompts[order[j]]);
        pixels.push_back(img);
      }
    }
    ml::Batch b = ml::pad_batch(seqs, model_->pad_token_id(), ml::PadSide::Left);
    b.images = torch::stack(pixels).to(model_->device());
    ml::SamplingOptions sampling;
    sampling.max_new_tokens = options_.max_new_tokens;
    sampling.greedy = options_.greedy;
    sampling.temperature = options_.greedy ? 1.0 : options_.temperature;
    sampling.top_p = options_.top_p;
    sampling.top_k = options_.top_k;
    sampling.seed = stream_seed(options_.seed, {0xBE7C4, batch});
    sampling.compute_entropies = true;
    ml::Generation g = model_->generate(b, sampling);
    // Entropies are 0 after a sequence ends; the lengths count its tokens.
    entropy_sum_ += g.entropies.sum().item<double>();
    entropy_tokens_ += static_cast<double>(g.lengths.sum().item<int64_t>());

    torch::Tensor tokens = g.tokens.to(torch::kCPU).contiguous();
    torch::Tensor lengths = g.lengths.to(torch::kCPU).contiguous();
    auto length = lengths.accessor<int64_t, 1>();
    const int64_t width = tokens.size(1);
    const int64_t* data = tokens.data_ptr<int64_t>();
    int64_t seq = 0;
    for (size_t j = begin; j < end; ++j) {
      auto& answers = out[order[j]];
      for (int64_t k = 0; k < n; ++k, ++seq) {
        const int64_t len = length[seq];
        answers.push_back(model_->decode_response(std::vector<int64_t>(data + seq * width, data + seq * width + len)));
      }
    }
    done += (end - begin) * static_cast<size_t>(n);
    progress.advance(done);
  }
  return out;
}

std::vector<std::vector<double>> ResponseGenerator::score_completions(
    std::string_view system, const std::vector<Query>& queries,
    const std::vector<std::vector<std::string>>& completions, std::string_view label) {
  std::vector<std::vector<double>> out(queries.size());
  if (queries.empty()) return out;
  if (completions.size() != queries.size())
    throw Error(ErrorCategory::Internal, "score_completions: one list of completions per query expected");
  // (query, completion) pairs in batches of about batch_size sequences.
  std::vector<std::pair<size_t, size_t>> pairs;
  for (size_t i = 0; i < queries.size(); ++i)
    for (size_t c = 0; c < completions[i].size(); ++c) pairs.emplace_back(i, c);
  for (size_t i = 0; i < queries.size(); ++i) out[i].assign(completions[i].size(), 0.0);

  const int64_t s = model_->image_size();
  const size_t per_batch = static_cast<size_t>(std::max<int64_t>(1, options_.batch_size));
  ProgressLog progress(ctx_, std::string(label), pairs.size(), "completions scored");
  torch::NoGradGuard no_grad;
  std::map<size_t, std::vector<int64_t>> prompt_cache;
  for (size_t begin = 0; begin < pairs.size(); begin += per_batch) {
    if (ctx_.cancelled()) throw Error(ErrorCategory::Interrupted, std::string(label) + ": stopped by the host");
    const size_t end = std::min(pairs.size(), begin + per_batch);
    std::vector<std::vector<int64_t>> prompts, responses;
    std::vector<torch::Tensor> pixels;
    for (size_t j = begin; j < end; ++j) {
      const auto [i, c] = pairs[j];
      auto it = prompt_cache.find(i);
      if (it == prompt_cache.end()) {
        prompt_cache.clear();  // pairs of one query are adjacent
        it = prompt_cache.emplace(i, model_->build_prompt(system, queries[i].user, queries[i].image != nullptr)).first;
      }
      prompts.push_back(it->second);
      responses.push_back(model_->encode_response(completions[i][c], false));
      pixels.push_back(queries[i].image ? image_tensor(*queries[i].image) : torch::zeros({3, s, s}));
    }
    ml::SequenceBatch seq = ml::pack_sequences(prompts, responses, model_->pad_token_id());
    seq.batch.images = torch::stack(pixels).to(model_->device());
    const ml::TokenScores scores = model_->score(seq.batch);
    const torch::Tensor sums = (scores.logprobs * seq.response_mask.to(scores.logprobs.device(), torch::kFloat32))
                                   .sum(1)
                                   .to(torch::kCPU, torch::kFloat64);
    auto sum = sums.accessor<double, 1>();
    for (size_t j = begin; j < end; ++j) out[pairs[j].first][pairs[j].second] = sum[static_cast<int64_t>(j - begin)];
    progress.advance(end);
  }
  return out;
}

ProgressLog::ProgressLog(NodeContext& ctx, std::string label, size_t total, std::string unit, double every_s)
    : ctx_(ctx),
      label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      every_s_(every_s),
      start_(now_seconds()),
      last_(start_) {}

void ProgressLog::advance(size_t done) {
  const double now = now_seconds();
  if (done < total_ && now - last_ < every_s_) return;
  last_ = now;
  const double elapsed = std::max(now - start_, 1e-9);
  const double rate = static_cast<double>(done) / elapsed;
  const double pct = total_ ? 100.0 * static_cast<double>(done) / static_cast<double>(total_) : 100.0;
  const double eta = rate > 0 ? static_cast<double>(total_ - std::min(done, total_)) / rate : 0.0;
  ctx_.logger().info("{}: {}/{} {} ({:.0f}%), {:.1f}/s, {} {}", label_, done, total_, unit_, pct, rate,
                     done >= total_ ? "took" : "eta", duration_text(done >= total_ ? elapsed : eta));
}

}  // namespace mstar::bench
