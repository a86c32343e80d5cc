"""Face detection and cropping: turning raw frames into a face-crop training set (paper 002 section V).

Paper 002 (GANmut benchmark) builds its Aff-Wild2 training set by extracting video frames, keeping the frames
whose annotation is a relevant emotion, running a face detector (MTCNN or RetinaFace, section V.A-B) on each
frame, keeping "the face with the highest confidence score", on the assumption that it is the annotated one
(section V.C), saving that face to a folder and listing the crops with their labels in a CSV file read by the
GANmut data loader (section V.D). This module does those steps:

* :class:`Detector` -- ``detect(image) -> [(box_xywh, confidence), ...]``, highest confidence first;
  :class:`MTCNNDetector` wraps the ``mtcnn`` package (v1.x, weights shipped inside the package);
  :class:`RetinaFaceDetector` is RetinaFace-R50 (Deng et al. 2019) built here in Keras 3 with the layer names of
  the ``retina-face`` package, so that package's published ``retinaface.h5`` loads by layer name, plus its anchor
  decoding and non-maximum suppression. Nothing here downloads anything: the user passes the weight file.
* :func:`best_face`, :func:`crop_window`, :func:`crop_face` -- choose a face and cut it out with a margin.
* :func:`crop_folder` -- walk a folder of frames, write the crops and ``crops.csv``.

Which MTCNN box is a face (``rule``). The ``mtcnn`` package ends with a non-maximum suppression that compares boxes
by their intersection over the *smaller* box, so a confident box around one eye suppresses the box of the whole
face it lies in: on a portrait enlarged 1.5x the package returns only the eye. ``rule="checked"`` (the default)
keeps every final-stage candidate with its five landmarks, drops candidates whose landmarks do not make a face
(:func:`face_issues`), suppresses overlapping boxes by ordinary intersection over union, then drops any box lying
mostly inside a larger face; when no candidate passes, smaller copies of the image are tried
(:data:`FALLBACK_SCALES`), and only then are the package's own detections returned, each marked with what is
wrong. ``rule="plain"`` is the package's output as published, for paper 002's detector comparison.

Boxes are ``(x, y, w, h)`` in pixels of the image passed to ``detect`` (x to the right, y down).
"""
from __future__ import annotations

import csv
import functools
import math
import os
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
from PIL import Image

Box = tuple[float, float, float, float]
Detection = tuple[Box, float]
RULES = ("checked", "plain")


class Face(tuple):
    """One detection: unpacks as ``(box, confidence)`` like a plain :data:`Detection`, and carries
    ``landmarks`` (five (x, y) points: left eye, right eye, nose, left and right mouth corner; None when the detector
    gives none) and ``issues`` (what makes it doubtful as a face, from :func:`face_issues`; empty when clean)."""

    def __new__(cls, box, confidence, landmarks=None, issues=()):
        face = super().__new__(cls, (tuple(float(v) for v in box), float(confidence)))
        face.landmarks = None if landmarks is None else tuple((float(x), float(y)) for x, y in landmarks)
        face.issues = tuple(issues)
        return face


# Smaller copies of the image tried, in order, when no candidate at full size passes the checks: MTCNN's pyramid
# misses some faces at one scale that it finds at another.
FALLBACK_SCALES = (0.7, 0.5, 0.35)
# A face box's height over its width: MTCNN's boxes of frontal to half-profile faces lie within 0.9-1.6.
FACE_ASPECT = (0.8, 2.0)
ISSUE_LANDMARKS_OUTSIDE = "landmarks outside the box"
ISSUE_LANDMARKS_NOT_A_FACE = "landmarks not laid out as a face"
ISSUE_ASPECT = "aspect ratio far from a face"


def face_issues(box: Sequence[float], landmarks=None) -> list[str]:
    """What makes the box ``(x, y, w, h)`` with its five ``landmarks`` doubtful as a face (empty: none):

    - a landmark outside the box (grown by 5% on each side);
    - landmarks not laid out as a face: the eyes closer than 0.2 or further than 0.9 box widths apart, the mouth's
      centre not 0.12-0.8 box heights from the eyes' centre, that eyes-to-mouth axis more than 60 degrees from
      the box's vertical, or the nose not between the eyes and the mouth along it;
    - a height/width ratio outside :data:`FACE_ASPECT`."""
    x, y, w, h = (float(v) for v in box)
    out = []
    if landmarks is not None:
        pts = np.asarray(landmarks, np.float64).reshape(5, 2)
        tol_x, tol_y = 0.05 * w, 0.05 * h
        if np.any(pts[:, 0] < x - tol_x) or np.any(pts[:, 0] > x + w + tol_x) or \
                np.any(pts[:, 1] < y - tol_y) or np.any(pts[:, 1] > y + h + tol_y):
            out.append(ISSUE_LANDMARKS_OUTSIDE)
        eyes, nose, mouth = (pts[0] + pts[1]) / 2, pts[2], (pts[3] + pts[4]) / 2
        axis = mouth - eyes
        length = float(np.hypot(*axis))
        eye_gap = float(np.hypot(*(pts[1] - pts[0])))
        along = float(np.dot(nose - eyes, axis) / length ** 2) if length > 0 else -1.0
        if not (0.2 * w <= eye_gap <= 0.9 * w and 0.12 * h <= length <= 0.8 * h
                and axis[1] > 0 and abs(math.degrees(math.atan2(axis[0], axis[1]))) <= 60
                and 0.0 < along < 1.1):
            out.append(ISSUE_LANDMARKS_NOT_A_FACE)
    if w > 0 and not FACE_ASPECT[0] <= h / w <= FACE_ASPECT[1]:
        out.append(ISSUE_ASPECT)
    return out


