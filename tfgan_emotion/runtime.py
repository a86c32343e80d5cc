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


# The longest a multi-worker collective (a step's all-reduce) waits for the other workers before it fails. It
# bounds the wait on a worker that hangs without dying; it must exceed the longest pause of one worker between two
# steps (the chief writing a checkpoint or a sample grid, the first step's tracing and compiling).
COLLECTIVE_TIMEOUT_S = 600.0


def make_strategy(name: str = "auto"):
    """Build the tf.distribute strategy named by ``--strategy``.

    ``auto``: MirroredStrategy over all GPUs when there is at least one, else the default (single-device) strategy.
    ``default``: the default strategy on the first device. ``mirrored``: MirroredStrategy over all GPUs, or over all
    logical CPU devices when there is no GPU. ``multi_worker``: MultiWorkerMirroredStrategy configured from the
    ``TF_CONFIG`` environment variable (cluster + task), which must be set.

    Under ``multi_worker`` a worker that dies is noticed by the others within seconds (TensorFlow's coordination
    service stops hearing its heartbeats, or its connection drops) and their collectives abort; a worker that is
    alive but stuck is caught by the collectives' timeout, :data:`COLLECTIVE_TIMEOUT_S`. Training then stops on
    every worker with :class:`training.WorkerLost`.
    """
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--strategy multi_worker needs the TF_CONFIG environment variable (a JSON cluster spec "
                             "with 'worker' addresses and this process's 'task' index); see the README, 'Many workers'")
        options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=COLLECTIVE_TIMEOUT_S)
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
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
    or, without GPUs, a CPU with AMX/AVX512-BF16), else ``float32``. An explicit ``mixed_bfloat16`` on a CPU without
    native bf16, or on a GPU of compute capability < 8.0, is honoured, and its reason says what it costs.
    """
    if name not in PRECISIONS:
        raise ValueError(f"unknown precision {name!r}; choose one of {', '.join(PRECISIONS)}")
    caps = gpu_compute_capabilities()
    low = min(caps) if caps else None          # the slowest GPU decides
    cc = f"{low[0]}.{low[1]}" if low else ""
    if name == "mixed_bfloat16" and not low and not cpu_has_native_bf16():
        return name, ("requested; this CPU has no native bf16, so bf16 runs through conversions, several times "
                      "slower than float32, which --precision auto picks here")
    if name == "mixed_bfloat16" and low and low < (8, 0):
        return name, (f"requested; a GPU of compute capability {cc} has no bf16 tensor cores (they start at 8.0), "
                      "so bf16 is likely slower than float32, which --precision auto picks here"
                      + ("; mixed_float16 uses this GPU's float16 tensor cores" if low >= (7, 0) else ""))
    if name != "auto":
        return name, "requested"
    if low:
        if low >= (8, 0):
            return "mixed_bfloat16", f"auto: GPU compute capability {cc} >= 8.0"
        return "float32", f"auto: GPU compute capability {cc} < 8.0 has no fast bf16"
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
          logical_cpus: int = 0, quiet: bool = False, auto_precision: tuple[str, str] | None = None):
    """Build strategy and precision policy, seed, and report the devices. Returns ``(strategy, RuntimeInfo)``.
    ``auto_precision``: ``(policy, reason)`` that ``precision="auto"`` means for this run instead of the hardware
    rule of :func:`resolve_precision` (a recipe whose small default networks measured better in float32)."""
    if logical_cpus > 1:
        split_cpu(logical_cpus)
    strat = make_strategy(strategy)
    if precision == "auto" and auto_precision is not None:
        policy, reason = resolve_precision(auto_precision[0])[0], auto_precision[1]
    else:
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


# --------------------------------------------------------------------------------------------------------------------
# The environment: `tfgan-emotion doctor`, and config.json "environment" of every run
# --------------------------------------------------------------------------------------------------------------------
_DRIVER: dict | None = None


def nvidia_driver() -> dict:
    """``{"driver_version", "source", "gpus": [{"name", "memory_total"}]}``: from ``nvidia-smi`` when it is on the
    PATH, else from ``/proc/driver/nvidia/version`` (no GPU list then), else ``driver_version`` "none". Asked once
    per process; later calls return the first answer."""
    global _DRIVER
    if _DRIVER is None:
        _DRIVER = _query_driver()
    return {**_DRIVER, "gpus": [dict(g) for g in _DRIVER["gpus"]]}


def _query_driver() -> dict:
    import re
    import shutil
    import subprocess

    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "--query-gpu=driver_version,name,memory.total", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=30)
            rows = [[c.strip() for c in line.split(",")] for line in out.stdout.splitlines() if line.strip()]
            rows = [r for r in rows if len(r) >= 3]
            if out.returncode == 0 and rows:
                return {"driver_version": rows[0][0], "source": "nvidia-smi",
                        "gpus": [{"name": r[1], "memory_total": r[2]} for r in rows]}
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        text = open("/proc/driver/nvidia/version").read()
    except OSError:
        text = ""
    m = re.search(r"Kernel Module.*?\s(\d+\.\d+(?:\.\d+)?)\s", text)
    if m:
        return {"driver_version": m.group(1), "source": "/proc/driver/nvidia/version", "gpus": []}
    return {"driver_version": "none", "source": "none", "gpus": []}


def source_commit() -> dict:
    """``{"commit", "dirty"}`` of the git checkout this package is imported from; commit "unknown" (dirty None)
    when it is not imported from a git checkout (an installed wheel) or git cannot say."""
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    unknown = {"commit": "unknown", "dirty": None}
    if not (root / ".git").exists():
        return unknown
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=30)
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return unknown
    if head.returncode != 0 or not head.stdout.strip():
        return unknown
    return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip()) if status.returncode == 0 else None}


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), else what the platform module knows."""
    import platform

    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def onednn() -> dict:
    """Whether this process's TensorFlow runs its CPU operations with oneDNN's kernels: ``{"enabled": bool,
    "setting": TF_ENABLE_ONEDNN_OPTS or None, "detail": one line}``. Importing tfgan_emotion before TensorFlow
    turns them on for x86 CPUs (see the package's ``__init__``); TensorFlow reads the variable at its own import, so
    a process that imported TensorFlow first keeps TensorFlow's default (on only with AVX-512 VNNI/BF16 or AMX)."""
    from tensorflow.python.util import _pywrap_util_port

    enabled = bool(_pywrap_util_port.IsMklEnabled())
    setting = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    if enabled:
        detail = "on"
    elif setting is not None and setting.strip().lower() in ("0", "false"):
        detail = f"off (TF_ENABLE_ONEDNN_OPTS={setting})"
    else:
        detail = ("off: TensorFlow was imported before tfgan_emotion, which turns them on; on a CPU without AVX-512 "
                  "that made training steps 1.2-2x slower here. Import tfgan_emotion first, or set "
                  "TF_ENABLE_ONEDNN_OPTS=1 before Python starts")
    return {"enabled": enabled, "setting": setting, "detail": detail}


