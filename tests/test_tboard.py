"""TensorBoard: the run's hyper-parameters for the HParams dashboard and the evaluation metrics as eval/ scalars,
read back from the event files."""
import argparse
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import tensorflow as tf
from tensorboard.plugins.hparams import metadata as hp_metadata
from tensorboard.plugins.hparams import plugin_data_pb2

from tfgan_emotion import paths, runtime, tboard


def _events(folder: Path, suffix: str):
    files = sorted(folder.glob(f"events.out.tfevents.*{suffix}*"))
    assert files, f"no {suffix} event file in {folder}"
    for f in files:
        yield from tf.compat.v1.train.summary_iterator(str(f))


def _fake_run(tmp_path, chief=True):
    args = argparse.Namespace(steps=100, batch_size=49, data_dir=None, out=tmp_path / "runs", smoke=False,
                              label_concat="every", ratio=[0.5, 0.25])
    info = runtime.RuntimeInfo(strategy="default", replicas=1, devices=["/device:CPU:0"], precision="float32",
                               precision_reason="requested", task_index=0 if chief else 1, seed=0)
    config = {"system": "caae", "image_size": 96, "width": 1.0, "identity_net": "random", "optim": {"lr": 2e-4},
              "unused": None}
    return SimpleNamespace(name="demo-run", config=config, args=args, runtime=info)


def _hparams(folder: Path) -> dict:
    for event in _events(folder, tboard.HPARAMS_SUFFIX):
        for v in event.summary.value:
            if v.metadata.plugin_data.plugin_name == hp_metadata.PLUGIN_NAME and \
                    v.tag == hp_metadata.SESSION_START_INFO_TAG:
                info = plugin_data_pb2.HParamsPluginData.FromString(v.metadata.plugin_data.content)
                out = {}
                for k, val in info.session_start_info.hparams.items():
                    kind = val.WhichOneof("kind")
                    out[k] = getattr(val, kind)
                return out | {"__trial__": info.session_start_info.group_name}
    raise AssertionError("no session start info in the hparams event file")


def test_hparams_are_in_the_event_file(tmp_path):
    r = _fake_run(tmp_path)
    run_dir = tmp_path / "runs" / "demo-run"
    path = tboard.log_hparams(run_dir, r)
    assert path is not None and path.parent == run_dir / paths.TENSORBOARD
    hp = _hparams(run_dir / paths.TENSORBOARD)
    assert hp["config/image_size"] == 96 and hp["config/width"] == 1.0 and hp["config/identity_net"] == "random"
    assert hp["config/optim.lr"] == 2e-4          # nested config fields joined with "."
    assert "config/unused" not in hp and "flags/data_dir" not in hp   # None is left out
    assert hp["flags/batch_size"] == 49 and hp["flags/smoke"] is False
    assert hp["flags/out"] == str(tmp_path / "runs")                  # paths as text
    assert hp["flags/ratio"] == "0.5, 0.25"                           # lists as text
    assert hp["runtime/precision"] == "float32" and hp["runtime/replicas"] == 1
    assert hp["__trial__"] == "demo-run"
    # A second start (a resumed run) replaces the first hparams file instead of adding one beside it.
    r.args.steps = 200
    tboard.log_hparams(run_dir, r)
    assert len(list((run_dir / paths.TENSORBOARD).glob("*.hparams*"))) == 1
    assert _hparams(run_dir / paths.TENSORBOARD)["flags/steps"] == 200


def test_only_the_chief_writes_hparams(tmp_path):
    run_dir = tmp_path / "run"
    assert tboard.log_hparams(run_dir, _fake_run(tmp_path, chief=False)) is None
    assert not (run_dir / paths.TENSORBOARD).exists()


def test_evaluation_metrics_become_eval_scalars(tmp_path):
    metrics = {"step": 40, "training": {"step": 40, "seconds": 12.5, "restored_from": None},
               "table4_edits": {"all": {"valence": {"ccc": 0.51, "rmse": np.float32(0.25)}},
                                "extreme": {"arousal": {"ccc": float("nan"), "sagr": float("inf")}}},
               "identity": {"share recognised (%)": 65, "ok": True, "ids": [1, 2], "label": "x"},
               "fid": np.float64(12.0), "count": np.int64(7)}
    path = tboard.log_evaluation(tmp_path, metrics, step=40)
    assert path is not None and path.parent == tmp_path / paths.TENSORBOARD
    got = {}
    for event in _events(tmp_path / paths.TENSORBOARD, tboard.EVAL_SUFFIX):
        for v in event.summary.value:
            got[v.tag] = (event.step, float(tf.make_ndarray(v.tensor)))
    expected = {"eval/training/step": 40.0, "eval/training/seconds": 12.5, "eval/table4_edits/all/valence/ccc": 0.51,
                "eval/table4_edits/all/valence/rmse": 0.25, "eval/identity/share_recognised____": 65.0,
                "eval/fid": 12.0, "eval/count": 7.0}   # no NaN/Inf, booleans, lists, text, None or top-level step
    assert set(got) == set(expected)
    for tag, value in expected.items():
        assert got[tag][0] == 40 and abs(got[tag][1] - value) < 1e-6, tag
    # Nothing numeric: no file.
    assert tboard.log_evaluation(tmp_path / "other", {"step": 1, "notes": "x"}, step=1) is None
