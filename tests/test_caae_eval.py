"""Paper 001 (CAAE) section IV evaluation protocol: Table II regressors, Table III/IV tables, Fig. 2 heatmaps,
Fig. 3/4 edit grids, and the synthetic-only identity preservation measure (tfgan_emotion/eval/caae.py)."""
import numpy as np
import pytest
import keras
from PIL import Image

from conftest import keras_policy
from tfgan_emotion.data import synthetic as S
from tfgan_emotion.eval import caae

SIZE = 32


class RenderEdit:
    """Oracle editor on synthetic faces: re-renders the input's person with the requested (valence, arousal)
    (synthetic.render_faces) and stamps the requested label into the top-left pixel, channels 0 and 1, so that an
    exact "regressor" can read it back."""

    def __init__(self, faces, ids):
        self.lookup = {f.tobytes(): int(i) for f, i in zip(faces, ids)}
        self.size = faces.shape[1]

    def __call__(self, x, v, a):
        ids = [self.lookup[f.tobytes()] for f in np.asarray(x, np.float32)]
        out = S.render_faces(ids, v, a, size=self.size, nuisance=False)
        out[:, 0, 0, 0] = v
        out[:, 0, 0, 1] = a
        return out


EXACT = {"valence": lambda x: x[:, 0, 0, 0], "arousal": lambda x: x[:, 0, 0, 1]}


def ignore_label(x, v, a):
    return x


@pytest.fixture(scope="module")
def faces():
    ids = np.arange(6) + 11
    rng = np.random.default_rng(3)
    img = S.render_faces(ids, rng.uniform(-0.5, 0.5, 6), rng.uniform(-0.5, 0.5, 6), size=SIZE, seed=1)
    return img, ids


def _layer_specs(model):
    out = []
    for layer in model.layers[1:]:
        cfg = layer.get_config()
        if isinstance(layer, keras.layers.Conv2D):
            out.append(("conv", cfg["filters"], tuple(cfg["kernel_size"]), tuple(cfg["strides"]), cfg["activation"]))
        elif isinstance(layer, keras.layers.MaxPooling2D):
            out.append(("pool", tuple(cfg["pool_size"]), tuple(cfg["strides"])))
        elif isinstance(layer, keras.layers.Dense):
            out.append(("fc", cfg["units"], cfg["activation"]))
        elif isinstance(layer, keras.layers.Dropout):
            out.append(("drop", cfg["rate"]))
        elif isinstance(layer, keras.layers.Activation):
            out.append(("act", cfg["activation"]))
        elif not isinstance(layer, keras.layers.Flatten):
            out.append(("unexpected", type(layer).__name__))
    return out


def _table_ii(c=(64, 128, 256, 512), f=(4096, 2622)):
    conv = lambda n: ("conv", n, (3, 3), (1, 1), "relu")
    pool = ("pool", (2, 2), (2, 2))
    return [conv(c[0]), pool, conv(c[1]), pool, conv(c[2]), conv(c[2]), pool, conv(c[3]), conv(c[3]), pool,
            ("fc", f[0], "relu"), ("drop", 0.5), ("fc", f[1], "relu"), ("drop", 0.5), ("fc", f[1], "relu"),
            ("drop", 0.5), ("fc", 1, "linear"), ("act", "tanh")]


def test_regressor_is_table_ii_at_width_1(float32_policy):
    m = caae.build_regressor(96, 3, width=1.0)
    assert _layer_specs(m) == _table_ii()
    assert m.input_shape == (None, 96, 96, 3) and m.output_shape == (None, 1)
    assert m.get_layer("flatten").output.shape[-1] == 6 * 6 * 512


def test_regressor_width_scales_and_output_is_float32_in_range():
    with keras_policy("mixed_bfloat16"):
        m = caae.build_regressor(SIZE, 3, width=0.125, seed=0)
    assert _layer_specs(m) == _table_ii((8, 16, 32, 64), (512, 328))
    y = m(np.random.default_rng(0).uniform(-1, 1, (4, SIZE, SIZE, 3)).astype(np.float32), training=False)
    assert y.dtype == "float32" and y.shape == (4, 1)
    assert np.all(np.abs(np.asarray(y)) <= 1.0)


