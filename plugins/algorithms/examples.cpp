#include "examples.h"

#include <algorithm>
#include <cmath>

#include <torch/torch.h>

#include "mstar/data/image.h"
#include "mstar/data/import.h"
#include "mstar/data/jsonl.h"
#include "mstar/error.h"
#include "mstar/format.h"

namespace mstar::algorithms {

namespace fs = std::filesystem;

// ---- images -----------------------------------------------------------------------------

int64_t ImageBank::add(const std::string& source, const mstar::data::PathConfinement& confinement, int64_t max_pixels) {
  data::ImageRef ref;
  ref.source = source;
  ref.max_pixels = max_pixels;
  std::string key;
  if (data::is_data_uri(source)) {
    std::string why;
    auto uri = data::parse_data_uri(source, &why);
    if (!uri) throw_bad_input("image: " + why);
    ref.mime = uri->mime;
    ref.bytes = std::make_shared<const std::string>(std::move(uri->bytes));
    key = source;
  } else {
    ref.path = confinement.resolve(source, "");
    key = ref.path.string();
  }
  auto it = index_.find(key);
  if (it != index_.end()) return it->second;
  const data::Image image = data::load_image(ref, static_cast<int>(size_));
  torch::Tensor hwc = torch::from_blob(const_cast<uint8_t*>(image.rgb.data()), {image.height, image.width, 3},
                                       torch::kUInt8);
  images_.push_back(hwc.permute({2, 0, 1}).contiguous().clone());
  const int64_t id = count() - 1;
  index_.emplace(key, id);
  return id;
}

torch::Tensor ImageBank::batch(const std::vector<int64_t>& indices) const {
  if (std::all_of(indices.begin(), indices.end(), [](int64_t i) { return i < 0; })) return {};
  torch::Tensor out = torch::zeros({static_cast<int64_t>(indices.size()), 3, size_, size_}, torch::kFloat32);
  for (size_t i = 0; i < indices.size(); ++i)
    if (indices[i] >= 0) out[static_cast<int64_t>(i)].copy_(images_.at(static_cast<size_t>(indices[i])));
  return out.div_(255.0);
}

void ImageBank::fill(ml::Batch& b, const std::vector<int64_t>& indices) const {
  std::vector<int64_t> distinct, rows;
  std::map<int64_t, int64_t> slot;
  for (int64_t i : indices) {
    const auto [it, fresh] = slot.emplace(i, static_cast<int64_t>(distinct.size()));
    if (fresh) distinct.push_back(i);
    rows.push_back(it->second);
  }
  b.image_index = torch::Tensor();
  if (distinct.size() == indices.size()) {
    b.images = batch(indices);
    return;
  }
  b.images = batch(distinct);
  if (b.images.defined()) b.image_index = torch::tensor(rows, torch::kInt64);
}

// ---- rows ----------------------------------------------------------------------------------

std::vector<std::string> string_list(const Json& list) {
  std::vector<std::string> out;
  if (!list.is_array()) return out;
  for (const Json& v : list)
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

PromptFormat prompt_format(const Params& params) {
  PromptFormat f;
  f.system = params.get_string("system_prompt");
  f.format_prompt = params.get_string("format_prompt");
  if (f.format_prompt.find("{problem}") == std::string::npos)
    throw_bad_input("format_prompt must contain {problem}, got '" + f.format_prompt + "'");
  return f;
}

namespace {

bool wanted(const std::vector<std::string>& allowed, const std::string& value) {
  return allowed.empty() || std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}

std::string replace_all(std::string text, const std::string& key, const std::string& value) {
  for (size_t pos = text.find(key); pos != std::string::npos; pos = text.find(key, pos + value.size()))
    text.replace(pos, key.size(), value);
  return text;
}

std::string apply_format(const std::string& format, const std::string& problem) {
  return replace_all(format, "{problem}", problem);
}

}  // namespace

std::vector<Example> load_examples(const fs::path& file, const ml::Backbone& model, ImageBank& images,
                                   const PromptFormat& format, const ExampleFilter& filter, LoadReport* report) {
  if (!fs::is_regular_file(file)) throw_bad_input("no data file " + file.string());
  std::vector<Example> out;
  LoadReport r;
  // The rows come from an artifact: what its import allowed (the folders an
  // import with link: symlink points into), this allows too, and no more.
  const fs::path dir = fs::absolute(file).parent_path();
  const data::ReadPolicy policy = data::recorded_read_policy(dir);
  const mstar::data::PathConfinement confinement(dir, policy.image_roots);
  data::for_each_jsonl(file, [&](size_t line, const Json& row) {
    ++r.rows;
    if (filter.max_rows > 0 && static_cast<int64_t>(out.size()) >= filter.max_rows) return;
    const std::string where = data::location(file, line) + ": ";
    if (!row.contains("problem") || !row["problem"].is_string()) throw_bad_input(where + "missing string 'problem'");
    Example ex;
    ex.row = data::row_from_json(row, line);
    if (!wanted(filter.levels, ex.row.level) || !wanted(filter.kinds, ex.row.kind)) {
      ++r.filtered;
      return;
    }
    if (filter.need_answer && ex.row.answer.empty()) throw_bad_input(where + "missing 'answer'");
    std::string response;
    if (!filter.response_template.empty()) {
      if (ex.row.answer.empty()) throw_bad_input(where + "missing 'answer' (response_template needs it)");
      response = replace_all(filter.response_template, "{answer}", ex.row.answer);
    } else if (row.contains("response") && row["response"].is_string()) {
      response = row["response"].get<std::string>();
    } else if (filter.need_response) {
      throw_bad_input(where + "missing string 'response'");
    }
    bool with_image = false;
    if (row.contains("images") && row["images"].is_array() && !row["images"].empty()) {
      if (row["images"].size() > 1) throw_bad_input(where + "more than one image (one image per sample)");
      try {
        ex.image = images.add(row["images"][0].get<std::string>(), confinement, policy.max_pixels);
      } catch (const Error& e) {
        throw_bad_input(where + e.what());
      }
      with_image = true;
    }
    try {
      ex.prompt = model.build_prompt(format.system, apply_format(format.format_prompt, row["problem"].get<std::string>()),
                                     with_image);
    } catch (const Error& e) {
      throw_bad_input(where + e.what());
    }
    if (filter.max_prompt_length > 0 && static_cast<int64_t>(ex.prompt.size()) > filter.max_prompt_length) {
      ++r.too_long;
      return;
    }
    if (!response.empty()) {
      ex.response = model.encode_response(response, /*end_turn=*/true);
      if (filter.max_response_length > 0 && static_cast<int64_t>(ex.response.size()) > filter.max_response_length) {
        ex.response.resize(static_cast<size_t>(filter.max_response_length));
        ++r.truncated;
      }
    }
    out.push_back(std::move(ex));
  });
  r.kept = static_cast<int64_t>(out.size());
  if (report) *report = r;
  if (out.empty())
    throw_bad_input(file.string() + ": no usable rows (" + std::to_string(r.rows) + " read, " +
                    std::to_string(r.filtered) + " filtered out by level/kind, " + std::to_string(r.too_long) +
                    " prompts too long)");
  return out;
}

// ---- samplers ---------------------------------------------------------------------------------

Sampler::Sampler(std::vector<int64_t> pool, uint64_t seed, bool shuffle)
    : pool_(std::move(pool)), seed_(seed), shuffle_(shuffle) {
  begin_epoch();
}

void Sampler::begin_epoch() {
  order_ = pool_;
  if (!shuffle_) return;
  // mt19937_64's output is fixed by the standard; the shuffle is spelled
  // out here because std::shuffle differs between standard libraries.
  std::mt19937_64 rng(seed_ * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch_) + 1);
  for (size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[rng() % i]);
}

std::vector<int64_t> Sampler::next(int64_t count) {
  if (pool_.empty()) throw_bad_input("sampler: no rows to draw from");
  auto new_epoch = [this] {
    ++epoch_;
    position_ = 0;
    begin_epoch();
  };
  // drop_last: a batch that fits in an epoch never mixes two of them.
  if (count <= size() && size() - position_ < count) new_epoch();
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(count));
  while (static_cast<int64_t>(out.size()) < count) {
    const int64_t take = std::min(count - static_cast<int64_t>(out.size()), size() - position_);
    out.insert(out.end(), order_.begin() + position_, order_.begin() + position_ + take);
    position_ += take;
    if (position_ == size()) new_epoch();
  }
  return out;
}

