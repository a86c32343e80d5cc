"""The four CAAE networks for continuous valence/arousal expression editing (paper 001; SPECS "CAAE").

``build()`` returns the functional Keras models ``encoder``, ``generator``, ``d_img`` and ``d_z``. Every block
follows SPECS "CAAE" (read in the authors' TF1 code and checked against paper III.A-B):

- E (SPECS E; paper III.B.1 "four convolution layers and one fully connected output layer", stride 2 instead of
  pooling): conv 5x5 s2 "same" 64, 128, 256, 512, each ReLU, no BN -> flatten (6x6x512 at 96x96) -> dense
  ``z_dim`` (50) -> tanh, so z lies in [-1, 1]^50 like the U(-1, 1) prior of D_z.
- G (SPECS G; paper III.B.1 "one fully connected layer and six transposed convolution layers ... the first four
  use a stride of 2, the last two a stride of 1", kernel 5): inputs ``[z, label]``; the label is enlarged inside
  the model, valence repeated ``label_repeat`` (50) times then arousal 50 times, and concatenated after z
  (50 + 100 = 150 values) -> dense 6*6*1024 -> reshape -> ReLU -> deconv s2 512, 256, 128, 64 (ReLU each; 6 -> 96)
  -> deconv s1 32, ReLU -> deconv s1 ``channels`` -> tanh. No BN (code). For another ``image_size`` the first map
  is image_size/16 on a side.
- D_img (SPECS D_img; paper III.B.1 "four convolution layers and two fully connected layers ... stride of 2 and
  kernel size of 5. Batch normalization is applied after each convolution"): inputs ``[image, label]``; conv 5x5
  s2 16, 32, 64, 128, each BN + ReLU -> flatten -> dense 1024, LeakyReLU(0.2) -> dense 1. The output is the LOGIT
  (the sigmoid of paper eq. 4 lives in the loss, as sigmoid cross-entropy).
- D_z (SPECS D_z; paper III.B.1 "four fully connected layers, of which the first three are followed by batch
  normalization"): dense 64, 32, 16, each BN + ReLU -> dense 1 (logit).

Label concatenation in D_img (SPECS D_img; the one place where paper and code differ):

- ``label_concat="every"`` (default, paper III.B.1: "Following each block of convolution and batch normalization,
  the enlarged emotion label y is concatenated to the block's output. We found this repeated concatenation of y
  crucial"): the enlarged label map is concatenated after each of the four conv + BN + ReLU blocks, so four
  ``Concatenate`` layers, ``dimg_label_concat1`` .. ``dimg_label_concat4``.
- ``label_concat="first"`` (the authors' code): one concatenation, after block 1 only.

In both modes the label is concatenated to a block's output, never to the input image: the paper says "each
block's output" and the code concatenates after block 1 only, so neither feeds the label to the first conv. A
block's output is taken after its ReLU, as in the code (conv -> BN -> ReLU -> concat); the paper's wording "block
of convolution and batch normalization" does not place the ReLU, and the code decides it. The enlarged label is
valence repeated ``d_label_repeat`` (16) times then arousal 16 times along channels, broadcast over H x W (code).

Conventions (SPECS common conventions; paper III.B.2): all conv, deconv and dense kernels N(0, 0.02), biases 0.
BN layers (ours, following the code's ``tf.contrib.layers.batch_norm`` defaults): no learned scale
(``scale=False``), moving-average momentum 0.999, epsilon 1e-3. ``width`` multiplies every conv/deconv channel
count, G's dense channel count (1024) and D_img's dense 1024 (rounded, at least 1); 1.0 is the paper. The final
layers run in float32 under a mixed precision policy, so logits, images and z are float32.
"""
from __future__ import annotations

import keras

from .layers import LabelEnlarge, SpatialLabelTile

ENCODER_FILTERS = (64, 128, 256, 512)      # SPECS E
GENERATOR_DENSE_CHANNELS = 1024            # SPECS G: dense 6*6*1024
GENERATOR_FILTERS = (512, 256, 128, 64)    # SPECS G: deconv s2
GENERATOR_FILTERS_S1 = 32                  # SPECS G: deconv s1 32, then s1 to the image channels
D_IMG_FILTERS = (16, 32, 64, 128)          # SPECS D_img
D_IMG_DENSE = 1024                         # SPECS D_img
D_Z_UNITS = (64, 32, 16)                   # SPECS D_z
KERNEL = 5                                 # SPECS: all convs/deconvs 5x5, "same" padding
LABEL_CONCAT_MODES = ("every", "first")


