"""Built-in synthetic faces (tfgan_emotion.data.synthetic) and the circumplex binning in data/labels.py."""
import numpy as np
import pytest

from tfgan_emotion.data import labels as L
from tfgan_emotion.data import synthetic as S

RUSSELL_ANGLES = {"happy": 8.0, "surprise": 70.0, "anger": 99.0, "fear": 117.0, "sad": 208.0}


def _ccc(x, y):
    """Concordance correlation coefficient with population variances: 2 cov / (vx + vy + (mx - my)^2)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    mx, my = x.mean(), y.mean()
    cov = ((x - mx) * (y - my)).mean()
    return 2 * cov / (x.var() + y.var() + (mx - my) ** 2)


# --- package layout ---------------------------------------------------------------------------------------------
def test_package_re_exports_every_public_name_of_its_modules():
    """``synthetic`` is a package of three modules (renderer, stand-ins, file writers); every public name defined in
    them is importable from the package itself, and is the same object."""
    import ast
    import inspect

    from tfgan_emotion.data.synthetic import renderer, standins, writers

    homes = {}
    for mod in (renderer, standins, writers):
        for node in ast.parse(inspect.getsource(mod)).body:
            targets = node.targets if isinstance(node, ast.Assign) else [node]
            for target in targets:
                name = getattr(target, "id", getattr(target, "name", None))
                if name and not name.startswith("_"):
                    homes[name] = mod
    assert {"render_faces", "make_arrays", "write_affwild2_frames", "write_affectnet_files"} <= set(homes)
    assert sorted(S.__all__) == sorted(homes)
    for name, mod in homes.items():
        assert getattr(S, name) is getattr(mod, name), name


# --- renderer ---------------------------------------------------------------------------------------------------

def test_same_seed_same_pixels_different_seed_different():
    ids, v, a = np.arange(6), np.linspace(-0.8, 0.8, 6), np.linspace(0.7, -0.7, 6)
    x1 = S.render_faces(ids, v, a, size=64, seed=3)
    x2 = S.render_faces(ids, v, a, size=64, seed=3)
    x3 = S.render_faces(ids, v, a, size=64, seed=4)
    assert np.array_equal(x1, x2)
    assert np.abs(x1 - x3).mean() > 0.01
    # Without nuisance there is nothing random left: the seed does not matter and there is no pixel noise.
    c1 = S.render_faces(ids, v, a, size=64, seed=3, nuisance=False)
    c2 = S.render_faces(ids, v, a, size=64, seed=4, nuisance=False)
    assert np.array_equal(c1, c2)
    assert np.abs(np.diff(c1[:, 2:6, 2:6], axis=2)).max() < 1e-4  # background rows are flat: no noise


@pytest.mark.parametrize("size,channels", [(28, 1), (28, 3), (48, 1), (96, 3), (131, 3), (256, 1)])
def test_render_shapes_dtype_range(size, channels):
    x = S.render_faces([0, 1, 2], [0.5, -0.5, 0.0], [0.5, 0.2, -0.9], size=size, channels=channels)
    assert x.shape == (3, size, size, channels) and x.dtype == np.float32
    assert x.min() >= -1.0 and x.max() <= 1.0 and x.std() > 0.1


def test_render_rejects_bad_arguments():
    with pytest.raises(ValueError):
        S.render_faces([0], [0.0], [0.0], size=27)
    with pytest.raises(ValueError):
        S.render_faces([0], [0.0], [0.0], size=257)
    with pytest.raises(ValueError):
        S.render_faces([0], [0.0], [0.0], channels=2)
    with pytest.raises(ValueError):
        S.render_faces([0], [0.0], [0.0], style="nobody")


def test_at_least_500_distinct_identities():
    n = 600
    p = S.identity_params(np.arange(n))
    cols = []
    for k in S.IDENTITY_FIELDS:
        col = p[k].reshape(n, -1)
        cols.append((col - col.mean(0)) / (col.std(0) + 1e-6))
    params = np.concatenate(cols, axis=1)
    d2 = (params ** 2).sum(1)[:, None] + (params ** 2).sum(1)[None] - 2 * params @ params.T
    np.fill_diagonal(d2, np.inf)
    assert np.sqrt(max(d2.min(), 0.0)) > 0.5, "two identities share (almost) the same parameters"
    # Rendered neutral faces in the canonical pose differ visibly between every pair of identities.
    img = S.render_faces(np.arange(n), 0.0, 0.0, size=48, nuisance=False).reshape(n, -1).astype(np.float64)
    d2 = (img ** 2).sum(1)[:, None] + (img ** 2).sum(1)[None] - 2 * img @ img.T
    np.fill_diagonal(d2, np.inf)
    rms = np.sqrt(np.maximum(d2.min(), 0.0) / img.shape[1])
    assert rms > 0.05, f"closest pair of neutral faces differs by only {rms:.3f} RMS"
    # Identity is a function of the id alone.
    q = S.identity_params(np.arange(n)[::-1])
    assert all(np.array_equal(p[k], q[k][::-1]) for k in S.IDENTITY_FIELDS)


def _brow_window(ident, size):
    """Pixel rows/cols of the brow region of faces rendered without nuisance: from well above the brows down to
    just above the widest-open upper eyelid, so the eyes themselves are excluded (face units / synthetic._ZOOM)."""
    p = S.identity_params(ident)
    to_row = lambda y: int(round((y / S._ZOOM + 1.0) * size / 2))
    top = to_row(float(p["eye_y"].min()) - 0.42)
    bottom = to_row(float(p["eye_y"].min()) - 0.12)
    half = float((p["eye_dx"] + 1.4 * p["eye_w"]).max())
    return slice(top, bottom), slice(to_row(-half), to_row(half))


def test_anger_and_fear_differ_in_the_brows():
    ids = np.arange(20)
    size = 96
    r = 0.9
    pt = lambda deg: (r * np.cos(np.radians(deg)), r * np.sin(np.radians(deg)))
    v_ang, a_ang = pt(L.CIRCUMPLEX_DEGREES["anger"])
    v_ang2, a_ang2 = pt(L.CIRCUMPLEX_DEGREES["anger"] - 4.0)
    v_fear, a_fear = pt(L.CIRCUMPLEX_DEGREES["fear"])
    # Valence/arousal alone barely separate them (18 degrees apart): the brow accent must do it.
    f_ang, f_fear = S.expression_features(v_ang, a_ang), S.expression_features(v_fear, a_fear)
    assert f_ang["brow_raise"][0] < -0.2 and f_fear["brow_raise"][0] > 0.5       # lowered vs raised
    assert f_ang["brow_inner"][0] < -0.5 and f_fear["brow_inner"][0] > 0.5       # inner ends down vs up
    anger = S.render_faces(ids, v_ang, a_ang, size=size, nuisance=False)
    anger2 = S.render_faces(ids, v_ang2, a_ang2, size=size, nuisance=False)
    fear = S.render_faces(ids, v_fear, a_fear, size=size, nuisance=False)
    rows, cols = _brow_window(ids, size)
    brow_diff = np.abs(anger - fear)[:, rows, cols].mean((1, 2, 3))
    within_anger = np.abs(anger - anger2)[:, rows, cols].mean((1, 2, 3))
    assert brow_diff.min() > 0.05, brow_diff                        # every identity
    assert brow_diff.mean() > 10 * within_anger.mean(), (brow_diff.mean(), within_anger.mean())


def test_expression_is_smooth_in_valence_arousal():
    # Around the circle, the largest change over a step shrinks in proportion to the step: no jumps anywhere.
    for r in (0.3, 0.7, 1.0):
        coarse = S.expression_features(r * np.cos(np.radians(np.arange(0, 360, 0.1))),
                                       r * np.sin(np.radians(np.arange(0, 360, 0.1))))
        fine = S.expression_features(r * np.cos(np.radians(np.arange(0, 360, 0.01))),
                                     r * np.sin(np.radians(np.arange(0, 360, 0.01))))
        for k in S.EXPRESSION_FEATURES:
            step_coarse, step_fine = np.abs(np.diff(coarse[k])).max(), np.abs(np.diff(fine[k])).max()
            assert step_coarse < 0.05 and step_fine < 0.15 * step_coarse + 1e-6, (k, r, step_coarse, step_fine)
    theta = np.radians(np.linspace(0, 360, 3601))
    w = S.accent_weights(np.cos(theta), np.sin(theta))
    assert np.allclose(w.sum(1), 1.0) and w.min() >= 0.0
    # Continuous at the origin: every feature vanishes at the neutral point.
    f0 = S.expression_features(np.array([0.0, 1e-4]), np.array([0.0, -1e-4]))
    assert all(np.abs(v).max() < 1e-3 for v in f0.values())
    # Paper 001 IV.D directions: valence raises the mouth corners, arousal opens the eyes.
    # Paper 001 IV.D, over the whole disc: valence pulls the mouth corners up, forms the wrinkle under the eyes
    # and (low) raises the inner brows and lower lids; arousal opens the eyes and mouth, raises and arches the brows
    # and the upper lip.
    rng = np.random.default_rng(0)
    rad, th = np.sqrt(rng.uniform(0, 1, 5000)), rng.uniform(0, 2 * np.pi, 5000)
    v, a = rad * np.cos(th), rad * np.sin(th)
    f = S.expression_features(v, a)
    corr = lambda k, y: np.corrcoef(f[k], y)[0, 1]
    for k in ("smile", "cheek"):
        assert corr(k, v) > 0.7, k
    for k in ("brow_inner", "lower_lid"):
        assert corr(k, -v) > 0.3, k
    for k in ("eye_open", "brow_raise", "brow_arch"):
        assert corr(k, a) > 0.7, k
    for k in ("open", "lip_raise"):
        assert corr(k, a) > 0.5, k


# --- circumplex binning (labels.py) -----------------------------------------------------------------------------

def test_circumplex_table_and_binning():
    for name, deg in RUSSELL_ANGLES.items():
        assert L.CIRCUMPLEX_DEGREES[name] == deg
    voc = L.AFFECTNET
    for name, deg in L.CIRCUMPLEX_DEGREES.items():
        for r in (0.21, 0.5, 1.0):
            v, a = r * np.cos(np.radians(deg)), r * np.sin(np.radians(deg))
            assert L.category_from_va(v, a, voc) == voc.index(name), (name, r)
        for r in (0.0, 0.05, 0.19):
            v, a = r * np.cos(np.radians(deg)), r * np.sin(np.radians(deg))
            assert L.category_from_va(v, a, "affectnet") == voc.index("neutral")
    # Each vocabulary bins into its own classes and order (no contempt in fer2013: it goes to a neighbour).
    for voc in (L.FER2013, L.FERG, L.FACES, L.AFFWILD2, L.GANMUT):
        idx, deg, neutral = L.circumplex_table(voc)
        assert neutral == voc.index("neutral")
        got = L.category_from_va(np.cos(np.radians(deg)), np.sin(np.radians(deg)), voc)
        assert np.array_equal(got, idx)
    assert L.category_from_va(-np.cos(np.radians(10)), -np.sin(np.radians(10)), "fer2013") == L.FER2013.index("sad")
    with pytest.raises(ValueError):
        L.category_from_va(0.5, 0.5, "cifar10")


def test_va_from_category_round_trip():
    rng = np.random.default_rng(0)
    for voc in (L.AFFECTNET, L.FER2013, L.FERG, L.FACES, L.AFFWILD2):
        idx, _, neutral = L.circumplex_table(voc)
        cls = rng.choice(np.append(idx, neutral), 2000)
        v, a = L.va_from_category(cls, voc, rng.uniform(0.2, 1.0, cls.size), rng, angle_jitter=90.0,
                                  neutral_jitter=1.0)
        assert v.dtype == np.float32 and np.all(np.hypot(v, a) <= 1.0 + 1e-6)
        assert np.array_equal(L.category_from_va(v, a, voc), cls)
    v, a = L.va_from_category([L.AFFECTNET.index("happy")], "affectnet")
    assert np.allclose([v[0], a[0]], [np.cos(np.radians(8)), np.sin(np.radians(8))], atol=1e-6)
    with pytest.raises(ValueError):
        L.va_from_category([8], "affectnet")                       # "none" is not on the circumplex
    with pytest.raises(ValueError):
        L.va_from_category([1], "affectnet", intensity=0.1)        # too weak: would be neutral


# --- stand-ins ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(S.STANDINS))
def test_standin_shapes_dtypes_ranges(kind):
    spec = S.STANDINS[kind]
    n = 12 if spec.size >= 128 else 40
    d = S.make_arrays(kind, "val", n=n)
    assert tuple(d) == spec.fields
    img = d["image"]
    assert img.shape == (n, spec.size, spec.size, spec.channels) and img.dtype == np.float32
    assert img.min() >= -1.0 and img.max() <= 1.0
    voc = L.vocabulary(spec.vocabulary)
    e = d["expression"]
    assert e.dtype == np.int32 and e.shape == (n,)
    assert e.max() < len(voc) and e.min() >= (-1 if kind == "affwild2" else 0)
    for k in ("valence", "arousal"):
        if k in d:
            assert d[k].dtype == np.float32 and np.abs(d[k]).max() <= 1.0
    assert d["identity"].dtype == np.int32
    if kind in ("affectnet", "fer2013"):
        assert e.max() < (8 if kind == "affectnet" else 7)
    d2 = S.make_arrays(kind, "val", n=n)
    assert all(np.array_equal(d[k], d2[k]) for k in d)
    d3 = S.make_arrays(kind, "val", n=n, seed=1)
    assert not np.array_equal(d["image"], d3["image"])


def test_standin_size_override_and_labels_are_binned_va():
    d = S.make_arrays("affectnet", "train", n=400, size=40)
    assert d["image"].shape == (400, 40, 40, 3)
    assert np.array_equal(d["expression"], L.category_from_va(d["valence"], d["arousal"], "affectnet"))
    assert np.bincount(d["expression"], minlength=8).min() == 50      # balanced over the 8 emotions


def test_affectnet_plane_labels_cover_the_square_and_stay_binned():
    d = S.make_arrays("affectnet", "train", n=2000, size=32, va="plane")
    v, a = d["valence"], d["arousal"]
    assert np.array_equal(d["expression"], L.category_from_va(v, a, "affectnet"))
    # Every cell of a 4x4 grid over [-1, 1]^2 is populated (about 125 each), the class clusters leave corners empty.
    counts = np.histogram2d(v, a, bins=4, range=[[-1, 1], [-1, 1]])[0]
    assert counts.min() > 80
    classes = S.make_arrays("affectnet", "train", n=2000, size=32)
    assert np.histogram2d(classes["valence"], classes["arousal"], bins=4, range=[[-1, 1], [-1, 1]])[0].min() < 20
    # Same labels and identities whatever the size; the default stays the class-balanced draw.
    assert np.array_equal(S.make_arrays("affectnet", "train", n=2000, size=28, va="plane")["valence"], v)
    with pytest.raises(ValueError, match="va must be one of"):
        S.make_arrays("affectnet", "train", n=4, va="disc")
    with pytest.raises(ValueError, match="affectnet stand-in only"):
        S.make_arrays("fer2013", "train", n=4, va="plane")


@pytest.mark.parametrize("kind", [k for k in S.STANDINS if k != "ferg"])
def test_validation_and_test_identities_are_held_out(kind):
    ids = {s: set(S._plan(kind, s, None, 0)["labels"]["identity"].tolist()) for s in S.SPLITS}
    assert not ids["train"] & ids["val"] and not ids["train"] & ids["test"] and not ids["val"] & ids["test"]
    assert len(ids["train"]) == S.STANDINS[kind].identities["train"]


def test_ferg_characters_and_expressions():
    d = S.make_arrays("ferg", "train", n=84, size=48)
    assert np.array_equal(d["character"], d["identity"])
    combos = np.bincount(d["character"] * 7 + d["expression"], minlength=42)
    assert combos.min() == 2                                          # every character shows every expression
    means = np.stack([d["image"][d["character"] == c].mean(0).ravel() for c in range(6)])
    dist = np.sqrt(((means[:, None] - means[None]) ** 2).mean(-1))
    assert dist[~np.eye(6, dtype=bool)].min() > 0.15                   # strongly distinct styles
    val = S.make_arrays("ferg", "val", n=42, size=48)
    assert set(val["character"].tolist()) == set(range(6))


def test_faces_standin_studio_look():
    p = S.identity_params(np.arange(50), style="faces")
    assert np.ptp(p["bg"], axis=0).max() == 0 and np.ptp(p["shirt"], axis=0).max() == 0
    d = S.make_arrays("faces", "train", n=24, size=64)
    assert np.array_equal(d["identity"], np.repeat([0, 1], 12))
    assert np.array_equal(d["expression"][:12], np.repeat(np.arange(6), 2))


def test_ten_class_standins_are_expression_prototypes():
    for kind in ("fashion_mnist", "cifar10"):
        d = S.make_arrays(kind, "train", n=200)
        assert np.bincount(d["expression"], minlength=10).tolist() == [20] * 10
    assert len(S.PROTOTYPES_10) == 10
    degs = [deg for _, deg in S.PROTOTYPES_10]
    assert min(np.diff(sorted(degs) + [degs[0] + 360])) >= 18


def test_affwild2_sequences_drift_smoothly_with_ignored_frames():
    d = S.make_arrays("affwild2", "train", n=8 * S.AFFWILD2_FRAMES, size=48)
    video, frame = d["video"], d["frame"]
    assert np.array_equal(frame, np.tile(np.arange(S.AFFWILD2_FRAMES), 8))
    assert np.array_equal(video, np.repeat(np.arange(8), S.AFFWILD2_FRAMES))
    same = video[1:] == video[:-1]
    assert np.abs(np.diff(d["valence"]))[same].max() < 0.15
    assert np.abs(np.diff(d["arousal"]))[same].max() < 0.15
    ignored = d["expression"] == -1
    assert 0 < ignored.mean() < 0.3
    ok = ~ignored
    assert np.array_equal(d["expression"][ok], L.category_from_va(d["valence"][ok], d["arousal"][ok], "affwild2"))
    assert len(set(d["expression"][ok].tolist())) >= 4                # the expression actually drifts
    img = d["image"].reshape(len(video), -1)
    step = np.abs(np.diff(img, axis=0)).mean(1)[same].mean()
    other = np.abs(img[: S.AFFWILD2_FRAMES] - img[S.AFFWILD2_FRAMES: 2 * S.AFFWILD2_FRAMES]).mean()
    assert step < 0.5 * other
    assert len(set(d["identity"].tolist())) == 8


def test_make_dataset_matches_make_arrays():
    import tensorflow as tf

    ds = S.make_dataset("affwild2", "val", n=70, size=32)
    spec = ds.element_spec
    assert spec["image"].shape == (32, 32, 3) and spec["image"].dtype == tf.float32
    assert spec["expression"].dtype == tf.int32 and spec["valence"].dtype == tf.float32
    got = list(ds.as_numpy_iterator())
    ref = S.make_arrays("affwild2", "val", n=70, size=32)
    assert len(got) == 70
    for k in S.STANDINS["affwild2"].fields:
        assert np.array_equal(np.stack([g[k] for g in got]), ref[k]), k


# --- learnability -------------------------------------------------------------------------------------------------

@pytest.mark.e2e
def test_small_cnn_reads_valence_arousal_and_category_of_unseen_identities():
    """A small CNN trained for a few hundred steps on 48 px AffectNet-like faces predicts valence, arousal
    (CCC >= 0.9 each) and the 8-class expression (accuracy >= 0.9) of held-out identities."""
    import keras

    size, steps, batch = 48, 700, 64
    train = S.make_arrays("affectnet", "train", n=9000, size=size, seed=1)
    val = S.make_arrays("affectnet", "val", n=800, size=size, seed=2)
    assert not set(train["identity"].tolist()) & set(val["identity"].tolist())

    keras.utils.set_random_seed(0)
    inp = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(24, 5, strides=2, padding="same", activation="relu")(inp)
    x = keras.layers.Conv2D(48, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(96, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Dense(128, activation="relu")(keras.layers.Flatten()(x))
    model = keras.Model(inp, [keras.layers.Dense(2)(x), keras.layers.Dense(8)(x)])
    model.compile(keras.optimizers.Adam(2e-3), loss_weights=[10.0, 1.0],
                  loss=["mse", keras.losses.SparseCategoricalCrossentropy(from_logits=True)])
    y_va = np.stack([train["valence"], train["arousal"]], 1)
    epochs = round(steps * batch / len(y_va))
    model.fit(train["image"], [y_va, train["expression"]], batch_size=batch, epochs=epochs, verbose=0)
    va, logits = model.predict(val["image"], batch_size=200, verbose=0)
    ccc_v, ccc_a = _ccc(va[:, 0], val["valence"]), _ccc(va[:, 1], val["arousal"])
    acc = (logits.argmax(1) == val["expression"]).mean()
    assert ccc_v >= 0.9 and ccc_a >= 0.9 and acc >= 0.9, (ccc_v, ccc_a, acc)
