"""recipes/caae_affectnet.py end to end with --smoke, as a user runs it."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import keras

import tfgan_emotion.nets  # noqa: F401  (registers the custom layers, as the README says)

ROOT = Path(__file__).resolve().parent.parent
RECIPE = str(ROOT / "recipes" / "caae_affectnet.py")


def _run(*args, timeout=600):
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, RECIPE, *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout)


def test_smoke_run_end_to_end(smoke_runs):
    root, res = smoke_runs["caae_affectnet"]
    run_dir = root / "runs" / "smoke-synthetic-seed0"
    assert (run_dir / "ckpt" / "ckpt-4.complete").exists()
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["config"]["label_concat"] == "every" and cfg["config"]["batch_size"] == 49
    assert any("SYNTHETIC" in n for n in cfg["notes"]) and any("--smoke" in n for n in cfg["notes"])

    m = json.loads((run_dir / "metrics.json").read_text())
    for dim in ("valence", "arousal"):
        assert set(m["table3_regressors"][dim]) >= {"rmse", "sagr", "ccc", "corr"}
        for subset in ("all", "extreme"):
            assert set(m["table4_edits"][subset][dim]) >= {"rmse", "sagr", "ccc", "corr"}
    assert m["table4_edits"]["n_images"] == 4 * 49 and m["table4_edits"]["n_extreme"] == 4 * 4
    assert 0.0 <= m["identity_preservation"]["share_recognised"] <= 1.0

    nets = {p.stem: keras.saving.load_model(p, safe_mode=True) for p in (run_dir / "export").glob("*.keras")}
    assert set(nets) == {"encoder", "generator", "d_img", "d_z"}
    from tfgan_emotion.export import load_saved_model

    size = cfg["config"]["image_size"]
    x = np.zeros((2, size, size, 3), np.float32)
    saved = load_saved_model(run_dir)  # keep a reference: its variables live as long as the loaded object
    out = saved.edit(image=x, valence=np.array([0.5, -0.5], np.float32),
                     arousal=np.array([0.0, 0.5], np.float32))["image"].numpy()
    z = nets["encoder"](x)
    direct = nets["generator"]([z, keras.ops.convert_to_tensor([[0.5, 0.0], [-0.5, 0.5]])]).numpy()
    np.testing.assert_allclose(out, direct, atol=2e-2)  # bf16 compute on CPUs with native bf16

    report_dir = root / "reports" / "caae_affectnet" / "smoke-synthetic-seed0"
    md = (report_dir / "report.md").read_text()
    for fig in ("fig2_heatmaps.png", "fig3_edit_grid.png", "fig4_faces_grid.png", "loss_curves.png"):
        assert fig in md and (report_dir / fig).exists()
    assert "table4_edits" in md and (report_dir / "report.html").exists()
    assert "tfgan-emotion edit --run" in res.stderr


@pytest.mark.e2e
def test_rerunning_the_command_resumes_the_run(smoke_runs, tmp_path):
    """Re-running the command resumes the same run (a copy: the shared run stays as it is); --skip-eval may change."""
    import shutil

    run_dir = smoke_runs.run_dir("caae_affectnet")
    shutil.copytree(run_dir, tmp_path / "runs" / run_dir.name)
    again = _run("--smoke", "--skip-eval", "--out", tmp_path / "runs", "--reports", tmp_path / "reports")
    assert again.returncode == 0 and "nothing to train" in again.stderr


def test_real_data_without_vggface_weights_stops_clearly(tmp_path, capsys):
    from conftest import keras_policy
    from tfgan_emotion import systems

    (tmp_path / "Manually_Annotated_file_lists").mkdir()
    with keras_policy("float32"):
        status = systems.main(systems.get("caae_affectnet"), ["--data-dir", str(tmp_path), "--out",
                                                              str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert status == 2 and "--vggface-weights" in err and "--identity-net random" in err
    assert "Traceback" not in err and not (tmp_path / "runs").exists()
