"""Label-interpolation cGAN (paper 000; SPECS): condition vectors, networks, and the paper's effect on a tiny
2-class stand-in."""
import numpy as np
import pytest
import tensorflow as tf
import keras

from tfgan_emotion import conditioning as C
from tfgan_emotion import training
from tfgan_emotion.data import labels as L
from tfgan_emotion.data import synthetic as synth
from tfgan_emotion.eval import common
from tfgan_emotion.gans.cgan import CGAN, CGANConfig
from tfgan_emotion.nets import cgan as N


def test_interpolation_keeps_the_sum_and_hits_both_ends():
    v = C.interpolate(2, 7, 10)
    assert v.shape == (11, 10)
    np.testing.assert_allclose(v.sum(1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(v[0], np.eye(10)[2])
    np.testing.assert_array_equal(v[-1], np.eye(10)[7])
    np.testing.assert_allclose(v[:, 7], np.linspace(0, 1, 11), atol=1e-6)   # e in steps of 0.1
    assert np.all(v[:, [i for i in range(10) if i not in (2, 7)]] == 0)
    f = C.neutral_to_emotion(5, 6)
    np.testing.assert_allclose(f[:, 0] + f[:, 5], 1.0, atol=1e-6)          # v_neutral + v_emotion = 1
    with pytest.raises(ValueError):
        C.interpolate(0, 10, 10)


def test_va_targeting_picks_the_emotion_that_maximises_the_dimension():
    v, emotion, w = C.va_target("valence", 0.5)
    assert emotion == "happiness" and 0.45 < w < 0.55                      # paper 5.1: Happy for valence
    assert np.isclose(v[L.FACES.names.index("neutral")], 1 - w) and np.isclose(v.sum(), 1)
    _, emotion, _ = C.va_target("arousal", 0.8)
    assert emotion == "anger"                                              # paper 5.1: Angry for arousal
    _, emotion, _ = C.va_target("valence", -0.6)
    assert emotion == "sadness"
    v, _, w = C.va_target("arousal", 0.0)
    assert w == 0 and v[0] == 1.0
    with pytest.raises(ValueError):
        C.va_target("dominance", 0.5)


def test_parse_mix():
    v = C.parse_mix("neutral=0.3,happiness=0.7", L.FACES.names)
    np.testing.assert_allclose(v, [0.3, 0, 0, 0, 0, 0.7])
    for bad, msg in (("neutral=0.3,happiness=0.5", "sum to 1"), ("joy=1", "not a class"), ("neutral", "NAME=")):
        with pytest.raises(ValueError, match=msg):
            C.parse_mix(bad, L.FACES.names)


@pytest.mark.parametrize("size,channels,n", [(28, 1, 10), (32, 3, 10), (256, 3, 6)])
def test_networks_take_non_binary_labels_and_have_the_documented_shapes(size, channels, n, float32_policy):
    nets = N.build(size, channels, n, width=0.125 if size == 256 else 0.25)
    g, d = nets["generator"], nets["discriminator"]
    s0 = N.ARCHS[size][0]
    assert g.get_layer("g_reshape").output.shape[1:3] == (s0, s0)
    assert d.get_layer("d_concat").output.shape[-1] == channels + n            # label tiled as a map
    assert d.get_layer(f"d_conv{len(N.ARCHS[size][2])}").output.shape[1] == s0
    v = tf.constant(np.stack([C.interpolate(0, 1, n)[5], np.eye(n)[n - 1]]).astype(np.float32))
    img = g([tf.random.uniform([2, 100], -1, 1), v], training=False).numpy()
    assert img.shape == (2, size, size, channels) and np.abs(img).max() <= 1.0
    assert d([tf.constant(img), v], training=False).shape == (2, 1)
    with pytest.raises(ValueError, match="image_size"):
        N.build(48, 3, n)


@pytest.mark.e2e
def test_interpolating_moves_the_classifier_towards_the_target_class(float32_policy):
    """The paper's effect, asserted: a cGAN trained briefly on two classes, queried along the 11 interpolation
    steps, makes an independent classifier's target-class confidence rise from the first to the last step."""
    keras.utils.set_random_seed(0)
    d = synth.make_arrays("fashion_mnist", "train", n=2000, size=28, seed=0)
    keep = np.isin(d["expression"], (1, 7))                   # trouser vs sneaker: two clearly different shapes
    images, labels = d["image"][keep], (d["expression"][keep] == 7).astype(np.int32)
    ds = tf.data.Dataset.from_tensor_slices({"image": images, "expression": labels}).shuffle(len(images), seed=0)
    ds = training.add_noise(ds, "z", (100,), seed=0).repeat().batch(32)
    model = CGAN(CGANConfig(n_classes=2, width=0.25))
    model.build_optimizers()
    step = tf.function(model.train_step)
    for b in ds.take(300):
        step(b)
    clf = common.train_classifier(images, labels, steps=150, batch_size=32, width=0.25, log=None)
    z = np.random.default_rng(1).uniform(-1, 1, (200, 100)).astype(np.float32)
    conf = []
    fn = common.inference_fn(clf)
    for v in C.interpolate(0, 1, 2):
        x = model.generate(z, np.tile(v, (200, 1)))
        conf.append(float(tf.reduce_mean(tf.nn.softmax(fn(x))[:, 1])))
    assert conf[-1] > conf[0] + 0.5, conf
    assert np.mean(np.diff(conf) >= -0.02) >= 0.8, conf      # rises (nearly) step by step


@pytest.mark.e2e
def test_evaluation_readers_are_b0_and_mobilenetv2_built_to_train_from_scratch():
    """EfficientNet-B0 / MobileNetV2 from keras.applications (weights=None), float32 even under the bf16 policy,
    residual blocks starting as the identity, a zero classifier (uniform softmax at step 0), BN momentum 0.9."""
    from tfgan_emotion.eval import cgan as E

    before = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        clf = E.build_efficientnet(28, 1, 10, seed=0)
        reg = E.build_mobilenet_regressor(32, 3, seed=0)
    finally:
        keras.mixed_precision.set_global_policy(before)
    assert keras.mixed_precision.global_policy().name == before
    b0 = clf.get_layer("efficientnetb0")
    assert b0.count_params() == 4049571                       # keras.applications EfficientNet-B0 without its top
    bns = [layer for layer in b0.layers if isinstance(layer, keras.layers.BatchNormalization)]
    zeroed = [layer.name for layer in bns if not np.any(layer.gamma.numpy())]
    assert len(zeroed) == 9 and all(n.endswith("project_bn") for n in zeroed)   # B0 has 9 identity-skip blocks
    assert all(layer.momentum == 0.9 for layer in bns)
    assert {layer.compute_dtype for layer in b0.layers + clf.layers} == {"float32"}
    x = np.random.default_rng(0).uniform(-1, 1, (3, 28, 28, 1)).astype(np.float32)
    logits = clf(x, training=False).numpy()
    assert logits.shape == (3, 10) and np.allclose(logits, 0)
    mob = reg.get_layer("mobilenetv2_1.00_32")
    assert sum(not np.any(layer.gamma.numpy()) for layer in mob.layers
               if isinstance(layer, keras.layers.BatchNormalization)) == 10   # MobileNetV2's 10 residual adds
    va = reg(np.zeros((2, 32, 32, 3), np.float32), training=False).numpy()
    assert va.shape == (2, 2) and np.all(np.abs(va) < 1)
    # Nothing is stuck at zero: after two steps (the first only moves the zero head) every zeroed gamma has moved.
    opt = keras.optimizers.Adam(1e-2)
    for _ in range(2):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=tf.constant([0, 1, 2]), logits=clf(x, training=True)))
        opt.apply(tape.gradient(loss, clf.trainable_variables), clf.trainable_variables)
    assert all(np.any(b0.get_layer(n).gamma.numpy()) for n in zeroed)


