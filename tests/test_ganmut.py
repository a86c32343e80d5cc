"""GANmut (paper 002; SPECS "GANmut"): networks, the polar conditional space, losses, the learning-rate rule,
and a few training steps on tiny data (one device and a 2-replica MirroredStrategy)."""
import math

import numpy as np
import pytest
import tensorflow as tf
import keras

from tfgan_emotion import conditioning as C
from tfgan_emotion import training
from tfgan_emotion.data import synthetic as synth
from tfgan_emotion.gans import ganmut as GM
from tfgan_emotion.nets import ganmut as N

TINY = dict(image_size=32, width=0.125, residual_blocks=2, batch_size=4, n_critic=2, random_angle_samples=1)


def test_networks_have_the_specs_heads_blocks_and_widths(float32_policy):
    nets = N.build(128)
    g, d = nets["generator"], nets["discriminator"]
    assert g.input_shape == [(None, 128, 128, 3), (None, 2)] and g.output_shape == (None, 128, 128, 3)
    assert g.get_layer("g_concat").output.shape[-1] == 5                          # image + z tiled as 2 channels
    assert [g.get_layer(n).filters for n in ("g_conv1", "g_down1", "g_down2")] == [64, 128, 256]
    assert g.get_layer("g_conv1").kernel_size == (7, 7) and g.get_layer("g_down1").kernel_size == (4, 4)
    assert sum(n.endswith("_add") for n in (layer.name for layer in g.layers)) == 6      # 6 residual blocks
    assert [g.get_layer(f"g_up{i}").filters for i in (1, 2)] == [128, 64]
    norms = [layer for layer in g.layers if isinstance(layer, keras.layers.GroupNormalization)]
    assert norms and all(n.groups == n.gamma.shape[0] and n.center and n.scale for n in norms)  # affine IN
    assert g.get_layer("g_tanh").activation is keras.activations.tanh
    assert [d.get_layer(f"d_conv{i}").filters for i in range(1, 7)] == [64, 128, 256, 512, 1024, 2048]
    assert d.get_layer("d_lrelu1").negative_slope == pytest.approx(0.01)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in d.layers)
    assert d.output_shape == [(None, 2, 2, 1), (None, 7), (None, 2)]              # D_src patch, D_cls, D_coor
    assert d.get_layer("d_src").kernel_size == (3, 3) and d.get_layer("d_cls_conv").kernel_size == (2, 2)
    assert N.d_blocks(64) == 5 and N.build_discriminator(64, width=0.25).output_shape[0] == (None, 2, 2, 1)
    with pytest.raises(ValueError, match="power of two"):
        N.build_generator(96)


def test_instance_norm_is_per_sample_and_channel(float32_policy, tmp_path):
    from tfgan_emotion.nets.layers import InstanceNormalization

    layer = InstanceNormalization(epsilon=1e-5)
    x = np.random.default_rng(0).normal(3.0, 2.0, (2, 5, 5, 3)).astype(np.float32)
    x[1] *= 10.0
    y = layer(x).numpy()
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0.0, atol=1e-4)    # each sample and channel on its own
    np.testing.assert_allclose(y.std(axis=(1, 2)), 1.0, atol=1e-3)
    # The lean layer is Keras' GroupNormalization(groups=-1) with trained gamma/beta, and saves/loads safely.
    ref = keras.layers.GroupNormalization(groups=-1, epsilon=1e-5)
    ref.build(x.shape)
    rng = np.random.default_rng(1)
    for v in (layer.gamma, layer.beta):
        v.assign(rng.normal(size=3).astype(np.float32))
    ref.gamma.assign(layer.gamma.numpy())
    ref.beta.assign(layer.beta.numpy())
    np.testing.assert_allclose(layer(x).numpy(), ref(x).numpy(), atol=1e-5)
    inp = keras.Input((5, 5, 3))
    keras.Model(inp, layer(inp)).save(tmp_path / "m.keras")
    back = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(back(x).numpy(), ref(x).numpy(), atol=1e-5)
    out = InstanceNormalization(epsilon=1e-5, dtype="mixed_bfloat16")(tf.cast(x, tf.bfloat16))  # stats in float32
    assert out.dtype == tf.bfloat16
    np.testing.assert_allclose(tf.cast(out, tf.float32).numpy().std(axis=(1, 2)), 1.0, atol=0.03)


