// The chat template of Qwen2-VL and Qwen2.5-VL (the `chat_template` of
// their Hugging Face chat_template.json; a copy is in
// tests/fixtures/qwen-tokenizer/qwen2_5_vl_chat_template.jinja). This is a
// fixed renderer for that one template family, not a Jinja interpreter:
// it produces the text transformers' `apply_chat_template` produces with
// that template, which tests/tokenizer_test.cpp checks against transformers'
// own output. Another family's template needs its own renderer.
//
//   std::string prompt = render_qwen2_vl_prompt(system, "<image> Is the apple a warning? ...");
//   // "<|im_start|>system\n...<|im_end|>\n<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>
//   //  Is the apple ...<|im_end|>\n<|im_start|>assistant\n"
//
// Each image is one <|image_pad|>; the image processor expands it to the
// image's patch count later.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mstar::text {

struct ChatPart {
  enum class Kind { Text, Image, Video };
  Kind kind = Kind::Text;
  std::string text;  // Kind::Text only

  static ChatPart of_text(std::string text) { return {Kind::Text, std::move(text)}; }
  static ChatPart image() { return {Kind::Image, {}}; }
  static ChatPart video() { return {Kind::Video, {}}; }
};

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::vector<ChatPart> content;
};

struct ChatTemplateOptions {
  bool add_generation_prompt = true;  // end with "<|im_start|>assistant\n"
  bool add_vision_id = false;         // "Picture N: " / "Video N: " before each image / video
};

// As the template does: a conversation that does not open with a system
// message gets "You are a helpful assistant." as one.
std::string render_qwen2_vl_chat(const std::vector<ChatMessage>& messages, const ChatTemplateOptions& options = {});

// A prompt with image placeholders as content parts, the way EasyR1 (the
// reference's trainer) builds its messages: the text split at each
// placeholder, an image part at each, empty text parts left out.
std::vector<ChatPart> split_image_placeholders(std::string_view text, std::string_view placeholder = "<image>");

// One user turn after an optional system message (none when `system` is
// empty, so the template's default one is used), with the generation prompt:
// the TFQ prompt of TFQ-GRPO.
std::string render_qwen2_vl_prompt(std::string_view system, std::string_view user,
                                   std::string_view placeholder = "<image>");

}  // namespace mstar::text