void Sampler::restore(const Json& state) {
  epoch_ = state.at("epoch").get<int64_t>();
  position_ = state.at("position").get<int64_t>();
  begin_epoch();
}

int64_t LevelMix::rows_of(int64_t count) const {
  return static_cast<int64_t>(std::llround(fraction * static_cast<double>(count)));
}

ParamSpec literal_mix_param() {
  return ParamSpec::real("literal_mix").def(0.0).range(0, 1).describe(
      "fraction of each batch drawn from the literal level's rows (loaded even when `levels` leaves them out); "
      "keeps what GRPO on the other levels would cost the literal level");
}

LevelMix level_mix(const Params& params) {
  LevelMix mix;
  mix.fraction = params.get_float("literal_mix");
  return mix;
}

std::vector<std::string> levels_with(std::vector<std::string> levels, const LevelMix& mix) {
  if (mix.fraction > 0 && !levels.empty() && std::find(levels.begin(), levels.end(), mix.level) == levels.end())
    levels.push_back(mix.level);
  return levels;
}

BatchSampler::Pool BatchSampler::make_pool(const std::vector<Example>& examples, const std::vector<int64_t>& rows,
                                           uint64_t seed, bool shuffle, bool balanced, const std::string& what) {
  std::vector<int64_t> yes, no;
  for (int64_t id : rows) {
    const std::string& a = examples[static_cast<size_t>(id)].row.answer;
    if (a == "T" || a == "t") yes.push_back(id);
    else if (a == "F" || a == "f") no.push_back(id);
  }
  if (balanced && (yes.empty() || no.empty()))
    throw_bad_input("balance_answers: the " + what + " need rows answered T and rows answered F (found " +
                    std::to_string(yes.size()) + " T and " + std::to_string(no.size()) + " F)");
  Pool p;
  p.balanced = balanced;
  p.all = Sampler(rows, seed, shuffle);
  if (balanced) {
    p.yes = Sampler(yes, seed ^ 0x5959ull, shuffle);
    p.no = Sampler(no, seed ^ 0xA6A6ull, shuffle);
  }
  return p;
}

