// Training rows as token ids and image indices: JSONL rows of a dataset
// split (TFQ statements, the literal corpus, expert trajectories) turned
// into prompts with the backbone's chat template, images decoded once into
// a shared bank, and deterministic, checkpointable batch samplers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <torch/types.h>

#include "mstar/data/paths.h"
#include "mstar/data/rows.h"
#include "mstar/json.h"
#include "mstar/ml/backbone.h"
#include "mstar/params.h"

namespace mstar::algorithms {

// A training row: the dataset's row (data::TaskRow: answer, level, kind,
// and the row as read, which reward functions are handed) with what the
// trainer derives from it once.
struct Example {
  data::TaskRow row;              // images unresolved: the ImageBank holds them
  std::vector<int64_t> prompt;    // chat-templated prompt ids (up to the assistant turn)
  std::vector<int64_t> response;  // target ids with the end-of-turn token (rows with "response")
  int64_t image = -1;             // index into the ImageBank; -1 = text only
};

// Decoded images, letterboxed to the backbone's input size, stored once
// (uint8) however many statements share them.
class ImageBank {
 public:
  explicit ImageBank(int64_t size) : size_(size) {}
  // Index of the image at `source` (a path relative to the data file's
  // folder, an absolute path, or a data URI), decoding it on first use. A
  // path must stay inside what `confinement` allows and the image within
  // `max_pixels` (docs/data.md, "Where data may point").
  int64_t add(const std::string& source, const mstar::data::PathConfinement& confinement, int64_t max_pixels);
  // Float images [B,3,S,S] in [0,1]; a zero image for index -1. Undefined
  // when every index is -1.
  torch::Tensor batch(const std::vector<int64_t>& indices) const;
  // The images of rows `indices` into `b`: when some rows share an image
  // (the n samples of a GRPO prompt), b.images holds each image once and
  // b.image_index points the rows at them, so its features are computed once.
  void fill(ml::Batch& b, const std::vector<int64_t>& indices) const;
  int64_t count() const { return static_cast<int64_t>(images_.size()); }

 private:
  int64_t size_;
  std::vector<torch::Tensor> images_;  // uint8 [3,S,S]
  std::map<std::string, int64_t> index_;
};

struct PromptFormat {
  std::string system;                    // system turn ("" = none)
  std::string format_prompt = "{problem}";  // "{problem}" is replaced by the row's problem
};

struct ExampleFilter {
  std::vector<std::string> levels;  // keep rows of these levels (empty = all)
  std::vector<std::string> kinds;   // keep rows of these "kind"s (empty = all)
  bool need_answer = false;         // rows without "answer" are an error
  bool need_response = false;       // rows without "response" are an error
  int64_t max_prompt_length = 0;    // longer prompts are dropped (0 = keep all)
  int64_t max_response_length = 0;  // longer responses are cut (0 = keep whole)
  // Builds the response from the row's answer when set ("<answer>{answer}</answer>")
  // instead of reading "response".
  std::string response_template;
  int64_t max_rows = 0;             // first N rows that pass (0 = all)
};

struct LoadReport {
  int64_t rows = 0, kept = 0, too_long = 0, filtered = 0, truncated = 0;
};

// Reads `file` (JSONL with "problem", optional "images", "answer",
// "response", "level", "kind"). Throws Error(BadInput) "FILE:LINE: ..." for
// a malformed row and when nothing is left after filtering.
std::vector<Example> load_examples(const std::filesystem::path& file, const ml::Backbone& model, ImageBank& images,
                                   const PromptFormat& format, const ExampleFilter& filter,
                                   LoadReport* report = nullptr);

// Params shared by the nodes (format_prompt, system_prompt, levels).
PromptFormat prompt_format(const Params& params);
std::vector<std::string> string_list(const Json& list);

// Visits a pool of indices in a fresh shuffled order every epoch (or in
// order), seeded; its position is part of a checkpoint. Batches never span
// two epochs: a batch that would is taken from the next epoch (drop_last).
class Sampler {
 public:
  Sampler() = default;
  Sampler(std::vector<int64_t> pool, uint64_t seed, bool shuffle);
  std::vector<int64_t> next(int64_t count);
  int64_t epoch() const { return epoch_; }
  int64_t size() const { return static_cast<int64_t>(pool_.size()); }
  Json state() const { return {{"epoch", epoch_}, {"position", position_}}; }
  void restore(const Json& state);

