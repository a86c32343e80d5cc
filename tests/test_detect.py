"""Face detection and cropping (tfgan_emotion.data.detect; paper 002 section V)."""
import csv
import math

import numpy as np
import pytest
from PIL import Image

from tfgan_emotion.data import detect


pytestmark = pytest.mark.usefixtures("no_network")


def iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    return w * h / (aw * ah + bw * bh - w * h)


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


# ---------------------------------------------------------------------------------------------------------- MTCNN

@pytest.fixture(scope="module")
def mtcnn_detector():
    pytest.importorskip("mtcnn")
    return detect.MTCNNDetector(device="CPU:0")


def test_mtcnn_finds_the_astronaut_face(mtcnn_detector):
    skimage_data = pytest.importorskip("skimage.data")
    image = skimage_data.astronaut()  # 512x512 RGB portrait of Eileen Collins
    # Her face (brows to chin, cheek to cheek), located by eye on the image.
    face_region = (175.0, 60.0, 95.0, 120.0)
    faces = mtcnn_detector.detect(image)
    assert faces, "MTCNN found no face in skimage.data.astronaut()"
    confidences = [c for _, c in faces]
    assert confidences == sorted(confidences, reverse=True)
    box, confidence = detect.best_face(faces)
    assert confidence > 0.9
    assert iou(box, face_region) > 0.5, (box, face_region)
    x0, y0, x1, y1 = detect.crop_window(image.shape[:2], box, margin=0.2, square=True)
    crop = detect.crop_face(image, box, margin=0.2, size=128, square=True)
    assert crop.shape == (128, 128, 3) and crop.dtype == np.uint8
    assert x1 - x0 == y1 - y0 and x0 < face_region[0] + 20 and x1 > face_region[0] + face_region[2] - 20


def test_mtcnn_finds_no_face_in_a_flat_image(mtcnn_detector):
    assert mtcnn_detector.detect(np.full((120, 160, 3), 128, np.uint8)) == []


# ------------------------------------------------------------------------------------------------- image checks

def test_as_rgb_uint8_accepts_grey_and_rgba_and_rejects_floats():
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    rgb = detect.as_rgb_uint8(grey)
    assert rgb.shape == (3, 4, 3) and np.array_equal(rgb[:, :, 2], grey)
    assert detect.as_rgb_uint8(np.zeros((3, 4, 4), np.uint8)).shape == (3, 4, 3)
    with pytest.raises(ValueError, match="uint8"):
        detect.as_rgb_uint8(np.zeros((3, 4, 3), np.float32))
    with pytest.raises(ValueError, match="shape"):
        detect.as_rgb_uint8(np.zeros((3, 4, 2), np.uint8))


def test_best_face_keeps_the_highest_confidence():
    faces = [((0, 0, 5, 5), 0.7), ((10, 10, 5, 5), 0.95), ((20, 20, 5, 5), 0.95), ((30, 30, 5, 5), 0.2)]
    assert detect.best_face(faces) == ((10, 10, 5, 5), 0.95)
    assert detect.best_face([]) is None


# --------------------------------------------------------------------------------------------- crop geometry

def test_crop_window_adds_the_margin_on_each_side():
    # box 40 wide, 20 high; margin 0.25 -> 10 px left/right, 5 px top/bottom
    assert detect.crop_window((100, 200), (50, 30, 40, 20), margin=0.25) == (40, 25, 100, 55)
    assert detect.crop_window((100, 200), (50, 30, 40, 20), margin=0.0) == (50, 30, 90, 50)


def test_crop_window_square_grows_the_short_side_about_the_centre():
    assert detect.crop_window((100, 200), (50, 30, 40, 20), margin=0.0, square=True) == (50, 20, 90, 60)


def test_crop_window_is_clipped_at_the_borders():
    assert detect.crop_window((100, 100), (-10, -5, 30, 30), margin=0.2) == (0, 0, 26, 31)
    assert detect.crop_window((50, 60), (40, 30, 30, 30), margin=0.5) == (25, 15, 60, 50)


def test_square_window_cut_by_the_border_stays_square_and_centred_on_the_face():
    # face centre (95, 50); the 30x30 square is cut to 20 px wide by the right border -> 20x20 centred at y=50
    assert detect.crop_window((100, 100), (80, 40, 30, 20), margin=0.0, square=True) == (80, 40, 100, 60)


