#include "mstar/text/chat_template.h"

namespace mstar::text {

std::string render_qwen2_vl_chat(const std::vector<ChatMessage>& messages, const ChatTemplateOptions& options) {
  std::string out;
  int images = 0, videos = 0;
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (i == 0 && m.role != "system") out += "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n";
    out += "<|im_start|>" + m.role + "\n";
    for (const ChatPart& part : m.content) {
      switch (part.kind) {
        case ChatPart::Kind::Image:
          if (options.add_vision_id) out += "Picture " + std::to_string(++images) + ": ";
          out += "<|vision_start|><|image_pad|><|vision_end|>";
          break;
        case ChatPart::Kind::Video:
          if (options.add_vision_id) out += "Video " + std::to_string(++videos) + ": ";
          out += "<|vision_start|><|video_pad|><|vision_end|>";
          break;
        case ChatPart::Kind::Text:
          out += part.text;
          break;
      }
    }
    out += "<|im_end|>\n";
  }
  if (options.add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

std::vector<ChatPart> split_image_placeholders(std::string_view text, std::string_view placeholder) {
  std::vector<ChatPart> parts;
  size_t at = 0;
  for (bool first = true;; first = false) {
    const size_t hit = placeholder.empty() ? std::string_view::npos : text.find(placeholder, at);
    if (!first) parts.push_back(ChatPart::image());
    const std::string_view chunk = text.substr(at, hit == std::string_view::npos ? std::string_view::npos : hit - at);
    if (!chunk.empty()) parts.push_back(ChatPart::of_text(std::string(chunk)));
    if (hit == std::string_view::npos) break;
    at = hit + placeholder.size();
  }
  return parts;
}

std::string render_qwen2_vl_prompt(std::string_view system, std::string_view user, std::string_view placeholder) {
  std::vector<ChatMessage> messages;
  if (!system.empty()) messages.push_back({"system", {ChatPart::of_text(std::string(system))}});
  messages.push_back({"user", split_image_placeholders(user, placeholder)});
  return render_qwen2_vl_chat(messages);
}

}  // namespace mstar::text
