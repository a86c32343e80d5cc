"""VGG-Face (VGG16, 2622 identities; Parkhi et al. 2015) and the CAAE identity-preserving loss (SPECS "CAAE",
identity loss; paper 001 III.A.1 eq. 2).

The network is built here because keras-vggface does not import on current TensorFlow. Layer names are those of
keras-vggface's ``VGG16`` so that its published weight file ``rcmalli_vggface_tf_vgg16.h5`` (or the no-top
``rcmalli_vggface_tf_notop_vgg16.h5``) loads by layer name with :func:`load_vggface_weights`. Two differences, both
in layers without weights, so loading is unaffected:

- keras-vggface builds each conv with ``activation='relu'``; here each conv is linear and followed by its own ReLU
  layer ``relu1_1`` .. ``relu5_3`` (the Caffe/MatConvNet VGG-Face names), so the PRE-ReLU conv outputs that the
  identity loss compares (SPECS: "features are PRE-ReLU outputs of conv1_2, conv2_2, ...") can be tapped at the
  layers ``conv1_2`` .. ``conv5_2``.
- keras-vggface's ``fc6/relu``, ``fc7/relu`` and ``fc8/softmax`` are named ``fc6_relu``, ``fc7_relu`` and
  ``fc8_softmax``: Keras 3 forbids "/" in layer names.

Input colour order. SPECS gives the input normalisation as "minus RGB mean [129.1863, 104.7624, 93.5940]", read in
the authors' code, which used the MatConvNet VGG-Face file (RGB input). The keras-vggface weights were converted
from the Caffe model, which takes BGR input: keras-vggface's own ``preprocess_input`` (version 1) flips RGB to BGR
and subtracts 93.5940, 104.7624, 129.1863 from B, G, R, the same per-colour means. :func:`preprocess` therefore
defaults to ``channel_order="bgr"`` for the published keras-vggface file; ``"rgb"`` is for RGB weights like the
MatConvNet ones. Either way each colour loses its own mean (R 129.1863, G 104.7624, B 93.5940).

Weight file layout read by :func:`load_vggface_weights` (Keras 2 HDF5, as written by ``Model.save_weights`` in
Keras 2 and read by its ``load_weights(by_name=True)``): the root, or its ``model_weights`` group for a whole-model
file, has the attribute ``layer_names`` (possibly split in chunks ``layer_names0``, ``layer_names1``, ...); each
layer has a group of that name with the attribute ``weight_names``, e.g. ``[b"conv1_1/kernel:0",
b"conv1_1/bias:0"]``, and those names are dataset paths inside the layer group. Kernels are channels-last TF
layouts: conv ``(3, 3, in, out)``, dense ``(in, out)``. Keras 3 ``.weights.h5`` files are not read here: keras-vggface
only publishes the Keras 2 files.

Nothing here downloads anything.
"""
from __future__ import annotations

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

NUM_IDENTITIES = 2622                                                  # VGG-Face classes
MEAN_RGB = (129.1863, 104.7624, 93.5940)                               # SPECS: RGB mean
IDENTITY_TAPS = ("conv1_2", "conv2_2", "conv3_2", "conv4_2", "conv5_2")  # SPECS / paper III.A.1
WEIGHTS_FILE = "rcmalli_vggface_tf_vgg16.h5"
NO_TOP_WEIGHTS_FILE = "rcmalli_vggface_tf_notop_vgg16.h5"
_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))           # VGG16: filters, convs per block

# Layer names of keras-vggface's VGG16 (include_top=True), in order; "/" replaced by "_" (see module docstring).
KERAS_VGGFACE_LAYER_NAMES = tuple(
    [name for b, (_, n) in enumerate(_BLOCKS, start=1) for name in
     [f"conv{b}_{i}" for i in range(1, n + 1)] + [f"pool{b}"]]
    + ["flatten", "fc6", "fc6_relu", "fc7", "fc7_relu", "fc8", "fc8_softmax"])


def build_vggface(input_size: int = 224, include_top: bool = True) -> keras.Model:
    """VGG-Face VGG16 on ``input_size`` x ``input_size`` x 3 inputs, already preprocessed (see :func:`preprocess`).

    Convs 3x3 "same", linear, each followed by a ReLU layer ``relu<b>_<i>``; max pools 2x2 s2. With ``include_top``:
    flatten -> fc6 4096 -> ReLU -> fc7 4096 -> ReLU -> fc8 2622 -> softmax (fc6's kernel shape depends on
    ``input_size``: the published weights need 224). Without it the model ends at ``pool5``.
    """
    if input_size < 32:
        raise ValueError(f"input_size must be at least 32 (five 2x2 poolings), got {input_size}")
    image = keras.Input((input_size, input_size, 3), name="image")
    h = image
    for b, (filters, n) in enumerate(_BLOCKS, start=1):
        for i in range(1, n + 1):
            h = keras.layers.Conv2D(filters, 3, padding="same", name=f"conv{b}_{i}")(h)
            h = keras.layers.ReLU(name=f"relu{b}_{i}")(h)
        h = keras.layers.MaxPooling2D(2, strides=2, name=f"pool{b}")(h)
    if include_top:
        h = keras.layers.Flatten(name="flatten")(h)
        h = keras.layers.Dense(4096, name="fc6")(h)
        h = keras.layers.Activation("relu", name="fc6_relu")(h)
        h = keras.layers.Dense(4096, name="fc7")(h)
        h = keras.layers.Activation("relu", name="fc7_relu")(h)
        h = keras.layers.Dense(NUM_IDENTITIES, name="fc8")(h)
        h = keras.layers.Activation("softmax", dtype="float32", name="fc8_softmax")(h)
    return keras.Model(image, h, name="vggface_vgg16")