def _iou_matrix(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(intersection over union, intersection over the row box's own area) of every pair of ``(x, y, w, h)``."""
    x0, y0 = boxes[:, 0], boxes[:, 1]
    x1, y1 = x0 + boxes[:, 2], y0 + boxes[:, 3]
    iw = np.clip(np.minimum(x1[:, None], x1[None]) - np.maximum(x0[:, None], x0[None]), 0, None)
    ih = np.clip(np.minimum(y1[:, None], y1[None]) - np.maximum(y0[:, None], y0[None]), 0, None)
    inter = iw * ih
    area = boxes[:, 2] * boxes[:, 3]
    return inter / np.maximum(area[:, None] + area[None] - inter, 1e-9), inter / np.maximum(area[:, None], 1e-9)


def select_faces(candidates: Sequence[Face], iou_threshold: float = 0.5, inside: float = 0.6) -> list[Face]:
    """The faces among ``candidates`` under the checked rule: the clean ones (no :func:`face_issues`), overlapping
    boxes suppressed by intersection over union >= ``iou_threshold`` (the more confident kept), then every box of
    which at least ``inside`` of the area lies within a larger kept face dropped (a part of that face: an eye, a
    mouth). Highest confidence first."""
    clean = [f for f in candidates if not f.issues]
    if not clean:
        return []
    clean.sort(key=lambda f: -f[1])
    boxes = np.array([f[0] for f in clean], np.float64)
    iou, _ = _iou_matrix(boxes)
    kept = []
    for i in range(len(clean)):
        if all(iou[i, j] < iou_threshold for j in kept):
            kept.append(i)
    _, inside_of = _iou_matrix(boxes)
    area = boxes[:, 2] * boxes[:, 3]
    faces = [i for i in kept if not any(area[j] > area[i] and inside_of[i, j] >= inside for j in kept)]
    return [clean[i] for i in faces]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
CROPS_CSV = "crops.csv"
CSV_COLUMNS = ("path", "source", "box_x", "box_y", "box_w", "box_h", "confidence",
               "crop_x0", "crop_y0", "crop_x1", "crop_y1")
SKIP_REASONS = ("unlabelled", "unreadable", "no_face", "low_confidence", "too_small", "detector_error")
SUSPICIOUS_CSV = "suspicious.csv"
ISSUE_SMALL_IN_FOLDER = "box much smaller than the others in its folder"

RETINAFACE_WEIGHTS_FILE = "retinaface.h5"
RETINAFACE_WEIGHTS_URL = "https://github.com/serengil/deepface_models/releases/download/v1.0/retinaface.h5"


def as_rgb_uint8(image) -> np.ndarray:
    """``image`` as a contiguous HxWx3 uint8 array: grey (HxW or HxWx1) is repeated to 3 channels, RGBA drops alpha.

    Raises ``ValueError`` for any other dtype or shape, so that a float image in [-1, 1] is not silently misread.
    """
    a = np.asarray(image)
    if a.dtype != np.uint8:
        raise ValueError(f"detectors take uint8 RGB images, got dtype {a.dtype}")
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
        raise ValueError(f"detectors take HxW, HxWx1, HxWx3 or HxWx4 images, got shape {a.shape}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"empty image, shape {a.shape}")
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    return np.ascontiguousarray(a[:, :, :3])


class Detector:
    """A face detector: ``detect(image)`` returns every face found in an RGB uint8 image as ``(box, confidence)``
    with ``box = (x, y, w, h)`` in pixels, sorted by decreasing confidence (paper 002 V.C: "a list of identified
    faces, sorted by the confidence score"). Subclasses implement ``_detect`` on a validated HxWx3 uint8 array."""

    name = "detector"

    rule: str | None = None   # MTCNN: "checked" or "plain" (module docstring); other detectors: None

    def detect(self, image) -> list[Face]:
        faces = [f if isinstance(f, Face) else Face(*f) for f in self._detect(as_rgb_uint8(image))]
        return sorted((f for f in faces if f[0][2] > 0 and f[0][3] > 0), key=lambda d: -d[1])

    def _detect(self, image: np.ndarray) -> list[Detection]:
        raise NotImplementedError

    __call__ = detect


def _default_device() -> str:
    import tensorflow as tf

    return "GPU:0" if tf.config.list_logical_devices("GPU") else "CPU:0"


class MTCNNDetector(Detector):
    """MTCNN (Zhang et al. 2016; paper 002 V.B) through the ``mtcnn`` package (>= 1.0), which ships the P-, R- and
    O-Net weights inside the package and never downloads. Defaults are the package's: ``min_face_size`` 20 px,
    pyramid ``scale_factor`` 0.709, stage thresholds (0.6, 0.7, 0.8). ``device`` defaults to the first GPU if
    TensorFlow sees one, else the CPU."""

    name = "mtcnn"

    def __init__(self, min_face_size: int = 20, scale_factor: float = 0.709,
                 thresholds: Sequence[float] = (0.6, 0.7, 0.8), device: str | None = None, rule: str = "checked"):
        try:
            from mtcnn import MTCNN
        except ImportError as err:
            raise ImportError("MTCNNDetector needs the `mtcnn` package (>= 1.0, which ships its weights): "
                              "pip install 'mtcnn>=1.0'") from err
        if len(thresholds) != 3:
            raise ValueError(f"thresholds are (P-Net, R-Net, O-Net), got {thresholds!r}")
        if rule not in RULES:
            raise ValueError(f"rule must be one of {', '.join(RULES)}, got {rule!r}")
        self.rule = rule
        from ..runtime import float32_policy

        self.device = device or _default_device()
        self._kwargs = dict(min_face_size=int(min_face_size), scale_factor=float(scale_factor),
                            threshold_pnet=float(thresholds[0]), threshold_rnet=float(thresholds[1]),
                            threshold_onet=float(thresholds[2]))
        with float32_policy():   # its networks are built now, in the global policy
            self._mtcnn = MTCNN(stages="face_and_landmarks_detection", device=self.device)

    def candidates(self, image: np.ndarray, final_nms: bool = True) -> list[Face]:
        """The package's detections of an RGB uint8 image with their landmarks and :func:`face_issues`;
        ``final_nms=False`` skips its last suppression (intersection over the smaller box), keeping every
        final-stage candidate above the O-Net threshold."""
        kwargs = dict(self._kwargs) if final_nms else dict(self._kwargs, nms_onet=1.01)
        rows = self._mtcnn.detect_faces(image, box_format="xyxy", output_type="numpy", **kwargs)
        out = []
        for r in np.asarray(rows, np.float64).reshape(-1, 16):
            box = (r[1], r[2], r[3] - r[1], r[4] - r[2])
            landmarks = list(zip(r[6:11], r[11:16]))
            out.append(Face(box, r[5], landmarks, face_issues(box, landmarks)))
        return out

    def _detect(self, image: np.ndarray) -> list[Face]:
        if self.rule == "plain":
            return self.candidates(image)
        faces = select_faces(self.candidates(image, final_nms=False))
        height, width = image.shape[:2]
        for factor in FALLBACK_SCALES:
            if faces or min(height, width) * factor < 2 * self._kwargs["min_face_size"]:
                break
            small = np.asarray(Image.fromarray(image).resize((max(1, round(width * factor)),
                                                              max(1, round(height * factor))), Image.BILINEAR))
            sx, sy = width / small.shape[1], height / small.shape[0]
            faces = [Face((f[0][0] * sx, f[0][1] * sy, f[0][2] * sx, f[0][3] * sy), f[1],
                          [(x * sx, y * sy) for x, y in f.landmarks], f.issues)
                     for f in select_faces(self.candidates(small, final_nms=False))]
        return faces or self.candidates(image)   # nothing passed the checks: the package's output, each marked


# --------------------------------------------------------------------------------------------------------------
# RetinaFace-R50 (Deng et al. 2019, "RetinaFace: Single-stage Dense Face Localisation in the Wild"; paper 002 V.A)
#
# The network of the `retina-face` package (serengil/retinaface, a Keras port of the insightface MXNet model
# "R50"): a pre-activation ResNet-50 (MXNet naming, BN epsilon 2e-5, explicit zero padding + VALID convolutions),
# a 3-level feature pyramid tapped at strides 8, 16 and 32, an SSH context module per level and 1x1 heads with
# 2 anchors per location. The layer names below are those of that package's `retinaface.h5`.
# --------------------------------------------------------------------------------------------------------------

RETINAFACE_STRIDES = (32, 16, 8)
# Base anchors (x1, y1, x2, y2) per stride, 2 per location (insightface R50 config as used by retina-face).
RETINAFACE_ANCHORS = {
    32: np.array([[-248.0, -248.0, 263.0, 263.0], [-120.0, -120.0, 135.0, 135.0]], np.float32),
    16: np.array([[-56.0, -56.0, 71.0, 71.0], [-24.0, -24.0, 39.0, 39.0]], np.float32),
    8: np.array([[-8.0, -8.0, 23.0, 23.0], [0.0, 0.0, 15.0, 15.0]], np.float32),
}
_BN_EPSILON = 2e-5
_RESNET50_STAGES = ((3, 64, 256, 1), (4, 128, 512, 2), (6, 256, 1024, 2), (3, 512, 2048, 2))


def build_retinaface():
    """RetinaFace-R50 as a Keras functional model named ``retinaface``.

    Input ``data``: (batch, H, W, 3) float32 RGB in [0, 255] (the first layer, ``bn_data``, normalises).
    Outputs, a list in this order: for stride 32, 16, 8: ``face_rpn_cls_score_stride{s}`` (4 channels: background
    scores of anchors 0, 1 then face scores of anchors 0, 1), ``face_rpn_bbox_pred_stride{s}`` (8 = 2 anchors x
    dx, dy, dw, dh), ``face_rpn_landmark_pred_stride{s}`` (20 = 2 anchors x 5 points x 2).
    """
    import keras
    from keras import layers

    f32 = {"dtype": "float32"}  # a detector for data preparation: full precision whatever the global policy

    def bn(x, name):
        return layers.BatchNormalization(epsilon=_BN_EPSILON, name=name, trainable=False, **f32)(x)

    def relu(x, name):
        return layers.ReLU(name=name, **f32)(x)

    def conv(x, filters, kernel, name, stride=1, bias=False):
        if kernel > 1:
            x = layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad", **f32)(x)
        return layers.Conv2D(filters, kernel, strides=stride, padding="valid", use_bias=bias, name=name, **f32)(x)

    data = keras.Input((None, None, 3), dtype="float32", name="data")
    x = bn(data, "bn_data")
    x = relu(bn(conv(x, 64, 7, "conv0", stride=2), "bn0"), "relu0")
    x = layers.ZeroPadding2D(1, name="pooling0_pad", **f32)(x)
    x = layers.MaxPooling2D(3, 2, padding="valid", name="pooling0", **f32)(x)

    # Pre-activation bottleneck units; the shortcut of a stage's first unit is a strided 1x1 conv of relu1.
    taps = {}
    for s, (units, width, out, stride) in enumerate(_RESNET50_STAGES, start=1):
        for u in range(1, units + 1):
            p = f"stage{s}_unit{u}_"
            first = u == 1
            r1 = relu(bn(x, p + "bn1"), p + "relu1")
            r2 = relu(bn(conv(r1, width, 1, p + "conv1"), p + "bn2"), p + "relu2")
            if first:
                taps[s] = r2
            r3 = relu(bn(conv(r2, width, 3, p + "conv2", stride=stride if first else 1), p + "bn3"), p + "relu3")
            shortcut = conv(r1, out, 1, p + "sc", stride=stride) if first else x
            x = layers.Add(name=p + "plus", **f32)([conv(r3, out, 1, p + "conv3"), shortcut])
    c3 = relu(bn(x, "bn1"), "relu1")

    def lateral(x, name, kernel=1):
        return relu(bn(conv(x, 256, kernel, name, bias=True), name + "_bn"), name + "_relu")

    # Feature pyramid: stride-32 lateral, upsampled and added to the stride-16 lateral (tap: stage4_unit1_relu2),
    # smoothed, upsampled and added to the stride-8 lateral (tap: stage3_unit1_relu2), smoothed.
    c3_lateral = lateral(c3, "ssh_c3_lateral")
    c2_lateral = lateral(taps[4], "ssh_c2_lateral")
    c3_up = layers.UpSampling2D(2, interpolation="nearest", name="ssh_c3_up", **f32)(c3_lateral)
    c2 = layers.Add(name="plus0_v2", **f32)([c2_lateral, _crop_like(c3_up, c2_lateral, "crop0")])
    c2_aggr = lateral(c2, "ssh_c2_aggr", kernel=3)
    m1_red = lateral(taps[3], "ssh_m1_red_conv")
    c2_up = layers.UpSampling2D(2, interpolation="nearest", name="ssh_m2_red_up", **f32)(c2_aggr)
    c1 = layers.Add(name="plus1_v1", **f32)([m1_red, _crop_like(c2_up, m1_red, "crop1")])
    c1_aggr = lateral(c1, "ssh_c1_aggr", kernel=3)

    def ssh(x, p):
        """SSH context module: 3x3 (256) || 3x3 (128) -> {3x3 (128), 3x3 (128) -> 3x3 (128)}, concat, ReLU."""
        det = bn(conv(x, 256, 3, p + "conv1", bias=True), p + "conv1_bn")
        ctx = relu(bn(conv(x, 128, 3, p + "context_conv1", bias=True), p + "context_conv1_bn"),
                   p + "context_conv1_relu")
        ctx2 = bn(conv(ctx, 128, 3, p + "context_conv2", bias=True), p + "context_conv2_bn")
        ctx3 = relu(bn(conv(ctx, 128, 3, p + "context_conv3_1", bias=True), p + "context_conv3_1_bn"),
                    p + "context_conv3_1_relu")
        ctx3 = bn(conv(ctx3, 128, 3, p + "context_conv3_2", bias=True), p + "context_conv3_2_bn")
        return relu(layers.Concatenate(axis=3, name=p + "concat", **f32)([det, ctx2, ctx3]), p + "concat_relu")

    outputs = []
    for stride, feature, module in ((32, c3_lateral, "ssh_m3_det_"), (16, c2_aggr, "ssh_m2_det_"),
                                    (8, c1_aggr, "ssh_m1_det_")):
        f = ssh(feature, module)
        for head, channels in (("cls_score", 4), ("bbox_pred", 8), ("landmark_pred", 20)):
            outputs.append(layers.Conv2D(channels, 1, name=f"face_rpn_{head}_stride{stride}", **f32)(f))
    return keras.Model(data, outputs, name="retinaface")


def _crop_like(x, ref, name):
    """``x`` centre-cropped to the spatial size of ``ref`` (the MXNet Crop the upsampled pyramid levels go through:
    an upsampled odd-sized map is one pixel larger than the lateral it is added to)."""
    return _crop_like_layer()(name=name, dtype="float32")([x, ref])


@functools.cache
def _crop_like_layer():
    import keras
    import tensorflow as tf

    class CropLike(keras.layers.Layer):
        def call(self, inputs):
            x, ref = inputs
            xs, rs = tf.shape(x), tf.shape(ref)
            dy, dx = (xs[1] - rs[1]) // 2, (xs[2] - rs[2]) // 2
            return x[:, dy:dy + rs[1], dx:dx + rs[2], :]

        def compute_output_shape(self, input_shapes):
            x, ref = input_shapes
            return (x[0], ref[1], ref[2], x[3])

    return CropLike


def _missing_weights_message(path) -> str:
    return (f"RetinaFace weights not found at '{path}'. RetinaFaceDetector expects the Keras HDF5 weight file "
            f"'{RETINAFACE_WEIGHTS_FILE}' (about 119 MB) published with the `retina-face` package (serengil/"
            f"retinaface; the file it caches as ~/.deepface/weights/{RETINAFACE_WEIGHTS_FILE}, release asset "
            f"{RETINAFACE_WEIGHTS_URL}). tfgan_emotion never downloads: fetch the file yourself and pass its path, "
            f"or use the 'mtcnn' detector, whose weights ship with the `mtcnn` package.")


def _weights_group(f, path):
    """The HDF5 group holding one sub-group per layer: the root of a `save_weights` file, or `model_weights` of a
    whole-model `.h5` file (tf.keras 2 legacy layout)."""
    group = f["model_weights"] if "model_weights" in f else f
    if "layer_names" not in group.attrs:
        raise ValueError(f"'{path}' is an HDF5 file but not a Keras weight file (no 'layer_names' attribute); "
                         f"expected the tf.keras HDF5 weight file '{RETINAFACE_WEIGHTS_FILE}' of the `retina-face` "
                         "package")
    return group


def _open_weights(path):
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(_missing_weights_message(path))
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"cannot read RetinaFace weights '{path}' as HDF5 ({err}); expected the tf.keras HDF5 "
                         f"weight file '{RETINAFACE_WEIGHTS_FILE}' of the `retina-face` package") from err


def load_retinaface_weights(model, path) -> None:
    """Load a tf.keras HDF5 weight file (``retinaface.h5``) into ``model`` by layer name.

    Every layer of ``model`` that has weights must have a group of the same name in the file, holding weights
    whose names end in the layer's variable names (``kernel``, ``bias``, ``gamma``, ``beta``, ``moving_mean``,
    ``moving_variance``) with the same shapes; anything else is an error naming the file and the layer. Layers in
    the file that the model lacks are ignored."""
    with _open_weights(path) as f:
        group = _weights_group(f, path)
        stored = {n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs["layer_names"]}
        missing = [layer.name for layer in model.layers if layer.weights and layer.name not in stored]
        if missing:
            raise ValueError(f"'{path}' lacks {len(missing)} layers of {model.name}: {', '.join(missing[:8])}"
                             f"{' ...' if len(missing) > 8 else ''}; expected the '{RETINAFACE_WEIGHTS_FILE}' of "
                             "the `retina-face` package")
        for layer in model.layers:
            if not layer.weights:
                continue
            g = group[layer.name]
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in g.attrs.get("weight_names", [])]
            by_short = {n.split("/")[-1].split(":")[0]: n for n in names}
            for var in layer.weights:
                short = var.name.split("/")[-1].split(":")[0]
                if short not in by_short:
                    raise ValueError(f"'{path}': layer '{layer.name}' has no weight '{short}' (has: "
                                     f"{', '.join(sorted(by_short)) or 'none'})")
                value = np.asarray(g[by_short[short]])
                if tuple(value.shape) != tuple(var.shape):
                    raise ValueError(f"'{path}': layer '{layer.name}' weight '{short}' has shape {value.shape}, "
                                     f"the model expects {tuple(var.shape)}")
                var.assign(value)


def retinaface_anchors(height: int, width: int, stride: int) -> np.ndarray:
    """Anchors (x1, y1, x2, y2) of one pyramid level, shape (height * width * A, 4), ordered (row, column,
    anchor) like the flattened head outputs: base anchors shifted by ``stride`` per feature-map cell."""
    base = RETINAFACE_ANCHORS[stride]
    ys, xs = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    shifts = np.stack([xs, ys, xs, ys], axis=-1).astype(np.float32) * stride
    return (shifts[:, :, None, :] + base[None, None, :, :]).reshape(-1, 4)


def nms(boxes_xyxy: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    """Greedy non-maximum suppression; indices kept, highest score first. Boxes are inclusive pixel corners
    (area ``(x2 - x1 + 1) * (y2 - y1 + 1)``, the Fast R-CNN convention RetinaFace was trained with); a box is
    dropped when its IoU with a kept box is >= ``iou_threshold``."""
    boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, np.float64).reshape(-1), kind="stable")
    areas = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1)
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(int(i))
        w = np.maximum(0.0, np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0]) + 1)
        h = np.maximum(0.0, np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1]) + 1)
        inter = w * h
        order = rest[inter / (areas[i] + areas[rest] - inter) < iou_threshold]
    return keep


