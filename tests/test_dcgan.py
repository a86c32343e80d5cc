"""fer2013 conditional DCGAN + inverse encoder (paper 003; SPECS): networks, encoder phase, losses, learning, and the
recipe end to end."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import keras

import tfgan_emotion.nets  # noqa: F401  (registers the custom layers)
from tfgan_emotion import editing
from tfgan_emotion.data import synthetic as synth
from tfgan_emotion.gans import dcgan as G
from tfgan_emotion.nets import dcgan as N
from tfgan_emotion.nets.layers import SpatialLabelTile

ROOT = Path(__file__).resolve().parent.parent
RECIPE = str(ROOT / "recipes" / "dcgan_fer2013.py")


def _of(model, kind):
    return [l for l in model.layers if isinstance(l, kind)]


@pytest.fixture(scope="module")
def nets():
    keras.mixed_precision.set_global_policy("float32")
    return N.build()


def test_generator_matches_specs(nets):
    g = nets["generator"]
    assert [tuple(i.shape[1:]) for i in g.inputs] == [(100,), (7,)]
    assert g.get_layer("g_dense").units == 3 * 3 * 512
    assert g.get_layer("g_reshape").output.shape[1:] == (3, 3, 512)
    deconvs = _of(g, keras.layers.Conv2DTranspose)
    assert [d.filters for d in deconvs] == [256, 128, 64, 1]
    assert all(d.kernel_size == (5, 5) and d.strides == (2, 2) for d in deconvs)
    bns = _of(g, keras.layers.BatchNormalization)
    assert [b.name for b in bns] == ["g_bn0", "g_bn1", "g_bn2", "g_bn3"]   # none after the output deconv
    assert all(b.epsilon == 1e-5 and b.momentum == 0.9 for b in bns)
    # The label after the reshape and after every hidden deconv: channels grow by 7 each time.
    assert [g.get_layer(f"g_label{i}").output.shape[-1] for i in range(4)] == [512 + 7, 256 + 7, 128 + 7, 64 + 7]
    assert [g.get_layer(f"g_label{i}").output.shape[1] for i in range(4)] == [3, 6, 12, 24]
    out = g([tf.random.uniform([2, 100], -1, 1), tf.one_hot([3, 6], 7)], training=False).numpy()
    assert out.shape == (2, 48, 48, 1) and np.abs(out).max() <= 1.0


def test_discriminator_and_encoder_match_specs(nets):
    for net, prefix in ((nets["discriminator"], "d"), (nets["encoder"], "e")):
        assert [tuple(i.shape[1:]) for i in net.inputs] == [(48, 48, 1), (7,)]
        assert net.get_layer(f"{prefix}_label_in").output.shape[-1] == 1 + 7   # [x | yb]
        convs = _of(net, keras.layers.Conv2D)
        assert [c.filters for c in convs] == [64, 128, 256, 512]
        assert all(c.kernel_size == (5, 5) and c.strides == (2, 2) for c in convs)
        assert {b.name for b in _of(net, keras.layers.BatchNormalization)} >= {f"{prefix}_bn{i}" for i in (2, 3, 4)}
        assert f"{prefix}_bn1" not in {b.name for b in _of(net, keras.layers.BatchNormalization)}
        assert [net.get_layer(f"{prefix}_label{i}").output.shape[-1] for i in (1, 2, 3)] == [64 + 7, 128 + 7,
                                                                                          256 + 7]
        assert net.get_layer(f"{prefix}_conv4").output.shape[1:] == (3, 3, 512)
        assert net.get_layer(f"{prefix}_label_flat").output.shape[-1] == 3 * 3 * 512 + 7   # flatten (+)y
        assert all(np.isclose(l.negative_slope, 0.2) for l in _of(net, keras.layers.LeakyReLU))
        assert len(_of(net, SpatialLabelTile)) == 4
    assert nets["discriminator"].output.shape[1:] == (1,)
    e = nets["encoder"]
    assert e.get_layer("e_dense").units == 100 and "e_bn_out" in [l.name for l in e.layers]
    z = e([tf.random.uniform([3, 48, 48, 1], -1, 1), tf.one_hot([0, 1, 2], 7)], training=False).numpy()
    assert z.shape == (3, 100) and np.abs(z).max() <= 1.0


def _batch(n=16, seed=0):
    d = synth.make_arrays("fer2013", "train", n=n, size=48, seed=seed)
    rng = np.random.default_rng(seed)
    return {"image": tf.constant(d["image"]), "expression": tf.constant(d["expression"], tf.int32),
            "z": tf.constant(rng.uniform(-1, 1, (n, 100)).astype(np.float32)),
            "y_random": tf.constant(rng.uniform(-1, 1, n).astype(np.float32))}


TINY = dict(width=0.125, batch_size=16)


def _snapshot(model):
    return {v.path: v.numpy().copy() for v in model.variables}


def test_encoder_phase_changes_only_the_encoder_and_runs_g_in_inference_mode(float32_policy):
    model = G.DCGAN(G.DCGANConfig(**TINY))
    model.build_optimizers()
    model.phase = "encoder"
    before = _snapshot(model)
    out = tf.function(model.train_step)(_batch())
    assert set(out) == {"e_loss"}
    after = _snapshot(model)
    changed = {k for k in before if not np.array_equal(before[k], after[k])}
    enc_paths = {v.path for v in model.encoder.variables}
    # G's and D's weights AND G's batch-norm moving statistics stay: G ran in inference mode.
    g_stats = {v.path for v in model.generator.non_trainable_variables}
    assert g_stats and not changed & g_stats
    assert not changed & {v.path for v in model.generator.variables + model.discriminator.variables}
    assert {v.path for v in model.encoder.trainable_variables} <= changed <= enc_paths | {
        v.path for v in model.variables if "e_adam" in v.path or "iteration" in v.path}


@pytest.mark.e2e
def test_gan_phase_leaves_the_encoder_alone_and_joint_updates_all(float32_policy):
    model = G.DCGAN(G.DCGANConfig(**TINY))
    model.build_optimizers()
    before = _snapshot(model)
    out = tf.function(model.train_step)(_batch())
    assert set(out) == {"d_loss", "d_real", "d_fake", "g_loss"}
    after = _snapshot(model)
    assert all(np.array_equal(before[v.path], after[v.path]) for v in model.encoder.variables)
    assert not all(np.array_equal(before[v.path], after[v.path]) for v in model.generator.trainable_variables)
    joint = G.DCGAN(G.DCGANConfig(**TINY, schedule="joint"))
    joint.build_optimizers()
    b2 = _snapshot(joint)
    out = tf.function(joint.train_step)(_batch())
    assert set(out) == {"d_loss", "d_real", "d_fake", "g_loss", "e_loss"}
    a2 = _snapshot(joint)
    for net in (joint.generator, joint.discriminator, joint.encoder):
        assert any(not np.array_equal(b2[v.path], a2[v.path]) for v in net.trainable_variables)


def test_encoder_losses_compute_the_papers_equations(float32_policy):
    keras.utils.set_random_seed(1)
    nets = N.build(width=0.125)
    gen, enc = nets["generator"], nets["encoder"]
    b = _batch(8)
    x, y, z = b["image"], tf.one_hot(b["expression"], 7), b["z"]
    # eq. 14 (mean form) with G in inference mode.
    expected = np.mean((x.numpy() - gen([enc([x, y], training=True), y], training=False).numpy()) ** 2)
    got = float(G.image_encoder_loss(gen, enc, x, y))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    in_training = np.mean((x.numpy() - gen([enc([x, y], training=True), y], training=True).numpy()) ** 2)
    assert not np.isclose(got, in_training, rtol=1e-3)
    # eq. 13: z against E(G(z, y), y).
    expected = np.mean((z.numpy() - enc([gen([z, y], training=False), y], training=True).numpy()) ** 2)
    np.testing.assert_allclose(float(G.latent_encoder_loss(gen, enc, z, y)), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="encoder_loss"):
        G.DCGANConfig(encoder_loss="pixels")


@pytest.mark.slow
def test_a_few_dozen_steps_reduce_the_losses(float32_policy):
    keras.utils.set_random_seed(0)
    model = G.DCGAN(G.DCGANConfig(width=0.25, batch_size=32))
    model.build_optimizers()
    step = tf.function(model.train_step)
    batches = [_batch(32, seed=s) for s in range(4)]
    d = [float(step(batches[i % 4])["d_loss"]) for i in range(30)]
    assert np.mean(d[-5:]) < 0.8 * np.mean(d[:3]), d
    model.phase = "encoder"
    model.train_function = None
    step = tf.function(model.train_step)
    e = [float(step(batches[i % 4])["e_loss"]) for i in range(60)]
    assert np.mean(e[-5:]) < 0.85 * np.mean(e[:3]), e


# ----------------------------------------------------------------------------------------------------------------
# The recipe
# ----------------------------------------------------------------------------------------------------------------
def _run(*args, timeout=600):
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, RECIPE, *args], capture_output=True, text=True, env=env, timeout=timeout)


def test_smoke_run_end_to_end(smoke_runs, tmp_path):
    root, res = smoke_runs["dcgan_fer2013"]
    assert res.returncode == 0, res.stderr[-3000:]
    run_dir = root / "runs" / "smoke-synthetic-seed0"
    assert (run_dir / "ckpt" / "ckpt-8.complete").exists()            # 4 cDCGAN + 4 encoder steps
    header, *rows = (run_dir / "logs" / "losses.csv").read_text().split()
    assert header.split(",") == ["step", "d_fake", "d_loss", "d_real", "g_loss", "e_loss"] and len(rows) == 2
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["config"]["schedule"] == "two_phase" and cfg["config"]["encoder_loss"] == "image"
    m = json.loads((run_dir / "metrics.json").read_text())
    assert set(m["reconstruction"]) >= {"mse", "mae"} and len(m["transfer"]["per_label"]) == 7
    assert np.isfinite(m["frechet"]["frechet_distance"]) and "identity_preservation" in m

    nets = {p.stem: keras.saving.load_model(p, safe_mode=True) for p in (run_dir / "export").glob("*.keras")}
    assert set(nets) == {"generator", "discriminator", "encoder"}
    from tfgan_emotion.export import load_saved_model

    saved = load_saved_model(run_dir)
    z = np.random.default_rng(0).uniform(-1, 1, (2, 100)).astype(np.float32)
    label = np.array([3, 5], np.int32)
    direct = nets["generator"]([z, np.eye(7, dtype=np.float32)[label]]).numpy()
    np.testing.assert_allclose(saved.generate(z=z, label=label)["image"].numpy(), direct, atol=2e-2)
    out = saved.transfer(image=np.zeros((2, 48, 48, 1), np.float32), label=label)["image"].numpy()
    assert out.shape == (2, 48, 48, 1)

    report_dir = root / "reports" / "dcgan_fer2013" / "smoke-synthetic-seed0"
    md = (report_dir / "report.md").read_text()
    for fig in ("fig5_gallery.png", "fig6_happy.png", "fig7_every_label.png", "loss_curves.png"):
        assert fig in md and (report_dir / fig).exists()

    from PIL import Image

    face = tmp_path / "face.png"
    Image.fromarray(np.full((60, 50), 100, np.uint8)).save(face)
    for affect in ("happy", "3"):
        written = editing.run_edit(run_dir, face, tmp_path / "out.png", affect=affect, log=lambda m: None)
        assert np.asarray(Image.open(written[0])).shape == (48, 48)
    sheet = editing.run_edit(run_dir, face, tmp_path / "grid.png", grid=True, log=lambda m: None)
    assert np.asarray(Image.open(sheet[0])).shape[1] > 8 * 48
    with pytest.raises(ValueError, match="not a label"):
        editing.run_edit(run_dir, face, tmp_path / "x.png", affect="joy", log=lambda m: None)


@pytest.mark.e2e
def test_reads_fer2013_csv_and_trains_the_latent_variant_jointly(tmp_path):
    rng = np.random.default_rng(0)
    lines = ["emotion,pixels,Usage"]
    for i in range(70):
        usage = "Training" if i < 56 else "PrivateTest"
        lines.append(f"{i % 7},{' '.join(str(v) for v in rng.integers(0, 256, 48 * 48))},{usage}")
    (tmp_path / "fer2013.csv").write_text("\n".join(lines) + "\n")
    res = _run("--data-dir", str(tmp_path), "--smoke", "--schedule", "joint", "--encoder-loss", "latent",
               "--batch-size", "8", "--width", "0.125", "--out", str(tmp_path / "runs"),
               "--reports", str(tmp_path / "reports"))
    assert res.returncode == 0, res.stderr[-3000:]
    run_dir = next((tmp_path / "runs").iterdir())
    header = (run_dir / "logs" / "losses.csv").read_text().split()[0].split(",")
    assert "e_loss" in header and "d_loss" in header
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["reconstruction"]["n"] == 14 and "identity_preservation" not in m
