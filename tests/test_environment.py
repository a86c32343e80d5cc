"""`tfgan-emotion doctor`, the environment every run records in config.json, and its section of the report."""
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import tensorflow as tf

from tfgan_emotion import cli, paths, report, run, runtime

ROOT = Path(__file__).resolve().parent.parent


def test_importing_the_cli_does_not_import_tensorflow():
    code = ("import sys, tfgan_emotion.cli as c; c.build_parser(); "
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


_CONV = ("import json, sys\n{first}\nimport tensorflow as tf\nfrom tfgan_emotion import runtime\n"
         "x = tf.ones([2, 8, 8, 4]); k = tf.ones([3, 3, 4, 8])\n"
         "tf.function(lambda x, k: tf.nn.conv2d(x, k, 1, 'SAME'))(x, k).numpy()\n"
         "print(json.dumps(runtime.onednn()))\n")


def _conv_processes(*cases):
    """For each ``(first, env)``: a fresh Python that imports ``first``, then TensorFlow, and runs one convolution
    with oneDNN's trace on; all started at once. Returns (runtime.onednn(), whether oneDNN executed a convolution
    primitive) per case."""
    base = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    procs = [subprocess.Popen([sys.executable, "-c", _CONV.format(first=first)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True,
                              env=dict(base, PYTHONPATH=str(ROOT), ONEDNN_VERBOSE="1", **env))
             for first, env in cases]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err[-2000:]
        lines = out.splitlines()
        results.append((json.loads(lines[-1]), any(",exec,cpu,convolution," in line for line in lines)))
    return results


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="oneDNN's x86 kernels only")
def test_importing_the_package_first_turns_on_onednn_kernels():
    (ours, ours_conv), (off, off_conv), (tf_first, tf_first_conv) = _conv_processes(
        ("import tfgan_emotion", {}), ("import tfgan_emotion", {"TF_ENABLE_ONEDNN_OPTS": "0"}),
        ("import tensorflow", {}))
    # On CPUs without AVX-512 VNNI/BF16 or AMX TensorFlow runs Eigen's kernels unless told otherwise; importing the
    # package before TensorFlow asks for oneDNN's (1.2-2x faster training steps there), whatever the CPU.
    assert ours == {"enabled": True, "setting": "1", "detail": "on"} and ours_conv
    # The user's own choice wins, and the environment record says why the kernels are off.
    assert off == {"enabled": False, "setting": "0", "detail": "off (TF_ENABLE_ONEDNN_OPTS=0)"} and not off_conv
    # TensorFlow imported first keeps its own default; when that is off, the record says how to turn them on.
    assert tf_first["enabled"] is tf_first_conv
    if not tf_first["enabled"]:
        assert "imported before tfgan_emotion" in tf_first["detail"]


def test_doctor_on_the_cpu(capsys):
    assert cli.main(["doctor", "--json"]) == 0
    env = json.loads(capsys.readouterr().out)
    assert env["tensorflow"] == tf.__version__ and env["python"].count(".") == 2
    assert set(env["build"]) >= {"is_cuda_build", "cuda_version", "cudnn_version"}
    assert env["driver"]["driver_version"] and isinstance(env["driver"]["gpus"], list)
    assert {"name": "CPU:0", "type": "CPU"} in env["devices"]
    gpus = [d for d in env["devices"] if d["type"] == "GPU"]
    assert env["auto_strategy"]["strategy"] == ("MirroredStrategy" if gpus else "default")
    assert env["auto_precision"]["policy"] == runtime.resolve_precision("auto")[0]
    assert env["xla"]["built"] is True and env["xla"]["works"] is True   # doctor compiles a test function
    assert env["cpu"]["native_bf16"] == runtime.cpu_has_native_bf16()
    if platform.machine().lower() in ("x86_64", "amd64") and os.environ["TF_ENABLE_ONEDNN_OPTS"] == "1":
        assert env["onednn"] == {"enabled": True, "setting": "1", "detail": "on"}   # conftest imports us first
    commit = env["source"]["commit"]
    assert commit == "unknown" or len(commit) == 40
    assert cli.main(["doctor"]) == 0
    text = capsys.readouterr().out
    for label in ("TensorFlow", "Keras", "NVIDIA driver", "devices", "XLA", "--strategy auto", "--precision auto",
                  "source", "oneDNN CPU kernels"):
        assert label in text
    assert tf.__version__ in text and env["auto_precision"]["reason"] in text


def test_driver_read_once_per_process(tmp_path, monkeypatch):
    calls = tmp_path / "calls"
    smi = tmp_path / "nvidia-smi"
    line = "echo '550.54.15, NVIDIA H100 80GB HBM3, 81559 MiB'\n"
    smi.write_text(f"#!/bin/sh\necho called >> {calls}\n" + line * 2)
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(runtime, "_DRIVER", None)
    for _ in range(3):
        d = runtime.environment()["driver"]
    assert d == {"driver_version": "550.54.15", "source": "nvidia-smi",
                 "gpus": [{"name": "NVIDIA H100 80GB HBM3", "memory_total": "81559 MiB"}] * 2}
    assert calls.read_text().count("called") == 1
    assert "NVIDIA H100 80GB HBM3, 81559 MiB" in runtime.doctor_text(runtime.environment())


def test_kernel_support_of_a_tensorflow_build():
    archs = ["sm_60", "sm_70", "sm_80", "sm_89", "compute_90"]
    assert runtime.kernel_support("8.0", archs) == "native"
    assert runtime.kernel_support("8.6", archs) == "native"    # sm_80 binaries run on every 8.x
    assert runtime.kernel_support("9.0", archs) == "ptx"       # Hopper: compiled from PTX by the driver
    assert runtime.kernel_support("5.0", archs) == "none"
    assert runtime.kernel_support(None, archs) == runtime.kernel_support("9.0", []) == "unknown"
    env = {"devices": [{"name": f"GPU:{i}", "type": "GPU", "device_name": "NVIDIA H200", "compute_capability": "9.0",
                        "tensorflow_kernels": "ptx"} for i in range(2)],
           "driver": {"driver_version": "560.35.03", "source": "nvidia-smi",
                      "gpus": [{"name": "NVIDIA H200", "memory_total": "143771 MiB"}] * 2}}
    text = runtime.doctor_text(env)
    assert text.count("NVIDIA H200, 143771 MiB") == 2 and text.count("only PTX") == 1
    assert "GPU:1 NVIDIA H200 (compute capability 9.0; TensorFlow kernels: PTX only)" in text


def test_auto_strategy_rule():
    gpu = {"name": "GPU:0", "type": "GPU", "device_name": "NVIDIA A100", "compute_capability": "8.0"}
    assert runtime.auto_strategy([{"name": "CPU:0", "type": "CPU"}])["strategy"] == "default"
    two = runtime.auto_strategy([{"name": "CPU:0", "type": "CPU"}, gpu, dict(gpu, name="GPU:1")])
    assert (two["strategy"], two["replicas"]) == ("MirroredStrategy", 2)


def _run(tmp_path):
    args = run.common_parser("demo", None, 8).parse_args(["--out", str(tmp_path)])
    info = runtime.RuntimeInfo(strategy="default", replicas=1, devices=["/device:CPU:0"])
    return run.Run("demo", "r0", tmp_path / "r0", args, tf.distribute.get_strategy(), info, {"system": "demo"})


def test_config_json_records_the_environment_once_per_run(tmp_path, monkeypatch):
    calls = []
    real = runtime.environment
    monkeypatch.setattr(runtime, "environment", lambda *a, **k: calls.append(1) or real(*a, **k))
    r = _run(tmp_path)
    r.dir.mkdir(parents=True)
    r._write_config()
    r.note("a note")          # rewrites config.json
    cfg = json.loads((r.dir / paths.CONFIG).read_text())
    assert len(calls) == 1
    env = cfg["environment"]
    assert env["tensorflow"] == tf.__version__ and env["keras"] and "devices" in env and "source" in env
    assert cfg["notes"] == ["a note"]


def test_report_shows_the_environment_and_tolerates_older_runs(tmp_path):
    r = _run(tmp_path)
    r.dir.mkdir(parents=True)
    r.environment = {"tensorflow": "2.99.0", "keras": "3.99.0", "python": "3.11.7",
                     "build": {"is_cuda_build": True, "cuda_version": "12.5.1", "cudnn_version": "9"},
                     "driver": {"driver_version": "550.54.15", "source": "nvidia-smi", "gpus": []},
                     "devices": [{"name": "CPU:0", "type": "CPU"},
                                 {"name": "GPU:0", "type": "GPU", "device_name": "NVIDIA H100 80GB HBM3",
                                  "compute_capability": "9.0"}],
                     "source": {"commit": "a" * 40, "dirty": False},
                     "onednn": {"enabled": False, "setting": "0", "detail": "off (TF_ENABLE_ONEDNN_OPTS=0)"}}
    r._write_config()
    md = report.write_report(r.dir, tmp_path / "reports").read_text()
    env = md[md.index("### Environment"):md.index("## Configuration")]
    for text in ("2.99.0 (CUDA build, CUDA 12.5.1, cuDNN 9)", "3.99.0", "550.54.15",
                 "CPU:0; GPU:0 NVIDIA H100 80GB HBM3 (compute capability 9.0)", "a" * 40 + " (clean)",
                 "| oneDNN CPU kernels | off (TF_ENABLE_ONEDNN_OPTS=0) |"):
        assert text in env, text
    assert md.index("## Runtime") < md.index("### Environment")
    # A run directory written before runs recorded their environment: one line, no error.
    cfg = json.loads((r.dir / paths.CONFIG).read_text())
    del cfg["environment"]
    (r.dir / paths.CONFIG).write_text(json.dumps(cfg))
    md = report.write_report(r.dir, tmp_path / "reports").read_text()
    assert "records no environment" in md
    # ... and one with a damaged entry.
    cfg["environment"] = {"devices": {"error": "RuntimeError: boom"}, "build": "?", "source": None}
    (r.dir / paths.CONFIG).write_text(json.dumps(cfg))
    md = report.write_report(r.dir, tmp_path / "reports").read_text()
    assert "unreadable (RuntimeError: boom)" in md and "unknown (not a git checkout)" in md