def _guard(fn):
    """``fn()``, or ``{"error": ...}`` when it raises: one fact that cannot be read must not hide the others."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001
        return {"error": f"{type(e).__name__}: {e}"}


def physical_devices() -> list[dict]:
    """Every physical device TensorFlow sees: ``{"name", "type"}``, GPUs with ``device_name`` and
    ``compute_capability`` ("9.0"). Creates no TensorFlow runtime (no GPU memory is taken)."""
    import tensorflow as tf

    out = []
    for d in tf.config.list_physical_devices():
        entry = {"name": d.name.replace("/physical_device:", ""), "type": d.device_type}
        if d.device_type == "GPU":
            details = tf.config.experimental.get_device_details(d)
            entry["device_name"] = details.get("device_name", "")
            cc = details.get("compute_capability")
            entry["compute_capability"] = f"{cc[0]}.{cc[1]}" if cc else None
        out.append(entry)
    return out


def kernel_support(cc: str | None, archs: list) -> str:
    """Whether TensorFlow's build (``tf.sysconfig.get_build_info()["cuda_compute_capabilities"]``, e.g. ["sm_80",
    "compute_90"]) runs on a GPU of compute capability ``cc`` ("9.0"): "native" (kernel binaries for it: same major
    version, same or lower minor), "ptx" (only PTX the driver compiles at first use, which takes minutes on a first
    run), "none", or "unknown" without the facts."""
    import re

    if not cc or not archs:
        return "unknown"
    major, minor = (int(x) for x in str(cc).split(".")[:2])
    have = {"sm": [], "compute": []}
    for a in archs:
        m = re.fullmatch(r"(sm|compute)_(\d+)(\d)[a-z]?", str(a))
        if m:
            have[m.group(1)].append((int(m.group(2)), int(m.group(3))))
    if any(ma == major and mi <= minor for ma, mi in have["sm"]):
        return "native"
    if any((ma, mi) <= (major, minor) for ma, mi in have["compute"]):
        return "ptx"
    return "none"


def auto_strategy(devices: list[dict]) -> dict:
    """What ``--strategy auto`` picks with these devices, and why (the rule of :func:`make_strategy`)."""
    gpus = [d for d in devices if d.get("type") == "GPU"]
    if gpus:
        return {"strategy": "MirroredStrategy", "replicas": len(gpus),
                "reason": f"{len(gpus)} GPU(s) visible: one replica on each, gradients all-reduced"}
    return {"strategy": "default", "replicas": 1, "reason": "no GPU visible, so one device, the CPU"}


def xla_probe() -> dict:
    """Compile and run a two-op function with XLA (``jit_compile=True``) on the default device. Creates the
    TensorFlow runtime (on a GPU: takes GPU memory), so only ``doctor`` calls it."""
    import tensorflow as tf

    @tf.function(jit_compile=True)
    def f(x):
        return x * 2.0 + 1.0

    value = float(f(tf.constant([1.0]))[0])
    if value != 3.0:
        return {"works": False, "error": f"the compiled function returned {value}, not 3.0"}
    return {"works": True}


def environment(probe_xla: bool = False) -> dict:
    """The facts that decide how a run executes: Python, TensorFlow (and its CUDA/cuDNN build), Keras, the NVIDIA
    driver, the CPU, the physical devices, what ``--strategy auto`` and ``--precision auto`` pick here and why,
    XLA, the git commit of this checkout, ``TF_CONFIG`` and ``CUDA_VISIBLE_DEVICES``. Each part that cannot be read
    holds ``{"error": ...}`` instead. ``probe_xla`` also compiles a tiny function with XLA (see
    :func:`xla_probe`). ``nvidia-smi`` runs at most once per process."""
    import platform

    import keras
    import tensorflow as tf

    def build():
        info = tf.sysconfig.get_build_info()
        return {"is_cuda_build": bool(info.get("is_cuda_build", False)),
                "cuda_version": info.get("cuda_version") or None, "cudnn_version": info.get("cudnn_version") or None,
                "is_rocm_build": bool(info.get("is_rocm_build", False)),
                "cuda_compute_capabilities": list(info.get("cuda_compute_capabilities") or [])}

    def precision():
        policy, reason = resolve_precision("auto")
        return {"policy": policy, "reason": reason.removeprefix("auto: ")}

    def cluster():
        if not os.environ.get("TF_CONFIG"):
            return None
        workers, task = tf_config_task()
        return {"workers": workers, "task_index": task}

    devices = _guard(physical_devices)
    built = _guard(build)
    if isinstance(devices, list) and "error" not in built:
        for d in devices:
            if d.get("type") == "GPU":
                d["tensorflow_kernels"] = kernel_support(d.get("compute_capability"),
                                                         built.get("cuda_compute_capabilities"))
    xla = {"built": bool(_guard(tf.test.is_built_with_xla) is True)}
    if probe_xla:
        xla.update(_guard(xla_probe))
        if "error" in xla:
            xla["works"] = False
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "build": built,
        "driver": _guard(nvidia_driver),
        "cpu": _guard(lambda: {"model": cpu_model(), "cores": os.cpu_count(), "native_bf16": cpu_has_native_bf16()}),
        "onednn": _guard(onednn),
        "devices": devices,
        "auto_strategy": auto_strategy(devices) if isinstance(devices, list) else devices,
        "auto_precision": _guard(precision),
        "xla": xla,
        "source": _guard(source_commit),
        "tf_config": _guard(cluster),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
    }


KERNELS = {"native": "", "ptx": "; TensorFlow kernels: PTX only", "none": "; TensorFlow has NO kernels for it",
           "unknown": ""}


def _device_line(d: dict) -> str:
    if d.get("type") == "GPU":
        cc = d.get("compute_capability")
        return f"{d['name']} {d.get('device_name') or ''}".strip() + \
            (f" (compute capability {cc}{KERNELS.get(d.get('tensorflow_kernels'), '')})" if cc else "")
    return d.get("name", "?")


def describe_build(env: dict) -> str:
    """"CUDA build, CUDA 12.5.1, cuDNN 9" or "CPU-only build" from :func:`environment`'s ``build``."""
    b = env.get("build")
    if not isinstance(b, dict):
        return "build not recorded"
    if "error" in b:
        return f"build info unreadable ({b['error']})"
    if b.get("is_cuda_build"):
        return f"CUDA build, CUDA {b.get('cuda_version') or '?'}, cuDNN {b.get('cudnn_version') or '?'}"
    return "ROCm build" if b.get("is_rocm_build") else "CPU-only build"


