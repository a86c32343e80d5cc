"""Source/target pairs for expression transfer (FExGAN, paper 004 section 4.2; SPECS "FExGAN").

FExGAN's reconstruction target is "randomly selected from the list of images of the desired affect while keeping
the identity of the character the same" (paper 3.2, eq. 2; 4.2 "The target images for each batch, are selected
randomly for the character in the source image and according to the desired affect"). :func:`affect_pairs` builds
that stream: every source example is paired with

- a target affect ``t`` drawn uniformly from the affects this character has images of (the source's own affect
  included, so the generator also learns to keep an expression), and
- a target image drawn uniformly from this character's images of affect ``t``.

Both draws use stateless random numbers keyed by (seed, position in the stream, source index), so a run draws the
same pairs on one device or many and after a resume; every epoch gives new pairs.

:func:`crop_jitter_pairs` adds paper 4.1's pre-processing ("random noise by cropping and adding jitter",
:func:`pipeline.crop_jitter`) to such a stream, drawn anew for every example of every epoch. The source and its
target get the SAME window: FERG-DB draws all images of a character in one framing, so the uncropped source and
target are aligned; with independent windows the L1 term (eq. 2) would ask the generator for a shift it cannot see in
its input (and reward a blurred average of the possible shifts), while one shared window keeps the target aligned
with the source, so the generator learns to keep its input's framing, as a transfer must. The discriminator's real
image is the jittered source.

:class:`ImageTable` gives random access to the images of a reader's :class:`pipeline.Scan` (files decoded on
demand, or uint8 arrays) or to float arrays already in [-1, 1] (the synthetic stand-ins).
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from . import pipeline


class ImageTable:
    """Random access ``fetch(index) -> float32 [H, W, C] in [-1, 1]`` to a set of images."""

    def __init__(self, *, images=None, scan: "pipeline.Scan | None" = None, image_size=None, channels: int = 3):
        if (images is None) == (scan is None):
            raise ValueError("give exactly one of images (float arrays in [-1, 1]) or scan (a reader's Scan)")
        self.channels = pipeline.check_channels(channels)
        if images is not None:
            images = np.asarray(images, np.float32)
            if images.ndim != 4 or images.shape[-1] != channels:
                raise ValueError(f"images must be [N, H, W, {channels}], got {images.shape}")
            self.size = images.shape[1:3]
            self._images = tf.constant(images)
            self._kind = "float"
            self.n = len(images)
            return
        self.size = pipeline.image_hw(image_size)
        if scan.images is not None:
            self._images = tf.constant(np.asarray(scan.images, np.uint8))
            self._kind = "uint8"
            self.n = len(scan.images)
        else:
            if scan.decoder != "tf":
                raise ValueError("ImageTable decodes files with TensorFlow; this reader needs its PIL decoder")
            self._paths = tf.constant(np.asarray(scan.paths, dtype=str))
            self._boxes = tf.constant(np.asarray(scan.boxes, np.int32).reshape(-1, 4))
            self._kind = "files"
            self.n = len(scan.paths)

    def fetch(self, index) -> tf.Tensor:
        if self._kind == "float":
            return tf.gather(self._images, index)
        if self._kind == "uint8":
            image = pipeline.match_channels(tf.gather(self._images, index), self.channels)
            return pipeline.to_unit_range(pipeline.resize(image, self.size))
        image = pipeline._decode_tf(tf.gather(self._paths, index), tf.gather(self._boxes, index), self.size,
                                    self.channels)
        return pipeline.to_unit_range(image)


def pair_tables(expression, character, n_classes: int) -> dict[str, np.ndarray]:
    """Lookup tables of :func:`affect_pairs`: examples sorted by (character, affect), the offset and count of every
    (character, affect) group, and per character the affects it has images of."""
    expression = np.asarray(expression, np.int64).reshape(-1)
    character = np.asarray(character, np.int64).reshape(-1)
    if len(expression) != len(character):
        raise ValueError(f"{len(expression)} expressions but {len(character)} characters")
    if len(expression) == 0:
        raise ValueError("no examples to pair")
    if expression.min() < 0 or expression.max() >= n_classes:
        bad = int(np.flatnonzero((expression < 0) | (expression >= n_classes))[0])
        raise ValueError(f"example {bad}: expression {expression[bad]} outside 0..{n_classes - 1}")
    if character.min() < 0:
        raise ValueError(f"example {int(np.argmin(character))}: negative character index")
    n_chars = int(character.max()) + 1
    group = character * n_classes + expression
    order = np.argsort(group, kind="stable")
    counts = np.bincount(group, minlength=n_chars * n_classes)
    offsets = np.cumsum(counts) - counts
    has = counts.reshape(n_chars, n_classes) > 0
    n_avail = has.sum(axis=1)
    avail = np.zeros((n_chars, n_classes), np.int64)
    for c in range(n_chars):
        avail[c, :n_avail[c]] = np.flatnonzero(has[c])
    return dict(order=order, counts=counts, offsets=offsets, avail=avail, n_avail=n_avail)


def affect_pair_stream(table: ImageTable, expression, character, n_classes: int, seed: int = 0,
                       shuffle: bool = True):
    """The endless training stream (:class:`stream.Stream`) of unbatched ``{"image", "expression", "character",
    "target_image", "target_expression"}``: epoch after epoch in a new order, each pair drawn with a key of
    (``seed``, source index, position in the stream), so every epoch draws new pairs and a resumed run the same
    ones as an uninterrupted run. ``expression`` / ``character``: integer labels of the ``table``'s images (same
    order). See the module docstring for the draws."""
    from . import stream as streams

    expression = np.asarray(expression, np.int64).reshape(-1)
    character = np.asarray(character, np.int64).reshape(-1)
    if len(expression) != table.n:
        raise ValueError(f"{len(expression)} labels for {table.n} images")
    t = {k: tf.constant(v) for k, v in pair_tables(expression, character, n_classes).items()}
    expr_c, char_c = tf.constant(expression), tf.constant(character)

    def pair(position, i):
        key = tf.stack([tf.cast(seed, tf.int64) * 1_000_003 + i, position])
        u = tf.random.stateless_uniform([2], key, dtype=tf.float32)
        c = tf.gather(char_c, i)
        n_av = tf.gather(t["n_avail"], c)
        k = tf.minimum(tf.cast(tf.floor(u[0] * tf.cast(n_av, tf.float32)), tf.int64), n_av - 1)
        target = tf.gather(t["avail"][c], k)
        g = c * n_classes + target
        cnt = tf.gather(t["counts"], g)
        j = tf.minimum(tf.cast(tf.floor(u[1] * tf.cast(cnt, tf.float32)), tf.int64), cnt - 1)
        j = tf.gather(t["order"], tf.gather(t["offsets"], g) + j)
        return {"image": table.fetch(i), "expression": tf.cast(tf.gather(expr_c, i), tf.int32),
                "character": tf.cast(c, tf.int32), "target_image": table.fetch(j),
                "target_expression": tf.cast(target, tf.int32)}

    return streams.order(len(expression), seed, shuffle).map_with_position(pair)


def affect_pairs(table: ImageTable, expression, character, n_classes: int, seed: int = 0,
                 shuffle: bool = True) -> tf.data.Dataset:
    """The first epoch of :func:`affect_pair_stream` as a finite tf.data.Dataset."""
    return affect_pair_stream(table, expression, character, n_classes, seed, shuffle).dataset(0).take(table.n)


#: Salt of the stateless key of :func:`crop_jitter_pairs` (its draws differ from any noise keyed by (seed, position)).
JITTER_SALT = 0x6A17_0000


def crop_jitter_pairs(ds, seed: int = 0):
    """Paper 004 4.1's random crop + jitter (:func:`pipeline.crop_jitter`) of every example of a stream of
    :func:`affect_pair_stream` examples, ``image`` and ``target_image`` cut with the same window (module docstring).
    The window is keyed by (``seed``, position in the stream): on a :class:`stream.Stream` every epoch gets new
    windows, the same on any number of devices and after a resume; a plain dataset is numbered from 0 (put it after
    the stream is repeated)."""
    from .stream import with_position

    def jitter(position, ex):
        key = tf.stack([tf.cast(seed, tf.int64) + JITTER_SALT, position])
        image, target = pipeline.crop_jitter((ex["image"], ex["target_image"]), key)
        return {**ex, "image": image, "target_image": target}

    return with_position(ds, jitter)