def test_warmup_cosine_schedule():
    s = common.warmup_cosine(2e-3, 100)
    lrs = np.array([float(s(i)) for i in range(101)])
    assert lrs[0] == 0 and np.isclose(lrs.max(), 2e-3) and np.argmax(lrs) == 10
    assert np.all(np.diff(lrs[:11]) > 0) and np.all(np.diff(lrs[10:]) <= 1e-12) and lrs[-1] < 1e-9
    assert "warm-up to 0.002 over 10 steps" in common.describe_lr(s)


# ----------------------------------------------------------------------------------------------------------------
# Evaluation protocol (paper 4.4, 5.4, 5.6)
# ----------------------------------------------------------------------------------------------------------------
class _RecordingGenerator:
    """Stands in for a trained CGAN: records the noise vectors and labels it is asked to decode."""

    def __init__(self, n_classes, z_dim=6):
        from types import SimpleNamespace

        self.config = SimpleNamespace(z_dim=z_dim, n_classes=n_classes)
        self.calls = []

    def generate(self, z, labels):
        self.calls.append((np.array(z), np.array(labels)))
        return tf.zeros((len(z), 4, 4, 1))


def test_every_class_pair_and_every_emotion_draws_its_own_seeded_noise_set(monkeypatch):
    from tfgan_emotion.eval import cgan as E

    monkeypatch.setattr(E, "predict", lambda model, images: np.zeros((len(images), 3), np.float32))
    gen = _RecordingGenerator(3)
    E.pair_confidences(gen, None, 3, noise_vectors=5, seed=7, log=None)
    assert len(gen.calls) == 6 * C.STEPS                                   # 6 ordered pairs x 11 steps
    sets = {}
    for k in range(6):
        block = gen.calls[k * C.STEPS:(k + 1) * C.STEPS]
        first, last = block[0][1][0], block[-1][1][0]
        i, j = int(np.argmax(first)), int(np.argmax(last))
        assert all(np.array_equal(z, block[0][0]) for z, _ in block)     # one set along a curve's 11 steps
        np.testing.assert_array_equal(block[0][0], E.curve_noise(7, i, j, 5, 6))
        sets[(i, j)] = block[0][0]
    keys = list(sets)
    assert all(not np.allclose(sets[a], sets[b]) for a in keys for b in keys if a != b)   # independent per pair
    assert not np.allclose(E.curve_noise(8, 0, 1, 5, 6), sets[(0, 1)])   # and per run seed

    faces = _RecordingGenerator(6)
    monkeypatch.setattr(E, "predict", lambda model, images: np.zeros((len(images), 2), np.float32))
    E.va_curves(faces, None, 0, [1, 2, 5], noise_vectors=4, seed=7)
    per_emotion = [faces.calls[k * C.STEPS][0] for k in range(3)]
    assert not np.allclose(per_emotion[0], per_emotion[1]) and not np.allclose(per_emotion[1], per_emotion[2])
    np.testing.assert_array_equal(per_emotion[2], E.curve_noise(7, 0, 5, 4, 6))


