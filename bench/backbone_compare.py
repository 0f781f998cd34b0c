"""backbone/tiny_vlm in C++ (LibTorch) against the same model in eager PyTorch.

    python bench/backbone_compare.py [--sizes S,M,L] [--threads 1,2] [--rounds 3] [--reps 3]

For each size, build/bench/backbone_compare exports a model (model.safetensors)
and the inputs both sides time; the reference (bench/backbone_ref.py) loads
the weights and must reproduce the C++ log-probs of the training batch
(|diff| <= 1e-4) before anything is timed. Then, `rounds` times, every
(size, threads) pair runs as one C++ process and one Python process, in
alternating order, each timing `reps` repetitions after a warm-up (median).
Both processes get the same environment (OMP_WAIT_POLICY=PASSIVE: on a
machine other people load, active waiting makes 2-thread runs erratic) and
the same LibTorch (the venv's torch). The table gives medians over rounds,
the ratio C++ / Python (> 1: C++ faster) and the 1-minute load average
range seen while measuring.

    python bench/backbone_compare.py --side DIR --threads N --reps R [--compile]
is the Python side of one measurement (one JSON line, like the C++ side).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


CPU = {}  # CPU seconds per run of the last time_median(), by name


def time_median(reps, fn, name):
    """Median wall seconds of `reps` runs after a warm-up; CPU[name]: the process's CPU seconds per run."""
    fn()
    times = []
    c0 = time.process_time()
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    CPU[name] = (time.process_time() - c0) / reps
    return statistics.median(times)


def python_side(d, threads, reps, compile_model):
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import backbone_ref as R

    torch.set_num_threads(threads)
    d = Path(d)
    config = json.loads((d / "model" / "config.json").read_text())
    model = R.TinyVlm(config)
    model.load_state_dict(load_file(str(d / "model" / "model.safetensors")))
    with safe_open(str(d / "inputs.safetensors"), "pt") as f:
        meta = f.metadata()
    x = load_file(str(d / "inputs.safetensors"))
    new_tokens, n, answer = int(meta["new_tokens"]), int(meta["grpo_n"]), int(meta["answer_word"])
    fwd = torch.compile(model) if compile_model else model

    def score(m, ids, mask, images, index=None):
        feats = m.image_features(images)
        if index is not None:
            feats = feats.index_select(0, index)
        return R.token_logprobs(fwd(ids, mask, feats) if m is model else m(ids, mask, feats), ids, mask.float())

    ids, mask, images = x["train_ids"], x["train_mask"], x["train_images"]
    with torch.no_grad():
        model.eval()
        got = torch.nn.functional.pad(score(model, ids, mask, images), (1, 0))
    diff = (got - x["train_logprobs"]).abs().max().item()
    if diff > 1e-4:
        raise SystemExit(f"reference disagrees with C++: max |log-prob diff| {diff:.2e} > 1e-4")

    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    rmask = x["train_response_mask"].float()

    def train_step():
        opt.zero_grad()
        lp = score(model, ids, mask, images)
        (-(lp * rmask[:, 1:]).sum() / rmask.sum()).backward()
        opt.step()

    train_s = time_median(reps, train_step, "train")
    result = {"side": "py_compile" if compile_model else "py", "threads": threads, "train_ms": train_s * 1e3,
              "train_cpu_ms": CPU["train"] * 1e3, "agree": diff, "torch": torch.__version__}
    if compile_model:  # only the training step goes through the compiled model
        return result

    model.eval()
    stops = torch.tensor([-1])
    s_ids, s_mask, s_images = x["sample_ids"], x["sample_mask"], x["sample_images"]

    def sample():
        with torch.inference_mode():
            feats = model.image_features(s_images)
        model.generate(s_ids, s_mask, feats, new_tokens, torch.Generator().manual_seed(1), stops)

    sample_s = time_median(reps, sample, "sample")

    ref = R.TinyVlm(config)
    ref.load_state_dict(model.state_dict())
    ref.eval()
    g_ids, g_mask, g_images = x["grpo_ids"], x["grpo_mask"], x["grpo_images"]
    p_ids, p_mask = g_ids.repeat_interleave(n, 0), g_mask.repeat_interleave(n, 0)
    index = torch.arange(g_ids.shape[0]).repeat_interleave(n)
    gen = torch.Generator().manual_seed(7)

    def grpo():
        model.eval()
        with torch.inference_mode():
            feats = model.image_features(g_images).index_select(0, index)
        tokens, _, lengths = model.generate(p_ids, p_mask, feats, new_tokens, gen, stops)
        tokens = tokens.clone().masked_fill_(tokens == config["image_token_id"], config["bos_token_id"])
        rewards = torch.tensor([1.0 if answer in row else 0.0 for row in tokens.tolist()])
        r = rewards.view(-1, n)
        adv = ((r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + 1e-6)).view(-1, 1)
        gmask = (torch.arange(tokens.shape[1])[None] < lengths[:, None]).long()
        s_ids_ = torch.cat([p_ids, tokens.clone()], 1)
        s_mask_ = torch.cat([p_mask, gmask], 1)
        m = torch.cat([torch.zeros_like(p_mask), gmask], 1).float()[:, 1:]
        with torch.no_grad():
            old = score(model, s_ids_, s_mask_, g_images, index)
            ref_lp = score(ref, s_ids_, s_mask_, g_images, index)
        model.train()
        opt.zero_grad()
        lp = score(model, s_ids_, s_mask_, g_images, index)
        ratio = (lp - old).exp()
        pg = -torch.min(ratio * adv, ratio.clamp(0.8, 1.28) * adv)
        dkl = ref_lp - lp
        kl = dkl.exp() - dkl - 1
        (((pg + 0.04 * kl) * m).sum() / m.sum()).backward()
        opt.step()

    grpo_s = time_median(reps, grpo, "grpo")
    result.update(sample_tps=s_ids.shape[0] * new_tokens / sample_s, grpo_ms=grpo_s * 1e3,
                  sample_cpu_tps=s_ids.shape[0] * new_tokens / CPU["sample"], grpo_cpu_ms=CPU["grpo"] * 1e3)
    return result


