"""Global-batch semantics and exact resume: every system trained on one replica and on two (a real MirroredStrategy
over two logical CPUs) at the same global batch gives the same losses and weights, and a run stopped and resumed
equals the uninterrupted one row for row (these train every system: the stress tier, ``pytest -m stress``); the
engine refuses a batch that does not split; the streams start at any position."""
import numpy as np
import pytest
import tensorflow as tf
import keras

from tfgan_emotion import training
from tfgan_emotion.data import pairs, pipeline
from tfgan_emotion.data import stream as streams
from tfgan_emotion.data import synthetic as synth


def _caae():
    from tfgan_emotion.gans.caae import CAAE, CAAEConfig
    from tfgan_emotion.systems.caae import CAAESystem

    # identity loss on the first 6 of a global batch of 8: 4 rows of replica 0 and 2 of replica 1
    cfg = CAAEConfig(image_size=32, width=0.125, batch_size=8, identity_net="random", identity_size=32,
                     identity_images=6)
    arr = synth.make_arrays("affectnet", "train", n=40, size=32, seed=0)
    ds = CAAESystem._noise(streams.from_tensors({k: arr[k] for k in ("image", "valence", "arousal")}, 0), cfg,
                           type("A", (), {"seed": 0}))
    return (lambda: CAAE(cfg)), ds, cfg.batch_size


def _dcgan():
    from tfgan_emotion.gans.dcgan import DCGAN, DCGANConfig
    from tfgan_emotion.systems.dcgan import _draws

    cfg = DCGANConfig(width=0.125, batch_size=8)
    arr = synth.make_arrays("fer2013", "train", n=40, size=48, seed=0)
    ds = _draws(streams.from_tensors({k: arr[k] for k in ("image", "expression")}, 0), cfg, 0)
    return (lambda: DCGAN(cfg)), ds, cfg.batch_size


def _cgan():
    from tfgan_emotion.gans.cgan import CGAN, CGANConfig
    from tfgan_emotion.systems.cgan import _draws

    cfg = CGANConfig(width=0.25, batch_size=8)
    arr = synth.make_arrays("fashion_mnist", "train", n=40, size=28, seed=0)
    ds = _draws(streams.from_tensors({k: arr[k] for k in ("image", "expression")}, 0), cfg, 0)
    return (lambda: CGAN(cfg)), ds, cfg.batch_size


def _fexgan():
    from tfgan_emotion.gans.fexgan import FExGAN, FExGANConfig
    from tfgan_emotion.systems.fexgan import _draws

    cfg = FExGANConfig(image_size=32, width=0.125, batch_size=8, latent=16)
    arr = synth.make_arrays("ferg", "train", n=40, size=32, seed=0)
    table = pairs.ImageTable(images=arr["image"], channels=3)
    ds = _draws(pairs.affect_pair_stream(table, arr["expression"], arr["character"], 7, seed=0), cfg, 0)
    return (lambda: FExGAN(cfg, seed=3)), ds, cfg.batch_size


def _ganmut(parametrization):
    from tfgan_emotion.gans import ganmut as GM

    # linear: 3 random-angle samples of a critic batch of 4 (2 per replica); gaussian: 7 modes in a batch of 8
    batch = 4 if parametrization == "linear" else 8
    cfg = GM.GANmutConfig(image_size=32, width=0.125, residual_blocks=1, batch_size=batch, n_critic=2,
                          random_angle_samples=3, parametrization=parametrization)
    arr = synth.make_arrays("affectnet", "train", n=40, size=32, seed=0)
    ds = GM.attach_draws(pipeline.augment_stream(
        streams.from_tensors({"image": arr["image"], "expression": arr["expression"] % 7}, 0), 0), seed=0)
    return (lambda: GM.GANmut(cfg, seed=0)), ds, cfg.step_batch


SYSTEMS = {"caae": _caae, "dcgan": _dcgan, "cgan": _cgan, "fexgan": _fexgan,
           "ganmut": lambda: _ganmut("linear"), "ganmut_gaussian": lambda: _ganmut("gaussian")}