def retinaface_decode(outputs: Sequence[np.ndarray], input_hw: tuple[int, int], scale: float = 1.0,
                      threshold: float = 0.9, nms_threshold: float = 0.4) -> list[Detection]:
    """Faces from the 9 raw outputs of :func:`build_retinaface` for one image.

    Per level: face probability of anchor a = softmax over (background score a, face score a); anchors scoring
    >= ``threshold`` are regressed (centre shift dx * w, dy * h; size exp(dw) * w, exp(dh) * h), clipped to the
    network input of size ``input_hw``, divided by ``scale`` (network input size / original image size), then
    merged across levels by :func:`nms`. Returns ``(x, y, w, h), probability`` pairs, best first."""
    height, width = input_hw
    boxes, scores = [], []
    for level, stride in enumerate(RETINAFACE_STRIDES):
        score, deltas = (np.asarray(o)[0] for o in outputs[3 * level:3 * level + 2])
        n_anchors = RETINAFACE_ANCHORS[stride].shape[0]
        logits = score[..., n_anchors:] - score[..., :n_anchors]
        prob = (1.0 / (1.0 + np.exp(-logits.astype(np.float64)))).reshape(-1)
        deltas = deltas.reshape(-1, 4).astype(np.float64)
        anchors = retinaface_anchors(score.shape[0], score.shape[1], stride).astype(np.float64)
        keep = prob >= threshold
        if not keep.any():
            continue
        a, d = anchors[keep], deltas[keep]
        aw, ah = a[:, 2] - a[:, 0] + 1.0, a[:, 3] - a[:, 1] + 1.0
        cx, cy = a[:, 0] + 0.5 * (aw - 1.0) + d[:, 0] * aw, a[:, 1] + 0.5 * (ah - 1.0) + d[:, 1] * ah
        w, h = np.exp(d[:, 2]) * aw, np.exp(d[:, 3]) * ah
        b = np.stack([cx - 0.5 * (w - 1.0), cy - 0.5 * (h - 1.0), cx + 0.5 * (w - 1.0), cy + 0.5 * (h - 1.0)], 1)
        b[:, 0::2] = np.clip(b[:, 0::2], 0, width - 1)
        b[:, 1::2] = np.clip(b[:, 1::2], 0, height - 1)
        boxes.append(b / scale)
        scores.append(prob[keep])
    if not boxes:
        return []
    boxes, scores = np.concatenate(boxes), np.concatenate(scores)
    return [((b[0], b[1], b[2] - b[0], b[3] - b[1]), s)
            for b, s in ((boxes[i], float(scores[i])) for i in nms(boxes, scores, nms_threshold))]


