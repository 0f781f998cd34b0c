#include "tasks.h"

namespace mstar::bench {

Json reference_entry(const TaskRow& row, const std::string& model_output) {
  return Json{{"Question_ID", row.question_id},
              {"Question", row.problem},
              {"Model_Output", model_output},
              {"Ground_Truth", row.answer},
              {"Image_URL", row.image().url()}};
}

}  // namespace mstar::bench
