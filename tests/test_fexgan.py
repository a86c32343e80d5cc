"""FExGAN (paper 004; SPECS "FExGAN"): networks against SPECS, the source/target pairing, the losses, the weight
schedule, learning, and the 2-replica step."""
import math

import numpy as np
import pytest
import tensorflow as tf
import keras

from tfgan_emotion.data import pairs
from tfgan_emotion.data import synthetic as synth
from tfgan_emotion.gans import fexgan as F
from tfgan_emotion.nets import fexgan as N


def _layers(model, kind):
    return [l for l in model.layers if isinstance(l, kind)]


# ----------------------------------------------------------------------------------------------------------------
# Architecture (SPECS "FExGAN")
# ----------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def paper_nets():
    with keras.device("cpu"):
        keras.mixed_precision.set_global_policy("float32")
        return N.build(128, 3, 7, 128, 1.0)


def test_encoder_matches_specs(paper_nets):
    enc = paper_nets["encoder"]
    assert [tuple(i.shape[1:]) for i in enc.inputs] == [(128, 128, 3), (7,), (128,)]
    assert [tuple(o.shape[1:]) for o in enc.outputs] == [(128,), (128,), (128,)]
    cond = enc.get_layer("enc_cond_dense")
    assert cond.units == 128 * 128 and cond.activation.__name__ == "relu"
    assert enc.get_layer("enc_concat").output.shape[-1] == 4  # condition fed as an extra image channel
    convs = _layers(enc, keras.layers.Conv2D)
    assert [c.filters for c in convs] == [128, 256, 512, 512, 512, 512, 128]
    for c in convs:
        assert c.kernel_size == (4, 4) and c.strides == (2, 2) and not c.use_bias
    assert convs[-1].output.shape[1:] == (1, 1, 128)
    bns = {l.name for l in _layers(enc, keras.layers.BatchNormalization)}
    assert bns == {f"enc_bn{i}" for i in range(2, 8)}   # no BN after the first block
    lrelus = _layers(enc, keras.layers.LeakyReLU)
    assert len(lrelus) == 6 and all(math.isclose(l.negative_slope, 0.3) for l in lrelus)  # last block: none
    ls = enc.get_layer("log_sigma")
    assert not np.any(ls.kernel.numpy()) and not np.any(ls.bias.numpy())
    assert enc.get_layer("mu").units == 128


def test_paper_encoder_takes_the_matrix_form_only_in_its_512_blocks_on_maps_of_a_few_pixels(paper_nets):
    """Blocks 5 and 6 (512 -> 512, 8x8 -> 4x4 and 4x4 -> 2x2) compute as one matrix product over their patches; the
    others, and every block of the default run's narrow encoder, stay convolutions."""
    from tfgan_emotion.nets.layers import PatchConv2D

    convs = _layers(paper_nets["encoder"], PatchConv2D)
    assert len(convs) == 7
    assert [c.uses_matmul(c.input.shape) for c in convs] == [False] * 4 + [True] * 2 + [False]
    small = N.build_encoder(64, width=0.25)
    assert not any(c.uses_matmul(c.input.shape) for c in _layers(small, PatchConv2D))


def test_decoder_matches_specs(paper_nets):
    dec = paper_nets["decoder"]
    assert [tuple(i.shape[1:]) for i in dec.inputs] == [(128,), (7,)]
    assert tuple(dec.output.shape[1:]) == (128, 128, 3)
    assert dec.get_layer("dec_cond_dense1").units == 64
    assert dec.get_layer("dec_cond_dense2").units == 256 and dec.get_layer("dec_z_dense").units == 256
    assert dec.get_layer("dec_concat").output.shape[1:] == (1, 1, 512)
    deconvs = _layers(dec, keras.layers.Conv2DTranspose)
    assert [d.filters for d in deconvs] == [512, 512, 512, 512, 256, 128, 3]
    for d in deconvs:
        assert d.kernel_size == (4, 4) and d.strides == (2, 2)
    assert all(not d.use_bias for d in deconvs[:-1])
    assert [l.name for l in _layers(dec, keras.layers.Dropout)] == ["dec_dropout1", "dec_dropout2", "dec_dropout3"]
    assert all(l.rate == 0.5 for l in _layers(dec, keras.layers.Dropout))
    assert len(_layers(dec, keras.layers.BatchNormalization)) == 6
    assert dec.get_layer("dec_tanh").activation.__name__ == "tanh"
    out = dec([tf.random.normal([2, 128]), tf.one_hot([0, 3], 7)], training=False).numpy()
    assert out.shape == (2, 128, 128, 3) and np.abs(out).max() <= 1.0


