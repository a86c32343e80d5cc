"""Training streams that can start at any example: the data order, the augmentation and every random draw of a
stream are functions of (seed, position in the stream), so a run resumed at step k reads exactly the examples and
draws the uninterrupted run would have read next, whatever the number of replicas.

A :class:`Stream` is endless. Its order is a sequence of epochs; epoch ``e`` visits the ``n`` examples in the
permutation drawn with the stateless key ``(seed, -1 - e)`` (or in file order without shuffling), so the example at
position ``p`` is example ``perm_{p // n}[p mod n]``. Starting at position ``p`` skips whole epochs arithmetically and
the rest of the first epoch before anything is decoded: the skipped images are never read. Every stage added with
:meth:`Stream.map` / :meth:`Stream.map_with_position` runs after that skip, and draws keyed by the position
(:func:`tfgan_emotion.training.add_noise`) are the same on a resumed run as on an uninterrupted one.

For code that expects a ``tf.data.Dataset`` (evaluation reading the training stream, the benchmarks), a Stream
behaves as the dataset that starts at position 0.
"""
from __future__ import annotations

from typing import Callable

import tensorflow as tf

#: Positions are int64; the stream ends (in theory) here.
_END = 2 ** 62
#: Salt of the permutation keys: (seed, -1 - epoch) never equals a noise key (seed, position >= 0).
_EPOCH_KEY = -1


class Stream:
    """An endless stream of unbatched examples that can start at any position (module docstring).

    ``build(start)`` returns a ``tf.data.Dataset`` of ``(position, example)`` pairs beginning at ``start``."""

    def __init__(self, build: Callable[[int], tf.data.Dataset], size: int | None = None):
        self._build = build
        self.size = size   # examples per epoch, when known

    def positioned(self, start: int = 0) -> tf.data.Dataset:
        """``(position, example)`` pairs from position ``start`` on."""
        if start < 0:
            raise ValueError(f"a stream starts at position >= 0, not {start}")
        return self._build(int(start))

    def dataset(self, start: int = 0) -> tf.data.Dataset:
        """The examples from position ``start`` on (the positions dropped)."""
        return self.positioned(start).map(lambda p, ex: ex, num_parallel_calls=tf.data.AUTOTUNE,
                                          deterministic=True)

    def map_with_position(self, fn: Callable) -> "Stream":
        """A stream of ``fn(position, example)``."""
        build = self._build

        def mapped(start):
            return build(start).map(lambda p, ex: (p, fn(p, ex)), num_parallel_calls=tf.data.AUTOTUNE,
                                    deterministic=True)

        return Stream(mapped, self.size)

    def map(self, fn: Callable) -> "Stream":
        """A stream of ``fn(example)``."""
        return self.map_with_position(lambda p, ex: fn(ex))

    def ignore_errors(self, log_warning: bool = True) -> "Stream":
        build = self._build
        return Stream(lambda start: build(start).ignore_errors(log_warning=log_warning), self.size)

    # A Stream read as a dataset (evaluation, benchmarks) is the one that starts at position 0.
    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.dataset(0), name)

    def __iter__(self):
        return iter(self.dataset(0))


def without_tuning_thread(ds: tf.data.Dataset) -> tf.data.Dataset:
    """``ds`` with tf.data's autotuning turned off, for a pipeline read for minutes (training, reader training).

    Autotuning keeps a background thread that re-tunes the pipeline at intervals growing to a minute. Deleting the
    iterator (at the end of ``fit``) waits for that thread, and with TensorFlow 2.21 it sometimes waits until the
    interval ends: the default CAAE run sat idle for 30-57 s after its last step in 6 of 13 runs of 1,200-1,500
    steps, and in none of 4 without autotuning.
    Without autotuning, ``AUTOTUNE`` parallelism and prefetch buffers keep TensorFlow's untuned defaults, which cost
    nothing measurable here: a JPEG decode pipeline read 2,545-2,568 images/s on 2 cores without it (2,277-2,566
    with it), and these pipelines produce batches many times faster than the networks consume them."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.with_options(options)


def order(n: int, seed: int, shuffle: bool = True) -> Stream:
    """The endless order of ``n`` examples: a stream of example indices (int64), epoch after epoch, each epoch a new
    permutation keyed by (``seed``, epoch) when ``shuffle``, else 0..n-1 every epoch."""
    n = int(n)
    if n < 1:
        raise ValueError("a training stream needs at least one example")
    seed = int(seed or 0)

    def epoch(e):
        if shuffle:
            key = tf.stack([tf.constant(seed, tf.int64), tf.constant(_EPOCH_KEY, tf.int64) - e])
            index = tf.argsort(tf.random.stateless_uniform([n], key), stable=True)
        else:
            index = tf.range(n)
        return tf.data.Dataset.from_tensor_slices((e * n + tf.range(n, dtype=tf.int64), tf.cast(index, tf.int64)))

    def build(start):
        first = start // n
        ds = tf.data.Dataset.range(first, _END // n).flat_map(epoch)
        return ds.skip(start - first * n)

    return Stream(build, n)


def from_tensors(tensors, seed: int, shuffle: bool = True) -> Stream:
    """A stream of the rows of ``tensors`` (a dict of equally long arrays, held in memory), in :func:`order`."""
    consts = {k: tf.constant(v) for k, v in tensors.items()}
    n = int(next(iter(consts.values())).shape[0])
    return order(n, seed, shuffle).map(lambda i: {k: tf.gather(v, i) for k, v in consts.items()})


def with_position(data, fn: Callable):
    """``fn(position, example)`` over ``data``: a Stream (its own positions) or a plain tf.data.Dataset (numbered
    from 0)."""
    if isinstance(data, Stream):
        return data.map_with_position(fn)
    return data.enumerate().map(fn, num_parallel_calls=tf.data.AUTOTUNE)


def as_dataset(data, start: int = 0) -> tf.data.Dataset:
    """``data`` (a Stream or a tf.data.Dataset) as a dataset; a Stream starts at ``start``."""
    return data.dataset(start) if isinstance(data, Stream) else data
