"""The three FExGAN networks (paper 004, Siddiqui 2022; SPECS "FExGAN").

``build()`` returns the functional Keras models ``encoder``, ``decoder`` and ``discriminator``; the generator of the
paper (section 3.2) is the encoder followed by the decoder. Every block follows SPECS "FExGAN" (read in the author's
published Keras generator/discriminator files and checked against paper 3.1-3.2):

- Encoder (SPECS; paper 3.2 "multiple blocks of downsampling layers ... until the image becomes uni-dimensional",
  "two layers, mu and sigma ... A latent layer ... sampling randomly from normal distribution"): the condition
  (7-vector) -> dense ``size*size`` ReLU -> reshape ``size x size x 1`` -> concatenated to the image as a 4th
  channel -> conv 4x4 s2 blocks without bias, LeakyReLU(0.3): 128 (no BN), 256, 512, ..., 512 (BN each), and a last
  block of 128 (BN, no activation) that reaches 1x1 -> flatten -> ``mu`` = dense 128, ``log_sigma`` = dense 128
  with zero kernel and bias (so training starts at sigma = 1) -> :class:`GaussianSample` z = mu + exp(log_sigma) *
  eps. At 128x128 the blocks are 128, 256, 512, 512, 512, 512, 128 (seven, 128 -> 1); a smaller ``image_size``
  drops 512 blocks (one per halving). The convolutions are :class:`nets.layers.PatchConv2D` (same weights, same
  outputs): at full width the 512 -> 512 blocks whose output map is 4x4 or 2x2 (blocks 5 and 6 at 128x128)
  compute as one matrix product over their patches, which on a CPU runs their forward and both gradients up to
  1.9x faster than the convolution (block 6, bf16); every other block, and every block at the default run's width
  x0.25, stays a convolution.
- Decoder (SPECS; paper 3.2 "Each input is connected to a dense layer(s) and then concatenated and reshaped ...
  upsampling blocks ... conv2D transpose, Batch-Normalization and an activation"): condition -> dense 64 (linear)
  -> dense 256 ReLU -> 1x1x256; z -> dense 256 ReLU -> 1x1x256; concatenated (1x1x512) -> transposed conv 4x4 s2
  blocks without bias, BN, ReLU, dropout 0.5 after the first three: 512, 512, 512, 512, 256, 128 -> transposed conv
  4x4 s2 to the image channels, tanh (128x128x3). Smaller images drop 512 blocks.
- Discriminator (SPECS; paper 3.1 "output not only the decision about real or a fake output but also ... a
  classification label"): conv 4x4 s2 64 (no BN), 128 + BN, 512 + BN, each LeakyReLU(0.3) -> flatten -> two
  heads: dense 1 sigmoid (``real``: probability the image is real) and dense ``n_classes`` softmax (``affect``).

The sampling noise ``eps`` is an input of the encoder, not drawn inside it: the training pipeline attaches
N(0, 1) noise to every example (``training.add_noise``), so a run draws the same noise on one device or many and
after a resume. At inference ``eps = 0`` gives z = mu (the transfer signature and the figures do this).

Choices the SPECS leave open (ours): LeakyReLU slope 0.3 in the discriminator too (the Keras default, which the
encoder's 0.3 shows the code used); BN with Keras defaults (momentum 0.99, epsilon 1e-3); the discriminator's BN
convolutions have no bias (BN removes it) and its first conv has one; kernels N(0, 0.02) as in the TensorFlow
pix2pix tutorial the published files follow, biases 0; the two heads and mu/log_sigma compute in float32 under a
mixed precision policy. ``width`` multiplies every conv / transposed-conv channel count (1.0 = SPECS), not the
dense layers nor the latent size.
"""
from __future__ import annotations

import math

import keras
from .layers import BatchDropout, GaussianSample, PatchConv2D

LATENT = 128                              # SPECS: latent n = 128
N_CLASSES = 7                             # FERG-DB affects
SLOPE = 0.3                               # SPECS: LeakyReLU(0.3)
KERNEL = 4                                # SPECS: k4 s2 everywhere
DROPOUT = 0.5                             # SPECS: dropout .5 on the first three decoder blocks
DECODER_COND_UNITS = (64, 256)            # SPECS: condition -> dense 64 -> dense 256 ReLU
DECODER_Z_UNITS = 256                     # SPECS: z -> dense 256 ReLU
DISCRIMINATOR_FILTERS = (64, 128, 512)    # SPECS: conv 64 (no BN), 128 + BN, 512 + BN


def encoder_filters(image_size: int) -> tuple[int, ...]:
    """Conv widths of the encoder blocks: 128, 256, 512 x (log2(size) - 3), 128 (SPECS at 128: seven blocks)."""
    n = _halvings(image_size)
    return (128, 256) + (512,) * (n - 3) + (128,)


def decoder_filters(image_size: int) -> tuple[int, ...]:
    """Transposed-conv widths before the output layer: 512 x (log2(size) - 3), 256, 128 (SPECS at 128: six)."""
    n = _halvings(image_size)
    return (512,) * (n - 3) + (256, 128)


def _halvings(image_size: int) -> int:
    n = int(round(math.log2(image_size))) if image_size > 0 else 0
    if image_size < 32 or 2 ** n != image_size:
        raise ValueError(f"image_size must be a power of two >= 32 (the encoder halves it down to 1x1), got "
                         f"{image_size}")
    return n


def _scaled(n: int, width: float) -> int:
    return max(1, int(round(n * width)))


def _init():
    return keras.initializers.RandomNormal(0.0, 0.02)