def _read_names(group, attribute: str) -> list[str]:
    """A Keras 2 HDF5 name-list attribute, whole or split into ``<attribute>0``, ``<attribute>1``, ..."""
    if attribute in group.attrs:
        values = list(group.attrs[attribute])
    else:
        values, chunk = [], 0
        while f"{attribute}{chunk}" in group.attrs:
            values.extend(group.attrs[f"{attribute}{chunk}"])
            chunk += 1
        if not chunk:
            return None
    return [v.decode("utf8") if hasattr(v, "decode") else str(v) for v in values]


def load_vggface_weights(model: keras.Model, path) -> keras.Model:
    """Load a keras-vggface VGG16 weight file (``rcmalli_vggface_tf_vgg16.h5`` or the no-top file) into ``model``
    (from :func:`build_vggface`) by layer name, in place; returns ``model``.

    Every weight-bearing layer of ``model`` must be in the file with weights of matching shapes; layers of the file
    that the model lacks (fc6-fc8 for a no-top model) are ignored. Raises FileNotFoundError for a missing file,
    ValueError for a file that is not a Keras 2 HDF5 weight file, for layers missing from it, and for a shape or
    count mismatch (naming the layer).
    """
    import h5py

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"VGG-Face weight file not found: {path!r}. Expected keras-vggface's {WEIGHTS_FILE!r} (or "
            f"{NO_TOP_WEIGHTS_FILE!r}), the Keras 2 HDF5 file published with keras-vggface v2.0; nothing is "
            f"downloaded at run time, so download it yourself and pass its path, or use `--identity-net random` "
            f"to train with an untrained (random) identity network.")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"{path!r} is not an HDF5 file ({e}); expected keras-vggface's {WEIGHTS_FILE!r}") from e
    with f:
        root = f["model_weights"] if "layer_names" not in f.attrs and "model_weights" in f else f
        layer_names = _read_names(root, "layer_names")
        if layer_names is None:
            raise ValueError(
                f"{path!r} is not a Keras 2 HDF5 weight file: no 'layer_names' attribute at its root (a Keras 3 "
                f"'.weights.h5' or another layout?); expected keras-vggface's {WEIGHTS_FILE!r}")
        stored = set(layer_names)
        needed = [layer for layer in model.layers if layer.weights]
        missing = [layer.name for layer in needed if layer.name not in stored]
        if missing:
            raise ValueError(f"{path!r} lacks weights for layer(s) {missing} of {model.name!r} "
                             f"(the file has {layer_names})")
        values = {}
        for layer in needed:
            group = root[layer.name]
            weight_names = _read_names(group, "weight_names") or []
            arrays = [np.asarray(group[name]) for name in weight_names]
            if len(arrays) != len(layer.weights):
                raise ValueError(f"layer {layer.name!r}: {path!r} holds {len(arrays)} weight(s) "
                                 f"({weight_names}), the model expects {len(layer.weights)}")
            for variable, array, name in zip(layer.weights, arrays, weight_names):
                if tuple(variable.shape) != array.shape:
                    raise ValueError(
                        f"layer {layer.name!r}: weight {name!r} in {path!r} has shape {array.shape}, the model "
                        f"expects {tuple(variable.shape)} (fc6 needs input_size 224; build a no-top model for "
                        f"another input size)")
            values[layer.name] = arrays
    for layer in needed:
        layer.set_weights(values[layer.name])
    return model


def identity_features(vgg: keras.Model, taps=IDENTITY_TAPS) -> keras.Model:
    """A frozen model from ``vgg``'s input to the PRE-ReLU outputs of the layers ``taps`` (SPECS: conv1_2, conv2_2,
    conv3_2, conv4_2, conv5_2), returned as a list in that order. It shares its layers with ``vgg``; freezing it
    freezes them."""
    outputs = [vgg.get_layer(name).output for name in taps]
    model = keras.Model(vgg.input, outputs, name="vggface_identity_features")
    model.trainable = False
    return model


