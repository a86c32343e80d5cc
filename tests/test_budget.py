"""`tfgan-emotion budget`: the quality-vs-compute curve of the CAAE recipe (plan, collection, summary, outputs, flags;
one real --smoke curve in the e2e tier)."""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tfgan_emotion import budget, cli
from tfgan_emotion.systems.caae import SYNTH

ROOT = Path(__file__).resolve().parent.parent


def fake_run(point, ccc_v, ccc_a, kept, train_s, walls, fd=None, image_size=48, width=0.25, extra=()):
    """A finished run directory as the recipe and the budget leave it: metrics.json, config.json, budget_wall.json."""
    d = Path(point["run_dir"])
    d.mkdir(parents=True)
    m = {"step": point["steps"], "training": {"step": point["steps"], "seconds": train_s},
         "table4_edits": {"all": {"valence": {"ccc": ccc_v, "rmse": 0.5}, "arousal": {"ccc": ccc_a, "rmse": 0.4}},
                          "extreme": {"valence": {"ccc": -1.0}, "arousal": {"ccc": -1.0}}},
         "identity_preservation": {"share_recognised": kept, "share_unedited": 1.0}}
    if fd is not None:
        m["frechet_distance"] = {"value": fd}
    (d / "metrics.json").write_text(json.dumps(m))
    (d / "config.json").write_text(json.dumps({"recipe": "caae_affectnet", "config": {"image_size": image_size,
                                                                                      "width": width},
                                               "args": {"smoke": "smoke" in point["run"]}}))
    (d / budget.WALL_FILE).write_text(json.dumps({"invocations": [{"wall_seconds": w} for w in walls],
                                                  "extra": list(extra)}))
    return d


@pytest.fixture
def four_runs(tmp_path):
    """x1 and x2, seeds 0 and 1 (--smoke names and steps); the Fréchet distance only at x1. Binary fractions, so
    that means are exact."""
    points = budget.plan_points([1, 2], [0, 1], tmp_path, smoke=True)
    values = {(1, 0): (0.25, 0.5, 0.5, 60.0, [70.0], 10.0), (1, 1): (0.75, 0.25, 0.75, 120.0, [50.0, 40.0], 20.0),
              (2, 0): (0.5, 0.5, 1.0, 200.0, [210.0], None), (2, 1): (0.5, 0.75, 0.5, 300.0, [330.0], None)}
    for p in points:
        v, a, k, t, w, fd = values[(p["multiple"], p["seed"])]
        fake_run(p, v, a, k, t, w, fd=fd)
    return points


def test_plan_points_steps_names_and_dirs(tmp_path):
    pts = budget.plan_points([1, 4, 16], [0, 3], tmp_path)
    assert [(p["multiple"], p["seed"], p["steps"]) for p in pts] == [
        (1, 0, SYNTH["steps"]), (1, 3, SYNTH["steps"]), (4, 0, 4 * SYNTH["steps"]), (4, 3, 4 * SYNTH["steps"]),
        (16, 0, 16 * SYNTH["steps"]), (16, 3, 16 * SYNTH["steps"])]
    assert pts[2]["run"] == "budget-x4-seed0" and pts[2]["run_dir"] == str(tmp_path / "runs" / "budget-x4-seed0")
    smoke = budget.plan_points([1, 4], [0], tmp_path, smoke=True)
    assert [(p["run"], p["steps"]) for p in smoke] == [("budget-smoke-x1-seed0", 2), ("budget-smoke-x4-seed0", 8)]
    with pytest.raises(ValueError, match="unsupported recipe"):
        budget.plan_points([1], [0], tmp_path, recipe="dcgan_fer2013")


def test_train_command_sets_the_points_flags(tmp_path):
    p = budget.plan_points([4], [2], tmp_path)[0]
    cmd = budget.train_command(p, tmp_path, extra=["--width", "0.5"])
    assert cmd[:5] == [sys.executable, "-m", "tfgan_emotion.cli", "train", "caae_affectnet"]
    flags = cmd[5:]
    pairs = dict(zip(flags[:-2:2], flags[1:-2:2]))
    assert pairs == {"--seed": "2", "--steps": str(4 * SYNTH["steps"]), "--out": str(tmp_path / "runs"),
                     "--run": "budget-x4-seed2", "--reports": str(tmp_path / "reports-runs")}
    assert flags[-2:] == ["--width", "0.5"] and "--smoke" not in cmd
    smoke = budget.plan_points([3], [0], tmp_path, smoke=True)[0]
    cmd = budget.train_command(smoke, tmp_path, smoke=True, reports=tmp_path / "r")
    assert cmd[cmd.index("--steps") + 1] == "6" and "--smoke" in cmd and cmd[cmd.index("--reports") + 1] == str(
        tmp_path / "r")


