"""CAAE for continuous valence/arousal expression editing (paper 001, Lindt et al. 2019; SPECS "CAAE").

One ``train_step`` updates the encoder E and generator G together (one player, loss L_EG), the image
discriminator D_img and the latent discriminator D_z, all from the same forward pass (SPECS: "E, G, D_img, D_z
updated together each step"):

    L_EG   = L1(x, G(E(x), y)) + 1/3 L_iden + 0.01 L_img(G) + 0.01 L_z(E)         paper eq. 1-5, SPECS weights
    L_Dimg = BCE(1, D_img(x, y)) + BCE(0, D_img(G(E(x), y), y))                    paper eq. 4
    L_Dz   = BCE(1, D_z(z_prior)) + BCE(0, D_z(E(x))),  z_prior ~ U(-1, 1)^50        paper eq. 3

GAN terms are sigmoid cross-entropy on logits; real and generated images pass through D_img in separate calls, so
batch-norm statistics are per call (SPECS, code). L_iden is the VGG-Face feature distance on the first 16 images of
each batch (SPECS). There is no total-variation loss (paper III: omitted).

Published-code bugs NOT reproduced (SPECS): D_z has its loss and is trained; G's first dense layer is trained like
every other G variable; seeding works.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from ..nets import caae as caae_nets
from ..nets import vggface
from ..training import GANModel, make_adam
from .losses import mean_absolute_error, sigmoid_cross_entropy


@dataclass(frozen=True)
class CAAEConfig:
    """Hyperparameters; defaults are the paper's (section cited per field)."""

    image_size: int = 96            # paper IV.C.1: 96x96x3
    channels: int = 3
    z_dim: int = 50                 # paper III.B.1: z of size 50
    label_repeat: int = 50          # paper III.B.1: y "scaled to 50 times its size" before G
    d_label_repeat: int = 16        # SPECS (code): valence x16, arousal x16 tiled for D_img
    label_concat: str = "every"     # paper III.B.1 "repeated concatenation"; "first" = authors' code
    width: float = 1.0              # channel multiplier; 1.0 = paper widths
    batch_size: int = 49            # SPECS: batch 49 (paper: not smaller)
    learning_rate: float = 2e-4     # SPECS common: Adam 2e-4, beta1 .5, beta2 .999
    beta_1: float = 0.5
    beta_2: float = 0.999
    lambda_rec: float = 1.0         # SPECS: L_EG = L1 + 1/3 L_iden + 0.01 L_img + 0.01 L_z
    lambda_iden: float = 1.0 / 3.0
    lambda_img: float = 0.01
    lambda_z: float = 0.01
    identity_images: int = 16       # SPECS: identity loss on the first 16 images of each batch of 49
    identity_net: str = "vggface"   # "vggface" (published weights), "random" (untrained features), "none"
    identity_size: int = 224        # VGG-Face input resolution (SPECS: resized to 224)

    def __post_init__(self):
        if self.label_concat not in ("every", "first"):
            raise ValueError(f"label_concat must be 'every' (paper) or 'first' (authors' code), got "
                             f"{self.label_concat!r}")
        if self.identity_net not in ("vggface", "random", "none"):
            raise ValueError(f"identity_net must be vggface, random or none, got {self.identity_net!r}")


def labels_of(batch) -> tf.Tensor:
    """The (valence, arousal) label y of a batch of examples, shape [B, 2]."""
    return tf.stack([tf.cast(batch["valence"], tf.float32), tf.cast(batch["arousal"], tf.float32)], axis=-1)


def _discriminator_loss(real_logits, fake_logits) -> tf.Tensor:
    """Mean over the batch of BCE(1, real) + BCE(0, fake), the two terms of an example added first (D_img, D_z)."""
    return tf.reduce_mean(sigmoid_cross_entropy(real_logits, 1.0, reduction="none")
                          + sigmoid_cross_entropy(fake_logits, 0.0, reduction="none"))