class RetinaFaceDetector(Detector):
    """RetinaFace-R50 (paper 002 V.A) with the user's ``retinaface.h5`` (never downloaded; see
    :func:`build_retinaface`). Pre- and post-processing follow the `retina-face` package: the image is resized so
    its short side is ``target_size`` (1024) unless that makes the long side exceed ``max_size`` (1980), never
    enlarged when ``allow_upscaling`` is False; faces with probability >= ``threshold`` (package default 0.9;
    paper 002 V.D lowered it to 0.4 and 0.1 on pre-cropped AffectNet) survive NMS at IoU ``nms_threshold`` 0.4."""

    name = "retinaface"

    def __init__(self, weights_path, threshold: float = 0.9, nms_threshold: float = 0.4, target_size: int = 1024,
                 max_size: int = 1980, allow_upscaling: bool = True):
        if weights_path is None:
            raise ValueError(_missing_weights_message(None))
        self.weights_path = Path(weights_path)
        with _open_weights(self.weights_path) as f:
            _weights_group(f, self.weights_path)
        import tensorflow as tf

        self.threshold, self.nms_threshold = float(threshold), float(nms_threshold)
        self.target_size, self.max_size, self.allow_upscaling = int(target_size), int(max_size), bool(allow_upscaling)
        self.model = build_retinaface()
        load_retinaface_weights(self.model, self.weights_path)
        self._forward = tf.function(lambda x: self.model(x, training=False), reduce_retracing=True,
                                    input_signature=[tf.TensorSpec((1, None, None, 3), tf.float32)])

    def input_scale(self, height: int, width: int) -> float:
        """Resize factor of an image of this size (retina-face ``resize_image``)."""
        scale = self.target_size / min(height, width)
        if not self.allow_upscaling:
            scale = min(1.0, scale)
        if round(scale * max(height, width)) > self.max_size:
            scale = self.max_size / max(height, width)
        return scale

    def _detect(self, image: np.ndarray) -> list[Detection]:
        import tensorflow as tf

        height, width = image.shape[:2]
        scale = self.input_scale(height, width)
        x = tf.convert_to_tensor(image[None].astype(np.float32))
        if scale != 1.0:
            size = (max(1, int(round(height * scale))), max(1, int(round(width * scale))))
            x = tf.image.resize(x, size, method="bilinear")
        outputs = [o.numpy() for o in self._forward(x)]
        return retinaface_decode(outputs, tuple(x.shape[1:3]), scale, self.threshold, self.nms_threshold)