def test_collect_and_summarize(four_runs):
    rows = budget.collect(four_runs)
    assert [(r["multiple"], r["seed"], r["steps"]) for r in rows] == [(1, 0, 2), (1, 1, 2), (2, 0, 4), (2, 1, 4)]
    r = rows[1]
    assert (r["ccc_valence"], r["ccc_arousal"], r["identity_kept"], r["frechet_distance"]) == (0.75, 0.25, 0.75, 20.0)
    assert (r["training_seconds"], r["wall_seconds"], r["image_size"], r["width"]) == (120.0, 90.0, 48, 0.25)
    assert rows[2]["frechet_distance"] is None and rows[3]["frechet_distance"] is None
    s1, s2 = budget.summarize(rows)
    assert (s1["multiple"], s1["seeds"], s1["steps"], s1["image_size"], s1["width"]) == (1, [0, 1], 2, 48, 0.25)
    assert s1["ccc_valence"] == {"mean": 0.5, "min": 0.25, "max": 0.75, "n": 2}
    assert s1["ccc_arousal"] == {"mean": 0.375, "min": 0.25, "max": 0.5, "n": 2}
    assert s1["identity_kept"] == {"mean": 0.625, "min": 0.5, "max": 0.75, "n": 2}
    assert s1["frechet_distance"] == {"mean": 15.0, "min": 10.0, "max": 20.0, "n": 2}
    assert s1["training_seconds"] == {"mean": 90.0, "min": 60.0, "max": 120.0, "n": 2}
    assert s1["wall_seconds"] == {"mean": 80.0, "min": 70.0, "max": 90.0, "n": 2}
    assert s2["steps"] == 4 and s2["ccc_arousal"] == {"mean": 0.625, "min": 0.5, "max": 0.75, "n": 2}
    assert s2["identity_kept"] == {"mean": 0.75, "min": 0.5, "max": 1.0, "n": 2}
    assert s2["frechet_distance"] is None


def test_summary_and_plot_join_runs_of_different_defaults_by_their_steps(four_runs):
    """Runs recorded under an earlier default (a fractional multiple of today's) sit on one steps axis with today's:
    one summary entry per training length, ascending, each keeping its multiple, and the figure draws them all."""
    rows = budget.collect(four_runs)
    older = [dict(r, multiple=0.5, steps=1, seed=s) for s, r in enumerate(rows[:2])]
    summary = budget.summarize(rows + older)
    assert [(s["steps"], s["multiple"], s["seeds"]) for s in summary] == [(1, 0.5, [0, 1]), (2, 1, [0, 1]),
                                                                          (4, 2, [0, 1])]
    assert summary[0]["ccc_valence"] == summary[1]["ccc_valence"]
    png = budget.plot({"recipe": "caae_affectnet", "points": rows + older, "summary": summary})
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    md = budget.markdown({**_doc(four_runs, [0, 1]), "points": rows + older, "summary": summary})
    assert "| 0.5x | 1 |" in md and "| 1x | 2 |" in md and "| 2x | 4 |" in md


def test_multiples_are_named_alike_in_table_and_figure():
    """Whole multiples keep every digit (a 128x curve is not '1.3e+02x'); a fraction shows two decimals."""
    assert [budget._times(m) for m in (1, 16, 128, 7 / 12, 0.5)] == ["1x", "16x", "128x", "0.58x", "0.5x"]


def test_collect_refuses_an_unfinished_run(tmp_path):
    p = budget.plan_points([1], [0], tmp_path)[0]
    with pytest.raises(FileNotFoundError, match="budget-x1-seed0"):
        budget.collect([p])


def _doc(points, seeds, smoke=True):
    rows = budget.collect(points)
    return {"recipe": "caae_affectnet", "smoke": smoke, "base_steps": 2, "multiples": [1, 2], "seeds": seeds,
            "machine": {"cpu": "test cpu", "cpu_count": 2, "platform": "test"}, "points": rows,
            "summary": budget.summarize(rows)}


def test_write_outputs_json_md_png(tmp_path, four_runs):
    out = tmp_path / "out"
    files = budget.write_outputs(out, _doc(four_runs, [0, 1]))
    assert files == {"json": out / "budget.json", "md": out / "budget.md", "png": out / "budget.png"}
    doc = json.loads(files["json"].read_text())
    assert len(doc["points"]) == 4 and [s["multiple"] for s in doc["summary"]] == [1, 2]
    assert doc["summary"][0]["ccc_valence"]["mean"] == 0.5
    md = files["md"].read_text()
    assert "| multiple | steps | image size | width | training time (min) | wall time (min) | CCC valence | " \
           "CCC arousal | identity kept | Fréchet distance |" in md
    assert "| 1x | 2 | 48 | 0.25 | 1.5 (1.0–2.0) | 1.3 (1.2–1.5) | 0.500 (0.250–0.750) | 0.375 (0.250–0.500) | " \
           "0.625 (0.500–0.750) | 15 (10–20) |" in md
    assert "| 2x | 4 | 48 | 0.25 | 4.2 (3.3–5.0) | 4.5 (3.5–5.5) | 0.500 (0.500–0.500) | 0.625 (0.500–0.750) | " \
           "0.750 (0.500–1.000) | n/a |" in md
    assert "numbers mean nothing" in md and "test cpu, 2 CPUs" in md
    assert files["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*.tmp"))  # atomic writes leave no temporary file


