"""Test session set-up: split the CPU into two logical devices before TensorFlow initialises, so that tests can run
a real MirroredStrategy with 2 replicas; keep TensorFlow's C++ logging quiet."""
import os
import sys
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(_cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)


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


@pytest.fixture(scope="session")
def compare_smoke(tmp_path_factory):
    """``tfgan-emotion compare --smoke``'s output folder: five trained smoke runs (runs/<recipe>/compare-smoke-seed0,
    each with its SavedModel) and the comparison. Shared by test_compare and test_study, so the five recipes train
    once per test session (about 70 s)."""
    import argparse

    from tfgan_emotion import compare

    out = tmp_path_factory.mktemp("compare") / "out"
    p = argparse.ArgumentParser()
    compare.add_arguments(p)
    assert compare.main(p.parse_args(["--smoke", "--jobs", "2", "--out", str(out)])) == 0
    return out
