"""The GANmut training CSV: Aff-Wild2 frames -> face crops + ``crops.csv`` (paper 002 V.C-D), its reader, and the
"Combined" Aff-Wild2 + AffectNet training set (paper 002 V.C).

Paper 002 V, "Building the CSV training file": frames are extracted from the Aff-Wild2 videos (ffmpeg, at the
video's own frame rate), each frame is matched to its label in the annotation files, frames with irrelevant labels
are discarded, labels are remapped to AffectNet's order, and a face detector (MTCNN or RetinaFace) saves the face
with the highest confidence score; GANmut's data loader then reads a CSV of image paths and labels (V.D).
SPECS.md "GANmut": 7 classes in AffectNet order (0 neutral, 1 happy, 2 sad, 3 surprise, 4 fear, 5 disgust,
6 anger), 128x128x3.

* :func:`build` -- scan one Aff-Wild2 split with ``remap_to="ganmut"`` (frames labelled -1 and "Other" are dropped
  before any detection, and counted), run :func:`detect.crop_folder` on exactly the remaining frames, write
  ``<out_dir>/<split>/crops.csv`` and ``summary.json``; a finished build with the same settings is reused.
* :func:`load` -- ``crops.csv`` as unbatched dicts ``{"image": float32 [-1, 1], "expression": int32}``.
* :func:`build_affectnet` -- AffectNet's training images of classes 0-6 through the same face detector (paper 002
  V.D: RetinaFace, with its confidence threshold lowered to 0.1, or MTCNN on the pre-cropped images), written
  like :func:`build`'s crops.
* :func:`combined` -- those crops plus the AffectNet training images of classes 0-6 (paper 002 V.C: Aff-Wild2
  "integrated with the small version of AffectNet (cropped to portray only the face)"), shuffled together; the
  AffectNet part is :func:`build_affectnet`'s detected faces or the images cut to their annotation boxes.
* :func:`labelled_scan`, :func:`balanced_indices` -- the separate balanced labelled set the evaluation's emotion
  classifiers are fine-tuned on (paper 002 VI.A: AffectNet's pre-cropped images, classes balanced).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np

from tfgan_emotion.data import affectnet, affwild2, detect, pipeline
from tfgan_emotion.data import labels as label_sets
from tfgan_emotion.data.pipeline import ReadSummary, RowFilter, Scan

NAME = "ganmut_crops"
VOCABULARY = label_sets.GANMUT
SUMMARY_JSON = "summary.json"
REQUIRED_COLUMNS = ("path", "expression")
NO_DETECTOR = "none"
_FORMAT = 1  # bumped when the layout of crops.csv / summary.json changes: an older build is then redone


class WholeImage(detect.Detector):
    """``detector="none"``: the whole image is the face (confidence 1), for frames that are already face crops
    (Aff-Wild2's ``cropped_aligned``). With :func:`detect.crop_window`'s ``square`` window the crop is the largest
    centred square of the image."""

    name = NO_DETECTOR

    def _detect(self, image: np.ndarray) -> list[detect.Detection]:
        height, width = image.shape[:2]
        return [((0.0, 0.0, float(width), float(height)), 1.0)]


# --------------------------------------------------------------------------------------------------------------
# build
# --------------------------------------------------------------------------------------------------------------
def _settings(data_dir, split, detector, weights, frames, frames_dir, size, margin, min_confidence, rule="checked",
              min_face=0) -> dict:
    """What a finished build depends on (compared with the ``settings`` of an existing ``summary.json``)."""
    return {"format": _FORMAT, "data_dir": str(Path(data_dir).expanduser().resolve()), "split": split,
            "detector": detector, "weights": None if weights is None else str(Path(weights).expanduser().resolve()),
            "frames": frames, "frames_dir": None if frames_dir is None else str(Path(frames_dir).expanduser()
                                                                                 .resolve()),
            "size": int(size), "margin": float(margin), "min_confidence": float(min_confidence), "square": True,
            "rule": rule if detector == "mtcnn" else None, "min_face": int(min_face)}


def _previous(summary_path: Path, csv_path: Path, settings: dict) -> dict | None:
    """The stored summary of a finished build with the same settings, else None."""
    if not (summary_path.is_file() and csv_path.is_file()):
        return None
    try:
        stored = json.loads(summary_path.read_text())
    except (OSError, ValueError):
        return None
    return stored if isinstance(stored, dict) and stored.get("settings") == settings else None


def _frames_root(paths: np.ndarray) -> Path:
    """The folder holding one sub-folder of frames per video (``.../<video>/00001.jpg``)."""
    roots = {os.path.dirname(os.path.dirname(p)) for p in paths}
    return Path(roots.pop() if len(roots) == 1 else os.path.commonpath(sorted(roots)))


def build(
    data_dir,
    out_dir,
    split: str = "train",
    detector: str = "mtcnn",
    weights=None,
    frames: str = "auto",
    frames_dir=None,
    size: int = 128,
    margin: float = 0.2,
    min_confidence: float = 0.0,
    log: Callable[[str], None] | None = print,
    *,
    progress_every: int = 1000,
    rule: str = "checked",
    min_face: int = 0,
) -> dict:
    """Build the GANmut training CSV of one Aff-Wild2 split (paper 002 V, "Building the CSV training file").

    ``data_dir``, ``split``, ``frames``, ``frames_dir``: as :func:`affwild2.scan` (``frames="extracted"`` with
    ``frames_dir`` for frames already on disk at ``frames_dir/<video>/00001.jpg``). Labels are remapped to
    GANmut's 7 AffectNet classes; frames labelled -1 or "Other", and missing frames, are counted and never reach
    the detector. ``detector``: ``"mtcnn"``, ``"retinaface"`` (``weights``: path to ``retinaface.h5``) or
    ``"none"`` (no detection: the largest centred square of each frame, for ``cropped_aligned`` frames, which are
    already face crops). The highest-confidence face is cut with ``margin`` (square) and resized to ``size``;
    faces below ``min_confidence`` or with a box side under ``min_face`` pixels are skipped and counted; ``rule``
    says which MTCNN box is a face (:mod:`detect`); doubtful crops are kept and listed apart
    (:func:`detect.crop_folder`: ``suspicious``, ``suspicious.csv``).

    Writes the crops under ``<out_dir>/<split>/<video>/<frame>.jpg``, ``<out_dir>/<split>/crops.csv``
    (:data:`detect.CSV_COLUMNS` + ``expression``) and, last, ``<out_dir>/<split>/summary.json``. When that
    ``summary.json`` exists with the same settings the build is finished: it is reused and returned (``"reused":
    True``) without reading a frame. Returns the summary: ``settings``, ``csv``, ``annotated`` (labelled frames
    scanned), ``kept`` (crops), ``per_class``, ``skipped`` (``label`` reasons from the scan, ``detection``
    reasons from the detector), ``errors``, ``detector``, ``seconds``.
    """
    try:
        split = affwild2._SPLIT_ALIASES[str(split).lower()]
    except KeyError:
        raise ValueError(f"Aff-Wild2 split must be 'train' or 'validation', got {split!r}") from None
    name = str(detector).strip().lower().replace("-", "").replace("_", "")
    if name != NO_DETECTOR and name not in detect.DETECTORS:
        raise ValueError(f"detector must be one of {', '.join(detect.DETECTORS + (NO_DETECTOR,))}, got "
                         f"{detector!r}")
    if name == NO_DETECTOR and weights is not None:
        raise ValueError("detector='none' uses no weights; pass weights= only with 'retinaface'")
    say = log or (lambda message: None)
    dst = Path(out_dir).expanduser() / split
    csv_path, summary_path = dst / detect.CROPS_CSV, dst / SUMMARY_JSON
    settings = _settings(data_dir, split, name, weights, frames, frames_dir, size, margin, min_confidence, rule,
                         min_face)
    stored = _previous(summary_path, csv_path, settings)
    if stored is not None:
        say(f"crops.build: reusing the finished build in {dst} ({stored['kept']} crops, same settings; delete "
            f"{summary_path} to rebuild)")
        return {**stored, "reused": True}
    if summary_path.exists():
        say(f"crops.build: {summary_path} was made with other settings; rebuilding")
        summary_path.unlink()  # a build interrupted from here on must not look finished

    start = time.monotonic()
    say(f"crops.build: scanning Aff-Wild2 {split} in {data_dir} (labels remapped to GANmut's 7 classes)")
    # check="header": a truncated frame is caught (and counted as unreadable) when crop_folder decodes it.
    frames_scan = affwild2.scan(data_dir, split, labels="expr", remap_to="ganmut", frames=frames,
                                frames_dir=frames_dir, check="header")
    scanned = time.monotonic()
    n_videos = len(set(frames_scan.labels["video"].tolist()))
    if not len(frames_scan):
        raise ValueError(f"Aff-Wild2 {split} in {data_dir}: no labelled frame left to crop (skipped: "
                         f"{frames_scan.summary.skipped or 'nothing'}). Check that the frames are where "
                         f"frames={frames!r} looks for them and that the annotation files label some frames 0-6.")

    src = _frames_root(frames_scan.paths)
    table, summary_of_scan = {}, frames_scan.summary
    for path, k in zip(frames_scan.paths, frames_scan.labels["expression"]):
        rel = Path(path).relative_to(src).as_posix()
        if rel in table:  # <video>_left / _right: two annotated people, one whole frame, one highest-confidence face
            summary_of_scan.skip("frame also annotated for the other person of the video (_left/_right; first "
                                 "label kept)", rel)
            continue
        table[rel] = {"expression": int(k)}
    label_skips = dict(summary_of_scan.skipped)
    say(f"crops.build: {len(table)} labelled frames of {n_videos} videos to crop; skipped before detection: "
        + (", ".join(f"{k} {v}" for k, v in label_skips.items()) or "none") + f" ({scanned - start:.1f} s)")
    face_detector = WholeImage() if name == NO_DETECTOR else name
    result = detect.crop_folder(src, dst, detector=face_detector, weights=weights, margin=margin, size=size,
                                square=True, labels=table, label_column="expression", min_confidence=min_confidence,
                                progress_every=progress_every, log=log, files=list(table), rule=rule,
                                min_face=min_face)
    kept_labels = _csv_labels(csv_path)
    classes, counts = np.unique(kept_labels, return_counts=True)
    summary = {
        "settings": settings,
        "csv": str(csv_path),
        "frames_root": str(src),
        "annotated": int(len(table)),
        "kept": int(result["kept"]),
        "per_class": {VOCABULARY.names[int(k)]: int(c) for k, c in zip(classes, counts)},
        "skipped": {"label": label_skips, "detection": {k: v for k, v in result["skipped"].items() if v}},
        "detection_rate": round(result["kept"] / max(1, result["total"]), 4),
        **_doubt_fields(result),
        "errors": result["errors"],
        "detector": result["detector"],
        "seconds": {"scan": round(scanned - start, 3), "crop": result["seconds"],
                    "total": round(time.monotonic() - start, 3)},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    partial = summary_path.with_suffix(".json.partial")
    partial.write_text(json.dumps(summary, indent=2) + "\n")
    os.replace(partial, summary_path)
    doubts = ", ".join(f"{r} {n}" for r, n in summary["suspicious"].items())
    say(f"crops.build: {summary['kept']}/{summary['annotated']} frames cropped ({100 * summary['detection_rate']:.1f}%)"
        f", {summary['clean']} clean" + (f", doubtful: {doubts}" if doubts else "")
        + f" -> {csv_path} ({summary['seconds']['total']:.1f} s)")
    return {**summary, "reused": False}


def _doubt_fields(result: dict) -> dict:
    """The detection rule and the doubtful crops of a :func:`detect.crop_folder` result, for a build's summary."""
    return {k: result[k] for k in ("rule", "clean", "suspicious", "suspicious_examples")}


def detection_note(built: dict, detector: str) -> str:
    """One line for a run's notes: the detector, which box it kept as the face, and the doubtful crops of every
    split in ``built`` ({split: :func:`build` summary})."""
    first = next(iter(built.values()))   # every split is built with the same settings
    rule = first["rule"]
    how = {"checked": "the checked rule (every MTCNN candidate checked against its five landmarks, a box lying "
                      "inside a larger face dropped)",
           "plain": "the plain rule (the mtcnn package's output as published, as paper V compared the detectors)",
           None: "its most confident face (paper V.C)"}[rule]
    parts = []
    for split, b in built.items():
        doubts = ", ".join(f"{r} {n}" for r, n in b["suspicious"].items())
        parts.append(f"{split} {b['kept']} crops, {b['clean']} clean"
                     + (f", doubtful: {doubts}" if doubts else ""))
    min_face = first["settings"]["min_face"]
    return (f"Face crops: {detector} keeping {how}" + (f", boxes under {min_face} px skipped" if min_face else "")
            + f"; {'; '.join(parts)} (doubtful crops are kept and listed in each split's suspicious.csv).")


def _csv_labels(csv_path: Path) -> np.ndarray:
    table = pipeline.read_csv(csv_path, "GANmut crops", "")
    return pipeline.to_numbers(table.columns["expression"]).astype(np.int64)


# --------------------------------------------------------------------------------------------------------------
# load
# --------------------------------------------------------------------------------------------------------------
def _hint(csv_path: Path) -> str:
    return (f"Expected a GANmut crops CSV with a header holding at least {', '.join(REQUIRED_COLUMNS)} (image path "
            f"relative to {csv_path.parent}, or absolute; expression 0-6 in AffectNet order: "
            f"{', '.join(f'{i} {n}' for i, n in enumerate(VOCABULARY.names))}). Rebuild it with "
            f"tfgan_emotion.data.crops.build.")


def scan(csv_path, *, check: str = "decode") -> Scan:
    """Index ``crops.csv``: validate the header and every label, check the images; see :func:`load`."""
    csv_path = Path(csv_path).expanduser()
    hint = _hint(csv_path)
    table = pipeline.read_csv(csv_path, "GANmut crops", hint)
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"GANmut crops: {csv_path} line 1 (header) lacks column(s) {', '.join(missing)}; found "
                         f"{', '.join(table.header)}. {hint}")
    summary = ReadSummary(NAME, None, str(csv_path))
    table.count_bad(summary)
    lines = table.lines
    raw = table.columns["expression"]
    values = pipeline.to_numbers(raw)
    bad = ~np.isfinite(values) | (values != np.round(values)) | (values < 0) | (values >= len(VOCABULARY))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"GANmut crops: {csv_path} line {lines[i]}: expression {raw[i]!r} is not a class 0-"
                         f"{len(VOCABULARY) - 1} ({int(bad.sum())} such row(s)). Correct or delete the row(s), or "
                         f"rebuild the CSV with tfgan_emotion.data.crops.build. {hint}")
    expression = values.astype(np.int64)
    relative = table.columns["path"]
    rows = RowFilter(summary, pipeline.line_locations(csv_path, lines))
    rows.drop(relative == "", "empty image path")
    keep = np.flatnonzero(rows.keep)
    guard = pipeline.PathGuard(csv_path.parent, csv_path)
    paths = np.array([relative[i] if os.path.isabs(relative[i]) else guard(relative[i], f"line {lines[i]}")
                      for i in keep], dtype=object)
    where = np.array([f"{csv_path.name} line {lines[i]}: {relative[i]}" for i in keep], dtype=object)
    checked = pipeline.check_images(paths, summary, locations=where, level=check)
    keep, paths = keep[checked.ok], paths[checked.ok]
    boxes = pipeline.whole_image_boxes(checked.width[checked.ok], checked.height[checked.ok])
    summary.kept = int(len(keep))
    return Scan(summary, {"expression": expression[keep].astype(np.int32)},
                paths=paths.astype(str).reshape(-1), boxes=boxes)