def test_one_seed_shows_plain_values_and_missing_frechet(tmp_path):
    pts = budget.plan_points([1], [0], tmp_path)
    fake_run(pts[0], 0.5, 0.25, 0.75, 900.0, [960.0])
    files = budget.write_outputs(tmp_path / "out", _doc(pts, [0], smoke=False))
    md = files["md"].read_text()
    assert f"| 1x | {SYNTH['steps']} | 48 | 0.25 | 15.0 | 16.0 | 0.500 | 0.250 | 0.750 | n/a |" in md
    assert "Fréchet distance: n/a" in md and "numbers mean nothing" not in md
    assert json.loads(files["json"].read_text())["points"][0]["frechet_distance"] is None


def test_cells_of_negative_and_zero_values():
    fmt = budget.COLUMNS[2][2]
    assert budget._cell({"mean": -0.25, "min": -0.5, "max": -0.0001, "n": 2}, fmt, True) == "-0.250 (-0.500–0.000)"
    assert budget._cell({"mean": -0.25, "min": -0.5, "max": 0.0, "n": 2}, fmt, False) == "-0.250"
    assert budget._cell(None, fmt, True) == "n/a"


def _args(tmp_path, **kw):
    p = argparse.ArgumentParser()
    budget.add_arguments(p)
    a = p.parse_args(["--out", str(tmp_path)])
    for k, v in kw.items():
        setattr(a, k, v)
    return a


def test_main_reuses_finished_runs(tmp_path, four_runs, monkeypatch, capsys):
    def no_training(*a, **k):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(budget, "run_point", no_training)
    assert budget.main(_args(tmp_path, smoke=True, multiples=[1, 2], seeds=[0, 1])) == 0
    out = capsys.readouterr().out
    assert out.count("reused") == 4 and "[4/4]" in out
    doc = json.loads((tmp_path / "budget.json").read_text())
    assert doc["smoke"] and doc["seeds"] == [0, 1] and len(doc["points"]) == 4
    assert (tmp_path / "budget.md").exists() and (tmp_path / "budget.png").exists()
    # Other recipe flags than the finished runs': refused, not silently mixed.
    assert budget.main(_args(tmp_path, smoke=True, multiples=[1], seeds=[0], extra=["--width", "0.5"])) == 2
    assert "use another --out" in capsys.readouterr().err


def test_failed_run_names_its_log_and_last_lines(tmp_path):
    p = budget.plan_points([1], [0], tmp_path, smoke=True)[0]
    Path(p["run_dir"]).mkdir(parents=True)
    log_path = tmp_path / "logs" / "x.log"
    cmd = [sys.executable, "-c", "print('first line'); print('the cause of failure'); raise SystemExit(3)"]
    with pytest.raises(RuntimeError) as e:
        budget.run_point(p, cmd, log_path)
    msg = str(e.value)
    assert "exit status 3" in msg and str(log_path) in msg and "the cause of failure" in msg
    walls = json.loads((Path(p["run_dir"]) / budget.WALL_FILE).read_text())
    assert walls["invocations"][0]["exit_status"] == 3  # the failed attempt's time is kept
    with pytest.raises(RuntimeError, match="without an evaluation"):
        budget.run_point(p, [sys.executable, "-c", "pass"], log_path)


# A stand-in for the training run: it takes SIGINT the way training does (stop, then exit with status 3, as after
# saving its checkpoint), says when its handler is in place, and records the signal it got.
_CHILD = """
import signal, sys, time
from pathlib import Path
d = Path(sys.argv[1])
got = []
signal.signal(signal.SIGINT, lambda s, f: got.append(s))
(d / "ready").write_text("1")
t0 = time.monotonic()
while not got and time.monotonic() - t0 < 120:
    time.sleep(0.05)
(d / "child_got").write_text(signal.Signals(got[0]).name if got else "nothing")
sys.exit(3)
"""