def _scaled(n: int, width: float) -> int:
    return max(1, int(round(n * width)))


class _Init:
    """Hands out one kernel initializer per layer. A seeded initializer gets its seed offset per layer, so two layers
    never start from identical kernels."""

    def __init__(self, kernel_init):
        self.base = keras.initializers.get(kernel_init if kernel_init is not None
                                           else keras.initializers.RandomNormal(0.0, 0.02))
        self.count = 0

    def __call__(self):
        config = self.base.get_config()
        if isinstance(config.get("seed"), int):
            config["seed"] += self.count
        self.count += 1
        return self.base.__class__.from_config(config)


def _batch_norm(name: str) -> keras.layers.BatchNormalization:
    return keras.layers.BatchNormalization(scale=False, momentum=0.999, epsilon=1e-3, synchronized=True, name=name)


def build_encoder(image_size: int = 96, channels: int = 3, z_dim: int = 50, width: float = 1.0,
                  kernel_init=None) -> keras.Model:
    """E: image in [-1, 1] -> z in [-1, 1]^z_dim (SPECS E)."""
    init = kernel_init if isinstance(kernel_init, _Init) else _Init(kernel_init)
    image = keras.Input((image_size, image_size, channels), name="image")
    h = image
    for i, filters in enumerate(ENCODER_FILTERS, start=1):
        h = keras.layers.Conv2D(_scaled(filters, width), KERNEL, strides=2, padding="same",
                                kernel_initializer=init(), bias_initializer="zeros", name=f"e_conv{i}")(h)
        h = keras.layers.ReLU(name=f"e_relu{i}")(h)
    h = keras.layers.Flatten(name="e_flatten")(h)
    h = keras.layers.Dense(z_dim, kernel_initializer=init(), bias_initializer="zeros", name="e_dense")(h)
    z = keras.layers.Activation("tanh", dtype="float32", name="e_tanh")(h)
    return keras.Model(image, z, name="encoder")


def build_generator(image_size: int = 96, channels: int = 3, z_dim: int = 50, label_dim: int = 2,
                    label_repeat: int = 50, width: float = 1.0, kernel_init=None) -> keras.Model:
    """G: [z, label] -> image in [-1, 1] (SPECS G)."""
    init = kernel_init if isinstance(kernel_init, _Init) else _Init(kernel_init)
    start = image_size // 16
    dense_channels = _scaled(GENERATOR_DENSE_CHANNELS, width)
    z = keras.Input((z_dim,), name="z")
    label = keras.Input((label_dim,), name="label")
    enlarged = LabelEnlarge(label_repeat, name="g_label_enlarge")(label)
    h = keras.layers.Concatenate(name="g_concat")([z, enlarged])
    h = keras.layers.Dense(start * start * dense_channels, kernel_initializer=init(), bias_initializer="zeros",
                           name="g_dense")(h)
    h = keras.layers.Reshape((start, start, dense_channels), name="g_reshape")(h)
    h = keras.layers.ReLU(name="g_relu0")(h)
    strides = (2,) * len(GENERATOR_FILTERS) + (1,)
    for i, (filters, stride) in enumerate(zip(GENERATOR_FILTERS + (GENERATOR_FILTERS_S1,), strides), start=1):
        h = keras.layers.Conv2DTranspose(_scaled(filters, width), KERNEL, strides=stride, padding="same",
                                         kernel_initializer=init(), bias_initializer="zeros",
                                         name=f"g_deconv{i}")(h)
        h = keras.layers.ReLU(name=f"g_relu{i}")(h)
    last = len(strides) + 1
    h = keras.layers.Conv2DTranspose(channels, KERNEL, strides=1, padding="same", kernel_initializer=init(),
                                     bias_initializer="zeros", name=f"g_deconv{last}")(h)
    image = keras.layers.Activation("tanh", dtype="float32", name="g_tanh")(h)
    return keras.Model([z, label], image, name="generator")


