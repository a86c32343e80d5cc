"""recipes/ganmut_affwild2.py end to end with --smoke (synthetic Aff-Wild2-like frames -> MTCNN crops -> GANmut ->
section-VI evaluation -> export -> report), resume, and `tfgan-emotion edit` on its export."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import keras
import pytest

import tfgan_emotion.nets  # noqa: F401  (registers the custom layers)
from tfgan_emotion import editing

ROOT = Path(__file__).resolve().parent.parent
RECIPE = str(ROOT / "recipes" / "ganmut_affwild2.py")


def _run(*args, timeout=900):
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, RECIPE, *args], capture_output=True, text=True, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def smoke_run(smoke_runs):
    """The session's shared smoke run of this recipe: (root, completed process)."""
    return smoke_runs["ganmut_affwild2"]



def _close_in_bf16(a, b):
    """The SavedModel endpoint and the .keras generator on the same input: equal up to bf16 rounding (auto precision
    on an AMX CPU), which through GANmut's 6 residual blocks reaches a few hundredths on single pixels."""
    diff = np.abs(np.asarray(a) - np.asarray(b))
    assert diff.mean() < 1e-2 and diff.max() < 0.1, (diff.mean(), diff.max())

def test_smoke_run_end_to_end(smoke_run):
    tmp, res = smoke_run
    run_dir = tmp / "runs" / "smoke-synthetic-seed0"
    assert (run_dir / "ckpt" / "ckpt-2.complete").exists()
    cfg = json.loads((run_dir / "config.json").read_text())
    c = cfg["config"]
    assert c["system"] == "ganmut" and c["batch_size"] == 16 and c["n_critic"] == 5 and c["lambda_gp"] == 10
    assert any("SYNTHETIC" in n for n in cfg["notes"]) and any("ImageNet" in n for n in cfg["notes"])

    crops = run_dir / "crops" / f"mtcnn-{c['image_size']}"
    summary = json.loads((crops / "train" / "summary.json").read_text())
    assert summary["detector"] == "mtcnn" and summary["kept"] > 0
    assert (crops / "train" / "crops.csv").exists() and (crops / "validation" / "crops.csv").exists()
    # the detector's rule and the doubtful crops are stated in the run's notes and listed apart
    assert summary["rule"] == "checked" and summary["clean"] + len(
        (crops / "train" / "suspicious.csv").read_text().splitlines()[1:]) == summary["kept"]
    assert any(n.startswith("Face crops: mtcnn keeping the checked rule") and f"train {summary['kept']} crops" in n
               for n in cfg["notes"])

    m = json.loads((run_dir / "metrics.json").read_text())
    for name in ("vgg16", "resnet50"):
        s = m["classifiers"][name]
        assert {"f1_real", "f1_generated", "fed", "smoothness", "pretrained"} <= set(s)
        assert 0 <= s["f1_real"] <= 1 and 0 <= s["f1_generated"] <= 1 and s["fed"] >= 0
        assert set(s["smoothness"]["per_emotion"]) == {"happy", "sad", "surprise", "fear", "disgust", "anger"}
        assert np.asarray(s["smoothness"]["curves"]).shape == (6, 10)
        assert s["pretrained"] is False
    d = m["discriminator"]
    assert 0 <= d["f1_real"] <= 1 and 0 <= d["f1_average"] <= 1
    assert d["real_images"] == "the GAN's training images through the training augmentation"
    assert {"rising", "emotions", "rule"} <= set(m["classifiers"]["vgg16"]["smoothness"])
    # the classifiers' own set: the synthetic AffectNet-like people, balanced, never the GAN's crops
    assert m["classifier_set"]["source"] == "synthetic" and m["classifier_set"]["images"] == 70
    assert set(m["classifier_set"]["per_class"].values()) == {10}
    assert any("separate SYNTHETIC AffectNet-like set" in n for n in m.get("evaluation_notes", []))
    assert list(m["data"]["label_distribution"]) == ["Aff-Wild2"]
    assert sum(m["data"]["label_distribution"]["Aff-Wild2"].values()) == summary["kept"]
    assert len(m["paper_items"]) == 15 and {i["status"] for i in m["paper_items"]} <= {"analogue", "not reproduced"}
    assert set(m["directions_degrees"]) == {"happy", "sad", "surprise", "fear", "disgust", "anger"}

    nets = {p.stem: keras.saving.load_model(p, safe_mode=True) for p in (run_dir / "export").glob("*.keras")}
    assert set(nets) == {"generator", "discriminator", "conditional_space"}
    from tfgan_emotion.export import load_saved_model

    size = c["image_size"]
    saved = load_saved_model(run_dir)
    x = np.random.default_rng(0).uniform(-1, 1, (2, size, size, 3)).astype(np.float32)
    theta, rho = np.array([0.3, 2.0], np.float32), np.array([0.5, 1.0], np.float32)
    out = saved.edit(image=x, theta=theta, rho=rho)["image"].numpy()
    z = np.stack([rho * np.cos(theta), rho * np.sin(theta)], -1)
    _close_in_bf16(out, nets["generator"]([x, z]).numpy())
    emo = saved.edit_emotion(image=x, emotion=np.array([1, 0], np.int32), rho=rho)["image"].numpy()
    z_emo = nets["conditional_space"]([np.array([1, 0], np.int32), rho[:, None]]).numpy()
    assert np.allclose(z_emo[1], 0) and np.isclose(np.linalg.norm(z_emo[0]), 0.5, atol=1e-5)
    _close_in_bf16(emo, nets["generator"]([x, z_emo]).numpy())

    report_dir = tmp / "reports" / "ganmut_affwild2" / "smoke-synthetic-seed0"
    md = (report_dir / "report.md").read_text()
    for fig in ("fig6_face_crops.png", "fig8_emotion_distribution.png", "fig9_intensity.png",
                "fig10_sample_sheet.png", "directions.png", "gamut.png", "smoothness_vgg16.png",
                "smoothness_resnet50.png"):
        assert fig in md and (report_dir / fig).exists()
    assert "learned directions" in res.stderr and "tfgan-emotion edit --run" in res.stderr


