"""The kept face box is the face: real photographs at several scales and paddings, and rendered faces of 40-400 px
at random places on canvases of random sizes (MTCNN, checked rule). The plain rule is the mtcnn package's output."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tfgan_emotion.data import detect
from test_detect import iou as _iou

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def detectors():
    return detect.MTCNNDetector(), detect.MTCNNDetector(rule="plain")


def _scaled(image, factor):
    h, w = image.shape[:2]
    return np.asarray(Image.fromarray(image).resize((round(w * factor), round(h * factor)), Image.BILINEAR))


def _padded(image, left, top, width, height, grey=128):
    canvas = np.full((height, width, 3), grey, np.uint8)
    h, w = image.shape[:2]
    canvas[top:top + h, left:left + w] = image
    return canvas




# Where the face is in each photograph at scale 1 (x, y, w, h): the checked rule's box at the photograph's own size,
# where the package finds it too; every scale and padding of the photograph must find this box, moved and scaled.
EINSTEIN_FACE = (96, 82, 146, 200)
ASTRONAUT_FACE = (182, 64, 83, 107)


def _photos():
    from skimage import data as skdata

    with Image.open(DATA / "einstein.jpg") as im:
        einstein = np.asarray(im.convert("RGB"))
    return {"einstein": (einstein, EINSTEIN_FACE), "astronaut": (skdata.astronaut(), ASTRONAUT_FACE)}


@pytest.mark.parametrize("photo", ["einstein", "astronaut"])
@pytest.mark.parametrize("factor, pad", [(0.5, None), (1.0, None), (1.5, None), (2.0, None), (1.0, (140, 210)),
                                         (1.5, (37, 300))])
def test_the_whole_face_is_found_in_real_photographs(detectors, photo, factor, pad):
    checked, _ = detectors
    image, face = _photos()[photo]
    image = _scaled(image, factor)
    want = tuple(v * factor for v in face)
    if pad is not None:
        left, top = pad
        image = _padded(image, left, top, image.shape[1] + 2 * left, image.shape[0] + top + 90)
        want = (want[0] + left, want[1] + top, want[2], want[3])
    best = detect.best_face(checked.detect(image))
    assert best is not None and not best.issues
    assert _iou(best[0], want) >= 0.7, (best, want)


def test_the_plain_rule_is_the_packages_output_and_keeps_the_eye(detectors):
    """Paper 002's detector comparison needs the package as published: on the portrait at 1.5x it returns one eye."""
    checked, plain = detectors
    image = _scaled(_photos()["einstein"][0], 1.5)
    eye = detect.best_face(plain.detect(image))
    face = detect.best_face(checked.detect(image))
    assert eye[0][2] < 60 and eye[0][3] < 70                       # a 44x52 box around the left eye
    assert face[0][2] > 200 and face[0][3] > 280                   # the whole face
    ex, ey, ew, eh = eye[0]
    fx, fy, fw, fh = face[0]
    assert fx <= ex and fy <= ey and ex + ew <= fx + fw and ey + eh <= fy + fh, "the eye lies inside the face"


def test_landmark_checks():
    box = (10, 10, 100, 130)
    face = [(40, 60), (80, 60), (60, 85), (45, 110), (75, 110)]
    assert detect.face_issues(box, face) == []
    assert detect.face_issues(box, [(x, y + 60) for x, y in face]) == [detect.ISSUE_LANDMARKS_OUTSIDE]
    upside_down = [(40, 110), (80, 110), (60, 85), (45, 60), (75, 60)]
    assert detect.ISSUE_LANDMARKS_NOT_A_FACE in detect.face_issues(box, upside_down)
    squeezed = [(58, 60), (62, 60), (60, 85), (45, 110), (75, 110)]
    assert detect.ISSUE_LANDMARKS_NOT_A_FACE in detect.face_issues(box, squeezed)
    assert detect.face_issues((0, 0, 100, 40)) == [detect.ISSUE_ASPECT]
    # a part of a face inside a larger face goes; two faces side by side both stay
    whole = detect.Face((0, 0, 100, 130), 0.9)
    eye = detect.Face((20, 40, 30, 36), 0.99)
    other = detect.Face((120, 0, 100, 130), 0.8)
    assert detect.select_faces([eye, whole, other]) == [whole, other]
    assert detect.select_faces([detect.Face((0, 0, 100, 40), 0.9, issues=[detect.ISSUE_ASPECT])]) == []


STYLE = None  # each identity's own look (hair, glasses, beard, skin)


def _rendered_case(rng):
    """A rendered face (canonical pose) whose head is ``face`` px wide, at a random place on a random canvas of
    smooth random colour; returns (canvas, true head box)."""
    from tfgan_emotion.data.synthetic import renderer

    face = int(rng.integers(40, 401))
    ident = int(rng.integers(0, 10_000))
    tile = 192
    img = renderer.render_faces([ident], [rng.uniform(-1, 1)], [rng.uniform(-1, 1)], size=tile, nuisance=False,
                                style=STYLE)[0]
    p = renderer.identity_params(np.array([ident]), STYLE)
    hw, hh, cy = float(p["head_w"][0]), float(p["head_h"][0]), float(p["head_cy"][0])
    to_px = lambda q: (q * renderer._ZOOM + 1.0) * tile / 2  # noqa: E731
    head = np.array([to_px(-hw), to_px(cy - hh), to_px(hw), to_px(cy + hh)])
    f = face / (head[2] - head[0])
    size = max(8, round(tile * f))
    img = np.asarray(Image.fromarray(((img + 1) * 127.5).astype(np.uint8)).resize((size, size), Image.BILINEAR))
    width = int(rng.integers(size + 8, max(size + 9, min(1400, 3 * size + 200))))
    height = int(rng.integers(size + 8, max(size + 9, min(1400, 3 * size + 200))))
    yy, xx = np.mgrid[0:height, 0:width] / max(width, height)
    colours = rng.uniform(40, 215, (3, 3))
    canvas = (colours[0] + np.outer(yy.ravel(), colours[1] - colours[0]).reshape(height, width, 3)
              + np.outer(xx.ravel(), colours[2] - colours[0]).reshape(height, width, 3) * 0.5)
    canvas = np.clip(canvas + rng.normal(0, 6, canvas.shape), 0, 255).astype(np.uint8)
    left, top = int(rng.integers(0, width - size + 1)), int(rng.integers(0, height - size + 1))
    canvas[top:top + size, left:left + size] = img
    x0, y0, x1, y1 = head * f
    return canvas, (left + x0, top + y0, x1 - x0, y1 - y0)


