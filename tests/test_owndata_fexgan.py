"""FExGAN on your own data: the affect vector sized from the data's classes, the same-person training pairs (and the
stated fallback without identities), the data's class names in the evaluation, the figures, the endpoints and the
report."""
from __future__ import annotations

import json

import numpy as np
import pytest

import owndata
from tfgan_emotion import systems
from tfgan_emotion.data import custom
from tfgan_emotion.data import labels as L

FIVE = list(owndata.CLASSES)          # neutral, happy, sad, surprise, anger


def _load(flags):
    s = systems.get("fexgan_ferg")
    args = s.parser().parse_args([*flags, "--smoke", "--augment", "none"])
    plan = s.plan(args)
    data = s.load_data(args, plan, None, lambda m: None)
    s.finalize(args, plan, data)
    return s, plan, data


def _index_of(images, x):
    hit = np.flatnonzero((images.reshape(len(images), -1) == x.reshape(-1)).all(1))
    assert len(hit) == 1, "every streamed image is one of the training images"
    return int(hit[0])


def test_networks_and_endpoints_take_the_datas_classes(own_datasets, float32_policy):
    from tfgan_emotion.gans.fexgan import FExGAN, saved_model_endpoints

    s, plan, data = _load(own_datasets["names"].flags)
    assert plan.config.n_classes == 5 and plan.run_config["n_classes"] == 5
    assert plan.run_config["classes"] == FIVE
    assert list(s.vocabulary(plan.run_config).names) == FIVE
    assert s.vocabulary({}) is L.FERG                     # runs without "classes" keep FERG-DB's seven
    model = FExGAN(plan.config)
    assert model.discriminator.outputs[1].shape[-1] == 5 and model.sample_columns == 6
    ends = saved_model_endpoints(model)
    assert [spec.shape.as_list() for spec in ends["transfer"][1]][1] == [None, 5]
    assert [spec.shape.as_list() for spec in ends["generate"][1]][1] == [None, 5]
    # edit by the data's names: "happy" is a class here, FERG-DB's "joy" is not
    assert s.request(plan.run_config, ["happy"], 1.0)[1]["affect"].tolist() == [[0, 1, 0, 0, 0]]
    with pytest.raises(ValueError, match="no class 'contempt'"):
        s.request(plan.run_config, ["contempt"], 1.0)
    with pytest.raises(ValueError, match="not an affect of this model; choose from neutral, happy, sad"):
        s.editor(plan.run_config, None, {"affect": "joy"})


def test_pairs_are_of_one_identity_when_the_data_names_who_is_shown(own_datasets):
    s, plan, data = _load(own_datasets["names"].flags)
    train = data.arrays
    assert len(np.unique(train["character"])) == owndata.PEOPLE
    assert plan.extra["characters"] == tuple(f"person{k}" for k in range(owndata.PEOPLE))
    note = next(n for n in plan.notes if n.startswith("Training pairs"))
    assert "of the same person (4 identities" in note and "(4 of 4 people show two or more)" in note
    n = len(train["image"])
    targets = set()
    for ex in data.train.take(3 * n).as_numpy_iterator():
        src, tgt = _index_of(train["image"], ex["image"]), _index_of(train["image"], ex["target_image"])
        assert ex["character"] == train["character"][src] == train["character"][tgt]
        assert ex["expression"] == train["expression"][src]
        assert ex["target_expression"] == train["expression"][tgt]
        targets.add(int(ex["target_expression"]))
    assert targets == set(range(5))


def test_without_identities_pairs_span_everyone_and_the_run_says_so(own_datasets):
    s, plan, data = _load(own_datasets["folders"].flags)
    train = data.arrays
    assert plan.extra["characters"] == ()
    note = next(n for n in plan.notes if n.startswith("Training pairs"))
    assert "ALL training images" in note and "ONE character" in note and "Add an identity column" in note
    # every person has one image of each class: a same-affect pair with another image crosses people, which
    # pairing within one person could never give
    crossed = 0
    for ex in data.train.take(3 * len(train["image"])).as_numpy_iterator():
        src, tgt = _index_of(train["image"], ex["image"]), _index_of(train["image"], ex["target_image"])
        assert ex["character"] == 0 and ex["target_expression"] == train["expression"][tgt]
        crossed += int(ex["target_expression"] == ex["expression"] and src != tgt)
    assert crossed > 0
    rows = {r["item"]: r for r in s.coverage(s.parser().parse_args(own_datasets["folders"].flags), plan,
                                             {"augment": "none", "fig6_mixes": ["anger+sad"]})}
    assert "not one per character" in rows["Fig. 5"]["how"] and "anger+sad" in rows["Fig. 6"]["how"]
    assert rows["Table 1"]["status"] == "analogue"


def test_fig6_mixes_and_fig5_inputs_follow_the_vocabulary():
    from tfgan_emotion.eval import fexgan as E
    from tfgan_emotion.gans.fexgan import MIXES

    assert E.mixes_for(L.FERG, MIXES) == (MIXES, "the paper's mixes")
    five = custom.make_vocabulary(FIVE)
    assert E.mixes_for(five, MIXES)[0] == (("anger", "sad"),)          # FERG-DB's sadness is the data's sad
    other = custom.make_vocabulary(("calm", "Joy", "bored"))
    mixes, how = E.mixes_for(other, MIXES)
    assert mixes == (("calm", "Joy"),) and "no class pair of the paper's" in how
    val = {"image": np.arange(6, dtype=np.float32)[:, None, None, None] * np.ones((6, 2, 2, 3), np.float32),
           "expression": np.array([0, 1, 0, 2, 0, 1]), "character": np.array([0, 0, 1, 1, 2, 2])}
    faces, classes, rows, how = E.neutral_per_character(val, five, ("ann", "bob", "cy"))
    assert rows == ["ann", "bob", "cy"] and faces[:, 0, 0, 0].tolist() == [0, 2, 4] and classes.tolist() == [0] * 3
    faces, classes, rows, how = E.neutral_per_character(val, five, ())
    assert rows == ["face 1", "face 2", "face 3"] and "Held-out neutral faces" in how
    faces, classes, rows, how = E.neutral_per_character(val, other, ("ann", "bob", "cy"))   # "calm": not neutral
    assert faces[:, 0, 0, 0].tolist() == [0, 2, 4] and "no neutral class" in how