def _fake_affectnet(root, n_train=20, n_val=6):
    from tfgan_emotion.data.synthetic import writers

    writers.write_affectnet_files(root, n_train, seed=0, frame_size=40, face_size=32, split="train")
    writers.write_affectnet_files(root, n_val, seed=1, frame_size=40, face_size=32, split="validation")
    return root


def test_va_data_trains_the_regressor_on_the_affectnet_stream_at_the_paper_schedule(tmp_path, monkeypatch):
    """--va-data: MobileNetV2 on AffectNet for 100 epochs with Adam 1e-3 (paper 5.4), the training split streamed
    from disk every epoch, Table 1 on the whole validation split. Inspected, not trained for 100 epochs: the
    regressor is a tiny stand-in and fit_stream records what it is given."""
    from tfgan_emotion import systems
    from tfgan_emotion.eval import cgan as E

    root = _fake_affectnet(tmp_path / "affectnet")
    s = systems.get("cgan_faces")
    args = s.parser().parse_args(["--va-data", str(root)])
    s.check_files(args)
    plan = s.plan(args)
    assert plan.ev["regressor_epochs"] == 100 and plan.ev["regressor_lr"] == 1e-3 and plan.ev["regressor_steps"] is None
    note = next(n for n in plan.notes if "regressor" in n)
    assert "AffectNet" in note and "100 epochs" in note and "Adam 0.001" in note and "streamed from disk" in note

    data = E.affectnet_va(root, 32, batch_size=4, seed=0, log=None)
    assert (data.n_train, data.steps_per_epoch, data.n_validation) == (20, 5, 6)
    assert data.train.cardinality().numpy() == tf.data.INFINITE_CARDINALITY   # a stream, not a capped array
    x, y = next(iter(data.train))
    assert x.shape == (4, 32, 32, 3) and y.shape == (4, 2) and np.all(np.abs(y.numpy()) <= 1)
    assert E.regressor_steps(plan.ev, data.steps_per_epoch) == 500           # 100 epochs of 5 batches

    tiny = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.GlobalAveragePooling2D(),
                             keras.layers.Dense(2, activation="tanh")])
    done = E.fit_stream(tiny, data.train, 3, 1e-3, log=None)                 # the real loop, 3 steps of the stream
    assert done["steps"] == 3 and np.isfinite(done["last_mse"])

    seen = {}
    monkeypatch.setattr(E, "build_mobilenet_regressor", lambda size, channels, seed=0: tiny)
    monkeypatch.setattr(E, "fit_stream", lambda model, batches, steps, lr, what, log: seen.update(
        model=model, spec=batches.element_spec, steps=steps, lr=lr))
    ev = {**plan.ev, "regressor_batch": 4}
    _, table1, info = E.train_va_regressor(32, ev, root, seed=0, log=None)
    assert seen["model"] is tiny and seen["steps"] == 500 and seen["lr"] == 1e-3
    assert seen["spec"][0].shape.as_list() == [4, 32, 32, 3]
    assert info["trained_on"] == "AffectNet" and info["epochs"] == 100 and "6 images" in info["heldout"]
    assert set(table1["valence"]) >= {"rmse", "corr", "sagr", "ccc"}

    (root / "Manually_Annotated_file_lists" / "validation.csv").unlink()
    with pytest.raises(FileNotFoundError, match="validation.csv"):
        E.check_affectnet_va(root)
    with pytest.raises(systems.UsageError, match="--va-data"):
        s.check_files(s.parser().parse_args(["--va-data", str(tmp_path / "nowhere")]))


