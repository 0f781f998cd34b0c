// tokenizer_bench: encode throughput of mstar::text::HfTokenizer against
// Hugging Face `tokenizers` (bench/tokenizer_bench.py, the project's .venv)
// on the same corpus and tokenizer.json, in the same run, both pinned to
// one core and timed in process CPU time (the machine may be shared).
// Runs alternate between the two; each run loads a fresh tokenizer, so
// pass 1 is cold (empty word caches) and the later passes warm.
//
//   tokenizer_bench [RUNS=5] [PASSES=3]
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "mstar/json.h"
#include "mstar/text/hf_tokenizer.h"

namespace fs = std::filesystem;

namespace {

const fs::path kSource = MSTAR_SOURCE_DIR;

double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

std::string run(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run " + command);
  std::string out;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  if (pclose(pipe) != 0) throw std::runtime_error("failed: " + command);
  return out;
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

struct Passes {
  std::vector<double> cold, warm;  // seconds: pass 1, best of the others, per run
};

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::stoi(argv[1]) : 5;
  const int passes = argc > 2 ? std::max(2, std::stoi(argv[2])) : 3;
  const char* env_python = std::getenv("MSTAR_PYTHON");
  const std::string python = env_python ? env_python : (kSource / ".venv/bin/python").string();
  const fs::path tokenizer = kSource / "tests/fixtures/qwen-tokenizer/tokenizer.json";
  const fs::path script = kSource / "bench/tokenizer_bench.py";
  const fs::path corpus = fs::temp_directory_path() / ("mstar-tokenizer-corpus-" + std::to_string(getpid()) + ".json");

  // One core for both (the Python child inherits the affinity).
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(sched_getcpu(), &one);
  sched_setaffinity(0, sizeof one, &one);

  run("'" + python + "' '" + script.string() + "' corpus '" + corpus.string() + "'");
  std::ifstream in(corpus);
  const auto docs = mstar::Json::parse(in).get<std::vector<std::string>>();
  size_t bytes = 0;
  for (const auto& d : docs) bytes += d.size();
  const std::string load_before = load_average();
  std::cout << "tokenizer_bench: " << docs.size() << " documents, " << bytes << " bytes (docs, sources, the "
            << "tokenizer test's strings), Qwen vocabulary; " << runs << " runs x " << passes << " passes, one core\n";

  Passes mstar_t, hf_t;
  size_t mstar_ids = 0, hf_ids = 0;
  for (int r = 0; r < runs; ++r) {
    const auto hf = mstar::Json::parse(run("RAYON_NUM_THREADS=1 '" + python + "' '" + script.string() + "' time '" +
                                           tokenizer.string() + "' '" + corpus.string() + "' " + std::to_string(passes)));
    const auto s = hf["seconds"].get<std::vector<double>>();
    hf_t.cold.push_back(s[0]);
    hf_t.warm.push_back(*std::min_element(s.begin() + 1, s.end()));
    hf_ids = hf["ids"].get<size_t>();

    const auto tok = mstar::text::HfTokenizer::load(tokenizer);
    std::vector<double> mine;
    for (int p = 0; p < passes; ++p) {
      const double start = cpu_seconds();
      size_t ids = 0;
      for (const auto& d : docs) ids += tok.encode(d).size();
      mine.push_back(cpu_seconds() - start);
      mstar_ids = ids;
    }
    mstar_t.cold.push_back(mine[0]);
    mstar_t.warm.push_back(*std::min_element(mine.begin() + 1, mine.end()));
  }
  fs::remove(corpus);

  const double mb = static_cast<double>(bytes) / 1e6;
  const auto line = [&](const char* what, const std::vector<double>& m, const std::vector<double>& h) {
    const double m_rate = mb / median(m), h_rate = mb / median(h);
    std::printf("  %-5s mstar %6.2f MB/s   tokenizers %6.2f MB/s   ratio %.2fx\n", what, m_rate, h_rate, m_rate / h_rate);
  };
  line("cold", mstar_t.cold, hf_t.cold);
  line("warm", mstar_t.warm, hf_t.warm);
  std::printf("  (medians over runs; %zu ids from each%s; load average %s before, %s after)\n", mstar_ids,
              mstar_ids == hf_ids ? "" : ", BUT THE COUNTS DIFFER", load_before.c_str(), load_average().c_str());
  return mstar_ids == hf_ids ? 0 : 1;
}
