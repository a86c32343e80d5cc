"""The shared GAN loss terms (tfgan_emotion.gans.losses) against independent NumPy computations, their float32
results for float16 inputs (mixed precision), and their reduction over the global batch on 2 replicas."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgan_emotion.gans import losses as L


def _sigmoid_ce_numpy(logits, target):
    """-t log sigmoid(l) - (1 - t) log(1 - sigmoid(l)) in float64, with -log sigmoid(l) = log(1 + exp(-l))."""
    logits = np.asarray(logits, np.float64)
    return target * np.logaddexp(0.0, -logits) + (1.0 - target) * np.logaddexp(0.0, logits)


@pytest.mark.parametrize("target", [1.0, 0.0])
def test_sigmoid_cross_entropy_matches_the_numpy_formula(target):
    rng = np.random.default_rng(0)
    logits = np.concatenate([rng.normal(0.0, 3.0, (14, 1)), [[40.0], [-40.0]]]).astype(np.float32)  # and saturated
    expected = _sigmoid_ce_numpy(logits, target)
    each = L.sigmoid_cross_entropy(logits, target, reduction="none")
    assert each.dtype == tf.float32 and each.shape == (16, 1)
    np.testing.assert_allclose(each.numpy(), expected, rtol=1e-6, atol=1e-7)
    mean = L.sigmoid_cross_entropy(logits, target)
    assert mean.shape == () and np.isfinite(mean.numpy())
    np.testing.assert_allclose(mean.numpy(), expected.mean(), rtol=1e-6)


def test_sigmoid_cross_entropy_equals_keras_binary_crossentropy_bit_for_bit():
    """CAAE used Keras' BinaryCrossentropy(from_logits=True) before; the shared function gives the same bits."""
    logits = tf.constant(np.random.default_rng(1).normal(0.0, 2.0, (9, 1)).astype(np.float32))
    bce = keras.losses.BinaryCrossentropy(from_logits=True, reduction="none")
    for target in (1.0, 0.0):
        ref = tf.reduce_mean(bce(tf.fill(tf.shape(logits), target), logits))
        assert L.sigmoid_cross_entropy(logits, target).numpy() == ref.numpy()


def test_float16_inputs_give_float32_losses():
    rng = np.random.default_rng(2)
    a16 = rng.normal(size=(4, 3, 3, 2)).astype(np.float16)
    b32 = rng.normal(size=(4, 3, 3, 2)).astype(np.float32)
    a64 = a16.astype(np.float64)
    for got, want in [
        (L.sigmoid_cross_entropy(a16, 1.0), _sigmoid_ce_numpy(a64, 1.0).mean()),
        (L.mean_absolute_error(a16, b32), np.abs(a64 - b32).mean()),
        (L.mean_squared_error(a16, b32), np.square(a64 - b32).mean()),
        (L.wasserstein_critic_loss(a16, b32), -(a64.mean() - b32.astype(np.float64).mean())),
        (L.wasserstein_generator_loss(a16), -a64.mean()),
        (L.masked_mean(a16[:, 0, 0, 0], np.array([1, 0, 1, 1], np.float16)), a64[[0, 2, 3], 0, 0, 0].mean()),
    ]:
        assert got.dtype == tf.float32 and got.shape == ()
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)


def test_mean_absolute_and_squared_error_average_over_every_element():
    a = np.array([[1.0, -2.0], [0.5, 3.0]], np.float32)
    b = np.array([[0.0, 1.0], [0.5, -1.0]], np.float32)
    assert float(L.mean_absolute_error(a, b)) == pytest.approx((1 + 3 + 0 + 4) / 4)
    assert float(L.mean_squared_error(a, b)) == pytest.approx((1 + 9 + 0 + 16) / 4)
    assert float(L.mean_absolute_error(b, a)) == float(L.mean_absolute_error(a, b))


def test_masked_mean_counts_only_the_masked_examples_and_is_zero_without_any():
    values = tf.constant([1.0, 2.0, 4.0, 8.0])
    assert float(L.masked_mean(values, [1.0, 0.0, 1.0, 0.0])) == pytest.approx(2.5)
    assert float(L.masked_mean(values, tf.constant([False, True, True, True]))) == pytest.approx(14.0 / 3.0)
    with tf.GradientTape() as tape:
        tape.watch(values)
        none = L.masked_mean(values, tf.zeros(4))
    assert float(none) == 0.0
    np.testing.assert_array_equal(tape.gradient(none, values).numpy(), np.zeros(4))   # no NaN gradient


def test_wasserstein_terms_on_critic_patches():
    rng = np.random.default_rng(3)
    real = rng.normal(size=(5, 2, 2, 1)).astype(np.float32)
    fake = rng.normal(size=(5, 2, 2, 1)).astype(np.float32)
    np.testing.assert_allclose(L.wasserstein_critic_loss(real, fake).numpy(), fake.mean() - real.mean(), rtol=1e-5)
    np.testing.assert_allclose(L.wasserstein_generator_loss(fake).numpy(), -fake.mean(), rtol=1e-5)


def test_unknown_reduction_is_refused():
    with pytest.raises(ValueError, match="reduction"):
        L.sigmoid_cross_entropy([[0.0]], 1.0, reduction="sum")


def test_per_replica_means_reduce_to_the_global_batch_mean_on_two_replicas(mirrored_cpu):
    """Each replica's loss is the mean over its half of the global batch; GANModel.update scales it by 1 / replicas
    before the gradient, so the loss and the gradients summed over the replicas are those of the global batch."""
    strategy = mirrored_cpu
    replicas = strategy.num_replicas_in_sync
    assert replicas == 2
    rng = np.random.default_rng(4)
    x = rng.normal(size=(8, 3)).astype(np.float32)
    w0 = rng.normal(size=(3, 1)).astype(np.float32)
    with strategy.scope():
        w = tf.Variable(w0)
    shards = strategy.experimental_distribute_values_from_function(
        lambda ctx: tf.constant(np.split(x, replicas)[ctx.replica_id_in_sync_group]))

    @tf.function
    def step(shard):
        def replica_fn(xs):
            with tf.GradientTape() as tape:
                loss = L.sigmoid_cross_entropy(tf.matmul(xs, w), 1.0) / replicas
            return loss, tape.gradient(loss, w)
        loss, grad = strategy.run(replica_fn, args=(shard,))
        return (strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
                strategy.reduce(tf.distribute.ReduceOp.SUM, grad, axis=None))

    loss, grad = step(shards)
    logits = x.astype(np.float64) @ w0
    np.testing.assert_allclose(loss.numpy(), _sigmoid_ce_numpy(logits, 1.0).mean(), rtol=1e-5)
    # d/dw mean(log(1 + exp(-x w))) = mean(-(1 - sigmoid(x w)) x)
    expected_grad = (-(1.0 - 1.0 / (1.0 + np.exp(-logits))) * x).mean(axis=0)[:, None]
    np.testing.assert_allclose(grad.numpy(), expected_grad, rtol=1e-5, atol=1e-7)