def test_crop_window_rejects_empty_or_outside_boxes():
    with pytest.raises(ValueError, match="positive"):
        detect.crop_window((100, 100), (10, 10, 0, 5))
    with pytest.raises(ValueError, match="outside"):
        detect.crop_window((100, 100), (150, 150, 10, 10), margin=0.1)


def coordinate_image(h=120, w=160):
    """Pixel (y, x) holds (y, x, 7): a crop tells where it came from."""
    ys, xs = np.mgrid[0:h, 0:w]
    return np.stack([ys, xs, np.full_like(ys, 7)], -1).astype(np.uint8)


def test_crop_face_cuts_the_window_and_resizes():
    image = coordinate_image()
    box = (60, 40, 30, 20)
    x0, y0, x1, y1 = detect.crop_window(image.shape[:2], box, margin=0.5)
    crop = detect.crop_face(image, box, margin=0.5)
    assert crop.shape == (y1 - y0, x1 - x0, 3)
    assert tuple(crop[0, 0]) == (y0, x0, 7) and tuple(crop[-1, -1]) == (y1 - 1, x1 - 1, 7)
    resized = detect.crop_face(image, box, margin=0.5, size=16)
    assert resized.shape == (16, 16, 3) and resized.dtype == np.uint8
    assert abs(int(resized[0, 0, 1]) - x0) <= 2 and abs(int(resized[-1, -1, 1]) - (x1 - 1)) <= 2
    assert detect.crop_face(image, box, size=(20, 30)).shape == (20, 30, 3)
    assert detect.crop_face(image[:, :, 0], box, size=24, square=True).shape == (24, 24)
    as_float = detect.crop_face(image.astype(np.float32) / 127.5 - 1.0, box, margin=0.5, size=16)
    assert as_float.dtype == np.float32 and as_float.shape == (16, 16, 3)
    np.testing.assert_allclose(as_float, resized / 127.5 - 1.0, atol=0.05)


# ----------------------------------------------------------------------------------------- crop_folder

class BrightSquareDetector(detect.Detector):
    """Fake detector: the 'face' is the bounding box of pixels brighter than 200 (confidence 0.9), plus a
    low-confidence distractor in the corner; an image without bright pixels has no face."""

    name = "fake"

    def __init__(self):
        self.calls = 0

    def _detect(self, image):
        self.calls += 1
        ys, xs = np.nonzero(image.mean(axis=2) > 200)
        if ys.size == 0:
            return []
        face = ((float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)),
                0.9)
        return [((0.0, 0.0, 4.0, 4.0), 0.3), face]


def frame(h=60, w=80, square=(20, 10, 30, 24)):
    image = np.full((h, w, 3), 30, np.uint8)
    if square is not None:
        x, y, sw, sh = square
        image[y:y + sh, x:x + sw] = 250
    return image


@pytest.fixture
def frames(tmp_path):
    src = tmp_path / "frames"
    (src / "vid1").mkdir(parents=True)
    (src / "vid2").mkdir()
    Image.fromarray(frame()).save(src / "vid1" / "00001.jpg", quality=98)
    Image.fromarray(frame(square=None)).save(src / "vid1" / "00002.png")
    Image.fromarray(frame(square=(40, 20, 20, 20))).save(src / "vid2" / "00001.png")
    (src / "vid2" / "00002.jpg").write_bytes(b"\xff\xd8 this is not a JPEG")
    (src / "vid2" / "notes.txt").write_text("ignored")
    return src


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_crop_folder_writes_crops_and_csv_and_counts_skips(frames, tmp_path):
    dst = tmp_path / "crops"
    lines = []
    summary = detect.crop_folder(frames, dst, detector=BrightSquareDetector(), margin=0.0, size=32, square=False,
                                 progress_every=2, log=lines.append)
    assert summary["total"] == 4 and summary["kept"] == 2
    assert summary["skipped"] == {"unlabelled": 0, "unreadable": 1, "no_face": 1, "low_confidence": 0, "too_small": 0,
                                  "detector_error": 0}
    assert any("vid2/00002.jpg" in e for e in summary["errors"])
    assert len(lines) == 2 and "4/4" in lines[-1] and "kept 2" in lines[-1] and "no_face 1" in lines[-1]

    rows = read_csv(dst / "crops.csv")
    assert list(rows[0]) == list(detect.CSV_COLUMNS)
    assert [r["path"] for r in rows] == ["vid1/00001.jpg", "vid2/00001.png"]
    assert [r["source"] for r in rows] == ["vid1/00001.jpg", "vid2/00001.png"]
    first = rows[0]
    box = [float(first[k]) for k in ("box_x", "box_y", "box_w", "box_h")]
    assert box == pytest.approx([20, 10, 30, 24], abs=1)  # the bright square, not the 0.3 distractor
    assert float(first["confidence"]) == pytest.approx(0.9)
    assert [int(first[k]) for k in ("crop_x0", "crop_y0", "crop_x1", "crop_y1")] == \
        list(detect.crop_window((60, 80), box, margin=0.0))
    crop = np.asarray(Image.open(dst / "vid1" / "00001.jpg"))
    assert crop.shape == (32, 32, 3) and crop.mean() > 200  # the crop is the bright face
    assert (dst / "vid2" / "00001.png").is_file()
    assert not (dst / "vid1" / "00002.png").exists() and not (dst / "vid2" / "00002.jpg").exists()


