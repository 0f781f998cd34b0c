#include <fstream>

#include <gtest/gtest.h>

#include "ml_helpers.h"
#include "mstar/error.h"
#include "mstar/ml/safetensors.h"

namespace mstar::ml {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

// Writes a safetensors file with a hand-made header and `data` bytes.
void write_raw(const fs::path& file, const std::string& header, const std::string& data, int64_t claimed_len = -1) {
  std::ofstream out(file, std::ios::binary);
  uint64_t n = claimed_len >= 0 ? static_cast<uint64_t>(claimed_len) : header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xff));
  out << header << data;
}

// Expects `fn` to throw an mstar::Error whose message holds every needle.
template <class Fn>
void expect_error(Fn fn, const std::vector<std::string>& needles) {
  try {
    fn();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    for (const auto& n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what();
  }
}

TEST(Safetensors, RoundTripAllDtypes) {
  TempDir dir;
  const fs::path file = dir.path() / "model.safetensors";
  NamedTensors tensors = {
      {"f32", torch::randn({3, 4})},
      {"f16", torch::randn({5}).to(torch::kFloat16)},
      {"bf16", torch::randn({2, 2, 2}).to(torch::kBFloat16)},
      {"i64", torch::arange(7, torch::kInt64)},
      {"bool", torch::tensor({true, false, true})},
      {"scalar", torch::tensor(3.5)},
      {"empty", torch::zeros({0, 3})},
  };
  save_safetensors(file, tensors, {{"format", "pt"}});
  SafeTensors back = load_safetensors(file);
  EXPECT_EQ(back.metadata.at("format"), "pt");
  ASSERT_EQ(back.tensors.size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    const torch::Tensor& b = back.at(name);
    EXPECT_EQ(b.scalar_type(), t.scalar_type()) << name;
    EXPECT_EQ(b.sizes(), t.sizes()) << name;
    EXPECT_TRUE(torch::equal(b, t)) << name;
  }
  // Header length is a multiple of 8, so the data is aligned.
  std::ifstream in(file, std::ios::binary);
  unsigned char len[8];
  in.read(reinterpret_cast<char*>(len), 8);
  EXPECT_EQ(len[0] % 8, 0);

  // Loading into targets copies in place.
  NamedTensors targets;
  for (const auto& [name, t] : tensors) targets.emplace_back(name, torch::zeros_like(t));
  load_safetensors_into(file, targets);
  for (size_t i = 0; i < tensors.size(); ++i) EXPECT_TRUE(torch::equal(targets[i].second, tensors[i].second));
}

TEST(Safetensors, RejectsDuplicateNamesOnWrite) {
  TempDir dir;
  expect_error([&] { save_safetensors(dir.path() / "x.safetensors", {{"a", torch::ones(1)}, {"a", torch::ones(1)}}); },
               {"'a'", "twice"});
}

TEST(Safetensors, RejectsTruncatedFiles) {
  TempDir dir;
  const fs::path file = dir.path() / "m.safetensors";
  save_safetensors(file, {{"w", torch::randn({16, 16})}});
  const auto size = fs::file_size(file);
  fs::resize_file(file, size - 10);
  expect_error([&] { load_safetensors(file); }, {file.string(), "'w'", "overrun"});
  fs::resize_file(file, 5);
  expect_error([&] { load_safetensors(file); }, {file.string(), "truncated"});
}

TEST(Safetensors, RejectsHeaderOverrun) {
  TempDir dir;
  const fs::path file = dir.path() / "m.safetensors";
  write_raw(file, R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", "abcd", 5000);
  expect_error([&] { load_safetensors(file); }, {file.string(), "header length 5000 overruns"});
  write_raw(file, "{not json", "");
  expect_error([&] { load_safetensors(file); }, {file.string(), "not valid JSON"});
}

TEST(Safetensors, RejectsDtypeShapeMismatchInHeader) {
  TempDir dir;
  const fs::path file = dir.path() / "m.safetensors";
  write_raw(file, R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,8]}})", std::string(8, '\0'));
  expect_error([&] { load_safetensors(file); }, {file.string(), "'w'", "8 bytes", "needs 16"});
  write_raw(file, R"({"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0'));
  expect_error([&] { load_safetensors(file); }, {file.string(), "'w'", "Q4"});
  write_raw(file,
            R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
            std::string(12, '\0'));
  expect_error([&] { load_safetensors(file); }, {file.string(), "overlap"});
  write_raw(file, R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", std::string(8, '\0'));
  expect_error([&] { load_safetensors(file); }, {file.string(), "trailing"});
}

TEST(Safetensors, StrictLoadIntoTargets) {
  TempDir dir;
  const fs::path file = dir.path() / "m.safetensors";
  save_safetensors(file, {{"a", torch::ones({2, 3})}, {"b", torch::ones({4})}});
  expect_error([&] { load_safetensors_into(file, {{"a", torch::zeros({2, 3})}}); }, {file.string(), "unknown tensor 'b'"});
  expect_error([&] { load_safetensors_into(file, {{"a", torch::zeros({2, 3})}, {"b", torch::zeros({4})}, {"c", torch::zeros(1)}}); },
               {file.string(), "missing tensor 'c'"});
  expect_error([&] { load_safetensors_into(file, {{"a", torch::zeros({3, 2})}, {"b", torch::zeros({4})}}); },
               {file.string(), "'a'", "shape [2, 3]", "[3, 2]"});
  expect_error(
      [&] { load_safetensors_into(file, {{"a", torch::zeros({2, 3}, torch::kBFloat16)}, {"b", torch::zeros({4})}}); },
      {file.string(), "'a'", "F32", "BF16"});
}

// kB of a /proc/self/status line (-1 if absent).
int64_t status_kb(const std::string& key) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ":", 0) == 0) return std::stoll(line.substr(key.size() + 1));
  return -1;
}

// Touched pages of the memory-mapped shard count in RSS until unmapped: a
// loader that kept them would peak at the model plus a whole shard (1.5x a
// 3B checkpoint's bytes). Each tensor's pages are dropped once copied.
TEST(Safetensors, CheckpointLoadKeepsMappedPagesOutOfPeakRss) {
  TempDir dir;
  constexpr int kTensors = 8;
  constexpr int64_t kFloats = 2 << 20;  // 8 MB each, 64 MB in all
  NamedTensors saved, targets;
  for (int i = 0; i < kTensors; ++i) {
    saved.emplace_back("t" + std::to_string(i), torch::rand({kFloats}));
    targets.emplace_back("t" + std::to_string(i), torch::zeros({kFloats}));  // touched: already resident
  }
  save_safetensors(dir.path() / "model.safetensors", saved);
  saved.clear();
  // Writing 5 resets VmHWM to the current RSS (Linux >= 4.0).
  std::ofstream reset("/proc/self/clear_refs");
  reset << "5" << std::flush;
  if (!reset || status_kb("VmHWM") < 0)
    GTEST_SKIP() << "/proc/self/clear_refs or VmHWM unavailable: peak RSS cannot be measured here";
  const int64_t base = status_kb("VmRSS");
  load_checkpoint_into(dir.path(), targets);
  const int64_t growth_mb = (status_kb("VmHWM") - base) / 1024;
  EXPECT_LT(growth_mb, 32) << "the mapped file's pages stayed in RSS while loading (64 MB file)";
  EXPECT_TRUE(torch::equal(targets[3].second, load_safetensors(dir.path() / "model.safetensors").at("t3")));
}

}  // namespace
}  // namespace mstar::ml