def build_encoder(image_size: int = 128, channels: int = 3, n_classes: int = N_CLASSES, latent: int = LATENT,
                  width: float = 1.0) -> keras.Model:
    """[image, condition, eps] -> [z, mu, log_sigma] (SPECS Encoder)."""
    image = keras.Input((image_size, image_size, channels), name="image")
    cond = keras.Input((n_classes,), name="condition")
    eps = keras.Input((latent,), name="eps")
    c = keras.layers.Dense(image_size * image_size, activation="relu", kernel_initializer=_init(),
                           name="enc_cond_dense")(cond)
    c = keras.layers.Reshape((image_size, image_size, 1), name="enc_cond_map")(c)
    h = keras.layers.Concatenate(name="enc_concat")([image, c])
    filters = encoder_filters(image_size)
    for i, f in enumerate(filters, start=1):
        last = i == len(filters)
        h = PatchConv2D(_scaled(f, width), KERNEL, strides=2, padding="same",
                        use_bias=False, kernel_initializer=_init(), name=f"enc_conv{i}")(h)
        if i > 1:
            h = keras.layers.BatchNormalization(synchronized=True, name=f"enc_bn{i}")(h)
        if not last:
            h = keras.layers.LeakyReLU(negative_slope=SLOPE, name=f"enc_lrelu{i}")(h)
    h = keras.layers.Flatten(name="enc_flatten")(h)
    mu = keras.layers.Dense(latent, kernel_initializer=_init(), dtype="float32", name="mu")(h)
    log_sigma = keras.layers.Dense(latent, kernel_initializer="zeros", bias_initializer="zeros", dtype="float32",
                                   name="log_sigma")(h)
    z = GaussianSample(name="z")([mu, log_sigma, eps])
    return keras.Model([image, cond, eps], [z, mu, log_sigma], name="encoder")


def build_decoder(image_size: int = 128, channels: int = 3, n_classes: int = N_CLASSES, latent: int = LATENT,
                  width: float = 1.0) -> keras.Model:
    """[z, condition] -> image in [-1, 1] (SPECS Decoder)."""
    z = keras.Input((latent,), name="z")
    cond = keras.Input((n_classes,), name="condition")
    c = keras.layers.Dense(DECODER_COND_UNITS[0], kernel_initializer=_init(), name="dec_cond_dense1")(cond)
    c = keras.layers.Dense(DECODER_COND_UNITS[1], activation="relu", kernel_initializer=_init(),
                           name="dec_cond_dense2")(c)
    c = keras.layers.Reshape((1, 1, DECODER_COND_UNITS[1]), name="dec_cond_map")(c)
    hz = keras.layers.Dense(DECODER_Z_UNITS, activation="relu", kernel_initializer=_init(), name="dec_z_dense")(z)
    hz = keras.layers.Reshape((1, 1, DECODER_Z_UNITS), name="dec_z_map")(hz)
    h = keras.layers.Concatenate(name="dec_concat")([hz, c])
    for i, f in enumerate(decoder_filters(image_size), start=1):
        h = keras.layers.Conv2DTranspose(_scaled(f, width), KERNEL, strides=2, padding="same", use_bias=False,
                                         kernel_initializer=_init(), name=f"dec_deconv{i}")(h)
        h = keras.layers.BatchNormalization(synchronized=True, name=f"dec_bn{i}")(h)
        if i <= 3:
            h = BatchDropout(DROPOUT, salt=i, name=f"dec_dropout{i}")(h)
        h = keras.layers.ReLU(name=f"dec_relu{i}")(h)
    h = keras.layers.Conv2DTranspose(channels, KERNEL, strides=2, padding="same", kernel_initializer=_init(),
                                     name="dec_out")(h)
    image = keras.layers.Activation("tanh", dtype="float32", name="dec_tanh")(h)
    return keras.Model([z, cond], image, name="decoder")


def build_discriminator(image_size: int = 128, channels: int = 3, n_classes: int = N_CLASSES,
                        width: float = 1.0) -> keras.Model:
    """image -> [real (sigmoid, [B, 1]), affect (softmax, [B, n_classes])] (SPECS Discriminator)."""
    image = keras.Input((image_size, image_size, channels), name="image")
    h = image
    for i, f in enumerate(DISCRIMINATOR_FILTERS, start=1):
        h = keras.layers.Conv2D(_scaled(f, width), KERNEL, strides=2, padding="same", use_bias=i == 1,
                                kernel_initializer=_init(), name=f"disc_conv{i}")(h)
        if i > 1:
            h = keras.layers.BatchNormalization(synchronized=True, name=f"disc_bn{i}")(h)
        h = keras.layers.LeakyReLU(negative_slope=SLOPE, name=f"disc_lrelu{i}")(h)
    h = keras.layers.Flatten(name="disc_flatten")(h)
    real = keras.layers.Dense(1, activation="sigmoid", kernel_initializer=_init(), dtype="float32",
                              name="real")(h)
    affect = keras.layers.Dense(n_classes, activation="softmax", kernel_initializer=_init(), dtype="float32",
                                name="affect")(h)
    return keras.Model(image, [real, affect], name="discriminator")


def build(image_size: int = 128, channels: int = 3, n_classes: int = N_CLASSES, latent: int = LATENT,
          width: float = 1.0) -> dict:
    """``{"encoder", "decoder", "discriminator"}`` of SPECS "FExGAN" (128x128x3, 7 affects, latent 128 in the
    paper). ``image_size`` is a power of two >= 32; ``width`` multiplies conv channel counts (1.0 = SPECS)."""
    if width <= 0:
        raise ValueError(f"width must be positive, got {width}")
    _halvings(image_size)
    return {
        "encoder": build_encoder(image_size, channels, n_classes, latent, width),
        "decoder": build_decoder(image_size, channels, n_classes, latent, width),
        "discriminator": build_discriminator(image_size, channels, n_classes, width),
    }
