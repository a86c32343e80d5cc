"""GANmut data preparation (paper 002 V): Aff-Wild2 frames
already extracted, crop_folder restricted to a file list, the crops CSV builder and reader, the Aff-Wild2 + AffectNet
"Combined" set, and the synthetic whole frames in the real Aff-Wild2 layout."""
from __future__ import annotations

import csv
import os

import numpy as np
import pytest
from PIL import Image

from tfgan_emotion.data import affwild2, crops, detect, synthetic

HEADER = "Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise,Other"


pytestmark = pytest.mark.usefixtures("no_network")


def solid(path, size, color):
    """A ``size`` = (width, height) JPEG of one colour."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, quality=95, subsampling=0)
    return path


def expr_file(root, video, labels, set_dir="Train_Set"):
    folder = root / "annotations" / "EXPR_Classification_Challenge" / set_dir
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{video}.txt").write_text("\n".join([HEADER] + [str(k) for k in labels]) + "\n")


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def take(ds):
    return [{k: v.numpy() for k, v in example.items()} for example in ds]


# --------------------------------------------------------------------------------------------------------------
# affwild2 frames="extracted"
# --------------------------------------------------------------------------------------------------------------
def test_affwild2_extracted_frames(tmp_path):
    root = tmp_path / "data"
    expr_file(root, "vid1", [0, -1, 4, 7, 2])
    expr_file(root, "vid2_left", [6, 1])      # reads frames/vid2/ (the video without _left)
    expr_file(root, "vid3", [3])              # no frame folder at all
    frames = tmp_path / "frames"
    for i in (1, 2, 3, 4):                    # vid1/00005.jpg missing
        solid(frames / "vid1" / f"{i:05d}.jpg", (10, 8), (40 * i, 0, 0))
    for i in (1, 2):
        solid(frames / "vid2" / f"{i:05d}.jpg", (10, 8), (0, 90 * i, 0))
    ds, summary = affwild2.load(root, "train", image_size=8, frames="extracted", frames_dir=frames, verbose=False)
    examples = take(ds)
    assert [int(e["expression"]) for e in examples] == [0, 4, 7, 6, 1]
    assert summary.skipped == {"expression -1 (ignore)": 1, "missing frame": 1,
                               "missing frame (no frame folder)": 1}
    assert summary.where["missing frame"] == ["vid1/00005.jpg"]
    assert summary.notes == {"whole video frames from frames_dir (no face crop)": 1}
    reds = [round(float(e["image"][..., 0].mean() * 127.5 + 127.5)) for e in examples[:3]]
    assert all(abs(r - 40 * i) <= 3 for r, i in zip(reds, (1, 3, 4)))
    scan = affwild2.scan(root, "train", remap_to="ganmut", frames="extracted", frames_dir=frames)
    assert scan.labels["expression"].tolist() == [0, 1, 3, 6]  # Neutral, Happiness, Surprise, Anger; Other dropped
    assert scan.summary.skipped["Other (no ganmut class)"] == 1
    with pytest.raises(ValueError, match="frames_dir"):
        affwild2.scan(root, "train", frames="extracted")
    with pytest.raises(FileNotFoundError, match=r"nowhere.*does not exist.*<video>/00001\.jpg"):
        affwild2.scan(root, "train", frames="extracted", frames_dir=tmp_path / "nowhere")
    with pytest.raises(ValueError, match="'extracted'"):
        affwild2.scan(root, "train", frames="bogus")


# --------------------------------------------------------------------------------------------------------------
# detect.crop_folder(files=...)
# --------------------------------------------------------------------------------------------------------------
class CountingWholeImage(crops.WholeImage):
    def __init__(self):
        self.seen = []

    def _detect(self, image):
        self.seen.append(image.shape)
        return super()._detect(image)


def test_crop_folder_files_restricts_the_walk(tmp_path):
    src = tmp_path / "frames"
    solid(src / "vid1" / "00001.jpg", (20, 10), (200, 0, 0))
    solid(src / "vid1" / "00002.jpg", (20, 10), (0, 200, 0))
    solid(src / "vid2" / "00001.jpg", (20, 10), (0, 0, 200))
    detector = CountingWholeImage()
    files = ["vid2/00001.jpg", str(src / "vid1" / "00001.jpg"), "./vid1/00001.jpg", "vid1/00009.jpg"]
    summary = detect.crop_folder(src, tmp_path / "out", detector=detector, size=8, files=files, log=None)
    assert summary["total"] == 3 and summary["kept"] == 2   # the repeat is read once; vid1/00002.jpg never
    assert summary["skipped"]["unreadable"] == 1 and "vid1/00009.jpg" in summary["errors"][0]
    assert len(detector.seen) == 2
    assert [r["path"] for r in read_rows(tmp_path / "out" / "crops.csv")] == ["vid1/00001.jpg", "vid2/00001.jpg"]
    assert not (tmp_path / "out" / "vid1" / "00002.jpg").exists()
    # the 20x10 frame's square crop is its centred 10x10 square, resized to 8x8
    assert np.asarray(Image.open(tmp_path / "out" / "vid2" / "00001.jpg")).shape == (8, 8, 3)
    with pytest.raises(ValueError, match="not under the source folder"):
        detect.crop_folder(src, tmp_path / "o2", detector=detector, files=[tmp_path / "elsewhere.jpg"], log=None)
    with pytest.raises(ValueError, match="not a jpg"):
        detect.crop_folder(src, tmp_path / "o3", detector=detector, files=["vid1/notes.txt"], log=None)
    with pytest.raises(TypeError, match="iterable"):
        detect.crop_folder(src, tmp_path / "o4", detector=detector, files="vid1/00001.jpg", log=None)


# --------------------------------------------------------------------------------------------------------------
# crops.build
# --------------------------------------------------------------------------------------------------------------
def cropped_aligned_tree(root):
    """vid1: Neutral, -1, Happiness, Other, Disgust, Sadness (frame 6 missing); vid2: Surprise, Anger."""
    expr_file(root, "vid1", [0, -1, 4, 7, 2, 5])
    expr_file(root, "vid2", [6, 1])
    for i in range(1, 6):
        solid(root / "cropped_aligned" / "vid1" / f"{i:05d}.jpg", (12, 12), (40 * i, 0, 0))
    for i in (1, 2):
        solid(root / "cropped_aligned" / "vid2" / f"{i:05d}.jpg", (12, 12), (0, 100 * i, 0))
    return root


def test_build_without_detector_writes_csv_summary_and_reuses_it(tmp_path):
    root = cropped_aligned_tree(tmp_path / "data")
    out = tmp_path / "out"
    lines = []
    summary = crops.build(root, out, detector="none", size=16, log=lines.append)
    csv_path = out / "train" / "crops.csv"
    assert summary["csv"] == str(csv_path) and (out / "train" / "summary.json").is_file()
    assert summary["reused"] is False and summary["detector"] == "none"
    assert summary["annotated"] == 5 and summary["kept"] == 5
    assert summary["skipped"]["label"] == {"expression -1 (ignore)": 1, "Other (no ganmut class)": 1,
                                           "missing frame": 1}
    assert summary["skipped"]["detection"] == {}
    rows = read_rows(csv_path)
    # Aff-Wild2 Neutral, Happiness, Disgust, Surprise, Anger -> GANmut 0 neutral, 1 happy, 5 disgust, 3, 6
    assert [(r["path"], r["expression"]) for r in rows] == [
        ("vid1/00001.jpg", "0"), ("vid1/00003.jpg", "1"), ("vid1/00005.jpg", "5"), ("vid2/00001.jpg", "3"),
        ("vid2/00002.jpg", "6")]
    assert summary["per_class"] == {"neutral": 1, "happy": 1, "surprise": 1, "disgust": 1, "anger": 1}
    crop = np.asarray(Image.open(out / "train" / "vid1" / "00003.jpg"))
    assert crop.shape == (16, 16, 3) and abs(float(crop[..., 0].mean()) - 120) < 4
    assert any("5 labelled frames of 2 videos" in line for line in lines)

    stamp = os.stat(csv_path).st_mtime_ns
    lines.clear()
    again = crops.build(root, out, detector="none", size=16, log=lines.append)
    assert again["reused"] is True and again["kept"] == 5 and os.stat(csv_path).st_mtime_ns == stamp
    assert len(lines) == 1 and "reusing" in lines[0]
    other = crops.build(root, out, detector="none", size=8, log=lines.append)
    assert other["reused"] is False and any("other settings" in line for line in lines)
    assert np.asarray(Image.open(out / "train" / "vid1" / "00003.jpg")).shape == (8, 8, 3)

    ds, read = crops.load(csv_path, image_size=8, verbose=False)
    examples = take(ds)
    assert [int(e["expression"]) for e in examples] == [0, 1, 5, 3, 6] and read.kept == 5
    assert sorted(examples[0]) == ["expression", "image"]
    assert examples[0]["image"].shape == (8, 8, 3) and examples[0]["image"].dtype == np.float32

    with pytest.raises(ValueError, match="detector must be one of"):
        crops.build(root, out, detector="haar")
    with pytest.raises(ValueError, match="no weights"):
        crops.build(root, out, detector="none", weights="x.h5")
    with pytest.raises(ValueError, match="split"):
        crops.build(root, out, split="test", detector="none")


@pytest.fixture(scope="module")
def mtcnn_available():
    pytest.importorskip("mtcnn")


def test_build_with_mtcnn_on_synthetic_whole_frames(tmp_path, mtcnn_available):
    written = synthetic.write_affwild2_frames(tmp_path / "aw2", n_videos=2, frames_per_video=3, seed=0)
    first, second = written["videos"]
    # Relabel the first video: one ignored frame, one "Other", one Happiness.
    expr_file_path = tmp_path / "aw2" / "EXPR_Classification_Challenge" / "Train_Set" / f"{first}.txt"
    expr_file_path.write_text(f"{HEADER}\n-1\n7\n4\n")
    labels2 = np.asarray(written["labels"][second])
    remap = {0: 0, 1: 6, 2: 5, 3: 4, 4: 1, 5: 2, 6: 3}  # Aff-Wild2 -> GANmut (AffectNet order)
    expected = [(f"{first}/00003.jpg", 1)] + [(f"{second}/{i + 1:05d}.jpg", remap[int(k)])
                                              for i, k in enumerate(labels2) if k >= 0]
    from conftest import keras_policy

    with keras_policy("mixed_bfloat16"):   # the recipes' global policy on an AMX CPU: MTCNN must still work
        summary = crops.build(tmp_path / "aw2", tmp_path / "out", detector="mtcnn", frames="extracted",
                              frames_dir=tmp_path / "aw2" / "frames", size=64, log=None)
    label_skips = {"expression -1 (ignore)": 1 + int((labels2 < 0).sum()), "Other (no ganmut class)": 1}
    assert summary["skipped"]["label"] == label_skips
    assert summary["annotated"] == len(expected) and summary["detector"] == "mtcnn"
    assert summary["kept"] == len(expected), summary["skipped"]["detection"]   # MTCNN finds every pasted face
    rows = read_rows(summary["csv"])
    assert [(r["path"], int(r["expression"])) for r in rows] == expected
    for row in rows:
        x, y, w, h = (float(row[k]) for k in ("box_x", "box_y", "box_w", "box_h"))
        fx, fy, size, _ = written["face_boxes"][row["source"]]
        assert fx <= x + w / 2 <= fx + size and fy <= y + h / 2 <= fy + size   # the face, not the background
        assert 0.2 * size ** 2 < w * h < size ** 2
        assert np.asarray(Image.open(tmp_path / "out" / "train" / row["path"])).shape == (64, 64, 3)
    again = crops.build(tmp_path / "aw2", tmp_path / "out", detector="mtcnn", frames="extracted",
                        frames_dir=tmp_path / "aw2" / "frames", size=64, log=None)
    assert again["reused"] is True and again["kept"] == summary["kept"]


# --------------------------------------------------------------------------------------------------------------
# crops.load errors
# --------------------------------------------------------------------------------------------------------------
def test_load_validates_the_csv(tmp_path):
    solid(tmp_path / "a" / "1.jpg", (6, 6), (10, 20, 30))
    solid(tmp_path / "a" / "2.jpg", (6, 6), (10, 20, 30))
    path = tmp_path / "crops.csv"
    with pytest.raises(FileNotFoundError, match=r"crops\.csv not found.*crops\.build"):
        crops.load(path, 8, verbose=False)
    path.write_text("path,label\na/1.jpg,3\n")
    with pytest.raises(ValueError, match=r"crops\.csv line 1 \(header\) lacks column\(s\) expression"):
        crops.load(path, 8, verbose=False)
    path.write_text("path,expression\na/1.jpg,3\na/2.jpg,7\n")
    with pytest.raises(ValueError, match=r"crops\.csv line 3: expression '7' is not a class 0-6.*Correct or delete"):
        crops.load(path, 8, verbose=False)
    path.write_text("path,expression\na/1.jpg,happy\n")
    with pytest.raises(ValueError, match=r"line 2: expression 'happy'"):
        crops.load(path, 8, verbose=False)
    path.write_text("path,expression\n../outside.jpg,1\n")
    with pytest.raises(ValueError, match=r"line 2.*outside the dataset folder"):
        crops.load(path, 8, verbose=False)
    path.write_text(f"path,expression,extra\na/1.jpg,3,x\na/missing.jpg,2,x\n{tmp_path / 'a' / '2.jpg'},6,x\n"
                    "a/2.jpg,1\n")
    ds, summary = crops.load(path, 8, channels=1, verbose=False)
    assert [int(e["expression"]) for e in take(ds)] == [3, 6]
    assert take(ds)[0]["image"].shape == (8, 8, 1)
    assert summary.skipped == {"missing file": 1, "wrong number of fields": 1}
    assert summary.where["missing file"] == ["crops.csv line 3: a/missing.jpg"]


# --------------------------------------------------------------------------------------------------------------
# crops.combined
# --------------------------------------------------------------------------------------------------------------
AFFECTNET_HEADER = "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence," \
                   "arousal"


def affectnet_tree(root):
    """AffectNet's original release (SPECS "Dataset formats"): classes 0, 3 (valence -2), 6 kept; 7 contempt,
    8 none, 10 no-face dropped."""
    landmarks = ";".join("1.0" for _ in range(136))
    rows = []
    for i, (k, valence) in enumerate([(0, 0.1), (3, -2), (6, -0.5), (7, 0.2), (8, 0.0), (10, -2)]):
        solid(root / "Manually_Annotated_Images" / "1" / f"{i}.jpg", (20, 20), (30 * i, 50, 50))
        rows.append(f"1/{i}.jpg,2,2,16,16,{landmarks},{k},{valence},{valence}")
    lists = root / "Manually_Annotated_file_lists"
    lists.mkdir(parents=True)
    (lists / "training.csv").write_text("\n".join([AFFECTNET_HEADER] + rows) + "\n")
    return root


def test_combined_adds_affectnet_classes_0_to_6(tmp_path):
    net = affectnet_tree(tmp_path / "affectnet")
    for i in range(3):
        solid(tmp_path / "aw2" / "v" / f"{i + 1:05d}.jpg", (12, 12), (200, 200, 200))
    (tmp_path / "aw2" / "crops.csv").write_text("path,expression\nv/00001.jpg,1\nv/00002.jpg,2\nv/00003.jpg,1\n")
    ds, summary = crops.combined(tmp_path / "aw2" / "crops.csv", net, image_size=16, seed=3, verbose=False)
    examples = take(ds)
    assert len(examples) == 6 and summary.kept == 6
    assert sorted((int(e["source"]), int(e["expression"])) for e in examples) == [
        (0, 1), (0, 1), (0, 2), (1, 0), (1, 3), (1, 6)]
    assert all(e["image"].shape == (16, 16, 3) for e in examples)
    assert summary.notes == {"from Aff-Wild2 crops": 3, "from AffectNet": 3}
    assert summary.skipped == {"AffectNet: class 7 (contempt)": 1, "AffectNet: class 8 (none)": 1,
                               "AffectNet: class 10 (no-face)": 1}
    again, _ = crops.combined(tmp_path / "aw2" / "crops.csv", net, image_size=16, seed=3, verbose=False)
    assert [int(e["source"]) for e in take(again)] == [int(e["source"]) for e in examples]  # seeded shuffle


# --------------------------------------------------------------------------------------------------------------
# synthetic.write_affwild2_frames
# --------------------------------------------------------------------------------------------------------------
def test_write_affwild2_frames_layout_and_determinism(tmp_path):
    a = synthetic.write_affwild2_frames(tmp_path / "a", n_videos=2, frames_per_video=4, seed=5, frame_size=(80, 100),
                                        face_size=48, split="validation")
    b = synthetic.write_affwild2_frames(tmp_path / "b", n_videos=2, frames_per_video=4, seed=5, frame_size=(80, 100),
                                        face_size=48, split="validation")
    assert a["videos"] == b["videos"] and a["frames"] == 8 and a["labelled"] + a["ignored"] == 8
    video = a["videos"][0]
    lines = (tmp_path / "a" / "EXPR_Classification_Challenge" / "Validation_Set" / f"{video}.txt").read_text().split()
    assert lines[0] == HEADER and [int(x) for x in lines[1:]] == a["labels"][video]
    first = tmp_path / "a" / "frames" / video / "00001.jpg"
    image = np.asarray(Image.open(first))
    assert image.shape == (80, 100, 3) and sorted(os.listdir(first.parent)) == [f"{i:05d}.jpg" for i in range(1, 5)]
    assert np.array_equal(image, np.asarray(Image.open(tmp_path / "b" / "frames" / video / "00001.jpg")))
    boxes = [a["face_boxes"][f"{video}/{i:05d}.jpg"] for i in range(1, 5)]
    assert all(0 <= x <= 52 and 0 <= y <= 32 and w == h == 48 for x, y, w, h in boxes)
    synthetic.write_affwild2_frames(tmp_path / "c", n_videos=1, frames_per_video=1, seed=6, frame_size=(80, 100),
                                    face_size=48, split="validation")
    assert not np.array_equal(image, np.asarray(Image.open(tmp_path / "c" / "frames" / video / "00001.jpg")))
    # the reader takes the written tree as it is
    scan = affwild2.scan(tmp_path / "a", "validation", frames="extracted", frames_dir=tmp_path / "a" / "frames")
    assert len(scan) == a["labelled"]
    with pytest.raises(ValueError, match="frames_per_video"):
        synthetic.write_affwild2_frames(tmp_path / "d", 1, synthetic.AFFWILD2_FRAMES + 1)
    with pytest.raises(ValueError, match="must hold"):
        synthetic.write_affwild2_frames(tmp_path / "d", 1, 2, frame_size=(40, 200), face_size=48)
