"""GANmut training (paper 002 section IV, eq. 2-9; SPECS "GANmut"; the CVPR 2021 authors' linear 2-D model, and
their gaussian 2-D model with ``parametrization="gaussian"``, below).

Linear (the paper's model, default). With x a real face of class c, t a target class (the batch's own labels
permuted), rho ~ :func:`sample_rho` (t), z = :func:`conditioning.training_codes` (rho * direction(t) + noise, or a
random angle for the batch's first 5 samples) and the discriminator heads D_src (critic patch), D_cls (7 logits)
and D_coor (2-D code):

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
  (:func:`attach_draws`), so they are the same on any number of replicas and after a resume. The batch of 16 is
  global: under ``tf.distribute`` each critic batch is split across the replicas (``batch_parts``), and the rules
  over a batch (the target permutation, the first 5 random-angle samples, the gaussian modes) take the rows of all
  replicas, so one replica or many give the same losses.

Gaussian (``parametrization="gaussian"``; the authors' second model, trained by their code, not described in the
paper). The conditional space is one Gaussian per class, neutral included (:class:`nets.layers.EmotionGaussians`:
modes m = tanh(mu), covariances C_k from ``covariance_axes`` and ``covariance_angles``). In every batch the first
n_classes samples are coded at the classes' modes m_0..m_6 in order (fewer when the batch is smaller) and the
others at a point drawn uniformly from [-1, 1]^2; the labels of the faces are used only by D's classification:

    L_D = -[mean D_src(x) - mean D_src(G(x, z))] + l_cls CE(c, D_cls(x)) + l_gp GP + l_info_D |D_coor(G(x, z)) - z|^2
    L_G = -mean D_src(G(x, z)) + l_rec |x - G(G(x, z), D_coor(x))|_1
          + l_cls [KL(p || q) + KL(q || p)] + l_prediction CE(k, D_cls(G(x_k, m_k)))_{k < n_classes}

with p = softmax(-d^2(z)) over the classes, d^2_k(z) the squared Mahalanobis distance of z to Gaussian k, q =
softmax(D_cls(G(x, z))), each KL summed over the classes and averaged over the batch (PyTorch's "batchmean"), and
the prediction term the cross-entropy of the mode-coded samples against their class. The modes and covariances are
trained by the generator's optimizer through the codes and p. l_info_D is the original's ``lambda_expr`` (1),
l_prediction its ``lambda_prediction`` (0.5); the authors' gaussian script sets l_cls 2 (``--lambda-cls 2``). No
rho, random-angle or L_info term for G. The draws are the same per face: two uniform pairs for the critic's and
the generator's codes and the GP mixing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
import keras

from .. import conditioning
from ..nets import ganmut as ganmut_nets
from ..training import GANModel, add_noise, gather_global, global_rows, local_rows, make_adam
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
    parametrization: str = "linear"     # the conditional space: "linear" (paper) or "gaussian" (authors' 2nd model)
    lambda_prediction: float = 0.5      # gaussian only: original lambda_prediction
    discriminator: bool = True          # False: generator only (converted from the authors' checkpoint; no training)

    def __post_init__(self):
        for name in ("lambda_cls", "lambda_rec", "lambda_gp", "lambda_info_d", "lambda_info_g", "lambda_rho",
                     "code_noise_std", "lambda_prediction"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.parametrization not in ganmut_nets.PARAMETRIZATIONS:
            raise ValueError(f"parametrization must be one of {ganmut_nets.PARAMETRIZATIONS}, got "
                             f"{self.parametrization!r}")
        if self.parametrization == "gaussian" and self.cycle_code != "coor":
            raise ValueError("cycle_code 'label' is for the linear parametrization; the gaussian model's cycle uses "
                             "D_coor(x), as the authors' code")
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


def symmetric_kl(target_logits, logits):
    """KL(p || q) + KL(q || p) with p = softmax(target_logits), q = softmax(logits): each summed over the classes and
    averaged over the batch (PyTorch's KLDivLoss with reduction "batchmean", as the authors' gaussian loss)."""
    lp = tf.nn.log_softmax(tf.cast(target_logits, tf.float32))
    lq = tf.nn.log_softmax(tf.cast(logits, tf.float32))
    return tf.reduce_mean(tf.reduce_sum((tf.exp(lp) - tf.exp(lq)) * (lp - lq), axis=-1))


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
    faces per step, global) carry ``image``, ``expression`` (AffectNet order, 0 = neutral) and the draws of
    :func:`attach_draws`."""

    sample_columns = 8

    def __init__(self, config: GANmutConfig = GANmutConfig(), sample_faces=None, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.config = c = config
        nets = ganmut_nets.build(c.image_size, c.channels, c.n_classes, c.width, c.residual_blocks, seed=seed,
                                 parametrization=c.parametrization, discriminator=c.discriminator)
        self.generator = nets["generator"]
        self.discriminator = nets.get("discriminator")      # None: a generator-only (converted) model
        self.conditional_space = nets["conditional_space"]
        self.gaussian = c.parametrization == "gaussian"
        if self.gaussian:
            self.gaussians = self.conditional_space.get_layer("emotion_gaussians")
        else:
            self.directions = self.conditional_space.get_layer("emotion_directions")
        self.sample_faces = None if sample_faces is None else tf.constant(np.asarray(sample_faces, np.float32)[:6])
        if self.discriminator is None:
            return

        def adam(per_update, name):
            lr = GANmutDecay(c.learning_rate, c.total_iterations, c.lr_decay_iterations, c.lr_update_every,
                             per_update)
            return make_adam(lr, c.beta_1, c.beta_2, name=name)

        self.add_player("d", adam(1, "d_adam"), [self.discriminator])
        self.add_player("g", adam(c.n_critic, "g_adam"), [self.generator, self.conditional_space])

    @property
    def batch_parts(self) -> int:
        """A step's batch is n_critic critic batches: the engine splits each of them across the replicas."""
        return self.config.n_critic

    def networks(self) -> dict:
        nets = {"generator": self.generator, "discriminator": self.discriminator,
                "conditional_space": self.conditional_space}
        return {k: v for k, v in nets.items() if v is not None}

    # -- inference -------------------------------------------------------------------------------------------
    def edit(self, images, theta, rho):
        """G(x, rho (cos theta, sin theta)); ``theta``/``rho`` scalars or [N]."""
        images = tf.convert_to_tensor(images, tf.float32)
        n = tf.shape(images)[0]
        z = conditioning.polar_code(tf.broadcast_to(tf.cast(theta, tf.float32), [n]),
                                    tf.broadcast_to(tf.cast(rho, tf.float32), [n]))
        return self._generate(images, z)

    def edit_emotion(self, images, emotion, rho):
        """G(x, :meth:`code` (emotion, rho)); ``emotion`` class ids (0 = neutral), scalars or [N]."""
        images = tf.convert_to_tensor(images, tf.float32)
        n = tf.shape(images)[0]
        z = self.code(tf.broadcast_to(tf.cast(emotion, tf.int32), [n]),
                      tf.broadcast_to(tf.cast(rho, tf.float32), [n]))
        return self._generate(images, z)

    def _generate(self, images, z):
        """G(images, z) in inference mode, float32. Called eagerly (evaluation, figures, the Python API), it runs as
        one graph traced once for any batch size: the generator's layers one by one in eager mode took about 0.3 s
        per call at the default run's size, most of a run's evaluation time."""
        if not tf.executing_eagerly():
            return tf.cast(self.generator([images, z], training=False), tf.float32)
        from ..eval.common import inference_fn

        return inference_fn(self.generator)(images, tf.cast(z, tf.float32))

    def code(self, emotion, rho):
        """The code of class ``emotion`` at intensity ``rho`` ([N] each): linear rho * direction (0 for neutral);
        gaussian m_0 + rho (m_emotion - m_0) (:class:`nets.layers.EmotionGaussians`)."""
        if self.gaussian:
            return tf.cast(self.gaussians.code(emotion, rho), tf.float32)
        return tf.cast(self.directions(emotion), tf.float32) * tf.reshape(tf.cast(rho, tf.float32), [-1, 1])

    def unit_directions(self) -> np.ndarray:
        """(n_classes - 1, 2): the emotions' unit directions (gaussian: from the neutral mode to each mode)."""
        space = self.gaussians if self.gaussian else self.directions
        return np.asarray(space.unit_directions())

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
        # The targets permute the labels of the whole critic batch (all replicas' rows), and the random-angle
        # samples are the first of the whole batch: one replica or many give the same codes.
        target = local_rows(tf.gather(gather_global(label), tf.argsort(gather_global(u[:, 3]))), size)
        return {"x": x, "label": label, "target": target, "rho": conditioning.sample_rho(target, u[:, 0]),
                "phi_d": 2.0 * math.pi * u[:, 1], "phi_g": 2.0 * math.pi * u[:, 2], "alpha": u[:, 4],
                "noise_d": noise[:, :2], "noise_g": noise[:, 2:],
                "random": conditioning.random_angle_mask(size, n_random)}

    def _linear_codes(self, b):
        """The critic's codes of the linear space: rho along the target's direction, some drawn at random."""
        dirs = tf.stop_gradient(tf.cast(self.directions(b["target"]), tf.float32))
        return conditioning.training_codes(dirs, b["rho"], b["noise_d"], b["phi_d"], b["random"])

    def _critic_update(self, b, z):
        """One critic update on faces edited with the codes ``z`` (either parametrization)."""
        c = self.config
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

    # -- training, gaussian parametrization (module docstring) -------------------------------------------------
    def _gaussian_chunk(self, batch, k, n):
        """The k-th of n critic batches with its uniform code draws (critic, generator) and the GP mixing."""
        size = tf.shape(batch["image"])[0] // n

        def part(t):
            return t[k * size:(k + 1) * size]

        u = tf.cast(part(batch["u"]), tf.float32)          # uniform in [-1, 1)
        return {"x": tf.cast(part(batch["image"]), tf.float32), "label": tf.cast(part(batch["expression"]), tf.int32),
                "uniform_d": u[:, 0:2], "uniform_g": u[:, 2:4], "alpha": (u[:, 4] + 1.0) / 2.0}

    def gaussian_codes(self, uniform):
        """The batch's codes: the first min(B, n_classes) samples of the whole batch (all replicas' rows) at the
        modes m_0, m_1, ..., the rest ``uniform``."""
        modes = tf.cast(self.gaussians.modes(), tf.float32)
        rows = global_rows(tf.shape(uniform)[0])
        at_mode = tf.gather(modes, tf.minimum(rows, self.config.n_classes - 1))
        return tf.where((rows < self.config.n_classes)[:, None], at_mode, tf.cast(uniform, tf.float32))

    def _gaussian_generator_update(self, b):
        c = self.config
        x = b["x"]
        z_x = tf.stop_gradient(tf.cast(self.discriminator(x, training=True)[2], tf.float32))
        with tf.GradientTape() as tape:
            z = self.gaussian_codes(b["uniform_g"])
            fake = tf.cast(self.generator([x, z], training=True), tf.float32)
            src_f, cls_f, _ = self.discriminator(fake, training=True)
            adv = losses.wasserstein_generator_loss(src_f)
            cls = symmetric_kl(-self.gaussians.mahalanobis(z), cls_f)
            # The samples coded at the modes (the first n_classes of the whole batch) must be classified as theirs.
            rows = global_rows(tf.shape(x)[0])
            at_mode = rows < c.n_classes
            prediction = losses.masked_mean(_ce(tf.minimum(rows, c.n_classes - 1), cls_f), at_mode)
            rec = losses.mean_absolute_error(x, self.generator([fake, z_x], training=True))
            loss = adv + c.lambda_cls * cls + c.lambda_rec * rec + c.lambda_prediction * prediction
        self.update("g", tape, loss)
        return {"g_loss": loss, "g_adv": adv, "g_cls": cls, "g_prediction": prediction, "g_rec": rec}

    def train_step(self, batch):
        if self.discriminator is None:
            raise ValueError("this GANmut model has no discriminator (a generator converted from the authors' "
                             "checkpoint): it can edit faces and be evaluated, not trained")
        n = self.config.n_critic
        n_random = self.config.random_angle_samples
        logs = {}
        if self.gaussian:
            for k in range(n):
                chunk = self._gaussian_chunk(batch, k, n)
                logs = self._critic_update(chunk, tf.stop_gradient(self.gaussian_codes(chunk["uniform_d"])))
            logs.update(self._gaussian_generator_update(chunk))
            return logs
        for k in range(n):
            chunk = self._chunk(batch, k, n, n_random)
            logs = self._critic_update(chunk, self._linear_codes(chunk))
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
