#!/usr/bin/env python3
"""Reference numbers for backbone/qwen2_5_vl from Hugging Face transformers.

Builds two tiny random Qwen2.5-VL models, saves them with save_pretrained
and writes, per model and case, what tests/qwen2_5_vl_test.cpp compares
against (safetensors + one JSON index):

  window: window attention with full-attention blocks at
          fullatt_block_indexes, GQA, untied head; saved sharded
          (model.safetensors.index.json).
  tied:   full attention in every vision block, no GQA, tied head, one file.

Cases: "single" (one image, a TFQ-like prompt and a 32-token response,
teacher-forced) and "batch" (two prompts with images of different sizes,
left-padded, plus greedy generation). Images go through the slow Pillow
image processor (use_fast=False), one downscaled past max_pixels and one
upscaled. Token ids are drawn from a small vocabulary with Qwen's chat
structure (<|im_start|> role ... <|im_end|>, <|vision_start|>
<|image_pad|>* <|vision_end|>) so the fixtures stay small; the tokenizer is
tested on its own.

A third model, "vocab", has the real Qwen vocabulary: it is saved with the
tokenizer files of tests/fixtures/qwen-tokenizer, a generation_config.json and
the image processor's config, as a downloaded checkpoint would be, and serves
the TFQ prompt test (the ids of transformers' apply_chat_template with the
Qwen2.5-VL template, each <|image_pad|> expanded to the image's token count
and tokenized: what Qwen2_5_VLProcessor.__call__ does, which needs
torchvision to construct) and the end-to-end TFQ-GRPO experiment test.

A fourth, "lora", is the window model's config with a peft LoRA adapter
(LoraConfig r=4 on the decoder's and the vision blocks' Linears, lora_B set
to random values so that the adapter changes the logits): "lora_base" holds
the base alone, "lora" the base with peft's adapter_config.json and
adapter_model.safetensors beside it; lora_single.safetensors the logits of
the adapted model on the single case's inputs.

Usage: qwen2_5_vl_reference.py OUT_DIR   (a few seconds on one core)
       qwen2_5_vl_reference.py --peft-logits ADAPTER_DIR INPUTS OUT
         peft's logits for an adapter mstar saved: the base from
         adapter_config.json's base_model_name_or_path, the adapter with
         PeftModel.from_pretrained, the inputs of a case file (input_ids,
         attention_mask, pixel_values, image_grid_thw, mm_token_type_ids).
"""
import json
import os
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from transformers import AutoTokenizer, GenerationConfig, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

VOCAB = 300
IM_START, IM_END, VISION_START, VISION_END, IMAGE_PAD, VIDEO_PAD = 290, 291, 292, 293, 294, 295
PAD = 0
MIN_PIXELS, MAX_PIXELS = 56 * 56, 28 * 28 * 30
RESPONSE_LEN = 32
NEW_TOKENS = 6


def config(name):
    common = dict(image_token_id=IMAGE_PAD, video_token_id=VIDEO_PAD, vision_start_token_id=VISION_START,
                  vision_end_token_id=VISION_END)
    text = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=3, rms_norm_eps=1e-6,
                max_position_embeddings=512, bos_token_id=IM_START, eos_token_id=IM_END, pad_token_id=PAD,
                rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [2, 3, 3]})
    vision = dict(hidden_size=32, intermediate_size=48, num_heads=2, out_hidden_size=64, patch_size=14,
                  spatial_merge_size=2, temporal_patch_size=2, tokens_per_second=2)
    if name == "window":
        text.update(num_attention_heads=4, num_key_value_heads=2)
        vision.update(depth=4, window_size=56, fullatt_block_indexes=[1, 3])
        return Qwen2_5_VLConfig(text_config=text, vision_config=vision, tie_word_embeddings=False, **common)
    text.update(num_attention_heads=4, num_key_value_heads=4)
    vision.update(depth=2, window_size=112, fullatt_block_indexes=[0, 1])
    return Qwen2_5_VLConfig(text_config=text, vision_config=vision, tie_word_embeddings=True, **common)