def test_discriminator_matches_specs(paper_nets):
    d = paper_nets["discriminator"]
    convs = _layers(d, keras.layers.Conv2D)
    assert [c.filters for c in convs] == [64, 128, 512]
    assert all(c.kernel_size == (4, 4) and c.strides == (2, 2) for c in convs)
    assert {l.name for l in _layers(d, keras.layers.BatchNormalization)} == {"disc_bn2", "disc_bn3"}
    real, affect = d(tf.random.uniform([3, 128, 128, 3], -1, 1), training=False)
    assert real.shape == (3, 1) and affect.shape == (3, 7)
    assert np.all((real.numpy() > 0) & (real.numpy() < 1))
    np.testing.assert_allclose(affect.numpy().sum(-1), 1.0, atol=1e-5)


def test_smaller_images_drop_512_blocks_and_bad_sizes_are_refused():
    assert N.encoder_filters(64) == (128, 256, 512, 512, 512, 128)
    assert N.decoder_filters(64) == (512, 512, 512, 256, 128)
    for bad in (48, 16, 100):
        with pytest.raises(ValueError, match="power of two"):
            N.build(bad)


def test_sampling_layer_statistics():
    layer = N.GaussianSample()
    n = 20000
    mu = tf.fill([n, 4], 2.0)
    log_sigma = tf.fill([n, 4], float(np.log(0.5)))
    z = layer([mu, log_sigma, tf.random.stateless_normal([n, 4], [1, 2])]).numpy()
    assert abs(z.mean() - 2.0) < 0.02 and abs(z.std() - 0.5) < 0.02
    np.testing.assert_allclose(layer([mu[:2], log_sigma[:2], tf.zeros([2, 4])]).numpy(), 2.0)


