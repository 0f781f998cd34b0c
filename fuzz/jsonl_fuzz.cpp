// TFQ JSONL rows: read_tfq_jsonl on the input as a file, strict (the first
// bad row refuses the file) and lenient (bad rows listed, the rest kept).
// Data URI images are decoded, under a small pixel budget (image_fuzz
// explores the decoder itself).
#include "fuzz_util.h"
#include "mstar/world/tfq_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mstar;
  const auto file = fuzz::scratch_file("rows.jsonl", data, size);
  world::ReadOptions options;
  options.max_pixels = int64_t{1024} * 1024;
  fuzz::refuse_cleanly([&] { (void)world::read_tfq_jsonl(file, options); });
  options.skip_bad_rows = true;
  return fuzz::refuse_cleanly([&] {
    const world::TfqFile tfq = world::read_tfq_jsonl(file, options);
    if (tfq.rows.size() + tfq.bad_rows.size() != tfq.lines)
      fuzz::invariant_failed(std::to_string(tfq.lines) + " lines gave " + std::to_string(tfq.rows.size()) +
                             " rows and " + std::to_string(tfq.bad_rows.size()) + " bad rows");
    for (const world::TfqRow& row : tfq.rows)
      for (const world::ImageRef& image : row.images)
        if (image.inline_data() && (!image.bytes || image.mime.empty()))
          fuzz::invariant_failed("line " + std::to_string(row.line) + ": a data URI image without its bytes");
  });
}
