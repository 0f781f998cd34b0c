"""backbone/qwen2_5_vl (C++) against transformers' Qwen2_5_VLForConditionalGeneration.

    python bench/qwen_compare.py [--shape small] [--threads 1] [--rounds 2] [--reps 2]
        [--device cpu|cuda] [--dtype float32|bfloat16] [--peak-tflops P]
    python bench/qwen_compare.py --rss [--dir DIR]

One random checkpoint (`--shape small`: Qwen2.5-0.5B's decoder with a 4-block
vision tower; `3b`: Qwen2.5-VL-3B's config.json) is built and saved once with
save_pretrained (safetensors), with the inputs both sides use and
transformers' log-probs of the training batch, which the C++ side must match
before it times anything. Then, `rounds` times, one C++ process
(build/bench/qwen_compare) and one Python process, in alternating order, each
time after a warm-up (median of `reps`):
  sampling   the sample batch (8 prompts, one image each, left-padded) x 64
             new tokens, temperature 1, no top-k/top-p, no stop token, KV
             cache: transformers' generate() against Backbone::generate
  training   forward (logits at every position) + token NLL + backward on the
             training batch (no optimizer step)
with the same thread count (torch.set_num_threads / at::set_num_threads) and
environment. The table gives medians over rounds and mstar / transformers.

--rss saves the 3B-shaped checkpoint in bf16 (shards), has the C++ side load
it into bf16 and prints its peak RSS against the bytes on disk, then deletes it.

    python bench/qwen_compare.py --export DIR ... | --side DIR ...
are the steps themselves (one JSON line each).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGE_PAD, VISION_START, VISION_END, PAD = 151655, 151652, 151653, 151643
MIN_PIXELS, MAX_PIXELS = 56 * 56, 28 * 28 * 1280


def config(shape):
    from transformers import Qwen2_5_VLConfig

    common = dict(image_token_id=IMAGE_PAD, video_token_id=151656, vision_start_token_id=VISION_START,
                  vision_end_token_id=VISION_END, tie_word_embeddings=True)
    text = dict(vocab_size=151936, rms_norm_eps=1e-6, max_position_embeddings=32768, bos_token_id=151643,
                eos_token_id=151645, pad_token_id=PAD, hidden_act="silu")
    vision = dict(patch_size=14, spatial_merge_size=2, temporal_patch_size=2, tokens_per_second=2, window_size=112,
                  in_chans=3, hidden_act="silu")
    if shape == "small":  # Qwen2.5-0.5B's decoder
        text.update(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                    num_key_value_heads=2,
                    rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [8, 12, 12]})
        vision.update(depth=4, hidden_size=256, intermediate_size=512, num_heads=4, out_hidden_size=896,
                      fullatt_block_indexes=[1, 3])
    elif shape == "3b":  # Qwen/Qwen2.5-VL-3B-Instruct's config.json
        text.update(hidden_size=2048, intermediate_size=11008, num_hidden_layers=36, num_attention_heads=16,
                    num_key_value_heads=2, max_position_embeddings=128000,
                    rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]})
        vision.update(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, out_hidden_size=2048,
                      fullatt_block_indexes=[7, 15, 23, 31])
    else:
        raise SystemExit(f"unknown --shape {shape} (small or 3b)")
    return Qwen2_5_VLConfig(text_config=text, vision_config=vision, **common)


def build_model(shape, dtype, device="cpu"):
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    torch.manual_seed(0)
    torch.set_default_dtype(dtype)  # built in the target dtype: a 3B model in fp32 would need 15 GB
    try:
        with torch.device(device):
            model = Qwen2_5_VLForConditionalGeneration(config(shape))
    finally:
        torch.set_default_dtype(torch.float32)
    return model.eval()


def make_inputs(rng, count, image_size, words, response=0):
    """`count` prompts (system-less chat layout, one image, `words` +- 3 words), left-padded; uint8 images."""
    import numpy as np
    import torch

    tokens = (image_size // 28) ** 2
    seqs = []
    for i in range(count):
        n = words + int(rng.integers(-3, 4)) if not response else words
        body = [int(t) for t in rng.integers(10, 30000, size=n)]
        seq = [151644, 872, 198, VISION_START] + [IMAGE_PAD] * tokens + [VISION_END] + body + [151645, 151644, 77091, 198]
        seqs.append(seq + [int(t) for t in rng.integers(10, 30000, size=response)])
    width = max(len(s) for s in seqs)
    ids = torch.full((count, width), PAD, dtype=torch.long)
    mask = torch.zeros((count, width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, width - len(s):] = torch.tensor(s)
        mask[i, width - len(s):] = 1
    y, x = np.mgrid[0:image_size, 0:image_size]
    images = []
    for i in range(count):
        base = np.stack([x * 255.0 / image_size, y * 255.0 / image_size, (x + y + 13 * i) % 64 * 4.0], -1)
        images.append(np.clip(base + rng.normal(0, 40, size=base.shape), 0, 255).astype(np.uint8))
    return ids, mask, torch.from_numpy(np.stack(images))


def processed(images):
    from PIL import Image
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    proc = Qwen2VLImageProcessorPil(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)
    out = proc(images=[Image.fromarray(im.numpy()) for im in images], return_tensors="pt")
    return out["pixel_values"], out["image_grid_thw"]


def token_logprobs(model, ids, mask, pixels, grid):
    import torch

    logits = model(input_ids=ids, attention_mask=mask, pixel_values=pixels, image_grid_thw=grid,
                   mm_token_type_ids=(ids == IMAGE_PAD).long()).logits
    lp = torch.log_softmax(logits[:, :-1].float(), -1)
    return lp.gather(-1, ids[:, 1:, None])[..., 0]


def export(d, a):
    import numpy as np
    import torch
    from safetensors.torch import save_file

    d = Path(d)
    model = build_model(a.shape, getattr(torch, a.dtype), a.device)
    model.save_pretrained(d / "model")
    rng = np.random.default_rng(1)
    s_ids, s_mask, s_images = make_inputs(rng, a.batch, a.image_size, 16)
    t_ids, t_mask, t_images = make_inputs(rng, a.train_batch, a.image_size, 16, response=a.response)
    t_pixels, t_grid = processed(t_images)
    dev = a.device
    with torch.no_grad():
        lp = token_logprobs(model, t_ids.to(dev), t_mask.to(dev), t_pixels.to(dev, model.dtype), t_grid.to(dev)).cpu()
    s_pixels, s_grid = processed(s_images)
    save_file({"sample_ids": s_ids, "sample_mask": s_mask, "sample_images": s_images, "sample_pixels": s_pixels,
               "sample_grid": s_grid, "train_ids": t_ids, "train_mask": t_mask, "train_images": t_images,
               "train_pixels": t_pixels, "train_grid": t_grid, "train_logprobs": lp.contiguous()},
              str(d / "inputs.safetensors"),
              metadata={"new_tokens": str(a.new_tokens), "min_pixels": str(MIN_PIXELS), "max_pixels": str(MAX_PIXELS)})


def time_median(reps, fn, sync):
    fn()
    sync()
    times, c0 = [], time.process_time()
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), (time.process_time() - c0) / reps


def python_side(d, a):
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file
    from transformers import GenerationConfig, Qwen2_5_VLForConditionalGeneration

    torch.set_num_threads(a.threads)
    d = Path(d)
    dtype = getattr(torch, a.dtype)
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(d / "model", dtype=dtype).to(a.device).eval()
    x = {k: v.to(a.device) for k, v in load_file(str(d / "inputs.safetensors")).items()}
    with safe_open(str(d / "inputs.safetensors"), "pt") as f:
        new_tokens = int(f.metadata()["new_tokens"])
    sync = torch.cuda.synchronize if a.device == "cuda" else (lambda: None)
    ids, mask, pixels, grid = x["train_ids"], x["train_mask"], x["train_pixels"].to(dtype), x["train_grid"]
    weight = mask[:, 1:].float()
    with torch.no_grad():
        agree = ((token_logprobs(model, ids, mask, pixels, grid) - x["train_logprobs"]).abs() * weight).max().item()

    model.train()

    def train_step():
        model.zero_grad(set_to_none=True)
        (-(token_logprobs(model, ids, mask, pixels, grid) * weight).sum() / weight.sum()).backward()

    train_s, train_cpu = time_median(a.reps, train_step, sync)
    model.zero_grad(set_to_none=True)
    model.eval()
    s_ids, s_mask = x["sample_ids"], x["sample_mask"]
    gen = GenerationConfig(do_sample=True, temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=new_tokens,
                           min_new_tokens=new_tokens, eos_token_id=None, pad_token_id=PAD)
    torch.manual_seed(1)

    def sample():
        with torch.inference_mode():
            out = model.generate(input_ids=s_ids, attention_mask=s_mask, pixel_values=x["sample_pixels"].to(dtype),
                                 image_grid_thw=x["sample_grid"], mm_token_type_ids=(s_ids == IMAGE_PAD).long(),
                                 generation_config=gen)
        assert out.shape[1] == s_ids.shape[1] + new_tokens, out.shape

    sample_s, sample_cpu = time_median(a.reps, sample, sync)
    tokens = s_ids.shape[0] * new_tokens
    return {"side": "py", "threads": a.threads, "device": a.device, "dtype": a.dtype, "agree": agree,
            "train_ms": train_s * 1e3, "train_cpu_ms": train_cpu * 1e3, "sample_tps": tokens / sample_s,
            "sample_cpu_tps": tokens / sample_cpu, "torch": torch.__version__}


def peak_tflops(text, device):
    """Dense bf16 peak of the GPU for 'auto' (H100/H200 SXM 989, H100 PCIe 756), else the number given."""
    if text != "auto":
        return float(text)
    if device != "cuda":
        return 0.0
    import torch

    name = torch.cuda.get_device_name(0)
    return 756.0 if "PCIe" in name else 989.0 if ("H100" in name or "H200" in name) else 0.0


def run_json(cmd, env):
    load = os.getloadavg()[0]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stderr[-3000:]}")
    row = json.loads(res.stdout.strip().splitlines()[-1])
    row["load"] = max(load, os.getloadavg()[0])
    return row


def rss(a, env):
    import torch

    work = Path(a.dir) if a.dir else Path(tempfile.mkdtemp(prefix="qwen_rss.", dir=ROOT / "build"))
    try:
        t0 = time.time()
        build_model("3b", torch.bfloat16).save_pretrained(work / "model", max_shard_size="4GB")
        print(f"saved the 3B-shaped bf16 checkpoint in {time.time() - t0:.0f} s", file=sys.stderr)
        row = run_json([a.binary, "--load", str(work / "model"), "--dtype", "bfloat16"], env)
    finally:
        if not a.dir:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(row))
    print(f"\npeak RSS loading the 3B-shaped bf16 checkpoint: {row['vm_hwm_gb']:.2f} GB (VmHWM) for "
          f"{row['disk_gb']:.2f} GB on disk: {row['hwm_over_disk']:.2f}x; anonymous {row['peak_anon_gb']:.2f} GB "
          f"({row['anon_over_disk']:.2f}x), file-backed (mapped checkpoint pages) at most {row['peak_file_gb']:.2f} GB")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--export")
    ap.add_argument("--side")
    ap.add_argument("--rss", action="store_true")
    ap.add_argument("--dir", help="--rss: write the checkpoint here and keep it")
    ap.add_argument("--shape", default="small")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default=None, help="float32 on cpu, bfloat16 on cuda unless given")
    ap.add_argument("--peak-tflops", default="0", help="the device's dense bf16 peak, for MFU ('auto': H100/H200)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--train-batch", type=int, default=2)
    ap.add_argument("--response", type=int, default=48)
    ap.add_argument("--image-size", type=int, default=112)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--no-python", action="store_true", help="time the C++ side only (no transformers)")
    ap.add_argument("--binary", default=str(ROOT / "build" / "bench" / "qwen_compare"))
    a = ap.parse_args()
    a.dtype = a.dtype or ("bfloat16" if a.device == "cuda" else "float32")
    a.peak_tflops = peak_tflops(a.peak_tflops, a.device)
    if a.export:
        export(a.export, a)
        return
    if a.side:
        print(json.dumps(python_side(a.side, a)))
        return
    env = dict(os.environ)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if a.rss:
        rss(a, env)
        return
    work = Path(tempfile.mkdtemp(prefix="qwen_compare."))
    try:
        t0 = time.time()
        flags = ["--shape", a.shape, "--device", a.device, "--dtype", a.dtype, "--batch", str(a.batch), "--train-batch", str(a.train_batch), "--response",
                 str(a.response), "--image-size", str(a.image_size), "--new-tokens", str(a.new_tokens)]
        subprocess.run([sys.executable, __file__, "--export", str(work)] + flags, env=env, check=True)
        print(f"exported the {a.shape} checkpoint and inputs in {time.time() - t0:.0f} s", file=sys.stderr)
        common = ["--threads", str(a.threads), "--reps", str(a.reps), "--device", a.device, "--dtype", a.dtype]
        cpp = [a.binary, "--time", str(work)] + common + ["--peak-tflops", str(a.peak_tflops)]
        py = [sys.executable, __file__, "--side", str(work)] + common
        rows = []
        for rnd in range(a.rounds):
            cmds = [cpp] if a.no_python else ([cpp, py] if rnd % 2 == 0 else [py, cpp])
            for cmd in cmds:
                row = run_json(cmd, env)
                row["round"] = rnd
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(rows, a)


def report(rows, a):
    def med(side, key):
        v = [r[key] for r in rows if r["side"] == side and key in r]
        return statistics.median(v) if v else float("nan")

    loads = [r["load"] for r in rows]
    print(f"\nqwen_compare: {a.shape} random Qwen2.5-VL, {a.device} {a.dtype}, {a.threads} threads, torch "
          f"{rows[0]['torch']}, {os.cpu_count()} CPUs, {a.rounds} rounds x {a.reps} reps (medians), load average "
          f"{min(loads):.2f}-{max(loads):.2f}; sampling {a.batch} x {a.new_tokens} tokens, training batch "
          f"{a.train_batch}; log-prob agreement C++/transformers {med('cpp', 'agree'):.1e}")
    print(f"{'':22} {'mstar':>10} {'transformers':>13} {'x':>6}")
    for name, key, faster in (("sampling tokens/s", "sample_tps", 1), ("training step ms", "train_ms", -1),
                              ("tokens per CPU-s", "sample_cpu_tps", 1), ("train CPU-ms", "train_cpu_ms", -1)):
        c, p = med("cpp", key), med("py", key)
        print(f"{name:22} {c:10.2f} {p:13.2f} {(c / p) ** faster:6.2f}")
    if a.peak_tflops:
        flop = med("cpp", "train_gflop") * 1e9
        mfu = [100 * flop / (med(s, "train_ms") / 1e3) / (a.peak_tflops * 1e12) for s in ("cpp", "py")]
        print(f"training MFU: mstar {mfu[0]:.1f}%, transformers {mfu[1]:.1f}% of {a.peak_tflops} TFLOP/s "
              f"({flop / 1e12:.2f} TFLOP a step: matmuls, attention in full)")
    print("x: mstar speed / transformers speed (> 1: mstar faster)")


if __name__ == "__main__":
    main()