def image(seed, height, width):
    """A smooth gradient with noise: exercises both the filter and the clipping."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255.0 / max(width - 1, 1), y * 255.0 / max(height - 1, 1), (x + y) % 64 * 4.0], -1)
    noisy = base + rng.normal(0, 40, size=base.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def words(rng, n):
    return [int(t) for t in rng.integers(1, 280, size=n)]


def prompt_ids(rng, image_tokens, user_words):
    ids = [IM_START] + words(rng, 1) + words(rng, 6) + [IM_END]  # system turn
    ids += [IM_START] + words(rng, 1) + [VISION_START] + [IMAGE_PAD] * image_tokens + [VISION_END]
    ids += words(rng, user_words) + [IM_END] + [IM_START] + words(rng, 1)  # ... <|im_start|>assistant
    return ids


def left_pad(seqs):
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), PAD, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, width - len(s):] = torch.tensor(s)
        mask[i, width - len(s):] = 1
    return ids, mask


def run_case(model, processor, images, seqs_of_tokens, rng, response=False, generate=False):
    proc = processor(images=[Image.fromarray(im) for im in images], return_tensors="pt")
    grid = proc["image_grid_thw"]
    counts = (grid.prod(-1) // 4).tolist()
    seqs = [prompt_ids(rng, counts[i], seqs_of_tokens[i]) for i in range(len(images))]
    out = {}
    if response:
        resp = words(rng, RESPONSE_LEN - 1) + [IM_END]
        out["response_start"] = torch.tensor([len(seqs[0])], dtype=torch.long)
        seqs = [seqs[0] + resp]
    ids, mask = left_pad(seqs)
    mm = (ids == IMAGE_PAD).int()
    with torch.no_grad():
        position_ids, deltas = model.model.get_rope_index(ids, mm_token_type_ids=mm, image_grid_thw=grid,
                                                          attention_mask=mask)
        logits = model(input_ids=ids, attention_mask=mask, pixel_values=proc["pixel_values"], image_grid_thw=grid,
                       mm_token_type_ids=mm).logits.float()
    logp = torch.log_softmax(logits, -1)
    token_logprobs = torch.zeros(ids.shape, dtype=torch.float32)
    token_logprobs[:, 1:] = logp[:, :-1].gather(-1, ids[:, 1:, None])[..., 0]
    out.update(input_ids=ids, attention_mask=mask, mm_token_type_ids=mm.long(), pixel_values=proc["pixel_values"],
               image_grid_thw=grid, position_ids=position_ids, rope_deltas=deltas.reshape(-1), logits=logits,
               token_logprobs=token_logprobs * mask)
    for i, im in enumerate(images):
        out[f"image{i}"] = torch.from_numpy(im.copy())
    if generate:
        model.generation_config.eos_token_id = None
        model.generation_config.pad_token_id = PAD
        with torch.no_grad():
            gen = model.generate(input_ids=ids, attention_mask=mask, pixel_values=proc["pixel_values"],
                                 image_grid_thw=grid, mm_token_type_ids=mm, max_new_tokens=NEW_TOKENS, do_sample=False,
                                 return_dict_in_generate=True, output_logits=True)
        out["generated"] = gen.sequences[:, ids.shape[1]:].contiguous()
        # The logits of every decoding step: token choices alone hardly depend on positions in a random model.
        out["generated_logits"] = torch.stack(gen.logits, 1).float()
    return {k: v.contiguous() for k, v in out.items()}


FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "qwen-tokenizer")
VOCAB_IMAGE_SIZE = 56  # the square batch images of the vocab model (4 image tokens)
TFQ_SYSTEM = "You are a careful reader of images."
TFQ_FORMAT = ("Please according to the image, and try to answer the following true-false questions with the option "
              "T (True) or F (False). First, describe the image, then analyze the image implication, and finally "
              "reason to get the answer. Output the thinking process in <think> </think> and the final correct answer "
              "in <answer> </answer> tags. The output format should be as follows: <think>...</think> "
              "<answer>...</answer>. True-false questions: {problem}")
# (system, user, response): the image first (no placeholder), then placed in the text.
TFQ_PROMPTS = [
    ("", TFQ_FORMAT.format(problem="The red apple is a warning about temptation."),
     "<think>A red apple on a table.</think> <answer>T</answer>"),
    (TFQ_SYSTEM, "Look: <image>\nDoes the 🍎 mean 诱惑 (temptation)?  Answer T or F.\n\n",
     "<think> 苹果 \t 2024 </think><answer>F</answer>"),
]


def vocab_model(out_dir, image_processor, index):
    """A tiny random Qwen2.5-VL with the real vocabulary and Qwen's special-token ids."""
    tok = AutoTokenizer.from_pretrained(FIXTURES)
    ids = {t: tok.convert_tokens_to_ids(t) for t in
           ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
            "<|video_pad|>"]}
    text = dict(vocab_size=151936, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=2,
                num_key_value_heads=1, rms_norm_eps=1e-6, max_position_embeddings=4096,
                bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"],
                rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [2, 3, 3]})
    vision = dict(hidden_size=16, intermediate_size=24, num_heads=2, out_hidden_size=32, patch_size=14, depth=1,
                  spatial_merge_size=2, temporal_patch_size=2, tokens_per_second=2, window_size=112,
                  fullatt_block_indexes=[0])
    cfg = Qwen2_5_VLConfig(text_config=text, vision_config=vision, tie_word_embeddings=True,
                           image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
                           vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"])
    torch.manual_seed(2000)
    model = Qwen2_5_VLForConditionalGeneration(cfg).eval()
    model.generation_config = GenerationConfig(bos_token_id=ids["<|endoftext|>"], pad_token_id=ids["<|endoftext|>"],
                                               eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]])
    model_dir = os.path.join(out_dir, "vocab")
    model.save_pretrained(model_dir)
    image_processor.save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    with open(os.path.join(model_dir, "config.json")) as f:
        saved = json.load(f)
    saved["image_size"] = VOCAB_IMAGE_SIZE  # mstar's square batch images; transformers ignores the key
    with open(os.path.join(model_dir, "config.json"), "w") as f:
        json.dump(saved, f, indent=2)

    template = open(os.path.join(FIXTURES, "qwen2_5_vl_chat_template.jinja")).read()
    img = Image.fromarray(image(5, VOCAB_IMAGE_SIZE, VOCAB_IMAGE_SIZE))
    grid = image_processor(images=[img], return_tensors="pt")["image_grid_thw"]
    image_tokens = int(grid[0].prod()) // 4
    prompts = []
    for system, user, response in TFQ_PROMPTS:
        content = []
        for i, piece in enumerate(user.split("<image>")):  # EasyR1's split at the placeholder
            if i > 0:
                content.append({"type": "image"})
            if piece:
                content.append({"type": "text", "text": piece})
        if "<image>" not in user:
            content.insert(0, {"type": "image"})
        messages = ([{"role": "system", "content": [{"type": "text", "text": system}]}] if system else [])
        messages.append({"role": "user", "content": content})
        text = tok.apply_chat_template(messages, chat_template=template, tokenize=False, add_generation_prompt=True)
        expanded = text.replace("<|image_pad|>", "<|image_pad|>" * image_tokens)
        prompts.append({"system": system, "user": user, "text": text, "input_ids": tok(expanded)["input_ids"],
                        "response": response,
                        "response_ids": tok(response)["input_ids"] + [ids["<|im_end|>"]]})
    index["vocab"] = {"dir": "vocab", "image_size": VOCAB_IMAGE_SIZE, "image_tokens": image_tokens, "prompts": prompts,
                      "pad_id": ids["<|endoftext|>"], "eos_id": ids["<|im_end|>"], "image_id": ids["<|image_pad|>"]}


