"""`mstar export --mlflow DIR` read back with MLflow's own client
(MlflowClient over the file store, mlflow-skinny pinned in
scripts/requirements.txt): the sweep as an experiment, every trial a run with
its params, tags and status, every metric point in get_metric_history
(test/metrics: loss at step s = scale / (1 + s)), the summaries, a second
export replacing the runs instead of appending to them, and a run without
metric points (a failed one) still found.
usage: serve_mlflow_test.py MSTAR_BINARY"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_helpers import Sandbox, fail  # noqa: E402

# MLflow 3 keeps the file store in maintenance mode and refuses it without this.
os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"


def check(client, exp_id, trials):
    runs = client.search_runs([exp_id], max_results=100)
    if sorted(r.info.run_id for r in runs) != sorted(trials):
        fail(f"runs {[r.info.run_id for r in runs]}, expected {sorted(trials)}")
    scales = set()
    for r in runs:
        run_id, params, tags = r.info.run_id, r.data.params, r.data.tags
        trial = trials[run_id]
        if r.info.status != "FINISHED" or r.info.run_name != trial["name"]:
            fail(f"{run_id}: status {r.info.status}, name {r.info.run_name}, expected {trial['name']}")
        scale = float(params.get("train.scale", "nan"))
        scales.add(scale)
        if scale != trial["params.train.scale"] or params.get("seed") != str(trial["seed"]):
            fail(f"{run_id}: params {params}, trial {trial}")
        if params.get("train.steps") != "30":
            fail(f"{run_id}: node params missing: {params}")
        want = {"mstar.run_id": run_id, "mstar.sweep": "ml-sweep", "mstar.status": "done"}
        if any(tags.get(k) != v for k, v in want.items()) or not tags.get("mstar.plugin.train", "").startswith(
                "test/metrics "):
            fail(f"{run_id}: tags {tags}")
        loss = client.get_metric_history(run_id, "train/loss")
        if sorted(m.step for m in loss) != list(range(30)):
            fail(f"{run_id}: loss steps {sorted(m.step for m in loss)}")
        for m in loss:
            if abs(m.value - scale / (1 + m.step)) > 1e-9 * scale or m.timestamp <= 0:
                fail(f"{run_id}: loss at step {m.step} is {m.value} at {m.timestamp}")
        if len(client.get_metric_history(run_id, "train/acc")) != 30:
            fail(f"{run_id}: train/acc history")
        final = r.data.metrics.get("summary/train/final_loss")
        if final is None or abs(final - scale / 30) > 1e-9:
            fail(f"{run_id}: summary metrics {r.data.metrics}")
    if scales != {1.0, 2.0}:
        fail(f"scales seen: {scales}")


def main():
    try:
        from mlflow.tracking import MlflowClient
    except ImportError as e:
        fail(f"mlflow is missing ({e}): pip install -r scripts/requirements.txt")
    sb = Sandbox(sys.argv[1])
    try:
        sb.run("run", sb.sweep("ml-sweep", [1, 2], [1, 2], steps=30), "-j", "2")
        trials = {t["run"]: t for t in json.loads(sb.run("export", "ml-sweep", "--format", "json").stdout)}
        if len(trials) != 4:
            fail(f"mstar export --format json: {trials}")
        out = os.path.join(sb.dir, "mlruns")
        for attempt in range(2):  # the second export replaces the runs: no doubled points
            r = sb.run("export", "ml-sweep", "--mlflow", out)
            if "1 experiments, 4 runs, 240 points" not in r.stderr:
                fail("export said: " + r.stderr)
            client = MlflowClient(tracking_uri="file:" + out)
            exps = {e.name: e.experiment_id for e in client.search_experiments()}
            if "ml-sweep" not in exps:
                fail(f"experiments {exps}")
            check(client, exps["ml-sweep"], trials)
        # A failed run that logged nothing is still a run MLflow finds (it needs the empty metrics/).
        sb.run("run", sb.write("quiet.yaml", "name: quiet\nnodes:\n  a: {plugin: test/throw}\n"), check=False)
        quiet = json.loads(sb.run("export", "quiet", "--format", "json").stdout)[0]["run"]
        sb.run("export", "quiet", "--mlflow", out)
        client = MlflowClient(tracking_uri="file:" + out)
        got = client.get_run(quiet)
        if (got.info.status != "FAILED" or got.data.tags.get("mstar.status") != "failed" or got.data.metrics
                or client.get_metric_history(quiet, "a/value") != []):
            fail(f"the failed run without metrics: {got}")
        if "ml-sweep" not in {e.name for e in client.search_experiments()}:
            fail("exporting another sweep into the same store lost the first")
        r = sb.run("export", "ml-sweep", "--mlflow", out, "--tensorboard", out + "-tb", check=False)
        if r.returncode == 0 or "not both" not in r.stderr:
            fail(f"--mlflow with --tensorboard: exit {r.returncode}, {r.stderr}")
        print("ok")
    finally:
        sb.close()


if __name__ == "__main__":
    main()
