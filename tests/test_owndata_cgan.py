"""The label-interpolation cGAN on your own data: the label is as wide as the data has classes, and those classes'
names are what the evaluation, the report, the exported endpoints and `edit --mix` speak of."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import owndata
from tfgan_emotion import systems
from tfgan_emotion.data import custom
from tfgan_emotion.data import labels as L
from tfgan_emotion.systems.base import Plan
from conftest import own_lines  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CLASSES = list(owndata.CLASSES)            # neutral, happy, sad, surprise, anger


def _recipe(name, *flags, timeout=900):
    return subprocess.run([sys.executable, str(ROOT / "recipes" / f"{name}.py"), *map(str, flags)],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def _cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "tfgan_emotion.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


# ------------------------------------------------------------------ quick: what the system makes of the classes
def test_plan_sizes_the_label_from_the_data_and_smoke_keeps_the_setup_size(tmp_path):
    b = owndata.build(tmp_path, "indices")
    for name, size, channels in (("cgan_faces", 64, 3), ("cgan_fashion_mnist", 28, 1)):
        system = systems.get(name)
        args = system.parser().parse_args([*b.flags, "--smoke"])
        plan = system.plan(args)
        assert plan.config.n_classes == 5 and plan.extra["vocabulary"].names == owndata.CLASSES
        assert (plan.config.image_size, plan.config.channels) == (size, channels)
    # without --smoke own data takes the paper's size (FACES 256x256) and full width
    args = systems.get("cgan_faces").parser().parse_args(b.flags)
    plan = systems.get("cgan_faces").plan(args)
    assert (plan.config.image_size, plan.config.width, plan.config.n_classes) == (256, 1.0, 5)


def test_one_class_is_refused_in_one_line(tmp_path):
    (tmp_path / "labels.csv").write_text("path,expression\na.png,happy\nb.png,happy\n")
    r = _recipe("cgan_cifar10", "--data-csv", tmp_path / "labels.csv", "--smoke", "--out", tmp_path / "r",
                timeout=120)
    assert r.returncode == 2 and "label interpolation needs at least two classes" in r.stderr, r.stderr
    assert len(own_lines(r.stderr)) == 1, r.stderr


def test_vocabulary_request_and_mix_example_follow_the_run():
    faces, fashion = systems.get("cgan_faces"), systems.get("cgan_fashion_mnist")
    config = {"classes": CLASSES, "n_classes": 5}
    assert faces.vocabulary(config).names == owndata.CLASSES
    assert faces.vocabulary({}) is L.FACES                                  # the paper's runs keep theirs
    assert faces.mix_example(faces.vocabulary(config)) == "neutral=0.3,happy=0.7"
    assert faces.mix_example() == "neutral=0.3,happiness=0.7"
    assert fashion.mix_example(fashion.vocabulary(config)) == "neutral=0.5,happy=0.5"
    endpoint, inputs = faces.request(config, ["surprise", "anger"], 0.25)
    assert endpoint == "generate"
    np.testing.assert_allclose(inputs["label"], [[0.75, 0, 0, 0.25, 0], [0.75, 0, 0, 0, 0.25]])
    # without a neutral class a full emotion is a one-hot label; a partial one has nothing to mix with
    no_neutral = {"classes": ["happy", "sad", "anger"], "n_classes": 3}
    np.testing.assert_allclose(faces.request(no_neutral, ["anger"], 1.0)[1]["label"], [[0, 0, 1]])
    with pytest.raises(ValueError, match="no neutral class"):
        faces.request(no_neutral, ["anger"], 0.5)


def test_items_on_own_data_are_analogues_and_without_neutral_fig13_14_are_not_made():
    faces = systems.get("cgan_faces")
    vocab = custom.make_vocabulary(["happy", "sad", "anger"])
    args = faces.parser().parse_args(["--data-csv", "x.csv"])
    plan = Plan(False, None, {"noise_vectors": 1000}, extra={"vocabulary": vocab})
    why = "the run's classes (happy, sad, anger) have no neutral class"
    rows = {r["item"]: r for r in faces.coverage(args, plan, {"neutral_to_emotion_skipped": why})}
    assert rows["Fig. 13"]["status"] == rows["Fig. 14"]["status"] == "not reproduced"
    assert "no neutral class" in rows["Fig. 14"]["how"]
    assert rows["Fig. 11"]["status"] == "analogue" and "your own data (happy, sad, anger)" in rows["Fig. 11"]["how"]
    assert rows["Fig. 5"]["status"] == "not reproduced"                 # a Fashion-MNIST item


# ------------------------------------------------------------------ end to end: 5 classes of your own data
@pytest.fixture(scope="module")
def cgan_runs(own_runs):
    """The shared own-data runs (conftest's own_runs) of cgan_faces on the names CSV and cgan_fashion_mnist on the
    indices CSV, both evaluated: {recipe: (completed process, run directory, report)}."""
    out = {}
    for name, form in (("cgan_faces", "names"), ("cgan_fashion_mnist", "indices")):
        root, r = own_runs[(name, form)]
        out[name] = (r, root / "runs" / "own", root / "reports" / name / "own" / "report.md")
    return out


@pytest.mark.e2e
@pytest.mark.parametrize("name", ["cgan_faces", "cgan_fashion_mnist"])
def test_own_classes_reach_the_endpoints(cgan_runs, name):
    r, run_dir, _ = cgan_runs[name]
    assert r.returncode == 0, r.stderr[-4000:]
    config = json.loads((run_dir / "config.json").read_text())["config"]
    assert config["classes"] == CLASSES and config["n_classes"] == 5
    assert json.loads((run_dir / "export" / "saved_model" / "classes.json").read_text())["classes"] == CLASSES
    from tfgan_emotion.export import load_saved_model

    saved = load_saved_model(run_dir)
    spec = saved.signatures["generate"].structured_input_signature[1]
    assert spec["label"].shape.as_list() == [None, 5]
    z = np.zeros((2, config["z_dim"]), np.float32)
    out = saved.generate(z=z, label=np.full((2, 5), 0.2, np.float32))["image"].numpy()
    size, channels = (64, 3) if name == "cgan_faces" else (28, 1)
    assert out.shape == (2, size, size, channels)
    with pytest.raises(Exception):
        saved.generate(z=z, label=np.full((2, 6), 1 / 6, np.float32))     # the paper's FACES width is not it


@pytest.mark.e2e
def test_edit_mix_speaks_the_data_classes(cgan_runs, tmp_path):
    from PIL import Image

    _, run_dir, _ = cgan_runs["cgan_faces"]
    r = _cli("edit", "--run", run_dir, "--mix", "neutral=0.5,surprise=0.5", "--count", 3, "-o", tmp_path / "x.png")
    assert r.returncode == 0, r.stderr
    assert np.asarray(Image.open(tmp_path / "x.png")).shape[1] >= 3 * 64
    r = _cli("edit", "--run", run_dir, "--mix", "fear=1", "-o", tmp_path / "y.png")
    assert r.returncode == 2 and not (tmp_path / "y.png").exists()
    # one line from the command (TensorFlow's own start-up lines may come before it)
    assert r.stderr.strip().splitlines()[-1] == ("tfgan-emotion edit: --mix: 'fear' is not a class of this model; "
                                                 "classes: neutral, happy, sad, surprise, anger"), r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.e2e
def test_report_and_evaluation_name_the_data_classes(cgan_runs):
    # FACES: neutral -> each of the other four classes, one row each in the report's table
    r, run_dir, md_path = cgan_runs["cgan_faces"]
    assert r.returncode == 0, r.stderr[-4000:]
    m = json.loads((run_dir / "metrics.json").read_text())
    assert set(m["neutral_to_emotion_va"]) == {"happy", "sad", "surprise", "anger"}
    # the targeting picks among the data's circumplex emotions: happy has the highest valence, anger the highest
    # arousal (the paper's FACES picks happiness and fear; this data has no fear)
    picked = {d: {t["emotion"] for t in m["va_targeting"] if t["dimension"] == d} for d in ("valence", "arousal")}
    assert picked == {"valence": {"happy"}, "arousal": {"anger"}}
    md = md_path.read_text()
    for emotion in ("happy", "sad", "surprise", "anger"):
        assert f"\n| {emotion} |" in md, emotion
    items = {i["item"]: i for i in m["paper_items"]}
    assert items["Fig. 14"]["status"] == "analogue" and "your own data (neutral, happy, sad, surprise, anger)" in \
        items["Fig. 14"]["how"]
    # Fashion-MNIST setup: every ordered pair of the 5 classes; the per-class table names them in order
    r, run_dir, md_path = cgan_runs["cgan_fashion_mnist"]
    assert r.returncode == 0, r.stderr[-4000:]
    m = json.loads((run_dir / "metrics.json").read_text())
    assert np.asarray(m["interpolation_pairs"]["target"], float).shape == (5, 5, 11)
    assert list(m["interpolation"]["monotonic_by_source"]) == CLASSES
    md = md_path.read_text()
    assert "|  | " + " | ".join(CLASSES) + " |" in md
    assert m["classifier"]["classes"] == ", ".join(CLASSES)
    notes = json.loads((run_dir / "config.json").read_text())["notes"]
    assert any("held out by the data's split" in n or "held out by a seeded tenth" in n for n in notes)


@pytest.mark.e2e
def test_faces_without_a_neutral_class_leave_the_neutral_curves_out_and_say_so(tmp_path):
    b = owndata.build(tmp_path, "folders")
    flags = ["--data-dir", b.flags[1], "--data-format", "folders", "--classes", "happy,sad,surprise,anger"]
    r = _recipe("cgan_faces", *flags, "--smoke", "--out", tmp_path / "runs", "--run", "r",
                "--reports", tmp_path / "reports")
    assert r.returncode == 0, r.stderr[-4000:]
    run_dir = tmp_path / "runs" / "r"
    m = json.loads((run_dir / "metrics.json").read_text())
    assert "neutral_to_emotion_va" not in m and "va_targeting" not in m
    assert "no neutral class" in m["neutral_to_emotion_skipped"]
    assert any("no neutral class" in n for n in m["evaluation_notes"])
    assert set(m["va_regressor"]["table1_heldout"]) == {"valence", "arousal"}     # Table 1 is still made
    items = {i["item"]: i for i in m["paper_items"]}
    assert items["Fig. 13"]["status"] == items["Fig. 14"]["status"] == "not reproduced"
    assert not (run_dir / "figures" / "fig13_strips.png").exists()
    assert json.loads((run_dir / "export" / "saved_model" / "classes.json").read_text())["classes"] == \
        ["happy", "sad", "surprise", "anger"]