# ----------------------------------------------------------------------------------------------------------------
# Losses and schedule
# ----------------------------------------------------------------------------------------------------------------
def test_kl_matches_gaussian_closed_form():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(5, 128)).astype(np.float32)
    sigma = rng.uniform(0.2, 2.0, size=(5, 128)).astype(np.float32)
    expected = np.sum(np.log(1.0 / sigma) + (sigma ** 2 + mu ** 2) / 2.0 - 0.5, axis=-1)
    got = F.kl_divergence(mu, np.log(sigma)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    assert np.allclose(F.kl_divergence(np.zeros((2, 8)), np.zeros((2, 8))).numpy(), 0.0)


def test_target_condition_intensity():
    a = F.target_condition(tf.constant([0, 3, 6]), tf.constant([0.0, 10.0, -10.0]), 7, 0.25).numpy()
    np.testing.assert_allclose(a[0], np.eye(7)[0])
    np.testing.assert_allclose(a[1], 1.5 * np.eye(7)[3])   # clipped at 1 + 2 std
    np.testing.assert_allclose(a[2], 0.5 * np.eye(7)[6])   # clipped at 1 - 2 std


def _tiny_batch(n=8, size=32, seed=0):
    d = synth.make_arrays("ferg", "train", n=n, size=size, seed=seed)
    rng = np.random.default_rng(seed)
    return {"image": tf.constant(d["image"]), "expression": tf.constant(d["expression"], tf.int32),
            "target_image": tf.constant(d["image"][::-1].copy()),
            "target_expression": tf.constant(d["expression"][::-1].copy(), tf.int32),
            "eps": tf.constant(rng.standard_normal((n, 128)).astype(np.float32)),
            "lambda": tf.constant(rng.standard_normal(n).astype(np.float32))}


TINY = dict(image_size=32, width=0.125, batch_size=8)


@pytest.mark.slow
def test_binary_weight_switches_at_the_configured_epoch(float32_policy):
    model = F.FExGAN(F.FExGANConfig(**TINY, alpha=1.0, alpha_reduced=0.25, reduce_epoch=2), steps_per_epoch=10)
    model.build_optimizers()
    step = tf.function(model.train_step)
    batch = _tiny_batch()
    model.global_step.assign(19)
    assert float(step(batch)["alpha"]) == 1.0
    model.global_step.assign(20)
    assert float(step(batch)["alpha"]) == 0.25


def test_each_optimizer_updates_only_its_networks(float32_policy):
    model = F.FExGAN(F.FExGANConfig(**TINY), steps_per_epoch=10)
    model.build_optimizers()
    gen_vars = {id(v) for v in model.player_variables("gen")}
    disc_vars = {id(v) for v in model.player_variables("disc")}
    assert not gen_vars & disc_vars
    assert gen_vars == {id(v) for v in model.encoder.trainable_variables + model.decoder.trainable_variables}
    assert disc_vars == {id(v) for v in model.discriminator.trainable_variables}
    model.disc_optimizer.learning_rate.assign(0.0)
    before = {id(v): v.numpy().copy() for v in model.trainable_variables}
    tf.function(model.train_step)(_tiny_batch())
    changed = {id(v) for v in model.trainable_variables if not np.array_equal(before[id(v)], v.numpy())}
    assert not changed & disc_vars
    # Every generator variable moves except the decoder's weights behind dropout-free zero gradients: none expected.
    assert changed >= gen_vars


@pytest.mark.slow
def test_a_few_dozen_steps_reduce_the_reconstruction_loss(float32_policy):
    keras.utils.set_random_seed(0)
    d = synth.make_arrays("ferg", "train", n=96, size=32, seed=0)
    table = pairs.ImageTable(images=d["image"])
    ds = pairs.affect_pairs(table, d["expression"], d["character"], 7, seed=0).repeat()
    from tfgan_emotion import training
    ds = training.add_noise(ds, "eps", (128,), seed=0, distribution="normal")
    ds = training.add_noise(ds, "lambda", (), seed=1, distribution="normal").batch(16)
    model = F.FExGAN(F.FExGANConfig(image_size=32, width=0.25, batch_size=16), steps_per_epoch=6)
    model.build_optimizers()
    step = tf.function(model.train_step)
    recs = [float(step(b)["rec"]) for b in ds.take(60)]
    assert np.mean(recs[-5:]) < 0.8 * np.mean(recs[:3]), recs


# ----------------------------------------------------------------------------------------------------------------
# Pairing (data/pairs.py)
# ----------------------------------------------------------------------------------------------------------------
def test_pairs_share_the_character_and_show_the_target_affect():
    d = synth.make_arrays("ferg", "train", n=126, size=32, seed=3)
    table = pairs.ImageTable(images=d["image"])
    flat = d["image"].reshape(len(d["image"]), -1)
    seen_targets = set()
    for ex in pairs.affect_pairs(table, d["expression"], d["character"], 7, seed=1).as_numpy_iterator():
        src = int(np.flatnonzero((flat == ex["image"].reshape(-1)).all(1))[0])
        tgt = int(np.flatnonzero((flat == ex["target_image"].reshape(-1)).all(1))[0])
        assert ex["character"] == d["character"][src] == d["character"][tgt]
        assert ex["expression"] == d["expression"][src]
        assert ex["target_expression"] == d["expression"][tgt]
        seen_targets.add(int(ex["target_expression"]))
    assert seen_targets == set(range(7))


def test_pairs_only_target_affects_the_character_has():
    expression = np.array([0, 1, 2, 0, 0])
    character = np.array([0, 0, 0, 1, 1])
    images = np.arange(5, dtype=np.float32)[:, None, None, None] * np.ones((5, 2, 2, 3), np.float32)
    table = pairs.ImageTable(images=images)
    for epoch in range(5):
        for ex in pairs.affect_pairs(table, expression, character, 7, seed=epoch).as_numpy_iterator():
            if ex["character"] == 1:
                assert ex["target_expression"] == 0 and ex["target_image"][0, 0, 0] in (3.0, 4.0)
    with pytest.raises(ValueError, match="example 1: expression 9"):
        pairs.pair_tables([0, 9], [0, 0], 7)


@pytest.mark.stress
def test_trains_under_mirrored_strategy(tmp_path, float32_policy, mirrored_cpu):
    from tfgan_emotion import training

    d = synth.make_arrays("ferg", "train", n=64, size=32, seed=0)
    ds = pairs.affect_pairs(pairs.ImageTable(images=d["image"]), d["expression"], d["character"], 7, seed=0)
    ds = training.add_noise(ds, "eps", (128,), seed=0, distribution="normal")
    ds = training.add_noise(ds, "lambda", (), seed=1, distribution="normal")
    with mirrored_cpu.scope():
        m = F.FExGAN(F.FExGANConfig(**{**TINY, "reduce_epoch": 1}), steps_per_epoch=2,
                     sample_faces=d["image"][:2], sample_classes=d["expression"][:2])
    cfg = training.TrainConfig(steps=3, batch_size=4, checkpoint_every=3, sample_every=3, log_every=1,
                               verbose=False)
    result = training.train(m, ds, tmp_path, cfg, mirrored_cpu)
    assert result.step == 3 and (tmp_path / "ckpt" / "ckpt-3.complete").exists()
    header, *rows = (tmp_path / "logs" / "losses.csv").read_text().split()
    cols = header.split(",")
    assert {"rec", "kl", "gan_bin", "gan_cls", "alpha"} <= set(cols) and len(rows) == 3
    values = np.array([[float(v) for v in r.split(",")] for r in rows])
    assert np.all(np.isfinite(values))
    alpha = values[:, cols.index("alpha")]
    assert alpha[0] == 1.0 and alpha[-1] == 0.1   # switched at epoch 1 = global step 2


# ----------------------------------------------------------------------------------------------------------------
# Pre-processing (paper 4.1: "random noise by cropping and adding jitter")
# ----------------------------------------------------------------------------------------------------------------
def _one_picture_per_character(size=32):
    """Every image of a character is the same picture (one per character): a source and its target are then the
    same picture, so a window shared by both leaves them equal and the character names the picture."""
    d = synth.make_arrays("ferg", "train", n=84, size=size, seed=5)
    first = {c: int(np.flatnonzero(d["character"] == c)[0]) for c in range(6)}
    images = np.stack([d["image"][first[c]] for c in d["character"]])
    return images, d["expression"], d["character"]


@pytest.mark.parametrize("augment", ["crop-jitter", "none"])
def test_training_pairs_are_cropped_and_jittered_anew_every_epoch_with_one_window_per_pair(augment):
    from tfgan_emotion.systems import fexgan as S

    images, expression, character = _one_picture_per_character()
    table = pairs.ImageTable(images=images)
    ds = S._draws(pairs.affect_pairs(table, expression, character, 7, seed=0), F.FExGANConfig(image_size=32), 0,
                  augment)
    epochs = [[], []]
    for k, ex in enumerate(ds.take(2 * len(images)).as_numpy_iterator()):
        np.testing.assert_array_equal(ex["image"], ex["target_image"])   # the L1 target stays aligned
        epochs[k // len(images)].append((int(ex["character"]), ex["image"]))
    first = {c: img for c, img in epochs[0]}
    same = [np.array_equal(img, first[c]) for c, img in epochs[1]]
    if augment == "none":
        assert all(same)
        assert all(np.array_equal(img, images[np.flatnonzero(character == c)[0]]) for c, img in epochs[0])
    else:
        assert np.mean(same) < 0.1                                        # a new window almost every time
        seen = epochs[0] + epochs[1]
        untouched = [np.array_equal(img, images[np.flatnonzero(character == c)[0]]) for c, img in seen]
        assert np.mean(untouched) < 0.1                                  # only the middle one of 5 x 5 windows
        assert all(img.shape == (32, 32, 3) and -1.0 <= img.min() and img.max() <= 1.0 for _, img in seen)


def test_crop_jitter_moves_the_window_by_pix2pix_play_without_zooming_and_the_evaluation_copy_is_seeded():
    from tfgan_emotion.data import pipeline

    assert pipeline.jitter_margin(256) == (15, 15) and pipeline.jitter_margin(128) == (8, 8)   # 30 of 256 px
    ramp = np.tile(np.arange(64, dtype=np.float32)[None, :, None] / 63, (64, 1, 3))   # pixel value = x / 63
    shifts = set()
    for k in range(60):
        (out,) = pipeline.crop_jitter((tf.constant(ramp),), tf.constant([3, k], tf.int64))
        out = out.numpy()
        assert out.shape == ramp.shape
        inner = out[0, 8:-8, 0] * 63                                       # away from the mirrored margins
        np.testing.assert_allclose(np.diff(inner), 1.0, atol=1e-5)        # one pixel per pixel: no zoom
        shifts.add(int(round(inner[0] - 8)))
    assert shifts == set(range(-4, 5))                                    # +-4 px at 64, the middle included
    faces = synth.make_arrays("ferg", "val", n=6, size=32, seed=0)["image"]
    a, b = pipeline.crop_jitter_arrays(faces, 1), pipeline.crop_jitter_arrays(faces, 1)
    np.testing.assert_array_equal(a, b)
    assert a.shape == faces.shape and not np.allclose(a, faces) and a.min() >= faces.min() and a.max() <= faces.max()


def test_the_system_applies_the_augment_flag_and_states_it():
    from tfgan_emotion import systems

    s = systems.get("fexgan_ferg")
    for augment in ("crop-jitter", "none"):
        args = s.parser().parse_args(["--smoke", "--image-size", "32", "--augment", augment])
        plan = s.plan(args)
        data = s.load_data(args, plan, None, lambda m: None)
        s.finalize(args, plan, data)
        assert plan.run_config["augment"] == augment
        flat = data.arrays["image"].reshape(len(data.arrays["image"]), -1)
        found = [bool((flat == ex["image"].reshape(-1)).all(1).any()) for ex in data.train.take(40).as_numpy_iterator()]
        assert all(found) if augment == "none" else np.mean(found) < 0.2   # 1 of 25 windows is the middle one
        note = next(n for n in plan.notes if "crop" in n)
        assert ("--augment none" in note and "paper 4.1" in note) if augment == "none" else (
            "padded by 2 px" in note and "share one window" in note and "--augment none turns it off" in note)
    # Defaults: the paper's crop + jitter on FERG-DB; none on the synthetic characters, and the notes say why.
    real = s.plan(s.parser().parse_args(["--data-dir", "FERG_DB_256"]))
    assert real.extra["augment"] == "crop-jitter" and any("share one window" in n for n in real.notes)
    synthetic = s.plan(s.parser().parse_args([]))
    note = next(n for n in synthetic.notes if "jitter" in n)
    assert synthetic.extra["augment"] == "none" and "0.78 to 0.71" in note and "--augment crop-jitter adds it" in note
    rows = {r["item"]: r for r in s.coverage(args, real, {"augment": "crop-jitter"})}
    assert rows["Table 1"]["status"] == "reproduced" and rows["Fig. 1"]["status"] == "not reproduced"
    rows = {r["item"]: r for r in s.coverage(args, real, {"augment": "none"})}
    assert rows["Table 1"]["status"] == rows["Fig. 6"]["status"] == "analogue"
    assert "without the paper's random crop + jitter" in rows["Fig. 4"]["how"]