def load(csv_path, image_size=128, channels: int = 3, shuffle_files: bool = False, seed: int | None = None,
         verbose: bool = True, *, check: str = "decode"):
    """``crops.csv`` (from :func:`build`, or any CSV with ``path`` and ``expression`` columns) as unbatched dicts
    ``{"image": float32 [image_size, image_size, channels] in [-1, 1], "expression": int32 0-6}`` and the
    :class:`pipeline.ReadSummary`.

    Relative paths are read below the CSV's folder (a path leaving it is refused), absolute paths as they are. A
    missing CSV, a missing ``path``/``expression`` column or an expression that is not a class 0-6 is an error
    naming the file and line; an image that is missing, not JPEG/PNG or corrupt is skipped and counted.
    """
    result = scan(csv_path, check=check)
    return pipeline.finish(result, image_size, channels, shuffle_files=shuffle_files, seed=seed, verbose=verbose)


# --------------------------------------------------------------------------------------------------------------
# AffectNet through the face detector (paper 002 V.D)
# --------------------------------------------------------------------------------------------------------------
AFFECTNET_RETINAFACE_THRESHOLD = 0.1   # paper 002 V.D: lowered from the package's 0.9 to 0.4, then 0.1


def _images_root(paths) -> Path:
    """The deepest folder holding every one of ``paths``."""
    folders = sorted({os.path.dirname(str(p)) for p in paths})
    return Path(folders[0] if len(folders) == 1 else os.path.commonpath(folders))


