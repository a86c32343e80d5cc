"""A small conditional GAN on 8x8 two-class images, used to test the engine (runtime, training, export, run).

Run as a script it is a complete recipe built on the shared plumbing (``python tests/tiny_gan.py --help``).
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
import keras

from tfgan_emotion import export, report, run, training

SIZE, Z, CLASSES = 8, 4, 2


def class_images(n: int, seed: int = 0):
    """Class 0: bright top half; class 1: bright left half; plus noise. Returns images in [-1, 1] and labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, n)
    img = -np.ones((n, SIZE, SIZE, 1), np.float32)
    img[labels == 0, : SIZE // 2] = 1.0
    img[labels == 1, :, : SIZE // 2] = 1.0
    img += rng.normal(0, 0.1, img.shape).astype(np.float32)
    return np.clip(img, -1, 1), labels


def dataset(n: int = 256, seed: int = 0) -> tf.data.Dataset:
    img, lab = class_images(n, seed)
    ds = tf.data.Dataset.from_tensor_slices({"image": img, "label": tf.one_hot(lab, CLASSES)})
    return training.add_noise(ds, "z", (Z,), seed)


def build_generator():
    z = keras.Input((Z,), name="z")
    y = keras.Input((CLASSES,), name="label")
    h = keras.layers.Concatenate()([z, y])
    h = keras.layers.Dense(32, activation="relu")(h)
    h = keras.layers.Dense(SIZE * SIZE, activation="tanh")(h)
    out = keras.layers.Reshape((SIZE, SIZE, 1), dtype="float32")(h)
    return keras.Model([z, y], out, name="generator")


def build_discriminator():
    x = keras.Input((SIZE, SIZE, 1), name="image")
    y = keras.Input((CLASSES,), name="label")
    h = keras.layers.Dense(32)(keras.layers.Flatten()(x))
    h = keras.layers.LeakyReLU(0.2)(h)
    # projection-style conditioning (Miyato & Koyama 2018): the label selects a direction in feature space
    proj = keras.layers.Dot(axes=1)([h, keras.layers.Dense(32, use_bias=False)(y)])
    out = keras.layers.Add(dtype="float32")([keras.layers.Dense(1)(h), proj])
    return keras.Model([x, y], out, name="discriminator")


class TinyCGAN(training.GANModel):
    def __init__(self, nan_at: int = -1, lr: float = 2e-3, **kw):
        super().__init__(**kw)
        self.generator = build_generator()
        self.discriminator = build_discriminator()
        self.nan_at = nan_at
        self.add_player("d", training.make_adam(lr, name="d_adam"), [self.discriminator])
        self.add_player("g", training.make_adam(lr, name="g_adam"), [self.generator])
        rng = np.random.default_rng(1)
        self.fixed_z = tf.constant(rng.uniform(-1, 1, (8, Z)).astype(np.float32))
        self.fixed_y = tf.one_hot(np.arange(8) % CLASSES, CLASSES)

    def train_step(self, batch):
        x, y, z = batch["image"], batch["label"], batch["z"]
        bce = keras.losses.BinaryCrossentropy(from_logits=True, reduction="none")
        with tf.GradientTape() as tape:
            fake = self.generator([z, y], training=True)
            real_logit = self.discriminator([x, y], training=True)
            fake_logit = self.discriminator([fake, y], training=True)
            d_loss = tf.reduce_mean(bce(tf.ones_like(real_logit), real_logit) +
                                    bce(tf.zeros_like(fake_logit), fake_logit))
            if self.nan_at >= 0:
                d_loss += tf.where(self.global_step >= self.nan_at, np.float32("nan"), 0.0)
        self.update("d", tape, d_loss)
        with tf.GradientTape() as tape:
            fake = self.generator([z, y], training=True)
            fake_logit = self.discriminator([fake, y], training=True)
            g_loss = tf.reduce_mean(bce(tf.ones_like(fake_logit), fake_logit))
        self.update("g", tape, g_loss)
        return {"d_loss": d_loss, "g_loss": g_loss}

    def networks(self):
        return {"generator": self.generator, "discriminator": self.discriminator}

    def sample_images(self):
        return self.generator([self.fixed_z, self.fixed_y], training=False)


def endpoints(gan: TinyCGAN):
    g = gan.generator

    def generate(z, label):
        return {"image": g([z, label], training=False)}

    return {"generate": (generate, [tf.TensorSpec([None, Z], tf.float32, name="z"),
                                     tf.TensorSpec([None, CLASSES], tf.float32, name="label")])}


def main(argv=None):
    p = run.common_parser("tiny_gan", __doc__, default_batch_size=16, default_steps=40)
    p.add_argument("--nan-at", type=int, default=-1, help="make d_loss NaN from this step on (tests the guard)")
    p.add_argument("--step-sleep", type=float, default=0.0, help="sleep per step (lets tests kill mid-run)")
    args = p.parse_args(argv)
    r = run.start(args, "tiny_gan", {"system": "tiny_cgan", "size": SIZE, "z": Z}, resumable={"step_sleep"})
    steps = run.steps_from(args, paper_steps=40)
    with r.strategy.scope():
        gan = TinyCGAN(nan_at=args.nan_at)
    extra = []
    if args.step_sleep:
        import time

        extra.append(keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: time.sleep(args.step_sleep)))
    try:
        result = training.train(gan, dataset(seed=args.seed), r.dir, r.train_config(steps), r.strategy,
                                r.runtime.is_chief, extra_callbacks=extra)
    except (training.NonFiniteLossError, training.TrainingInterrupted) as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    if r.runtime.is_chief:
        export.export_networks(gan.networks(), r.dir / "export")
        export.export_saved_model(r.dir / "export" / "saved_model", gan.networks(), endpoints(gan))
        r.write_metrics({"training": result.to_dict()}, result.step)
        print(f"report {report.write_report(r.dir, args.reports)}")
    print(f"done step {result.step} restored_from {result.restored_from}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
