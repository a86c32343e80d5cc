"""recipes/cgan_{fashion_mnist,cifar10,faces}.py end to end with --smoke, the real-data path, and edit --mix."""
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
from test_readers import idx_bytes

ROOT = Path(__file__).resolve().parent.parent


def _run(dataset, *args, timeout=900):
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, str(ROOT / "recipes" / f"cgan_{dataset}.py"), *args], capture_output=True,
                          text=True, env=env, timeout=timeout)


@pytest.mark.parametrize("dataset,figures,size,channels", [
    pytest.param("fashion_mnist", ("fig7_confidence.png", "fig_monotonicity.png", "fig5_strips.png"), 28, 1,
                 marks=pytest.mark.e2e),      # EfficientNet-B0 reads every class pair: the longest smoke evaluation
    pytest.param("cifar10", ("fig7_confidence.png", "fig_monotonicity.png", "fig5_strips.png"), 32, 3,
                 marks=pytest.mark.e2e),      # the same system as Fashion-MNIST on another stand-in
    ("faces", ("fig14_valence_arousal.png", "fig13_strips.png"), 64, 3),
])
def test_smoke_run_end_to_end(dataset, figures, size, channels, smoke_runs, tmp_path):
    root, res = smoke_runs[f"cgan_{dataset}"]
    assert res.returncode == 0, res.stderr[-3000:]
    run_dir = root / "runs" / "smoke-synthetic-seed0"
    assert (run_dir / "ckpt" / "ckpt-4.complete").exists()
    cfg = json.loads((run_dir / "config.json").read_text())["config"]
    assert cfg["system"] == "cgan" and cfg["dataset"] == dataset and cfg["image_size"] == size
    m = json.loads((run_dir / "metrics.json").read_text())
    if dataset == "faces":
        assert set(m["neutral_to_emotion_va"]) == {"fear", "anger", "sadness", "disgust", "happiness"}
        assert all(len(c["valence"]) == 11 for c in m["neutral_to_emotion_va"].values())
        assert set(m["va_regressor"]["table1_heldout"]["valence"]) >= {"rmse", "corr", "sagr", "ccc"}
        assert {t["emotion"] for t in m["va_targeting"] if t["dimension"] == "valence"} == {"happiness"}
        # Without --va-data the regressor is the built-in faces' stand-in: the notes and the item table say so.
        notes = json.loads((run_dir / "config.json").read_text())["notes"]
        assert any("no --va-data" in n and "SYNTHETIC faces" in n for n in notes)
        assert m["va_regressor"]["trained_on"] == "synthetic AffectNet-like faces"
        assert m["va_curve_noise"].startswith("independent per emotion")
        items = {r["item"]: r for r in m["paper_items"]}
        assert items["Table 1"]["status"] == "analogue" and "no --va-data" in items["Table 1"]["how"]
        assert items["Fig. 7"]["status"] == "not reproduced"
    else:
        assert 0.0 <= m["classifier"]["heldout_accuracy"] <= 1.0
        assert len(m["interpolation"]["mean_target"]) == 11 and 0 <= m["interpolation"]["monotonic_share"] <= 1
        assert np.asarray(m["interpolation_pairs"]["target"], float).shape == (10, 10, 11)
        assert m["interpolation"]["noise_sets"].startswith("independent per ordered class pair")
    nets = {p.stem: keras.saving.load_model(p, safe_mode=True) for p in (run_dir / "export").glob("*.keras")}
    assert set(nets) == {"generator", "discriminator"}
    from tfgan_emotion.export import load_saved_model

    saved = load_saved_model(run_dir)
    n = cfg["n_classes"]
    z = np.random.default_rng(0).uniform(-1, 1, (2, 100)).astype(np.float32)
    label = np.full((2, n), 1.0 / n, np.float32)
    out = saved.generate(z=z, label=label)["image"].numpy()
    np.testing.assert_allclose(out, nets["generator"]([z, label]).numpy(), atol=2e-2)
    assert out.shape == (2, size, size, channels)
    report_dir = root / "reports" / f"cgan_{dataset}" / "smoke-synthetic-seed0"
    md = (report_dir / "report.md").read_text()
    for fig in figures:
        assert fig in md and (report_dir / fig).exists()
    if dataset == "faces":
        from PIL import Image

        path = editing.run_mix(run_dir, tmp_path / "mix.png", "neutral=0.3,happiness=0.7", n=4, log=lambda m: None)
        assert np.asarray(Image.open(path)).shape[1] > 4 * size
        with pytest.raises(ValueError, match="sum to 1"):
            editing.run_mix(run_dir, tmp_path / "mix.png", "neutral=0.3,happiness=0.3", log=lambda m: None)


@pytest.mark.e2e
def test_reads_fashion_mnist_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "fmnist"
    root.mkdir()
    for prefix, n in (("train", 96), ("t10k", 20)):
        (root / f"{prefix}-images-idx3-ubyte").write_bytes(idx_bytes(rng.integers(0, 256, (n, 28, 28)), 0x803))
        (root / f"{prefix}-labels-idx1-ubyte").write_bytes(idx_bytes(np.arange(n) % 10, 0x801))
    res = _run("fashion_mnist", "--data-dir", str(root), "--smoke", "--width", "0.125", "--skip-eval",
               "--out", str(tmp_path / "r"), "--reports", str(tmp_path / "rep"))
    assert res.returncode == 0, res.stderr[-3000:]
    run_dir = tmp_path / "r" / "smoke-fmnist-seed0"
    assert (run_dir / "ckpt" / "ckpt-4.complete").exists() and (run_dir / "export" / "generator.keras").exists()
    assert not any("SYNTHETIC" in n for n in json.loads((run_dir / "config.json").read_text())["notes"])


def test_missing_data_stops_clearly(tmp_path):
    res = _run("cifar10", "--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r"), timeout=120)
    assert res.returncode == 2 and "nowhere: no such folder" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "r").exists()
