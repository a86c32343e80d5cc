"""GANmut networks (paper 002 section IV; SPECS "GANmut"; the CVPR 2021 authors' linear 2-D model).

- ``generator``: [image, code z (2)] -> image in [-1, 1]. StarGAN generator: z tiled to 2 channels and concatenated
  to the image; conv7 s1 64, IN, ReLU; conv4 s2 128 and 256, IN, ReLU; 6 residual blocks (conv3 IN ReLU conv3 IN
  + skip); convT4 s2 128 and 64, IN, ReLU; conv7 -> 3, tanh. Convolutions without bias (the original's), instance
  norm with affine scale/offset (per sample and channel): :class:`nets.layers.InstanceNormalization`, which is
  ``GroupNormalization(groups=-1)`` computed with fewer element-wise passes.
- ``discriminator``: image -> [src (patch, [B, s, s, 1]), cls (logits, [B, 7]), coor ([B, 2])]. conv4 s2 64, 128,
  256, 512, 1024, 2048 with bias, LeakyReLU 0.01, no normalisation, down to 2x2 at 128x128 (log2(size) - 1 blocks
  in general, so a 64x64 stand-in also ends at 2x2; the blocks are :class:`nets.layers.PatchConv2D`, which
  computes a full-width critic's last small-map, large-kernel blocks as one matrix product); heads without bias:
  D_src conv3 s1 -> 1 channel, D_cls and D_coor convs whose kernel covers the whole 2x2 map (k = size / 2^blocks)
  -> 7 and 2.
- ``conditional_space``: [class id, rho] -> z, learned with the generator, in one of the authors' two 2-D
  parametrizations: ``"linear"`` (default; the paper's), z = rho * unit direction of the class, zero for neutral
  (:class:`nets.layers.EmotionDirections`); ``"gaussian"``, one Gaussian per class with a learned mode and
  covariance, z on the segment from the neutral mode to the class's mode (:class:`nets.layers.EmotionGaussians`).

Not in the paper (ours, documented): ``width`` multiplies every channel count (1.0 = SPECS) for the CPU stand-in
runs; image sizes other than 128 (powers of two from 32) for the same reason. PyTorch's padding 1 for the k4 s2
convolutions and 3 for k7 give the sizes of Keras ``padding="same"``.
"""
from __future__ import annotations

import math

import keras

from .layers import EmotionDirections, EmotionGaussians, InstanceNormalization, PatchConv2D, SpatialLabelTile

N_CLASSES = 7                # AffectNet order: neutral, happy, sad, surprise, fear, disgust, anger
G_CONV = 64                  # SPECS: g_conv_dim 64
D_CONV = 64                  # SPECS: d_conv_dim 64
RESIDUAL_BLOCKS = 6          # SPECS: 6 residual blocks
D_SLOPE = 0.01               # SPECS: LReLU(.01)
CODE_DIM = 2                 # the polar code (x, y)
PARAMETRIZATIONS = ("linear", "gaussian")   # the authors' two 2-D conditional spaces


def _scaled(n: int, width: float) -> int:
    return max(1, int(round(n * width)))


def d_blocks(image_size: int) -> int:
    """Discriminator conv blocks: down to a 2x2 map (6 at 128x128, SPECS)."""
    k = int(round(math.log2(image_size)))
    if 2 ** k != image_size or image_size < 32:
        raise ValueError(f"image_size must be a power of two >= 32, got {image_size}")
    return k - 1


def _instance_norm(name: str):
    return InstanceNormalization(epsilon=1e-5, name=name)  # = GroupNormalization(groups=-1), computed leaner


