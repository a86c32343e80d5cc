"""The system registry and the commands every system shares: one registry that every consumer lists, one error
path (exit 2, one line, no traceback, no run directory), and `evaluate` / `export` on a finished run and on a run
killed mid-training."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, keras_policy, own_lines, run_recipe
from tfgan_emotion import cli, run, systems

FACE_SYSTEMS = ("caae_affectnet", "fexgan_ferg", "dcgan_fer2013", "cgan_faces", "ganmut_affwild2")


def test_every_consumer_lists_exactly_the_registry(capsys):
    from tfgan_emotion import bench, compare
    from tfgan_emotion.study import make

    names = systems.names()
    assert names == ["caae_affectnet", "fexgan_ferg", "dcgan_fer2013", "cgan_fashion_mnist", "cgan_cifar10",
                     "cgan_faces", "ganmut_affwild2"]
    assert sorted(p.stem for p in (ROOT / "recipes").glob("*.py")) == sorted(names)
    assert cli.main(["train", "--list"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]
    assert listed == names
    assert list(bench.targets()) == names
    assert list(compare.SYSTEMS) == [s.name for s in systems.all_systems() if s.compare is not None]
    assert list(make.studied()) == [s.name for s in systems.all_systems() if s.study is not None]
    assert set(compare.SYSTEMS) == set(make.studied()) == set(FACE_SYSTEMS)
    with pytest.raises(KeyError, match="unknown system 'nope'"):
        systems.get("nope")


@pytest.mark.parametrize("name", systems.names())
def test_every_system_builds_from_its_smoke_plan(name, float32_policy):
    """The smoke preset's config builds the paper's named networks, and the endpoints the system declares are the
    ones its model exports."""
    s = systems.get(name)
    args = s.parser().parse_args(["--smoke"])
    plan = s.plan(args)
    model = s.build(plan.config, args, None)
    nets = model.networks()
    assert nets and all(n.count_params() > 0 for n in nets.values())
    assert tuple(s.endpoints(model)) == s.endpoint_names
    stored = json.loads(json.dumps(run._jsonable(plan.config)))
    assert s.model_config(stored) == plan.config       # config.json round trip -> the same model config
    if "n_classes" in stored:                           # the classes the networks are conditioned on
        assert len(s.vocabulary(stored)) == stored["n_classes"]


def _one_line_exit_2(res, out_root: Path, before: set, *must):
    """Exit status 2, exactly one line on stderr naming ``must``, no traceback, no new run directory."""
    lines = own_lines(res.stderr)
    assert res.returncode == 2, res.stderr[-2000:]
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr
    for word in must:
        assert word in lines[0], lines[0]
    after = set(out_root.rglob("*")) if out_root.exists() else set()
    assert after == before, sorted(map(str, after - before))


# A weights flag each system takes (fexgan, dcgan and the cGAN train their evaluation networks from scratch and
# read no weights file: for them the same request is an unknown flag, refused the same way).
WEIGHTS_FLAG = {"caae_affectnet": "--vggface-weights", "ganmut_affwild2": "--vgg16-weights"}


@pytest.mark.parametrize("name", FACE_SYSTEMS)
def test_usage_errors_exit_2_with_one_line_before_anything_is_created(name, tmp_path):
    out = tmp_path / "runs"
    # 1. A dataset folder that does not exist.
    res = run_recipe(name, "--data-dir", tmp_path / "nowhere", "--out", out)
    _one_line_exit_2(res, out, set(), "nowhere", "--data-dir")
    # 2. A weights file that does not exist.
    flag = WEIGHTS_FLAG.get(name, "--vggface-weights")
    res = run_recipe(name, flag, tmp_path / "missing.h5", "--out", out)
    _one_line_exit_2(res, out, set(), flag, *(("missing.h5", "no such file") if name in WEIGHTS_FLAG else
                                              ("unrecognized arguments",)))
    # 3. Re-running a run with another configuration (the run's config.json as its recipe wrote it).
    s = systems.get(name)
    args = s.parser().parse_args(["--smoke", "--out", str(out)])
    run_dir = out / run.default_run_name(args)
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"recipe": name, "config": {}, "args": run._jsonable(vars(args)),
                                                     "notes": []}))
    before = set(out.rglob("*"))
    res = run_recipe(name, "--smoke", "--out", out, "--batch-size", 7)
    _one_line_exit_2(res, out, before, "batch_size", "--run NEW_NAME")
    # 4. Conflicting flags.
    res = run_recipe(name, "--steps", 3, "--epochs", 1, "--out", out)
    _one_line_exit_2(res, out, before, "--epochs", "not allowed with")


def _kill_mid_training(name: str, out: Path) -> Path:
    """Start a long smoke run, SIGKILL it once it has written a complete checkpoint and is still training."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    log = open(out.parent / f"{name}-killed.log", "w")
    proc = subprocess.Popen([sys.executable, str(ROOT / "recipes" / f"{name}.py"), "--smoke", "--steps", "100000",
                             "--checkpoint-every", "1", "--skip-eval", "--out", str(out), "--run", "killed"],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    ckpt = out / "killed" / "ckpt"
    deadline = time.monotonic() + 600
    try:
        while not list(ckpt.glob("ckpt-*.complete")):
            assert proc.poll() is None, (out.parent / f"{name}-killed.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no checkpoint within 10 minutes"
            time.sleep(0.5)
        time.sleep(1.0)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        log.close()
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "killed" / "export").exists() and not (out / "killed" / "metrics.json").exists()
    return out / "killed"


def _endpoints_answer(run_dir: Path):
    """Every SavedModel endpoint of the run answers with images of the run's shape, through the Python API."""
    import tfgan_emotion as tfe

    model = tfe.load(run_dir)
    assert model.endpoints == model.system.endpoint_names
    n, size, ch = 2, model.image_size, model.channels
    faces = np.zeros((n, size, size, ch), np.float32)
    for endpoint, specs in model.signatures.items():
        inputs = {}
        for spec in specs:
            if spec["name"] in ("image", "z"):
                continue
            shape = [n] + spec["shape"][1:]
            inputs[spec["name"]] = np.zeros(shape, np.int32 if spec["dtype"].startswith("int") else np.float32)
        out = getattr(model, endpoint)(faces if any(s["name"] == "image" for s in specs) else None, n=n, **inputs)
        assert out.shape == (n, size, size, ch) and np.all(np.abs(out) <= 1.0), endpoint


def check_export_and_evaluate(name: str, finished: Path, tmp_path: Path):
    """``tfgan-emotion export --run`` and ``evaluate --run`` on a finished smoke run (a copy) and on a run killed
    mid-training: the exports answer, metrics.json and the report are rewritten."""
    import shutil

    from tfgan_emotion import paths

    runs = tmp_path / "runs"
    runs.mkdir()
    done = runs / "finished"
    shutil.copytree(finished, done)
    killed = _kill_mid_training(name, runs)
    for run_dir in (done, killed):
        cfg = json.loads((run_dir / "config.json").read_text())
        shutil.rmtree(run_dir / "export", ignore_errors=True)
        with keras_policy("float32"):
            assert cli.main(["export", "--run", str(run_dir)]) == 0
        assert sorted(p.stem for p in (run_dir / "export").glob("*.keras"))
        _endpoints_answer(run_dir)
        reports = tmp_path / "reports"
        # An evaluation flag replaces the run's own setting (the smoke defaults differ from 3).
        key = "noise_vectors" if name.startswith("cgan") else "eval_faces"
        with keras_policy("float32"):
            assert cli.main(["evaluate", "--run", str(run_dir), "--reports", str(reports),
                             "--" + key.replace("_", "-"), "3"]) == 0
        m = json.loads((run_dir / paths.METRICS).read_text())
        assert m["evaluation_settings"][key] == 3
        step = max(int(p.name[5:-9]) for p in (run_dir / "ckpt").glob("ckpt-*.complete"))
        assert m["step"] == step >= 1
        assert len(m) > 3, sorted(m)          # the paper's tables, not only the training summary
        md = reports / name / cfg["run"] / "report.md"
        assert "evaluation_settings" in md.read_text() and md.with_suffix(".html").exists()
        # evaluate/export leave the run's own record as training wrote it
        assert json.loads((run_dir / "config.json").read_text())["command"] == cfg["command"]


@pytest.mark.e2e
@pytest.mark.parametrize("name", FACE_SYSTEMS)
def test_export_and_evaluate_a_finished_and_a_killed_run_e2e(name, smoke_runs, tmp_path):
    check_export_and_evaluate(name, smoke_runs.run_dir(name), tmp_path)


def _untrained_run(name: str, root: Path) -> Path:
    """A run directory as a recipe creates it before its first checkpoint: config.json with the smoke flags."""
    s = systems.get(name)
    args = s.parser().parse_args(["--smoke", "--out", str(root)])
    run_dir = root / run.default_run_name(args)
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps({"recipe": s.name, "config": {}, "args": run._jsonable(vars(args)),
                                                     "notes": []}))
    return run_dir


