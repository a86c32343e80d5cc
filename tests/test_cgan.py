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
