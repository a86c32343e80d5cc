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
    fd = m["frechet_distance"]
    assert fd["n_edited"] == 4 * 49 and fd["n_real"] == 64 and fd["value"] >= 0 and fd["real_vs_real"] >= 0
    # The synthetic default trains in float32 whatever --precision auto would pick on this hardware, and says so.
    assert cfg["runtime"]["precision"] == "float32" and "synthetic default" in cfg["runtime"]["precision_reason"]

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


# ---------------------------------------------------------------------------------------------------------------
# The paper's evaluation on real data (paper 001 IV), run in-process on a tiny AffectNet tree with stand-ins for the
# trained networks: what the Table II regressors are trained on, which faces Fig. 2 sums, and what the run notes.
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def affectnet_tree(tmp_path_factory):
    from tfgan_emotion.data.synthetic import write_affectnet_files

    root = tmp_path_factory.mktemp("affectnet")
    write_affectnet_files(root, 6, seed=1, frame_size=48, face_size=32, split="validation")
    write_affectnet_files(root, 20, seed=0, frame_size=48, face_size=32, split="train")
    return root


def _evaluate_on_real_data(tree, tmp_path, monkeypatch, *flags):
    """CAAESystem.evaluate on the tree at 16x16 with an identity edit; the regressor training, the separate Fig. 2
    heatmaps (of --fig2-faces) and the figure files are replaced by recorders. Returns (what train_regressors
    received, with the heatmap sheets drawn under "sheets"; the faces of separate Fig. 2 heatmaps; the run's notes;
    metrics; paper items by name)."""
    from types import SimpleNamespace

    import tensorflow as tf
    from tfgan_emotion import systems
    from tfgan_emotion.eval import caae as E

    s = systems.get("caae_affectnet")
    args = s.parser().parse_args(["--data-dir", str(tree), "--identity-net", "none", "--image-size", "16",
                                  "--eval-faces", "4", "--out", str(tmp_path / "runs"), *map(str, flags)])
    s.check_files(args)
    plan = s.plan(args)
    data = s.load_data(args, plan, tmp_path / "run", lambda m: None)
    s.finalize(args, plan, data)
    assert data.arrays is None     # nothing of the training split is held in memory for the evaluation

    seen, fig2 = {}, []

    def train_regressors(images, va, steps, **kw):
        seen.update(images=images, va=va, steps=steps, **kw)
        return {"valence": lambda x: x[:, 0, 0, 0], "arousal": lambda x: x[:, 0, 0, 1]}

    monkeypatch.setattr(E, "train_regressors", train_regressors)
    monkeypatch.setattr(E, "heatmaps", lambda fn, faces, **kw: fig2.append(faces) or np.zeros((7, 7, 16, 16)))
    monkeypatch.setattr(E, "save_heatmap_sheet", lambda maps, path, **kw: seen.setdefault("sheets", []).append(maps))
    for name in ("save_edit_grid", "save_faces_grid"):
        monkeypatch.setattr(E, name, lambda *a, **k: None)
    notes = []
    r = SimpleNamespace(dir=tmp_path / "run", args=args, note=notes.append)
    model = SimpleNamespace(edit=lambda x, v, a: tf.convert_to_tensor(x))
    metrics = s.evaluate(r, model, plan, data, lambda m: None)
    items = {row["item"]: row for row in s.coverage(args, plan, metrics)}
    return seen, fig2, notes, metrics, items


