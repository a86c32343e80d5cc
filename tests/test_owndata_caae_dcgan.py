"""Your own data in the CAAE (continuous valence/arousal) and the fer2013 DCGAN (classes): the DCGAN's networks,
evaluation, endpoints and report take the data's classes; the CAAE trains on the data's valence/arousal columns, or
on its classes placed on the valence/arousal circumplex (a stated fallback) and refuses classes with no place."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import owndata
from tfgan_emotion import systems
from tfgan_emotion.data import labels as L
from tfgan_emotion.data.stream import as_dataset


def _args(system, flags, tmp_path):
    args = system.parser().parse_args([*flags, "--smoke", "--out", str(tmp_path / "runs"), "--run", "own"])
    system.check_files(args)
    return args


def _data(name, flags, tmp_path):
    system = systems.get(name)
    args = _args(system, flags, tmp_path)
    plan = system.plan(args)
    data = system.load_data(args, plan, tmp_path / "runs" / "own", lambda m: None)
    system.finalize(args, plan, data)
    return system, args, plan, data


def _examples(stream, n):
    return list(as_dataset(stream).take(n).as_numpy_iterator())


# ------------------------------------------------------------------ CAAE
def test_caae_class_only_data_places_classes_on_the_circumplex(own_datasets, tmp_path):
    b = own_datasets["folders"]
    system, args, plan, data = _data("caae_affectnet", b.flags, tmp_path)
    notes = [n for n in plan.notes if "circumplex" in n]
    assert len(notes) == 1 and "no valence/arousal columns" in notes[0] and "your own data" in " ".join(plan.notes)
    for name in b.classes:
        assert f"{name} (" in notes[0]
    vocab = L.Vocabulary("own", b.classes, tuple(owndata.CLASSES))
    examples = _examples(data.train, 40)
    assert {"image", "valence", "arousal", "z_prior"} <= set(examples[0])
    v = np.array([e["valence"] for e in examples])
    a = np.array([e["arousal"] for e in examples])
    # every label is a class's own point: binned back, the stream covers the classes of the training part
    binned = L.category_from_va(v, a, vocab)
    assert set(binned.tolist()) == set(range(len(b.classes)))
    places = {(round(float(x), 4), round(float(y), 4)) for x, y in zip(v, a)}
    assert len(places) == len(b.classes)
    happy = L.va_from_category([b.classes.index("happy")], vocab)
    assert (round(float(happy[0][0]), 4), round(float(happy[1][0]), 4)) in places
    # the held-out faces (the val/ folder: one per class; the first --eval-faces of them) carry placed labels too
    held = L.category_from_va(data.held["valence"], data.held["arousal"], vocab)
    assert len(set(held.tolist())) == len(held) == min(plan.ev["eval_faces"], len(b.classes))
    assert all((round(float(x), 4), round(float(y), 4)) in places
               for x, y in zip(data.held["valence"], data.held["arousal"]))
    assert data.info["train_images"] == b.kept - len(b.classes)
    assert plan.run_config["classes"] == list(b.classes)
    assert system.vocabulary(plan.run_config).names == b.classes
    rows = system.coverage(args, plan, {})
    t4 = next(r for r in rows if r["item"] == "Table IV")
    assert t4["status"] == "analogue" and "circumplex" in t4["how"]


def test_caae_uses_the_csvs_valence_and_arousal(own_datasets, tmp_path):
    b = own_datasets["names"]
    system, args, plan, data = _data("caae_affectnet", b.flags, tmp_path)
    assert not any("circumplex" in n for n in plan.notes)
    with open(b.flags[1], newline="") as f:
        rows = [r for r in csv.reader(f)][1:]
    from_csv = {(round(float(r[2]), 4), round(float(r[3]), 4)) for r in rows if len(r) == 5}
    examples = _examples(data.train, 30)
    got = {(round(float(e["valence"]), 4), round(float(e["arousal"]), 4)) for e in examples}
    assert got <= from_csv
    # the CSV's values (emotions at intensity 0.8, neutral at the origin), not the fallback's full-intensity points
    radii = sorted({round(float(np.hypot(x, y)), 3) for x, y in got})
    assert radii == [0.0, 0.8] and len(got) == len(b.classes)
    assert plan.run_config["classes"] == list(b.classes)


def test_caae_refuses_classes_off_the_circumplex(own_datasets, tmp_path):
    b = own_datasets["folders"]
    flags = list(b.flags)
    flags[flags.index("--classes") + 1] += ",bored"       # a class folder that is not an emotion
    system = systems.get("caae_affectnet")
    with pytest.raises(ValueError) as e:
        system.plan(_args(system, flags, tmp_path))
    msg = str(e.value)
    assert "bored" in msg and "valence and arousal columns" in msg and "--label-map" in msg
    assert str(b.flags[1]) in msg


# ------------------------------------------------------------------ DCGAN
def test_dcgan_networks_and_requests_take_the_data_classes(own_datasets, tmp_path):
    b = own_datasets["names"]
    system = systems.get("dcgan_fer2013")
    args = _args(system, b.flags, tmp_path)
    plan = system.plan(args)
    assert plan.config.n_classes == len(b.classes) == 5
    config = {"classes": list(b.classes), "n_classes": 5}
    assert system.vocabulary(config).names == b.classes
    endpoint, inputs = system.request(config, ["happy", "anger"], 1.0, mode="generate")
    assert endpoint == "generate" and inputs["label"].tolist() == [b.classes.index("happy"),
                                                                    b.classes.index("anger")]
    with pytest.raises(ValueError, match="choose from neutral, happy, sad, surprise, anger"):
        system.editor(config, None, {"affect": "fear"})
    # the published run keeps fer2013's 7
    assert system.vocabulary({}).names == L.FER2013.names


def test_dcgan_fig6_label_without_a_happy_class():
    from tfgan_emotion.data import custom
    from tfgan_emotion.eval.dcgan import fig6_class

    assert fig6_class(None) == (L.FER2013.index("happy"), "happy")
    assert fig6_class(custom.make_vocabulary(("Neutral", "Joy", "anger"))) == (1, "Joy")
    assert fig6_class(custom.make_vocabulary(("neutral", "sad", "anger"))) == (1, "sad")


@pytest.mark.e2e
def test_dcgan_smoke_on_five_classes_exports_and_reports_them(own_datasets, own_runs):
    b = own_datasets["names"]
    root, r = own_runs[("dcgan_fer2013", "names")]        # the shared run on the names CSV (conftest)
    assert r.returncode == 0, r.stderr[-4000:]
    run_dir, reports = root / "runs" / "own", root / "reports"
    config = json.loads((run_dir / "config.json").read_text())["config"]
    assert config["n_classes"] == 5 and config["classes"] == list(b.classes)

    import keras

    import tfgan_emotion.nets  # noqa: F401  (registers the custom layers)

    gen = keras.saving.load_model(run_dir / "export" / "generator.keras", safe_mode=True)
    enc = keras.saving.load_model(run_dir / "export" / "encoder.keras", safe_mode=True)
    assert gen.inputs[1].shape[-1] == 5 and enc.inputs[1].shape[-1] == 5
    classes = json.loads((run_dir / "export" / "saved_model" / "classes.json").read_text())["classes"]
    assert classes == list(b.classes)

    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert list(metrics["transfer"]["per_label"]) == list(b.classes)
    assert np.array(metrics["transfer"]["confusion"]).shape == (5, 5)
    fig7 = next(p for p in metrics["paper_items"] if p["item"] == "Fig. 7")
    assert fig7["status"] == "analogue" and ", ".join(b.classes) in fig7["how"]
    md = (reports / "dcgan_fer2013" / "own" / "report.md").read_text()
    table = md.split("### transfer", 1)[1]
    header = next(line for line in table.splitlines() if line.startswith("|"))
    assert [c.strip() for c in header.strip().strip("|").split("|")][1:] == list(b.classes)
    assert "5 classes from the data: " + ", ".join(b.classes) in md