def test_evaluate_refuses_a_setting_the_system_does_not_have(tmp_path, capsys):
    run_dir = _untrained_run("cgan_faces", tmp_path)
    assert cli.main(["evaluate", "--run", str(run_dir), "--eval-faces", "10"]) == 2
    err = capsys.readouterr().err
    assert "--eval-faces" in err and "cgan_faces" in err and err.count("\n") == 1


def test_evaluate_without_a_complete_checkpoint_says_so(tmp_path, capsys):
    run_dir = _untrained_run("cgan_fashion_mnist", tmp_path)
    (run_dir / "ckpt").mkdir()
    (run_dir / "ckpt" / "ckpt-3.index").write_text("torn")       # no .complete marker: never restored
    with keras_policy("float32"):
        assert cli.main(["export", "--run", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "no complete checkpoint" in err and err.count("\n") == 1


@pytest.mark.e2e
def test_readme_python_api_example_runs_verbatim(tmp_path):
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- api-example -->", 1)[1].split("<!-- /api-example -->", 1)[0]
    code = block.split("```python\n", 1)[1].rsplit("```", 1)[0]
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env,
                         timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Model(caae_affectnet" in res.stdout and "edit" in res.stdout
    from PIL import Image

    sheet = np.asarray(Image.open(tmp_path / "edited.png"))
    assert sheet.shape[1] == 4 * sheet.shape[0] and sheet.std() > 0
    run_dir = tmp_path / "runs" / "smoke-synthetic-seed0"
    assert json.loads((run_dir / "metrics.json").read_text())["evaluation_settings"]["eval_faces"] == 4
    assert (run_dir / "export" / "saved_model" / "saved_model.pb").exists()


@pytest.mark.e2e
def test_train_works_from_an_installed_package_in_another_directory(tmp_path):
    """No recipes/ folder and no source checkout: the package alone (as a regular install puts it in
    site-packages) trains, exports and lists its systems."""
    import shutil

    site = tmp_path / "site"
    shutil.copytree(ROOT / "tfgan_emotion", site / "tfgan_emotion", ignore=shutil.ignore_patterns("__pycache__"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(os.environ, PYTHONPATH=str(site), TF_CPP_MIN_LOG_LEVEL="2")
    res = subprocess.run([sys.executable, "-m", "tfgan_emotion.cli", "train", "cgan_fashion_mnist", "--smoke",
                          "--skip-eval", "--out", "runs"], cwd=elsewhere, capture_output=True, text=True, env=env,
                         timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (elsewhere / "runs" / "smoke-synthetic-seed0" / "export" / "saved_model" / "saved_model.pb").exists()
    where = subprocess.run([sys.executable, "-c", "import tfgan_emotion; print(tfgan_emotion.__file__)"],
                           cwd=elsewhere, capture_output=True, text=True, env=env).stdout.strip()
    assert where.startswith(str(site)), where          # the copy ran, not the checkout


def test_a_failing_evaluation_keeps_the_metrics_and_prints_the_resume_command(tmp_path, capsys):
    """The end of a run: when the paper's evaluation raises, the training summary is still in metrics.json, the
    report is written, the exit status is 1, and the message ends with the command that resumes the evaluation."""
    import argparse

    from tfgan_emotion import runtime
    from tfgan_emotion.systems import base

    class Failing(base.System):
        name = "failing"

        def evaluate(self, r, model, plan, data, log):
            raise MemoryError("out of memory in the Table IV edits")

    run_dir = tmp_path / "runs" / "r"
    run_dir.mkdir(parents=True)
    info = runtime.RuntimeInfo("default", 1, ["/cpu:0"])
    r = run.Run("failing", "r", run_dir, argparse.Namespace(reports=tmp_path / "reports"), None, info,
                {"system": "failing"}, [])
    r._write_config()
    status = base._evaluate_and_report(Failing(), r, None, None, None, {"training": {"step": 5}}, 5, lambda m: None)
    assert status == 1
    err = capsys.readouterr().err
    assert "MemoryError: out of memory in the Table IV edits" in err
    assert err.rstrip().endswith(f"tfgan-emotion evaluate --run {run_dir}")
    assert json.loads((run_dir / "metrics.json").read_text()) == {"step": 5, "training": {"step": 5}}
    assert (tmp_path / "reports" / "failing" / "r" / "report.md").exists()


def _readme_section(readme: str, recipe: str) -> str:
    """The README's '## ...' section whose heading names the recipe's script."""
    for part in readme.split("\n## ")[1:]:
        heading = part.split("\n", 1)[0]
        if f"{recipe}.py" in heading:
            return part
    raise AssertionError(f"README has no section whose heading names {recipe}.py")


@pytest.mark.parametrize("name", systems.names())
def test_every_paper_table_and_figure_is_listed_in_the_system_and_the_readme(name):
    """Each system declares every table and figure of its paper with a status; the README's section of that
    system lists the same items with the same status (one line per item)."""
    system = systems.get(name)
    assert system.paper_items, f"{name} declares none of its paper's tables and figures"
    items = [i.item for i in system.paper_items]
    assert len(items) == len(set(items)), f"{name}: an item is listed twice"
    section = _readme_section((ROOT / "README.md").read_text(), name)
    lines = section.splitlines()
    for it in system.paper_items:
        assert any(f"| {it.item} |" in line and f"| {it.status} |" in line for line in lines), (
            f"README section of {name} has no table row naming '{it.item}' with status '{it.status}'")


def test_an_evaluation_records_its_paper_items_and_notes_and_a_second_one_replaces_them(tmp_path):
    """The evaluation's own notes (fallbacks it took) and the paper-item table go to metrics.json, not config.json:
    a second evaluation with other settings replaces them, and the report shows the current ones."""
    import argparse

    from tfgan_emotion import runtime
    from tfgan_emotion.systems import base

    class Noting(base.System):
        name = "noting"
        paper_items = (base.PaperItem("Fig. 2", "heatmaps of 200 faces", "reproduced", "figures/fig2.png"),)

        def evaluate(self, r, model, plan, data, log):
            r.note(f"Fig. 2 from {r.args.faces}")
            return {"table": {"value": 1.0}}

        def coverage(self, args, plan, metrics):
            it = self.paper_items[0]
            return [it.row() if args.faces == "celeba" else it.row("analogue", "fallback faces")]

    run_dir = tmp_path / "runs" / "r"
    run_dir.mkdir(parents=True)
    info = runtime.RuntimeInfo("default", 1, ["/cpu:0"])
    plan = base.Plan(False, None, {})
    report = tmp_path / "reports" / "noting" / "r" / "report.md"
    for faces in ("affectnet", "celeba"):
        args = argparse.Namespace(reports=tmp_path / "reports", faces=faces)
        r = run.Run("noting", "r", run_dir, args, None, info, {"system": "noting"}, ["training note"])
        r._write_config()
        assert base._evaluate_and_report(Noting(), r, None, plan, None, {}, 5, lambda m: None) == 0
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert metrics["evaluation_notes"] == [f"Fig. 2 from {faces}"]
        assert json.loads((run_dir / "config.json").read_text())["notes"] == ["training note"]
        md = report.read_text()
        assert f"Fig. 2 from {faces}" in md and "training note" in md
    assert "Fig. 2 from affectnet" not in md
    assert metrics["paper_items"] == [{"item": "Fig. 2", "shows": "heatmaps of 200 faces", "status": "reproduced",
                                       "how": "figures/fig2.png"}]
    assert "| Fig. 2 | heatmaps of 200 faces | reproduced | figures/fig2.png |" in md


def test_evaluate_takes_every_systems_evaluation_flags_and_refuses_training_flags(tmp_path, capsys):
    """Each system's eval_flags are real flags of its recipe and reach `tfgan-emotion evaluate` with the recipe's
    types; a training flag given to evaluate is refused with the system's own list."""
    parser = cli.build_parser()
    evaluate = next(a for a in parser._subparsers._group_actions[0].choices.values() if a.prog.endswith("evaluate"))
    offered = {a.dest: a for a in evaluate._actions}
    for system in systems.all_systems():
        recipe = {a.dest: a for a in system.parser()._actions}
        assert system.eval_flags, f"{system.name} has no evaluation settings"
        present = [f for f in system.eval_flags if f in recipe]
        assert present, system.name
        for flag in present:
            assert flag in offered and offered[flag].type is recipe[flag].type, (system.name, flag)
    args = parser.parse_args(["evaluate", "--run", "r", "--fig2-faces", "faces", "--va-data", "affectnet"])
    assert cli._eval_overrides(args) == {"fig2_faces": Path("faces"), "affectnet_dir": Path("affectnet")}
    run_dir = _untrained_run("caae_affectnet", tmp_path)
    assert cli.main(["evaluate", "--run", str(run_dir), "--classifier-steps", "5"]) == 2
    err = capsys.readouterr().err
    assert "--classifier-steps: not an evaluation setting of caae_affectnet runs" in err and "--fig2-faces" in err


@pytest.mark.e2e
def test_the_python_api_runs_the_users_own_keras_callbacks(tmp_path, float32_policy):
    import keras

    import tfgan_emotion as tfe

    class Seen(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.steps, self.keys = [], set()

        def on_train_batch_end(self, batch, logs=None):
            self.steps.append(int(self.model.global_step.numpy()))
            self.keys |= set(logs or {})

    seen = Seen()
    run_dir = tfe.train("dcgan_fer2013", smoke=True, skip_eval=True, out=tmp_path / "runs",
                        reports=tmp_path / "reports", callbacks=[seen])
    # both phases of the two-phase schedule (the GAN, then the encoder), one call per step of the run
    assert seen.steps == list(range(json.loads((run_dir / "metrics.json").read_text())["step"]))
    assert {"d_loss", "g_loss"} <= seen.keys and any(k.startswith("e_") or "enc" in k for k in seen.keys)