def preprocess(x, size: int = 224, channel_order: str = "bgr"):
    """Images in [-1, 1] (``[B, H, W, 3]``, or 1 channel, repeated to 3) -> VGG-Face input (SPECS "CAAE",
    identity loss): (x + 1) / 2 * 255, bilinear resize to ``size`` x ``size``, minus the per-colour mean (R 129.1863,
    G 104.7624, B 93.5940), channels in ``channel_order`` ("bgr" for the Caffe-converted keras-vggface weights,
    "rgb" for RGB weights; see the module docstring). float32."""
    if channel_order not in ("bgr", "rgb"):
        raise ValueError(f"channel_order must be 'bgr' or 'rgb', got {channel_order!r}")
    x = tf.cast(x, tf.float32)
    if x.shape[-1] == 1:
        x = tf.repeat(x, 3, axis=-1)
    x = (x + 1.0) / 2.0 * 255.0
    if x.shape[1] != size or x.shape[2] != size:
        x = tf.image.resize(x, (size, size), method="bilinear")
    x = x - tf.constant(MEAN_RGB, tf.float32)
    if channel_order == "bgr":
        x = x[..., ::-1]
    return x


def identity_loss(feature_model: keras.Model, x, g, n: int = 16, size: int = 224, channel_order: str = "bgr"):
    """The identity-preserving loss (SPECS "CAAE"; paper eq. 2):
    L_iden = sum_l mean|phi_l(x) - phi_l(g)| / S_l^2, on the first ``n`` images of the batch only (paper III.B.2:
    "16 out of 49"; all of them if the batch is smaller).

    ``phi_l`` are the outputs of ``feature_model`` (from :func:`identity_features`) on :func:`preprocess`-ed images
    of side ``size``; S_l is the side of feature map l, which for the default taps is size, size/2, size/4, size/8,
    size/16 (224, 112, 56, 28, 14 in SPECS). The mean runs over batch, height, width and channels. The feature network
    is not trained and the features of ``x`` are constants, so gradients flow into ``g`` only. Returns a float32
    scalar."""
    # Two passes, not one over [x; g]: backpropagation then runs through the network for g only. One pass over the
    # concatenation made the backward convolutions process the real half too (about 0.5 TFLOP, 12% of a paper-size
    # CAAE step, of wasted work; `tfgan-emotion bench`).
    # The first n images are those of the whole batch: with several replicas, the rows that belong to the first n
    # of the global batch count, and the mean is over the n of the whole batch (training.share_of_mean), so one
    # replica or many give the same loss.
    from ..training import global_rows, replica_position, share_of_mean

    as_list = lambda f: list(f) if isinstance(f, (list, tuple)) else [f]  # noqa: E731
    local = x.shape[0] if x.shape[0] is not None else tf.shape(x)[0]
    _, replicas = replica_position()
    k = min(n, local) if isinstance(local, int) else tf.minimum(n, local)
    count = min(n, local * replicas) if isinstance(local, int) else tf.minimum(n, local * replicas)
    weight = tf.cast(global_rows(local)[:k] < n, tf.float32)
    real = as_list(feature_model(preprocess(tf.stop_gradient(tf.cast(x[:k], tf.float32)), size, channel_order),
                                 training=False))
    fake = as_list(feature_model(preprocess(tf.cast(g[:k], tf.float32), size, channel_order), training=False))
    loss = tf.constant(0.0, tf.float32)
    for phi_x, phi_g in zip(real, fake):
        side = float(phi_g.shape[1])
        phi_x = tf.stop_gradient(tf.cast(phi_x, tf.float32))
        per_image = tf.reduce_mean(tf.abs(phi_x - tf.cast(phi_g, tf.float32)), axis=[1, 2, 3])
        loss += share_of_mean(tf.reduce_sum(weight * per_image), count) / (side * side)
    return loss


@dataclasses.dataclass(frozen=True)
class IdentityNet:
    """Settings of the identity network, with SPECS "CAAE" values as defaults.

    ``input_size`` is VGG-Face's input side (224 in SPECS); a smaller one (e.g. 64 for a CPU run) shrinks every
    feature map and S_l with it. The published fc layers only fit 224, so :meth:`build` builds the network without
    them; the identity loss does not use them. ``weights`` is the path of keras-vggface's weight file, or None for
    untrained (random) features."""

    input_size: int = 224
    n_images: int = 16
    taps: tuple = IDENTITY_TAPS
    channel_order: str = "bgr"
    weights: str | None = None

    def build(self) -> keras.Model:
        """The frozen feature model (:func:`identity_features`) of a no-top VGG-Face at ``input_size``."""
        vgg = build_vggface(self.input_size, include_top=False)
        if self.weights is not None:
            load_vggface_weights(vgg, self.weights)
        vgg.trainable = False
        return identity_features(vgg, self.taps)

    def loss(self, feature_model: keras.Model, x, g):
        """:func:`identity_loss` with these settings."""
        return identity_loss(feature_model, x, g, n=self.n_images, size=self.input_size,
                             channel_order=self.channel_order)