@pytest.mark.parametrize("shape,kernel,strides,padding", [
    ((3, 4, 4, 6), 4, 2, "same"),      # the critic's last blocks: k4 s2, 4x4 -> 2x2
    ((2, 5, 7, 3), 3, 2, "same"),      # odd sizes: uneven "same" padding
    ((2, 4, 5, 4), (2, 3), 1, "valid"),
])
def test_patch_conv_is_the_convolution_it_replaces(float32_policy, tmp_path, shape, kernel, strides, padding):
    """PatchConv2D's matrix form gives Conv2D's outputs, input and weight gradients and a gradient penalty's
    second-order gradient, and loads back from .keras; above its thresholds it stays a plain convolution."""
    from tfgan_emotion.nets.layers import PatchConv2D

    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=shape).astype(np.float32))
    patch = PatchConv2D(5, kernel, strides=strides, padding=padding)
    patch.MIN_WEIGHTS = 1                                  # the matrix form at this toy size
    ref = keras.layers.Conv2D(5, kernel, strides=strides, padding=padding)
    patch.build(shape)
    ref.build(shape)
    assert patch.uses_matmul(shape) and ref.compute_output_shape(shape) == patch.compute_output_shape(shape)
    patch.kernel.assign(rng.normal(size=patch.kernel.shape).astype(np.float32))
    patch.bias.assign(rng.normal(size=5).astype(np.float32))
    ref.set_weights(patch.get_weights())

    def penalty_and_grads(layer):
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = layer(x)
                score = tf.reduce_sum(tf.sin(y))
            g = inner.gradient(score, x)
            gp = tf.reduce_sum(g * g)
        return (y, g, gp, *outer.gradient(gp, [layer.kernel, layer.bias]))

    for a, b in zip(penalty_and_grads(patch), penalty_and_grads(ref)):
        # Float32 sums in another order: an element is exact to a small fraction of the array's largest (the
        # second-order kernel gradient has elements near 1 among elements near 300, from cancelling sums).
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=2e-5 * max(1.0, np.abs(b.numpy()).max()))
    inp = keras.Input(shape[1:])
    keras.Model(inp, patch(inp)).save(tmp_path / "m.keras")
    back = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(back(x).numpy(), ref(x).numpy(), atol=1e-4)
    assert not PatchConv2D(5, kernel, strides=strides, padding=padding).uses_matmul(shape)  # default: a convolution


def test_full_width_critic_takes_the_matrix_form_only_in_its_last_blocks(float32_policy):
    from tfgan_emotion.nets.layers import PatchConv2D

    d = N.build_discriminator(128)
    blocks = [layer for layer in d.layers if isinstance(layer, PatchConv2D)]
    assert [b.uses_matmul(b.input.shape) for b in blocks] == [False] * 4 + [True] * 2
    small = N.build_discriminator(64, width=0.25)
    assert not any(b.uses_matmul(b.input.shape) for b in small.layers if isinstance(b, PatchConv2D))


def test_gradient_penalty_equals_its_definition_on_a_linear_critic():
    """critic(x) = sum(w * x): the gradient is w for every x^, so GP = (||w|| - 1)^2 whatever real, fake, alpha."""
    rng = np.random.default_rng(0)
    w = tf.constant(rng.normal(size=(1, 3, 3, 2)).astype(np.float32))
    real = rng.normal(size=(4, 3, 3, 2)).astype(np.float32)
    fake = rng.normal(size=(4, 3, 3, 2)).astype(np.float32)
    gp = GM.gradient_penalty(lambda t: tf.reduce_sum(w * t, axis=[1, 2, 3]), real, fake, rng.uniform(size=4))
    assert float(gp) == pytest.approx((np.linalg.norm(w.numpy()) - 1.0) ** 2, rel=1e-5)
    # A quadratic critic 0.5 ||x||^2: gradient x^, GP = mean (||x^|| - 1)^2, checked per sample by hand.
    a = np.array([0.0, 1.0, 0.5, 0.25], np.float32)
    gp2 = GM.gradient_penalty(lambda t: 0.5 * tf.reduce_sum(t * t, axis=[1, 2, 3]), real, fake, a)
    x_hat = a[:, None, None, None] * real + (1 - a[:, None, None, None]) * fake
    expected = np.mean((np.linalg.norm(x_hat.reshape(4, -1), axis=1) - 1.0) ** 2)
    assert float(gp2) == pytest.approx(expected, rel=1e-5)


