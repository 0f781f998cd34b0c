// tokenizer.json: Tokenizer::load on the input as a file; a tokenizer that
// loads must survive to_json/from_json unchanged, and encode and decode
// the input's own bytes.
#include "fuzz_util.h"
#include "mstar/ml/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mstar;
  const auto file = fuzz::scratch_file("tokenizer.json", data, size);
  return fuzz::refuse_cleanly([&] {
    const ml::Tokenizer tok = ml::Tokenizer::load(file);
    if (!(ml::Tokenizer::from_json(tok.to_json()) == tok))
      fuzz::invariant_failed("to_json/from_json changed the tokenizer");
    const std::vector<int64_t> ids = tok.encode(fuzz::as_text(data, size));
    for (int64_t id : ids)
      if (id < 0 || id >= tok.size()) fuzz::invariant_failed("encode gave id " + std::to_string(id));
    (void)tok.decode(ids);
  });
}
