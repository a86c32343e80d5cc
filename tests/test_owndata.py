"""Your own data: the generic reader in every accepted form, `data summary`'s exact counts, the flag checks, and
every system trained with --smoke on every form (one form per system in the default tier, the rest in e2e)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import owndata
from tfgan_emotion.data import custom
from tfgan_emotion import systems
from conftest import EVALUATED_FORM, own_lines  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "tfgan_emotion.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


# ------------------------------------------------------------------ the reader
@pytest.mark.parametrize("form", owndata.FORMS)
def test_reader_keeps_and_skips_exactly(own_datasets, form):
    b = own_datasets[form]
    flags = dict(zip(b.summary_flags[::2], b.summary_flags[1::2]))
    source = custom.Source(csv=Path(flags["--data-csv"]) if "--data-csv" in flags else None,
                           folder=Path(flags["--data-dir"]) if "--data-format" in flags else None,
                           image_root=Path(flags["--image-root"]) if "--image-root" in flags else None,
                           classes=custom.parse_classes(flags.get("--classes")),
                           label_map=Path(flags["--label-map"]) if "--label-map" in flags else None)
    default = systems.get(flags["--system"]).vocabulary({}) if "--system" in flags else None
    own = custom.read(source, default)
    assert own.scan.summary.kept == b.kept == len(own.scan)
    assert own.scan.summary.skipped == b.skipped
    assert own.vocabulary.names == b.classes
    names, counts = np.unique(own.scan.labels["expression"], return_counts=True)
    assert {own.vocabulary.names[k]: int(c) for k, c in zip(names, counts)} == b.per_class
    # every kept path is a real file inside the image root
    assert all(Path(p).is_file() and Path(p).resolve().is_relative_to(source.root.resolve())
               for p in own.scan.paths)


@pytest.mark.parametrize("form", owndata.FORMS)
def test_data_summary_reports_exact_counts(own_datasets, form):
    """... and reads every form without importing TensorFlow (which alone takes seconds)."""
    b = own_datasets[form]
    code = ("import sys; from tfgan_emotion import cli; rc = cli.main(sys.argv[1:]); "
            "print('tensorflow imported:', 'tensorflow' in sys.modules or 'keras' in sys.modules); sys.exit(rc)")
    r = subprocess.run([sys.executable, "-c", code, "data", "summary", *map(str, b.summary_flags)],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.rstrip().endswith("tensorflow imported: False"), r.stdout[-300:]
    assert f"kept {b.kept} examples" in r.stdout
    for reason, n in b.skipped.items():
        assert f"    {reason}: {n}" in r.stdout, (reason, r.stdout)
    assert f"classes ({len(b.classes)}): " + ", ".join(f"{i} {c}" for i, c in enumerate(b.classes)) in r.stdout


def test_names_order_and_spellings(tmp_path):
    """Without --classes the data's names make the vocabulary: known emotions in AffectNet's order (spellings of
    one emotion are one class), then other names alphabetically."""
    assert custom.order_names(["zebra", "Anger", "apple", "Neutral", "joy"]) == ("Neutral", "joy", "Anger", "apple",
                                                                                "zebra")
    v = custom.make_vocabulary(("Neutral", "joy", "boredom"))
    assert v.canonical == ("neutral", "happy", None)
    with pytest.raises(ValueError, match="differ"):
        custom.make_vocabulary(("happy", "Happy"))


def test_label_map_json_and_errors(tmp_path):
    j = tmp_path / "m.json"
    j.write_text(json.dumps({"Contempt": "disgust", "uncertain": None}))
    assert custom.read_label_map(j) == {"contempt": "disgust", "uncertain": None}
    bad = tmp_path / "m.csv"
    bad.write_text("old,new\na,b\n")
    with pytest.raises(ValueError, match="line 1: the header must be 'from,to'"):
        custom.read_label_map(bad)
    twice = tmp_path / "t.csv"
    twice.write_text("from,to\na,b\nA,c\n")
    with pytest.raises(ValueError, match="line 3: 'A' is mapped twice"):
        custom.read_label_map(twice)


def test_nothing_usable_is_one_clear_error(tmp_path):
    (tmp_path / "labels.csv").write_text("path,expression\nmissing1.png,happy\nmissing2.png,sad\n")
    with pytest.raises(ValueError) as e:
        custom.read(custom.Source(csv=tmp_path / "labels.csv"))
    msg = str(e.value)
    assert "labels.csv: no usable image" in msg and "missing file 2 (e.g. labels.csv line 2: missing1.png)" in msg
    assert "--image-root" in msg
    r = _cli("data", "summary", "--data-csv", tmp_path / "labels.csv")
    assert r.returncode == 2 and "no usable image" in r.stderr


def test_indices_without_classes_need_a_vocabulary(tmp_path):
    (tmp_path / "labels.csv").write_text("path,expression\na.png,1\n")
    with pytest.raises(ValueError, match="--classes"):
        custom.read(custom.Source(csv=tmp_path / "labels.csv"), check="none")


def test_held_out_split_per_class_and_by_column(own_datasets):
    own = custom.read(custom.Source(folder=Path(own_datasets["folders"].flags[1]),
                                    classes=own_datasets["folders"].classes))
    train, held = own.parts()
    assert len(train) == 20 and len(held) == 5          # the train/ and val/ folders
    names = custom.read(custom.Source(csv=Path(own_datasets["indices"].flags[1]), classes=owndata.CLASSES))
    train, held = names.parts(held_fraction=0.25, seed=1)
    assert len(held) == 5 and len(train) == 15           # one per class of each 4
    assert sorted(held.labels["expression"].tolist()) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("flags, message", [
    (["--classes", "a,b"], "--classes applies to your own data"),
    (["--data-format", "folders"], "--data-format folders reads --data-dir"),
    (["--data-csv", "nowhere.csv"], "--data-csv nowhere.csv: no such file"),
    (["--image-root", "."], "--image-root goes with --data-csv"),
])
def test_flag_checks_are_one_line(flags, message):
    r = subprocess.run([sys.executable, str(ROOT / "recipes" / "cgan_faces.py"), *flags], capture_output=True,
                       text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert len(own_lines(r.stderr)) == 1, r.stderr


# ------------------------------------------------------------------ every system on every form
# The default tier trains the quickest system on one form (the summary tests read all five); the e2e tier trains
# every system on every form. (The others moved to e2e to keep the default tier within 10 minutes on a 2-core
# AVX2 CPU.)
DEFAULT_FORM = {"cgan_fashion_mnist": "indices"}
MATRIX = [pytest.param(name, form, marks=() if DEFAULT_FORM.get(name) == form else pytest.mark.e2e,
                       id=f"{name}-{form}")
          for name in systems.names() for form in owndata.FORMS]


@pytest.mark.parametrize("name, form", MATRIX)
def test_every_system_trains_on_own_data(own_datasets, own_runs, name, form):
    """Every system trains, exports and reports on every form (evaluated on one form per system, conftest's
    EVALUATED_FORM, --skip-eval on the others)."""
    b = own_datasets[form]
    out, r = own_runs[(name, form)]
    assert r.returncode == 0, r.stderr[-4000:]
    run_dir = out / "runs" / "own"
    config = json.loads((run_dir / "config.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    own = metrics["data"]["own_data"]
    assert own["kept"] == b.kept and own["skipped"] == b.skipped
    classes = list(b.classes)
    assert config["config"]["classes"] == own["classes"] == classes
    assert json.loads((run_dir / "export" / "saved_model" / "classes.json").read_text())["classes"] == classes
    assert any("your own data" in n for n in config["notes"])
    report = next((out / "reports").rglob("report.md")).read_text()
    assert "your own data" in report and all(c in report for c in classes)
    assert ("paper_items" in metrics) == (EVALUATED_FORM[name] == form)        # evaluated on its one form only
