"""FERG-DB reader (SPECS.md "Dataset formats", FERG-DB; SPECS "FExGAN": 128x128x3, alpha dropped).

Layout ``FERG_DB_256/<char>/<char>_<expr>/<char>_<expr>_<n>.png`` with characters aia, bonnie, jules, malcolm,
mery, ray and expressions anger, disgust, fear, joy, neutral, sadness, surprise; ``n`` is not zero-padded, so files
are ordered by the number (``_2`` before ``_10``). ``data_dir`` may be ``FERG_DB_256`` itself or its parent. The PNGs
are RGBA: TensorFlow's decoder drops the alpha channel (``channels=3``).

Examples carry ``image``, ``expression`` (:data:`labels.FERG` order), ``character`` (index into
:data:`labels.FERG_CHARACTERS`) and ``identity`` (the same index: the character is the identity).

Splits (ours; the paper reports train and val accuracies without publishing the split): ``"all"``, or ``"train"`` /
``"val"`` = a deterministic 80/20 split made separately inside every (character, expression) folder from a seeded
permutation of its numerically sorted files, so both halves hold every character and expression.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from tfgan_emotion.data import labels as label_sets
from tfgan_emotion.data import pipeline
from tfgan_emotion.data.pipeline import ReadSummary, Scan

NAME = "ferg"
VOCABULARY = label_sets.FERG
SPLITS = ("train", "val")
ROOT_NAME = "FERG_DB_256"


def find_root(data_dir: str | Path) -> Path:
    root = Path(data_dir).expanduser()
    if (root / ROOT_NAME).is_dir():
        return root / ROOT_NAME
    if any((root / c).is_dir() for c in label_sets.FERG_CHARACTERS):
        return root
    raise FileNotFoundError(
        f"FERG-DB: {root} holds neither {ROOT_NAME}/ nor the character folders "
        f"{', '.join(label_sets.FERG_CHARACTERS)}. Point data_dir at {ROOT_NAME} or the folder that contains it."
    )


def _names(values, vocabulary: tuple[str, ...], what: str) -> list[str]:
    if values is None:
        return list(vocabulary)
    out = []
    for v in values:
        name = vocabulary[v] if isinstance(v, (int, np.integer)) else str(v).lower()
        if name not in vocabulary:
            raise ValueError(f"FERG-DB has no {what} {v!r}; {what}s: {', '.join(vocabulary)}")
        out.append(name)
    return out


def scan(
    data_dir: str | Path,
    split: str = "all",
    *,
    characters=None,
    expressions=None,
    val_fraction: float = 0.2,
    split_seed: int = 0,
    check: str = "decode",
) -> Scan:
    """Index the files of one split, check them; see :func:`load`."""
    split = str(split).lower()
    if split not in ("all", "train", "val"):
        raise ValueError(f"FERG-DB split must be 'all', 'train' or 'val', got {split!r}")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    root = find_root(data_dir)
    chars = _names(characters, label_sets.FERG_CHARACTERS, "character")
    exprs = _names(expressions, VOCABULARY.names, "expression")
    summary = ReadSummary(NAME, split, str(root))
    paths, expression, character = [], [], []
    for entry in sorted(os.listdir(root)):
        if entry not in label_sets.FERG_CHARACTERS:
            summary.skip("unrecognised folder or file", entry)
    for char in chars:
        char_dir = root / char
        if not char_dir.is_dir():
            summary.skip("missing character folder", char)
            continue
        for entry in sorted(os.listdir(char_dir)):
            expr = entry[len(char) + 1:] if entry.startswith(char + "_") else None
            if expr not in VOCABULARY.names or not (char_dir / entry).is_dir():
                summary.skip("unrecognised folder or file", f"{char}/{entry}")
        for expr in exprs:
            folder = char_dir / f"{char}_{expr}"
            if not folder.is_dir():
                summary.skip("missing expression folder", f"{char}/{char}_{expr}")
                continue
            pattern = re.compile(rf"^{re.escape(char)}_{re.escape(expr)}_(\d+)\.png$", re.IGNORECASE)
            numbered = []
            for name in os.listdir(folder):
                match = pattern.match(name)
                if match:
                    numbered.append((int(match.group(1)), name))
                else:
                    summary.skip("unrecognised file name", f"{char}/{char}_{expr}/{name}")
            numbered.sort()  # numerically: _2 before _10 (SPECS: "numbers not zero-padded")
            chosen = _split_part(len(numbered), split, val_fraction,
                                 (split_seed, label_sets.FERG_CHARACTERS.index(char), VOCABULARY.index(expr)))
            for i in chosen:
                paths.append(str(folder / numbered[i][1]))
                expression.append(VOCABULARY.index(expr))
                character.append(label_sets.FERG_CHARACTERS.index(char))
    locations = [os.path.relpath(p, root) for p in paths]
    checked = pipeline.check_images(paths, summary, locations=locations, level=check)
    ok = checked.ok
    character = np.asarray(character, dtype=np.int32).reshape(-1)[ok]
    labels = {
        "expression": np.asarray(expression, dtype=np.int32).reshape(-1)[ok],
        "character": character,
        "identity": character.copy(),
    }
    boxes = pipeline.whole_image_boxes(checked.width[ok], checked.height[ok])
    summary.kept = int(ok.sum())
    return Scan(summary, labels, paths=np.asarray(paths, dtype=str).reshape(-1)[ok], boxes=boxes)


def _split_part(n: int, split: str, val_fraction: float, seed: tuple[int, int, int]) -> np.ndarray:
    """Positions (in numeric order) of one folder's files that belong to ``split``."""
    if split == "all":
        return np.arange(n)
    order = np.random.default_rng(list(seed)).permutation(n)
    n_val = int(round(n * val_fraction))
    part = order[:n_val] if split == "val" else order[n_val:]
    return np.sort(part)


def load(
    data_dir: str | Path,
    split: str = "all",
    image_size=128,
    channels: int = 3,
    *,
    characters=None,
    expressions=None,
    val_fraction: float = 0.2,
    split_seed: int = 0,
    check: str = "decode",
    shuffle_files: bool = False,
    seed: int | None = None,
    verbose: bool = True,
):
    """FERG-DB as unbatched ``{"image", "expression", "character", "identity"}`` dicts and its summary.

    ``split``: ``"all"``, ``"train"`` or ``"val"`` (module docstring). ``characters`` / ``expressions``: subsets by
    name or index (default all). ``val_fraction`` and ``split_seed`` define the deterministic split.
    """
    result = scan(data_dir, split, characters=characters, expressions=expressions, val_fraction=val_fraction,
                  split_seed=split_seed, check=check)
    return pipeline.finish(result, image_size, channels, shuffle_files=shuffle_files, seed=seed, verbose=verbose)
