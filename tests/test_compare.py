"""``tfgan-emotion compare``: --smoke on all five systems end to end, and the protocol's pieces."""
import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest

from tfgan_emotion import compare as C
from tfgan_emotion.data import labels as L


def _args(*argv):
    p = argparse.ArgumentParser()
    C.add_arguments(p)
    return p.parse_args([str(a) for a in argv])


@pytest.fixture(scope="module")
def smoke(compare_smoke):
    return compare_smoke, json.loads((compare_smoke / "compare.json").read_text())


# Cells that do not apply, by design of the protocol: everything else must be a finite number.
EXPECTED_NA = {
    ("fexgan_ferg", "va_ccc"): "categorical", ("fexgan_ferg", "va_rmse"): "categorical",
    ("fexgan_ferg", "va_sagr"): "categorical",
    ("dcgan_fer2013", "va_ccc"): "categorical", ("dcgan_fer2013", "va_rmse"): "categorical",
    ("dcgan_fer2013", "va_sagr"): "categorical", ("dcgan_fer2013", "smoothness"): "no_intensity",
    ("cgan_faces", "identity_top1"): "generator",
}


def _finite(v):
    if isinstance(v, dict):
        return all(_finite(x) for x in v.values())
    return isinstance(v, (int, float)) and math.isfinite(v)


def test_smoke_compares_all_five_and_fills_every_cell(smoke):
    out, doc = smoke
    assert doc["systems"] == list(C.SYSTEMS)
    assert doc["smoke"] is True
    for recipe in C.SYSTEMS:
        row = doc["table"][recipe]
        assert set(row) == set(C.COLUMNS)
        for col, cell in row.items():
            if (recipe, col) in EXPECTED_NA:
                assert cell == {"na": EXPECTED_NA[recipe, col]}, (recipe, col, cell)
                assert doc["na_reasons"][cell["na"]]
            elif col == "smoothness" and cell.get("na") == "no_rise":
                # Data-dependent: after a few smoke steps a generator may ignore its label entirely (flat
                # curves), and paper 002's score is undefined; the cell says so instead of a number.
                assert all(v is None for v in doc["results"][recipe]["smoothness"]["per_emotion"].values())
                assert doc["na_reasons"]["no_rise"]
            else:
                assert "value" in cell and _finite(cell["value"]), (recipe, col, cell)
        b = doc["budget"][recipe]
        # Images per step at the recipes' paper batches (GANmut: 5 critic batches of 16), steps as checkpointed.
        per_step = {"caae_affectnet": 49, "fexgan_ferg": 32, "dcgan_fer2013": 64, "cgan_faces": 32,
                    "ganmut_affwild2": 80}[recipe]
        last = max(int(p.name[5:-9]) for p in (Path(b["run_dir"]) / "ckpt").glob("ckpt-*.complete"))
        assert b["steps"] == last and b["images"] == per_step * last and b["training_seconds"] > 0
        assert row["budget_images"]["value"] == b["images"]
    md = (out / "compare.md").read_text()
    for recipe in C.SYSTEMS:
        assert C.SYSTEMS[recipe].title in md
    for title in C.COLUMN_TITLES.values():
        assert title in md
    for reason in ("categorical", "generator", "no_intensity"):
        assert C.NA_REASONS[reason] in md
    assert "SMOKE" in md and "figures/edits.png" in md
    assert (out / "compare.html").exists() and (out / "figures" / "edits.png").stat().st_size > 0
    assert (out / "evaluator" / "evaluator.keras").exists()


def test_smoke_evaluator_reads_the_renderers_valence(smoke):
    """The measuring stick means something even at smoke size: its valence head follows the renderer's ground
    truth on held-out identities (the untrained network scores about 0)."""
    _, doc = smoke
    for recipe, res in doc["results"].items():
        q = res["evaluator_quality"]
        assert q["truth_va_ccc"]["valence"] > 0.25, (recipe, q)
        assert q["va"]["valence"]["ccc"] > 0.2, (recipe, q)


