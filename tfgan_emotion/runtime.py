"""Where and how a run executes: the tf.distribute strategy, the Keras precision policy, and seeding.

Call order matters in TensorFlow: :func:`split_cpu` and :func:`make_strategy` (``multi_worker`` above all) must run
before any other TensorFlow op creates the runtime, so recipes call :func:`setup` first thing.
"""
from __future__ import annotations

import contextlib
import json
import os
import random
import sys
from dataclasses import asdict, dataclass, field

import numpy as np

STRATEGIES = ("auto", "default", "mirrored", "multi_worker")
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")


@dataclass
class RuntimeInfo:
    """What the run actually got; saved under ``runtime`` in the run's config.json."""

    strategy: str
    replicas: int
    devices: list = field(default_factory=list)
    precision: str = "float32"
    precision_reason: str = ""
    workers: int = 1
    task_index: int = 0
    seed: int | None = None
    deterministic: bool = False

    @property
    def is_chief(self) -> bool:
        return self.task_index == 0

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        workers = f", {self.workers} workers (this is task {self.task_index})" if self.workers > 1 else ""
        return (f"strategy {self.strategy}: {self.replicas} replica(s) on {', '.join(self.devices)}{workers}; "
                f"precision {self.precision} ({self.precision_reason})")


def split_cpu(n: int) -> None:
    """Split the physical CPU into ``n`` logical devices, so that MirroredStrategy can run ``n`` real replicas on a
    CPU-only machine (used by tests and for checking multi-replica code paths). Must run before TF initialises."""
    import tensorflow as tf

    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * n)


def make_strategy(name: str = "auto"):
    """Build the tf.distribute strategy named by ``--strategy``.

    ``auto``: MirroredStrategy over all GPUs when there is at least one, else the default (single-device) strategy.
    ``default``: the default strategy on the first device. ``mirrored``: MirroredStrategy over all GPUs, or over all
    logical CPU devices when there is no GPU. ``multi_worker``: MultiWorkerMirroredStrategy configured from the
    ``TF_CONFIG`` environment variable (cluster + task), which must be set.
    """
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--strategy multi_worker needs the TF_CONFIG environment variable (a JSON cluster spec "
                             "with 'worker' addresses and this process's 'task' index); see the README, 'Many workers'")
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        return tf.distribute.MirroredStrategy() if gpus else tf.distribute.get_strategy()
    if name == "mirrored":
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices=devices)
    return tf.distribute.get_strategy()


def strategy_devices(strategy) -> list[str]:
    import tensorflow as tf

    if strategy is not tf.distribute.get_strategy() or tf.distribute.has_strategy():
        return list(strategy.extended.worker_devices)

    gpus = tf.config.list_logical_devices("GPU")
    return [(gpus or tf.config.list_logical_devices("CPU"))[0].name]


def cpu_has_native_bf16() -> bool:
    """True where the CPU advertises AMX-BF16 or AVX512-BF16 (Linux /proc/cpuinfo flags)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def gpu_compute_capabilities() -> list[tuple[int, int]]:
    import tensorflow as tf

    caps = []
    for gpu in tf.config.list_physical_devices("GPU"):
        cc = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        if cc:
            caps.append(tuple(cc))
    return caps


def resolve_precision(name: str = "auto") -> tuple[str, str]:
    """Return ``(policy, reason)`` for ``--precision``.

    ``auto`` picks ``mixed_bfloat16`` where the hardware runs bf16 natively (every GPU of compute capability >= 8.0,
    or, without GPUs, a CPU with AMX/AVX512-BF16), else ``float32``.
    """
    if name not in PRECISIONS:
        raise ValueError(f"unknown precision {name!r}; choose one of {', '.join(PRECISIONS)}")
    if name != "auto":
        return name, "requested"
    caps = gpu_compute_capabilities()
    if caps:
        if min(caps) >= (8, 0):
            return "mixed_bfloat16", f"auto: GPU compute capability {min(caps)[0]}.{min(caps)[1]} >= 8.0"
        return "float32", f"auto: GPU compute capability {min(caps)[0]}.{min(caps)[1]} < 8.0 has no fast bf16"
    if cpu_has_native_bf16():
        return "mixed_bfloat16", "auto: CPU has native bf16 (AMX/AVX512-BF16)"
    return "float32", "auto: no native bf16 on this CPU"


@contextlib.contextmanager
def float32_policy():
    """Build Keras layers in float32 whatever the global precision policy is, then restore it.

    For networks whose precision is not a training choice: the depthwise-convolution evaluation readers
    (EfficientNet-B0, MobileNetV2; on the AMX CPU a float32 EfficientNet-B0 training step was 2x faster than
    mixed_bfloat16, 0.42 s vs 0.8 s at batch 64, 32x32, since depthwise convolutions get no bf16 kernel there) and
    the MTCNN face detector (its package's numpy post-processing cannot mix bfloat16 outputs with int64)."""
    import keras

    before = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(before)


def set_precision(policy: str) -> None:
    import keras

    keras.mixed_precision.set_global_policy(policy)


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and TensorFlow (``keras.utils.set_random_seed``); with ``deterministic`` also turn on
    TensorFlow's op determinism (slower; some GPU ops then refuse to run)."""
    import keras
    import tensorflow as tf

    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def tf_config_task() -> tuple[int, int]:
    """(number of workers, this task's index) from TF_CONFIG, or (1, 0) without it."""
    cfg = os.environ.get("TF_CONFIG")
    if not cfg:
        return 1, 0
    try:
        spec = json.loads(cfg)
        return len(spec["cluster"]["worker"]), int(spec["task"]["index"])
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"TF_CONFIG is not a valid cluster spec ({e}): expected "
                         '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": i}}') from e


def setup(strategy: str = "auto", precision: str = "auto", seed: int | None = None, deterministic: bool = False,
          logical_cpus: int = 0, quiet: bool = False):
    """Build strategy and precision policy, seed, and report the devices. Returns ``(strategy, RuntimeInfo)``."""
    if logical_cpus > 1:
        split_cpu(logical_cpus)
    strat = make_strategy(strategy)
    policy, reason = resolve_precision(precision)
    set_precision(policy)
    if seed is not None:
        seed_everything(seed, deterministic)
    workers, task = tf_config_task() if strategy == "multi_worker" else (1, 0)
    import tensorflow as tf

    if strat is tf.distribute.get_strategy():
        label = "default"
    elif isinstance(strat, tf.distribute.MultiWorkerMirroredStrategy):
        label = "MultiWorkerMirroredStrategy"  # its class is named CollectiveAllReduceStrategy
    else:
        label = type(strat).__name__
    info = RuntimeInfo(strategy=label,
                       replicas=int(strat.num_replicas_in_sync), devices=strategy_devices(strat), precision=policy,
                       precision_reason=reason, workers=workers, task_index=task, seed=seed,
                       deterministic=deterministic)
    if not quiet:
        print(f"[tfgan-emotion] {info.describe()}", file=sys.stderr, flush=True)
    return strat, info
