// `mstar export --tensorboard DIR`: TensorBoard event files, written here
// without TensorFlow or protobuf. An event file is TFRecord framing (length,
// masked CRC-32C of the length, payload, masked CRC-32C of the payload)
// around `Event` messages; the few fields used are encoded by hand
// (protobuf's wire format: varints, fixed64/fixed32, length-delimited), which
// is shorter than generating code from TensorFlow's .proto files.
//
// Layout: DIR/<run id>/events.out.tfevents.<time>.mstar per run, holding a
// scalar `NODE/KEY` for every metric point (its step and wall time), the
// node's final summaries as `summary/NODE/KEY`, and the HParams plugin's
// session start (the run's params) and end (its status); DIR/ itself holds
// the HParams experiment (the swept params and the summaries as metrics), so
// TensorBoard's HPARAMS tab shows the sweep as a table.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "mstar/registry/query.h"

namespace mstar::exporting {

// CRC-32C (Castagnoli) and TFRecord's masking of it.
uint32_t crc32c(std::string_view bytes);
uint32_t masked_crc32c(std::string_view bytes);

struct TensorBoardStats {
  size_t runs = 0, scalars = 0;
};

// Writes the selected runs under `dir` (created). Error(Io) naming a file
// that cannot be written.
TensorBoardStats export_tensorboard(registry::Results& results, const std::filesystem::path& dir);

}  // namespace mstar::exporting