def _train(make, ds, batch, strategy, run_dir, steps=3):
    keras.utils.set_random_seed(7)
    with strategy.scope():
        model = make()
    cfg = training.TrainConfig(steps=steps, batch_size=batch, checkpoint_every=0, sample_every=0, log_every=1,
                               verbose=False)
    training.train(model, ds, run_dir, cfg, strategy)
    header, *rows = (run_dir / "logs" / "losses.csv").read_text().split()
    losses = {name: np.array([float(r.split(",")[i]) for r in rows]) for i, name in enumerate(header.split(","))}
    weights = [w.copy() for net in model.networks().values() for w in net.get_weights()]
    return losses, weights


@pytest.mark.stress
@pytest.mark.parametrize("system", sorted(SYSTEMS))
def test_one_and_two_replicas_give_the_same_losses(system, tmp_path, float32_policy, mirrored_cpu):
    make, ds, batch = SYSTEMS[system]()
    one, w_one = _train(make, ds, batch, tf.distribute.get_strategy(), tmp_path / "one")
    two, w_two = _train(make, ds, batch, mirrored_cpu, tmp_path / "two")
    assert list(one["step"]) == [1, 2, 3] and set(one) == set(two)
    moved = [k for k in one if k != "step" and np.ptp(one[k]) > 0]
    assert moved, "the losses must move over three steps"
    for name in one:
        np.testing.assert_allclose(two[name], one[name], rtol=2e-4, atol=2e-5, err_msg=f"{system}: {name}")
    # Adam moves a weight whose gradient is ~0 by up to lr whatever the gradient's rounding, so a few such weights
    # differ at the level of float32 noise; all the others must agree closely.
    a, b = (np.concatenate([w.ravel() for w in ws]) for ws in (w_one, w_two))
    close = np.abs(a - b) <= 2e-5 + 1e-3 * np.abs(a)
    assert close.mean() > 0.995, f"{system}: only {close.mean():.4f} of the weights agree"


def test_a_batch_that_does_not_split_is_refused_with_the_nearest_that_do():
    assert training.check_global_batch(48, 2) == 24
    with pytest.raises(ValueError, match=r"--batch-size 49 .* 2 replicas; use 48 or 50"):
        training.check_global_batch(49, 2)
    with pytest.raises(ValueError, match=r"use 8 or 16"):
        training.check_global_batch(13, 8)
    with pytest.raises(ValueError, match=r"use 8\b"):
        training.check_global_batch(5, 8)


def test_sub_batches_are_split_across_replicas_in_order():
    ds = tf.data.Dataset.range(100).map(lambda i: {"i": i})
    # 2 parts x 2 replicas of a global batch of 8: replica 0 gets rows 0,1 (part 0) and 4,5 (part 1)
    b = next(iter(training.batches(ds, 8, replicas=2, parts=2)))
    assert b["i"].numpy().tolist() == [0, 1, 4, 5, 2, 3, 6, 7]
    assert next(iter(training.batches(ds, 8, replicas=1, parts=2)))["i"].numpy().tolist() == list(range(8))


def test_a_stream_starts_anywhere_with_the_same_examples_and_draws():
    arr = {"a": np.arange(7, dtype=np.int64)}
    s = training.add_noise(streams.from_tensors(arr, seed=3), "z", (2,), seed=1)
    full = list(s.dataset(0).take(30).as_numpy_iterator())
    for start in (0, 5, 7, 19):
        part = list(s.dataset(start).take(30 - start).as_numpy_iterator())
        for x, y in zip(full[start:], part):
            assert x["a"] == y["a"] and np.array_equal(x["z"], y["z"])
    epochs = [sorted(e["a"] for e in full[k * 7:(k + 1) * 7]) for k in range(4)]
    assert all(e == list(range(7)) for e in epochs), "every epoch visits every example once"
    orders = {tuple(e["a"] for e in full[k * 7:(k + 1) * 7]) for k in range(4)}
    assert len(orders) > 1, "epochs are reshuffled"