def build_affectnet(
    affectnet_dir,
    out_dir,
    split: str = "train",
    detector: str = "mtcnn",
    weights=None,
    size: int = 128,
    margin: float = 0.2,
    min_confidence: float = 0.0,
    threshold: float = AFFECTNET_RETINAFACE_THRESHOLD,
    log: Callable[[str], None] | None = print,
    *,
    progress_every: int = 1000,
) -> dict:
    """AffectNet's images of GANmut's classes 0-6 through the face detector, as paper 002 V.D prepared the
    "Combined" set: every image as it is stored (the cropped release's pre-cropped faces, or the original
    release's whole images; the annotation box is not used) goes to ``detector`` (``"mtcnn"``, ``"retinaface"``
    with ``weights`` and its confidence ``threshold``, default 0.1 as the paper's final setting, or ``"none"``:
    the largest centred square), the most confident face is cut with ``margin`` and resized to ``size``; images
    without a face (the paper detected about half of them with RetinaFace) are skipped and counted.

    Writes the crops, ``crops.csv`` (:data:`detect.CSV_COLUMNS` + ``expression``, GANmut order) and, last,
    ``summary.json`` under ``out_dir``; a finished build with the same settings is reused (``"reused": True``).
    Returns the summary: ``settings``, ``csv``, ``images`` (AffectNet rows of classes 0-6 with a readable image),
    ``kept``, ``per_class``, ``skipped`` (``label``: the reader's reasons, ``detection``), ``detection_rate``,
    ``errors``, ``detector``, ``seconds``."""
    name = str(detector).strip().lower().replace("-", "").replace("_", "")
    if name != NO_DETECTOR and name not in detect.DETECTORS:
        raise ValueError(f"detector must be one of {', '.join(detect.DETECTORS + (NO_DETECTOR,))}, got "
                         f"{detector!r}")
    say = log or (lambda message: None)
    dst = Path(out_dir).expanduser()
    csv_path, summary_path = dst / detect.CROPS_CSV, dst / SUMMARY_JSON
    settings = {"format": _FORMAT, "affectnet_dir": str(Path(affectnet_dir).expanduser().resolve()),
                "split": str(split), "detector": name,
                "weights": None if weights is None else str(Path(weights).expanduser().resolve()),
                "threshold": float(threshold) if name == "retinaface" else None, "size": int(size),
                "margin": float(margin), "min_confidence": float(min_confidence), "square": True}
    stored = _previous(summary_path, csv_path, settings)
    if stored is not None:
        say(f"crops.build_affectnet: reusing the finished build in {dst} ({stored['kept']} crops, same settings; "
            f"delete {summary_path} to rebuild)")
        return {**stored, "reused": True}
    if summary_path.exists():
        summary_path.unlink()

    start = time.monotonic()
    say(f"crops.build_affectnet: scanning AffectNet {split} in {affectnet_dir} (classes 0-6)")
    net = affectnet.scan(affectnet_dir, split, classes=range(len(VOCABULARY)), drop_invalid_va=False,
                         check="header")
    if not len(net):
        raise ValueError(f"AffectNet {split} in {affectnet_dir}: no image of classes 0-6 to crop (skipped: "
                         f"{net.summary.skipped or 'nothing'})")
    src = _images_root(net.paths)
    table = {Path(p).relative_to(src).as_posix(): {"expression": int(k)}
             for p, k in zip(net.paths, net.labels["expression"])}
    if name == NO_DETECTOR:
        face_detector = WholeImage()
    elif name == "retinaface":
        face_detector = detect.make_detector(name, weights, threshold=float(threshold))
    else:
        face_detector = detect.make_detector(name, weights)
    result = detect.crop_folder(src, dst, detector=face_detector, margin=margin, size=size, square=True,
                                labels=table, label_column="expression", min_confidence=min_confidence,
                                progress_every=progress_every, log=log, files=list(table))
    classes, counts = np.unique(_csv_labels(csv_path), return_counts=True)
    summary = {
        "settings": settings,
        "csv": str(csv_path),
        "images_root": str(src),
        "images": int(len(table)),
        "kept": int(result["kept"]),
        "per_class": {VOCABULARY.names[int(k)]: int(c) for k, c in zip(classes, counts)},
        "skipped": {"label": dict(net.summary.skipped),
                    "detection": {k: v for k, v in result["skipped"].items() if v}},
        "detection_rate": round(result["kept"] / max(1, result["total"]), 4),
        **_doubt_fields(result),
        "errors": result["errors"],
        "detector": result["detector"],
        "seconds": {"crop": result["seconds"], "total": round(time.monotonic() - start, 3)},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    partial = summary_path.with_suffix(".json.partial")
    partial.write_text(json.dumps(summary, indent=2) + "\n")
    os.replace(partial, summary_path)
    say(f"crops.build_affectnet: {summary['kept']}/{summary['images']} AffectNet images with a face "
        f"({100 * summary['detection_rate']:.1f}%) -> {csv_path} ({summary['seconds']['total']:.1f} s)")
    return {**summary, "reused": False}


# --------------------------------------------------------------------------------------------------------------
# combined
# --------------------------------------------------------------------------------------------------------------
SOURCES = ("affwild2", "affectnet")


def combined_scan(affwild2_csv, affectnet_source, *, check: str = "decode") -> Scan:
    """The :class:`pipeline.Scan` of :func:`combined` (labels ``expression`` and ``source``), before any pixel is
    read: ``affectnet_source`` is the AffectNet root (its training images cut to their annotation boxes) or the
    ``crops.csv`` of :func:`build_affectnet` (the detected faces)."""
    crops = scan(affwild2_csv, check=check)
    if Path(affectnet_source).expanduser().is_file():
        net = scan(affectnet_source, check=check)
    else:
        net = affectnet.scan(affectnet_source, "train", classes=range(len(VOCABULARY)), drop_invalid_va=False,
                             check=check)
    summary = ReadSummary("ganmut_combined", "train", f"{crops.summary.source} + {net.summary.source}")
    for part, name in ((crops, "Aff-Wild2 crops"), (net, "AffectNet")):
        for reason, n in part.summary.skipped.items():
            summary.skip(f"{name}: {reason}", count=n)
            summary.where[f"{name}: {reason}"] = list(part.summary.where.get(reason, []))
        for reason, n in part.summary.notes.items():
            summary.note(f"{name}: {reason}", count=n)
            summary.where[f"{name}: {reason}"] = list(part.summary.where.get(reason, []))
        summary.note(f"from {name}", count=len(part))
    paths = np.concatenate([crops.paths, net.paths]).astype(str)
    boxes = np.concatenate([crops.boxes.reshape(-1, 4), net.boxes.reshape(-1, 4)]).astype(np.int64)
    labels = {"expression": np.concatenate([crops.labels["expression"], net.labels["expression"]]).astype(np.int32),
              "source": np.repeat(np.arange(2, dtype=np.int32), [len(crops), len(net)])}
    summary.kept = int(len(paths))
    return Scan(summary, labels, paths=paths, boxes=boxes)


def combined(affwild2_csv, affectnet_dir, image_size=128, channels: int = 3, seed: int = 0, *,
             verbose: bool = True, check: str = "decode"):
    """Paper 002 V.C "Combined": the Aff-Wild2 crops of ``affwild2_csv`` (:func:`build`) plus the AffectNet
    training images of GANmut's classes 0-6 (contempt and the none / uncertain / no-face classes dropped and
    counted; valence/arousal are not used, so -2 values do not drop a row). ``affectnet_dir``: the AffectNet root,
    either release (:func:`affectnet.scan`; the original release is cut to its face boxes, the cropped release's
    images are used whole), or the ``crops.csv`` of :func:`build_affectnet` (the faces the detector found, paper
    002 V.D).

    Returns the unbatched dicts ``{"image", "expression" (0-6, AffectNet order), "source" (0 Aff-Wild2,
    1 AffectNet)}``, the file list shuffled together every epoch (``seed``), and one :class:`pipeline.ReadSummary`
    whose skip reasons are prefixed by the source and whose notes count the examples from each source.
    """
    result = combined_scan(affwild2_csv, affectnet_dir, check=check)
    return pipeline.finish(result, image_size, channels, shuffle_files=True, seed=seed, verbose=verbose)


def class_counts(labels, vocabulary=VOCABULARY) -> dict:
    """{class name: count} of integer ``labels``, every class of ``vocabulary`` listed (0 when absent)."""
    counts = np.bincount(np.asarray(labels, np.int64).reshape(-1), minlength=len(vocabulary))
    return {vocabulary.names[k]: int(counts[k]) for k in range(len(vocabulary))}


def crop_examples(summary: dict, n: int = 4) -> list:
    """Up to ``n`` crops of a :func:`build` summary spread over its ``crops.csv``, each as (source frame path,
    crop window (x0, y0, x1, y1) in frame pixels, crop path), for a figure of what the detector cut."""
    csv_path = Path(summary["csv"])
    table = pipeline.read_csv(csv_path, "GANmut crops", "")
    rows = len(table.columns["path"])
    picks = np.unique(np.linspace(0, rows - 1, min(n, rows)).astype(int)) if rows else []
    root = Path(summary.get("frames_root", ""))
    out = []
    for i in picks:
        window = tuple(int(float(table.columns[f"crop_{k}"][i])) for k in ("x0", "y0", "x1", "y1"))
        frame, crop = root / table.columns["source"][i], csv_path.parent / table.columns["path"][i]
        if frame.is_file() and crop.is_file():
            out.append((str(frame), window, str(crop)))
    return out


# --------------------------------------------------------------------------------------------------------------
# The emotion classifiers' set (paper 002 VI.A)
# --------------------------------------------------------------------------------------------------------------
def labelled_scan(source, split: str = "train", *, check: str = "header") -> Scan:
    """A labelled face set in GANmut's 7 classes: an AffectNet root (either release, :func:`affectnet.scan`,
    classes 0-6, valence/arousal not used; ``split`` "train" or "validation") or a CSV with ``path`` and
    ``expression`` (GANmut order, read as :func:`load`; it has no validation split: ``FileNotFoundError``).
    ``check`` "header" by default (a file that does not decode is dropped by the tf.data guard instead)."""
    path = Path(source).expanduser()
    if path.is_file():
        if split != "train":
            raise FileNotFoundError(f"{path} is one CSV: it has no {split} split")
        return scan(path, check=check)
    return affectnet.scan(path, split, classes=range(len(VOCABULARY)), drop_invalid_va=False, check=check)


def balanced_indices(labels, total: int, seed: int = 0) -> np.ndarray:
    """Indices of a class-balanced subset of ``labels`` (paper 002 VI.A trains its classifiers on "balanced
    emotional categories"; how it balanced is not said, ours): every class present contributes the same number of
    examples, the smallest class's count but at most ``total // classes``, drawn without replacement (seeded), in
    a seeded random order."""
    labels = np.asarray(labels).reshape(-1)
    classes, counts = np.unique(labels, return_counts=True)
    if not len(classes):
        return np.zeros(0, np.int64)
    per_class = int(min(counts.min(), max(1, int(total) // len(classes))))
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0xBA1])
    picked = np.concatenate([rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in classes])
    return rng.permutation(picked).astype(np.int64)
