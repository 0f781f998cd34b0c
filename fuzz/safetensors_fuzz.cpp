// safetensors: load_safetensors on the input as a file. The header is the
// untrusted part (lengths, offsets, dtypes, shapes); everything it claims
// must be checked before a byte is read. Needs LibTorch.
#include "fuzz_util.h"
#include "mstar/ml/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mstar;
  const auto file = fuzz::scratch_file("model.safetensors", data, size);
  return fuzz::refuse_cleanly([&] {
    const ml::SafeTensors st = ml::load_safetensors(file);
    for (const auto& [name, tensor] : st.tensors)
      if (tensor.numel() > 0 && tensor.data_ptr() == nullptr) fuzz::invariant_failed(name + ": no data");
  });
}
