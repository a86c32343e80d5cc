"""Small own-data datasets on disk, in every accepted form, each with bad rows of every kind.

``build(tmp_path, form)`` writes one dataset and returns a :class:`Built`: the recipe flags that read it, the data
summary flags, the exact number of rows the reader must keep, and the exact skips by reason. The images are rendered
synthetic faces (PNG), one identity per person, each class rendered at its circumplex direction; the bad rows are:
a missing file, a truncated image, a label out of range, an unknown class name, a duplicate row, a path that leaves
the image root, and (CSV forms) a row with the wrong number of fields.

Forms:
* ``names``   -- generic CSV ``path,expression,valence,arousal,identity`` with class names;
* ``indices`` -- the same with class indices and ``--classes``;
* ``ganmut``  -- GANmut's ``subDirectory_filePath,expression`` (indices in AffectNet's order), images under a
                 separate ``--image-root``;
* ``crops``   -- the CSV that ``tfgan-emotion data crop`` writes (made by the real crop code, whole-image detector);
* ``folders`` -- one sub-folder per class (a symlink leading out of the folder, a truncated file, a class that
                 ``--classes`` leaves out).
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

FORMS = ("names", "indices", "ganmut", "crops", "folders")
# Five classes (the "5-class custom dataset"); GANmut's own CSV uses its 7 AffectNet-order indices.
CLASSES = ("neutral", "happy", "sad", "surprise", "anger")
GANMUT_CLASSES = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger")
PER_CLASS = 4          # good images per class
PEOPLE = 4             # identities (each class has one image of each person)
SIZE = 64


@dataclass
class Built:
    form: str
    flags: list                      # recipe flags that read the dataset
    summary_flags: list              # `tfgan-emotion data summary` flags
    kept: int                        # rows the reader keeps
    skipped: dict                    # reason -> count
    classes: tuple                   # the run's class names, in order
    per_class: dict = field(default_factory=dict)


def _faces(classes, per_class, seed=0):
    """(images uint8 [n, SIZE, SIZE, 3], class index, identity, valence, arousal) with every class x person."""
    from tfgan_emotion.data import custom
    from tfgan_emotion.data import labels as L
    from tfgan_emotion.data.synthetic.renderer import render_faces

    vocab = custom.make_vocabulary(classes)
    cls = np.repeat(np.arange(len(classes)), per_class)
    who = np.tile(np.arange(PEOPLE), len(classes) * per_class // PEOPLE + 1)[:len(cls)]
    v, a = L.va_from_category(cls, vocab, intensity=0.8)
    img = render_faces(who, v, a, size=SIZE, seed=seed)
    return np.clip((img + 1) * 127.5 + 0.5, 0, 255).astype(np.uint8), cls, who, v, a


def _save(img, path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)


def _truncated(path: Path, img):
    _save(img, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _write_csv(path: Path, header, rows, bad_field_row=None):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow(r)
        if bad_field_row is not None:
            f.write(bad_field_row + "\n")


def build(tmp_path, form: str) -> Built:
    root = Path(tmp_path) / f"own-{form}"
    root.mkdir(parents=True)
    outside = Path(tmp_path) / f"outside-{form}.png"
    classes = GANMUT_CLASSES if form in ("ganmut", "crops") else CLASSES
    img, cls, who, v, a = _faces(classes, PER_CLASS)
    n = len(img)
    _save(img[0], outside)
    skipped = {"missing file": 1, "corrupt image": 1, "path leaves the image root": 1,
               "duplicate image (listed on an earlier line)": 1}
    per_class = {c: PER_CLASS for c in classes}

    if form in ("names", "indices"):
        images = root / "images"
        rows = []
        for i in range(n):
            rel = f"images/p{who[i]}/{classes[cls[i]]}_{i}.png"
            _save(img[i], root / rel)
            label = classes[cls[i]] if form == "names" else str(cls[i])
            rows.append([rel, label, f"{v[i]:.4f}", f"{a[i]:.4f}", f"person{who[i]}"])
        _truncated(images / "broken.png", img[0])
        rows += [["images/nowhere.png", rows[0][1], "0.1", "0.1", "person0"],          # missing file
                 ["images/broken.png", rows[0][1], "0.1", "0.1", "person0"],           # truncated image
                 [f"../{outside.name}", rows[0][1], "0.1", "0.1", "person0"],          # leaves the root
                 [rows[1][0], rows[1][1], rows[1][2], rows[1][3], rows[1][4]],         # duplicate
                 [rows[2][0].replace(".png", "_x.png"), rows[2][1], "1.5", "0.0", "person0"]]   # valence out of range
        skipped["valence not a number in [-1, 1]"] = 1
        _save(img[2], root / rows[-1][0])
        if form == "names":
            # class names as the data spells them: "Happiness" is happy; "glad" becomes happy and "bored" is
            # dropped by the label map
            for r in rows[:n]:
                if r[1] == "happy":
                    r[1] = "Happiness"
            for r in rows[:n]:
                if r[1] == "Happiness":
                    r[1] = "glad"
                    break
            rows.append([rows[3][0].replace(".png", "_y.png"), "bored", "0.0", "0.0", "person0"])
            _save(img[3], root / rows[-1][0])
            skipped["class 'bored' dropped by --label-map"] = 1
            label_map = root / "label_map.csv"
            label_map.write_text("from,to\nglad,happy\nbored,\n")
            flags = ["--label-map", str(label_map)]
        else:
            rows.append([rows[3][0].replace(".png", "_y.png"), "9", "0.0", "0.0", "person0"])
            _save(img[3], root / rows[-1][0])
            skipped[f"class index out of range 0-{len(classes) - 1}"] = 1
            rows.append([rows[4][0].replace(".png", "_z.png"), "bored", "0.0", "0.0", "person0"])
            _save(img[4], root / rows[-1][0])
            skipped["unknown class 'bored'"] = 1
            flags = ["--classes", ",".join(classes)]
        csv_path = root / "labels.csv"
        _write_csv(csv_path, ["path", "expression", "valence", "arousal", "identity"], rows,
                   bad_field_row="images/p0/extra.png,happy,0.1")
        skipped["wrong number of fields"] = 1
        flags = ["--data-csv", str(csv_path)] + flags
        return Built(form, flags, flags, n, skipped, classes, per_class)

    if form == "ganmut":
        images = root / "images"
        csv_dir = root / "lists"
        csv_dir.mkdir()
        rows = []
        for i in range(n):
            rel = f"{who[i]}/{i}.png"
            _save(img[i], images / rel)
            rows.append([rel, str(cls[i])])
        _truncated(images / "broken.png", img[0])
        rows += [["nowhere.png", "0"], ["broken.png", "1"], [f"../../{outside.name}", "0"], list(rows[1]),
                 ["0/extra.png", "7"]]
        _save(img[1], images / "0/extra.png")
        skipped["class index out of range 0-6"] = 1
        csv_path = csv_dir / "training.csv"
        _write_csv(csv_path, ["subDirectory_filePath", "expression"], rows, bad_field_row="0/0.png,1,extra")
        skipped["wrong number of fields"] = 1
        flags = ["--data-csv", str(csv_path), "--image-root", str(images)]
        return Built(form, flags, flags + ["--system", "ganmut_affwild2"], n, skipped, classes, per_class)

    if form == "crops":
        from tfgan_emotion.data import crops, detect

        src = Path(tmp_path) / "photos-crops"
        labels = {}
        for i in range(n):
            rel = f"{who[i]}/{i}.png"
            # the photo: the face inside a larger frame; the crop is the whole photo (the detector finds it all)
            _save(img[i], src / rel)
            labels[rel] = int(cls[i])
        detect.crop_folder(src, root, detector=crops.WholeImage(), size=SIZE, labels=labels,
                           label_column="expression", log=None)
        csv_path = root / detect.CROPS_CSV
        with open(csv_path, newline="") as f:
            table = list(csv.reader(f))
        header, rows = table[0], table[1:]
        assert len(rows) == n, f"crop_folder kept {len(rows)} of {n}"
        p = header.index("path")
        _truncated(root / "broken.png", img[0])

        def variant(path, label=None):
            r = list(rows[0])
            r[p] = path
            if label is not None:
                r[header.index("expression")] = label
            return r

        extra = [variant("nowhere.png"), variant("broken.png"), variant(f"../{outside.name}"), list(rows[1]),
                 variant("0/extra.png", "8")]
        _save(img[1], root / "0/extra.png")
        skipped["class index out of range 0-6"] = 1
        _write_csv(csv_path, header, rows + extra, bad_field_row="0/0.png,1")
        skipped["wrong number of fields"] = 1
        flags = ["--data-csv", str(csv_path)]
        return Built(form, flags, flags + ["--system", "ganmut_affwild2"], n, skipped, classes, per_class)

    if form == "folders":
        for i in range(n):
            _save(img[i], root / "train" / classes[cls[i]] / f"p{who[i]}_{i}.png")
        # two held-out images per class under val/
        for c in range(len(classes)):
            _save(img[c * PER_CLASS], root / "val" / classes[c] / f"held_{c}.png")
        _truncated(root / "train" / classes[0] / "broken.png", img[0])
        os.symlink(outside, root / "train" / classes[1] / "link_out.png")
        # a class --classes leaves out: counted as unknown
        for j in range(2):
            _save(img[j], root / "train" / "bored" / f"b{j}.png")
        skipped = {"corrupt image": 1, "path leaves the image root": 1, "unknown class 'bored'": 2}
        flags = ["--data-dir", str(root), "--data-format", "folders", "--classes", ",".join(classes)]
        kept = n + len(classes)
        return Built(form, flags, flags, kept, skipped, classes, {c: PER_CLASS + 1 for c in classes})

    raise ValueError(form)


def recipe_flags(built: Built, recipe: str) -> list:
    """The flags that train ``recipe`` on ``built``. GANmut's CSV and the crops CSV hold indices in AffectNet's
    order: the systems whose paper vocabulary that is read them as they are; the others are told the names."""
    from tfgan_emotion import systems

    flags = list(built.flags)
    if "--classes" not in flags and built.form in ("ganmut", "crops") and \
            systems.get(recipe).vocabulary({}).names[:7] != GANMUT_CLASSES:
        flags += ["--classes", ",".join(GANMUT_CLASSES)]
    return flags
