"""Test session set-up: split the CPU into two logical devices before TensorFlow initialises, so that tests can run
a real MirroredStrategy with 2 replicas; keep TensorFlow's C++ logging quiet."""
import os
import re
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pytest  # noqa: E402

import tfgan_emotion  # noqa: E402,F401  (before TensorFlow, as for every user: it chooses TensorFlow's CPU kernels)
import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(_cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)


_TF_NATIVE_LOG = re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\)|[IWEF]\d{4} [\d:.]+\s+\d+ "
                            r"\S+\.cc:\d+\]|To enable the following instructions: )")


def own_lines(stderr: str) -> list[str]:
    """The non-empty lines of a subprocess's stderr, less the start-up lines TensorFlow's native logging writes
    whatever TF_CPP_MIN_LOG_LEVEL says (TensorFlow 2.21 CPU builds: oneDNN, CUDA stub, CPU features)."""
    return [line for line in stderr.splitlines() if line.strip() and not _TF_NATIVE_LOG.match(line)]


@contextmanager
def keras_policy(name: str):
    """Set the global Keras precision policy for a block and restore the previous one afterwards."""
    import keras

    old = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(old)


@pytest.fixture
def float32_policy():
    """Run a test under the float32 Keras policy and restore the previous policy afterwards."""
    with keras_policy("float32"):
        yield


@pytest.fixture(scope="session")
def mirrored_cpu():
    """One MirroredStrategy over the two logical CPUs for the whole session: separate MirroredStrategy objects over
    the same devices in one process allocate colliding collective instance keys, so their all-reduces mix up."""
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


@pytest.fixture
def no_network(monkeypatch):
    """Fail the test if anything tries to reach the network (no weight or dataset downloads)."""
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


ROOT = Path(__file__).resolve().parent.parent
# The recipes whose smoke runs the default tier shares, trained from the first request on in this order (the slowest
# first); any other recipe's smoke run (the
# Fashion-MNIST and CIFAR-10 cGANs, in the e2e tier) is trained when a test asks for it.
SMOKE_RECIPES = ("ganmut_affwild2", "caae_affectnet", "fexgan_ferg", "dcgan_fer2013", "cgan_faces")