BatchSampler::BatchSampler(const std::vector<Example>& examples, uint64_t seed, bool shuffle, bool balance_answers,
                           const LevelMix& mix)
    : mix_(mix) {
  std::vector<int64_t> main, mixed;
  for (size_t i = 0; i < examples.size(); ++i)
    (mix_.fraction > 0 && examples[i].row.level == mix_.level ? mixed : main).push_back(static_cast<int64_t>(i));
  if (mix_.fraction > 0 && mixed.empty())
    throw_bad_input("literal_mix " + mstar::format("{}", mix_.fraction) + ": the data has no rows of level '" +
                    mix_.level + "'");
  if (mix_.fraction > 0 && mix_.fraction < 1 && main.empty())
    throw_bad_input("literal_mix " + mstar::format("{}", mix_.fraction) + ": every row is of level '" + mix_.level +
                    "'; nothing is left for the rest of the batch");
  main_ = make_pool(examples, main, seed, shuffle, balance_answers, "rows");
  if (!mixed.empty()) mixed_ = make_pool(examples, mixed, seed ^ 0x11E7ull, shuffle, balance_answers,
                                         "rows of level '" + mix_.level + "'");
}

std::vector<int64_t> BatchSampler::Pool::next(int64_t count) {
  if (count <= 0) return {};
  if (!balanced) return all.next(count);
  const std::vector<int64_t> t = yes.next((count + 1) / 2), f = no.next(count / 2);
  std::vector<int64_t> out;
  for (size_t i = 0; i < t.size(); ++i) {
    out.push_back(t[i]);
    if (i < f.size()) out.push_back(f[i]);
  }
  return out;
}