def build_d_img(image_size: int = 96, channels: int = 3, label_dim: int = 2, d_label_repeat: int = 16,
                width: float = 1.0, label_concat: str = "every", kernel_init=None) -> keras.Model:
    """D_img: [image, label] -> logit that (image, label) is a real pair (SPECS D_img; see the module docstring for
    where the label is concatenated)."""
    if label_concat not in LABEL_CONCAT_MODES:
        raise ValueError(f"label_concat must be one of {LABEL_CONCAT_MODES}, got {label_concat!r}")
    init = kernel_init if isinstance(kernel_init, _Init) else _Init(kernel_init)
    image = keras.Input((image_size, image_size, channels), name="image")
    label = keras.Input((label_dim,), name="label")
    h = image
    for i, filters in enumerate(D_IMG_FILTERS, start=1):
        h = keras.layers.Conv2D(_scaled(filters, width), KERNEL, strides=2, padding="same",
                                kernel_initializer=init(), bias_initializer="zeros", name=f"dimg_conv{i}")(h)
        h = _batch_norm(f"dimg_bn{i}")(h)
        h = keras.layers.ReLU(name=f"dimg_relu{i}")(h)
        if label_concat == "every" or i == 1:
            label_map = SpatialLabelTile(d_label_repeat, name=f"dimg_label_tile{i}")([h, label])
            h = keras.layers.Concatenate(name=f"dimg_label_concat{i}")([h, label_map])
    h = keras.layers.Flatten(name="dimg_flatten")(h)
    h = keras.layers.Dense(_scaled(D_IMG_DENSE, width), kernel_initializer=init(), bias_initializer="zeros",
                           name="dimg_dense1")(h)
    h = keras.layers.LeakyReLU(negative_slope=0.2, name="dimg_lrelu1")(h)
    logit = keras.layers.Dense(1, kernel_initializer=init(), bias_initializer="zeros", dtype="float32",
                               name="dimg_dense2")(h)
    return keras.Model([image, label], logit, name="d_img")


def build_d_z(z_dim: int = 50, kernel_init=None) -> keras.Model:
    """D_z: z -> logit that z was drawn from the prior U(-1, 1)^z_dim (SPECS D_z). ``width`` does not apply: the
    widths 64, 32, 16 are already small."""
    init = kernel_init if isinstance(kernel_init, _Init) else _Init(kernel_init)
    z = keras.Input((z_dim,), name="z")
    h = z
    for i, units in enumerate(D_Z_UNITS, start=1):
        h = keras.layers.Dense(units, kernel_initializer=init(), bias_initializer="zeros", name=f"dz_dense{i}")(h)
        h = _batch_norm(f"dz_bn{i}")(h)
        h = keras.layers.ReLU(name=f"dz_relu{i}")(h)
    logit = keras.layers.Dense(1, kernel_initializer=init(), bias_initializer="zeros", dtype="float32",
                               name=f"dz_dense{len(D_Z_UNITS) + 1}")(h)
    return keras.Model(z, logit, name="d_z")


def build(image_size: int = 96, channels: int = 3, z_dim: int = 50, label_dim: int = 2, label_repeat: int = 50,
          d_label_repeat: int = 16, width: float = 1.0, label_concat: str = "every", kernel_init=None) -> dict:
    """Build the four CAAE networks of SPECS "CAAE".

    Args:
        image_size: side of the square input/output images; a multiple of 16 (96 in the paper).
        channels: image channels (3).
        z_dim: size of z = E(x) (50).
        label_dim: size of the label y (2: valence, arousal).
        label_repeat: how often G repeats each label component before concatenating it to z (50, paper III.B.1).
        d_label_repeat: how often D_img repeats each label component along channels (16, code).
        width: multiplier of every conv/deconv channel count, G's dense channels and D_img's dense units (1.0 =
            paper); rounded, at least 1. D_z keeps its widths.
        label_concat: "every" (paper, after each D_img block) or "first" (authors' code, after block 1 only).
        kernel_init: kernel initializer for every conv/deconv/dense layer; None gives N(0, 0.02) (paper III.B.2).
            Biases always start at 0.

    Returns:
        ``{"encoder", "generator", "d_img", "d_z"}``: functional Keras models. Inputs: encoder ``image``;
        generator ``[z, label]``; d_img ``[image, label]``; d_z ``z``. Outputs are float32: z (tanh), image (tanh)
        and logits.
    """
    if image_size % 16 or image_size < 16:
        raise ValueError(f"image_size must be a positive multiple of 16 (four stride-2 stages), got {image_size}")
    if width <= 0:
        raise ValueError(f"width must be positive, got {width}")
    if label_concat not in LABEL_CONCAT_MODES:
        raise ValueError(f"label_concat must be one of {LABEL_CONCAT_MODES}, got {label_concat!r}")
    init = _Init(kernel_init)
    return {
        "encoder": build_encoder(image_size, channels, z_dim, width, init),
        "generator": build_generator(image_size, channels, z_dim, label_dim, label_repeat, width, init),
        "d_img": build_d_img(image_size, channels, label_dim, d_label_repeat, width, label_concat, init),
        "d_z": build_d_z(z_dim, init),
    }