# The budget command, its training command replaced by the stand-in.
_PARENT = """
import sys
from tfgan_emotion import budget, cli
from pathlib import Path
budget.train_command = lambda *a, **k: [sys.executable, "-c", sys.argv[2], sys.argv[1]]
Path(budget.plan_points([1], [0], Path(sys.argv[1]), smoke=True)[0]["run_dir"]).mkdir(parents=True)
sys.exit(cli.main(["budget", "--smoke", "--multiples", "1", "--out", sys.argv[1]]))
"""


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_a_signal_to_the_budget_alone_reaches_the_training_run(tmp_path, sig):
    """Ctrl-C in a terminal signals the whole process group; kill -INT or a scheduler's SIGTERM reaches the budget
    process alone, and must still let the running training save its checkpoint (it gets SIGINT) before both exit."""
    import signal

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT)] + [os.environ.get("PYTHONPATH", "")]))
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, str(tmp_path), _CHILD], env=env,
                              start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        t0 = time.monotonic()
        while not (tmp_path / "ready").exists():
            assert parent.poll() is None, parent.stdout.read()
            assert time.monotonic() - t0 < 60, "the stand-in run never started"
            time.sleep(0.05)
        os.kill(parent.pid, getattr(signal, sig))
        out, _ = parent.communicate(timeout=60)
    finally:
        if parent.poll() is None:
            os.killpg(parent.pid, signal.SIGKILL)
    assert (tmp_path / "child_got").read_text() == "SIGINT"
    assert parent.returncode == 130, out
    assert "run the same command again to resume" in out
    run_dir = Path(budget.plan_points([1], [0], tmp_path, smoke=True)[0]["run_dir"])
    walls = json.loads((run_dir / budget.WALL_FILE).read_text())
    last = walls["invocations"][-1]  # the stopped invocation's time and exit status are kept
    assert last["exit_status"] == 3 and last["interrupted"] and not last["finished"] and last["wall_seconds"] > 0


@pytest.mark.parametrize("bad", ["0", "x", "-2", "1,,4", "2.5"])
def test_bad_multiples_are_rejected(bad, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["budget", f"--multiples={bad}"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--multiples" in err and ("not allowed" in err or "not a whole number" in err)


def test_bad_seeds_recipe_and_extra_are_rejected(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.main(["budget", "--seeds=-1"])
    assert "each seed must be >= 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["budget", "--recipe", "dcgan_fer2013"])
    assert "invalid choice: 'dcgan_fer2013' (choose from 'caae_affectnet')" in capsys.readouterr().err
    # Through main() with a Namespace (the Python way in): the same checks, exit status 2, nothing written.
    assert budget.main(_args(tmp_path / "a", recipe="dcgan_fer2013")) == 2
    assert "unsupported recipe 'dcgan_fer2013'" in capsys.readouterr().err
    assert budget.main(_args(tmp_path / "b", multiples="1,x")) == 2
    assert "--multiples: 'x' is not a whole number" in capsys.readouterr().err
    assert cli.main(["budget", "--out", str(tmp_path / "c"), "--extra", "--steps", "5"]) == 2
    assert "--extra may not set --steps" in capsys.readouterr().err
    assert not any((tmp_path / d).exists() for d in "abc")


def test_cli_import_stays_free_of_tensorflow():
    code = "import sys, tfgan_emotion.cli as c; c.build_parser(); sys.exit('tensorflow' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=ROOT)
    assert res.returncode == 0


@pytest.mark.e2e
def test_budget_smoke_curve_end_to_end(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    cmd = [sys.executable, "-m", "tfgan_emotion.cli", "budget", "--smoke", "--multiples", "1,2", "--seeds", "0",
           "--out", str(tmp_path / "b")]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    out = tmp_path / "b"
    for m in (1, 2):
        run = out / "runs" / f"budget-smoke-x{m}-seed0"
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["step"] == 2 * m and "table4_edits" in metrics
        assert (out / "logs" / f"budget-smoke-x{m}-seed0.log").exists()
        assert f"[{m}/2]" in res.stdout
    assert not (tmp_path / "reports").exists()  # the runs' reports stay under --out
    doc = json.loads((out / "budget.json").read_text())
    assert [(p["multiple"], p["steps"]) for p in doc["points"]] == [(1, 2), (2, 4)]
    for p in doc["points"]:
        assert p["image_size"] == SYNTH["image_size"] and p["wall_seconds"] > 0 and p["training_seconds"] >= 0
        assert all(isinstance(p[k], float) for k in ("ccc_valence", "ccc_arousal", "identity_kept"))
    md = (out / "budget.md").read_text()
    assert "| 1x | 2 |" in md and "| 2x | 4 |" in md
    assert (out / "budget.png").read_bytes()[:4] == b"\x89PNG"
    # Again: both runs reused, nothing trained (no TensorFlow in the process), so a few seconds.
    t0 = time.monotonic()
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    wall = time.monotonic() - t0
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("reused") == 2 and "training budget-" not in again.stdout
    assert wall < 60
    assert [p["ccc_valence"] for p in json.loads((out / "budget.json").read_text())["points"]] == \
        [p["ccc_valence"] for p in doc["points"]]