Json BatchSampler::Pool::state() const { return {{"all", all.state()}, {"yes", yes.state()}, {"no", no.state()}}; }

void BatchSampler::Pool::restore(const Json& state) {
  all.restore(state.at("all"));
  if (balanced) {
    yes.restore(state.at("yes"));
    no.restore(state.at("no"));
  }
}

std::vector<int64_t> BatchSampler::next(int64_t count) {
  const int64_t mixed = mix_.fraction > 0 ? mix_.rows_of(count) : 0;
  std::vector<int64_t> out = main_.next(count - mixed);
  const std::vector<int64_t> extra = mixed_.next(mixed);
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

double BatchSampler::epoch() const {
  if (main_.all.size() == 0) return static_cast<double>(mixed_.all.epoch());
  if (!main_.balanced) return static_cast<double>(main_.all.epoch());
  return static_cast<double>(std::max(main_.yes.epoch(), main_.no.epoch()));
}

// Without a mix the state keeps its earlier form, so checkpoints resume.
Json BatchSampler::state() const {
  Json s = main_.state();
  if (mix_.fraction > 0) s["mixed"] = mixed_.state();
  return s;
}

void BatchSampler::restore(const Json& state) {
  main_.restore(state);
  if (mix_.fraction > 0 && state.contains("mixed")) mixed_.restore(state.at("mixed"));
}

// ---- packing -------------------------------------------------------------------------------------

ml::SequenceBatch pack_rows(const std::vector<const std::vector<int64_t>*>& prompts,
                            const std::vector<const std::vector<int64_t>*>& responses,
                            const std::vector<int64_t>& image_indices, const ImageBank& images, int64_t pad_id) {
  std::vector<std::vector<int64_t>> p, r;
  p.reserve(prompts.size());
  r.reserve(responses.size());
  for (const auto* x : prompts) p.push_back(*x);
  for (const auto* x : responses) r.push_back(*x);
  ml::SequenceBatch seq = ml::pack_sequences(p, r, pad_id);
  images.fill(seq.batch, image_indices);
  return seq;
}

bool scores_differ(const std::vector<double>& scores, size_t begin, size_t n) {
  for (size_t i = begin + 1; i < begin + n; ++i)
    if (scores[i] != scores[begin]) return true;
  return false;
}

double trained_mixed_share(const std::vector<double>& scores, size_t n, const LevelMix& mix, int64_t batch) {
  const size_t groups = n == 0 ? 0 : scores.size() / n;
  const size_t mixed_in = std::min(groups, static_cast<size_t>(mix.rows_of(batch)));
  const size_t watched = mixed_in == groups ? groups : groups - mixed_in;
  if (watched == 0) return 0.0;
  size_t differ = 0;
  for (size_t g = 0; g < watched; ++g) differ += scores_differ(scores, g * n, n) ? 1 : 0;
  return static_cast<double>(differ) / static_cast<double>(watched);
}

std::string CollapseDetector::update(double mixed_share) {
  if (threshold <= 0) return {};
  armed = armed || mixed_share >= threshold;
  low = armed && mixed_share < threshold ? low + 1 : 0;
  if (low < patience) return {};
  return "collapse: mixed-reward groups below " + mstar::format("{}", threshold) + " for " + std::to_string(low) +
         " steps";
}

}  // namespace mstar::algorithms