class CAAE(GANModel):
    """The four CAAE networks and their joint training step. Build inside ``strategy.scope()``."""

    def __init__(self, config: CAAEConfig = CAAEConfig(), vggface_weights: str | None = None,
                 sample_faces: np.ndarray | None = None, **kwargs):
        super().__init__(**kwargs)
        self.config = c = config
        nets = caae_nets.build(image_size=c.image_size, channels=c.channels, z_dim=c.z_dim,
                               label_repeat=c.label_repeat, d_label_repeat=c.d_label_repeat, width=c.width,
                               label_concat=c.label_concat)
        self.encoder, self.generator = nets["encoder"], nets["generator"]
        self.d_img, self.d_z = nets["d_img"], nets["d_z"]
        self.identity_features = None
        if c.identity_net != "none":
            vgg = vggface.build_vggface(input_size=c.identity_size, include_top=False)
            if c.identity_net == "vggface":
                if not vggface_weights:
                    raise ValueError("identity_net='vggface' needs the VGG-Face weights file (--vggface-weights); "
                                     "use identity_net='random' for untrained features")
                vggface.load_vggface_weights(vgg, vggface_weights)
            vgg.trainable = False
            self.identity_features = vggface.identity_features(vgg)
            self.identity_features.trainable = False
        self.add_player("eg", make_adam(c.learning_rate, c.beta_1, c.beta_2, name="eg_adam"),
                        [self.encoder, self.generator])
        self.add_player("d_img", make_adam(c.learning_rate, c.beta_1, c.beta_2, name="d_img_adam"), [self.d_img])
        self.add_player("d_z", make_adam(c.learning_rate, c.beta_1, c.beta_2, name="d_z_adam"), [self.d_z])
        self.sample_faces = None if sample_faces is None else tf.constant(sample_faces[:6], tf.float32)

    def networks(self) -> dict:
        return {"encoder": self.encoder, "generator": self.generator, "d_img": self.d_img, "d_z": self.d_z}

    def edit(self, images, valence, arousal, training: bool = False):
        """G(E(x), y): the faces in ``images`` (in [-1, 1]) showing (valence, arousal)."""
        y = tf.stack([tf.cast(valence, tf.float32), tf.cast(arousal, tf.float32)], axis=-1)
        return self.generator([self.encoder(images, training=training), y], training=training)

    def train_step(self, batch):
        c = self.config
        x = tf.cast(batch["image"], tf.float32)
        y = labels_of(batch)
        z_prior = batch["z_prior"]
        with tf.GradientTape(persistent=True) as tape:
            z = tf.cast(self.encoder(x, training=True), tf.float32)
            g = tf.cast(self.generator([z, y], training=True), tf.float32)
            d_real = tf.cast(self.d_img([x, y], training=True), tf.float32)
            d_fake = tf.cast(self.d_img([g, y], training=True), tf.float32)
            dz_prior = tf.cast(self.d_z(z_prior, training=True), tf.float32)
            dz_fake = tf.cast(self.d_z(z, training=True), tf.float32)

            rec = mean_absolute_error(x, g)                                       # eq. 1 (L1 = mean abs error)
            img_g = sigmoid_cross_entropy(d_fake, 1.0)                            # G's side of eq. 4
            z_e = sigmoid_cross_entropy(dz_fake, 1.0)                             # E's side of eq. 3
            loss_eg = c.lambda_rec * rec + c.lambda_img * img_g + c.lambda_z * z_e
            losses = {"rec": rec, "img_g": img_g, "z_e": z_e}
            if self.identity_features is not None:
                iden = vggface.identity_loss(self.identity_features, x, g, n=c.identity_images,
                                             size=c.identity_size)                # eq. 2
                loss_eg += c.lambda_iden * iden
                losses["iden"] = iden
            loss_dimg = _discriminator_loss(d_real, d_fake)                       # eq. 4
            loss_dz = _discriminator_loss(dz_prior, dz_fake)                      # eq. 3
        self.update("eg", tape, loss_eg)
        self.update("d_img", tape, loss_dimg)
        self.update("d_z", tape, loss_dz)
        del tape
        return {"loss_eg": loss_eg, "d_img": loss_dimg, "d_z": loss_dz, **losses}

    SAMPLE_LABELS = ((0.0, 0.0), (0.75, 0.0), (-0.75, 0.0), (0.0, 0.75), (0.0, -0.75), (0.75, 0.75), (-0.75, 0.75))
    sample_columns = 1 + len(SAMPLE_LABELS)

    def sample_images(self):
        """Rows: the sample faces; columns: the input, then edits to SAMPLE_LABELS (valence, arousal)."""
        if self.sample_faces is None:
            return None
        faces = self.sample_faces
        n = tf.shape(faces)[0]
        z = self.encoder(faces, training=False)
        cols = [faces]
        for v, a in self.SAMPLE_LABELS:
            y = tf.tile(tf.constant([[v, a]], tf.float32), [n, 1])
            cols.append(tf.cast(self.generator([z, y], training=False), tf.float32))
        grid = tf.stack(cols, axis=1)  # [n, 1 + labels, H, W, C]
        return tf.reshape(grid, [-1, *faces.shape[1:]])


def saved_model_endpoints(model: CAAE) -> dict:
    """The SavedModel signature ``edit(image, valence, arousal) -> {"image"}`` (images in [-1, 1])."""
    c = model.config
    enc, gen = model.encoder, model.generator

    def edit(image, valence, arousal):
        y = tf.stack([valence, arousal], axis=-1)
        return {"image": tf.cast(gen([enc(image, training=False), y], training=False), tf.float32)}

    return {"edit": (edit, [tf.TensorSpec([None, c.image_size, c.image_size, c.channels], tf.float32, name="image"),
                            tf.TensorSpec([None], tf.float32, name="valence"),
                            tf.TensorSpec([None], tf.float32, name="arousal")])}