def test_grid_labels():
    labels = caae.grid_labels()
    assert len(labels) == 49 and len(set(labels)) == 49
    assert (0.0, 0.0) in labels
    assert set(caae.EXTREME_LABELS) <= set(labels) and len(set(caae.EXTREME_LABELS)) == 4
    assert {abs(v) for lab in caae.EXTREME_LABELS for v in lab} == {0.75}
    assert labels[0] == (0.75, 0.75) and labels[6] == (0.75, -0.75) and labels[-1] == (-0.75, -0.75)
    assert sorted({v for v, _ in labels}) == sorted(caae.GRID_VALUES) == [-0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75]


def test_edit_table_oracle_is_perfect_and_label_ignoring_edit_scores_zero(faces):
    img, ids = faces
    oracle = RenderEdit(img, ids)
    t = caae.edit_table(oracle, img, EXACT, batch_size=4, log=None)
    assert t["n_faces"] == 6 and t["n_labels"] == 49
    assert t["n_images"] == 6 * 49 and t["n_extreme"] == 4 * 6
    for subset in ("all", "extreme"):
        for dim in ("valence", "arousal"):
            row = t[subset][dim]
            assert set(row) == {"rmse", "corr", "sagr", "ccc", "sagr_nonzero"}
            assert row["ccc"] == pytest.approx(1.0) and row["rmse"] == pytest.approx(0.0, abs=1e-7)
            assert row["sagr"] == 1.0
    assert [(p["valence"], p["arousal"]) for p in t["per_label"]] == caae.grid_labels()
    assert t["per_label"][0]["mean_valence"] == pytest.approx(0.75)

    # The requested and the read labels must be paired per image: reading arousal as valence is uncorrelated.
    swapped = caae.edit_table(oracle, img, {"valence": EXACT["arousal"], "arousal": EXACT["valence"]}, log=None)
    assert abs(swapped["all"]["valence"]["ccc"]) < 1e-9

    # An edit that ignores the label: what the regressors read depends on the face only, so over the full grid
    # of labels it has exactly zero covariance with the requested label.
    mean_pixel = lambda x: np.asarray(x).mean(axis=(1, 2, 3))
    flat = caae.edit_table(ignore_label, img, {"valence": mean_pixel, "arousal": mean_pixel}, log=None)
    for subset in ("all", "extreme"):
        for dim in ("valence", "arousal"):
            assert abs(flat[subset][dim]["ccc"]) < 1e-9
            assert flat[subset][dim]["rmse"] > 0.1


def stamp_label(x, v, a):
    """Writes the requested (valence, arousal) into the top-left pixel, channels 0 and 1."""
    out = np.array(x, np.float32)
    out[:, 0, 0, 0], out[:, 0, 0, 1] = v, a
    return out


def test_sagr_over_nonzero_labels_and_the_report_says_how_zero_labels_count(tmp_path):
    """Readings with the sign of every non-zero requested label, and a small real value (never exactly 0) for the
    labels at 0: SAGR over all 49 labels is 42/49 per dimension (a requested 0 cannot sign-match), SAGR over the
    non-zero labels 1.0; the report shows the explanation beside Table IV."""
    import json

    from tfgan_emotion import paths
    from tfgan_emotion.report import write_report

    faces = np.zeros((3, 16, 16, 3), np.float32)
    near = {"valence": lambda x: 0.5 * x[:, 0, 0, 0] + 0.01, "arousal": lambda x: 0.5 * x[:, 0, 0, 1] - 0.01}
    t = caae.edit_table(stamp_label, faces, near, log=None)
    for dim in ("valence", "arousal"):
        assert t["all"][dim]["sagr"] == pytest.approx(42 / 49)
        assert t["all"][dim]["sagr_nonzero"] == 1.0
        assert t["extreme"][dim]["sagr"] == t["extreme"][dim]["sagr_nonzero"] == 1.0
    assert "42/49 = 0.857" in t["sagr_zero_labels"] and "sign(0) = 0" in t["sagr_zero_labels"]

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / paths.CONFIG).write_text(json.dumps({"recipe": "caae_affectnet", "run": "r", "config": {}}))
    (run_dir / paths.METRICS).write_text(json.dumps({"step": 1, "table4_edits": t}))
    md = write_report(run_dir, tmp_path / "reports").read_text()
    table4 = md.split("### table4_edits", 1)[1].split("\n### ", 1)[0]
    assert "sagr_nonzero" in table4
    assert "| sagr_zero_labels |" in table4 and "SAGR over all labels is at most valence 42/49 = 0.857" in table4


