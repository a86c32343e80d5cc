"""Editing real photographs: the faces of a photograph are found, cut as training faces are cut, edited and pasted
back with a soft edge; everything else of the photograph stays as it was."""
import json

import numpy as np
import pytest
from PIL import Image

from tfgan_emotion import cli, editing


class _Boxes:
    """A detector that returns fixed faces (box, confidence)."""

    def __init__(self, faces):
        self.faces = faces

    def detect(self, image):
        return list(self.faces)


def _photo(h=120, w=160, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_feather_mask_is_one_inside_and_fades_to_zero_at_the_border():
    m = editing.feather_mask(40, 60, feather=0.1)
    assert m.shape == (40, 60) and m[20, 30] == 1.0
    assert m[0, 30] < 0.1 and m[20, 0] < 0.1 and m.min() > 0.0
    assert np.all(np.diff(m[:20, 30]) >= 0), "rises monotonically towards the middle"


def test_edit_photo_changes_only_the_face_window_and_keeps_the_size():
    photo = _photo()
    grey = lambda face: np.full((32, 32, 3), 200, np.uint8)  # noqa: E731  (an "editor" painting the face grey)
    out, faces = editing.edit_photo(photo, grey, 32, 3, _Boxes([((60, 30, 40, 40), 0.99)]), margin=0.2)
    assert out.shape == photo.shape and out.dtype == np.uint8
    x0, y0, x1, y1 = faces[0][2]
    assert (x0, y0, x1, y1) == (52, 22, 108, 78)           # the box pushed out by 20% on each side, square
    outside = np.ones(photo.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(out[outside], photo[outside])
    assert np.abs(out[50, 80].astype(int) - 200).max() <= 1    # the middle of the window is the edit
    edge = out[y0, (x0 + x1) // 2].astype(int)
    assert np.abs(edge - photo[y0, (x0 + x1) // 2].astype(int)).max() < 40   # the border mostly the photograph


def test_every_face_or_one_and_clear_errors():
    photo = _photo()
    faces = [((10, 10, 30, 30), 0.9), ((100, 60, 30, 30), 0.8)]
    mark = lambda face: np.zeros((16, 16), np.uint8)  # noqa: E731  (grey output, as to_uint8 gives for 1 channel)
    out, done = editing.edit_photo(photo, mark, 16, 1, _Boxes(faces))
    assert len(done) == 2 and out[25, 25].max() == 0 and out[75, 115].max() == 0
    out, done = editing.edit_photo(photo, mark, 16, 1, _Boxes(faces), face=1)
    assert len(done) == 1 and out[75, 115].max() == 0 and np.array_equal(out[25, 25], photo[25, 25])
    with pytest.raises(ValueError, match="--face 2: the photograph has 2 face"):
        editing.edit_photo(photo, mark, 16, 1, _Boxes(faces), face=2)
    with pytest.raises(ValueError, match="no face found"):
        editing.edit_photo(photo, mark, 16, 1, _Boxes([]))
    sheet = lambda face: np.zeros((48, 96, 3), np.uint8)  # noqa: E731
    with pytest.raises(ValueError, match="sheet"):
        editing.edit_photo(photo, sheet, 16, 3, _Boxes(faces))


@pytest.mark.slow
def test_edit_detect_on_a_photograph_edits_the_face_in_place(smoke_runs, tmp_path):
    """A rendered face at a known offset in a larger photograph: `edit --detect` finds it with MTCNN, only the face
    region changes, the face region does change, and the output is the photograph's size."""
    from tfgan_emotion.data import synthetic as synth

    face = ((synth.make_arrays("affectnet", "val", n=2, size=128, seed=0)["image"][1] + 1) * 127.5).astype(np.uint8)
    h, w, x, y = 360, 480, 210, 95
    yy, xx = np.mgrid[0:h, 0:w]
    photo = np.stack([xx * 0.3 + 60, yy * 0.3 + 80, np.full((h, w), 120.0)], -1)
    photo = np.clip(photo + np.random.default_rng(0).normal(0, 6, photo.shape), 0, 255).astype(np.uint8)
    photo[y:y + 128, x:x + 128] = face
    src, out = tmp_path / "photo.png", tmp_path / "edited.png"
    Image.fromarray(photo).save(src)
    run_dir = smoke_runs.run_dir("caae_affectnet")
    assert cli.main(["edit", "--run", str(run_dir), "--image", str(src), "-o", str(out), "--detect",
                     "--valence", "0.8", "--arousal", "0.6"]) == 0
    edited = np.asarray(Image.open(out).convert("RGB"))
    assert edited.shape == photo.shape
    near = np.zeros((h, w), bool)          # the rendered face and the crop margin around it
    near[y - 24:y + 128 + 24, x - 24:x + 128 + 24] = True
    assert np.array_equal(edited[~near], photo[~near]), "pixels away from the face must not change"
    middle = (slice(y + 32, y + 96), slice(x + 32, x + 96))
    assert np.abs(edited[middle].astype(int) - photo[middle].astype(int)).mean() > 5, "the face must be edited"
    # the Python API does the same on arrays
    import tfgan_emotion as tfe

    api_out = tfe.load(run_dir).edit_photo(photo, valence=0.8, arousal=0.6)
    assert api_out.shape == photo.shape and np.array_equal(api_out[~near], photo[~near])
    assert np.abs(api_out.astype(int) - edited.astype(int)).max() <= 2
    # --crop-only keeps the old behaviour: the edited centre square at the run's size
    crop = tmp_path / "crop.png"
    assert cli.main(["edit", "--run", str(run_dir), "--image", str(src), "-o", str(crop), "--crop-only",
                     "--valence", "0.8", "--arousal", "0.6"]) == 0
    size = json.loads((run_dir / "config.json").read_text())["config"]["image_size"]
    assert Image.open(crop).size == (size, size)
    assert cli.main(["edit", "--run", str(run_dir), "--image", str(src), "-o", str(crop), "--detect", "--grid"]) == 2
    assert cli.main(["edit", "--run", str(run_dir), "--image", str(src), "-o", str(crop), "--detect", "--detector",
                     "retinaface", "--valence", "0.8", "--arousal", "0.6"]) == 2
