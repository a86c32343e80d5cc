"""Aff-Wild2 reader (SPECS.md "Dataset formats", Aff-Wild2; SPECS "GANmut" Data (code): frames from videos with
ffmpeg, per-frame labels).

Annotations: ``EXPR_Classification_Challenge/{Train_Set,Validation_Set}/<video>.txt`` whose first line is the header
``Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise,Other`` and every further line the label of one frame
(-1 = ignore); ``VA_Estimation_Challenge/{Train_Set,Validation_Set}/<video>.txt`` with the header
``valence,arousal`` and one ``v,a`` line per frame (-5 = ignore). The annotation folders are looked for up to three
levels below ``data_dir`` (the ABAW archives nest them, e.g. ``Third ABAW Annotations/``); other challenge names
(``EXPR_Recognition_Challenge``, ``EXPR_Set`` / ``VA_Set``, ``Training_Set``) are accepted too.

Frames: line ``i`` (1-based, after the header) is frame ``cropped_aligned/<video>/0000i.jpg`` (5 digits); missing
frames are counted. Without ``cropped_aligned/``, ``frames="ffmpeg"`` extracts every frame of
``<video>.mp4|avi|mkv|mov`` (a ``_left``/``_right`` annotation uses the video without the suffix) at the video's own
frame rate into ``frames_dir``; those are whole frames, not face crops (face boxes: ``tfgan_emotion.data.detect``).
``frames="extracted"`` reads whole frames that are already on disk at ``frames_dir/<video>/00001.jpg`` (the layout the
ffmpeg path writes, and that of the usual ``ffmpeg -i <video> frames/<video>/%05d.jpg`` extraction; paper 002 V,
"Building the CSV training file": frames "stored in dedicated folders"); a ``_left``/``_right`` annotation falls back
to the folder without the suffix.

Examples carry ``image`` and, by ``labels``: ``"expr"`` -> ``expression`` (Aff-Wild2 order, or AffectNet order with
``remap_to="affectnet"``: :func:`labels.remap`, "Other" dropped and counted), ``"va"`` -> ``valence``, ``arousal``;
``"both"`` -> all three, on frames valid in both. ``video`` is the index of the video in the sorted video list.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from tfgan_emotion.data import labels as label_sets
from tfgan_emotion.data import pipeline
from tfgan_emotion.data.pipeline import ReadSummary, RowFilter, Scan

NAME = "affwild2"
VOCABULARY = label_sets.AFFWILD2
SPLITS = ("train", "validation")
EXPR_DIRS = ("EXPR_Classification_Challenge", "EXPR_Recognition_Challenge", "EXPR_Set")
VA_DIRS = ("VA_Estimation_Challenge", "VA_Set")
SPLIT_DIRS = {"train": ("Train_Set", "Training_Set"), "validation": ("Validation_Set",)}
FRAMES_DIR = "cropped_aligned"
FRAME_SOURCES = ("auto", "cropped_aligned", "ffmpeg", "extracted")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov")
EXPR_IGNORE = -1
UNPARSABLE = -2
MISSING_FRAME = "missing frame"
VA_IGNORE = -5.0
DEFAULT_FRAMES_CACHE = Path("~/.cache/tfgan_emotion/affwild2_frames")
_SPLIT_ALIASES = {"train": "train", "training": "train", "validation": "validation", "val": "validation"}


# Folders holding one sub-folder or file per frame or video: never searched for annotations (millions of files).
_NOT_SEARCHED = {FRAMES_DIR, "cropped", "frames", "videos", "batch1", "batch2", "new_vids"}


def _find_dir(root: Path, names: tuple[str, ...], depth: int = 3) -> Path | None:
    """First folder named one of ``names`` at most ``depth`` levels below ``root`` (breadth first)."""
    level = [root]
    for _ in range(depth + 1):
        for folder in level:
            for name in names:
                if (folder / name).is_dir():
                    return folder / name
        level = [Path(d.path) for f in level for d in sorted(os.scandir(f), key=lambda e: e.name)
                 if d.is_dir() and not d.name.startswith(".") and d.name not in _NOT_SEARCHED]
    return None


def _split_dir(challenge: Path, split: str) -> Path:
    for name in SPLIT_DIRS[split]:
        if (challenge / name).is_dir():
            return challenge / name
    raise FileNotFoundError(f"Aff-Wild2: {challenge} has no {' or '.join(SPLIT_DIRS[split])} folder for split "
                            f"{split!r}. Check that the annotation archive is fully extracted.")


def _read_expr(path: Path, summary: ReadSummary) -> np.ndarray:
    """Per-frame labels of one EXPR file (``EXPR_IGNORE`` kept; an unparsable line becomes ``UNPARSABLE``,
    counted here)."""
    lines = path.read_text(errors="replace").splitlines()
    header = [h.strip().lower() for h in lines[0].split(",")] if lines else []
    if header != [n.lower() for n in VOCABULARY.names]:
        raise ValueError(f"Aff-Wild2: {path} line 1 is {lines[0] if lines else '(empty file)'!r}; an EXPR file "
                         f"starts with the header {','.join(VOCABULARY.names)}. Use the official annotation file.")
    values = np.full(len(lines) - 1, UNPARSABLE, dtype=np.int64)
    for i, line in enumerate(lines[1:]):
        text = line.strip()
        try:
            values[i] = int(text)
        except ValueError:
            summary.skip("unparsable label line", f"{path.name} line {i + 2}")
    return values


def _read_va(path: Path, summary: ReadSummary) -> np.ndarray:
    """[frames, 2] valence/arousal of one VA file (NaN where a line does not parse, counted)."""
    lines = path.read_text(errors="replace").splitlines()
    header = [h.strip().lower() for h in lines[0].split(",")] if lines else []
    if header != ["valence", "arousal"]:
        raise ValueError(f"Aff-Wild2: {path} line 1 is {lines[0] if lines else '(empty file)'!r}; a VA file starts "
                         f"with the header valence,arousal. Use the official annotation file.")
    values = np.full((len(lines) - 1, 2), np.nan, dtype=np.float64)
    for i, line in enumerate(lines[1:]):
        parts = line.split(",")
        try:
            if len(parts) != 2:
                raise ValueError
            values[i] = [float(parts[0]), float(parts[1])]
        except ValueError:
            summary.skip("unparsable label line", f"{path.name} line {i + 2}")
    return values


def _annotation_files(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.glob("*.txt"), key=lambda p: pipeline.natural_key(p.name))}


def _video_files(root: Path) -> dict[str, Path]:
    videos = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in (FRAMES_DIR, "cropped") and not d.startswith("."))
        for name in sorted(files):
            if name.lower().endswith(VIDEO_EXTENSIONS):
                videos.setdefault(os.path.splitext(name)[0], Path(folder) / name)
    return videos


def require_ffmpeg() -> str:
    """Path of the ffmpeg executable, or a RuntimeError saying what to do."""
    found = shutil.which("ffmpeg")
    if found is None:
        raise RuntimeError(
            "Aff-Wild2: reading frames from the videos needs the ffmpeg program, which is not on PATH. Install "
            "ffmpeg (e.g. 'apt-get install ffmpeg' or 'conda install -c conda-forge ffmpeg'), or use the "
            "cropped_aligned/ frames released with Aff-Wild2: extract them under data_dir (frames='cropped_aligned')."
        )
    return found


def extract_frames(video: Path, out_dir: Path) -> Path:
    """Every frame of ``video`` as ``out_dir/00001.jpg ...`` at the video's own frame rate (``-fps_mode
    passthrough``, or ``-vsync 0`` on ffmpeg older than 5.1: each decoded frame written once, none duplicated or
    dropped). Reuses a finished extraction."""
    done = out_dir / ".complete"
    if done.is_file():
        return out_dir
    ffmpeg = require_ffmpeg()
    partial = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for sync in (["-fps_mode", "passthrough"], ["-vsync", "0"]):
        command = [ffmpeg, "-nostdin", "-loglevel", "error", "-i", str(video), *sync, "-start_number", "1",
                   "-q:v", "2", str(partial / "%05d.jpg")]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode == 0 or "fps_mode" not in result.stderr:
            break
    if result.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise RuntimeError(f"Aff-Wild2: ffmpeg failed on {video} (exit {result.returncode}): "
                           f"{result.stderr.strip()[-500:]}. Check the video file or use cropped_aligned/ frames.")
    (partial / ".complete").write_text(" ".join(command))
    shutil.rmtree(out_dir, ignore_errors=True)
    partial.rename(out_dir)
    return out_dir


def _video_for(stem: str, videos: dict[str, Path]) -> Path | None:
    if stem in videos:
        return videos[stem]
    for suffix in ("_left", "_right"):
        if stem.endswith(suffix) and stem[: -len(suffix)] in videos:
            return videos[stem[: -len(suffix)]]
    return None


def scan(
    data_dir: str | Path,
    split: str = "train",
    *,
    labels: str = "expr",
    remap_to: str | None = None,
    frames: str = "auto",
    frames_dir: str | Path | None = None,
    check: str = "decode",
) -> Scan:
    """Index the annotated frames of one split; see :func:`load`."""
    try:
        split = _SPLIT_ALIASES[str(split).lower()]
    except KeyError:
        raise ValueError(f"Aff-Wild2 split must be 'train' or 'validation', got {split!r}") from None
    if labels not in ("expr", "va", "both"):
        raise ValueError(f"labels must be 'expr', 'va' or 'both', got {labels!r}")
    if frames not in FRAME_SOURCES:
        raise ValueError(f"frames must be one of {', '.join(repr(f) for f in FRAME_SOURCES)}, got {frames!r}")
    extracted_root = None
    if frames == "extracted":
        if frames_dir is None:
            raise ValueError("Aff-Wild2: frames='extracted' reads frames already extracted at "
                             "frames_dir/<video>/00001.jpg; pass frames_dir= (the folder holding one sub-folder per "
                             "video), or use frames='ffmpeg' to extract them from the videos.")
        extracted_root = Path(frames_dir).expanduser()
        if not extracted_root.is_dir():
            raise FileNotFoundError(f"Aff-Wild2: frames_dir {extracted_root} does not exist (frames='extracted' "
                                    f"expects <frames_dir>/<video>/00001.jpg ...). Point frames_dir at the folder "
                                    f"holding one sub-folder of frames per video, or use frames='ffmpeg' to "
                                    f"extract them from the videos.")
    table = None
    if remap_to is not None:
        table = label_sets.remap(VOCABULARY, label_sets.vocabulary(remap_to))
    root = pipeline.require_dir(data_dir, "Aff-Wild2", "Point data_dir at the folder holding the annotations and "
                                                       "cropped_aligned/ (or the videos).")
    summary = ReadSummary(NAME, split, str(root))

    expr_files = va_files = None
    if labels in ("expr", "both"):
        expr_dir = _find_dir(root, EXPR_DIRS)
        if expr_dir is None:
            raise FileNotFoundError(f"Aff-Wild2: no {' / '.join(EXPR_DIRS)} folder under {root}. Extract the "
                                    f"expression annotations there, or read valence/arousal with labels='va'.")
        expr_files = _annotation_files(_split_dir(expr_dir, split))
    if labels in ("va", "both"):
        va_dir = _find_dir(root, VA_DIRS)
        if va_dir is None:
            raise FileNotFoundError(f"Aff-Wild2: no {' / '.join(VA_DIRS)} folder under {root}. Extract the "
                                    f"valence/arousal annotations there, or read expressions with labels='expr'.")
        va_files = _annotation_files(_split_dir(va_dir, split))
    if expr_files is not None and va_files is not None:
        for stem in sorted(set(expr_files) ^ set(va_files)):
            summary.skip("video annotated for one task only (labels='both')", stem)
        names = sorted(set(expr_files) & set(va_files), key=pipeline.natural_key)
    else:
        names = list(expr_files if expr_files is not None else va_files)

    frames_root = extracted_root if extracted_root is not None else _find_dir(root, (FRAMES_DIR,), depth=2)
    use_ffmpeg = frames == "ffmpeg" or (frames == "auto" and frames_root is None)
    if extracted_root is not None:
        summary.note("whole video frames from frames_dir (no face crop)")
    if frames == "cropped_aligned" and frames_root is None:
        raise FileNotFoundError(f"Aff-Wild2: no {FRAMES_DIR}/ folder under {root}. Extract the cropped_aligned "
                                f"frames there, or use frames='ffmpeg' with the videos.")
    videos: dict[str, Path] = {}
    if use_ffmpeg:
        require_ffmpeg()
        videos = _video_files(root)
        if not videos:
            raise FileNotFoundError(f"Aff-Wild2: no {FRAMES_DIR}/ folder and no videos "
                                    f"({', '.join(VIDEO_EXTENSIONS)}) under {root}. Extract either there.")
        frames_root = Path(frames_dir or DEFAULT_FRAMES_CACHE).expanduser()
        summary.note("whole video frames from ffmpeg (no face crop)")

    paths, where, columns = [], [], {"expression": [], "valence": [], "arousal": [], "video": []}
    for video_index, stem in enumerate(names):
        expr = _read_expr(expr_files[stem], summary) if expr_files is not None else None
        va = _read_va(va_files[stem], summary) if va_files is not None else None
        n = max(len(expr) if expr is not None else 0, len(va) if va is not None else 0)
        if expr is not None and va is not None and len(expr) != len(va):
            summary.note("EXPR and VA files of different length (shorter one padded as ignore)", stem)
        if expr is not None and len(expr) < n:
            expr = np.concatenate([expr, np.full(n - len(expr), EXPR_IGNORE)])
        if va is not None and len(va) < n:
            va = np.concatenate([va, np.full((n - len(va), 2), VA_IGNORE)])
        source = (expr_files or va_files)[stem].name
        rows = RowFilter(summary, np.array([f"{source} line {i + 2}" for i in range(n)], dtype=object))
        expression = None
        if expr is not None:
            rows.keep &= expr != UNPARSABLE  # already counted by _read_expr
            rows.drop(expr == EXPR_IGNORE, "expression -1 (ignore)")
            rows.drop((expr < 0) | (expr >= len(VOCABULARY)), "expression outside 0-7")
            expression = np.clip(expr, 0, len(VOCABULARY) - 1)
            if table is not None:
                mapped = table[expression]
                for k in np.unique(expression[rows.keep & (mapped < 0)]):
                    rows.drop(expression == k, f"{VOCABULARY.names[k]} (no {remap_to} class)")
                expression = mapped
        if va is not None:
            finite = np.isfinite(va).all(axis=1)
            rows.keep &= finite  # already counted by _read_va
            rows.drop((va == VA_IGNORE).any(axis=1), "valence/arousal -5 (ignore)")
            rows.drop(((va < -1) | (va > 1)).any(axis=1), "valence/arousal outside [-1, 1]")
        keep = np.flatnonzero(rows.keep)
        if not len(keep):
            continue
        if use_ffmpeg:
            video = _video_for(stem, videos)
            if video is None:
                summary.skip(f"{MISSING_FRAME} (no video file)", stem, count=len(keep))
                continue
            folder = extract_frames(video, frames_root / video.stem)
        else:
            folder = frames_root / stem
            if extracted_root is not None and not folder.is_dir():
                for suffix in ("_left", "_right"):  # two annotated people, one video (and one frame folder)
                    if stem.endswith(suffix) and (frames_root / stem[: -len(suffix)]).is_dir():
                        folder = frames_root / stem[: -len(suffix)]
                if not folder.is_dir():
                    summary.skip(f"{MISSING_FRAME} (no frame folder)", f"{frames_root / stem}", count=len(keep))
                    continue
        present = set(os.listdir(folder)) if folder.is_dir() else set()
        for i in keep:
            frame = f"{i + 1:05d}.jpg"
            if frame not in present:
                summary.skip(MISSING_FRAME, f"{stem}/{frame}")
                continue
            paths.append(str(folder / frame))
            where.append(f"{stem}/{frame}")
            columns["video"].append(video_index)
            if expression is not None:
                columns["expression"].append(expression[i])
            if va is not None:
                columns["valence"].append(va[i, 0])
                columns["arousal"].append(va[i, 1])

    checked = pipeline.check_images(paths, summary, locations=where, level=check)
    ok = checked.ok
    out = {"video": np.asarray(columns["video"], dtype=np.int32).reshape(-1)[ok]}
    if expr_files is not None:
        out["expression"] = np.asarray(columns["expression"], dtype=np.int32).reshape(-1)[ok]
    if va_files is not None:
        out["valence"] = np.asarray(columns["valence"], dtype=np.float32).reshape(-1)[ok]
        out["arousal"] = np.asarray(columns["arousal"], dtype=np.float32).reshape(-1)[ok]
    boxes = pipeline.whole_image_boxes(checked.width[ok], checked.height[ok])
    summary.kept = int(ok.sum())
    return Scan(summary, out, paths=np.asarray(paths, dtype=str).reshape(-1)[ok], boxes=boxes)


def load(
    data_dir: str | Path,
    split: str = "train",
    image_size=128,
    channels: int = 3,
    *,
    labels: str = "expr",
    remap_to: str | None = None,
    frames: str = "auto",
    frames_dir: str | Path | None = None,
    check: str = "decode",
    shuffle_files: bool = False,
    seed: int | None = None,
    verbose: bool = True,
):
    """Aff-Wild2 frames as unbatched dicts (module docstring) and their :class:`ReadSummary`.

    ``labels``: ``"expr"``, ``"va"`` or ``"both"``. ``remap_to``: a vocabulary name (``"affectnet"``, ``"ganmut"``)
    to map expressions into. ``frames``: ``"cropped_aligned"``, ``"ffmpeg"``, ``"extracted"`` or ``"auto"``
    (cropped_aligned when present, else ffmpeg). ``frames_dir``: where ffmpeg frames are written (default
    ``~/.cache/tfgan_emotion/affwild2_frames``), or, with ``"extracted"``, where the extracted frames are read
    (required).
    """
    result = scan(data_dir, split, labels=labels, remap_to=remap_to, frames=frames, frames_dir=frames_dir,
                  check=check)
    return pipeline.finish(result, image_size, channels, shuffle_files=shuffle_files, seed=seed, verbose=verbose)