def build_generator(image_size: int = 128, channels: int = 3, width: float = 1.0,
                    residual_blocks: int = RESIDUAL_BLOCKS) -> keras.Model:
    """[image, z] -> image (module docstring)."""
    d_blocks(image_size)
    L = keras.layers
    image = keras.Input((image_size, image_size, channels), name="image")
    z = keras.Input((CODE_DIM,), name="z")
    h = L.Concatenate(name="g_concat")([image, SpatialLabelTile(1, name="g_code_map")([image, z])])
    c = _scaled(G_CONV, width)
    h = L.Conv2D(c, 7, padding="same", use_bias=False, name="g_conv1")(h)
    h = L.ReLU(name="g_relu1")(_instance_norm("g_in1")(h))
    for i in (2, 3):
        c *= 2
        h = L.Conv2D(c, 4, strides=2, padding="same", use_bias=False, name=f"g_down{i - 1}")(h)
        h = L.ReLU(name=f"g_relu{i}")(_instance_norm(f"g_in{i}")(h))
    for b in range(1, residual_blocks + 1):
        r = L.Conv2D(c, 3, padding="same", use_bias=False, name=f"g_res{b}_conv1")(h)
        r = L.ReLU(name=f"g_res{b}_relu")(_instance_norm(f"g_res{b}_in1")(r))
        r = L.Conv2D(c, 3, padding="same", use_bias=False, name=f"g_res{b}_conv2")(r)
        r = _instance_norm(f"g_res{b}_in2")(r)
        h = L.Add(name=f"g_res{b}_add")([h, r])
    for i in (1, 2):
        c //= 2
        h = L.Conv2DTranspose(c, 4, strides=2, padding="same", use_bias=False, name=f"g_up{i}")(h)
        h = L.ReLU(name=f"g_up_relu{i}")(_instance_norm(f"g_up_in{i}")(h))
    h = L.Conv2D(channels, 7, padding="same", use_bias=False, name="g_conv_out")(h)
    out = L.Activation("tanh", dtype="float32", name="g_tanh")(h)
    return keras.Model([image, z], out, name="generator")


def build_discriminator(image_size: int = 128, channels: int = 3, n_classes: int = N_CLASSES,
                        width: float = 1.0) -> keras.Model:
    """image -> [src, cls, coor] (module docstring)."""
    L = keras.layers
    blocks = d_blocks(image_size)
    image = keras.Input((image_size, image_size, channels), name="image")
    h = image
    for i in range(1, blocks + 1):
        h = PatchConv2D(_scaled(D_CONV * 2 ** (i - 1), width), 4, strides=2, padding="same", name=f"d_conv{i}")(h)
        h = L.LeakyReLU(negative_slope=D_SLOPE, name=f"d_lrelu{i}")(h)
    k = image_size // 2 ** blocks
    src = L.Conv2D(1, 3, padding="same", use_bias=False, dtype="float32", name="d_src")(h)
    cls = L.Conv2D(n_classes, k, padding="valid", use_bias=False, name="d_cls_conv")(h)
    cls = L.Reshape((n_classes,), dtype="float32", name="d_cls")(cls)
    coor = L.Conv2D(CODE_DIM, k, padding="valid", use_bias=False, name="d_coor_conv")(h)
    coor = L.Reshape((CODE_DIM,), dtype="float32", name="d_coor")(coor)
    return keras.Model(image, [src, cls, coor], name="discriminator")


def build_conditional_space(n_classes: int = N_CLASSES, seed: int | None = None,
                            parametrization: str = "linear") -> keras.Model:
    """[class id (int), rho] -> z. Linear: rho * direction(class), neutral (0) -> 0; gaussian: m_0 + rho (m_c - m_0)
    with m the learned modes (layer ``emotion_gaussians``)."""
    if parametrization not in PARAMETRIZATIONS:
        raise ValueError(f"parametrization must be one of {PARAMETRIZATIONS}, got {parametrization!r}")
    label = keras.Input((), dtype="int32", name="label")
    rho = keras.Input((1,), name="rho")
    if parametrization == "gaussian":
        z = EmotionGaussians(n_classes, seed=seed, name="emotion_gaussians")([label, rho])
        return keras.Model([label, rho], z, name="conditional_space")
    direction = EmotionDirections(n_classes - 1, seed=seed, name="emotion_directions")(label)
    z = keras.layers.Multiply(dtype="float32", name="z")([direction, rho])
    return keras.Model([label, rho], z, name="conditional_space")


def build(image_size: int = 128, channels: int = 3, n_classes: int = N_CLASSES, width: float = 1.0,
          residual_blocks: int = RESIDUAL_BLOCKS, seed: int | None = None, parametrization: str = "linear",
          discriminator: bool = True) -> dict:
    """``{"generator", "discriminator", "conditional_space"}`` of SPECS "GANmut" (128x128x3, 7 classes);
    ``discriminator=False`` leaves the critic out (a generator converted from the authors' checkpoint has none)."""
    if width <= 0:
        raise ValueError(f"width must be positive, got {width}")
    nets = {"generator": build_generator(image_size, channels, width, residual_blocks),
            "conditional_space": build_conditional_space(n_classes, seed, parametrization)}
    if discriminator:
        nets["discriminator"] = build_discriminator(image_size, channels, n_classes, width)
    return nets
