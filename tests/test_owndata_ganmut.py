"""GANmut on your own data: the networks sized from the data's classes, neutral required as class 0, and the data's
class names (not GANmut's 7) in the evaluation, the exported endpoints, the Python API and the report."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import owndata
from tfgan_emotion import systems
from tfgan_emotion.data import labels as L
from conftest import own_lines  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RECIPE = str(ROOT / "recipes" / "ganmut_affwild2.py")
SYSTEM = systems.get("ganmut_affwild2")
FIVE = owndata.CLASSES          # neutral, happy, sad, surprise, anger


@pytest.fixture(scope="module")
def names_data(tmp_path_factory):
    return owndata.build(tmp_path_factory.mktemp("ganmut-own"), "names")


@pytest.fixture(scope="module")
def indices_data(tmp_path_factory):
    return owndata.build(tmp_path_factory.mktemp("ganmut-own-idx"), "indices")


def _plan(flags):
    return SYSTEM.plan(SYSTEM.parser().parse_args(list(flags)))


def _replace_classes(flags, classes):
    flags = list(flags)
    flags[flags.index("--classes") + 1] = ",".join(classes)
    return flags


# ------------------------------------------------------------------ the plan: sizes and refusals (no image read)
def test_plan_sizes_the_networks_from_the_data(names_data):
    plan = _plan(names_data.flags + ["--smoke"])
    assert plan.config.n_classes == 5 and plan.extra["vocabulary"].names == FIVE
    # own data keeps the paper's sizes outside --smoke
    full = _plan(names_data.flags + ["--steps", "3"])
    assert (full.config.image_size, full.config.width, full.config.n_classes) == (128, 1.0, 5)
    # the published and synthetic paths keep GANmut's 7 classes
    assert _plan(["--smoke"]).config.n_classes == 7


def test_neutral_elsewhere_or_missing_is_one_clear_error(indices_data, names_data):
    moved = ("happy", "neutral", "sad", "surprise", "anger")
    with pytest.raises(ValueError, match="neutral class must come first.*--classes neutral,happy,sad,surprise,anger"):
        _plan(_replace_classes(indices_data.flags, moved))
    with pytest.raises(ValueError, match="GANmut needs a neutral class"):
        _plan(names_data.flags + ["--classes", "happy,sad,surprise,anger"])
    r = subprocess.run([sys.executable, RECIPE, *_replace_classes(indices_data.flags, moved), "--smoke", "--out",
                        str(Path(indices_data.flags[1]).parent / "runs")], capture_output=True, text=True,
                       timeout=300, cwd=ROOT)
    assert r.returncode == 2, r.stderr
    assert len(own_lines(r.stderr)) == 1 and "neutral class must come first" in r.stderr, r.stderr


@pytest.mark.parametrize("flag", [["--combined", "."], ["--crops-dir", "x"], ["--detector", "retinaface"]])
def test_crop_building_flags_are_refused_on_own_data(names_data, flag):
    with pytest.raises(ValueError, match=f"{flag[0]} builds the paper's Aff-Wild2 face crops"):
        _plan(names_data.flags + flag)


def test_requests_and_vocabulary_follow_the_run():
    own = {"classes": list(FIVE), "n_classes": 5}
    assert SYSTEM.vocabulary({}) is L.GANMUT
    assert SYSTEM.vocabulary(own).names == FIVE
    endpoint, inputs = SYSTEM.request(own, ["neutral", "surprise", "anger"], 0.5)
    assert endpoint == "edit_emotion" and inputs["emotion"].tolist() == [0, 3, 4]
    assert inputs["rho"].tolist() == [0.0, 0.5, 0.5]
    assert SYSTEM.request({}, ["anger"], 1.0)[1]["emotion"].tolist() == [6]      # GANmut's own order
    with pytest.raises(ValueError, match="no class 'fear': its classes are neutral, happy, sad, surprise, anger"):
        SYSTEM.request(own, ["fear"], 1.0)


def test_classifier_data_is_read_in_the_run_classes(indices_data, monkeypatch):
    """--classifier-data on an own-data run: a CSV is read in the run's classes; an AffectNet root's 7 GANmut
    classes are matched to them by emotion name (fear and disgust, which the run lacks, left out)."""
    from tfgan_emotion.data import crops, custom, pipeline

    vocab = custom.make_vocabulary(FIVE)
    scan = SYSTEM._own_classifier_scan(indices_data.flags[1], "train", vocab)
    # read as the published classifier sets are (image headers only): the truncated image is left to the guard
    assert sorted(np.unique(scan.labels["expression"]).tolist()) == [0, 1, 2, 3, 4] and len(scan) == 21
    assert np.bincount(scan.labels["expression"]).tolist() == [5, 4, 4, 4, 4]
    with pytest.raises(FileNotFoundError, match="no split column"):
        SYSTEM._own_classifier_scan(indices_data.flags[1], "validation", vocab)
    seven = np.arange(7, dtype=np.int32)
    fake = pipeline.Scan(pipeline.ReadSummary("affectnet", None, "x"), {"expression": seven},
                         paths=np.array([f"{k}.png" for k in seven]), boxes=np.zeros((7, 4), np.int64))
    monkeypatch.setattr(crops, "labelled_scan", lambda path, split: fake)
    mapped = SYSTEM._own_classifier_scan(Path(indices_data.flags[1]).parent, "train", vocab)
    assert mapped.labels["expression"].tolist() == [0, 1, 2, 3, 4]            # anger (GANmut 6) is class 4 here
    assert mapped.paths.tolist() == ["0.png", "1.png", "2.png", "3.png", "6.png"]


# ------------------------------------------------------------------ a whole run on a 5-class dataset
@pytest.fixture(scope="module")
def own_run(own_runs):
    """The shared own-data run of GANmut on the names CSV (conftest's own_runs): (run directory, reports folder)."""
    root, r = own_runs[("ganmut_affwild2", "names")]
    assert r.returncode == 0, r.stderr[-4000:]
    return root / "runs" / "own", root / "reports"


@pytest.mark.e2e
def test_own_run_networks_and_evaluation_use_the_data_classes(own_run):
    run_dir, _ = own_run
    config = json.loads((run_dir / "config.json").read_text())["config"]
    assert config["n_classes"] == 5 and config["classes"] == list(FIVE)
    m = json.loads((run_dir / "metrics.json").read_text())
    assert set(m["directions_degrees"]) == set(FIVE[1:])
    for name in ("vgg16", "resnet50"):
        assert list(m["classifiers"][name]["smoothness"]["per_emotion"]) == list(FIVE[1:])
    assert list(m["classifier_set"]["per_class"]) == list(FIVE)
    assert m["classifier_set"]["source"] == "gan_training_crops"
    assert list(m["data"]["label_distribution"]["your data (training part)"]) == list(FIVE)
    held = m["data"]["held_out"]
    assert held["held_out"] == 5 and held["train"] == 15          # one face of each class held out
    assert m["generated_faces"] == 5 * (m["eval_faces"] // 5)
    items = {row["item"]: row for row in m["paper_items"]}
    assert items["Fig. 6"]["status"] == "not reproduced" and "your own data" in items["Table I"]["how"]
    notes = " ".join(m.get("evaluation_notes", []))
    assert "training part of your data" in notes


@pytest.mark.e2e
def test_own_run_endpoints_and_api_edit_the_data_classes(own_run):
    import tfgan_emotion as tfe
    from tfgan_emotion.export import load_saved_model

    run_dir, _ = own_run
    assert json.loads((run_dir / "export" / "saved_model" / "classes.json").read_text())["classes"] == list(FIVE)
    saved = load_saved_model(run_dir)
    face = np.zeros((5, 64, 64, 3), np.float32)
    face[:, 16:48, 16:48] = 0.5
    out = saved.edit_emotion(image=face, emotion=np.arange(5, dtype=np.int32),
                             rho=np.ones(5, np.float32))["image"].numpy()
    assert out.shape == (5, 64, 64, 3) and np.isfinite(out).all()
    # each of the 5 classes is its own edit: the 4 emotions' directions differ from neutral (rho is 1 for all)
    assert all(np.abs(out[k] - out[0]).max() > 0 for k in range(1, 5))
    model = tfe.load(run_dir)
    assert model.vocabulary.names == FIVE
    by_name = model.edit_emotion(face[:1], emotion="surprise", rho=1.0)
    # the same edit as the batch's "surprise" row: equal up to the convolution kernels' summation order, which
    # oneDNN picks per batch size (1 here, 5 above), and farther from every other class's edit
    np.testing.assert_allclose(by_name[0], out[3], atol=1e-4)
    gaps = [np.abs(by_name[0] - out[k]).max() for k in range(5)]
    assert int(np.argmin(gaps)) == 3 and min(g for k, g in enumerate(gaps) if k != 3) > 1e-4, gaps
    with pytest.raises((KeyError, ValueError), match="fear.*neutral, happy, sad, surprise, anger"):
        model.edit_emotion(face[:1], emotion="fear", rho=1.0)
    # `tfgan-emotion edit` addresses the classes by name too
    cfg = json.loads((run_dir / "config.json").read_text())["config"]
    nets = saved
    edit = SYSTEM.editor(cfg, nets, {"emotion": "surprise", "rho": 1.0})
    assert edit(face[0]).shape == (64, 64, 3)
    # --grid: the input and the 5 classes in one row (image_grid pads 2 pixels)
    assert SYSTEM.editor(cfg, nets, {"grid": True})(face[0]).shape == (64 + 4, 6 * (64 + 2) + 2, 3)
    with pytest.raises(ValueError, match="'fear' is not a label of this model; choose from neutral, happy"):
        SYSTEM.editor(cfg, nets, {"emotion": "fear", "rho": 1.0})


@pytest.mark.e2e
def test_own_run_report_names_the_data_classes(own_run):
    _, reports = own_run
    [md] = list(reports.rglob("report.md"))
    text = md.read_text().lower()
    for name in FIVE:
        assert name in text, name
    assert "fear" not in text and "disgust" not in text
