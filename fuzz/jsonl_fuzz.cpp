// TFQ JSONL rows: read_tfq_jsonl on the input as a file, strict (the first
// bad row refuses the file) and lenient (bad rows listed, the rest kept).
// Data URI images are decoded, under a small pixel budget (image_fuzz
// explores the decoder itself).
#include "fuzz_util.h"
#include "mstar/data/rows.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mstar;
  const auto file = fuzz::scratch_file("rows.jsonl", data, size);
  data::ReadOptions options;
  options.max_pixels = int64_t{1024} * 1024;
  fuzz::refuse_cleanly([&] { (void)data::read_tfq_jsonl(file, options); });
  options.skip_bad_rows = true;
  return fuzz::refuse_cleanly([&] {
    const data::TaskFile tfq = data::read_tfq_jsonl(file, options);
    if (tfq.rows.size() + tfq.bad_rows.size() != tfq.lines)
      fuzz::invariant_failed(std::to_string(tfq.lines) + " lines gave " + std::to_string(tfq.rows.size()) +
                             " rows and " + std::to_string(tfq.bad_rows.size()) + " bad rows");
    for (const data::TaskRow& row : tfq.rows)
      for (const data::ImageRef& image : row.images)
        if (image.inline_data() && (!image.bytes || image.mime.empty()))
          fuzz::invariant_failed("line " + std::to_string(row.line) + ": a data URI image without its bytes");
  });
}
