"""`mstar export --tensorboard DIR` read back with the `tensorboard` package's
own reader (EventAccumulator, pinned in scripts/requirements.txt): every
metric point of every run as a scalar NODE/KEY at its step (values of
test/metrics are known: loss at step s = scale / (1 + s)), the summaries,
and the HParams plugin's experiment and per-run session data. Its reader
checks each record's masked CRC-32C.
usage: serve_tensorboard_test.py MSTAR_BINARY"""
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_helpers import Sandbox, fail  # noqa: E402


def main():
    try:
        from tensorboard.backend.event_processing import event_accumulator as ea
        from tensorboard.compat.proto import event_pb2
        from tensorboard.plugins.hparams import plugin_data_pb2
        from tensorboard.backend.event_processing import event_file_loader
    except ImportError as e:
        fail(f"the tensorboard package is missing ({e}): pip install -r scripts/requirements.txt")
    sb = Sandbox(sys.argv[1])
    try:
        sb.run("run", sb.sweep("tb-sweep", [1, 2], [1, 2], steps=30), "-j", "2")
        out = os.path.join(sb.dir, "tb")
        r = sb.run("export", "tb-sweep", "--tensorboard", out)
        if "4 runs, 240 points" not in r.stderr:
            fail("export said: " + r.stderr)
        runs = sorted(d for d in os.listdir(out) if os.path.isdir(os.path.join(out, d)))
        if len(runs) != 4:
            fail(f"run directories: {runs}")
        scales = set()
        for run in runs:
            acc = ea.EventAccumulator(os.path.join(out, run), size_guidance={ea.SCALARS: 0, ea.TENSORS: 0})
            acc.Reload()
            tags = acc.Tags()["scalars"]
            for t in ("train/loss", "train/acc", "summary/train/final_loss", "summary/train/value"):
                if t not in tags:
                    fail(f"{run}: no scalar {t} among {tags}")
            loss = acc.Scalars("train/loss")
            if [e.step for e in loss] != list(range(30)):
                fail(f"{run}: loss steps {[e.step for e in loss]}")
            scale = loss[0].value  # step 0: scale / 1
            scales.add(scale)
            for e in loss:
                if abs(e.value - scale / (1 + e.step)) > 1e-6 * scale:
                    fail(f"{run}: loss at step {e.step} is {e.value}, expected {scale / (1 + e.step)}")
            final = acc.Scalars("summary/train/final_loss")[-1].value
            if abs(final - scale / 30) > 1e-6:
                fail(f"{run}: final_loss {final}")
            content = acc.PluginTagToContent("hparams")
            start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
            hp = start.session_start_info.hparams
            if hp["train.scale"].number_value != scale or hp["seed"].number_value not in (1, 2):
                fail(f"{run}: hparams {hp}")
            end = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_end_info"])
            if end.session_end_info.status != 1:
                fail(f"{run}: session end {end}")
        if scales != {1.0, 2.0}:
            fail(f"scales seen: {scales}")
        # The experiment in the root: the swept params and the summaries as metrics.
        (root_file,) = glob.glob(os.path.join(out, "events.out.tfevents.*"))
        events = list(event_file_loader.EventFileLoader(root_file).Load())
        if events[0].file_version != "brain.Event:2":
            fail(f"first event: {events[0]}")
        value = events[1].summary.value[0]
        exp = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content).experiment
        if sorted(h.name for h in exp.hparam_infos) != ["seed", "train.scale"]:
            fail(f"hparam_infos: {exp.hparam_infos}")
        if sorted(m.name.tag for m in exp.metric_infos) != ["summary/train/final_loss", "summary/train/value"]:
            fail(f"metric_infos: {exp.metric_infos}")
        assert isinstance(events[0], event_pb2.Event)
        print("ok")
    finally:
        sb.close()


if __name__ == "__main__":
    main()