def test_crop_folder_with_labels_mapping_keeps_labelled_frames_only(frames, tmp_path):
    detector = BrightSquareDetector()
    labels = {"vid1/00001.jpg": 3, "vid1/00002": 0, "./vid2/00002.jpg": 5}
    summary = detect.crop_folder(frames, tmp_path / "out", detector=detector, labels=labels, log=None)
    assert summary["kept"] == 1
    assert summary["skipped"]["unlabelled"] == 1  # vid2/00001.png: no label -> not even read
    assert summary["skipped"]["no_face"] == 1 and summary["skipped"]["unreadable"] == 1
    assert detector.calls == 2
    rows = read_csv(tmp_path / "out" / "crops.csv")
    assert [(r["path"], r["expression"]) for r in rows] == [("vid1/00001.jpg", "3")]


def test_crop_folder_with_labels_csv_writes_label_columns(frames, tmp_path):
    labels_csv = tmp_path / "labels.csv"
    labels_csv.write_text("path,expression,valence\nvid1/00001.jpg,1,0.5\nvid2/00001.png,6,-0.25\n")
    summary = detect.crop_folder(frames, tmp_path / "out", detector=BrightSquareDetector(), labels=labels_csv,
                                 log=None)
    assert summary["kept"] == 2 and summary["skipped"]["unlabelled"] == 2
    rows = read_csv(tmp_path / "out" / "crops.csv")
    assert list(rows[0])[-2:] == ["expression", "valence"]
    assert [(r["expression"], r["valence"]) for r in rows] == [("1", "0.5"), ("6", "-0.25")]


def test_crop_folder_min_confidence_and_detector_errors_are_counted(frames, tmp_path):
    summary = detect.crop_folder(frames, tmp_path / "a", detector=BrightSquareDetector(), min_confidence=0.95,
                                 log=None)
    assert summary["kept"] == 0 and summary["skipped"]["low_confidence"] == 2

    class Broken(detect.Detector):
        def _detect(self, image):
            raise RuntimeError("boom")

    summary = detect.crop_folder(frames, tmp_path / "b", detector=Broken(), log=None)
    assert summary["skipped"]["detector_error"] == 3 and "boom" in summary["errors"][0]


def test_crop_folder_never_reads_its_own_output_or_overwrites_the_source(frames, tmp_path):
    inside = frames / "crops"
    detect.crop_folder(frames, inside, detector=BrightSquareDetector(), log=None)
    again = detect.crop_folder(frames, inside, detector=BrightSquareDetector(), log=None)
    assert again["total"] == 4
    with pytest.raises(ValueError, match="overwrite"):
        detect.crop_folder(frames, frames, detector=BrightSquareDetector(), log=None)
    with pytest.raises(FileNotFoundError):
        detect.crop_folder(tmp_path / "missing", tmp_path / "x", detector=BrightSquareDetector(), log=None)


