"""Loss terms shared by the GAN models of this package (CAAE, cGAN, DCGAN, FExGAN, GANmut).

Every function is pure: it takes tensors (or anything ``tf.convert_to_tensor`` accepts) and returns a tensor, with
no variables and no state. Inputs are cast to float32 first, so that the losses stay in float32 when the networks
compute in float16 under the ``mixed_float16`` policy; the result is float32.

Reduction: a scalar loss is the mean over all the elements of the replica's own batch (``reduction="mean"``).
Under ``tf.distribute`` every replica computes its loss on its share of the global batch; the training step
(``GANModel.update``) scales each replica's loss by 1 / replicas before taking gradients, so the gradients summed
over the replicas are those of the loss averaged over the global batch (the replicas' batches are equal, as the
global batch is cut with ``drop_remainder``). The functions here therefore never divide by the global batch size
themselves.
"""
from __future__ import annotations

import tensorflow as tf

REDUCTIONS = ("mean", "none")


def _reduce(values: tf.Tensor, reduction: str) -> tf.Tensor:
    if reduction == "mean":
        return tf.reduce_mean(values)
    if reduction == "none":
        return values
    raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def sigmoid_cross_entropy(logits, target: float, reduction: str = "mean") -> tf.Tensor:
    """Sigmoid cross-entropy of ``logits`` against the constant label ``target`` (1.0 real, 0.0 fake).

    Element-wise ``-target log sigmoid(l) - (1 - target) log(1 - sigmoid(l))``, computed stably as
    ``max(l, 0) - l target + log(1 + exp(-|l|))`` (``tf.nn.sigmoid_cross_entropy_with_logits``).

    Args:
        logits: discriminator logits of any shape, typically [B, 1]; cast to float32.
        target: the label of every element, a Python float.
        reduction: ``"mean"``: the scalar mean over all elements; ``"none"``: the element-wise values, with the
            shape of ``logits`` (to add the terms of one example before averaging).

    Returns:
        A float32 scalar, or a float32 tensor shaped like ``logits``.
    """
    logits = tf.cast(logits, tf.float32)
    values = tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.fill(tf.shape(logits), target), logits=logits)
    return _reduce(values, reduction)


def mean_absolute_error(a, b) -> tf.Tensor:
    """L1 distance as a mean: ``mean |a - b|`` over all elements (all examples, pixels and channels).

    Args:
        a, b: tensors of the same shape (e.g. images [B, H, W, C]); cast to float32.

    Returns:
        A float32 scalar.
    """
    return tf.reduce_mean(tf.abs(tf.cast(a, tf.float32) - tf.cast(b, tf.float32)))


def mean_squared_error(a, b) -> tf.Tensor:
    """Squared L2 distance as a mean: ``mean (a - b)^2`` over all elements (all examples and components).

    Args:
        a, b: tensors of the same shape (images [B, H, W, C], latent codes [B, D]); cast to float32.

    Returns:
        A float32 scalar.
    """
    return tf.reduce_mean(tf.square(tf.cast(a, tf.float32) - tf.cast(b, tf.float32)))


def masked_mean(values, mask) -> tf.Tensor:
    """Mean of ``values`` over the examples where ``mask`` is 1: ``sum(mask values) / sum(mask)``, and 0 when the
    mask is all zero (no NaN). Under ``tf.distribute`` the mean is over the whole global batch (the count is summed
    over the replicas, :func:`training.share_of_mean`), so a replica whose rows are all masked out still gives the
    same gradients and logged value as one replica holding the whole batch.

    Args:
        values: per-example losses [B]; cast to float32.
        mask: [B] weights, 1.0 to count an example and 0.0 to leave it out; cast to float32.

    Returns:
        A float32 scalar.
    """
    from ..training import share_of_mean, sum_over_replicas

    mask = tf.cast(mask, tf.float32)
    return share_of_mean(tf.reduce_sum(mask * tf.cast(values, tf.float32)), sum_over_replicas(tf.reduce_sum(mask)))


def wasserstein_critic_loss(real_scores, fake_scores) -> tf.Tensor:
    """The critic's WGAN term: ``-(mean D(x) - mean D(G(.)))``, minimised by scoring real images high and generated
    ones low.

    Args:
        real_scores: critic outputs on real images, any shape (e.g. a patch [B, h, w, 1]); cast to float32.
        fake_scores: critic outputs on generated images, any shape; cast to float32.

    Returns:
        A float32 scalar: each mean is over all elements of its tensor.
    """
    return -(tf.reduce_mean(tf.cast(real_scores, tf.float32)) - tf.reduce_mean(tf.cast(fake_scores, tf.float32)))


def wasserstein_generator_loss(fake_scores) -> tf.Tensor:
    """The generator's WGAN term: ``-mean D(G(.))``.

    Args:
        fake_scores: critic outputs on generated images, any shape; cast to float32.

    Returns:
        A float32 scalar, the mean over all elements.
    """
    return -tf.reduce_mean(tf.cast(fake_scores, tf.float32))
