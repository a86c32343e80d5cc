"""GANmut training (paper 002 section IV, eq. 2-9; SPECS "GANmut"; the CVPR 2021 authors' linear 2-D model).

With x a real face of class c, t a target class (the batch's own labels permuted), rho ~ :func:`sample_rho`
(t), z = :func:`conditioning.training_codes` (rho * direction(t) + noise, or a random angle for the batch's first
5 samples) and the discriminator heads D_src (critic patch), D_cls (7 logits) and D_coor (2-D code):

    L_D = -[mean D_src(x) - mean D_src(G(x, z))] + l_cls CE(c, D_cls(x)) + l_gp GP + l_info_D |D_coor(G(x, z)) - z|^2
    L_G = -mean D_src(G(x, z)) + l_cls CE(t, D_cls(G(x, z))) + l_rec |x - G(G(x, z), z_x)|_1
          + l_info_G |D_coor(G(x, z)) - z|^2 + l_rho mean_{rho > 0.2} (max softmax D_cls(G(x, z)) - rho)^2

- Adversarial: WGAN-GP (eq. 2, 8); GP = mean over the batch of (||grad_x^ D_src(x^)||_2 - 1)^2 with
  x^ = a x + (1 - a) G(x, z), a ~ U[0, 1) per sample, the gradient of the patch's sum, its norm over H x W x C
  (:func:`gradient_penalty`).
- L_cls on fakes leaves out the random-angle samples (SPECS); L_rho (eq. 6) uses the most probable class's
  softmax, over the samples with rho > 0.2, as the original code; MSE terms average both code components.
- L_rec (eq. 7): the code of the real image z_x is D_coor(x) (paper eq. 7, default ``cycle_code="coor"``); the
  authors' default ``"label"`` uses direction(c) * max softmax D_cls(x). No gradient flows through z_x.
- The learnable directions are trained by the generator's optimizer (the original's) and are unit vectors by
  construction (:class:`nets.layers.EmotionDirections`).
- Schedule: n_critic (5) critic updates per generator update. One ``train_step`` here is one generator update:
  its batch holds n_critic x 16 faces, split into n_critic consecutive batches of 16; the critic is updated on each
  in turn and the generator on the last (the original updates D every iteration on a fresh batch and G every 5th
  iteration on that iteration's batch). So ``steps`` counts generator updates = original iterations / 5.
- Learning rate (:class:`GANmutDecay`, the original's rule, inherited from StarGAN): during the last
  ``lr_decay_iterations`` (100,000 of 2,000,000) iterations, every ``lr_update_every`` (1,000) iterations both
  rates drop by lr / lr_decay_iterations. With those numbers the rate ends 0.1% lower than it starts;
  ``lr_update_every=1`` gives a linear decay to zero over the window.
- Random draws (rho, angles, target permutation, gradient-penalty mixing, code noise) come with the data
  (:func:`attach_draws`), so they are the same on any number of replicas and after a resume. The batch size is
  per replica (the engine's convention), so under ``tf.distribute`` every replica's batch of 16 has its own 5
  random-angle samples.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
import keras

from .. import conditioning
from ..nets import ganmut as ganmut_nets
from ..training import GANModel, add_noise, make_adam
from . import losses


@dataclass(frozen=True)
class GANmutConfig:
    """Hyperparameters; SPECS "GANmut" (the original code's defaults) unless marked."""

    image_size: int = 128
    channels: int = 3
    n_classes: int = 7
    width: float = 1.0                  # (ours) channel multiplier, 1.0 = SPECS
    residual_blocks: int = 6
    batch_size: int = 16
    n_critic: int = 5
    learning_rate: float = 1e-4         # SPECS: Adam 1e-4, betas (.5, .999), for G and D
    beta_1: float = 0.5
    beta_2: float = 0.999
    lambda_cls: float = 1.0
    lambda_rec: float = 10.0
    lambda_gp: float = 10.0
    lambda_info_d: float = 1.0
    lambda_info_g: float = 1.0
    lambda_rho: float = 1.0             # SPECS: 1 (the authors' scripts use 4)
    code_noise_std: float = conditioning.CODE_NOISE_STD
    random_angle_samples: int = conditioning.RANDOM_ANGLE_SAMPLES
    cycle_code: str = "coor"            # paper eq. 7; "label" = the authors' "approximate" default
    total_iterations: int = 2_000_000   # SPECS: 2,000,000 iterations (= 400,000 generator updates)
    lr_decay_iterations: int = 100_000  # original num_iters_decay
    lr_update_every: int = 1000         # original lr_update_step

    def __post_init__(self):
        for name in ("lambda_cls", "lambda_rec", "lambda_gp", "lambda_info_d", "lambda_info_g", "lambda_rho",
                     "code_noise_std"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.cycle_code not in ("coor", "label"):
            raise ValueError(f"cycle_code must be 'coor' (paper eq. 7) or 'label' (authors' code), "
                             f"got {self.cycle_code!r}")
        if self.n_critic < 1 or self.batch_size < 1:
            raise ValueError("n_critic and batch_size must be positive")
        if not 0 <= self.random_angle_samples <= self.batch_size:
            raise ValueError(f"random_angle_samples must be in 0..batch_size, got {self.random_angle_samples}")
        if self.lr_update_every < 1 or self.lr_decay_iterations < 1:
            raise ValueError("lr_update_every and lr_decay_iterations must be positive")

    @property
    def step_batch(self) -> int:
        """Faces per train_step: n_critic batches."""
        return self.n_critic * self.batch_size


@keras.saving.register_keras_serializable(package="tfgan_emotion")
class GANmutDecay(keras.optimizers.schedules.LearningRateSchedule):
    """The original learning-rate rule (module docstring) as a Keras schedule of the optimizer's update count.

    ``iterations_per_update``: original iterations per update of this optimizer (1 for the critic, n_critic for
    the generator). The update with index s runs at iteration i = (s + 1) k - 1; its rate is lr * (1 - m / D) with m
    the number of multiples of ``update_every`` in (total - D, i]."""

    def __init__(self, initial: float, total_iterations: int, decay_iterations: int, update_every: int,
                 iterations_per_update: int = 1):
        self.initial = float(initial)
        self.total_iterations = int(total_iterations)
        self.decay_iterations = int(decay_iterations)
        self.update_every = int(update_every)
        self.iterations_per_update = int(iterations_per_update)

    def __call__(self, step):
        i = (tf.cast(step, tf.int64) + 1) * self.iterations_per_update - 1
        start = max(self.total_iterations - self.decay_iterations, 0)
        m = tf.maximum(i // self.update_every - start // self.update_every, 0)
        return self.initial * (1.0 - tf.cast(m, tf.float32) / float(self.decay_iterations))

    def get_config(self):
        return {"initial": self.initial, "total_iterations": self.total_iterations,
                "decay_iterations": self.decay_iterations, "update_every": self.update_every,
                "iterations_per_update": self.iterations_per_update}


def gradient_penalty(critic, real, fake, alpha):
    """WGAN-GP term: mean over the batch of (||d sum(critic(x^)) / d x^||_2 - 1)^2, x^ = a real + (1 - a) fake with
    ``alpha`` [B] (the norm is over all of one sample's pixels and channels)."""
    real = tf.cast(real, tf.float32)
    fake = tf.cast(fake, tf.float32)
    a = tf.reshape(tf.cast(alpha, tf.float32), [-1, 1, 1, 1])
    x_hat = a * real + (1.0 - a) * fake
    with tf.GradientTape() as tape:
        tape.watch(x_hat)
        score = tf.reduce_sum(tf.cast(critic(x_hat), tf.float32))
    grad = tf.cast(tape.gradient(score, x_hat), tf.float32)
    norm = tf.sqrt(tf.reduce_sum(tf.square(grad), axis=[1, 2, 3]) + 1e-12)
    return tf.reduce_mean(tf.square(norm - 1.0))


def rho_loss(cls_logits, rho):
    """L_rho (eq. 6): mean over samples with rho > 0.2 of (max softmax - rho)^2; 0 when there are none."""
    rho_hat = tf.reduce_max(tf.nn.softmax(tf.cast(cls_logits, tf.float32)), axis=-1)
    return losses.masked_mean(tf.square(rho_hat - rho), rho > conditioning.NEUTRAL_RHO)


def _ce(labels, logits):
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(labels, tf.int32),
                                                          logits=tf.cast(logits, tf.float32))


DRAWS_U = 5     # uniform draws per face: rho, phi (critic), phi (generator), permutation key, GP mixing
DRAWS_N = 4     # normal draws per face: code noise (critic, 2), code noise (generator, 2)


def attach_draws(dataset: tf.data.Dataset, seed: int) -> tf.data.Dataset:
    """Add ``u`` (uniform, [-1, 1), DRAWS_U) and ``n`` (standard normal, DRAWS_N) to every (unbatched) example."""
    return add_noise(add_noise(dataset, "u", (DRAWS_U,), seed, "uniform"), "n", (DRAWS_N,), seed + 7919, "normal")


class GANmut(GANModel):
    """Generator, critic and the learnable conditional space with the GANmut step. Batches (n_critic x batch_size
    faces per replica-global step) carry ``image``, ``expression`` (AffectNet order, 0 = neutral) and the draws of
    :func:`attach_draws`."""

    sample_columns = 8

    def __init__(self, config: GANmutConfig = GANmutConfig(), sample_faces=None, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.config = c = config
        nets = ganmut_nets.build(c.image_size, c.channels, c.n_classes, c.width, c.residual_blocks, seed=seed)
        self.generator = nets["generator"]
        self.discriminator = nets["discriminator"]
        self.conditional_space = nets["conditional_space"]
        self.directions = self.conditional_space.get_layer("emotion_directions")

        def adam(per_update, name):
            lr = GANmutDecay(c.learning_rate, c.total_iterations, c.lr_decay_iterations, c.lr_update_every,
                             per_update)
            return make_adam(lr, c.beta_1, c.beta_2, name=name)

        self.add_player("d", adam(1, "d_adam"), [self.discriminator])
        self.add_player("g", adam(c.n_critic, "g_adam"), [self.generator, self.conditional_space])
        self.sample_faces = None if sample_faces is None else tf.constant(np.asarray(sample_faces, np.float32)[:6])

    def networks(self) -> dict:
        return {"generator": self.generator, "discriminator": self.discriminator,
                "conditional_space": self.conditional_space}

    # -- inference -------------------------------------------------------------------------------------------
    def edit(self, images, theta, rho):
        """G(x, rho (cos theta, sin theta)); ``theta``/``rho`` scalars or [N]."""
        images = tf.convert_to_tensor(images, tf.float32)
        n = tf.shape(images)[0]
        z = conditioning.polar_code(tf.broadcast_to(tf.cast(theta, tf.float32), [n]),
                                    tf.broadcast_to(tf.cast(rho, tf.float32), [n]))
        return tf.cast(self.generator([images, z], training=False), tf.float32)

    def edit_emotion(self, images, emotion, rho):
        """G(x, rho * direction(emotion)); ``emotion`` class ids (0 = neutral: z = 0), scalars or [N]."""
        images = tf.convert_to_tensor(images, tf.float32)
        n = tf.shape(images)[0]
        z = self.code(tf.broadcast_to(tf.cast(emotion, tf.int32), [n]),
                      tf.broadcast_to(tf.cast(rho, tf.float32), [n]))
        return tf.cast(self.generator([images, z], training=False), tf.float32)

    def code(self, emotion, rho):
        return tf.cast(self.directions(emotion), tf.float32) * tf.reshape(tf.cast(rho, tf.float32), [-1, 1])

    def unit_directions(self) -> np.ndarray:
        return np.asarray(self.directions.unit_directions())

    # -- training ----------------------------------------------------------------------------------------------
    def _chunk(self, batch, k, n, n_random):
        """The k-th of n critic batches, with its target classes, rho, angles and noise."""
        c = self.config
        size = tf.shape(batch["image"])[0] // n

        def part(t):
            return t[k * size:(k + 1) * size]

        x = tf.cast(part(batch["image"]), tf.float32)
        label = tf.cast(part(batch["expression"]), tf.int32)
        u = (tf.cast(part(batch["u"]), tf.float32) + 1.0) / 2.0
        noise = tf.cast(part(batch["n"]), tf.float32) * c.code_noise_std
        target = tf.gather(label, tf.argsort(u[:, 3]))
        return {"x": x, "label": label, "target": target, "rho": conditioning.sample_rho(target, u[:, 0]),
                "phi_d": 2.0 * math.pi * u[:, 1], "phi_g": 2.0 * math.pi * u[:, 2], "alpha": u[:, 4],
                "noise_d": noise[:, :2], "noise_g": noise[:, 2:],
                "random": conditioning.random_angle_mask(size, n_random)}

    def _critic_update(self, b):
        c = self.config
        dirs = tf.stop_gradient(tf.cast(self.directions(b["target"]), tf.float32))
        z = conditioning.training_codes(dirs, b["rho"], b["noise_d"], b["phi_d"], b["random"])
        fake = tf.stop_gradient(tf.cast(self.generator([b["x"], z], training=True), tf.float32))
        with tf.GradientTape() as tape:
            src_r, cls_r, _ = self.discriminator(b["x"], training=True)
            src_f, _, coor_f = self.discriminator(fake, training=True)
            adv = losses.wasserstein_critic_loss(src_r, src_f)
            cls = tf.reduce_mean(_ce(b["label"], cls_r))
            gp = gradient_penalty(lambda t: self.discriminator(t, training=True)[0], b["x"], fake, b["alpha"])
            info = losses.mean_squared_error(coor_f, z)
            loss = adv + c.lambda_cls * cls + c.lambda_gp * gp + c.lambda_info_d * info
        self.update("d", tape, loss)
        return {"d_loss": loss, "d_adv": adv, "d_cls": cls, "d_gp": gp, "d_info": info}

    def _generator_update(self, b):
        c = self.config
        x = b["x"]
        _, cls_real, coor_real = self.discriminator(x, training=True)
        if c.cycle_code == "coor":
            z_x = tf.stop_gradient(tf.cast(coor_real, tf.float32))
        else:
            strength = tf.reduce_max(tf.nn.softmax(tf.cast(cls_real, tf.float32)), axis=-1)
            z_x = tf.stop_gradient(self.code(b["label"], strength))
        with tf.GradientTape() as tape:
            dirs = tf.cast(self.directions(b["target"]), tf.float32)
            z = conditioning.training_codes(dirs, b["rho"], b["noise_g"], b["phi_g"], b["random"])
            fake = tf.cast(self.generator([x, z], training=True), tf.float32)
            src_f, cls_f, coor_f = self.discriminator(fake, training=True)
            adv = losses.wasserstein_generator_loss(src_f)
            cls = losses.masked_mean(_ce(b["target"], cls_f), tf.logical_not(b["random"]))
            rho = rho_loss(cls_f, b["rho"])
            info = losses.mean_squared_error(coor_f, z)
            rec = losses.mean_absolute_error(x, self.generator([fake, z_x], training=True))
            loss = (adv + c.lambda_cls * cls + c.lambda_rec * rec + c.lambda_info_g * info
                    + c.lambda_rho * rho)
        self.update("g", tape, loss)
        return {"g_loss": loss, "g_adv": adv, "g_cls": cls, "g_rho": rho, "g_info": info, "g_rec": rec}

    def train_step(self, batch):
        n = self.config.n_critic
        n_random = self.config.random_angle_samples
        logs = {}
        for k in range(n):
            chunk = self._chunk(batch, k, n, n_random)
            logs = self._critic_update(chunk)
        logs.update(self._generator_update(chunk))
        return logs

    def sample_images(self):
        """Rows: sample faces; columns: the input, then neutral and the 6 emotions at rho = 1."""
        if self.sample_faces is None:
            return None
        faces = self.sample_faces
        cols = [faces] + [self.edit_emotion(faces, k, 0.0 if k == 0 else 1.0) for k in range(self.config.n_classes)]
        return tf.reshape(tf.stack(cols, axis=1), [-1] + list(faces.shape[1:]))


def saved_model_endpoints(model: GANmut) -> dict:
    """``edit(image, theta, rho)`` and ``edit_emotion(image, emotion, rho)`` -> ``{"image"}`` (per-image scalars)."""
    c = model.config
    image = tf.TensorSpec([None, c.image_size, c.image_size, c.channels], tf.float32, name="image")

    def edit(image, theta, rho):
        return {"image": model.edit(image, theta, rho)}

    def edit_emotion(image, emotion, rho):
        return {"image": model.edit_emotion(image, emotion, rho)}

    return {"edit": (edit, [image, tf.TensorSpec([None], tf.float32, name="theta"),
                            tf.TensorSpec([None], tf.float32, name="rho")]),
            "edit_emotion": (edit_emotion, [image, tf.TensorSpec([None], tf.int32, name="emotion"),
                                            tf.TensorSpec([None], tf.float32, name="rho")])}