def test_rho_sampling_ranges_and_the_neutral_threshold():
    u = np.linspace(0, 0.999, 1000).astype(np.float32)
    emo = C.sample_rho(np.full(1000, 3), u).numpy()
    neu = C.sample_rho(np.zeros(1000, int), u).numpy()
    assert emo.min() == pytest.approx(0.2) and emo.max() < 1.0 and neu.min() == 0.0 and neu.max() < 0.2
    assert float(GM.rho_loss(tf.zeros((3, 7)), tf.constant([0.1, 0.15, 0.05]))) == 0.0     # all neutral: no term
    logits = tf.constant(np.log([[0.7] + [0.05] * 6, [0.4] + [0.1] * 6]).astype(np.float32))
    assert float(GM.rho_loss(logits, tf.constant([0.5, 0.1]))) == pytest.approx((0.7 - 0.5) ** 2, rel=1e-5)


def test_training_codes_direction_noise_and_random_angles():
    dirs = tf.constant([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    rho = tf.constant([0.5, 0.8, 0.1])
    noise = tf.constant([[0.01, 0.0], [0.0, -0.02], [0.03, 0.0]])
    z = C.training_codes(dirs, rho, noise, tf.constant([math.pi, 0.0, 0.0]), C.random_angle_mask(3, 1)).numpy()
    np.testing.assert_allclose(z[0], [-0.5, 0.0], atol=1e-6)                    # random angle pi, no noise
    np.testing.assert_allclose(z[1], [0.0, 0.78], atol=1e-6)
    np.testing.assert_allclose(z[2], [0.03, 0.0], atol=1e-6)                    # neutral: noise only
    np.testing.assert_allclose(C.polar_code(math.pi / 2, 0.7).numpy(), [0.0, 0.7], atol=1e-6)
    assert C.direction_angles([[0.0, 1.0], [-1.0, 0.0]], ["a", "b"]) == {"a": 90.0, "b": 180.0}


def test_learned_directions_stay_unit_vectors_under_updates():
    layer = N.build_conditional_space(7, seed=0).get_layer("emotion_directions")
    layer.directions.assign(layer.directions * 37.0)
    opt = keras.optimizers.SGD(5.0)
    for _ in range(3):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(tf.constant([1, 2, 3, 4, 5, 6])) * tf.constant([[1.0, 2.0]]))
        opt.apply(tape.gradient(loss, [layer.directions]), [layer.directions])
    u = layer.unit_directions().numpy()
    np.testing.assert_allclose(np.linalg.norm(u, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(layer(tf.constant([0])).numpy(), [[0.0, 0.0]])


def test_learning_rate_rule_is_the_originals():
    s = GM.GANmutDecay(1e-4, total_iterations=2_000_000, decay_iterations=100_000, update_every=1000)
    assert float(s(0)) == pytest.approx(1e-4)
    # The original lowers the rate after iteration i when (i + 1) % 1000 == 0 and i + 1 > 1,900,000.
    assert float(s(1_900_999)) == pytest.approx(1e-4, rel=1e-7)                 # before the window
    assert float(s(1_901_000)) == pytest.approx(1e-4 * (1 - 1 / 100_000), rel=1e-7)     # first decrement
    assert float(s(1_999_999)) == pytest.approx(1e-4 * (1 - 99 / 100_000), rel=1e-7)   # ~0.1% lower at the end
    # The generator's optimizer counts its own updates: update s runs at iteration 5 (s + 1) - 1.
    lin = GM.GANmutDecay(1.0, total_iterations=100, decay_iterations=50, update_every=1, iterations_per_update=5)
    assert float(lin(9)) == pytest.approx(1.0)                                  # iteration 49: window not open
    assert float(lin(14)) == pytest.approx(1 - 24 / 50) and float(lin(19)) == pytest.approx(1 - 49 / 50)


def _data(n=32, size=32, seed=0):
    d = synth.make_arrays("affectnet", "train", n=n, size=size, seed=seed)
    expr = np.clip(d["expression"], 0, 6).astype(np.int32)
    ds = tf.data.Dataset.from_tensor_slices({"image": d["image"], "expression": expr})
    return GM.attach_draws(ds, seed=seed), d["image"]


@pytest.mark.slow
def test_a_few_steps_move_every_loss_and_the_directions(tmp_path, float32_policy):
    ds, faces = _data()
    cfg = GM.GANmutConfig(**TINY)
    model = GM.GANmut(cfg, sample_faces=faces[:2], seed=0)
    before = model.unit_directions()
    tc = training.TrainConfig(steps=6, batch_size=cfg.step_batch, checkpoint_every=6, sample_every=6, log_every=1,
                              verbose=False)
    result = training.train(model, ds, tmp_path, tc)
    assert result.step == 6
    header, *rows = (tmp_path / "logs" / "losses.csv").read_text().split()
    cols = header.split(",")
    values = np.array([[float(v) for v in r.split(",")] for r in rows])
    assert np.all(np.isfinite(values))
    for name in ("d_adv", "d_cls", "d_gp", "d_info", "g_adv", "g_cls", "g_rho", "g_info", "g_rec"):
        col = values[:, cols.index(name)]
        assert np.ptp(col) > 0, f"{name} did not move: {col}"
    after = model.unit_directions()
    assert not np.allclose(before, after) and np.allclose(np.linalg.norm(after, axis=1), 1.0, atol=1e-5)
    assert model.sample_images().shape == (16, 32, 32, 3)
    edited = model.edit(faces[:3], theta=[0.0, 1.0, 2.0], rho=0.5)
    assert edited.shape == (3, 32, 32, 3) and np.abs(edited.numpy()).max() <= 1.0


def test_eager_edits_run_one_traced_generator_that_reads_the_current_weights(float32_policy):
    from tfgan_emotion.eval.common import inference_fn

    _, faces = _data(n=4)
    faces = tf.constant(faces[:3])
    model = GM.GANmut(GM.GANmutConfig(**TINY), seed=0)
    theta, rho = np.array([0.0, 1.0, 2.0], np.float32), np.float32(0.5)
    z = C.polar_code(theta, np.full(3, rho, np.float32))
    direct = model.generator([faces[:3], z], training=False).numpy()
    np.testing.assert_allclose(model.edit(faces[:3], theta, rho).numpy(), direct, atol=1e-5)
    one = model.edit_emotion(faces[:1], 2, 0.7).numpy()
    np.testing.assert_allclose(one, model.generator([faces[:1], model.code(tf.constant([2]), tf.constant([0.7]))],
                                                    training=False).numpy(), atol=1e-5)
    fn = inference_fn(model.generator)                  # the cache the eager edits use
    assert fn.experimental_get_tracing_count() == 1, "batch sizes 3 and 1 share one trace"
    # the output convolution's kernel, negated (a kernel followed by instance norm could be scaled without effect)
    kernel = [v for v in model.generator.trainable_variables if len(v.shape) == 4][-1]
    kernel.assign(-kernel)
    assert not np.allclose(model.edit(faces[:3], theta, rho).numpy(), direct, atol=1e-3), "new weights are used"
    assert fn.experimental_get_tracing_count() == 1


@pytest.mark.stress
def test_trains_under_mirrored_strategy(tmp_path, float32_policy, mirrored_cpu):
    ds, faces = _data()
    cfg = GM.GANmutConfig(**TINY)
    with mirrored_cpu.scope():
        model = GM.GANmut(cfg, seed=0)
    tc = training.TrainConfig(steps=2, batch_size=cfg.step_batch, checkpoint_every=2, sample_every=0, log_every=1,
                              verbose=False)
    assert training.train(model, ds, tmp_path, tc, mirrored_cpu).step == 2
