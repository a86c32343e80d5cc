"""Dataset readers on fixture files written here in each dataset's real on-disk format (SPECS.md "Dataset formats"),
including the bad rows and files the real datasets contain."""
from __future__ import annotations

import gzip
import io
import os
import pickle
import shutil
import stat
import sys

import numpy as np
import pytest
from PIL import Image

from tfgan_emotion.data import affectnet, affwild2, cifar10, faces, fashion_mnist, fer2013, ferg, pipeline
from tfgan_emotion.data import labels as label_sets


# --------------------------------------------------------------------------------------------------------------------
# fixture helpers
# --------------------------------------------------------------------------------------------------------------------
def solid(path, size, color, fmt=None, mode="RGB"):
    """Write a ``size`` = (width, height) image of one colour."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new(mode, size, color)
    jpeg = (fmt or path.suffix.lower()) in ("JPEG", ".jpg")
    image.save(path, format=fmt, **({"quality": 95, "subsampling": 0} if jpeg else {}))
    return path


def boxed(path, size, box, inside, outside):
    """Image of colour ``outside`` with the ``box`` = (x, y, w, h) region in colour ``inside``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    array = np.empty((size[1], size[0], 3), np.uint8)
    array[:] = outside
    x, y, w, h = box
    array[y:y + h, x:x + w] = inside
    Image.fromarray(array).save(path, quality=95, subsampling=0)
    return path


def random_bytes(path, n=300, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"garbage!" + np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes())
    return path