def test_a_file_stream_skips_without_decoding(tmp_path, monkeypatch):
    from PIL import Image

    paths = []
    for i in range(6):
        p = tmp_path / f"{i}.png"
        Image.fromarray(np.full((8, 8, 3), i * 40, np.uint8)).save(p)
        paths.append(str(p))
    decoded = []
    original = pipeline._decode_pil

    def counting(*a):
        decoded.append(1)
        return original(*a)

    monkeypatch.setattr(pipeline, "_decode_pil", counting)
    scan = pipeline.Scan(summary=pipeline.ReadSummary("t"), labels={"k": np.arange(6)}, paths=np.array(paths),
                         boxes=np.array([[0, 0, 8, 8]] * 6), decoder="pil")
    s = scan.stream(8, 3, seed=0)
    full = [(int(e["k"]), float(e["image"].mean())) for e in s.dataset(0).take(30).as_numpy_iterator()]
    assert sorted(k for k, _ in full[:6]) == list(range(6))
    decoded.clear()
    later = [(int(e["k"]), float(e["image"].mean())) for e in s.dataset(6000 + 24).take(6).as_numpy_iterator()]
    # position 6024 is epoch 1004: its own permutation, reached without decoding the 6,024 images before it
    assert len(decoded) < 40
    assert sorted(k for k, _ in later) == list(range(6))
    again = [(int(e["k"]), float(e["image"].mean())) for e in s.dataset(24).take(6).as_numpy_iterator()]
    assert again == full[24:30]


def _rows(run_dir):
    return (run_dir / "logs" / "losses.csv").read_text().splitlines()


@pytest.mark.stress
@pytest.mark.parametrize("system", sorted(SYSTEMS))
def test_a_resumed_run_equals_the_uninterrupted_one_row_for_row(system, tmp_path, float32_policy):
    make, ds, batch = SYSTEMS[system]()
    _train(make, ds, batch, tf.distribute.get_strategy(), tmp_path / "whole", steps=4)

    def part(steps):
        keras.utils.set_random_seed(7)
        model = make()
        cfg = training.TrainConfig(steps=steps, batch_size=batch, checkpoint_every=0, sample_every=0, log_every=1,
                                   verbose=False)
        return training.train(model, ds, tmp_path / "resumed", cfg)

    assert part(2).restored_from is None
    # a new model (other initial weights would show) restored from step 2 reads batches 3 and 4 and their draws
    keras.utils.set_random_seed(99)
    second = part(4)
    assert second.restored_from == 2 and second.step == 4
    assert _rows(tmp_path / "resumed") == _rows(tmp_path / "whole")


@pytest.mark.stress
def test_a_run_resumes_on_another_number_of_replicas_at_the_same_global_batch(tmp_path, float32_policy,
                                                                            mirrored_cpu):
    make, ds, batch = SYSTEMS["ganmut"]()
    whole, _ = _train(make, ds, batch, tf.distribute.get_strategy(), tmp_path / "whole", steps=4)
    _train(make, ds, batch, tf.distribute.get_strategy(), tmp_path / "switched", steps=2)
    switched, _ = _train(make, ds, batch, mirrored_cpu, tmp_path / "switched", steps=4)
    events = [line for line in (tmp_path / "switched" / "logs" / "events.jsonl").read_text().splitlines()
              if '"restored"' in line]
    assert '"replicas": 2' in events[-1] and f'"global_batch": {batch}' in events[-1]
    for name in whole:
        np.testing.assert_allclose(switched[name], whole[name], rtol=2e-4, atol=2e-5, err_msg=name)


def test_long_lived_pipelines_run_without_the_tuning_thread_and_keep_their_batches():
    # Deleting an iterator waits for tf.data's autotuning thread, which in TensorFlow 2.21 sometimes sleeps out the
    # rest of its (up to a minute long) interval: the training stream and the readers' training streams turn
    # autotuning off. The batches must not change.
    from tfgan_emotion.eval import caae as caae_eval
    from tfgan_emotion.eval import common

    arr = {"image": np.random.default_rng(0).random((12, 4, 4, 3), dtype=np.float32),
           "valence": np.linspace(-1, 1, 12, dtype=np.float32), "arousal": np.linspace(1, -1, 12, dtype=np.float32)}
    stream = training.add_noise(streams.from_tensors(arr, seed=3), "z", (2,), seed=1)
    tuned = stream.dataset(5).batch(4, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    made = {"training stream": training.batches(stream, 4, start=5),
            "plain dataset": training.batches(tf.data.Dataset.from_tensor_slices(arr), 4),
            "reader batches": common.index_batches(12, 4, 0, (arr["image"], arr["valence"])),
            "reader stream": caae_eval.stream_batches(tf.data.Dataset.from_tensor_slices(arr), 4)}
    for name, ds in made.items():
        assert ds.options().autotune.enabled is False, name
    for a, b in zip(tuned.take(6).as_numpy_iterator(), made["training stream"].take(6).as_numpy_iterator()):
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert tuned.options().autotune.enabled is not False   # the comparison above is against a tuned pipeline
