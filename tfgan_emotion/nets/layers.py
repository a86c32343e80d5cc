"""Small custom layers shared by the network builders.

Each layer is registered with Keras (package ``tfgan_emotion``) and has a ``get_config``, so a model that uses it
saves to ``.keras`` and loads back with ``safe_mode=True``; Lambda layers are avoided on purpose because they do
not load in safe mode. Labels arrive as float32 model inputs; every layer here casts them to the compute dtype of
the tensor they are later concatenated to, so the nets also build and run under ``mixed_bfloat16`` and
``mixed_float16``.
"""
from __future__ import annotations

import keras
from keras import ops

_PACKAGE = "tfgan_emotion"


def _check_repeat(repeat) -> int:
    if int(repeat) != repeat or int(repeat) < 1:
        raise ValueError(f"repeat must be a positive integer, got {repeat!r}")
    return int(repeat)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class LabelEnlarge(keras.layers.Layer):
    """Enlarge a label vector by repeating each component ``repeat`` times: ``[B, n] -> [B, n * repeat]``.

    Component order is kept: (valence, arousal) becomes ``[v] * repeat + [a] * repeat``. This is the CAAE
    generator's label enlargement (SPECS "CAAE", G: "valence tiled 50x | arousal tiled 50x"; paper III.B.1: "the
    two-dimensional input emotion label y is scaled to 50 times its size"). The output has this layer's compute
    dtype (the dtype policy of the model it is built in).
    """

    def __init__(self, repeat: int, **kwargs):
        super().__init__(**kwargs)
        self.repeat = _check_repeat(repeat)

    def call(self, label):
        label = ops.cast(label, self.compute_dtype)
        return ops.repeat(label, self.repeat, axis=-1)

    def compute_output_shape(self, input_shape):
        n = input_shape[-1]
        return tuple(input_shape[:-1]) + (None if n is None else n * self.repeat,)

    def get_config(self):
        return {**super().get_config(), "repeat": self.repeat}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SpatialLabelTile(keras.layers.Layer):
    """Turn a label into a feature map that matches a convolutional tensor: called on ``[feature_map, label]``
    (``[B, H, W, C]`` and ``[B, n]``), returns ``[B, H, W, n * repeat]``, each label component repeated ``repeat``
    times along channels (component order kept) and broadcast over H x W.

    This is the CAAE D_img label enlargement (SPECS "CAAE", D_img: "y repeated along channels (valence x16,
    arousal x16 in code) and broadcast over HxW"). The result has the dtype of ``feature_map``, ready to be
    concatenated to it; the feature map itself only supplies H, W and the dtype.
    """

    def __init__(self, repeat: int, **kwargs):
        super().__init__(**kwargs)
        self.repeat = _check_repeat(repeat)

    def call(self, inputs):
        feature_map, label = inputs
        label = ops.repeat(ops.cast(label, feature_map.dtype), self.repeat, axis=-1)
        shape = ops.shape(feature_map)
        label = ops.reshape(label, (-1, 1, 1, label.shape[-1]))
        return ops.broadcast_to(label, (shape[0], shape[1], shape[2], label.shape[-1]))

    def compute_output_shape(self, input_shapes):
        feature_shape, label_shape = input_shapes
        n = label_shape[-1]
        return tuple(feature_shape[:3]) + (None if n is None else n * self.repeat,)

    def get_config(self):
        return {**super().get_config(), "repeat": self.repeat}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class GaussianSample(keras.layers.Layer):
    """z = mu + exp(log_sigma) * eps (paper 3.2's latent layer; SPECS: ``z = mu + exp(log_sigma) * eps``).

    ``eps`` is an input (standard normal noise from the pipeline; zeros give z = mu). Computes in float32.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)

    def call(self, inputs):
        mu, log_sigma, eps = (ops.cast(t, "float32") for t in inputs)
        return mu + ops.exp(log_sigma) * eps

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package=_PACKAGE)
class EmotionDirections(keras.layers.Layer):
    """GANmut's learnable linear conditional space (SPECS "GANmut", linear conditional space): one 2-D direction per
    non-neutral emotion, stored as a free (n_emotions, 2) weight and L2-normalised at every use, so the directions
    are always unit vectors whatever the optimiser does to the weight.

    Called on integer class ids ``[B]`` (0 = neutral, 1..n_emotions = the emotions, AffectNet order), returns the
    unit direction of each class, ``[B, 2]``, and the zero vector for neutral. :meth:`unit_directions` gives the
    (n_emotions, 2) unit vectors, :meth:`angles` their angles in radians (atan2). Computes in float32.
    Initial directions: seeded uniform draws, normalised, i.e. random angles (as the original code's init).
    """

    def __init__(self, n_emotions: int, seed: int | None = None, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if int(n_emotions) < 1:
            raise ValueError(f"n_emotions must be positive, got {n_emotions}")
        self.n_emotions = int(n_emotions)
        self.seed = seed

    def build(self, input_shape):
        self.directions = self.add_weight(
            name="directions", shape=(self.n_emotions, 2),
            initializer=keras.initializers.RandomUniform(-1.0, 1.0, seed=self.seed), trainable=True)

    def unit_directions(self):
        w = ops.cast(self.directions, "float32")
        return w / ops.maximum(ops.sqrt(ops.sum(w * w, axis=-1, keepdims=True)), 1e-12)

    def angles(self):
        u = self.unit_directions()
        return ops.arctan2(u[:, 1], u[:, 0])

    def call(self, label):
        table = ops.concatenate([ops.zeros((1, 2), "float32"), self.unit_directions()], axis=0)
        return ops.take(table, ops.reshape(ops.cast(label, "int32"), (-1,)), axis=0)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 2)

    def get_config(self):
        return {**super().get_config(), "n_emotions": self.n_emotions, "seed": self.seed}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class EmotionGaussians(keras.layers.Layer):
    """GANmut's gaussian 2-D conditional space (the authors' second model): one 2-D Gaussian per class, neutral
    included, learned with the generator. Weights, named as the authors name them:

    - ``mu`` (n_classes, 2): the modes are ``tanh(mu)``, inside (-1, 1)^2;
    - ``covariance_axes`` (n_classes, 2): the absolute values are the covariance's two eigenvalues;
    - ``covariance_angles`` (n_classes,): the angle of its first eigenvector, so that
      C_k = R(angle_k) diag(|axes_k0|, |axes_k1|) R(angle_k)^T.

    Called on ``[class ids [B], rho [B, 1]]`` (0 = neutral, AffectNet order) it returns the code of class k at
    intensity rho, ``m_0 + rho (m_k - m_0)`` with ``m = tanh(mu)``: the neutral mode at rho 0, the class's own mode
    at rho 1 (the codes the authors train each class at), on the segment between them in between; neutral's code is
    its mode whatever rho. The original code has no intensity for this model (it edits at a point (x, y) of the
    plane); this straight path from the neutral mode is this port's, stated wherever it is used.
    :meth:`mahalanobis` gives the squared Mahalanobis distances the authors' generator loss turns into class
    probabilities. Initial values as the original's: mu uniform in +-1/sqrt(2) (PyTorch's default for a 2-input
    linear layer), axes 1, angles 0. Computes in float32."""

    def __init__(self, n_classes: int, seed: int | None = None, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if int(n_classes) < 2:
            raise ValueError(f"n_classes must be at least 2, got {n_classes}")
        self.n_classes = int(n_classes)
        self.seed = seed

    def build(self, input_shape):
        bound = 2.0 ** -0.5
        self.mu = self.add_weight(name="mu", shape=(self.n_classes, 2), trainable=True,
                                  initializer=keras.initializers.RandomUniform(-bound, bound, seed=self.seed))
        self.covariance_axes = self.add_weight(name="covariance_axes", shape=(self.n_classes, 2), trainable=True,
                                               initializer="ones")
        self.covariance_angles = self.add_weight(name="covariance_angles", shape=(self.n_classes,), trainable=True,
                                                 initializer="zeros")

    def modes(self):
        """(n_classes, 2): tanh(mu), the code of each class at full intensity."""
        return ops.tanh(ops.cast(self.mu, "float32"))

    def code(self, label, rho):
        m = self.modes()
        mode = ops.take(m, ops.reshape(ops.cast(label, "int32"), (-1,)), axis=0)
        rho = ops.reshape(ops.cast(rho, "float32"), (-1, 1))
        return m[0:1] + rho * (mode - m[0:1])

    def mahalanobis(self, z):
        """[B, n_classes]: (z - m_k)^T C_k^-1 (z - m_k) for codes ``z`` [B, 2]."""
        v = ops.expand_dims(ops.cast(z, "float32"), 1) - ops.expand_dims(self.modes(), 0)     # [B, n, 2]
        a = ops.cast(self.covariance_angles, "float32")
        c, s = ops.cos(a), ops.sin(a)
        axes = ops.abs(ops.cast(self.covariance_axes, "float32"))
        along = v[..., 0] * c + v[..., 1] * s          # components on the eigenvectors (cos, sin), (-sin, cos)
        across = -v[..., 0] * s + v[..., 1] * c
        return along * along / axes[:, 0] + across * across / axes[:, 1]

    def unit_directions(self):
        """(n_classes - 1, 2): unit vectors from the neutral mode to each emotion's mode."""
        d = self.modes()[1:] - self.modes()[0:1]
        return d / ops.maximum(ops.sqrt(ops.sum(d * d, axis=-1, keepdims=True)), 1e-12)

    def call(self, inputs):
        label, rho = inputs
        return self.code(label, rho)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], 2)

    def get_config(self):
        return {**super().get_config(), "n_classes": self.n_classes, "seed": self.seed}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class InstanceNormalization(keras.layers.GroupNormalization):
    """Affine instance normalisation (per sample and channel, over height and width): ``GroupNormalization(
    groups=-1)`` with the same weights (``gamma``, ``beta``) and outputs, computed the lean way. The mean and
    variance come from one ``moments`` reduction in float32, and the normalisation is folded into one multiply-add
    per element in the compute dtype, where Keras' GroupNormalization reshapes into groups and makes several
    element-wise passes. Measured on the 2-core AMX CPU: a conv-norm-ReLU x3 stack (128 channels, 64x64, batch
    16, forward + backward) took 3.2 s instead of 4.4 s in float32 and 1.5 s instead of 2.3 s in mixed_bfloat16;
    in a whole GANmut step, where convolutions dominate, the gain is under 5%. Channels last."""

    def __init__(self, epsilon: float = 1e-5, **kwargs):
        kwargs.pop("groups", None)
        kwargs.pop("axis", None)
        super().__init__(groups=-1, axis=-1, epsilon=epsilon, **kwargs)

    def call(self, inputs):
        mean, var = ops.moments(ops.cast(inputs, "float32"), axes=[1, 2], keepdims=True)
        scale = ops.rsqrt(var + self.epsilon)
        if self.scale:
            scale = scale * ops.cast(self.gamma, "float32")
        shift = -mean * scale
        if self.center:
            shift = shift + ops.cast(self.beta, "float32")
        dtype = inputs.dtype
        return inputs * ops.cast(scale, dtype) + ops.cast(shift, dtype)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PatchConv2D(keras.layers.Conv2D):
    """A ``Conv2D`` (same weights, same outputs up to float rounding) that computes itself as one matrix product
    over the gathered input patches when its output map is small and its kernel large: the input is padded as
    ``padding`` says, its kh x kw shifted and strided views are concatenated along channels in the kernel's
    (row, column, input channel) order, and the result is multiplied by the kernel reshaped to
    ``[kh * kw * in_channels, filters]``. Every gradient of that is a matrix product, a slice or a pad, so second-order
    gradients (a gradient penalty) stay matrix products too.

    Why: oneDNN's convolution kernels for a large kernel on a map of a few pixels are slow, the weight gradient most:
    on the 2-core AVX512-BF16 CPU, the GANmut critic's last block at paper size (1024 -> 2048 channels, 4x4 -> 2x2,
    batch 16) took 614 ms for forward + both gradients in mixed_bfloat16 as a convolution and 107 ms as a matrix
    product (float32: 600 and 200 ms); the block before it (512 -> 1024, 8x8 -> 4x4) 179 and 123 ms. On
    smaller kernels the convolution wins (256 -> 512, 4x4 -> 2x2: 14.5 against 15.6 ms), hence the thresholds.

    The matrix form is used when the output map has at most ``MAX_POSITIONS`` positions and the kernel at least
    ``MIN_WEIGHTS`` weights (decided from the input shape, so a model computes the same way whatever its batch or
    device); otherwise, and for dilated, grouped or channels-first convolutions, this is Keras' ``Conv2D``."""

    MAX_POSITIONS = 16
    MIN_WEIGHTS = 1 << 22

    def uses_matmul(self, input_shape) -> bool:
        """Whether a call on ``input_shape`` (``[B, H, W, C]``) takes the matrix form."""
        h, w, c = input_shape[1], input_shape[2], input_shape[3]
        if None in (h, w, c) or self.data_format != "channels_last" or self.groups != 1 \
                or tuple(self.dilation_rate) != (1, 1):
            return False
        (oh, ow), _ = self._geometry(h, w)
        kh, kw = self.kernel_size
        return oh * ow <= self.MAX_POSITIONS and kh * kw * c * self.filters >= self.MIN_WEIGHTS

    def _geometry(self, h, w):
        """Output size and the (top, bottom, left, right) zero padding of ``padding`` for an h x w input."""
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        if self.padding == "valid":
            return ((h - kh) // sh + 1, (w - kw) // sw + 1), (0, 0, 0, 0)
        oh, ow = -(-h // sh), -(-w // sw)
        ph, pw = max((oh - 1) * sh + kh - h, 0), max((ow - 1) * sw + kw - w, 0)
        return (oh, ow), (ph // 2, ph - ph // 2, pw // 2, pw - pw // 2)

    def convolution_op(self, inputs, kernel):
        if not self.uses_matmul(inputs.shape):
            return super().convolution_op(inputs, kernel)
        h, w, c = inputs.shape[1], inputs.shape[2], inputs.shape[3]
        (oh, ow), (top, bottom, left, right) = self._geometry(h, w)
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        x = ops.pad(inputs, [[0, 0], [top, bottom], [left, right], [0, 0]]) if top + bottom + left + right else inputs
        views = [x[:, i:i + (oh - 1) * sh + 1:sh, j:j + (ow - 1) * sw + 1:sw, :] for i in range(kh) for j in range(kw)]
        patches = ops.reshape(ops.concatenate(views, axis=-1), (-1, kh * kw * c))
        out = ops.matmul(patches, ops.reshape(kernel, (kh * kw * c, self.filters)))
        return ops.reshape(out, (-1, oh, ow, self.filters))


class _StepKey:
    """Where a :class:`BatchDropout` reads its key from while training (kept out of the layer's tracked state)."""

    def __init__(self, step, seed: int):
        self.step, self.seed = step, int(seed)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class BatchDropout(keras.layers.Dropout):
    """Dropout whose mask is a function of (seed, training step, layer): the mask of the whole global batch is drawn
    with a stateless key and each replica keeps its own rows, so one replica or many, and a resumed run, drop the
    same units. A model binds it to its step counter with :meth:`bind`; unbound (a network loaded on its own), it
    is Keras' ordinary dropout."""

    def __init__(self, rate, salt: int = 0, **kwargs):
        super().__init__(rate, **kwargs)
        self.salt = int(salt)
        self._key = None

    def bind(self, step, seed: int) -> None:
        """Key the masks by ``step`` (an int64 variable the training engine advances) and ``seed``."""
        self._key = _StepKey(step, seed)

    def call(self, inputs, training=False):
        if not training or self.rate == 0 or self._key is None:
            return super().call(inputs, training=training)
        import tensorflow as tf

        from ..training import local_rows, replica_position

        _, replicas = replica_position()
        local = tf.shape(inputs)[0]
        key = tf.stack([tf.constant(self._key.seed * 1_000_003 + self.salt, tf.int64),
                        tf.cast(self._key.step, tf.int64)])
        shape = tf.concat([[local * replicas], tf.shape(inputs)[1:]], 0)
        keep = local_rows(tf.random.stateless_uniform(shape, key), local) >= self.rate
        scale = tf.cast(1.0 / (1.0 - self.rate), inputs.dtype)
        return tf.where(keep, inputs * scale, tf.zeros_like(inputs))

    def get_config(self):
        return {**super().get_config(), "salt": self.salt}