def truncated_jpeg(path, size=(48, 48)):
    path.parent.mkdir(parents=True, exist_ok=True)
    noise = np.random.default_rng(1).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="JPEG", quality=95)
    data = buffer.getvalue()
    path.write_bytes(data[: len(data) * 2 // 3])
    return path


def take(ds):
    return [{k: v.numpy() for k, v in example.items()} for example in ds]


RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


# --------------------------------------------------------------------------------------------------------------------
# pipeline
# --------------------------------------------------------------------------------------------------------------------
def test_read_summary_counts_and_text():
    s = pipeline.ReadSummary("affectnet", "train", "/data/x.csv")
    s.kept = 4
    s.skip("invalid valence -2", "x.csv line 4")
    s.skip("invalid valence -2", "x.csv line 9", count=2)
    s.note(pipeline.ZERO_BOX, "x.csv line 7")
    d = s.to_dict()
    assert d["skipped"] == {"invalid valence -2": 3}
    assert d["notes"] == {pipeline.ZERO_BOX: 1}
    assert d["kept"] == 4 and d["skipped_total"] == 3
    text = str(s)
    assert "kept 4" in text and "invalid valence -2: 3" in text and "x.csv line 4" in text
    assert "counted, not skipped" in text and pipeline.ZERO_BOX in text


def test_check_images_counts_every_bad_file(tmp_path):
    good = solid(tmp_path / "good.jpg", (20, 10), RED)
    png = solid(tmp_path / "good.png", (8, 8), BLUE, fmt="PNG")
    gif = solid(tmp_path / "anim.gif", (8, 8), BLUE, fmt="GIF", mode="P")
    junk = random_bytes(tmp_path / "junk.jpg")
    cut = truncated_jpeg(tmp_path / "cut.jpg")
    renamed = solid(tmp_path / "png_named.jpg", (8, 6), GREEN, fmt="PNG")  # a PNG under a .jpg name is fine
    summary = pipeline.ReadSummary("t")
    paths = [good, png, gif, junk, cut, tmp_path / "nope.jpg", renamed]
    checked = pipeline.check_images(paths, summary)
    assert checked.ok.tolist() == [True, True, False, False, False, False, True]
    assert (checked.width[0], checked.height[0]) == (20, 10)
    assert summary.skipped == {"not JPEG/PNG (GIF)": 1, "corrupt image": 2, "missing file": 1}
    # the header-only level cannot see the truncation (documented), the full decode does
    header = pipeline.check_images([cut], pipeline.ReadSummary("t"), level="header")
    assert header.ok.tolist() == [True]


def test_path_guard_refuses_paths_outside_the_dataset(tmp_path):
    root = tmp_path / "images"
    (root / "a").mkdir(parents=True)
    outside = solid(tmp_path / "secret.jpg", (4, 4), RED)
    os.symlink(outside, root / "a" / "link.jpg")
    guard = pipeline.PathGuard(root, tmp_path / "list.csv")
    assert guard("a/x.jpg", "line 2") == os.path.join(os.path.realpath(root), "a", "x.jpg")
    for bad in ("../secret.jpg", "a/../../secret.jpg", "a/link.jpg", str(outside)):
        with pytest.raises(ValueError, match=r"list\.csv line 7: image path .* outside the dataset folder"):
            guard(bad, "line 7")


def test_parse_number_rows_vectorised_and_counts_bad_rows():
    rows = ["1 2 3", "4  5 6", "7 8", "9 x 1", "", " 10 11 12 "]
    values, counts = pipeline.parse_number_rows(rows, 3, chunk=2)
    assert counts.tolist() == [3, 3, 2, -1, 0, 3]
    assert values[[0, 1, 5]].tolist() == [[1, 2, 3], [4, 5, 6], [10, 11, 12]]
    floats, counts = pipeline.parse_number_rows(["1.5;2", "3;4;5"], 2, dtype=np.float32, sep=";")
    assert counts.tolist() == [2, 3] and floats[0].tolist() == [1.5, 2.0]


@pytest.mark.parametrize("quoted", [False, True])
def test_read_csv_keeps_true_line_numbers(tmp_path, quoted):
    q = '"' if quoted else ""
    text = (f"a, b ,c\n{q}x{q},1,2\n\nbad,row\n{q}y{q},3,4\r\n{q}z{q},5,6,7\n{q}w{q},8,9\n")
    (tmp_path / "t.csv").write_text(text)
    table = pipeline.read_csv(tmp_path / "t.csv", "test", "")
    assert table.header == ["a", "b", "c"]
    assert table.columns["a"].tolist() == ["x", "y", "w"] and table.columns["b"].tolist() == ["1", "3", "8"]
    assert table.lines.tolist() == [2, 5, 7]
    assert table.bad == [(4, 2), (6, 4)]
    summary = pipeline.ReadSummary("t")
    table.count_bad(summary)
    assert summary.where["wrong number of fields"] == ["t.csv line 4 (2 fields, header has 3)",
                                                       "t.csv line 6 (4 fields, header has 3)"]


def test_oversample_makes_class_counts_equal():
    classes = np.array([0, 0, 0, 0, 0, 1, 1, 6])
    index = pipeline.oversample_indices(classes, seed=3)
    values, counts = np.unique(classes[index], return_counts=True)
    assert values.tolist() == [0, 1, 6] and counts.tolist() == [5, 5, 5]
    assert set(index.tolist()) == set(range(8))  # every example still appears


def test_augment_layer_keeps_shape_and_range():
    import tensorflow as tf

    layer = pipeline.augment_layer(32, seed=1)
    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(-1, 1, (4, 32, 32, 3)).astype(np.float32))
    out = layer(images, training=True).numpy()
    assert out.shape == (4, 32, 32, 3)
    assert out.min() >= -1.0 - 1e-5 and out.max() <= 1.0 + 1e-5
    assert not np.allclose(out, images.numpy())
    single = layer(images[0], training=True)
    assert single.shape == (32, 32, 3)
    zoom = next(sub for sub in layer.steps if sub.__class__.__name__ == "RandomZoom")
    # zoom IN by 1.075-1.15: Keras reads an input window (1 + f) times the image, f = 1/m - 1
    assert zoom.height_lower == pytest.approx(1 / 1.15 - 1) and zoom.height_upper == pytest.approx(1 / 1.075 - 1)
    rotation = next(sub for sub in layer.steps if sub.__class__.__name__ == "RandomRotation")
    assert rotation.factor[1] * 360 == pytest.approx(7.5)


def test_finalize_makes_fixed_batches_of_49():
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices({"image": np.zeros((100, 4, 4, 1), np.float32),
                                             "expression": np.arange(100, dtype=np.int32)})
    batches = take(pipeline.finalize(ds, 49, shuffle=True, drop_remainder=True, cache=True, prefetch=True, seed=0))
    assert [len(b["expression"]) for b in batches] == [49, 49]
    assert len(set(np.concatenate([b["expression"] for b in batches]).tolist())) == 98
    ds = ds.map(lambda e: {**e, "image": tf.image.resize(e["image"], (16, 16)) + 0.5})
    augmented = take(pipeline.finalize(ds, 10, shuffle=False, augment=pipeline.augment_layer(16)))
    assert len(augmented) == 10 and augmented[0]["image"].shape == (10, 16, 16, 1)
    assert augmented[0]["expression"].tolist() == list(range(10))


def test_readers_registry():
    assert set(pipeline.READERS) == {"affectnet", "fer2013", "ferg", "faces", "affwild2", "fashion_mnist", "cifar10"}
    for name in pipeline.READERS:
        module = pipeline.READERS[name]
        assert callable(module.load) and callable(module.scan) and module.SPLITS
    with pytest.raises(KeyError, match="no reader"):
        pipeline.READERS["imagenet"]


# --------------------------------------------------------------------------------------------------------------------
# AffectNet
# --------------------------------------------------------------------------------------------------------------------
HEADER = "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal"


def landmarks_text(x0, y0):
    points = [(x0 + k % 16, y0 + k // 16) for k in range(68)]
    return ";".join(f"{x:.1f};{y:.1f}" for x, y in points)


def affectnet_csv_release(root, header=HEADER):
    images = root / "Manually_Annotated_Images"
    boxed(images / "1" / "a.jpg", (32, 32), (8, 8, 16, 16), GREEN, RED)
    solid(images / "1" / "b.png", (16, 16), BLUE, fmt="PNG")
    for name in ("c.jpg", "d.jpg", "e.jpg", "h.jpg"):
        solid(images / "1" / name, (16, 16), RED)
    solid(images / "1" / "f.jpg", (24, 20), BLUE)
    random_bytes(images / "1" / "corrupt.jpg")
    truncated_jpeg(images / "1" / "trunc.jpg")
    solid(images / "1" / "g.gif", (8, 8), BLUE, fmt="GIF", mode="P")
    solid(images / "2" / "i.jpg", (16, 16), GREEN)
    lm = landmarks_text(8, 8)
    rows = [
        f"1/a.jpg,8,8,16,16,{lm},0,0.5,-0.25",          # line 2 kept, cropped to the green box
        f"1/b.png,0,0,16,16,{lm},1,0.1,0.2",            # line 3 kept (PNG)
        f"1/c.jpg,0,0,16,16,{lm},2,-2,-2",              # line 4 invalid valence -2
        f"1/d.jpg,0,0,16,16,{lm},9,-2,-2",              # line 5 class 9
        f"1/e.jpg,0,0,16,16,{lm},10,-2,-2",             # line 6 class 10
        f"1/f.jpg,0,0,0,0,{lm},3,-0.5,0.5",             # line 7 zero box -> whole image
        f"1/missing.jpg,0,0,16,16,{lm},4,0.1,0.1",      # line 8 missing file
        f"1/corrupt.jpg,0,0,16,16,{lm},4,0.1,0.1",      # line 9 random bytes
        f"1/trunc.jpg,0,0,16,16,{lm},5,0.1,0.1",        # line 10 truncated JPEG
        f"1/g.gif,0,0,8,8,{lm},5,0.1,0.1",              # line 11 not JPEG/PNG
        f"1/h.jpg,0,0,16,16,{lm},7,0.3,-2",             # line 12 invalid arousal -2
        "2/i.jpg,0,0,16,16,1;2;3,7,-1,1",              # line 13 kept, landmarks malformed
    ]
    lists = root / "Manually_Annotated_file_lists"
    lists.mkdir(parents=True, exist_ok=True)
    (lists / "training.csv").write_text("\n".join([header] + rows) + "\n")
    return root


def test_affectnet_csv_release(tmp_path, capsys):
    root = affectnet_csv_release(tmp_path)
    assert affectnet.detect_release(root) == "csv"
    ds, summary = affectnet.load(root, "train", image_size=8)
    assert "kept 4" in capsys.readouterr().out  # the summary is printed at the end of the read
    assert summary.kept == 4
    assert summary.skipped == {
        "invalid valence -2": 1, "class 9 (uncertain)": 1, "class 10 (no-face)": 1, "missing file": 1,
        "corrupt image": 2, "not JPEG/PNG (GIF)": 1, "invalid arousal -2": 1,
    }
    assert summary.notes == {pipeline.ZERO_BOX: 1, "landmarks not 136 numbers (NaN used)": 1}
    assert summary.where["corrupt image"] == ["training.csv line 9: 1/corrupt.jpg", "training.csv line 10: 1/trunc.jpg"]
    assert summary.where[pipeline.ZERO_BOX] == ["training.csv line 7: 1/f.jpg"]
    examples = take(ds)
    assert [e["expression"] for e in examples] == [0, 1, 3, 7]
    assert [float(e["valence"]) for e in examples] == [0.5, pytest.approx(0.1), -0.5, -1.0]
    assert [float(e["arousal"]) for e in examples] == [-0.25, pytest.approx(0.2), 0.5, 1.0]
    for e in examples:
        assert e["image"].shape == (8, 8, 3) and e["image"].dtype == np.float32
        assert e["image"].min() >= -1 and e["image"].max() <= 1
    green = examples[0]["image"].reshape(-1, 3).mean(axis=0)  # the crop holds only the green box
    np.testing.assert_allclose(green, [-1, 1, -1], atol=0.1)
    np.testing.assert_allclose(examples[2]["image"].reshape(-1, 3).mean(axis=0), [-1, -1, 1], atol=0.1)
    lm = examples[0]["landmarks"]
    assert lm.shape == (68, 2)
    np.testing.assert_allclose(lm[17], [1 / 16, 1 / 16])  # point 17 = pixel (9, 9), crop starts at (8, 8), size 16
    assert np.isnan(examples[3]["landmarks"]).all()


def test_affectnet_hash_header_classes_and_oversampling(tmp_path):
    root = tmp_path
    images = root / "Manually_Annotated_Images" / "d"
    rows = []
    for i, k in enumerate([0, 0, 0, 0, 0, 1, 1, 6]):
        solid(images / f"{i}.jpg", (8, 8), (30 * i, 0, 0))
        rows.append(f"d/{i}.jpg,0,0,8,8,{landmarks_text(0, 0)},{k},0.0,0.0")
    lists = root / "Manually_Annotated_file_lists"
    lists.mkdir(parents=True)
    (lists / "validation.csv").write_text("\n".join(["#" + HEADER] + rows) + "\n")
    _, plain = affectnet.load(root, "validation", image_size=8, verbose=False)
    assert plain.kept == 8
    ds, summary = affectnet.load(root, "validation", image_size=8, oversample=True, verbose=False)
    classes = [int(e["expression"]) for e in take(ds)]
    assert summary.kept == 8 and summary.emitted == 15
    assert {k: classes.count(k) for k in set(classes)} == {0: 5, 1: 5, 6: 5}
    _, seven = affectnet.load(root, "validation", image_size=8, classes=range(1), verbose=False)
    assert seven.kept == 5 and seven.skipped == {"class 1 (happy)": 2, "class 6 (anger)": 1}


def test_affectnet_refuses_paths_leaving_the_dataset(tmp_path):
    root = affectnet_csv_release(tmp_path)
    solid(tmp_path / "secret.jpg", (8, 8), RED)
    csv = root / "Manually_Annotated_file_lists" / "training.csv"
    csv.write_text(HEADER + "\n" + "1/a.jpg,0,0,8,8,1;2,0,0,0\n../secret.jpg,0,0,8,8,1;2,0,0,0\n")
    with pytest.raises(ValueError, match=r"training\.csv line 3: image path '\.\./secret\.jpg' .*outside"):
        affectnet.load(root, "train", verbose=False)


def test_affectnet_malformed_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="Manually_Annotated_file_lists"):
        affectnet.load(tmp_path, "train", verbose=False)
    root = affectnet_csv_release(tmp_path)
    csv = root / "Manually_Annotated_file_lists" / "training.csv"
    csv.write_text(HEADER.replace(",expression", ",emotion") + "\n1/a.jpg,0,0,8,8,1;2,0,0,0\n")
    with pytest.raises(ValueError, match=r"training\.csv line 1 \(header\) lacks column\(s\) expression"):
        affectnet.load(root, "train", verbose=False)
    csv.write_text(HEADER + "\n1/a.jpg,0,0,8,8,1;2,0,0,0,extra,fields\n1/b.png,0,0,8,8,1;2,0,0,0\n\n"
                   "1/d.jpg,0,0,8,8,1;2,9,0,0\n")
    _, summary = affectnet.load(root, "train", verbose=False)
    assert summary.kept == 1 and summary.skipped == {"wrong number of fields": 1, "class 9 (uncertain)": 1}
    assert summary.where == {"wrong number of fields": ["training.csv line 2 (11 fields, header has 9)"],
                             "class 9 (uncertain)": ["training.csv line 5"],
                             "landmarks not 136 numbers (NaN used)": ["training.csv line 3"]}
    csv.write_text("")
    with pytest.raises(ValueError, match=r"training\.csv is empty"):
        affectnet.load(root, "train", verbose=False)
    with pytest.raises(ValueError, match="split"):
        affectnet.load(root, "test", verbose=False)


def affectnet_cropped_release(root):
    images = root / "train_set" / "images"
    notes = root / "train_set" / "annotations"
    notes.mkdir(parents=True)
    spec = {  # N: (exp, val, aro) stored as numeric strings, as the release does
        0: ("3", "0.25", "0.5"), 1: ("9", "-2", "-2"), 2: ("1", "-2", "0.1"), 3: ("6", "-0.5", "0.75"),
        4: ("2", "0.1", "0.1"), 10: ("0", "0", "0"),
    }
    for n, (e, v, a) in spec.items():
        if n != 4:
            np.save(notes / f"{n}_exp.npy", np.array(e))
        np.save(notes / f"{n}_val.npy", np.array(v))
        np.save(notes / f"{n}_aro.npy", np.array(a))
        np.save(notes / f"{n}_lnd.npy", np.arange(136, dtype=np.float64) % 12)
        solid(images / f"{n}.jpg", (12, 12), GREEN if n != 3 else BLUE)
    random_bytes(images / "10.jpg")
    (images / "readme.txt").write_text("not an image")
    return root


def test_affectnet_cropped_release(tmp_path):
    root = affectnet_cropped_release(tmp_path)
    assert affectnet.detect_release(root) == "cropped"
    ds, summary = affectnet.load(root, "train", image_size=12, verbose=False)
    assert summary.kept == 2
    assert summary.skipped == {"class 9 (uncertain)": 1, "invalid valence -2": 1, "missing annotation (exp)": 1,
                               "corrupt image": 1, "unrecognised file name": 1}
    examples = take(ds)
    assert [int(e["expression"]) for e in examples] == [3, 6]
    assert [float(e["valence"]) for e in examples] == [0.25, -0.5]
    np.testing.assert_allclose(examples[1]["image"].reshape(-1, 3).mean(0), [-1, -1, 1], atol=0.1)
    np.testing.assert_allclose(examples[0]["landmarks"][1], [2 / 12, 3 / 12])


def test_affectnet_summarize_text(tmp_path):
    root = affectnet_csv_release(tmp_path)
    text = pipeline.summarize("affectnet", root, split="train")
    assert "expression counts (4 examples)" in text
    assert " 3 surprise" in text
    assert "valence histogram" in text and "arousal histogram" in text
    assert "invalid valence -2: 1" in text and "corrupt image: 2" in text


# --------------------------------------------------------------------------------------------------------------------
# fer2013
# --------------------------------------------------------------------------------------------------------------------
def fer_pixels(seed, n=fer2013.N_PIXELS):
    return np.random.default_rng(seed).integers(0, 256, n)


def write_fer_csv(path, columns=("emotion", "pixels", "Usage")):
    rows = [
        (0, fer_pixels(0), "Training"),      # line 2
        (3, fer_pixels(1), "Training"),      # line 3
        (6, fer_pixels(2, 2303), "Training"),  # line 4: wrong pixel count
        (2, fer_pixels(3), "PublicTest"),    # line 5
        (9, fer_pixels(4), "Training"),      # line 6: class 9
        (4, fer_pixels(5), "PrivateTest"),   # line 7
    ]
    lines = [",".join(columns)]
    order = [c.strip() for c in columns]
    for emotion, pixels, usage in rows:
        values = {"emotion": str(emotion), "pixels": " ".join(map(str, pixels)), "Usage": usage}
        lines.append(",".join(values[c] for c in order))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_fer2013_csv_all_rows_and_usage(tmp_path):
    write_fer_csv(tmp_path / "fer2013.csv")
    ds, summary = fer2013.load(tmp_path, split=None, verbose=False)
    assert summary.kept == 4
    assert summary.skipped == {"wrong pixel count": 1, "class 9 (unknown)": 1}
    assert summary.where["wrong pixel count"] == ["fer2013.csv line 4 (2303 pixels)"]
    assert summary.where["class 9 (unknown)"] == ["fer2013.csv line 6"]
    examples = take(ds)
    assert [int(e["expression"]) for e in examples] == [0, 3, 2, 4]
    assert examples[0]["image"].shape == (48, 48, 1)
    np.testing.assert_allclose(examples[0]["image"].ravel(), fer_pixels(0) / 127.5 - 1, atol=1e-6)
    train, s_train = fer2013.load(tmp_path, split="Training", verbose=False)
    assert [int(e["expression"]) for e in take(train)] == [0, 3] and s_train.kept == 2
    test, _ = fer2013.load(tmp_path, split="test", image_size=24, channels=3, verbose=False)
    test = take(test)
    assert [int(e["expression"]) for e in test] == [2, 4] and test[0]["image"].shape == (24, 24, 3)


def test_fer2013_summarize_lists_each_usage(tmp_path):
    write_fer_csv(tmp_path / "fer2013.csv")
    text = pipeline.summarize("fer2013", tmp_path)
    assert "fer2013 [Training]: kept 2" in text and "fer2013 [PublicTest]: kept 1" in text
    assert "fer2013 [PrivateTest]: kept 1" in text
    assert "wrong pixel count: 1  e.g. fer2013.csv line 4 (2303 pixels)" in text
    assert "valence" not in text


def test_fer2013_icml_leading_space_columns(tmp_path):
    write_fer_csv(tmp_path / "icml_face_data.csv", columns=("emotion", " Usage", " pixels"))
    ds, summary = fer2013.load(tmp_path, split="PublicTest", verbose=False)
    examples = take(ds)
    assert summary.kept == 1 and [int(e["expression"]) for e in examples] == [2]
    np.testing.assert_allclose(examples[0]["image"].ravel(), fer_pixels(3) / 127.5 - 1, atol=1e-6)


def test_fer2013_malformed_csv(tmp_path):
    (tmp_path / "fer2013.csv").write_text("emotion,Usage\n0,Training\n")
    with pytest.raises(ValueError, match=r"fer2013\.csv line 1 \(header\) lacks column\(s\) pixels"):
        fer2013.load(tmp_path, verbose=False)
    with pytest.raises(FileNotFoundError, match="fer2013"):
        fer2013.load(tmp_path / "nowhere", verbose=False)


def test_fer2013_folder_release(tmp_path):
    solid(tmp_path / "train" / "angry" / "im10.png", (48, 48), (10, 10, 10), fmt="PNG", mode="RGB")
    solid(tmp_path / "train" / "Happy" / "im2.png", (48, 48), (20, 20, 20), fmt="PNG")
    solid(tmp_path / "train" / "Happy" / "im10.png", (48, 48), (30, 30, 30), fmt="PNG")
    random_bytes(tmp_path / "train" / "Happy" / "im3.png")
    solid(tmp_path / "train" / "sad" / "im1.jpg", (48, 48), (0, 0, 0, 0), fmt="JPEG", mode="CMYK")
    ds, summary = fer2013.load(tmp_path, split="train", verbose=False)
    examples = take(ds)
    assert [int(e["expression"]) for e in examples] == [0, 3, 3, 4]  # class order; the CMYK JPEG decodes to grey
    assert [round(float(e["image"][0, 0, 0] * 127.5 + 127.5)) for e in examples[:3]] == [10, 20, 30]
    assert summary.skipped == {"corrupt image": 1}
    (tmp_path / "train" / "bored").mkdir()
    with pytest.raises(ValueError, match="bored is not a fer2013 class folder"):
        fer2013.load(tmp_path, split="train", verbose=False)


# --------------------------------------------------------------------------------------------------------------------
# FERG-DB
# --------------------------------------------------------------------------------------------------------------------
def ferg_png(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., :3] = value
    rgba[..., 3] = 0  # fully transparent: the RGB values must survive the alpha drop
    rgba[:8, :, 3] = 255
    Image.fromarray(rgba, "RGBA").save(path)


def test_ferg_numeric_order_labels_and_alpha(tmp_path):
    root = tmp_path / "FERG_DB_256"
    for n in (1, 2, 10):
        ferg_png(root / "aia" / "aia_anger" / f"aia_anger_{n}.png", 10 * n)
    ferg_png(root / "ray" / "ray_sadness" / "ray_sadness_1.png", 200)
    ferg_png(root / "aia" / "aia_joy" / "aia_joy_3.png", 50)
    random_bytes(root / "aia" / "aia_joy" / "aia_joy_4.png")
    ferg_png(root / "aia" / "aia_anger" / "aia_anger_x.png", 0)
    ds, summary = ferg.load(tmp_path, split="all", image_size=16, verbose=False)
    examples = take(ds)
    values = [round(float(e["image"][12, 0, 0] * 127.5 + 127.5)) for e in examples]
    assert values == [10, 20, 100, 50, 200]  # numeric order: _2 before _10
    assert [int(e["expression"]) for e in examples] == [0, 0, 0, 3, 5]
    assert [int(e["character"]) for e in examples] == [0, 0, 0, 0, label_sets.FERG_CHARACTERS.index("ray")]
    assert [int(e["identity"]) for e in examples] == [0, 0, 0, 0, 5]
    assert examples[0]["image"].shape == (16, 16, 3)
    assert summary.skipped["corrupt image"] == 1
    assert summary.skipped["unrecognised file name"] == 1
    assert summary.where["unrecognised file name"] == ["aia/aia_anger/aia_anger_x.png"]


def test_ferg_deterministic_split(tmp_path):
    root = tmp_path / "FERG_DB_256"
    for n in range(1, 11):
        ferg_png(root / "mery" / "mery_fear" / f"mery_fear_{n}.png", n)
    train = ferg.scan(root, "train")
    val = ferg.scan(root, "val")
    assert len(train) == 8 and len(val) == 2
    assert set(train.paths) | set(val.paths) == set(ferg.scan(root, "all").paths)
    assert not set(train.paths) & set(val.paths)
    assert list(ferg.scan(root, "val").paths) == list(val.paths)


# --------------------------------------------------------------------------------------------------------------------
# FACES
# --------------------------------------------------------------------------------------------------------------------
def faces_photo(path, value):
    """A 60x80 portrait: rows 10..69 (the centred square) in ``value``, the top and bottom bands black."""
    path.parent.mkdir(parents=True, exist_ok=True)
    array = np.zeros((80, 60, 3), np.uint8)
    array[10:70] = value
    Image.fromarray(array).save(path, quality=95)


def test_faces_names_labels_and_fit(tmp_path):
    faces_photo(tmp_path / "set1" / "001_y_m_a_a.jpg", 200)
    faces_photo(tmp_path / "set1" / "001_y_m_n_a.jpg", 200)
    faces_photo(tmp_path / "002_o_f_h_b.jpg", 200)
    faces_photo(tmp_path / "003_m_f_s_a.jpg", 200)
    faces_photo(tmp_path / "portrait_of_someone.jpg", 200)
    random_bytes(tmp_path / "004_y_f_d_a.jpg")
    ds, summary = faces.load(tmp_path, image_size=16, verbose=False)
    examples = take(ds)
    assert summary.kept == 4
    assert summary.skipped == {"unrecognised file name": 1, "corrupt image": 1}
    order = [(int(e["person"]), int(e["expression"])) for e in examples]
    assert order == [(2, 5), (3, 3), (1, 2), (1, 0)]  # happiness, sadness, anger, neutral (FACES order)
    assert [int(e["identity"]) for e in examples] == [1, 2, 0, 0]
    assert [int(e["age"]) for e in examples] == [2, 1, 0, 0]
    assert [int(e["gender"]) for e in examples] == [1, 1, 0, 0]
    assert [int(e["picture_set"]) for e in examples] == [1, 0, 0, 0]
    image = examples[0]["image"]
    assert image.shape == (16, 16, 3)
    assert image.min() > 0.3  # centre fit: only the 60x60 middle band, no black
    squash = take(faces.load(tmp_path, image_size=16, fit="squash", verbose=False)[0])
    assert squash[0]["image"][0].mean() < -0.9  # squash keeps the black top band
    _, chosen = faces.load(tmp_path, emotions=["neutral", "h"], verbose=False)
    assert chosen.kept == 2
    assert chosen.skipped["emotion not selected (anger)"] == 1
    assert chosen.skipped["emotion not selected (sadness)"] == 1


# --------------------------------------------------------------------------------------------------------------------
# Aff-Wild2
# --------------------------------------------------------------------------------------------------------------------
def affwild2_tree(root, frames=(1, 3, 4)):
    expr = root / "annotations" / "EXPR_Classification_Challenge" / "Train_Set"
    expr.mkdir(parents=True)
    (expr / "vid1.txt").write_text("Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise,Other\n0\n-1\n4\n7\n2\n")
    va = root / "annotations" / "VA_Estimation_Challenge" / "Train_Set"
    va.mkdir(parents=True)
    (va / "vid1.txt").write_text("valence,arousal\n0.5,0.1\n-5,-5\n0.2,0.3\n1.5,0\n0.1,0.1\n")
    for i in frames:
        solid(root / "cropped_aligned" / "vid1" / f"{i:05d}.jpg", (8, 8), (40 * i, 0, 0))
    return root


def test_affwild2_expressions_and_missing_frames(tmp_path):
    root = affwild2_tree(tmp_path)
    ds, summary = affwild2.load(root, "train", image_size=8, verbose=False)
    examples = take(ds)
    assert [int(e["expression"]) for e in examples] == [0, 4, 7]
    assert summary.skipped == {"expression -1 (ignore)": 1, "missing frame": 1}
    assert summary.where["missing frame"] == ["vid1/00005.jpg"]
    reds = [round(float(e["image"][..., 0].mean() * 127.5 + 127.5)) for e in examples]
    assert all(abs(r - 40 * i) <= 3 for r, i in zip(reds, (1, 3, 4)))


def test_affwild2_remap_to_affectnet_and_va(tmp_path):
    root = affwild2_tree(tmp_path)
    ds, summary = affwild2.load(root, "train", image_size=8, remap_to="affectnet", verbose=False)
    assert [int(e["expression"]) for e in take(ds)] == [0, 1]  # Neutral -> neutral, Happiness -> happy
    assert summary.skipped == {"expression -1 (ignore)": 1, "Other (no affectnet class)": 1, "missing frame": 1}
    ds, summary = affwild2.load(root, "train", image_size=8, labels="va", verbose=False)
    examples = take(ds)
    assert [(float(e["valence"]), float(e["arousal"])) for e in examples] == [
        (0.5, pytest.approx(0.1)), (pytest.approx(0.2), pytest.approx(0.3))]
    assert summary.skipped == {"valence/arousal -5 (ignore)": 1, "valence/arousal outside [-1, 1]": 1,
                               "missing frame": 1}
    ds, _ = affwild2.load(root, "train", image_size=8, labels="both", verbose=False)
    assert sorted(take(ds)[0]) == ["arousal", "expression", "image", "valence", "video"]
    bad = root / "annotations" / "EXPR_Classification_Challenge" / "Train_Set" / "vid1.txt"
    bad.write_text("neutral,happy\n0\n")
    with pytest.raises(ValueError, match=r"vid1\.txt line 1 .*header"):
        affwild2.load(root, "train", verbose=False)


def test_affwild2_ffmpeg_missing_gives_clear_error(tmp_path, monkeypatch):
    root = affwild2_tree(tmp_path)
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    with pytest.raises(RuntimeError, match=r"ffmpeg.*not on PATH.*cropped_aligned"):
        affwild2.load(root, "train", frames="ffmpeg", verbose=False)
    shutil.rmtree(root / "cropped_aligned")
    with pytest.raises(RuntimeError, match="install ffmpeg|Install ffmpeg"):
        affwild2.load(root, "train", verbose=False)


def test_affwild2_frames_from_video_with_ffmpeg(tmp_path, monkeypatch):
    root = affwild2_tree(tmp_path / "data", frames=())
    (root / "videos").mkdir()
    (root / "videos" / "vid1.mp4").write_bytes(b"not decoded by the fake ffmpeg")
    tools = tmp_path / "bin"
    tools.mkdir()
    log = tmp_path / "ffmpeg_args.txt"
    fake = tools / "ffmpeg"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import sys\nfrom PIL import Image\n"
        f"open({str(log)!r}, 'w').write(' '.join(sys.argv[1:]))\n"
        "pattern = sys.argv[-1]\n"
        "for i in range(1, 6):\n"
        "    Image.new('RGB', (10, 10), (50 * i, 0, 0)).save(pattern % i)\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ.get('PATH', '')}")
    ds, summary = affwild2.load(root, "train", image_size=10, frames="ffmpeg", frames_dir=tmp_path / "frames",
                                verbose=False)
    examples = take(ds)
    assert [int(e["expression"]) for e in examples] == [0, 4, 7, 2]
    assert "-fps_mode passthrough" in log.read_text() and "vid1.mp4" in log.read_text()
    assert sorted(os.listdir(tmp_path / "frames" / "vid1"))[:2] == [".complete", "00001.jpg"]
    assert summary.notes == {"whole video frames from ffmpeg (no face crop)": 1}


# --------------------------------------------------------------------------------------------------------------------
# Fashion-MNIST and CIFAR-10
# --------------------------------------------------------------------------------------------------------------------
def idx_bytes(array, magic):
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_fashion(root, labels=(0, 3, 9, 11, 2), gz=True):
    root.mkdir(parents=True, exist_ok=True)
    images = np.stack([np.full((28, 28), 10 * i, np.uint8) for i in range(len(labels))])
    files = {
        "train-images-idx3-ubyte": idx_bytes(images, 0x803),
        "train-labels-idx1-ubyte": idx_bytes(np.array(labels), 0x801),
    }
    for name, data in files.items():
        if gz:
            with gzip.open(root / (name + ".gz"), "wb") as f:
                f.write(data)
        else:
            (root / name).write_bytes(data)
    return root


def test_fashion_mnist_idx(tmp_path):
    root = write_fashion(tmp_path / "fashion-mnist")
    ds, summary = fashion_mnist.load(root, "train", verbose=False)
    examples = take(ds)
    assert [int(e["expression"]) for e in examples] == [0, 3, 9, 2]
    assert summary.skipped == {"label outside 0-9": 1}
    assert summary.where["label outside 0-9"] == ["train-labels-idx1-ubyte.gz item 3"]
    assert examples[1]["image"].shape == (28, 28, 1)
    assert float(examples[1]["image"][0, 0, 0]) == pytest.approx(10 / 127.5 - 1)
    plain = write_fashion(tmp_path / "plain", gz=False)
    assert fashion_mnist.scan(plain, "train").summary.kept == 4


def test_fashion_mnist_bad_magic_and_size(tmp_path):
    root = tmp_path / "f"
    root.mkdir()
    images = np.zeros((2, 28, 28), np.uint8)
    (root / "train-images-idx3-ubyte").write_bytes(idx_bytes(images, 0x801))
    (root / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.array([1, 2]), 0x801))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte has magic number 0x00000801, expected 0x00000803"):
        fashion_mnist.load(root, "train", verbose=False)
    (root / "train-images-idx3-ubyte").write_bytes(idx_bytes(images, 0x803)[:-5])
    with pytest.raises(ValueError, match="truncated"):
        fashion_mnist.load(root, "train", verbose=False)
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        fashion_mnist.load(root, "test", verbose=False)


