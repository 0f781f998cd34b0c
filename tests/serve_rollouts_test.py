"""The GRPO node's rollout log as `mstar serve` shows it: a two-step GRPO run
on the implication world with the tiny backbone (the configuration of
tests/algorithms_node_test.cpp, shortened), then rollouts.jsonl and its
images in the artifact, and the same groups through /api/rollouts with their
images served from the store.
usage: serve_rollouts_test.py MSTAR_BINARY"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_helpers import Sandbox, fail, get  # noqa: E402

N, GROUPS, STEPS = 4, 2, 2

YAML = f"""name: rollouts
seed: 1
nodes:
  world:
    plugin: dataset/implication_world
    seed: 1
    params: {{image_size: 32, glyphs: 6, concepts: 3, colours: 3, relations: 4, train_images: 12, bench_images: 4,
             lite_train_images: 6, lite_bench_images: 4, statements_min: 3, statements_max: 3}}
  init:
    plugin: backbone/tiny_vlm
    seed: 1
    inputs: {{data: world.train}}
    params: {{family: qwen, size: S, image_size: 32, patch_size: 8, hidden: 32, layers: 1, heads: 2, kv_heads: 1,
             vision_hidden: 32, vision_layers: 1, vision_heads: 2, max_positions: 256, vocab_max_size: 96}}
  grpo:
    plugin: algorithm/grpo
    inputs: {{model: init, data: world.train}}
    params: {{file: tfq_lite.jsonl, n: {N}, rollout_batch_size: 4, global_batch_size: 4, micro_batch_size_update: 16,
             micro_batch_size_experience: 16, max_response_length: 6, max_steps: {STEPS}, save_freq: 0,
             sample_freq: 1, samples_per_log: {GROUPS}, reward: {{plugin: reward/length, max_length: 6, buffer: 5}}}}
"""


def main():
    sb = Sandbox(sys.argv[1])
    try:
        sb.run("run", sb.write("rollouts.yaml", YAML))
        _, url = sb.serve()
        runs = json.loads(get(url + "/api/runs?target=rollouts")[2])
        run_id = runs["run_ids"][0]
        detail = json.loads(get(url + "/api/run?id=" + run_id)[2])
        grpo = next(n for n in detail["nodes"] if n["node"] == "grpo")
        if not grpo["rollouts"]:
            fail(f"the grpo node has no rollouts.jsonl: {grpo}")
        # The lineage: grpo read init and world, init read world.
        if sorted(grpo["inputs"].values()) != ["init", "world"]:
            fail(f"grpo's inputs: {grpo['inputs']}")
        lines = [json.loads(x) for x in open(os.path.join(grpo["artifact"], "rollouts.jsonl"))]
        # Step 1 and every sample_freq-th step: 1 and 2.
        if [(x["step"], x["group"]) for x in lines] != [(s, g) for s in range(1, STEPS + 1) for g in range(GROUPS)]:
            fail(f"logged groups: {[(x['step'], x['group']) for x in lines]}")
        for x in lines:
            if len(x["samples"]) != N or not x["prompt"] or not x["answer"]:
                fail(f"a group: {x}")
            if not all(isinstance(t["components"], dict) and isinstance(t["reward"], float) for t in x["samples"]):
                fail(f"rewards: {x['samples']}")
            # Group-normalised advantages sum to ~0 within a group (or are all 0 when rewards tie).
            if abs(sum(t["advantage"] for t in x["samples"])) > 1e-3:
                fail(f"advantages of a group: {[t['advantage'] for t in x['samples']]}")
            image = os.path.join(grpo["artifact"], x["image"])
            if os.path.isabs(x["image"]) or not os.path.isfile(image):
                fail(f"the image is not in the artifact (a path relative to it): {x['image']}")
        served = json.loads(get(url + f"/api/rollouts?run={run_id}&node=grpo")[2])
        if len(served["groups"]) != STEPS * GROUPS:
            fail(f"served groups: {len(served['groups'])}")
        status, headers, body = get(url + served["groups"][0]["image_url"])
        if status != 200 or headers.get("Content-Type") != "image/png" or not body.startswith(b"\x89PNG"):
            fail(f"image: {status} {headers}")
        print("ok")
    finally:
        sb.close()


if __name__ == "__main__":
    main()
