"""The training engine: distribution equivalence, checkpoints and resume, signals, the NaN guard, export."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import keras

import tiny_gan
from conftest import keras_policy
from tfgan_emotion import export, training

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = str(ROOT / "tests" / "tiny_gan.py")


def _env(**extra):
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _events(run_dir):
    return [json.loads(line) for line in (Path(run_dir) / "logs" / "events.jsonl").read_text().splitlines()]


def _train_one_step(strategy, tmp_path, seed=0):
    keras.utils.set_random_seed(seed)
    with strategy.scope():
        gan = tiny_gan.TinyCGAN()
    cfg = training.TrainConfig(steps=1, batch_size=8, checkpoint_every=0,
                               sample_every=0, verbose=False)
    initial = [w.copy() for w in gan.generator.get_weights() + gan.discriminator.get_weights()]
    training.train(gan, tiny_gan.dataset(64, seed=3), tmp_path, cfg, strategy)
    return initial, gan.generator.get_weights() + gan.discriminator.get_weights()


def test_mirrored_two_replicas_matches_default_strategy(tmp_path, float32_policy, mirrored_cpu):
    mirrored = mirrored_cpu
    assert mirrored.num_replicas_in_sync == 2
    init_d, after_default = _train_one_step(tf.distribute.get_strategy(), tmp_path / "default")
    init_m, after_mirrored = _train_one_step(mirrored, tmp_path / "mirrored")
    for a, b in zip(init_d, init_m):
        np.testing.assert_array_equal(a, b)
    moved = max(float(np.abs(a - b).max()) for a, b in zip(init_d, after_default))
    assert moved > 1e-4, "one step must change the weights"
    for a, b in zip(after_default, after_mirrored):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_training_learns_the_conditional_task(tmp_path, float32_policy):
    keras.utils.set_random_seed(0)
    gan = tiny_gan.TinyCGAN()
    cfg = training.TrainConfig(steps=300, batch_size=32, checkpoint_every=0, sample_every=0, verbose=False)
    training.train(gan, tiny_gan.dataset(512), tmp_path, cfg)
    z = np.random.default_rng(0).uniform(-1, 1, (200, tiny_gan.Z)).astype(np.float32)
    labels = np.arange(200) % 2
    img = gan.generator([tf.constant(z), tf.one_hot(labels, 2)]).numpy()[..., 0]
    top_minus_left = img[:, :4, 4:].mean((1, 2)) - img[:, 4:, :4].mean((1, 2))
    # class 0 is bright on top, class 1 bright on the left: the generator must follow the label
    assert top_minus_left[labels == 0].mean() > 0.5
    assert top_minus_left[labels == 1].mean() < -0.5


@pytest.mark.stress
def test_resume_after_sigkill(tmp_path):
    out = tmp_path / "runs"
    cmd = [sys.executable, SCRIPT, "--out", str(out), "--steps", "40", "--checkpoint-every", "5",
           "--precision", "float32", "--log-every", "1", "--reports", str(tmp_path / "reports")]
    proc = subprocess.Popen(cmd + ["--step-sleep", "0.2"], env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    ckpt_dir = out / "synthetic-seed0" / "ckpt"
    deadline = time.time() + 120
    while not list(ckpt_dir.glob("ckpt-*.complete")):
        assert proc.poll() is None, proc.stdout.read().decode()
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = sorted(int(p.name.split("-")[1].split(".")[0]) for p in ckpt_dir.glob("ckpt-*.complete"))
    assert done and done[-1] < 40
    res = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr[-3000:]
    assert f"done step 40 restored_from {done[-1]}" in res.stdout
    events = _events(out / "synthetic-seed0")
    assert {"event": "restored", "step": done[-1]}.items() <= events[0].items()
    assert events[-1]["event"] == "finished" and events[-1]["step"] == 40
    steps = [int(line.split(",")[0]) for line in (out / "synthetic-seed0/logs/losses.csv").read_text().split()[1:]]
    assert steps == list(range(1, 41)), "rows past the restored step must be replaced, none duplicated"
    md = (tmp_path / "reports" / "tiny_gan" / "synthetic-seed0" / "report.md").read_text()
    assert "d_loss" in md and "loss_curves.png" in md and "step_000040.png" in md
    # a third run of the same command has nothing left to do
    res = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=120)
    assert "done step 40 restored_from 40" in res.stdout


@pytest.mark.stress
def test_sigterm_saves_and_resumes_from_that_step(tmp_path):
    out = tmp_path / "runs"
    cmd = [sys.executable, SCRIPT, "--out", str(out), "--steps", "200", "--checkpoint-every", "1000",
           "--precision", "float32"]
    proc = subprocess.Popen(cmd + ["--step-sleep", "0.05"], env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    csv_path = out / "synthetic-seed0" / "logs" / "losses.csv"
    deadline = time.time() + 120
    while not (csv_path.exists() and len(csv_path.read_text().split()) > 1):
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    log = proc.communicate(timeout=60)[0]
    assert proc.returncode == 3, log[-2000:]
    assert "interrupted by SIGTERM" in log
    stopped = _events(out / "synthetic-seed0")[-1]
    assert stopped["event"] == "interrupted" and 0 < stopped["step"] < 200
    assert (out / "synthetic-seed0" / "ckpt" / f"ckpt-{stopped['step']}.complete").exists()
    res = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=180)
    assert f"done step 200 restored_from {stopped['step']}" in res.stdout, res.stderr[-2000:]


def test_nan_guard_stops_and_keeps_last_good_checkpoint(tmp_path, float32_policy):
    code = tiny_gan.main(["--out", str(tmp_path), "--steps", "40", "--checkpoint-every", "5", "--nan-at", "12",
                          "--precision", "float32", "--run", "nan"])
    assert code == 3
    run_dir = tmp_path / "nan"
    bad = _events(run_dir)[-1]
    assert bad["event"] == "non_finite" and bad["loss"] == "d_loss" and bad["step"] == 13
    assert bad["last_good_checkpoint"].endswith("ckpt-10")
    assert sorted(p.name for p in (run_dir / "ckpt").glob("*.complete")) == ["ckpt-10.complete", "ckpt-5.complete"]
    keras.utils.set_random_seed(1)
    fresh = tiny_gan.TinyCGAN()
    fresh.build_optimizers()
    step = tf.Variable(0, dtype=tf.int64)
    tf.train.Checkpoint(model=fresh, step=step).restore(str(run_dir / "ckpt" / "ckpt-10")).assert_consumed()
    assert int(step.numpy()) == 10
    assert all(np.isfinite(w).all() for w in fresh.generator.get_weights() + fresh.discriminator.get_weights())


def test_half_written_checkpoint_is_never_restored(tmp_path, float32_policy):
    gan = tiny_gan.TinyCGAN()
    cfg = training.TrainConfig(steps=10, batch_size=8, checkpoint_every=5, sample_every=0, verbose=False)
    training.train(gan, tiny_gan.dataset(64), tmp_path, cfg)
    ckpt = tmp_path / "ckpt"
    # A newer checkpoint whose files exist but whose write never completed (no marker) ...
    for suffix in (".index", ".data-00000-of-00001"):
        (ckpt / f"ckpt-15{suffix}").write_bytes((ckpt / f"ckpt-10{suffix}").read_bytes()[:50])
    # ... and a "complete" one that is corrupt on disk: both must be passed over for ckpt-10.
    for suffix in (".index", ".data-00000-of-00001"):
        (ckpt / f"ckpt-12{suffix}").write_bytes(b"\0garbage" * 10)
    (ckpt / "ckpt-12.complete").write_text("{}")
    fresh = tiny_gan.TinyCGAN()
    fresh.build_optimizers()
    step = tf.Variable(0, dtype=tf.int64)
    store = training._CheckpointStore(tf.train.Checkpoint(model=fresh, step=step), step, ckpt, 3)
    messages = []
    restored, prefix = store.restore_latest(messages.append)
    assert restored == 10 and prefix.endswith("ckpt-10")
    assert any("ckpt-12" in m for m in messages)
    for a, b in zip(fresh.generator.get_weights(), gan.generator.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_export_round_trip(tmp_path, float32_policy):
    gan = tiny_gan.TinyCGAN()
    cfg = training.TrainConfig(steps=3, batch_size=8, checkpoint_every=0, sample_every=0, verbose=False)
    training.train(gan, tiny_gan.dataset(64), tmp_path, cfg)
    files = export.export_networks(gan.networks(), tmp_path / "export")
    export.export_saved_model(tmp_path / "export" / "saved_model", gan.networks(), tiny_gan.endpoints(gan))
    z = np.random.default_rng(0).uniform(-1, 1, (5, tiny_gan.Z)).astype(np.float32)
    y = tf.one_hot([0, 1, 0, 1, 1], 2)
    z = tf.constant(z)
    expected = gan.generator([z, y]).numpy()
    loaded = keras.saving.load_model(files["generator"], safe_mode=True)
    np.testing.assert_allclose(loaded([z, y]).numpy(), expected, atol=1e-6)
    assert set(export.load_networks(tmp_path)) == {"generator", "discriminator"}
    sm = export.load_saved_model(tmp_path)
    np.testing.assert_allclose(sm.generate(z=z, label=y)["image"].numpy(), expected, atol=1e-6)
    x = tf.zeros((2, 8, 8, 1))
    np.testing.assert_allclose(keras.saving.load_model(files["discriminator"])([x, y[:2]]).numpy(),
                               gan.discriminator([x, y[:2]]).numpy(), atol=1e-6)


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.e2e
def test_multi_worker_two_processes_complete(tmp_path):
    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    procs = []
    for i in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}})
        procs.append(subprocess.Popen(
            [sys.executable, SCRIPT, "--out", str(tmp_path), "--steps", "2", "--strategy", "multi_worker",
             "--precision", "float32", "--checkpoint-every", "1", "--batch-size", "4"],
            env=_env(TF_CONFIG=tf_config), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    logs = []
    try:
        for p in procs:
            logs.append(p.communicate(timeout=240)[0])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, log in zip(procs, logs):
        assert p.returncode == 0, log[-3000:]
        assert "done step 2" in log
    assert "2 workers" in logs[0] and "MultiWorkerMirroredStrategy" in logs[0]
    run_dir = tmp_path / "synthetic-seed0"
    assert (run_dir / "ckpt" / "ckpt-2.complete").exists()
    assert not list((run_dir / "ckpt").glob("worker-tmp-*")), "non-chief scratch checkpoints are removed"
    assert json.loads((run_dir / "config.json").read_text())["runtime"]["replicas"] == 2


@pytest.mark.parametrize("policy", ["mixed_bfloat16", pytest.param("mixed_float16", marks=pytest.mark.e2e)])
def test_mixed_precision_trains(policy, tmp_path):
    with keras_policy(policy):
        keras.utils.set_random_seed(0)
        gan = tiny_gan.TinyCGAN()
        assert isinstance(gan.g_optimizer, keras.optimizers.LossScaleOptimizer) == (policy == "mixed_float16")
        assert gan.generator.layers[-2].compute_dtype == policy.split("_")[1]
        before = [w.copy() for w in gan.generator.get_weights()]
        cfg = training.TrainConfig(steps=5, batch_size=8, checkpoint_every=0, sample_every=0, log_every=1,
                                   verbose=False)
        training.train(gan, tiny_gan.dataset(64), tmp_path, cfg)
        rows = (tmp_path / "logs" / "losses.csv").read_text().split()[1:]
        assert len(rows) == 5 and all(np.isfinite(float(v)) for r in rows for v in r.split(","))
        after = gan.generator.get_weights()
        assert all(w.dtype == np.float32 for w in after), "variables stay float32 under mixed precision"
        assert max(float(np.abs(a - b).max()) for a, b in zip(before, after)) > 1e-4



def test_add_noise_is_deterministic_and_new_on_every_pass():
    from tfgan_emotion import training

    ds = tf.data.Dataset.from_tensor_slices({"x": np.arange(3, dtype=np.float32)})
    a = [e["z"] for e in training.add_noise(ds, "z", (2,), seed=5).take(6).as_numpy_iterator()]
    b = [e["z"] for e in training.add_noise(ds, "z", (2,), seed=5).take(6).as_numpy_iterator()]
    np.testing.assert_array_equal(np.stack(a), np.stack(b))                  # same seed, same draws
    assert not np.allclose(np.stack(a[:3]), np.stack(a[3:]))                 # the second pass draws anew
    assert np.all(np.abs(np.stack(a)) <= 1.0)
