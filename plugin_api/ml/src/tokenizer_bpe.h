// Private to libmstar_ml: what an ml::Tokenizer loaded from a byte-level BPE
// tokenizer.json holds (tokenizer.h), shared by its copies.
#pragma once

#include <string>
#include <vector>

#include "mstar/json.h"
#include "mstar/ml/tokenizer.h"
#include "mstar/text/hf_tokenizer.h"

namespace mstar::ml {

struct Tokenizer::Bpe {
  text::HfTokenizer hf;
  std::string file_text;            // tokenizer.json as loaded: saved back unchanged
  Json config;                      // tokenizer_config.json (an object; empty when there was none)
  std::vector<std::string> tokens;  // id -> token as stored ("" for an id the file leaves out)
};

}  // namespace mstar::ml