 private:
  void begin_epoch();
  std::vector<int64_t> pool_, order_;
  uint64_t seed_ = 0;
  bool shuffle_ = true;
  int64_t epoch_ = 0, position_ = 0;
};

// A fixed share of every batch drawn from one level's rows (`literal_mix`:
// GRPO on the symbolic and implication levels alone costs the untrained
// literal level several points; mixing literal statements back in keeps it).
struct LevelMix {
  std::string level = "literal";
  double fraction = 0;  // of each batch, in [0, 1]; 0 = no mix
  // round(fraction * count) rows of a batch of `count` come from the level.
  int64_t rows_of(int64_t count) const;
};
// The `literal_mix` param (for the schema), and its value.
ParamSpec literal_mix_param();
LevelMix level_mix(const Params& params);
// The levels to load: `levels`, plus the mixed level when a mix needs it and
// `levels` would leave it out (empty `levels` keeps every level already).
std::vector<std::string> levels_with(std::vector<std::string> levels, const LevelMix& mix);

// Half the batch from rows answered T, half from rows answered F
// (alternating), each pool with its own Sampler; or one Sampler over all
// rows when not balanced. With a mix, the mixed level's rows form a second
// such pool that gives mix.rows_of(count) rows of each batch (after the
// others), and the rest come from the other rows; each pool is seeded on its
// own, so batches are a function of the seed.
class BatchSampler {
 public:
  BatchSampler(const std::vector<Example>& examples, uint64_t seed, bool shuffle, bool balance_answers,
               const LevelMix& mix = {});
  std::vector<int64_t> next(int64_t count);
  // Fractional epochs of the (larger) pool visited so far (the main rows').
  double epoch() const;
  Json state() const;
  void restore(const Json& state);

 private:
  struct Pool {
    bool balanced = false;
    Sampler all, yes, no;
    std::vector<int64_t> next(int64_t count);
    Json state() const;
    void restore(const Json& state);
  };
  static Pool make_pool(const std::vector<Example>& examples, const std::vector<int64_t>& rows, uint64_t seed,
                        bool shuffle, bool balanced, const std::string& what);
  Pool main_, mixed_;
  LevelMix mix_;
};

// The share of groups (n consecutive scores each) whose scores differ,
// over the groups of the trained levels only: the last mix.rows_of(batch)
// groups of a batch are the mixed-in level's (BatchSampler puts them last),
// a level the base already answers, so they are mostly all-correct by design
// and would make GRPO's collapse detector fire on a healthy run. All groups
// when the mix takes the whole batch.
double trained_mixed_share(const std::vector<double>& scores, size_t n, const LevelMix& mix, int64_t batch);
// Whether the n scores of the group starting at `begin` differ.
bool scores_differ(const std::vector<double>& scores, size_t begin, size_t n);

// GRPO's collapse detector (`collapse_mixed_share`, `collapse_patience`):
// a collapse is a fall, so it is armed once the share of mixed groups has
// reached the threshold, and then stops the run after `patience`
// consecutive steps below it. A base whose groups start out unanimous (a
// confident tiny model on levels it knows nothing of) is not collapsed; it
// has not started to learn.
struct CollapseDetector {
  double threshold = 0;  // 0 = off
  int64_t patience = 10;
  bool armed = false;
  int64_t low = 0;
  // The stop reason, or "" to go on.
  std::string update(double mixed_share);
};

// Batches of rows for scoring: prompts left-padded, responses right-padded,
// images gathered from the bank.
ml::SequenceBatch pack_rows(const std::vector<const std::vector<int64_t>*>& prompts,
                            const std::vector<const std::vector<int64_t>*>& responses,
                            const std::vector<int64_t>& image_indices, const ImageBank& images, int64_t pad_id);

}  // namespace mstar::algorithms
