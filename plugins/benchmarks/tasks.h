// What a benchmark writes besides its metrics: the reference's evaluation
// JSON. The rows it evaluates are the plugin API's (mstar/data/rows.h:
// data::TaskRow, read_task_rows, find_task_file). No LibTorch here.
#pragma once

#include <string>

#include "mstar/data/jsonl.h"
#include "mstar/data/rows.h"
#include "mstar/json.h"

namespace mstar::bench {

using data::find_task_file;
using data::read_task_rows;
using data::ReadTaskOptions;
using data::TaskFormat;
using data::TaskRow;
using data::write_jsonl;

// One entry of the reference's evaluation JSON (eval_TFQ.py, eval_MCQ.py,
// eval_OSQ.py read these keys): Question_ID, Question, Model_Output,
// Ground_Truth, Image_URL.
Json reference_entry(const TaskRow& row, const std::string& model_output);

}  // namespace mstar::bench