def test_real_data_regressors_stream_the_whole_training_split(affectnet_tree, tmp_path, monkeypatch):
    import tensorflow as tf
    from tfgan_emotion.data import affectnet
    from tfgan_emotion.eval import caae as E

    seen, fig2, notes, metrics, items = _evaluate_on_real_data(affectnet_tree, tmp_path, monkeypatch)
    split = affectnet.scan(affectnet_tree, "train").labels
    n = len(split["valence"])
    assert n == 20
    assert isinstance(seen["images"], tf.data.Dataset) and seen["va"] is None
    one_pass = list(seen["images"].take(n).as_numpy_iterator())
    assert one_pass[0]["image"].shape == (16, 16, 3)
    np.testing.assert_allclose(sorted(e["valence"] for e in one_pass), sorted(split["valence"]))
    assert seen["steps"] == E.regressor_steps({"regressor_steps": None}, n) and seen["lr"] == 1e-3
    t3 = metrics["table3_regressors"]
    assert t3["regressor_data"] == "streamed from disk" and t3["regressor_images"] == n
    assert any(f"whole AffectNet training split streamed from disk ({n} images)" in note for note in notes)
    assert items["Table II"]["status"] == "reproduced"
    # Fig. 2 without --fig2-faces: the evaluation faces, noted, and an analogue of the paper's figure.
    # Its sums come from Table IV's edits of the same faces, not from a second pass of edits.
    assert not fig2 and metrics["fig2_heatmaps"]["n_faces"] == 4
    assert len(seen["sheets"]) == 1 and seen["sheets"][0].shape == (7, 7, 16, 16)
    assert any(n.startswith("Fig. 2 heatmaps from the first 4 AffectNet validation faces") and "--fig2-faces" in n
               for n in notes)
    assert items["Fig. 2"]["status"] == "analogue" and "--fig2-faces" in items["Fig. 2"]["how"]
    assert items["Table IV"]["status"] == "analogue"    # 4 faces, not 4,500


def test_real_data_regressor_images_is_the_noted_in_memory_variant(affectnet_tree, tmp_path, monkeypatch):
    seen, _, notes, metrics, items = _evaluate_on_real_data(affectnet_tree, tmp_path, monkeypatch,
                                                            "--regressor-images", 8)
    assert isinstance(seen["images"], np.ndarray) and seen["images"].shape == (8, 16, 16, 3)
    assert metrics["table3_regressors"]["regressor_data"] == "held in memory"
    assert any("CHEAPER VARIANT (--regressor-images 8)" in n for n in notes)
    for item in ("Table II", "Table III", "Table IV"):
        assert items[item]["status"] == "analogue" and "--regressor-images" in items[item]["how"]


def test_fig2_faces_reads_the_folder(affectnet_tree, tmp_path, monkeypatch):
    from PIL import Image
    from tfgan_emotion.systems.base import UsageError
    from tfgan_emotion import systems

    folder = tmp_path / "frontal"
    folder.mkdir()
    Image.new("RGB", (40, 30), (255, 255, 255)).save(folder / "2.png")
    Image.new("L", (20, 20), 0).save(folder / "10.jpg")
    Image.new("RGB", (25, 25), (255, 0, 0)).save(folder / "1.jpeg")
    (folder / "11.jpg").write_bytes(b"not an image")
    (folder / "notes.txt").write_text("ignored")
    _, fig2, notes, metrics, items = _evaluate_on_real_data(affectnet_tree, tmp_path, monkeypatch,
                                                            "--fig2-faces", folder)
    faces = fig2[0]
    assert faces.shape == (3, 16, 16, 3)                      # resized to the run's size, grey made RGB
    # Natural name order: 1.jpeg (red), 2.png (white), 10.jpg (black); JPEG is lossy.
    np.testing.assert_allclose(faces[0, ..., 0], 1.0, atol=0.05)
    np.testing.assert_allclose(faces[0, ..., 1], -1.0, atol=0.05)
    np.testing.assert_allclose(faces[1], 1.0)
    np.testing.assert_allclose(faces[2], -1.0, atol=0.05)
    assert metrics["fig2_heatmaps"]["n_faces"] == 3 and "--fig2-faces" in metrics["fig2_heatmaps"]["faces"]
    note = next(n for n in notes if n.startswith("Fig. 2 heatmaps"))
    assert "(--fig2-faces)" in note and "3 faces where the paper used 200" in note and "1 unreadable" in note
    assert items["Fig. 2"]["status"] == "analogue" and "3 faces (paper 200)" in items["Fig. 2"]["how"]

    empty = tmp_path / "empty"
    empty.mkdir()
    s = systems.get("caae_affectnet")
    with pytest.raises(UsageError, match="holds no images"):
        s.check_files(s.parser().parse_args(["--fig2-faces", str(empty)]))
