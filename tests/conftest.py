"""Test session set-up: split the CPU into two logical devices before TensorFlow initialises, so that tests can run
a real MirroredStrategy with 2 replicas; keep TensorFlow's C++ logging quiet."""
import os
import re
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
    import subprocess

    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, str(ROOT / "recipes" / f"{recipe}.py"), *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=timeout)


class SmokeRuns:
    """Every recipe's ``--smoke`` run, trained once per test session (two at a time, in the background from the
    first request on) and shared by the recipe, compare, study, edit, evaluate/export and API tests. ``runs[r]``
    waits for recipe ``r`` and returns ``(root, completed process)``: the run is ``root/runs/smoke-synthetic-seed0``,
    its report ``root/reports/<r>/smoke-synthetic-seed0``. Tests must not modify these runs."""

    def __init__(self, base: Path):
        from concurrent.futures import ThreadPoolExecutor

        self.base = base
        self.pool = ThreadPoolExecutor(max_workers=2)
        self.futures = {r: self.pool.submit(self._train, r) for r in SMOKE_RECIPES}

    def _train(self, recipe):
        root = self.base / recipe
        res = run_recipe(recipe, "--smoke", "--out", root / "runs", "--reports", root / "reports")
        return root, res

    def __getitem__(self, recipe):
        if recipe not in self.futures:
            self.futures[recipe] = self.pool.submit(self._train, recipe)
        root, res = self.futures[recipe].result()
        assert res.returncode == 0, f"{recipe} smoke run failed:\n{res.stderr[-3000:]}"
        return root, res

    def run_dir(self, recipe) -> Path:
        return self[recipe][0] / "runs" / "smoke-synthetic-seed0"


@pytest.fixture(scope="session")
def smoke_runs(tmp_path_factory):
    runs = SmokeRuns(tmp_path_factory.mktemp("smoke"))
    yield runs
    runs.pool.shutdown(wait=True, cancel_futures=True)


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


def _needs_smoke(item) -> bool:
    return bool({"smoke_runs", "compare_smoke"} & set(getattr(item, "fixturenames", ())))


def pytest_collection_modifyitems(config, items):
    """Every test that needs a trained smoke run, and every e2e and stress test, is slow (``pytest -m "not slow"`` is
    the quick tier; a ``-m`` given on the command line replaces the default ``-m "not e2e and not stress"``)."""
    for item in items:
        if _needs_smoke(item) or item.get_closest_marker("e2e") or item.get_closest_marker("stress"):
            item.add_marker(pytest.mark.slow)