def run_json(cmd, env):
    load = os.getloadavg()[0]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    row = json.loads(out.strip().splitlines()[-1])
    row["load"] = max(load, os.getloadavg()[0])
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--side")
    ap.add_argument("--sizes", default="S,M,L")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--compile", action="store_true", help="also time a torch.compile training step")
    ap.add_argument("--binary", default=str(ROOT / "build" / "bench" / "backbone_compare"))
    ap.add_argument("--report", help="print the table of a run's rows (JSON lines, as printed on stderr)")
    a = ap.parse_args()
    if a.report:
        rows = [json.loads(line) for line in Path(a.report).read_text().splitlines() if line.startswith("{")]
        a.rounds = 1 + max(r["round"] for r in rows)
        a.compile = any(r["side"] == "py_compile" for r in rows)
        report(rows, list(dict.fromkeys(r["size"] for r in rows)), sorted({r["threads"] for r in rows}), a)
        return
    if a.side:
        print(json.dumps(python_side(a.side, int(a.threads), a.reps, a.compile)))
        return
    env = dict(os.environ)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    sizes, threads = a.sizes.split(","), [int(t) for t in a.threads.split(",")]
    work = Path(tempfile.mkdtemp(prefix="backbone_compare."))
    for size in sizes:
        subprocess.run([a.binary, "--export", str(work / size), "--size", size], env=env, check=True)
    rows = []
    for rnd in range(a.rounds):
        for size in sizes:
            for thr in threads:
                d = str(work / size)
                cpp = [a.binary, "--time", d, "--threads", str(thr), "--reps", str(a.reps)]
                py = [sys.executable, __file__, "--side", d, "--threads", str(thr), "--reps", str(a.reps)]
                cmds = [cpp, py] + ([py + ["--compile"]] if a.compile else [])
                for cmd in (cmds if rnd % 2 == 0 else cmds[::-1]):
                    row = run_json(cmd, env)
                    row.update(size=size, round=rnd)
                    rows.append(row)
                    print(json.dumps(row), file=sys.stderr, flush=True)
    (work / "rows.json").write_text(json.dumps(rows, indent=1))
    report(rows, sizes, threads, a)
    print(f"\nraw rows: {work / 'rows.json'}")