def test_evaluation_names_the_datas_classes_everywhere(monkeypatch, tmp_path, float32_policy):
    """Table columns, per-class accuracy and the figures' column titles come from the run's vocabulary."""
    from tfgan_emotion.data import synthetic as synth
    from tfgan_emotion.eval import fexgan as E
    from tfgan_emotion.gans.fexgan import FExGAN, FExGANConfig

    titles = []
    monkeypatch.setattr(E, "show_image_rows", lambda fig, grid, col_titles=None, **kw: titles.append(
        tuple(col_titles)))
    d = synth.make_arrays("ferg", "train", n=40, size=32, seed=0)
    five = custom.make_vocabulary(FIVE)
    arrays = {"image": d["image"], "expression": d["expression"] % 5, "character": d["character"] % 2}
    model = FExGAN(FExGANConfig(image_size=32, width=0.125, batch_size=8, n_classes=5))
    m = E.evaluate(model, arrays, arrays, {"eval_faces": 10, "classifier_steps": 2}, tmp_path, (("anger", "sad"),),
                   character_preservation_too=True, log=lambda s: None, vocabulary=five, characters=("a", "b"))
    assert list(m["transfer"]["per_affect"]) == FIVE and np.array(m["transfer"]["confusion"]).shape == (5, 5)
    assert 0.0 <= m["character_preservation"]["share_recognised"] <= 1.0
    assert titles[0] == tuple(FIVE) and titles[1] == ("input", *FIVE)          # Fig. 4, Fig. 5
    assert ("input", "anger", "sad", "anger+sad") in titles                     # Fig. 6
    assert {p.name for p in tmp_path.iterdir()} == {"fig4_random_latents.png", "fig5_transfer.png",
                                                    "fig6_mixed.png"}


def test_one_class_or_no_classes_is_refused(tmp_path):
    s = systems.get("fexgan_ferg")
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "labels.csv").write_text("path,valence,arousal\na.png,0.1,0.2\n")
    with pytest.raises(ValueError, match="FExGAN needs an expression column"):
        s.plan(s.parser().parse_args(["--data-csv", str(tmp_path / "labels.csv"), "--smoke"]))
    (tmp_path / "one.csv").write_text("path,expression\na.png,happy\n")
    with pytest.raises(ValueError, match="at least two classes; the data has 1 \\(happy\\)"):
        s.plan(s.parser().parse_args(["--data-csv", str(tmp_path / "one.csv"), "--smoke"]))


@pytest.mark.e2e
def test_smoke_run_exports_and_reports_the_five_classes(own_runs, tmp_path):
    from tfgan_emotion import editing
    from tfgan_emotion.export import load_saved_model

    root, r = own_runs[("fexgan_ferg", "names")]          # the shared run on the names CSV (conftest)
    assert r.returncode == 0, r.stderr[-4000:]
    run_dir = root / "runs" / "own"
    saved = run_dir / "export" / "saved_model"
    sigs = json.loads((saved / "tfgan_emotion_signatures.json").read_text())
    for name in ("transfer", "generate"):
        affect = next(a for a in sigs[name] if a["name"] == "affect")
        assert affect["shape"] == [None, 5]
    assert json.loads((saved / "classes.json").read_text())["classes"] == FIVE
    size = json.loads((run_dir / "config.json").read_text())["config"]["image_size"]
    model = load_saved_model(run_dir)
    out_img = model.transfer(image=np.zeros((2, size, size, 3), np.float32),
                             affect=np.eye(5, dtype=np.float32)[[1, 4]])["image"].numpy()
    assert out_img.shape == (2, size, size, 3)
    with pytest.raises((ValueError, TypeError)):
        model.generate(z=np.zeros((1, 128), np.float32), affect=np.eye(7, dtype=np.float32)[:1])

    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert list(metrics["transfer"]["per_affect"]) == FIVE
    assert "character_preservation" in metrics and metrics["fig6_mixes"] == ["anger+sad"]
    md = (root / "reports" / "fexgan_ferg" / "own" / "report.md").read_text()
    assert "| " + " | ".join(FIVE) + " |" in md                # the per-affect table's header
    assert "anger+sad" in md and "of the same person" in md

    face = tmp_path / "face.png"
    from PIL import Image

    Image.fromarray(np.full((70, 60, 3), 128, np.uint8)).save(face)
    sheet = editing.run_edit(run_dir, face, tmp_path / "grid.png", grid=True, log=lambda m: None)
    assert np.asarray(Image.open(sheet[0])).shape[1] >= 6 * size     # the input and one column per class
    editing.run_edit(run_dir, face, tmp_path / "happy.png", affect="happy", log=lambda m: None)
    with pytest.raises(ValueError, match="not an affect"):
        editing.run_edit(run_dir, face, tmp_path / "x.png", affect="joy", log=lambda m: None)