DETECTORS = ("mtcnn", "retinaface")


def _pixels(text: str) -> int:
    """An argparse type: a whole number of pixels, 0 or more."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number of pixels is needed, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more pixels, got {value}")
    return value


def add_face_arguments(group) -> None:
    """``--face-rule`` and ``--min-face`` on an argparse parser or group (``data crop`` and the GANmut recipe)."""
    group.add_argument("--face-rule", choices=RULES, default="checked",
                       help="which MTCNN box is a face: checked (default; each candidate checked against its five "
                       "landmarks and a box inside a larger face dropped, so an eye is never kept for the face) or "
                       "plain (the mtcnn package's output as published, as paper 002 compared the detectors)")
    group.add_argument("--min-face", type=_pixels, default=0, metavar="PX", help="skip images whose face box is "
                       "smaller than PX pixels on its shorter side (default 0: none)")


def make_detector(name: str, weights=None, rule: str = "checked", min_face: int = 0, **kwargs) -> Detector:
    """``"mtcnn"`` -> :class:`MTCNNDetector` (``weights`` must be None: the package ships them; ``rule``: which box
    is a face, see the module docstring; ``min_face`` > 20 raises its smallest face size);
    ``"retinaface"`` (or ``"retina-face"``) -> :class:`RetinaFaceDetector` (``weights``: path to
    ``retinaface.h5``, required; its own suppression is by intersection over union, so ``rule`` does not apply).
    ``kwargs`` go to the detector. This one function makes the detector of ``data crop``, of the GANmut data
    builder and of ``edit --detect``."""
    if rule not in RULES:
        raise ValueError(f"rule must be one of {', '.join(RULES)}, got {rule!r}")
    key = str(name).strip().lower().replace("-", "").replace("_", "")
    if key == "mtcnn":
        kwargs.setdefault("rule", rule)
        if min_face > kwargs.get("min_face_size", 20):
            kwargs["min_face_size"] = int(min_face)
        if weights is not None:
            raise ValueError("the mtcnn detector uses the weights shipped in the `mtcnn` package; weights= is only "
                             f"for 'retinaface' (got {weights!r})")
        return MTCNNDetector(**kwargs)
    if key == "retinaface":
        if weights is None:
            raise ValueError(_missing_weights_message(None) + " Pass weights=PATH.")
        return RetinaFaceDetector(weights, **kwargs)
    raise ValueError(f"unknown face detector {name!r}; known: {', '.join(DETECTORS)}")


# --------------------------------------------------------------------------------------------------------------
# Choosing and cropping the face
# --------------------------------------------------------------------------------------------------------------

def best_face(detections: Sequence[Detection]) -> Detection | None:
    """The highest-confidence face (paper 002 V.C: the face kept is the one "with the highest confidence score",
    assumed to be the annotated one); the first of equals; None when there is none."""
    best = None
    for det in detections:
        if best is None or det[1] > best[1]:
            best = det
    return best


def crop_window(image_hw: tuple[int, int], box: Sequence[float], margin: float = 0.2,
                square: bool = False) -> tuple[int, int, int, int]:
    """Integer crop window ``(x0, y0, x1, y1)`` (x1, y1 exclusive) for a face ``box = (x, y, w, h)``.

    Each side of the box is pushed out by ``margin`` times the box's width (left, right) or height (top, bottom).
    With ``square``, the shorter side is first grown to the longer one about the box centre. The window is then
    clipped to the image; a square window that the border cut is trimmed to the largest square inside it that
    is closest to centred on the face, so it stays square."""
    height, width = image_hw
    x, y, w, h = (float(v) for v in box)
    if not (w > 0 and h > 0) or not all(math.isfinite(v) for v in (x, y, w, h)):
        raise ValueError(f"face box must have positive width and height, got {tuple(box)}")
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    cx, cy = x + w / 2, y + h / 2
    half_w, half_h = w * (0.5 + margin), h * (0.5 + margin)
    if square:
        half_w = half_h = max(half_w, half_h)
    x0, x1 = max(0, math.floor(cx - half_w)), min(width, math.ceil(cx + half_w))
    y0, y1 = max(0, math.floor(cy - half_h)), min(height, math.ceil(cy + half_h))
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"face box {tuple(box)} lies outside the {width}x{height} image")
    if square:
        side = min(x1 - x0, y1 - y0)
        x0 = min(max(math.floor(cx - side / 2 + 0.5), x0), x1 - side)
        y0 = min(max(math.floor(cy - side / 2 + 0.5), y0), y1 - side)
        x1, y1 = x0 + side, y0 + side
    return int(x0), int(y0), int(x1), int(y1)


def crop_face(image: np.ndarray, box: Sequence[float], margin: float = 0.2, size=None,
              square: bool = False) -> np.ndarray:
    """The face ``box = (x, y, w, h)`` cut out of ``image`` (HxW or HxWxC) with :func:`crop_window`, resized to
    ``size`` (int: size x size, or (height, width)) with bilinear filtering when given; same dtype and channels."""
    image = np.asarray(image)
    x0, y0, x1, y1 = crop_window(image.shape[:2], box, margin, square)
    crop = image[y0:y1, x0:x1]
    if size is None:
        return crop.copy()
    out_h, out_w = (int(size), int(size)) if np.isscalar(size) else (int(size[0]), int(size[1]))
    if crop.shape[:2] == (out_h, out_w):
        return crop.copy()
    return _resize(crop, out_h, out_w)


def _resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear (antialiased when shrinking) resize with PIL; uint8 grey/RGB/RGBA directly, anything else one
    channel at a time in float32, cast back to the input dtype."""
    if image.dtype == np.uint8 and (image.ndim == 2 or image.shape[2] in (3, 4)):
        return np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR))
    planes = image[:, :, None] if image.ndim == 2 else image
    out = np.stack([np.asarray(Image.fromarray(planes[:, :, c].astype(np.float32))
                               .resize((width, height), Image.BILINEAR)) for c in range(planes.shape[2])], -1)
    if np.issubdtype(image.dtype, np.integer):
        info = np.iinfo(image.dtype)
        out = np.clip(np.rint(out), info.min, info.max)
    out = out.astype(image.dtype)
    return out[:, :, 0] if image.ndim == 2 else out