def test_labels_csv_errors_name_file_and_row(tmp_path):
    bad = tmp_path / "labels.csv"
    bad.write_text("path,expression\na.jpg,1\nb.jpg\n")
    with pytest.raises(ValueError, match=r"labels.csv, row 3"):
        detect.read_labels_csv(bad)


# ------------------------------------------------------------------------------------------------ RetinaFace

def test_retinaface_missing_weights_is_a_clear_error(tmp_path):
    missing = tmp_path / "weights" / "retinaface.h5"
    with pytest.raises(FileNotFoundError) as err:
        detect.RetinaFaceDetector(missing)
    message = str(err.value)
    assert str(missing) in message and "retinaface.h5" in message and "never downloads" in message
    with pytest.raises(FileNotFoundError, match="retinaface.h5"):
        detect.make_detector("retinaface", weights=missing)
    with pytest.raises(ValueError, match="retinaface.h5"):
        detect.make_detector("RetinaFace")
    with pytest.raises(FileNotFoundError, match="retinaface.h5"):
        detect.crop_folder(tmp_path, tmp_path / "out", detector="retinaface", weights=missing, log=None)


def test_retinaface_unreadable_weights_are_a_clear_error(tmp_path):
    h5py = pytest.importorskip("h5py")
    junk = tmp_path / "retinaface.h5"
    junk.write_text("<html>404 Not Found</html>")
    with pytest.raises(ValueError, match="cannot read RetinaFace weights") as err:
        detect.RetinaFaceDetector(junk)
    assert str(junk) in str(err.value)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    with pytest.raises(ValueError, match="not a Keras weight file"):
        detect.RetinaFaceDetector(other)


def test_make_detector_names():
    with pytest.raises(ValueError, match="unknown face detector"):
        detect.make_detector("haar")
    with pytest.raises(ValueError, match="ships|shipped"):
        detect.make_detector("mtcnn", weights="x.h5")


def write_keras2_h5(path, layers):
    """A weight file in the tf.keras 2 HDF5 layout of retinaface.h5: root attribute `layer_names`, one group per
    layer with attribute `weight_names` ("<layer>/<var>:0") and the datasets at those paths. ``layers`` maps a
    layer name to {var: array or shape}; a shape leaves the dataset unwritten (reads as zeros)."""
    import h5py

    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [name.encode() for name in layers]
        f.attrs["backend"] = b"tensorflow"
        for name, weights in layers.items():
            g = f.create_group(name)
            g.attrs["weight_names"] = [f"{name}/{var}:0".encode() for var in weights]
            for var, value in weights.items():
                key = f"{name}/{var}:0"
                if isinstance(value, tuple):
                    g.create_dataset(key, shape=value, dtype="f4")
                else:
                    g.create_dataset(key, data=np.asarray(value, np.float32))


def test_load_retinaface_weights_loads_by_layer_name_and_checks(tmp_path):
    pytest.importorskip("h5py")
    import keras

    inp = keras.Input((8, 8, 3))
    out = keras.layers.BatchNormalization(name="bn_data")(keras.layers.Conv2D(2, 1, name="conv0")(inp))
    model = keras.Model(inp, out)
    rng = np.random.default_rng(0)
    kernel, bias = rng.normal(size=(1, 1, 3, 2)), rng.normal(size=2)
    bn = {v: rng.uniform(0.5, 1.5, 2) for v in ("gamma", "beta", "moving_mean", "moving_variance")}
    path = tmp_path / "w.h5"
    # stored in a different layer order, BN variables shuffled, plus an extra layer the model lacks
    write_keras2_h5(path, {"extra": {"kernel": (3,)}, "bn_data": dict(reversed(list(bn.items()))),
                           "conv0": {"kernel": kernel, "bias": bias}})
    detect.load_retinaface_weights(model, path)
    conv, norm = model.get_layer("conv0"), model.get_layer("bn_data")
    np.testing.assert_allclose(np.asarray(conv.kernel), kernel, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(conv.bias), bias, rtol=1e-6)
    for var in norm.weights:
        np.testing.assert_allclose(np.asarray(var), bn[var.name], rtol=1e-6)

    write_keras2_h5(tmp_path / "missing.h5", {"conv0": {"kernel": kernel, "bias": bias}})
    with pytest.raises(ValueError, match="lacks 1 layers.*bn_data"):
        detect.load_retinaface_weights(model, tmp_path / "missing.h5")
    write_keras2_h5(tmp_path / "shape.h5", {"conv0": {"kernel": (1, 1, 3, 4), "bias": bias}, "bn_data": bn})
    with pytest.raises(ValueError, match="conv0.*kernel.*shape"):
        detect.load_retinaface_weights(model, tmp_path / "shape.h5")