@pytest.mark.e2e
def test_rendered_faces_of_every_size_anywhere_are_kept_whole(detectors):
    """150 rendered faces, 40-400 px wide, anywhere on canvases of random sizes: whenever a face is kept, its box
    covers the rendered head (IoU >= 0.5), not a part of it; MTCNN finds no face at all in a few of these cartoon
    faces, all with a high arousal (open mouth, raised brows), at any scale, which must stay under 8%."""
    checked, _ = detectors
    rng = np.random.default_rng(2026)
    n, wrong, none = 150, [], 0
    for i in range(n):
        canvas, truth = _rendered_case(rng)
        best = detect.best_face(checked.detect(canvas))
        if best is None:
            none += 1
        elif _iou(best[0], truth) < 0.5:
            wrong.append((i, canvas.shape[:2], tuple(round(v) for v in truth), best[0], round(_iou(best[0], truth), 2)))
    # Measured here: 142 of the 143 kept boxes cover the head (the other one, IoU 0.46, is a tight box on the lower
    # face), 7 faces not found. One more miss is allowed for a CPU whose float32 rounding differs.
    assert len(wrong) <= (n - none) // 100 + 1, wrong
    assert none <= 0.08 * n, none

class _Fixed:
    """A detector returning a fixed face per image name (the image's mean grey level picks it)."""

    rule = "checked"

    def __init__(self, faces):
        self.faces = faces

    def detect(self, image):
        return [self.faces[int(image.mean().round())]]


def test_crop_folder_lists_doubtful_crops_apart_and_skips_small_faces(tmp_path):
    src = tmp_path / "frames"
    faces = {10: detect.Face((10, 10, 60, 80), 0.99, [(30, 35), (50, 35), (40, 50), (32, 65), (48, 65)]),
             20: detect.Face((12, 10, 58, 78), 0.98),
             30: detect.Face((11, 12, 60, 79), 0.97),
             40: detect.Face((40, 40, 12, 14), 0.96),                      # a quarter of the folder's median side
             50: detect.Face((5, 5, 80, 30), 0.95, issues=[detect.ISSUE_ASPECT]),
             60: detect.Face((10, 10, 8, 9), 0.99)}                        # under --min-face
    for level, video in ((10, "v1"), (20, "v1"), (30, "v1"), (40, "v1"), (50, "v2"), (60, "v2")):
        (src / video).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((100, 100, 3), level, np.uint8)).save(src / video / f"{level}.png")
    out = detect.crop_folder(src, tmp_path / "crops", detector=_Fixed(faces), size=32, min_face=10, log=None)
    assert out["kept"] == 5 and out["skipped"]["too_small"] == 1
    assert out["suspicious"] == {detect.ISSUE_SMALL_IN_FOLDER: 1, detect.ISSUE_ASPECT: 1}
    assert out["clean"] == 3
    rows = (tmp_path / "crops" / detect.SUSPICIOUS_CSV).read_text().splitlines()
    assert rows == ["path,reasons", f"v1/40.png,{detect.ISSUE_SMALL_IN_FOLDER}", f"v2/50.png,{detect.ISSUE_ASPECT}"]
    assert out["suspicious_examples"][0].startswith("v1/40.png: ")
    with pytest.raises(ValueError, match="min_face"):
        detect.crop_folder(src, tmp_path / "c2", detector=_Fixed(faces), min_face=-1, log=None)


def test_data_crop_on_the_portrait_keeps_the_face_and_the_plain_rule_the_eye(tmp_path):
    from tfgan_emotion import cli

    src = tmp_path / "photos"
    src.mkdir()
    Image.fromarray(_scaled(_photos()["einstein"][0], 1.5)).save(src / "einstein.png")
    for rule, low, high in (("checked", 200, 260), ("plain", 30, 60)):
        assert cli.main(["data", "crop", str(src), str(tmp_path / rule), "--face-rule", rule, "--size", "64"]) == 0
        row = (tmp_path / rule / detect.CROPS_CSV).read_text().splitlines()[1].split(",")
        assert low <= float(row[4]) <= high, (rule, row)              # box_w
    with pytest.raises(SystemExit):   # argparse: "argument --min-face: must be 0 or more pixels, got -1"
        cli.main(["data", "crop", str(src), str(tmp_path / "neg"), "--min-face", "-1"])
    assert not (tmp_path / "neg").exists()
    assert cli.main(["data", "crop", str(src), str(tmp_path / "big"), "--min-face", "400"]) == 0
    assert (tmp_path / "big" / detect.CROPS_CSV).read_text().count("\n") == 1   # header only: skipped as too small
