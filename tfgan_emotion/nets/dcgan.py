"""The fer2013 conditional DCGAN and its inverse encoder (paper 003; SPECS "fer2013 conditional DCGAN").

``build()`` returns the functional Keras models ``generator``, ``discriminator`` and ``encoder`` for 48x48x1 faces
and a 7-class one-hot label y. "(+)yb" below is y tiled over the spatial map and concatenated on channels (the
DCGAN-tensorflow ``conv_cond_concat``); the label enters EVERY layer (SPECS, read in the authors' code):

- G: [z (100) | y] -> dense 3*3*512 -> BN -> ReLU -> reshape 3x3x512 (+)yb -> deconv 5x5 s2 256, BN, ReLU (+)yb
  -> 128, BN, ReLU (+)yb -> 64, BN, ReLU (+)yb -> deconv 5x5 s2 1 -> tanh (3 -> 6 -> 12 -> 24 -> 48).
- D: [x | yb] -> conv 5x5 s2 64, LeakyReLU(0.2) (+)yb -> 128, BN, LReLU (+)yb -> 256, BN, LReLU (+)yb -> 512, BN,
  LReLU (3x3) -> flatten -> (+)y -> dense 1 (logit).
- E: D's trunk ([x | yb] in, the label after every conv block and after the flatten) with the head dense 100 ->
  BN -> LeakyReLU(0.2) -> tanh, so z lies in [-1, 1]^100 like the U(-1, 1) prior.

Conventions (paper 3: "All weights were initialized as zero-centered normal distribution with standard deviation
of 0.02. The leak slope of leaky ReLU is 0.2"; SPECS: "BN eps 1e-5 momentum 0.9"): kernels N(0, 0.02), biases 0,
BN epsilon 1e-5 and moving-average momentum 0.9 (TF1 ``decay=0.9``) with a learned scale (DCGAN-tensorflow's
``batch_norm`` uses ``scale=True``). ``width`` multiplies every conv/deconv channel count and G's dense channels
(1.0 = SPECS). Logits, z and images are float32 under a mixed precision policy.
"""
from __future__ import annotations

import keras

from .layers import SpatialLabelTile

Z_DIM = 100            # SPECS: z ~ U(-1, 1)^100
N_CLASSES = 7          # fer2013 classes
IMAGE_SIZE = 48        # SPECS: 48x48x1
G_DENSE = 512          # SPECS: dense 3*3*512
G_FILTERS = (256, 128, 64)
D_FILTERS = (64, 128, 256, 512)
KERNEL = 5             # SPECS: DCGAN default 5x5
SLOPE = 0.2            # paper 3: leak slope 0.2


def _scaled(n: int, width: float) -> int:
    return max(1, int(round(n * width)))


def _init():
    return keras.initializers.RandomNormal(0.0, 0.02)


def _bn(name):
    return keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, synchronized=True, name=name)


def _concat_label(h, y, name):
    """h (+)yb: the one-hot label tiled over h's spatial map and concatenated on channels."""
    return keras.layers.Concatenate(name=name)([h, SpatialLabelTile(1, name=f"{name}_tile")([h, y])])


def build_generator(z_dim: int = Z_DIM, n_classes: int = N_CLASSES, channels: int = 1, width: float = 1.0,
                    image_size: int = IMAGE_SIZE) -> keras.Model:
    """[z, y] -> image in [-1, 1] (SPECS G)."""
    start = image_size // 16
    z = keras.Input((z_dim,), name="z")
    y = keras.Input((n_classes,), name="label")
    h = keras.layers.Concatenate(name="g_concat_zy")([z, y])
    c0 = _scaled(G_DENSE, width)
    h = keras.layers.Dense(start * start * c0, kernel_initializer=_init(), name="g_dense")(h)
    h = _bn("g_bn0")(h)
    h = keras.layers.ReLU(name="g_relu0")(h)
    h = keras.layers.Reshape((start, start, c0), name="g_reshape")(h)
    h = _concat_label(h, y, "g_label0")
    for i, f in enumerate(G_FILTERS, start=1):
        h = keras.layers.Conv2DTranspose(_scaled(f, width), KERNEL, strides=2, padding="same",
                                         kernel_initializer=_init(), name=f"g_deconv{i}")(h)
        h = _bn(f"g_bn{i}")(h)
        h = keras.layers.ReLU(name=f"g_relu{i}")(h)
        h = _concat_label(h, y, f"g_label{i}")
    h = keras.layers.Conv2DTranspose(channels, KERNEL, strides=2, padding="same", kernel_initializer=_init(),
                                     name=f"g_deconv{len(G_FILTERS) + 1}")(h)
    image = keras.layers.Activation("tanh", dtype="float32", name="g_tanh")(h)
    return keras.Model([z, y], image, name="generator")