@pytest.fixture(scope="module")
def retinaface_model():
    return detect.build_retinaface()


def test_retinaface_network_matches_the_retina_face_package(retinaface_model):
    # Figures of the retina-face 0.0.19 Keras model (tf_keras), checked once against it: 153 layers with weights,
    # 29,495,084 parameters, heads at strides 32/16/8 giving 7x10, 13x20, 26x40 maps for a 203x317 input.
    model = retinaface_model
    assert sum(1 for layer in model.layers if layer.weights) == 153
    assert model.count_params() == 29_495_084
    shapes = {
        "bn_data": None, "conv0": (7, 7, 3, 64), "stage1_unit1_sc": (1, 1, 64, 256),
        "stage4_unit1_sc": (1, 1, 1024, 2048), "stage3_unit6_conv2": (3, 3, 256, 256),
        "ssh_m1_red_conv": (1, 1, 256, 256), "ssh_c2_lateral": (1, 1, 512, 256), "ssh_c3_lateral": (1, 1, 2048, 256),
        "ssh_c1_aggr": (3, 3, 256, 256), "ssh_m2_det_context_conv3_2": (3, 3, 128, 128),
        "face_rpn_cls_score_stride8": (1, 1, 512, 4), "face_rpn_bbox_pred_stride16": (1, 1, 512, 8),
        "face_rpn_landmark_pred_stride32": (1, 1, 512, 20),
    }
    for name, kernel in shapes.items():
        layer = model.get_layer(name)
        if kernel is not None:
            assert tuple(layer.kernel.shape) == kernel, name
    outputs = model(np.zeros((1, 203, 317, 3), np.float32))
    sizes = [(7, 10), (13, 20), (26, 40)]
    assert [tuple(o.shape) for o in outputs] == [(1, *sizes[i // 3], (4, 8, 20)[i % 3]) for i in range(9)]


def test_nms_suppresses_overlaps_above_threshold():
    boxes = np.array([[0, 0, 9, 9], [1, 1, 10, 10], [20, 20, 29, 29], [0, 0, 9, 4]], float)
    scores = np.array([0.8, 0.9, 0.7, 0.95])
    # [1,1,10,10] vs [0,0,9,9]: IoU 81/119 = 0.68; [0,0,9,4] vs [1,1,10,10]: 36/114 = 0.32
    assert detect.nms(boxes, scores, 0.4) == [3, 1, 2]
    assert detect.nms(boxes, scores, 0.7) == [3, 1, 0, 2]
    # IoU exactly at the threshold suppresses (Fast R-CNN / retina-face: overlap >= threshold)
    half = np.array([[0, 0, 9, 9], [0, 0, 9, 4]], float)
    assert detect.nms(half, np.array([0.9, 0.8]), 0.5) == [0]


def retinaface_outputs(hw, stride_cells):
    """Head outputs for an input of size hw: background scores 0, face scores -10 (probability ~0), except
    ``stride_cells[(stride, row, col, anchor)] = (face score, (dx, dy, dw, dh))``."""
    outputs = []
    for stride in detect.RETINAFACE_STRIDES:
        h, w = math.ceil(hw[0] / stride), math.ceil(hw[1] / stride)
        cls = np.zeros((1, h, w, 4), np.float32)
        cls[..., 2:] = -10.0
        bbox = np.zeros((1, h, w, 8), np.float32)
        for (s, r, c, a), (score, deltas) in stride_cells.items():
            if s == stride:
                cls[0, r, c, 2 + a] = score
                bbox[0, r, c, 4 * a:4 * a + 4] = deltas
        outputs += [cls, bbox, np.zeros((1, h, w, 20), np.float32)]
    return outputs


def test_retinaface_decode_anchors_regression_clipping_scale_and_nms():
    cells = {
        # stride 16, row 1, col 2, anchor 1 (base [-24, -24, 39, 39]): box [8, -8, 71, 55] -> clipped [8, 0, 63, 55]
        (16, 1, 2, 1): (5.0, (0, 0, 0, 0)),
        # same cell, anchor 0 ([-56, -56, 71, 71] -> [0, 0, 63, 63]): IoU 0.77 with the above, lower score: dropped
        (16, 1, 2, 0): (4.0, (0, 0, 0, 0)),
        # stride 8, row 7, col 0, anchor 1 ([0, 56, 15, 71]) moved right by 0.25 * 16 -> [4, 56, 19, 63] clipped
        (8, 7, 0, 1): (3.0, (0.25, 0, 0, 0)),
    }
    faces = detect.retinaface_decode(retinaface_outputs((64, 64), cells), (64, 64), scale=1.0, threshold=0.9)
    assert len(faces) == 2
    (box1, p1), (box2, p2) = faces
    assert box1 == pytest.approx((8, 0, 55, 55)) and p1 == pytest.approx(sigmoid(5.0))
    assert box2 == pytest.approx((4, 56, 15, 7)) and p2 == pytest.approx(sigmoid(3.0))
    halved = detect.retinaface_decode(retinaface_outputs((64, 64), cells), (64, 64), scale=2.0, threshold=0.9)
    assert halved[0][0] == pytest.approx((4, 0, 27.5, 27.5))
    strict = detect.retinaface_decode(retinaface_outputs((64, 64), cells), (64, 64), scale=1.0, threshold=0.96)
    assert len(strict) == 1
    grown = detect.retinaface_decode(retinaface_outputs((64, 64), {(8, 3, 3, 1): (5.0, (0, 0, math.log(2), 0))}),
                                     (64, 64), threshold=0.9)
    # anchor [24, 24, 39, 39] (16 px), width doubled about its centre 31.5 -> [16, 24, 47, 39]
    assert grown[0][0] == pytest.approx((16, 24, 31, 15))


@pytest.mark.slow
def test_retinaface_detector_end_to_end_with_a_weight_file(tmp_path, retinaface_model):
    """A retinaface.h5 whose backbone is all zeros and whose heads output only their biases: every stride-8
    anchor 1 (16x16 px) has face probability sigmoid(5), everything else ~0. The detector must load it by name,
    resize the image (scale 2 here), decode and map the boxes back to image pixels."""
    pytest.importorskip("h5py")
    layers = {}
    for layer in retinaface_model.layers:
        if layer.weights:
            layers[layer.name] = {v.name: tuple(v.shape) for v in layer.weights}
    for stride in detect.RETINAFACE_STRIDES:
        face_scores = [-10.0, 5.0] if stride == 8 else [-10.0, -10.0]
        layers[f"face_rpn_cls_score_stride{stride}"]["bias"] = np.array([0.0, 0.0, *face_scores])
    weights = tmp_path / "retinaface.h5"
    write_keras2_h5(weights, layers)
    detector = detect.make_detector("retinaface", weights=weights, target_size=96)
    image = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    assert detector.input_scale(48, 64) == 2.0
    faces = detector.detect(image)
    assert 100 <= len(faces) <= 12 * 16
    assert all(p == pytest.approx(sigmoid(5.0), rel=1e-5) for _, p in faces)
    assert all(0 <= x and 0 <= y and x + w <= 64 and y + h <= 48 for (x, y, w, h), _ in faces)
    assert detect.best_face(faces)[0] == pytest.approx((0, 0, 7.5, 7.5))
    assert sum(1 for (_, _, w, h), _ in faces if (w, h) == (7.5, 7.5)) >= 100


def test_mtcnn_finds_the_face_in_synthetic_faces():
    """The built-in synthetic faces are detectable, so the crop pipeline runs on them end to end."""
    from tfgan_emotion.data import synthetic

    faces = synthetic.render_faces(np.arange(4), np.zeros(4), np.zeros(4), size=128, nuisance=False)
    det = detect.MTCNNDetector()
    for face in faces:
        best = detect.best_face(det.detect(((face + 1) * 127.5).astype(np.uint8)))
        assert best is not None and best[1] > 0.5
        x, y, w, h = best[0]
        assert 20 < x + w / 2 < 108 and 20 < y + h / 2 < 108, "the box is centred on the face"