def test_without_va_data_the_fallback_regressor_is_stated_and_items_say_what_each_run_reproduces():
    from tfgan_emotion import systems

    faces = systems.get("cgan_faces")
    args = faces.parser().parse_args(["--data-dir", "FACES"])
    plan = faces.plan(args)
    assert plan.ev["regressor_steps"] == 5000 and plan.ev["va_images"] == 20000
    note = next(n for n in plan.notes if "regressor" in n)
    assert "no --va-data" in note and "20000 built-in AffectNet-like SYNTHETIC faces" in note and "5000 steps" in note
    assert any("independent set for every neutral -> emotion curve" in n for n in plan.notes)
    synth_reg = {"va_regressor": {"trained_on": "synthetic AffectNet-like faces"}}
    rows = {r["item"]: r for r in faces.coverage(args, plan, synth_reg)}
    assert rows["Table 1"]["status"] == rows["Fig. 14"]["status"] == "analogue"
    assert "no --va-data" in rows["Table 1"]["how"]
    assert rows["Fig. 13"]["status"] == "reproduced" and rows["Fig. 7"]["status"] == "not reproduced"
    va = faces.parser().parse_args(["--va-data", "AFFECTNET"])              # synthetic FACES, real AffectNet
    rows = {r["item"]: r for r in faces.coverage(va, faces.plan(va), {"va_regressor": {
        "trained_on": "AffectNet", "epochs": 100.0}})}
    assert rows["Table 1"]["status"] == "reproduced" and rows["Fig. 14"]["status"] == "analogue"

    fm = systems.get("cgan_fashion_mnist")
    args = fm.parser().parse_args(["--data-dir", "FMNIST"])
    plan = fm.plan(args)
    assert any("independent set for every pair" in n and "EfficientNet-B0" in n for n in plan.notes)
    rows = {r["item"]: r for r in fm.coverage(args, plan, {})}
    assert rows["Fig. 7"]["status"] == "reproduced" and rows["Fig. 8"]["status"] == "not reproduced"
    assert "cgan_cifar10.py" in rows["Fig. 8"]["how"]
    assert [i.item for i in fm.paper_items] == [i.item for i in faces.paper_items]
