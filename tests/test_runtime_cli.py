"""Runtime selection, the recipe plumbing in run.py, and the tfgan-emotion CLI."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import keras

from tfgan_emotion import cli, run, runtime

ROOT = Path(__file__).resolve().parent.parent


def test_precision_resolution(monkeypatch):
    with pytest.raises(ValueError, match="unknown precision"):
        runtime.resolve_precision("bf16")
    monkeypatch.setattr(runtime, "gpu_compute_capabilities", lambda: [])
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: True)
    for name in ("float32", "mixed_bfloat16", "mixed_float16"):
        assert runtime.resolve_precision(name) == (name, "requested")
    assert runtime.resolve_precision("auto")[0] == "mixed_bfloat16"
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: False)
    assert runtime.resolve_precision("auto")[0] == "float32"
    # bf16 asked for on a CPU that emulates it: honoured, and the reason (printed, kept in config.json) says the cost
    policy, reason = runtime.resolve_precision("mixed_bfloat16")
    assert policy == "mixed_bfloat16" and "no native bf16" in reason and "slower than float32" in reason
    assert runtime.resolve_precision("float32") == ("float32", "requested")
    monkeypatch.setattr(runtime, "gpu_compute_capabilities", lambda: [(7, 0)])
    assert runtime.resolve_precision("auto")[0] == "float32"
    # bf16 asked for on a GPU without bf16 tensor cores (7.x: float16 ones): honoured, with the cost and the way out
    policy, reason = runtime.resolve_precision("mixed_bfloat16")
    assert policy == "mixed_bfloat16" and "compute capability 7.0" in reason and "no bf16 tensor cores" in reason
    assert "mixed_float16" in reason
    monkeypatch.setattr(runtime, "gpu_compute_capabilities", lambda: [(8, 6), (6, 1)])  # the slowest GPU decides
    policy, reason = runtime.resolve_precision("mixed_bfloat16")
    assert "compute capability 6.1" in reason and "mixed_float16" not in reason
    assert runtime.resolve_precision("mixed_float16") == ("mixed_float16", "requested")
    monkeypatch.setattr(runtime, "gpu_compute_capabilities", lambda: [(8, 0), (9, 0)])
    assert runtime.resolve_precision("auto")[0] == "mixed_bfloat16"
    assert runtime.resolve_precision("mixed_bfloat16") == ("mixed_bfloat16", "requested")


def test_strategies(monkeypatch):
    assert runtime.make_strategy("default") is tf.distribute.get_strategy()
    assert runtime.make_strategy("auto") is tf.distribute.get_strategy()  # no GPU here
    mirrored = runtime.make_strategy("mirrored")  # both logical CPUs of conftest
    assert mirrored.num_replicas_in_sync == 2
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        runtime.make_strategy("multi_worker")
    with pytest.raises(ValueError, match="unknown strategy"):
        runtime.make_strategy("tpu")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="not a valid cluster spec"):
        runtime.tf_config_task()


def test_seeding_is_reproducible():
    runtime.seed_everything(5)
    a = (np.random.rand(3), tf.random.uniform((3,)).numpy(), keras.random.uniform((3,), seed=None).numpy())
    runtime.seed_everything(5)
    b = (np.random.rand(3), tf.random.uniform((3,)).numpy(), keras.random.uniform((3,), seed=None).numpy())
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def _args(**kw):
    p = run.common_parser("demo", "demo", default_batch_size=49)
    return p.parse_args([a for k, v in kw.items() for a in ([f"--{k.replace('_', '-')}"] + ([] if v is True else [str(v)]))])


def test_common_flags_and_defaults():
    a = _args()
    assert (a.batch_size, a.strategy, a.precision, a.seed, a.smoke) == (49, "auto", "auto", 0, False)
    assert run.default_run_name(a) == "synthetic-seed0"
    assert run.default_run_name(_args(smoke=True, seed=3)) == "smoke-synthetic-seed3"
    assert run.default_run_name(_args(data_dir="/data/AffectNet")) == "AffectNet-seed0"
    assert run.steps_from(_args(smoke=True), paper_steps=1000) == 4
    assert run.steps_from(_args(steps=7), paper_steps=1000) == 7
    assert run.steps_from(_args(epochs=2.5), paper_steps=1000, steps_per_epoch=10) == 25
    assert run.steps_from(_args(), paper_steps=1000) == 1000
    with pytest.raises(ValueError, match="--epochs needs"):
        run.steps_from(_args(epochs=1), paper_steps=1000)
    with pytest.raises(SystemExit):
        run.common_parser("demo", None, 8).parse_args(["--steps", "3", "--epochs", "1"])


def test_resume_refuses_a_different_configuration(tmp_path, float32_policy):
    a = _args(out=tmp_path, precision="float32")
    r = run.start(a, "demo", {"system": "demo", "width": 64})
    r.note("smoke run: 4 steps")
    cfg = json.loads((r.dir / "config.json").read_text())
    assert cfg["recipe"] == "demo" and cfg["config"]["width"] == 64 and cfg["notes"] == ["smoke run: 4 steps"]
    assert cfg["runtime"]["precision"] == "float32"
    run.start(_args(out=tmp_path, precision="float32", steps=99), "demo", {"system": "demo", "width": 64})
    with pytest.raises(run.ConfigMismatch, match="batch_size: 49 -> 32"):
        run.start(_args(out=tmp_path, precision="float32", batch_size=32), "demo", {"system": "demo", "width": 64})
    with pytest.raises(run.ConfigMismatch, match="config.width: 64 -> 32"):
        run.start(_args(out=tmp_path, precision="float32"), "demo", {"system": "demo", "width": 32})


def _cli(*argv):
    return subprocess.run([sys.executable, "-m", "tfgan_emotion.cli", *argv], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)


@pytest.mark.parametrize("command", ["train", "evaluate", "edit", "export", "report", "bench", "compare", "data"])
def test_every_subcommand_has_help(command):
    with pytest.raises(SystemExit) as e:
        cli.main([command, "--help"])
    assert e.value.code == 0


@pytest.mark.parametrize("command", ["evaluate", "export"])
def test_evaluate_and_export_refuse_what_is_not_a_run(command, tmp_path, capsys):
    assert cli.main([command, "--run", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert "not a run directory" in err and err.count("\n") == 1


def test_train_lists_and_rejects(capsys):
    assert cli.main(["train", "--list"]) == 0
    assert "caae_affectnet" in capsys.readouterr().out
    assert cli.main(["train", "nope"]) == 2
    assert "unknown system 'nope'" in capsys.readouterr().err


def test_report_command(tmp_path, capsys):
    run_dir = tmp_path / "run1"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps({"recipe": "demo", "run": "run1", "config": {"a": 1}}))
    assert cli.main(["report", str(run_dir), "--reports", str(tmp_path / "reports")]) == 0
    assert (tmp_path / "reports" / "demo" / "run1" / "report.html").exists()
    assert cli.main(["report", str(tmp_path / "missing")]) == 2
    assert "config.json" in capsys.readouterr().err


def test_console_script_entry_point():
    res = _cli("--help")
    assert res.returncode == 0 and "train" in res.stdout and "bench" in res.stdout


def test_data_crop_and_summary_commands(tmp_path, capsys):
    from PIL import Image
    from tfgan_emotion.data import synthetic

    src = tmp_path / "frames"
    (src / "video1").mkdir(parents=True)
    faces = synthetic.render_faces(np.arange(2), np.zeros(2), np.zeros(2), size=128, nuisance=False)
    for i, f in enumerate(faces):
        Image.fromarray(((f + 1) * 127.5).astype(np.uint8)).save(src / "video1" / f"{i + 1:05d}.jpg")
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(src / "video1" / "00003.jpg")  # no face
    (src / "video1" / "00004.jpg").write_bytes(b"not a jpeg")
    assert cli.main(["data", "crop", str(src), str(tmp_path / "crops"), "--size", "64"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["kept"] == 2
    assert {k: v for k, v in summary["skipped"].items() if v} == {"no_face": 1, "unreadable": 1}
    rows = (tmp_path / "crops" / "crops.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[1].startswith("video1/00001")
    assert Image.open(tmp_path / "crops" / "video1" / "00001.jpg").size == (64, 64)

    lines = ["emotion,pixels,Usage"] + [f"{k},{' '.join(['7'] * 2304)},Training" for k in (0, 3, 3)]
    lines.append("3,1 2 3,Training")
    (tmp_path / "fer2013.csv").write_text("\n".join(lines) + "\n")
    assert cli.main(["data", "summary", "--dataset", "fer2013", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "kept 3" in out and "wrong pixel count: 1" in out
    assert cli.main(["data", "summary", "--dataset", "fer2013", "--data-dir", str(tmp_path / "none")]) == 2
