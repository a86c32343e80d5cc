"""recipes/fexgan_ferg.py end to end with --smoke, and `tfgan-emotion edit` on its export."""
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
RECIPE = str(ROOT / "recipes" / "fexgan_ferg.py")


def _run(*args, timeout=600):
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, RECIPE, *args], capture_output=True, text=True, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def smoke_run(smoke_runs):
    """The session's shared smoke run of this recipe: (root, completed process)."""
    return smoke_runs["fexgan_ferg"]


def test_smoke_run_end_to_end(smoke_run):
    tmp, res = smoke_run
    run_dir = tmp / "runs" / "smoke-synthetic-seed0"
    assert (run_dir / "ckpt" / "ckpt-4.complete").exists()
    cfg = json.loads((run_dir / "config.json").read_text())
    c = cfg["config"]
    assert c["system"] == "fexgan" and c["batch_size"] == 32 and c["latent"] == 128
    assert {"alpha", "alpha_reduced", "alpha_cls", "beta", "gamma", "reduce_epoch", "intensity_std"} <= set(c)
    assert any("SYNTHETIC" in n for n in cfg["notes"]) and any("Shrunk" in n for n in cfg["notes"])
    # The synthetic default leaves out paper 4.1's crop + jitter (FERG-DB's default) and says so.
    assert c["augment"] == "none" and any("--augment crop-jitter adds it" in n for n in cfg["notes"])

    m = json.loads((run_dir / "metrics.json").read_text())
    for split in ("train", "val"):
        t1 = m["table1_discriminator"][split]
        assert set(t1) >= {"real_binary", "real_multi", "fake_binary", "fake_multi"}
        assert all(0.0 <= t1[k] <= 1.0 for k in ("real_binary", "real_multi", "fake_binary", "fake_multi"))
    assert set(m["transfer"]["per_affect"]) == {"anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"}
    assert 0.0 <= m["character_preservation"]["share_recognised"] <= 1.0
    assert m["augment"] == "none"
    assert {r["item"]: r["status"] for r in m["paper_items"]}["Table 1"] == "analogue"   # synthetic characters

    nets = {p.stem: keras.saving.load_model(p, safe_mode=True) for p in (run_dir / "export").glob("*.keras")}
    assert set(nets) == {"encoder", "decoder", "discriminator"}
    from tfgan_emotion.export import load_saved_model

    size = c["image_size"]
    saved = load_saved_model(run_dir)
    z = np.random.default_rng(0).standard_normal((2, 128)).astype(np.float32)
    affect = np.eye(7, dtype=np.float32)[[3, 0]]
    gen = saved.generate(z=z, affect=affect)["image"].numpy()
    np.testing.assert_allclose(gen, nets["decoder"]([z, affect]).numpy(), atol=2e-2)
    out = saved.transfer(image=np.zeros((2, size, size, 3), np.float32), affect=affect)["image"].numpy()
    assert out.shape == (2, size, size, 3) and np.abs(out).max() <= 1.0

    report_dir = tmp / "reports" / "fexgan_ferg" / "smoke-synthetic-seed0"
    md = (report_dir / "report.md").read_text()
    for fig in ("fig4_random_latents.png", "fig5_transfer.png", "fig6_mixed.png"):
        assert fig in md and (report_dir / fig).exists()
    assert "table1_discriminator" in md and (report_dir / "report.html").exists()
    assert "tfgan-emotion edit --run" in res.stderr


def test_edit_cli_transfers_a_face_by_name_mix_and_grid(smoke_run, tmp_path):
    from PIL import Image

    tmp, _ = smoke_run
    run_dir = tmp / "runs" / "smoke-synthetic-seed0"
    face = tmp_path / "face.png"
    Image.fromarray(np.full((80, 70, 3), 128, np.uint8)).save(face)
    size = json.loads((run_dir / "config.json").read_text())["config"]["image_size"]
    for affect in ("joy", "anger+sadness", "0,0,0,0.5,0.5,0,0"):
        out = editing.run_edit(run_dir, face, tmp_path / "out.png", affect=affect, log=lambda m: None)
        assert np.asarray(Image.open(out[0])).shape == (size, size, 3)
    sheet = editing.run_edit(run_dir, face, tmp_path / "grid.png", grid=True, log=lambda m: None)
    assert np.asarray(Image.open(sheet[0])).shape[1] > 7 * size
    with pytest.raises(ValueError, match="not an affect"):
        editing.run_edit(run_dir, face, tmp_path / "x.png", affect="happy", log=lambda m: None)
    with pytest.raises(ValueError, match="7"):
        editing.run_edit(run_dir, face, tmp_path / "x.png", affect="1,0", log=lambda m: None)
    with pytest.raises(ValueError, match="--affect"):
        editing.run_edit(run_dir, face, tmp_path / "x.png", log=lambda m: None)


def test_real_data_dir_without_ferg_layout_stops_clearly(tmp_path, capsys):
    from conftest import keras_policy
    from tfgan_emotion import systems

    with keras_policy("float32"):
        status = systems.main(systems.get("fexgan_ferg"), ["--data-dir", str(tmp_path), "--out",
                                                           str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert status == 2 and "FERG_DB_256" in err and "cannot read the data" in err and "Traceback" not in err


@pytest.mark.e2e
def test_reads_a_ferg_db_tree(tmp_path):
    """The real-data path: FERG_DB_256/<char>/<char>_<expr>/<char>_<expr>_<n>.png (RGBA), paired from files."""
    from PIL import Image
    from tfgan_emotion.data import labels as L
    from tfgan_emotion.data import synthetic as synth

    root = tmp_path / "FERG_DB_256"
    d = synth.make_arrays("ferg", "train", n=126, size=48, seed=0)
    counts = {}
    for img, c, e in zip(d["image"], d["character"], d["expression"]):
        char, expr = L.FERG_CHARACTERS[c], L.FERG.names[e]
        n = counts[(char, expr)] = counts.get((char, expr), 0) + 1
        rgba = np.concatenate([editing.to_uint8(img), np.full((48, 48, 1), 255, np.uint8)], -1)
        path = root / char / f"{char}_{expr}" / f"{char}_{expr}_{n}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rgba).save(path)
    res = _run("--data-dir", str(root), "--smoke", "--image-size", "32", "--width", "0.125", "--batch-size", "8",
               "--out", str(tmp_path / "runs"), "--reports", str(tmp_path / "reports"))
    assert res.returncode == 0, res.stderr[-3000:]
    run_dir = tmp_path / "runs" / "smoke-FERG_DB_256-seed0"
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["table1_discriminator"]["val"]["n"] > 0 and "character_preservation" not in m
    cfg = json.loads((run_dir / "config.json").read_text())
    assert not any("SYNTHETIC" in n for n in cfg["notes"])
    assert cfg["config"]["augment"] == m["augment"] == "crop-jitter"          # paper 4.1 on FERG-DB
