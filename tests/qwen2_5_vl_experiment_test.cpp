// experiments/qwen2_5_vl_tfq_grpo.yaml end to end through the `mstar` binary:
// backbone/load on the reference script's tiny random Qwen2.5-VL with the
// real Qwen vocabulary (a Hugging Face directory as downloaded),
// dataset/tfq_jsonl on a small export, algorithm/grpo with the reference
// hyperparameters and overrides that shrink steps and lengths.
#include <cstdlib>

#include <gtest/gtest.h>

#include "mstar/artifact.h"
#include "mstar/json.h"
#include "qwen2_5_vl_reference.h"

namespace fs = std::filesystem;
using namespace mstar;

namespace {

std::string quote(const std::string& s) { return "'" + s + "'"; }  // paths here hold no quote

// Runs `mstar ARGS` with its own MSTAR_HOME; returns the exit status, output in `log`.
int run_mstar(const fs::path& work, const std::string& args, const fs::path& log) {
  const std::string cmd = "cd " + quote(work.string()) + " && env -u MSTAR_PLUGIN_PATH MSTAR_HOME=" +
                          quote((work / "home").string()) + " " + quote(std::string(MSTAR_BINARY_DIR) + "/mstar") +
                          " " + args + " > " + quote(log.string()) + " 2>&1";
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// A fresh work directory with a TFQ export: the rows of
// fuzz/corpus/jsonl/good_rows.jsonl (inline PNG images) as both splits.
fs::path work_with_export(const std::string& name) {
  const fs::path work = fs::path(MSTAR_BINARY_DIR) / "qwen2_5_vl_test_tmp" / (name + std::to_string(::getpid()));
  fs::remove_all(work);
  const fs::path rows = fs::path(MSTAR_SOURCE_DIR) / "fuzz/corpus/jsonl/good_rows.jsonl";
  for (const char* split : {"train", "bench"}) {
    fs::create_directories(work / "export" / split);
    fs::copy_file(rows, work / "export" / split / "tfq_lite.jsonl");
  }
  return work;
}

}  // namespace

// The same run with LoRA adapters and gradient checkpointing set in
// backbone/load's options: the algorithm trains the adapters and its
// checkpoint holds them in peft's layout.
TEST(Qwen25VlExperiment, TfqGrpoTrainsLoraAdaptersFromBackboneLoadOptions) {
  REQUIRE_REFERENCE();
  const fs::path work = work_with_export("experiment_lora");
  const std::string overrides =
      "model.path=" + quote((ref.dir / "vocab").string()) + " data.source=" + quote((work / "export").string()) +
      " 'model.options={lora_rank: 2, lora_alpha: 4, lora_target_modules: [q_proj, v_proj], gradient_checkpointing: true}'"
      " grpo.max_steps=2 grpo.rollout_batch_size=2 grpo.n=2 grpo.global_batch_size=4 grpo.micro_batch_size_update=2"
      " grpo.micro_batch_size_experience=4 grpo.max_response_length=8 grpo.val_max_new_tokens=4 grpo.val_freq=2"
      " grpo.save_freq=0 grpo.lr=1.0e-2";
  const fs::path yaml = fs::path(MSTAR_SOURCE_DIR) / "experiments/qwen2_5_vl_tfq_grpo.yaml";
  ASSERT_EQ(run_mstar(work, "run " + quote(yaml.string()) + " " + overrides, work / "run.txt"), 0) << read_file(work / "run.txt");
  // backbone/load's artifact (fresh adapters, lora_B zero) and the trained model's.
  std::vector<fs::path> adapters;
  for (const auto& e : fs::recursive_directory_iterator(work / "home"))
    if (e.path().filename() == "adapter_model.safetensors" && fs::exists(e.path().parent_path() / "config.json"))
      adapters.push_back(e.path());
  ASSERT_GE(adapters.size(), 2u) << read_file(work / "run.txt");
  int64_t trained = 0;
  for (const fs::path& file : adapters) {
    const Json config = Json::parse(read_file(file.parent_path() / "config.json"));
    EXPECT_EQ(config["gradient_checkpointing"], true) << file;
    EXPECT_EQ(config["lora"]["rank"], 2) << file;
    trained += read_file(file).find("lora_B") != std::string::npos &&
               read_file(file) != read_file(adapters.front());
  }
  EXPECT_GE(trained, 1) << "no adapter differs from the first one: nothing trained";
  if (!::testing::Test::HasFailure()) fs::remove_all(work);
}

TEST(Qwen25VlExperiment, TfqGrpoRunsEndToEndOnATinyQwen) {
  REQUIRE_REFERENCE();
  const fs::path work = work_with_export("experiment");
  const std::string overrides =
      "model.path=" + quote((ref.dir / "vocab").string()) + " data.source=" + quote((work / "export").string()) +
      " grpo.max_steps=2 grpo.rollout_batch_size=2 grpo.n=2 grpo.global_batch_size=4 grpo.micro_batch_size_update=2"
      " grpo.micro_batch_size_experience=4 grpo.max_response_length=8 grpo.val_max_new_tokens=4 grpo.val_freq=2"
      " grpo.save_freq=0 grpo.lr=1.0e-3";
  const fs::path yaml = fs::path(MSTAR_SOURCE_DIR) / "experiments/qwen2_5_vl_tfq_grpo.yaml";
  ASSERT_EQ(run_mstar(work, "run " + quote(yaml.string()) + " " + overrides, work / "run.txt"), 0) << read_file(work / "run.txt");
  ASSERT_EQ(run_mstar(work, "runs --format json", work / "runs.txt"), 0) << read_file(work / "runs.txt");
  const Json runs = Json::parse(read_file(work / "runs.txt"));
  ASSERT_FALSE(runs.empty()) << runs.dump();
  const Json& first = runs.is_array() ? runs[0] : runs;
  ASSERT_EQ(run_mstar(work, "show " + first.at("run").get<std::string>(), work / "show.txt"), 0);
  const std::string show = read_file(work / "show.txt");
  EXPECT_NE(show.find("grpo.steps = 2"), std::string::npos) << show;
  EXPECT_NE(show.find("model.parameters = "), std::string::npos) << show;  // backbone/load published the model
  if (!::testing::Test::HasFailure()) fs::remove_all(work);
}
