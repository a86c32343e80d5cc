"""DCGAN-style conditional generator and discriminator of the label-interpolation study (paper 000 section 3.1;
SPECS "Label-interpolation cGAN").

The paper builds on DCGAN (Radford et al. 2015) "modified to fit the corresponding datasets" and extended with a
cGAN condition, without publishing the layers; everything below the condition rule is therefore ours, in the DCGAN
conventions (kernels N(0, 0.02), BN in G and in D after its first conv, ReLU in G, LeakyReLU(0.2) in D, tanh
output, 5x5 kernels, stride-2 transposed convs):

- The label is a FLOAT vector v (SPECS: "label enters G by concatenation with z and D as a spatially tiled map"),
  so non-binary labels (paper eq. 3) are valid inputs; an Embedding lookup could not take them.
- G: [z (100) | v] -> dense s0*s0*C -> BN -> ReLU -> reshape -> transposed conv 5x5 s2 blocks, halving the
  channels (BN, ReLU) -> transposed conv 5x5 s2 to the image channels -> tanh. s0 = 7 for 28x28 (7 -> 14 -> 28),
  else 4: 32x32 uses 4 -> 8 -> 16 -> 32, 256x256 uses 4 -> ... -> 256 (six stages).
- D: [x | v tiled over the image] -> conv 5x5 s2 blocks, doubling the channels (BN from the second), LeakyReLU
  (0.2), down to 7x7 (28x28) or 4x4 -> flatten -> dense 1 (logit).

Per-size widths (``ARCHS``; ``width`` multiplies them): 28x28 G 256-128 / D 64-128; 32x32 G 512-256-128 / D
64-128-256; 256x256 G 1024-512-256-128-64-32 / D 32-64-128-256-512-512; 64x64 (only for the shrunk synthetic
FACES run) G 512-256-128-64 / D 64-128-256-512.
"""
from __future__ import annotations

import keras

from .layers import SpatialLabelTile

Z_DIM = 100
KERNEL = 5
SLOPE = 0.2
# image size -> (first map side, G channels per stage (first = dense), D channels per stage)
ARCHS = {
    28: (7, (256, 128), (64, 128)),
    32: (4, (512, 256, 128), (64, 128, 256)),
    64: (4, (512, 256, 128, 64), (64, 128, 256, 512)),     # (ours) the shrunk synthetic FACES run
    256: (4, (1024, 512, 256, 128, 64, 32), (32, 64, 128, 256, 512, 512)),
}


def _arch(image_size: int):
    if image_size not in ARCHS:
        raise ValueError(f"image_size must be one of {sorted(ARCHS)} (Fashion-MNIST, CIFAR-10, FACES), got "
                         f"{image_size}")
    return ARCHS[image_size]


def _scaled(n: int, width: float) -> int:
    return max(1, int(round(n * width)))


def _init():
    return keras.initializers.RandomNormal(0.0, 0.02)


def build_generator(image_size: int, channels: int, n_classes: int, z_dim: int = Z_DIM,
                    width: float = 1.0) -> keras.Model:
    """[z, label] -> image in [-1, 1]; ``label`` is a float vector of ``n_classes`` (one-hot or interpolated)."""
    s0, g_filters, _ = _arch(image_size)
    z = keras.Input((z_dim,), name="z")
    v = keras.Input((n_classes,), name="label")
    h = keras.layers.Concatenate(name="g_concat")([z, v])
    c0 = _scaled(g_filters[0], width)
    h = keras.layers.Dense(s0 * s0 * c0, use_bias=False, kernel_initializer=_init(), name="g_dense")(h)
    h = keras.layers.BatchNormalization(synchronized=True, name="g_bn0")(h)
    h = keras.layers.ReLU(name="g_relu0")(h)
    h = keras.layers.Reshape((s0, s0, c0), name="g_reshape")(h)
    for i, f in enumerate(g_filters[1:], start=1):
        h = keras.layers.Conv2DTranspose(_scaled(f, width), KERNEL, strides=2, padding="same", use_bias=False,
                                         kernel_initializer=_init(), name=f"g_deconv{i}")(h)
        h = keras.layers.BatchNormalization(synchronized=True, name=f"g_bn{i}")(h)
        h = keras.layers.ReLU(name=f"g_relu{i}")(h)
    h = keras.layers.Conv2DTranspose(channels, KERNEL, strides=2, padding="same", kernel_initializer=_init(),
                                     name="g_out")(h)
    image = keras.layers.Activation("tanh", dtype="float32", name="g_tanh")(h)
    return keras.Model([z, v], image, name="generator")


def build_discriminator(image_size: int, channels: int, n_classes: int, width: float = 1.0) -> keras.Model:
    """[image, label] -> logit that the image is a real one of that label."""
    _, _, d_filters = _arch(image_size)
    x = keras.Input((image_size, image_size, channels), name="image")
    v = keras.Input((n_classes,), name="label")
    h = keras.layers.Concatenate(name="d_concat")([x, SpatialLabelTile(1, name="d_label_tile")([x, v])])
    for i, f in enumerate(d_filters, start=1):
        h = keras.layers.Conv2D(_scaled(f, width), KERNEL, strides=2, padding="same", use_bias=i == 1,
                                kernel_initializer=_init(), name=f"d_conv{i}")(h)
        if i > 1:
            h = keras.layers.BatchNormalization(synchronized=True, name=f"d_bn{i}")(h)
        h = keras.layers.LeakyReLU(negative_slope=SLOPE, name=f"d_lrelu{i}")(h)
    h = keras.layers.Flatten(name="d_flatten")(h)
    logit = keras.layers.Dense(1, kernel_initializer=_init(), dtype="float32", name="d_logit")(h)
    return keras.Model([x, v], logit, name="discriminator")


def build(image_size: int, channels: int, n_classes: int, z_dim: int = Z_DIM, width: float = 1.0) -> dict:
    """``{"generator", "discriminator"}`` for 28x28 (Fashion-MNIST), 32x32 (CIFAR-10) or 256x256 (FACES)."""
    if width <= 0:
        raise ValueError(f"width must be positive, got {width}")
    return {"generator": build_generator(image_size, channels, n_classes, z_dim, width),
            "discriminator": build_discriminator(image_size, channels, n_classes, width)}
