"""FExGAN: VAE encoder + conditional decoder + auxiliary-classifier discriminator (paper 004; SPECS "FExGAN").

One ``train_step`` updates the generator (encoder and decoder together, one player) and the discriminator from
the same forward pass. With ``x_s`` the source image of affect ``A_s``, ``A_t`` the target affect, ``x_t`` an image
of the same character showing ``A_t`` (data/pairs.py) and ``G = decoder(encoder(x_s, A_s), A_t)``:

    L_gen = alpha_t BCE(1, D_bin(G)) + alpha_cls CCE(t, D_cls(G)) + beta L_KL + gamma mean|G - x_t|    eq. 1-4
    L_D   = [BCE(1, D_bin(x_s)) + CCE(s, D_cls(x_s))] + [BCE(0, D_bin(G)) + CCE(t, D_cls(G))]        eq. 5-7

- L_KL is the closed form of KL(N(mu, sigma^2) || N(0, 1)) summed over the 128 latent dimensions and averaged over
  the batch, with the encoder's ``log_sigma`` = log sigma (SPECS: z = mu + exp(log_sigma) eps):
  ``-1/2 sum(1 + 2 log_sigma - mu^2 - exp(2 log_sigma))``. Paper eq. 3 writes the same expression with its sigma
  standing for log sigma^2.
- L_rec: paper eq. 2 is a sum of absolute differences; we use the mean over pixels (the sum is the mean times the
  pixel count, a constant absorbed into gamma), so gamma does not depend on the image size.
- Paper eq. 1 puts the binary and the multi-class term of L_GAN^G under one weight alpha; paper 4.2 reduces "the
  weights for binary adversarial" after epoch 50, so the two terms carry separate weights here: ``alpha`` (binary,
  ``alpha_reduced`` from epoch ``reduce_epoch`` on) and ``alpha_cls`` (multi-class, constant).
- The discriminator's class target for a generated image is the target class ``t`` (eq. 6), for a real image the
  source class (eq. 5). BCE and CCE are computed from the sigmoid/softmax outputs (SPECS heads), clipped at 1e-7.

Target affect A_t(lambda), lambda ~ N(0, 1) (paper 3.1; SPECS "Target affect", ours): the decoder's condition is
``onehot(t) * clip(1 + intensity_std * lambda, 1 - 2 intensity_std, 1 + 2 intensity_std)`` with one lambda per
example (``intensity_std`` 0.25 by default: intensities 0.5-1.5, mostly 0.75-1.25). FERG-DB images show each
affect at "various degrees", which the one-hot label does not record; the random intensity makes the decoder see
condition vectors that are not exactly one-hot, which the mixed-expression experiments (two affects on at once,
sliders between two affects) rely on. The discriminator's class target stays the class ``t`` (a distribution).
The source condition A_s given to the encoder is the plain one-hot of the source class.

Weights (the paper publishes none; ours, flags of the recipe): alpha = 1, alpha_cls = 1, beta = 0.01, gamma = 100;
alpha_reduced = 0.1 from reduce_epoch = 50 of 100 (paper 4.2: "after 50 iterations ... the weights for binary
adversarial is reduced"). gamma = 100 with the mean L1 and alpha = 1 is the pix2pix balance (Isola et al. 2017,
whose generator the published decoder resembles): the L1 term dominates early and fixes identity and pose, the
adversarial term sharpens. beta = 0.01 keeps the KL term (about 10 nats summed over 128 dimensions in our synthetic
runs, i.e. 0.1 after weighting) well below the reconstruction term (gamma x 0.1-0.3), so the prior regularises the
code without pushing out the character it must carry.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from ..nets import fexgan as fexgan_nets
from ..nets.layers import BatchDropout
from ..training import GANModel, make_adam
from .losses import mean_absolute_error

MIXES = (("anger", "sadness"), ("joy", "disgust"), ("fear", "surprise"))   # paper Fig. 6


@dataclass(frozen=True)
class FExGANConfig:
    """Hyperparameters; paper / SPECS values unless marked (ours)."""

    image_size: int = 128           # SPECS: 128x128x3
    channels: int = 3
    n_classes: int = 7              # FERG-DB affects
    latent: int = 128               # SPECS: latent n = 128
    width: float = 1.0              # channel multiplier (1.0 = SPECS)
    batch_size: int = 32            # paper 4.2
    learning_rate: float = 2e-4     # paper 4.2: Adam 2e-4
    beta_1: float = 0.5             # (ours) paper gives only the learning rate; 0.5 as pix2pix/DCGAN
    beta_2: float = 0.999
    alpha: float = 1.0              # (ours) binary adversarial weight
    alpha_reduced: float = 0.1      # (ours) binary adversarial weight from reduce_epoch on (paper 4.2)
    alpha_cls: float = 1.0          # (ours) multi-class adversarial weight
    beta: float = 0.01              # (ours) KL weight
    gamma: float = 100.0            # (ours) L1 reconstruction weight
    epochs: int = 100               # paper 4.2
    reduce_epoch: int = 50          # paper 4.2: reduced "after 50"
    intensity_std: float = 0.25     # (ours) A_t(lambda) = onehot * clip(1 + 0.25 lambda, 0.5, 1.5)

    def __post_init__(self):
        for name in ("alpha", "alpha_reduced", "alpha_cls", "beta", "gamma", "intensity_std"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.intensity_std >= 0.5:
            raise ValueError(f"intensity_std must be < 0.5 (intensities stay positive), got {self.intensity_std}")


def target_condition(target_class, lam, n_classes: int, intensity_std: float) -> tf.Tensor:
    """A_t(lambda): ``onehot(t) * clip(1 + intensity_std * lambda, 1 - 2 std, 1 + 2 std)`` (module docstring)."""
    m = tf.clip_by_value(1.0 + intensity_std * tf.cast(lam, tf.float32), 1.0 - 2.0 * intensity_std,
                         1.0 + 2.0 * intensity_std)
    return tf.one_hot(target_class, n_classes) * m[:, None]


def kl_divergence(mu, log_sigma) -> tf.Tensor:
    """Per-example KL(N(mu, exp(log_sigma)^2) || N(0, I)), summed over latent dimensions: [B]."""
    mu, log_sigma = tf.cast(mu, tf.float32), tf.cast(log_sigma, tf.float32)
    return -0.5 * tf.reduce_sum(1.0 + 2.0 * log_sigma - tf.square(mu) - tf.exp(2.0 * log_sigma), axis=-1)


# The discriminator's heads output probabilities (SPECS heads); they are clipped at this distance from 0 and 1
# before the logarithm.
_PROB_EPS = 1e-7


def _bce(target: float, p):
    p = tf.clip_by_value(tf.cast(p, tf.float32), _PROB_EPS, 1.0 - _PROB_EPS)
    return -(target * tf.math.log(p) + (1.0 - target) * tf.math.log(1.0 - p))[:, 0]


def _cce(classes, p, n_classes):
    p = tf.clip_by_value(tf.cast(p, tf.float32), _PROB_EPS, 1.0)
    return -tf.reduce_sum(tf.one_hot(classes, n_classes) * tf.math.log(p), axis=-1)


class FExGAN(GANModel):
    """Encoder, decoder and discriminator with their joint training step. Build inside ``strategy.scope()``.

    ``steps_per_epoch`` converts ``reduce_epoch`` into the global step at which alpha switches to alpha_reduced.
    ``sample_faces`` / ``sample_classes``: a few source images and their classes drawn as the training grid.
    """

    def __init__(self, config: FExGANConfig = FExGANConfig(), steps_per_epoch: int = 1,
                 sample_faces: np.ndarray | None = None, sample_classes: np.ndarray | None = None, seed: int = 0,
                 **kwargs):
        super().__init__(**kwargs)
        self.config = c = config
        nets = fexgan_nets.build(c.image_size, c.channels, c.n_classes, c.latent, c.width)
        self.encoder, self.decoder, self.discriminator = nets["encoder"], nets["decoder"], nets["discriminator"]
        # The decoder's dropout masks are keyed by (seed, step): the same on any number of replicas and on resume.
        for layer in self.decoder.layers:
            if isinstance(layer, BatchDropout):
                layer.bind(self.global_step, seed)
        self.reduce_step = int(c.reduce_epoch) * max(1, int(steps_per_epoch))
        self.add_player("gen", make_adam(c.learning_rate, c.beta_1, c.beta_2, name="gen_adam"),
                        [self.encoder, self.decoder])
        self.add_player("disc", make_adam(c.learning_rate, c.beta_1, c.beta_2, name="disc_adam"),
                        [self.discriminator])
        self.sample_faces = None if sample_faces is None else tf.constant(sample_faces[:6], tf.float32)
        self.sample_classes = None if sample_classes is None else tf.constant(
            np.asarray(sample_classes[:6], np.int32))

    def networks(self) -> dict:
        return {"encoder": self.encoder, "decoder": self.decoder, "discriminator": self.discriminator}

    def alpha_now(self) -> tf.Tensor:
        """The binary adversarial weight at the current global step (paper 4.2's reduction)."""
        c = self.config
        return tf.where(self.global_step >= self.reduce_step, tf.constant(c.alpha_reduced, tf.float32),
                        tf.constant(c.alpha, tf.float32))

    def encode(self, images, condition, eps=None, training: bool = False):
        """[z, mu, log_sigma] of the encoder; ``eps=None`` gives z = mu."""
        images = tf.convert_to_tensor(images, tf.float32)
        condition = tf.convert_to_tensor(condition, tf.float32)
        if eps is None:
            eps = tf.zeros([tf.shape(images)[0], self.config.latent], tf.float32)
        return self.encoder([images, condition, eps], training=training)

    def transfer(self, images, source_condition, target_condition, training: bool = False):
        """decoder(mu(images, A_s), A_t): the faces in ``images`` showing ``target_condition``."""
        _, mu, _ = self.encode(images, source_condition, training=training)
        target_condition = tf.convert_to_tensor(target_condition, tf.float32)
        return tf.cast(self.decoder([mu, target_condition], training=training), tf.float32)

    def train_step(self, batch):
        c = self.config
        x = tf.cast(batch["image"], tf.float32)
        x_t = tf.cast(batch["target_image"], tf.float32)
        s = tf.cast(batch["expression"], tf.int32)
        t = tf.cast(batch["target_expression"], tf.int32)
        a_s = tf.one_hot(s, c.n_classes)
        a_t = target_condition(t, batch["lambda"], c.n_classes, c.intensity_std)
        alpha = self.alpha_now()
        with tf.GradientTape(persistent=True) as tape:
            z, mu, log_sigma = self.encoder([x, a_s, batch["eps"]], training=True)
            g = tf.cast(self.decoder([z, a_t], training=True), tf.float32)
            real_bin, real_cls = self.discriminator(x, training=True)
            fake_bin, fake_cls = self.discriminator(g, training=True)

            rec = mean_absolute_error(g, x_t)                                      # eq. 2 (mean, see docstring)
            kl = tf.reduce_mean(kl_divergence(mu, log_sigma))                     # eq. 3
            gan_bin = tf.reduce_mean(_bce(1.0, fake_bin))                          # eq. 1, binary part
            gan_cls = tf.reduce_mean(_cce(t, fake_cls, c.n_classes))               # eq. 1, multi-class part
            loss_gen = alpha * gan_bin + c.alpha_cls * gan_cls + c.beta * kl + c.gamma * rec   # eq. 4
            d_real = tf.reduce_mean(_bce(1.0, real_bin) + _cce(s, real_cls, c.n_classes))     # eq. 5
            d_fake = tf.reduce_mean(_bce(0.0, fake_bin) + _cce(t, fake_cls, c.n_classes))     # eq. 6
            loss_d = d_real + d_fake                                                           # eq. 7
        self.update("gen", tape, loss_gen)
        self.update("disc", tape, loss_d)
        del tape
        return {"loss_gen": loss_gen, "loss_d": loss_d, "rec": rec, "kl": kl, "gan_bin": gan_bin,
                "gan_cls": gan_cls, "d_real": d_real, "d_fake": d_fake, "alpha": alpha}

    @property
    def sample_columns(self) -> int:
        """The training grid's columns: the source, then one per affect."""
        return 1 + self.config.n_classes

    def sample_images(self):
        """Rows: the sample faces; columns: the source, then the face decoded with every affect."""
        if self.sample_faces is None:
            return None
        c = self.config
        faces = self.sample_faces
        n = tf.shape(faces)[0]
        a_s = tf.one_hot(self.sample_classes, c.n_classes)
        cols = [faces]
        for k in range(c.n_classes):
            a_t = tf.one_hot(tf.fill([n], k), c.n_classes)
            cols.append(self.transfer(faces, a_s, a_t))
        grid = tf.stack(cols, axis=1)
        return tf.reshape(grid, [-1, *faces.shape[1:]])


def saved_model_endpoints(model: FExGAN) -> dict:
    """SavedModel signatures (images in [-1, 1]):

    - ``transfer(image, affect) -> {"image"}``: the source affect A_s is what the discriminator's classifier head
      reads on the image (its softmax vector), the code is mu (no sampling); ``affect`` is the target vector, one
      entry per class of the run (``n_classes``: FERG-DB's seven, or the classes of the data it trained on, which
      ``classes.json`` beside the signatures names in index order).
    - ``generate(z, affect) -> {"image"}``: the decoder on a latent vector (paper Fig. 4 uses z ~ N(0, I)).
    """
    c = model.config
    enc, dec, disc = model.encoder, model.decoder, model.discriminator

    def transfer(image, affect):
        _, source = disc(image, training=False)
        eps = tf.zeros([tf.shape(image)[0], c.latent], tf.float32)
        _, mu, _ = enc([image, tf.cast(source, tf.float32), eps], training=False)
        return {"image": tf.cast(dec([mu, affect], training=False), tf.float32)}

    def generate(z, affect):
        return {"image": tf.cast(dec([z, affect], training=False), tf.float32)}

    image_spec = tf.TensorSpec([None, c.image_size, c.image_size, c.channels], tf.float32, name="image")
    affect_spec = tf.TensorSpec([None, c.n_classes], tf.float32, name="affect")
    return {"transfer": (transfer, [image_spec, affect_spec]),
            "generate": (generate, [tf.TensorSpec([None, c.latent], tf.float32, name="z"), affect_spec])}