def cifar_batch(labels, seed):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (len(labels), 3072), dtype=np.uint8)
    return {b"batch_label": b"training batch", b"labels": list(labels), b"data": data,
            b"filenames": [f"img_{i}.png".encode() for i in range(len(labels))]}


def write_cifar(root):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    batches = {}
    for i in range(1, 6):
        batch = cifar_batch([i, (i + 1) % 10] if i != 3 else [3, 12], seed=i)
        data = pickle.dumps(batch, protocol=2)
        if i == 1:  # the original (numpy 1.x era) module path of the array constructor
            data = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
        if i == 2:
            data = pickle.dumps(batch, protocol=5)
        (folder / f"data_batch_{i}").write_bytes(data)
        batches[i] = batch
    (folder / "test_batch").write_bytes(pickle.dumps(cifar_batch([4], seed=9), protocol=4))
    return folder, batches


def test_cifar10_restricted_unpickler_reads_batches(tmp_path):
    folder, batches = write_cifar(tmp_path)
    ds, summary = cifar10.load(tmp_path, "train", verbose=False)
    examples = take(ds)
    assert [int(e["expression"]) for e in examples] == [1, 2, 2, 3, 3, 4, 5, 5, 6]
    assert summary.skipped == {"label outside 0-9": 1} and summary.where["label outside 0-9"] == ["data_batch_3 item 1"]
    row = batches[1][b"data"][0]
    expected = np.stack([row[:1024], row[1024:2048], row[2048:]], axis=-1).reshape(32, 32, 3)  # planar -> HWC
    np.testing.assert_allclose(examples[0]["image"], expected / 127.5 - 1, atol=1e-6)
    test, _ = cifar10.load(folder, "test", verbose=False)
    assert [int(e["expression"]) for e in take(test)] == [4]


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_cifar10_refuses_forbidden_globals(tmp_path):
    folder, _ = write_cifar(tmp_path)
    marker = tmp_path / "pwned"
    evil = cifar_batch([1], seed=0)
    evil[b"filenames"] = _Evil(marker)
    (folder / "data_batch_4").write_bytes(pickle.dumps(evil, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match=r"data_batch_4 asks to load the global (posix|os|nt)\.system"):
        cifar10.load(tmp_path, "train", verbose=False)
    assert not marker.exists()
    (folder / "data_batch_4").write_bytes(pickle.dumps({b"data": [1, 2], b"labels": [1]}, protocol=2))
    with pytest.raises(ValueError, match=r"data_batch_4 b'data' is list"):
        cifar10.load(tmp_path, "train", verbose=False)
    (folder / "data_batch_4").write_bytes(b"\x80\x02}q\x00(X")
    with pytest.raises(ValueError, match="not a readable pickle"):
        cifar10.load(tmp_path, "train", verbose=False)
