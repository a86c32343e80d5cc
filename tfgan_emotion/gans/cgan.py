"""Conditional DCGAN trained on one-hot labels, queried with interpolated labels (paper 000; SPECS
"Label-interpolation cGAN").

    L_D = BCE(1, D(x, v)) + BCE(0, D(G(z, v), v))        L_G = BCE(1, D(G(z, v), v))      (sigmoid cross-entropy)

with v the one-hot label of the real batch (paper eq. 1-2: training labels are one-hot) and z ~ U(-1, 1)^100 drawn
per example by the pipeline (ours: the paper follows DCGAN, whose reference code draws uniform noise). Adam 2e-4 /
beta1 0.5 (Fashion-MNIST, CIFAR-10; paper 4.2-4.3) or 1e-4 (FACES; paper 5.4). After training, any label with
sum(v) = 1 may be fed to the generator (``conditioning.py``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from ..nets import cgan as cgan_nets
from ..training import GANModel, make_adam
from .losses import sigmoid_cross_entropy


@dataclass(frozen=True)
class CGANConfig:
    image_size: int = 28
    channels: int = 1
    n_classes: int = 10
    z_dim: int = 100
    width: float = 1.0
    batch_size: int = 32            # paper 4.2-4.3: batches of 32
    learning_rate: float = 2e-4     # paper 4.2-4.3 (FACES: 1e-4, paper 5.4)
    beta_1: float = 0.5
    beta_2: float = 0.999


class CGAN(GANModel):
    """Generator and discriminator with the cGAN step. Batches carry ``image``, ``expression`` (the class index, as
    every reader names it) and ``z``."""

    def __init__(self, config: CGANConfig = CGANConfig(), seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.config = c = config
        nets = cgan_nets.build(c.image_size, c.channels, c.n_classes, c.z_dim, c.width)
        self.generator, self.discriminator = nets["generator"], nets["discriminator"]
        self.add_player("d", make_adam(c.learning_rate, c.beta_1, c.beta_2, name="d_adam"), [self.discriminator])
        self.add_player("g", make_adam(c.learning_rate, c.beta_1, c.beta_2, name="g_adam"), [self.generator])
        rows = min(c.n_classes, 10)
        rng = np.random.default_rng(seed)
        self.sample_z = tf.constant(rng.uniform(-1, 1, (rows * 8, c.z_dim)).astype(np.float32))
        self.sample_v = tf.constant(np.eye(c.n_classes, dtype=np.float32)[np.repeat(np.arange(rows), 8)])

    def networks(self) -> dict:
        return {"generator": self.generator, "discriminator": self.discriminator}

    def generate(self, z, labels, training: bool = False):
        """G(z, v) for float label vectors ``labels`` [N, n_classes] (one-hot or interpolated)."""
        return tf.cast(self.generator([tf.convert_to_tensor(z, tf.float32), tf.convert_to_tensor(labels, tf.float32)],
                                      training=training), tf.float32)

    def train_step(self, batch):
        c = self.config
        x = tf.cast(batch["image"], tf.float32)
        v = tf.one_hot(tf.cast(batch["expression"], tf.int32), c.n_classes)
        with tf.GradientTape(persistent=True) as tape:
            g = self.generator([batch["z"], v], training=True)
            d_real = self.discriminator([x, v], training=True)
            d_fake = self.discriminator([g, v], training=True)
            d_loss = sigmoid_cross_entropy(d_real, 1.0) + sigmoid_cross_entropy(d_fake, 0.0)
            g_loss = sigmoid_cross_entropy(d_fake, 1.0)
        self.update("d", tape, d_loss)
        self.update("g", tape, g_loss)
        del tape
        return {"d_loss": d_loss, "g_loss": g_loss}

    sample_columns = 8

    def sample_images(self):
        return self.generate(self.sample_z, self.sample_v)


def saved_model_endpoints(model: CGAN) -> dict:
    """``generate(z, label) -> {"image"}`` with ``label`` a float vector per image (one-hot or interpolated)."""
    c = model.config
    gen = model.generator

    def generate(z, label):
        return {"image": tf.cast(gen([z, label], training=False), tf.float32)}

    return {"generate": (generate, [tf.TensorSpec([None, c.z_dim], tf.float32, name="z"),
                                    tf.TensorSpec([None, c.n_classes], tf.float32, name="label")])}
