// dataset/tfq_jsonl: imports and validates TFQ JSONL exports into an artifact,
// through the public reader only (mstar/data/import.h).

#include "mstar/data/import.h"
#include "mstar/plugin.h"

namespace {

class TfqJsonl {
 public:
  static mstar::PluginInfo info() {
    mstar::PluginInfo i;
    i.kind = "dataset";
    i.name = "tfq_jsonl";
    i.version = "1";
    i.description =
        "Imports TFQ JSONL files (real TFQ-Data / TFQ-Bench exports or a generated world): validates every "
        "row, turns base64 data-URI images into files, copies or links image files. Image paths must stay inside "
        "`source` or `image_roots`; empty files are refused (docs/data.md).";
    i.params = mstar::data::tfq_import_param_schema();
    i.inputs = {{"data", "dataset", false, "a dataset split (e.g. world.train) imported when `source` is empty"}};
    i.outputs = {{"train", "dataset", "train/*.jsonl and images"}, {"bench", "dataset", "bench/*.jsonl and images"}};
    i.examples = {"bench: {plugin: dataset/tfq_jsonl, params: {source: /data/tfq_export}}",
                  "photos: {plugin: dataset/tfq_jsonl, params: {source: /data/rows.jsonl, image_roots: [/data/photos]}}",
                  "small: {plugin: dataset/tfq_jsonl, inputs: {data: world.train}, params: {max_images: 100}}"};
    return i;
  }

  void run(mstar::NodeContext& ctx) {
    const auto& params = ctx.params().json();
    const auto options = mstar::data::tfq_import_options_from_params(params);
    std::string source = params.at("source").get<std::string>();
    if (source.empty()) {
      const mstar::Artifact* data = ctx.input("data");
      if (!data) throw mstar::Error(mstar::ErrorCategory::BadInput, "tfq_jsonl: set `source` or wire the `data` input");
      source = data->dir().string();
    }
    const auto report = mstar::data::import_tfq(source, ctx.output_dir(), options);
    size_t shown = 0;
    for (const std::string& p : report.problems)
      if (shown++ < 20) ctx.logger().warn("skipped bad row: {}", p);
    if (report.bad_rows > 0)
      ctx.logger().warn("{} bad rows skipped (all listed in import_report.json)", report.bad_rows);
    ctx.annotate("type", "dataset");
    ctx.annotate("import", report.files);
    ctx.summary("rows", static_cast<double>(report.rows));
    ctx.summary("bad_rows", static_cast<double>(report.bad_rows));
    ctx.summary("images", static_cast<double>(report.images));
  }
};

}  // namespace

MSTAR_PLUGIN(TfqJsonl)
