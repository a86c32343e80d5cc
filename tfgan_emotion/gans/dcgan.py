"""Conditional DCGAN on fer2013 with an inverse encoder for emotion transfer (paper 003; SPECS "fer2013 conditional
DCGAN").

Players: the discriminator D and the generator G (the cDCGAN, paper 2.2.1), and the encoder E (paper 2.2.2).

    L_D = BCE(1, D(x, y)) + BCE(0, D(G(z, y), y))        L_G = BCE(1, D(G(z, y), y))        (sigmoid cross-entropy)
    L_E (``encoder_loss="image"``, paper eq. 14)  = mean (x - G(E(x, y), y))^2
    L_E (``encoder_loss="latent"``, paper eq. 13) = mean (z - E(G(z, y'), y'))^2,   z ~ U(-1, 1)^100, y' random

with z ~ U(-1, 1)^100 drawn per example by the pipeline and y the real batch's labels (as DCGAN-tensorflow feeds
them to G). E is always trained with G FROZEN and in INFERENCE mode (BN moving statistics): only E's variables are
in E's optimizer, and G is called with ``training=False``. Paper eq. 14 writes a sum of squares; the code takes
the mean, which we follow (a constant factor).

Schedules (SPECS):

- ``"two_phase"`` (default, the paper: "First we trained the DCGAN ... Then ... we trained E"): ``phase="gan"``
  updates D and G, ``phase="encoder"`` updates E only. The recipe trains the first phase to its step count, sets
  :attr:`DCGAN.phase`, and trains on to the total; a resumed run continues in the phase its step count is in.
- ``"joint"`` (the authors' final code): D, G and E each updated once per step.

Data: pixels in [-1, 1] to match G's tanh (SPECS: the code's [0, 1] scaling is a bug we do not reproduce).
Adam 2e-4 / beta1 0.5 (paper 3), batch 64, 50 epochs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from ..nets import dcgan as dcgan_nets
from ..training import GANModel, make_adam
from .losses import mean_squared_error, sigmoid_cross_entropy

ENCODER_LOSSES = ("image", "latent")
SCHEDULES = ("two_phase", "joint")


@dataclass(frozen=True)
class DCGANConfig:
    image_size: int = 48            # SPECS: 48x48x1
    channels: int = 1
    n_classes: int = 7
    z_dim: int = 100                # SPECS: z ~ U(-1, 1)^100
    width: float = 1.0
    batch_size: int = 64            # paper 3
    learning_rate: float = 2e-4     # paper 3
    beta_1: float = 0.5             # paper 3
    beta_2: float = 0.999           # Adam default (paper: not given)
    encoder_loss: str = "image"     # paper eq. 14 ("latent": eq. 13)
    schedule: str = "two_phase"     # paper; "joint": the authors' final code

    def __post_init__(self):
        if self.encoder_loss not in ENCODER_LOSSES:
            raise ValueError(f"encoder_loss must be one of {ENCODER_LOSSES}, got {self.encoder_loss!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")


def image_encoder_loss(generator, encoder, x, y) -> tf.Tensor:
    """Paper eq. 14 (mean form): mean (x - G(E(x, y), y))^2 with G in inference mode."""
    z = encoder([x, y], training=True)
    return mean_squared_error(x, generator([z, y], training=False))


def latent_encoder_loss(generator, encoder, z, y) -> tf.Tensor:
    """Paper eq. 13 as a loss: mean (z - E(G(z, y), y))^2 with G in inference mode."""
    x = tf.stop_gradient(generator([z, y], training=False))
    return mean_squared_error(z, encoder([x, y], training=True))


class DCGAN(GANModel):
    """Generator, discriminator and encoder with the training steps of both schedules."""

    def __init__(self, config: DCGANConfig = DCGANConfig(), sample_labels: np.ndarray | None = None, seed: int = 0,
                 **kwargs):
        super().__init__(**kwargs)
        self.config = c = config
        nets = dcgan_nets.build(c.z_dim, c.n_classes, c.channels, c.width, c.image_size)
        self.generator, self.discriminator, self.encoder = nets["generator"], nets["discriminator"], nets["encoder"]
        adam = lambda name: make_adam(c.learning_rate, c.beta_1, c.beta_2, name=name)  # noqa: E731
        self.add_player("d", adam("d_adam"), [self.discriminator])
        self.add_player("g", adam("g_adam"), [self.generator])
        self.add_player("e", adam("e_adam"), [self.encoder])
        self.phase = "gan" if c.schedule == "two_phase" else "joint"
        # Fixed sample grid (paper 3: "we randomly sampled 64 points of stochastic noise"): 8x8, one label per row
        # cycling through the classes unless given.
        rng = np.random.default_rng(seed)
        self.sample_z = tf.constant(rng.uniform(-1, 1, (64, c.z_dim)).astype(np.float32))
        labels = np.repeat(np.arange(8) % c.n_classes, 8) if sample_labels is None else np.asarray(sample_labels)
        self.sample_y = tf.constant(np.eye(c.n_classes, dtype=np.float32)[labels[:64]])

    def networks(self) -> dict:
        return {"generator": self.generator, "discriminator": self.discriminator, "encoder": self.encoder}

    def labels(self, batch) -> tf.Tensor:
        return tf.one_hot(tf.cast(batch["expression"], tf.int32), self.config.n_classes)

    def transfer(self, images, labels, training: bool = False):
        """G(E(x, y), y): ``images`` re-generated with the one-hot ``labels`` (paper Fig. 6/7). E sees the same label
        as G, the target one, as in the paper's test ("feed z into G with label 3")."""
        images = tf.convert_to_tensor(images, tf.float32)
        labels = tf.convert_to_tensor(labels, tf.float32)
        z = self.encoder([images, labels], training=training)
        return tf.cast(self.generator([z, labels], training=training), tf.float32)

    def _gan_losses(self, batch):
        x = tf.cast(batch["image"], tf.float32)
        y = self.labels(batch)
        g = self.generator([batch["z"], y], training=True)
        d_real = self.discriminator([x, y], training=True)
        d_fake = self.discriminator([g, y], training=True)
        d_loss_real, d_loss_fake = sigmoid_cross_entropy(d_real, 1.0), sigmoid_cross_entropy(d_fake, 0.0)
        return {"d_loss": d_loss_real + d_loss_fake, "d_real": d_loss_real, "d_fake": d_loss_fake,
                "g_loss": sigmoid_cross_entropy(d_fake, 1.0)}

    def _encoder_loss(self, batch):
        c = self.config
        if c.encoder_loss == "image":
            return image_encoder_loss(self.generator, self.encoder, tf.cast(batch["image"], tf.float32),
                                      self.labels(batch))
        cls = tf.cast(tf.floor((batch["y_random"] + 1.0) * 0.5 * c.n_classes), tf.int32)
        y = tf.one_hot(tf.minimum(cls, c.n_classes - 1), c.n_classes)
        return latent_encoder_loss(self.generator, self.encoder, batch["z"], y)

    def train_step(self, batch):
        out = {}
        if self.phase in ("gan", "joint"):
            with tf.GradientTape(persistent=True) as tape:
                losses = self._gan_losses(batch)
            self.update("d", tape, losses["d_loss"])
            self.update("g", tape, losses["g_loss"])
            del tape
            out.update(losses)
        if self.phase in ("encoder", "joint"):
            with tf.GradientTape() as tape:
                e_loss = self._encoder_loss(batch)
            self.update("e", tape, e_loss)
            out["e_loss"] = e_loss
        return out

    sample_columns = 8

    def sample_images(self):
        return tf.cast(self.generator([self.sample_z, self.sample_y], training=False), tf.float32)


def saved_model_endpoints(model: DCGAN) -> dict:
    """SavedModel signatures (images in [-1, 1], ``label`` = class indices 0 .. n_classes - 1 in the run's class
    order: fer2013's, or your data's as listed in the SavedModel's classes.json): ``generate(z, label) ->
    {"image"}`` and ``transfer(image, label) -> {"image"}`` (G(E(x, y), y))."""
    c = model.config
    gen, enc = model.generator, model.encoder

    def generate(z, label):
        y = tf.one_hot(label, c.n_classes)
        return {"image": tf.cast(gen([z, y], training=False), tf.float32)}

    def transfer(image, label):
        y = tf.one_hot(label, c.n_classes)
        return {"image": tf.cast(gen([enc([image, y], training=False), y], training=False), tf.float32)}

    label_spec = tf.TensorSpec([None], tf.int32, name="label")
    return {"generate": (generate, [tf.TensorSpec([None, c.z_dim], tf.float32, name="z"), label_spec]),
            "transfer": (transfer, [tf.TensorSpec([None, c.image_size, c.image_size, c.channels], tf.float32,
                                                  name="image"), label_spec])}