# --------------------------------------------------------------------------------------------------------------
# A folder of frames -> face crops + crops.csv (paper 002 V.D)
# --------------------------------------------------------------------------------------------------------------

def _label_key(key) -> str:
    """A relative image path as labels are keyed: forward slashes, no leading "./"."""
    key = str(key).strip().replace("\\", "/")
    while key.startswith("./"):
        key = key[2:]
    return key


def read_labels_csv(path) -> dict[str, dict[str, str]]:
    """Label table from a CSV file: a ``path`` column (else the first column) holding image paths relative to
    the source folder, every other column a label; one row per image. Errors name the file and row."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"labels CSV not found: '{path}'")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = [c.strip() for c in next(reader, [])]
        if len(header) < 2:
            raise ValueError(f"{path}: header must have an image path column and at least one label column, got "
                             f"{header}")
        key_col = header.index("path") if "path" in header else 0
        table = {}
        for row_no, row in enumerate(reader, start=2):
            if not row or not "".join(row).strip():
                continue
            if len(row) != len(header):
                raise ValueError(f"{path}, row {row_no}: {len(row)} fields, the header has {len(header)}")
            key = _label_key(row[key_col])
            if key in table:
                raise ValueError(f"{path}, row {row_no}: image '{key}' listed twice")
            table[key] = {c: v.strip() for i, (c, v) in enumerate(zip(header, row)) if i != key_col}
    return table


def _normalise_labels(labels, label_column: str) -> tuple[dict[str, dict], list[str]]:
    if isinstance(labels, (str, Path)):
        labels = read_labels_csv(labels)
    if not isinstance(labels, Mapping):
        raise TypeError(f"labels must be a mapping or a CSV path, got {type(labels).__name__}")
    table, columns = {}, []
    for key, value in labels.items():
        row = dict(value) if isinstance(value, Mapping) else {label_column: value}
        for c in row:
            if c not in columns:
                columns.append(c)
        table[_label_key(key)] = row
    clash = [c for c in columns if c in CSV_COLUMNS]
    if clash:
        raise ValueError(f"label columns {clash} clash with the columns crop_folder writes: {', '.join(CSV_COLUMNS)}")
    return table, columns


def _read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        im.load()
        return np.asarray(im.convert("RGB"))


def list_images(src) -> list[Path]:
    """Image files (jpg, jpeg, png; any case) under ``src``, sorted by relative path."""
    src = Path(src)
    return sorted((p for p in src.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                  key=lambda p: p.relative_to(src).as_posix())


def _listed_images(src: Path, files) -> list[Path]:
    """The paths of ``files`` (absolute or relative to ``src``) as absolute paths under ``src``, without repeats,
    sorted by relative path like :func:`list_images`."""
    if isinstance(files, (str, Path)):
        raise TypeError("files must be an iterable of image paths, not one path")
    out, real_dirs = {}, {}
    for item in files:
        path = Path(os.path.abspath(Path(item) if Path(item).is_absolute() else src / item))
        # ``src`` is resolved: resolve the folder (not the file, which may itself be a link) the same way.
        parent = real_dirs.get(path.parent)
        if parent is None:
            parent = real_dirs[path.parent] = Path(os.path.realpath(path.parent))
        path = parent / path.name
        try:
            rel = path.relative_to(src).as_posix()
        except ValueError:
            raise ValueError(f"files: '{item}' is not under the source folder '{src}'; list images inside src "
                             f"(absolute, or relative to src)") from None
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise ValueError(f"files: '{item}' is not a {'/'.join(s[1:] for s in IMAGE_SUFFIXES)} image; "
                             f"crop_folder reads and writes only those")
        out.setdefault(rel, path)
    return [out[rel] for rel in sorted(out)]


def crop_folder(src, dst, detector="mtcnn", weights=None, margin: float = 0.2, size=128, square: bool = True,
                labels=None, label_column: str = "expression", min_confidence: float = 0.0,
                progress_every: int = 1000, log: Callable[[str], None] | None = print, files=None,
                rule: str = "checked", min_face: int = 0) -> dict:
    """Detect the face in every image under ``src``, save the highest-confidence one (paper 002 V.C) cropped with
    ``margin`` (square by default) and resized to ``size`` (default 128, GANmut's input, SPECS "GANmut"; None
    keeps the crop's own size) under ``dst`` at the same relative path, and list the crops in ``dst/crops.csv``
    (paper 002 V.D: the CSV of image paths and labels the GANmut data loader reads).

    ``detector``: a name for :func:`make_detector` (``weights`` goes with it) or any object with ``detect``.
    ``labels``: optional, a mapping from image path relative to ``src`` (with or without its extension) to a
    label value (written in column ``label_column``) or to a dict of columns, or a CSV file for
    :func:`read_labels_csv` -- e.g. the Aff-Wild2 expression of each frame, remapped to AffectNet order. Images
    without a label are skipped before detection (the paper discards frames with irrelevant labels).
    ``files``: optional, an iterable of image paths under ``src`` (absolute, or relative to ``src``) -- e.g. the
    labelled frames of one split (:func:`tfgan_emotion.data.crops.build`); only those are processed, in the same
    sorted order, instead of every image under ``src`` (a listed file that does not exist counts as
    ``unreadable``). A path outside ``src`` or without a jpg/jpeg/png suffix is a ``ValueError``.

    ``crops.csv`` columns: ``path`` (crop, relative to ``dst``), ``source`` (image, relative to ``src``), ``box_x,
    box_y, box_w, box_h`` (detected face, source pixels), ``confidence``, ``crop_x0, crop_y0, crop_x1, crop_y1``
    (window cut, source pixels, exclusive end), then the label columns.

    Images are skipped and counted, never fatal: ``unlabelled``, ``unreadable`` (corrupt or not an image),
    ``no_face``, ``low_confidence`` (best face below ``min_confidence``), ``too_small`` (its box's shorter side
    below ``min_face`` pixels), ``detector_error``. ``rule``: which MTCNN box is a face (module docstring).

    Crops kept but doubtful are listed apart, in ``dst/suspicious.csv`` (``path,reasons``) and in the summary:
    the detector's :func:`face_issues` (landmarks outside the box or not laid out as a face, an aspect ratio far
    from a face) and a box much smaller than the others in its folder (under a quarter of the folder's median box
    area, in folders of at least 3 crops: the frames of one video). Progress is printed through ``log`` every
    ``progress_every`` images. Returns ``{"src", "dst", "csv", "detector", "rule", "total", "kept", "clean",
    "suspicious": {reason: count}, "suspicious_examples": [first few "path: reasons"], "skipped": {reason:
    count}, "errors": [first few "path: message"], "seconds"}``.
    """
    src, dst = Path(src).resolve(), Path(dst).resolve()
    if not src.is_dir():
        raise FileNotFoundError(f"source folder not found: '{src}'")
    if dst == src:
        raise ValueError(f"dst must differ from src ('{src}'): crops would overwrite the original images")
    if min_face < 0:
        raise ValueError(f"min_face must be >= 0 pixels, got {min_face}")
    if isinstance(detector, str):
        detector = make_detector(detector, weights, rule=rule, min_face=min_face)
    elif weights is not None:
        raise ValueError("weights= is only used with a detector name")
    if not callable(getattr(detector, "detect", None)):
        raise TypeError(f"detector must be a name ({', '.join(DETECTORS)}) or have a detect(image) method")
    table, label_columns = _normalise_labels(labels, label_column) if labels is not None else (None, [])

    files = list_images(src) if files is None else _listed_images(src, files)
    files = [p for p in files if dst not in p.parents]
    dst.mkdir(parents=True, exist_ok=True)
    csv_path = dst / CROPS_CSV
    skipped = {reason: 0 for reason in SKIP_REASONS}
    errors: list[str] = []
    kept = 0
    doubts: dict[str, list[str]] = {}     # crop path -> reasons
    boxes: dict[str, list] = {}           # folder -> [(crop path, box area)]
    start = time.monotonic()

    def note(reason, rel, message=None):
        skipped[reason] += 1
        if message is not None and len(errors) < 20:
            errors.append(f"{rel}: {message}")

    def report(done):
        if log is None:
            return
        rate = done / max(time.monotonic() - start, 1e-9)
        counts = ", ".join(f"{r} {n}" for r, n in skipped.items() if n)
        log(f"crop_folder: {done}/{len(files)} images, kept {kept}" + (f", skipped {counts}" if counts else "")
            + f" ({rate:.1f} images/s)")

    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(list(CSV_COLUMNS) + label_columns)
        for done, path in enumerate(files, start=1):
            rel = path.relative_to(src).as_posix()
            row_labels = None
            if table is not None:
                row_labels = table.get(rel, table.get(rel[: -len(path.suffix)]))
                if row_labels is None:
                    note("unlabelled", rel)
            if table is None or row_labels is not None:
                try:
                    image = _read_rgb(path)
                except Exception as err:  # PIL raises OSError, ValueError, SyntaxError... for corrupt files
                    image = None
                    note("unreadable", rel, f"{type(err).__name__}: {err}")
                if image is not None:
                    try:
                        face = best_face(detector.detect(image))
                    except Exception as err:  # one bad frame must not end a long run; counted and reported
                        face = None
                        note("detector_error", rel, f"{type(err).__name__}: {err}")
                    else:
                        if face is None:
                            note("no_face", rel)
                        elif face[1] < min_confidence:
                            face = None
                            note("low_confidence", rel)
                        elif min(face[0][2], face[0][3]) < min_face:
                            face = None
                            note("too_small", rel)
                    if face is not None:
                        box, confidence = face
                        window = crop_window(image.shape[:2], box, margin, square)
                        crop = crop_face(image, box, margin, size, square)
                        out = dst / rel
                        out.parent.mkdir(parents=True, exist_ok=True)
                        if path.suffix.lower() == ".png":
                            Image.fromarray(crop).save(out)
                        else:
                            Image.fromarray(crop).save(out, quality=95)
                        writer.writerow([rel, rel, *(f"{v:.2f}" for v in box), f"{confidence:.6f}", *window]
                                        + [(row_labels or {}).get(c, "") for c in label_columns])
                        kept += 1
                        if getattr(face, "issues", ()):
                            doubts[rel] = list(face.issues)
                        boxes.setdefault(str(Path(rel).parent), []).append((rel, box[2] * box[3]))
            if progress_every and (done % progress_every == 0 or done == len(files)):
                report(done)
    if log is not None and not files:
        log(f"crop_folder: no jpg/png images under '{src}'")
    for folder in boxes.values():
        if len(folder) >= 3:
            median = float(np.median([a for _, a in folder]))
            for rel, area in folder:
                if area < 0.25 * median:
                    doubts.setdefault(rel, []).append(ISSUE_SMALL_IN_FOLDER)
    suspicious = {}
    for reasons in doubts.values():
        for r in reasons:
            suspicious[r] = suspicious.get(r, 0) + 1
    with open(dst / SUSPICIOUS_CSV, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "reasons"])
        for rel in sorted(doubts):
            writer.writerow([rel, "; ".join(doubts[rel])])
    examples = [f"{rel}: {'; '.join(doubts[rel])}" for rel in sorted(doubts)[:10]]
    if log is not None and doubts:
        log(f"crop_folder: {len(doubts)} of {kept} crops look doubtful ("
            + ", ".join(f"{r} {n}" for r, n in suspicious.items()) + f"); listed in {dst / SUSPICIOUS_CSV}")
    return {"src": str(src), "dst": str(dst), "csv": str(csv_path), "detector": getattr(detector, "name", None)
            or type(detector).__name__, "rule": getattr(detector, "rule", None), "total": len(files),
            "kept": kept, "clean": kept - len(doubts), "suspicious": suspicious, "suspicious_examples": examples,
            "suspicious_csv": str(dst / SUSPICIOUS_CSV), "skipped": skipped, "errors": errors,
            "seconds": round(time.monotonic() - start, 3)}