LORA_RANK, LORA_ALPHA = 4, 8
# "attn.proj": peft matches a bare "proj" to the patch embedding's Conv3d too (visual.patch_embed.proj).
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "qkv", "attn.proj"]


def lora_model(out_dir, processor, index):
    """The window config with a peft adapter whose lora_B are random, not peft's zeros."""
    from peft import LoraConfig, get_peft_model
    torch.manual_seed(3000)
    model = Qwen2_5_VLForConditionalGeneration(config("window")).eval()
    model.save_pretrained(os.path.join(out_dir, "lora_base"))
    model.save_pretrained(os.path.join(out_dir, "lora"))
    processor.save_pretrained(os.path.join(out_dir, "lora_base"))
    processor.save_pretrained(os.path.join(out_dir, "lora"))
    peft_model = get_peft_model(model, LoraConfig(r=LORA_RANK, lora_alpha=LORA_ALPHA, target_modules=LORA_TARGETS))
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn_like(p) * 0.1)
    peft_model.eval()
    peft_model.save_pretrained(os.path.join(out_dir, "lora"))
    # get_peft_model adapts `model` in place: its forward is the adapted one.
    single = run_case(model, processor, [image(1, 100, 140)], [12], np.random.default_rng(11), response=True)
    save_file(single, os.path.join(out_dir, "lora_single.safetensors"))
    index["lora"] = {"dir": "lora", "base_dir": "lora_base", "case": "lora_single.safetensors", "rank": LORA_RANK,
                     "alpha": LORA_ALPHA, "targets": LORA_TARGETS}