def test_request_to_control_mapping():
    names = list(C.COMMON.canonical)
    cat = np.array([names.index(n) for n in ("neutral", "happy", "fear", "anger")])
    t = np.array([0.7, 1.0, 0.4, 1.0], np.float32)
    v, a = C.requested_va(cat, t)
    assert v[0] == 0 and a[0] == 0  # neutral is the origin whatever t says
    np.testing.assert_allclose([v[1], a[1]], [math.cos(math.radians(8)), math.sin(math.radians(8))], atol=1e-6)
    assert math.hypot(v[2], a[2]) == pytest.approx(0.4)
    # The requested point at t >= 0.5 lies in its own class bin (what category accuracy asks for).
    for c in range(len(C.COMMON)):
        for level in (0.5, 1.0):
            rv, ra = C.requested_va([c], [level])
            assert L.category_from_va(rv, ra, C.COMMON)[0] == c

    caae = C.controls("caae_affectnet", cat, t)
    assert caae["endpoint"] == "edit"
    np.testing.assert_allclose(caae["valence"], v)
    g = C.controls("ganmut_affwild2", cat, t)
    assert g["endpoint"] == "edit_emotion"
    assert [L.GANMUT.names[i] for i in g["emotion"]] == ["neutral", "happy", "fear", "anger"]
    np.testing.assert_allclose(g["rho"], [0.0, 1.0, 0.4, 1.0])
    f = C.controls("fexgan_ferg", cat, t)["affect"]
    np.testing.assert_allclose(f.sum(1), 1.0)
    assert f[0, L.FERG.index("neutral")] == 1.0
    assert f[1, L.FERG.index("joy")] == 1.0
    assert f[2, L.FERG.index("fear")] == pytest.approx(0.4) and f[2, L.FERG.index("neutral")] == pytest.approx(0.6)
    c = C.controls("cgan_faces", cat, t)
    assert c["endpoint"] == "generate" and c["label"].shape == (4, 6)
    assert c["label"][2, L.FACES.index("fear")] == pytest.approx(0.4)
    assert c["label"][2, L.FACES.index("neutral")] == pytest.approx(0.6)
    d = C.controls("dcgan_fer2013", cat[[0, 1, 3]], 1.0)
    assert [L.FER2013.names[i] for i in d["label"]] == ["neutral", "happy", "angry"]
    with pytest.raises(ValueError, match="class index only"):
        C.controls("dcgan_fer2013", cat, t)


def test_budget_becomes_steps():
    assert C.steps_for("ganmut_affwild2", 64_000)["steps"] == 800  # 5 critic batches of 16 per step
    assert C.steps_for("caae_affectnet", 64_000)["steps"] == 1307  # ceil(64,000 / 49)
    d = C.steps_for("dcgan_fer2013", 64_000)
    gan, enc = int(d["flags"][1]), int(d["flags"][3])
    assert gan + enc == d["steps"] == 1000 and enc == round(1000 * 1000 / 3800)  # the synthetic default's 1,000 of 2,800 + 1,000


def test_identification_and_smoothness_pieces():
    rng = np.random.default_rng(0)
    people = rng.normal(size=(4, 16))
    gallery = np.repeat(people[None], 4, axis=0)                 # [N, G, F]: every edit's gallery = the 4 people
    slots = np.arange(4)
    gallery_slots = np.tile(np.arange(4), (4, 1))
    assert C.identification(people + 0.01 * rng.normal(size=people.shape), gallery, slots, gallery_slots) == 1.0
    assert C.identification(people[[1, 2, 3, 0]], gallery, slots, gallery_slots) == 0.0
    from tfgan_emotion.conditioning import SMOOTHNESS_RHO

    assert C.SWEEP == SMOOTHNESS_RHO
    # A measured intensity that ramps linearly toward each emotion scores 1/9; a step scores 1.
    sw = C.sweep_requests(2)
    cx, cy = C.emotion_direction(sw.category)
    ramp = np.stack([sw.intensity * cx, sw.intensity * cy], 1)
    assert C.sweep_smoothness(ramp, sw.category, 2)["score"] == pytest.approx(1 / 9)
    step = np.stack([(sw.intensity > 0.5) * cx, (sw.intensity > 0.5) * cy], 1)
    res = C.sweep_smoothness(step, sw.category, 2)
    assert res["score"] == pytest.approx(1.0) and res["rising"] == 5


def test_bad_flags_exit_2(tmp_path, capsys):
    assert C.main(_args("--systems", "nope", "--out", tmp_path / "a")) == 2
    assert "unknown nope" in capsys.readouterr().err
    assert C.main(_args("--reuse", tmp_path, "--out", tmp_path / "b")) == 2
    assert "not a run directory" in capsys.readouterr().err
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"recipe": "caae_affectnet", "config": {}}))
    assert C.main(_args("--reuse", run, "--out", tmp_path / "c")) == 2
    assert "saved_model.pb" in capsys.readouterr().err
    assert C.main(_args("--budget-images", 0, "--out", tmp_path / "d")) == 2
    assert C.main(_args("--intensities", 0.1, "--out", tmp_path / "e")) == 2
    assert not (tmp_path / "a").exists()