def region_edit(x, v, a):
    """Adds the valence to the top half of the image and the arousal to the left half."""
    out = np.array(x, np.float32)
    h, w = out.shape[1:3]
    out[:, :h // 2] += np.asarray(v)[:, None, None, None]
    out[:, :, :w // 2] += np.asarray(a)[:, None, None, None]
    return out


def test_heatmaps(faces, tmp_path):
    img, _ = faces
    zero = caae.heatmaps(ignore_label, img)
    assert zero.shape == (7, 7, SIZE, SIZE) and not zero.any()

    maps = caae.heatmaps(region_edit, img, batch_size=4)
    h = SIZE // 2
    assert not maps[3, 3].any()                                    # neutral reference
    assert maps.max() == pytest.approx(1.0)                        # global normalisation
    assert np.allclose(maps[0, 0, :h, :h], 1.0)                    # (+.75, +.75): |.75| + |.75| = the maximum
    top, left = maps[0, 3], maps[3, 0]                             # (valence .75, arousal 0), (0, .75)
    assert np.allclose(top[:h], 0.5) and not top[h:].any()         # rows: valence from +.75 at the top
    assert np.allclose(left[:, :h], 0.5) and not left[:, h:].any() # columns: arousal from +.75 at the left
    assert np.allclose(maps[1, 3, :h], 0.5 / 1.5)                  # weaker label, darker cell
    assert np.allclose(maps[6, 3, :h], 0.5)                        # |difference|: low valence lights up too
    raw = caae.heatmaps(region_edit, img, normalise="none")
    assert np.allclose(raw[0, 0, :h, :h], 1.5 / 2)                 # mean max-channel difference, [0, 1] units
    per_label = caae.heatmaps(region_edit, img, normalise="label")
    assert np.allclose(per_label[1, 3, :h], 1.0)

    path = caae.save_heatmap_sheet(maps, tmp_path / "figures" / "heatmaps.png")
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size[0] > 300 and im.size[1] > 300
    with pytest.raises(ValueError):
        caae.save_heatmap_sheet(maps[:5], tmp_path / "bad.png")


def test_edit_grids_are_written(tmp_path):
    ids = np.arange(25) + 100
    img = S.render_faces(ids, 0.0, 0.0, size=SIZE, seed=2)
    oracle = RenderEdit(img, ids)
    p3 = caae.save_edit_grid(oracle, img[0], tmp_path / "figures" / "edit_grid.png")
    p4 = caae.save_faces_grid(oracle, img, None, tmp_path / "figures" / "faces_grid.png")
    p4b = caae.save_faces_grid(oracle, img[:3], [(1.0, 0.0), (0.0, 1.0), (-1.0, -1.0)], tmp_path / "three.png")
    for p in (p3, p4, p4b):
        with Image.open(p) as im:
            assert im.format == "PNG" and im.size[0] > 100
    assert len(caae.fig3_labels()) == 25 and caae.fig3_labels()[0] == (1.0, 1.0)
    with pytest.raises(ValueError, match="one label per face"):
        caae.save_faces_grid(oracle, img[:4], None, tmp_path / "bad.png")


def _uniform_faces(n, id_base, n_ids, seed):
    """Synthetic faces with (valence, arousal) uniform over [-1, 1]^2, canonical pose."""
    rng = np.random.default_rng(seed)
    v, a = rng.uniform(-1, 1, (2, n)).astype(np.float32)
    ids = id_base + rng.integers(0, n_ids, n)
    return S.render_faces(ids, v, a, size=SIZE, seed=seed, nuisance=False), np.stack([v, a], 1)


@pytest.mark.e2e
def test_train_regressors_learn_valence_on_held_out_identities():
    # Held-out identities: the ids of the evaluation faces are disjoint from the training ids (as the val/test
    # splits of synthetic.make_arrays). lr 1e-2 instead of the paper's 1e-3 so that a few hundred steps suffice
    # (valence first sits on a plateau at the label median; at 1e-3 it does not leave it within a unit test).
    x, va = _uniform_faces(2000, 0, 200, seed=0)
    xv, vav = _uniform_faces(300, 1_000_000, 30, seed=1)
    lines = []
    regs = caae.train_regressors(x, va, steps=500, batch_size=64, width=0.125, lr=1e-2, seed=0,
                                 val=(xv, vav), log=lines.append)
    assert set(regs) == {"valence", "arousal"} and regs["valence"] is not regs["arousal"]
    assert any("ETA" in line for line in lines) and any("held-out valence" in line for line in lines)
    table = caae.regressor_table(regs, xv, {"valence": vav[:, 0], "arousal": vav[:, 1]})
    print("held-out regressor table:", table)
    assert table["valence"]["ccc"] > 0.5
    assert table["arousal"]["ccc"] > 0.5
    assert all(isinstance(val, float) for row in table.values() for val in row.values())


def test_train_regressors_take_a_stream_from_disk():
    """The regressors train from an unbatched tf.data stream of dicts (a reader's training split) as they do from
    arrays; other keys of the stream are ignored."""
    import tensorflow as tf

    x, va = _uniform_faces(10, 0, 5, seed=2)
    stream = tf.data.Dataset.from_tensor_slices({"image": x, "valence": va[:, 0], "arousal": va[:, 1],
                                                 "z_prior": np.zeros((10, 3), np.float32)})
    lines = []
    regs = caae.train_regressors(stream, None, steps=2, batch_size=4, width=0.125, seed=0, log=lines.append)
    assert regs["valence"].input_shape == (None, SIZE, SIZE, 3)
    assert any("faces streamed from disk" in line for line in lines)
    with pytest.raises(ValueError, match="train_va must be None"):
        caae.train_regressors(stream, va, steps=1)


def test_identity_preservation(tmp_path):
    ids = np.repeat(np.arange(6) + 40, 12)
    rng = np.random.default_rng(5)
    img = S.render_faces(ids, rng.uniform(-1, 1, len(ids)), rng.uniform(-1, 1, len(ids)), size=SIZE, seed=5)
    clf = caae.train_identity_classifier(img, ids, steps=120, batch_size=32, width=0.5, seed=0, log=None)
    assert clf.class_ids == tuple(range(40, 46))
    # Premise: the classifier is perfect on its training faces.
    edit_faces, edit_ids = img[::13], ids[::13]   # one face of each identity; neighbours differ in identity
    assert len(set(edit_ids.tolist())) == 6
    same = caae.identity_preservation(ignore_label, edit_faces, edit_ids, clf)
    assert same["share_unedited"] == 1.0 and same["share_recognised"] == 1.0
    assert same["n_images"] == 6 * 49 and len(same["per_label"]) == 49

    swap = lambda x, v, a: np.roll(x, 1, axis=0)
    swapped = caae.identity_preservation(swap, edit_faces, edit_ids, clf, labels=caae.EXTREME_LABELS)
    assert swapped["share_recognised"] == 0.0 and swapped["share_unedited"] == 1.0

    # The protocol: an edit that keeps the person and changes the expression, on other images of the training
    # identities, is still recognised.
    oracle = RenderEdit(edit_faces, edit_ids)
    kept = caae.identity_preservation(oracle, edit_faces, edit_ids, clf, labels=caae.EXTREME_LABELS)
    assert kept["share_recognised"] >= 0.75

    # Frechet distance of edits to real faces: a faithful re-render is near the real-vs-real floor, noise is far.
    real = img[1::2]
    fd_oracle = caae.edit_frechet_distance(oracle, edit_faces, real, clf, labels=caae.EXTREME_LABELS, log=None)
    noise = lambda x, v, a: np.random.default_rng(0).uniform(-1, 1, x.shape).astype(np.float32)
    fd_noise = caae.edit_frechet_distance(noise, edit_faces, real, clf, labels=caae.EXTREME_LABELS, log=None)
    assert fd_oracle["n_edited"] == 6 * len(caae.EXTREME_LABELS) and fd_oracle["n_real"] == len(real)
    assert fd_noise["value"] > 5 * fd_oracle["value"]
    assert fd_oracle["real_vs_real"] == fd_noise["real_vs_real"] >= 0


def test_evaluate_edits_each_face_once_per_label_and_matches_the_measures_taken_apart(faces, tmp_path, monkeypatch):
    """Table IV and the Fig. 2 heatmaps share one pass of edits of the evaluation faces, identity preservation and
    the Frechet distance one pass of the probe faces; every number equals the one the separate function gives."""
    img, ids = faces
    probe_ids = np.arange(4) + 11
    probe = {"image": S.render_faces(probe_ids, np.zeros(4), np.zeros(4), size=SIZE, seed=9), "identity": probe_ids}
    clf = caae.train_identity_classifier(img, ids, steps=6, batch_size=6, width=0.25, seed=0, log=None)
    edited = []

    def stamped_region_edit(x, v, a):
        edited.append(len(x))
        out = region_edit(x, v, a)
        out[:, 0, 0, 0], out[:, 0, 0, 1] = v, a
        return out

    monkeypatch.setattr(caae, "train_regressors", lambda *a, **k: EXACT)
    monkeypatch.setattr(caae, "train_identity_classifier", lambda *a, **k: clf)
    sheets = []
    draw = caae.save_heatmap_sheet
    monkeypatch.setattr(caae, "save_heatmap_sheet", lambda maps, path, title=None: (sheets.append(maps),
                                                                                      draw(maps, path, title))[1])
    rng = np.random.default_rng(4)
    held = {"image": img, "valence": rng.uniform(-1, 1, 6), "arousal": rng.uniform(-1, 1, 6)}
    ev = {"eval_faces": 6, "regressor_steps": 1, "regressor_width": 0.125, "regressor_lr": 1e-2,
          "identity_steps": 1}
    m = caae.evaluate(stamped_region_edit, held, {**held, "identity": ids}, ev, tmp_path, identity_probe=probe,
                      fd_real=img, log=lambda line: None)
    # 6 evaluation and 4 probe faces to 49 labels once each, one face to the 25 labels of Fig. 3, 6 faces of Fig. 4.
    assert sum(edited) == 6 * 49 + 4 * 49 + 25 + 6
    edited.clear()
    assert m["table4_edits"] == caae.edit_table(stamped_region_edit, img, EXACT, log=None)
    assert m["table4_edits"]["all"]["valence"]["ccc"] == pytest.approx(1.0)
    assert np.array_equal(sheets[0], caae.heatmaps(stamped_region_edit, img, log=None))
    assert m["fig2_heatmaps"]["n_faces"] == 6 and sheets[0][0, 0].max() > 0
    assert m["identity_preservation"] == caae.identity_preservation(stamped_region_edit, probe["image"], probe_ids,
                                                                    clf, log=None)
    assert m["frechet_distance"] == caae.edit_frechet_distance(stamped_region_edit, probe["image"], img, clf,
                                                               log=None)
    assert m["frechet_distance"]["n_edited"] == 4 * 49