@pytest.mark.e2e
def test_rerun_resumes_and_reuses_the_crops(smoke_run, tmp_path):
    import shutil

    tmp, _ = smoke_run
    shutil.copytree(tmp / "runs" / "smoke-synthetic-seed0", tmp_path / "runs" / "smoke-synthetic-seed0")
    res = _run("--smoke", "--steps", "3", "--skip-eval", "--out", str(tmp_path / "runs"), "--reports",
               str(tmp_path / "reports"))
    assert res.returncode == 0, res.stderr[-3000:]
    assert "resumed from" in res.stderr and "reus" in res.stderr
    assert (tmp_path / "runs" / "smoke-synthetic-seed0" / "ckpt" / "ckpt-3.complete").exists()


def test_edit_cli_by_angle_by_emotion_and_grid(smoke_run, tmp_path):
    from PIL import Image

    tmp, _ = smoke_run
    run_dir = tmp / "runs" / "smoke-synthetic-seed0"
    face = tmp_path / "face.png"
    Image.fromarray(np.full((80, 70, 3), 128, np.uint8)).save(face)
    size = json.loads((run_dir / "config.json").read_text())["config"]["image_size"]
    for kwargs in (dict(theta=1.2, rho=0.7), dict(emotion="happy", rho=0.5)):
        out = editing.run_edit(run_dir, face, tmp_path / "out.png", log=lambda m: None, **kwargs)
        assert np.asarray(Image.open(out[0])).shape == (size, size, 3)
    grid = editing.run_edit(run_dir, face, tmp_path / "grid.png", grid=True, log=lambda m: None)
    assert np.asarray(Image.open(grid[0])).shape[1] > 7 * size
    for bad, match in ((dict(rho=0.5), "--theta"), (dict(theta=1.0), "--rho"),
                       (dict(emotion="joyful", rho=0.5), "joyful"), (dict(theta=1.0, rho=3.0), "outside")):
        with pytest.raises(ValueError, match=match):
            editing.run_edit(run_dir, face, tmp_path / "x.png", log=lambda m: None, **bad)


def test_retinaface_without_weights_and_missing_data_are_clear_errors(tmp_path, capsys):
    from tfgan_emotion import systems

    ganmut = systems.get("ganmut_affwild2")
    assert systems.main(ganmut, ["--smoke", "--detector", "retinaface", "--out", str(tmp_path)]) == 2
    assert "--detector-weights" in capsys.readouterr().err
    assert systems.main(ganmut, ["--smoke", "--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path),
                                 "--reports", str(tmp_path / "reports")]) == 2
    assert "nowhere" in capsys.readouterr().err