def peft_logits(adapter_dir, inputs_file, out_file):
    from peft import PeftModel
    from safetensors.torch import load_file
    torch.set_num_threads(1)
    with open(os.path.join(adapter_dir, "adapter_config.json")) as f:
        base_dir = json.load(f)["base_model_name_or_path"]
    base = Qwen2_5_VLForConditionalGeneration.from_pretrained(base_dir, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, adapter_dir).eval()
    x = load_file(inputs_file)
    with torch.no_grad():
        logits = model(input_ids=x["input_ids"], attention_mask=x["attention_mask"], pixel_values=x["pixel_values"],
                       image_grid_thw=x["image_grid_thw"], mm_token_type_ids=x["mm_token_type_ids"]).logits.float()
    save_file({"logits": logits.contiguous()}, out_file)


def main():
    if sys.argv[1] == "--peft-logits":
        peft_logits(*sys.argv[2:5])
        return
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(1)
    processor = Qwen2VLImageProcessorPil(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)
    index = {"min_pixels": MIN_PIXELS, "max_pixels": MAX_PIXELS, "response_len": RESPONSE_LEN,
             "new_tokens": NEW_TOKENS, "image_token_id": IMAGE_PAD, "models": {}}
    for seed, name in enumerate(["window", "tied"]):
        torch.manual_seed(1000 + seed)
        model = Qwen2_5_VLForConditionalGeneration(config(name)).eval()
        model_dir = os.path.join(out_dir, name)
        # The window model is sharded so that the index path is exercised.
        model.save_pretrained(model_dir, max_shard_size="100KB" if name == "window" else "1GB")
        processor.save_pretrained(model_dir)
        rng = np.random.default_rng(7 + seed)
        cases = {
            # 100x140 -> 112x140 (no window divides it evenly); 260x200 -> past max_pixels, downscaled.
            "single": run_case(model, processor, [image(1, 100, 140)], [12], rng, response=True),
            # 40x61 is upscaled to 56x56 (min_pixels); batch rows differ in length -> left padding.
            "batch": run_case(model, processor, [image(2, 260, 200), image(3, 40, 61)], [9, 3], rng, generate=True),
        }
        for case, tensors in cases.items():
            save_file(tensors, os.path.join(out_dir, f"{name}_{case}.safetensors"))
        index["models"][name] = {"dir": name, "cases": sorted(cases)}
    vocab_model(out_dir, processor, index)
    lora_model(out_dir, processor, index)
    with open(os.path.join(out_dir, "index.json"), "w") as f:
        json.dump(index, f, indent=1)


if __name__ == "__main__":
    main()