def describe_devices(env: dict) -> list[str]:
    devices = env.get("devices")
    if not isinstance(devices, list):
        error = devices.get("error") if isinstance(devices, dict) else None
        return [f"unreadable ({error})" if error else "not recorded"]
    return [_device_line(d) for d in devices if isinstance(d, dict)] or ["none"]


def describe_commit(env: dict) -> str:
    s = env.get("source") if isinstance(env.get("source"), dict) else {}
    commit = s.get("commit", "unknown")
    if commit == "unknown" or "error" in s:
        return "unknown (not a git checkout)"
    return commit + {True: " (with uncommitted changes)", False: " (clean)"}.get(s.get("dirty"), "")


def doctor_text(env: dict) -> str:
    """:func:`environment` as the lines ``tfgan-emotion doctor`` prints."""
    drv = env.get("driver") or {}
    driver = drv.get("driver_version", "none") if "error" not in drv else f"unreadable ({drv['error']})"
    if drv.get("source") not in (None, "none", "nvidia-smi"):
        driver += f" (from {drv['source']})"
    cpu = env.get("cpu") or {}
    cpu_line = (f"{cpu.get('model', '?')}, {cpu.get('cores', '?')} cores, native bf16: "
                f"{'yes' if cpu.get('native_bf16') else 'no'}") if "error" not in cpu else cpu["error"]
    xla = env.get("xla") or {}
    xla_line = "built in" if xla.get("built") else "not built in"
    if "works" in xla:
        xla_line += "; a test function compiled and ran" if xla["works"] else \
            f"; a test function failed to compile or run ({xla.get('error', '?')})"
    st, pr = env.get("auto_strategy") or {}, env.get("auto_precision") or {}
    tfc = env.get("tf_config")
    if tfc is None:
        cluster = "not set (one machine)"
    elif "error" in tfc:
        cluster = f"invalid: {tfc['error']}"
    else:
        cluster = f"{tfc['workers']} worker(s), this is task {tfc['task_index']}"
    rows = [("Python", f"{env.get('python', '?')} ({env.get('platform', '?')})"),
            ("TensorFlow", f"{env.get('tensorflow', '?')} ({describe_build(env)})"),
            ("Keras", env.get("keras", "?")),
            ("NVIDIA driver", driver)]
    rows += [("GPU (nvidia-smi)", f"{g['name']}, {g['memory_total']}") for g in drv.get("gpus", [])]
    rows += [("CPU", cpu_line)]
    dnn = env.get("onednn")
    if isinstance(dnn, dict):
        rows.append(("oneDNN CPU kernels", dnn.get("detail") or f"unreadable ({dnn.get('error', '?')})"))
    rows += [("devices" if i == 0 else "", line) for i, line in enumerate(describe_devices(env))]
    if env.get("cuda_visible_devices") is not None:
        rows.append(("CUDA_VISIBLE_DEVICES", env["cuda_visible_devices"]))
    rows += [("XLA", xla_line),
             ("--strategy auto", f"{st.get('strategy', '?')} ({st.get('reason', st.get('error', '?'))})"),
             ("--precision auto", f"{pr.get('policy', '?')} ({pr.get('reason', pr.get('error', '?'))})"),
             ("TF_CONFIG", cluster),
             ("source", describe_commit(env))]
    notes = []
    for d in env.get("devices") if isinstance(env.get("devices"), list) else []:
        cc = d.get("compute_capability")
        if d.get("tensorflow_kernels") == "ptx":
            notes.append(f"this TensorFlow carries no GPU kernels for compute capability {cc}, only PTX: the driver "
                         "compiles them at their first use (minutes on a first run); export "
                         "CUDA_CACHE_MAXSIZE=4294967296 keeps them cached between runs")
        elif d.get("tensorflow_kernels") == "none":
            notes.append(f"this TensorFlow has no GPU kernels for compute capability {cc}: it cannot use that GPU; "
                         "install a TensorFlow built for it")
    rows += [("note", n) for n in dict.fromkeys(notes)]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