def report(rows, sizes, threads, a):
    def med(side, size, thr, key):
        v = [r[key] for r in rows if r["side"] == side and r["size"] == size and r["threads"] == thr and key in r]
        return statistics.median(v) if v else float("nan")

    loads = [r["load"] for r in rows]
    torch_v = next(r["torch"] for r in rows)
    print(f"\nbackbone_compare: tiny_vlm qwen, torch {torch_v} (C++: LibTorch of the same wheel), "
          f"{os.cpu_count()} CPUs, {a.rounds} rounds x {a.reps} reps (medians), "
          f"load average {min(loads):.2f}-{max(loads):.2f}")
    head = (f"{'size':4} {'thr':>3} | {'train ms C++':>12} {'Py':>8} {'x':>5} | {'sample tok/s C++':>16} {'Py':>8} "
            f"{'x':>5} | {'GRPO ms C++':>11} {'Py':>8} {'x':>5} | {'dec.eff':>7}")
    if a.compile:
        head += f" | {'compiled train ms':>17} {'x':>5}"
    print(head)
    for size in sizes:
        for thr in threads:
            tc, tp = med("cpp", size, thr, "train_ms"), med("py", size, thr, "train_ms")
            sc, sp = med("cpp", size, thr, "sample_tps"), med("py", size, thr, "sample_tps")
            gc, gp = med("cpp", size, thr, "grpo_ms"), med("py", size, thr, "grpo_ms")
            line = (f"{size:4} {thr:>3} | {tc:12.1f} {tp:8.1f} {tp / tc:5.2f} | {sc:16.0f} {sp:8.0f} {sc / sp:5.2f} | "
                    f"{gc:11.0f} {gp:8.0f} {gp / gc:5.2f} | {100 * med('cpp', size, thr, 'dec_eff'):6.0f}%")
            if a.compile:
                tcomp = med("py_compile", size, thr, "train_ms")
                line += f" | {tcomp:17.1f} {tcomp / tc:5.2f}"
            print(line)
    print(f"\nthe same in CPU time of the process (less sensitive to other load; includes any spinning of idle "
          f"threads)")
    print(f"{'size':4} {'thr':>3} | {'train cpu-ms C++':>16} {'Py':>8} {'x':>5} | {'tok/cpu-s C++':>13} {'Py':>8} "
          f"{'x':>5} | {'GRPO cpu-ms C++':>15} {'Py':>8} {'x':>5}")
    for size in sizes:
        for thr in threads:
            tc, tp = med("cpp", size, thr, "train_cpu_ms"), med("py", size, thr, "train_cpu_ms")
            sc, sp = med("cpp", size, thr, "sample_cpu_tps"), med("py", size, thr, "sample_cpu_tps")
            gc, gp = med("cpp", size, thr, "grpo_cpu_ms"), med("py", size, thr, "grpo_cpu_ms")
            print(f"{size:4} {thr:>3} | {tc:16.1f} {tp:8.1f} {tp / tc:5.2f} | {sc:13.0f} {sp:8.0f} {sc / sp:5.2f} | "
                  f"{gc:15.0f} {gp:8.0f} {gp / gc:5.2f}")
    print("x: C++ speed / Python speed (> 1: C++ faster). dec.eff: C++ decode-only matmul FLOP/s / GEMM FLOP/s "
          "([32*T, hidden] x [hidden, 2*intermediate]) in the same process.")


if __name__ == "__main__":
    main()