def run_recipe(recipe: str, *args, timeout=900):
    """``python recipes/<recipe>.py ARGS`` as a user runs it, from this checkout."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, str(ROOT / "recipes" / f"{recipe}.py"), *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=timeout)


def _shared_base(tmp_path_factory, name: str) -> Path:
    """A folder for runs shared by the whole test session: under pytest-xdist, one folder all workers of the session
    see (the parent of each worker's base folder); otherwise one in this session's base folder."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    path = base / name
    path.mkdir(parents=True, exist_ok=True)
    return path


class SharedRuns:
    """Recipe runs trained once per test session and shared by the tests that read them, also across pytest-xdist
    workers. The first process that asks for a run claims it (an exclusive create of ``<name>.claim``) and trains it in
    the background, two at a time; it records the run's output in ``<name>/stdout.txt``, ``stderr.txt`` and, last,
    ``returncode``. Another process asking for it waits for that record. A claimed run that never started when its
    process ends is released (its claim removed), and a waiting process then trains it itself.
    ``runs[key]`` returns ``(root, completed process)``. Subclasses say what a key trains (:meth:`command`)."""

    WAIT_S = 3600

    def __init__(self, base: Path, keys=()):
        from concurrent.futures import ThreadPoolExecutor

        self.base = base
        self.pool = ThreadPoolExecutor(max_workers=2)
        self.futures = {}
        for key in keys:
            self._start(key)

    def name(self, key) -> str:
        return key if isinstance(key, str) else "-".join(key)

    def command(self, key, root: Path) -> tuple:
        """(recipe, its arguments) that train run ``key`` into ``root``."""
        raise NotImplementedError

    def _claim(self, key) -> bool:
        try:
            os.close(os.open(self.base / f"{self.name(key)}.claim", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return True
        except FileExistsError:
            return False

    def _start(self, key):
        if key not in self.futures and self._claim(key):
            self.futures[key] = self.pool.submit(self._train, key)

    def _train(self, key):
        root = self.base / self.name(key)
        recipe, args = self.command(key, root)
        try:
            res = run_recipe(recipe, *args)
        except subprocess.TimeoutExpired as e:        # recorded too, so that no other process waits for it in vain
            def text(out):
                return out.decode(errors="replace") if isinstance(out, bytes) else (out or "")
            res = subprocess.CompletedProcess(e.cmd, -1, text(e.stdout),
                                              text(e.stderr) + f"\ntimed out after {e.timeout} s")
        root.mkdir(parents=True, exist_ok=True)
        (root / "stdout.txt").write_text(res.stdout)
        (root / "stderr.txt").write_text(res.stderr)
        tmp = root / ".returncode.tmp"
        tmp.write_text(str(res.returncode))
        tmp.replace(root / "returncode")
        return root, res

    def _recorded(self, key):
        """Wait for another process's record of run ``key`` (or train it here if that process released it)."""
        import time

        root = self.base / self.name(key)
        deadline = time.monotonic() + self.WAIT_S
        while not (root / "returncode").exists():
            if not (self.base / f"{self.name(key)}.claim").exists() and self._claim(key):
                return self._train(key)
            if time.monotonic() > deadline:
                raise TimeoutError(f"shared run {self.name(key)} not recorded within {self.WAIT_S} s")
            time.sleep(1.0)
        res = subprocess.CompletedProcess(self.command(key, root)[0], int((root / "returncode").read_text()),
                                          (root / "stdout.txt").read_text(), (root / "stderr.txt").read_text())
        return root, res

    def __getitem__(self, key):
        self._start(key)
        if key in self.futures:
            return self.futures[key].result()
        return self._recorded(key)

    def close(self):
        for key, future in self.futures.items():
            if future.cancel():                      # claimed but never started: let another process train it
                (self.base / f"{self.name(key)}.claim").unlink(missing_ok=True)
        self.pool.shutdown(wait=True)


class SmokeRuns(SharedRuns):
    """Every recipe's ``--smoke`` run, shared by the recipe, compare, study, edit, evaluate/export and API tests and
    trained from the first request on (the default tier's five, slowest first). ``runs[r]`` waits for recipe ``r`` and
    returns ``(root, completed process)``: the run is ``root/runs/smoke-synthetic-seed0``, its report
    ``root/reports/<r>/smoke-synthetic-seed0``. Tests must not modify these runs."""

    def command(self, recipe, root):
        return recipe, ("--smoke", "--out", root / "runs", "--reports", root / "reports")

    def __getitem__(self, recipe):
        root, res = super().__getitem__(recipe)
        assert res.returncode == 0, f"{recipe} smoke run failed:\n{res.stderr[-3000:]}"
        return root, res

    def run_dir(self, recipe) -> Path:
        return self[recipe][0] / "runs" / "smoke-synthetic-seed0"


@pytest.fixture(scope="session")
def smoke_runs(tmp_path_factory):
    runs = SmokeRuns(_shared_base(tmp_path_factory, "smoke"), SMOKE_RECIPES)
    yield runs
    runs.close()


@pytest.fixture(scope="session")
def compare_smoke(tmp_path_factory, smoke_runs):
    """``tfgan-emotion compare --smoke`` on the shared smoke runs of the compared systems (--reuse): the comparison's
    output folder (compare.json, the report, the evaluation network)."""
    import argparse

    from tfgan_emotion import compare

    out = tmp_path_factory.mktemp("compare") / "out"
    p = argparse.ArgumentParser()
    compare.add_arguments(p)
    reuse = [str(smoke_runs.run_dir(r)) for r in compare.SYSTEMS]
    assert compare.main(p.parse_args(["--smoke", "--out", str(out), "--reuse", *reuse])) == 0
    return out


# ------------------------------------------------------------------ own-data runs
# The form of tests/owndata.py's datasets on which each recipe's own-data run is also evaluated; its runs on the other
# forms train, export and report with --skip-eval (what differs between the forms is the reading, which training
# covers; the evaluation on the data's classes is checked on this form, by the matrix and the per-system tests).
EVALUATED_FORM = {"caae_affectnet": "names", "fexgan_ferg": "names", "dcgan_fer2013": "names", "cgan_faces": "names",
                  "cgan_fashion_mnist": "indices", "cgan_cifar10": "names", "ganmut_affwild2": "names"}


class OwnRuns(SharedRuns):
    """``--smoke`` runs of recipes on the own-data datasets, shared by the own-data matrix and the per-system own-data
    tests. ``runs[(recipe, form)]`` waits for that run and returns ``(root, completed process)``: the run is
    ``root/runs/own``, its report ``root/reports/<recipe>/own/report.md``. Tests must not modify these runs."""

    def __init__(self, base: Path, datasets: dict, keys=()):
        self.datasets = datasets
        super().__init__(base, keys)

    def command(self, key, root):
        import owndata

        recipe, form = key
        flags = owndata.recipe_flags(self.datasets[form], recipe)
        if EVALUATED_FORM[recipe] != form:
            flags.append("--skip-eval")
        return recipe, (*flags, "--smoke", "--out", root / "runs", "--run", "own", "--reports", root / "reports")


@pytest.fixture(scope="session")
def own_datasets(tmp_path_factory):
    """tests/owndata.py's small datasets, one per accepted form, written once per test process: {form: Built}. (Under
    pytest-xdist each worker writes its own; they are identical, so a shared run trained on one worker's copy
    answers for all.)"""
    import owndata

    tmp = tmp_path_factory.mktemp("own")
    return {form: owndata.build(tmp, form) for form in owndata.FORMS}


@pytest.fixture(scope="session")
def own_runs(request, own_datasets, tmp_path_factory):
    """The shared own-data runs; those the selected matrix tests train are claimed at the first request, in the order
    the tests were collected, and any other when a test asks for it."""
    selected = [(item.callspec.params["name"], item.callspec.params["form"]) for item in request.session.items
                if getattr(item, "originalname", None) == "test_every_system_trains_on_own_data"]
    runs = OwnRuns(_shared_base(tmp_path_factory, "own-runs"), own_datasets, selected)
    yield runs
    runs.close()


def _needs_shared_run(item) -> bool:
    return bool({"smoke_runs", "compare_smoke", "own_runs"} & set(getattr(item, "fixturenames", ())))


def pytest_collection_modifyitems(config, items):
    """Every test that needs a trained smoke or own-data run, and every e2e and stress test, is slow (``pytest -m
    "not slow"`` is the quick tier; a ``-m`` given on the command line replaces the default ``-m "not e2e and not
    stress"``)."""
    for item in items:
        if _needs_shared_run(item) or item.get_closest_marker("e2e") or item.get_closest_marker("stress"):
            item.add_marker(pytest.mark.slow)