def _trunk(prefix: str, image_size: int, channels: int, n_classes: int, width: float):
    """D's trunk (also E's): [x | yb] -> 4 strided convs with the label after the first three -> flatten (+)y."""
    x = keras.Input((image_size, image_size, channels), name="image")
    y = keras.Input((n_classes,), name="label")
    h = _concat_label(x, y, f"{prefix}_label_in")
    for i, f in enumerate(D_FILTERS, start=1):
        h = keras.layers.Conv2D(_scaled(f, width), KERNEL, strides=2, padding="same", kernel_initializer=_init(),
                                name=f"{prefix}_conv{i}")(h)
        if i > 1:
            h = _bn(f"{prefix}_bn{i}")(h)
        h = keras.layers.LeakyReLU(negative_slope=SLOPE, name=f"{prefix}_lrelu{i}")(h)
        if i < len(D_FILTERS):
            h = _concat_label(h, y, f"{prefix}_label{i}")
    h = keras.layers.Flatten(name=f"{prefix}_flatten")(h)
    h = keras.layers.Concatenate(name=f"{prefix}_label_flat")([h, keras.layers.Activation(
        "linear", name=f"{prefix}_label_cast")(y)])
    return x, y, h


def build_discriminator(n_classes: int = N_CLASSES, channels: int = 1, width: float = 1.0,
                        image_size: int = IMAGE_SIZE) -> keras.Model:
    """[x, y] -> logit that x is a real face of class y (SPECS D)."""
    x, y, h = _trunk("d", image_size, channels, n_classes, width)
    logit = keras.layers.Dense(1, kernel_initializer=_init(), dtype="float32", name="d_logit")(h)
    return keras.Model([x, y], logit, name="discriminator")


def build_encoder(z_dim: int = Z_DIM, n_classes: int = N_CLASSES, channels: int = 1, width: float = 1.0,
                  image_size: int = IMAGE_SIZE) -> keras.Model:
    """[x, y] -> z in [-1, 1]^z_dim (SPECS E)."""
    x, y, h = _trunk("e", image_size, channels, n_classes, width)
    h = keras.layers.Dense(z_dim, kernel_initializer=_init(), name="e_dense")(h)
    h = _bn("e_bn_out")(h)
    h = keras.layers.LeakyReLU(negative_slope=SLOPE, name="e_lrelu_out")(h)
    z = keras.layers.Activation("tanh", dtype="float32", name="e_tanh")(h)
    return keras.Model([x, y], z, name="encoder")


def build(z_dim: int = Z_DIM, n_classes: int = N_CLASSES, channels: int = 1, width: float = 1.0,
          image_size: int = IMAGE_SIZE) -> dict:
    """``{"generator", "discriminator", "encoder"}`` of SPECS (48x48x1, 7 classes, z of 100 in the paper).
    ``image_size`` must be a multiple of 16 (four stride-2 stages)."""
    if image_size % 16 or image_size < 16:
        raise ValueError(f"image_size must be a positive multiple of 16, got {image_size}")
    if width <= 0:
        raise ValueError(f"width must be positive, got {width}")
    return {"generator": build_generator(z_dim, n_classes, channels, width, image_size),
            "discriminator": build_discriminator(n_classes, channels, width, image_size),
            "encoder": build_encoder(z_dim, n_classes, channels, width, image_size)}
