"""``tfgan-emotion bench --gpu-check``: does every recipe train on this GPU machine, how fast, in how much memory,
and does a paper-size CAAE run learn? In under 8 minutes in all.

Cases, each with its own time cap, run in one worker process (a case that overruns its cap is stopped by ending
the worker, which is then started again for the cases left); a case that fails is recorded with its error and the
check goes on:

- every recipe's training step at the paper's image size, batch and widths (``tfgan-emotion bench`` builds the
  same models) on one GPU, in float32 and in the ``auto`` precision (skipped where auto is float32), with XLA
  (``jit_compile``) off and on: first-step time (tracing and compiling), median step time, images/s, peak GPU memory
  (TensorFlow's allocator, reset between cases) and whether every loss stayed finite;
- with several GPUs, the same step under MirroredStrategy over all of them (auto precision, XLA off), the global
  batch being the paper's batch times the number of GPUs;
- the step cases run most telling first: float32, auto, MirroredStrategy (all XLA off), then XLA on in auto
  precision and in float32; a case gets its share of the time left (25 to 60 s), and when too little is left the
  remaining cases are skipped and say so;
- 3 minutes of CAAE training at paper size (96x96, full widths, identity loss at 224 with untrained VGG-Face
  features, batch 49, one GPU) on AffectNet-layout files the check writes: the recipe runs as a subprocess, is
  stopped with SIGTERM (the engine saves a checkpoint and exits with status 3), and the mean of each loss over the
  first 10% of its logged rows is compared with the mean over the last 10%.

Writes ``gpu-check.json`` and ``gpu-check.md`` into ``--out`` (default reports/bench/gpu-check), rewritten after
every case, and the worker and CAAE logs under ``logs/``. Exit status 0 when every case ran and passed and the
CAAE losses fell; 1 otherwise (a case failed, timed out or was skipped, or the losses did not fall); 2 without a
GPU.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_OUT = Path("reports") / "bench" / "gpu-check"
CAAE_RECIPE = "caae_affectnet"
CAAE_HEADLINE = "loss_eg"   # what E and G minimise: L1 + identity + adversarial terms (paper 001 eq. 5)


@dataclass(frozen=True)
class Budget:
    """The check's time plan, in seconds."""

    total_s: float = 460.0        # everything, from the command's start (8 minutes = 480)
    caae_train_s: float = 180.0   # SIGTERM this long after the CAAE recipe started
    caae_stop_s: float = 30.0     # then at most this long to save its checkpoint and exit (SIGKILL after)
    caae_files: int = 490         # AffectNet-layout training images written for it (10 batches of 49)
    caae_setup_s: float = 15.0    # reserved for writing those files
    case_max_s: float = 60.0      # no case gets more
    case_min_s: float = 25.0      # nor less (its share of the time left, between the two); skipped below it
    worker_start_s: float = 90.0  # the worker's TensorFlow import and device set-up
    grace_s: float = 5.0          # past its cap before a case's worker is ended


FULL = Budget()
# --tiny: the same code path on a CPU in about a minute, for the tests.
TINY = Budget(total_s=240.0, caae_train_s=40.0, caae_stop_s=30.0, caae_files=64, caae_setup_s=5.0, case_max_s=60.0,
              case_min_s=3.0, worker_start_s=90.0, grace_s=5.0)
TINY_OVERRIDES = {"batch": 4, "width": 0.25}
TINY_MAX_SIZE = 64
TINY_CAAE_FLAGS = ["--image-size", "48", "--width", "0.25", "--identity-net", "none", "--batch-size", "8",
                   "--log-every", "1"]
CAAE_FLAGS = ["--identity-net", "random", "--log-every", "5"]   # the rest: the recipe's real-data (paper) defaults


def add_arguments(p) -> None:
    """The --gpu-check flags of ``tfgan-emotion bench`` (with --recipes, --steps, --warmup and --seed of bench)."""
    p.add_argument("--gpu-check", action="store_true", help="instead of the benchmark: in under 8 minutes, every "
                   "recipe's paper-size training step on one GPU in float32 and auto precision with XLA off and on "
                   "(and MirroredStrategy over all GPUs when there are several), peak GPU memory, and 3 minutes of "
                   "paper-size CAAE training with whether its losses fell; writes gpu-check.json and gpu-check.md "
                   "into --out. Uses --recipes, --steps, --warmup and --seed")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"--gpu-check: output folder (default {DEFAULT_OUT})")
    p.add_argument("--allow-cpu", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)


# --------------------------------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------------------------------
def plan_cases(recipes: list[str], auto_policy: str, mirrored_replicas: int) -> list[dict]:
    """The step cases, most telling first (when time runs short, the last are skipped): every recipe in float32,
    then in auto precision, then under MirroredStrategy (when ``mirrored_replicas`` > 1; auto precision), all with
    XLA off; then XLA on in auto precision, then XLA on in float32. The auto cases are left out where auto is
    float32."""
    auto = auto_policy != "float32"
    groups = [("float32", False, "one device"), ("auto", False, "one device"), ("auto", False, "mirrored"),
              ("auto", True, "one device"), ("float32", True, "one device")]
    cases = [dict(recipe=r, precision=p, xla=xla, strategy=st) for p, xla, st in groups for r in recipes
             if (auto or p == "float32" or st == "mirrored") and (st != "mirrored" or mirrored_replicas > 1)]
    for c in cases:
        c["id"] = f"{c['recipe']}/{c['precision']}/{'xla' if c['xla'] else 'no-xla'}/{c['strategy'].replace(' ', '-')}"
    return cases


def _overrides(target, tiny: bool, replicas: int) -> dict:
    over = {}
    if tiny:
        over = dict(TINY_OVERRIDES)
        if target.size > TINY_MAX_SIZE:
            over["size"] = TINY_MAX_SIZE
    batch = over.get("batch", target.batch)
    if replicas > 1:
        over["batch"] = batch * replicas   # the global batch: the paper's on every replica
    return over


def _stats(values) -> dict:
    import numpy as np

    v = np.asarray(values, np.float64)
    return {"median": float(np.median(v)), "min": float(v.min()), "max": float(v.max()), "n": int(len(v))}


def run_case(case: dict, spec: dict, cap_s: float, strategy, arrays_cache: dict) -> dict:
    """One step case (see the module docstring); returns its measurements. Raises on failure."""
    import tensorflow as tf

    from . import bench, runtime

    t_case = time.perf_counter()
    target = bench.targets()[case["recipe"]]
    policy = runtime.resolve_precision(case["precision"])[0]
    runtime.set_precision(policy)
    replicas = int(strategy.num_replicas_in_sync)
    over = _overrides(target, spec["tiny"], replicas)
    size = over.get("size", target.size)
    gpus = tf.config.list_logical_devices("GPU")
    bench.reset_peak_memory()
    t0 = time.perf_counter()
    model = bench._build(target, strategy, over, spec["seed"])
    build_s = time.perf_counter() - t0
    global_batch = int(getattr(model.config, "step_batch", None) or model.config.batch_size)
    if global_batch % replicas:
        raise ValueError(f"a global batch of {global_batch} does not split across {replicas} replicas")
    key = (case["recipe"], size)
    if key not in arrays_cache:   # rendered once per recipe: two replica batches, repeated by the stream
        from .data import synthetic

        arrays_cache[key] = synthetic.make_arrays(target.kind, "train", n=max(2 * global_batch // replicas, 16),
                                                  size=size, seed=spec["seed"])
    stream = target.stream(("arrays", arrays_cache[key]), model, spec["seed"])
    batches = list(stream.batch(global_batch, drop_remainder=True).take(2))
    per = global_batch // replicas
    if replicas > 1:
        inputs = [strategy.experimental_distribute_values_from_function(
            lambda ctx, b=b: tf.nest.map_structure(
                lambda t: t[ctx.replica_id_in_sync_group * per:(ctx.replica_id_in_sync_group + 1) * per], b))
            for b in batches]
    elif gpus:
        with tf.device(gpus[0].name):
            inputs = [tf.nest.map_structure(tf.identity, b) for b in batches]
    else:
        inputs = batches
    # As Keras compiles a step: the replica's train_step compiled with XLA when asked, the replicas run by the
    # strategy and their losses averaged outside it.
    replica_step = tf.function(model.train_step, jit_compile=bool(case["xla"]), reduce_retracing=True)

    def step(batch):
        out = strategy.run(replica_step, args=(batch,))
        return {k: strategy.reduce("MEAN", v, axis=None) for k, v in out.items()}

    fn = tf.function(step)
    times, nonfinite = [], []
    first_s = None
    warmup = max(1, spec["warmup"])   # the first step (tracing, compiling) is never measured
    for i in range(warmup + spec["steps"]):
        model.global_step.assign(i)
        t0 = time.perf_counter()
        values = {k: float(v) for k, v in fn(inputs[i % len(inputs)]).items()}
        dt = time.perf_counter() - t0
        if i == 0:
            first_s = dt
        nonfinite += [f"{k} at step {i + 1}" for k, v in values.items() if not math.isfinite(v)]
        if i >= warmup:
            times.append(dt)
        # Stop measuring before the cap (at least one measured step once past the compile).
        if times and time.perf_counter() - t_case > 0.8 * cap_s:
            break
    mem = bench.peak_memory()
    result = {"policy": policy, "replicas": replicas, "global_batch": global_batch, "image_size": size,
              "overrides": over,
              "build_s": build_s, "first_step_s": first_s, "losses": values,
              "rss_peak_bytes": mem.get("rss_peak_bytes")}
    if times:
        st = _stats(times)
        result.update(step_seconds=st, images_per_second=global_batch / st["median"])
    if gpus:
        peaks = []
        for i in range(len(gpus)):
            try:
                peaks.append(int(tf.config.experimental.get_memory_info(f"GPU:{i}")["peak"]))
            except (ValueError, RuntimeError):
                peaks.append(None)
        result["gpu_peak_bytes"] = peaks[0] if replicas == 1 else max(p or 0 for p in peaks)
        result["gpu_peak_bytes_per_gpu"] = peaks
    if nonfinite:
        result["error"] = "non-finite loss: " + ", ".join(nonfinite[:5])
    return result


def _worker(spec_path: str) -> int:
    """The worker process: runs ``spec["cases"]`` in order, appending one JSON line per event to
    ``spec["results"]``: ``ready``, then ``start`` (with the case's cap) and ``done`` for each case."""
    import gc

    spec = json.loads(Path(spec_path).read_text())
    results = open(spec["results"], "a", buffering=1)

    def emit(**event):
        results.write(json.dumps({"t": time.time(), **event}) + "\n")
        results.flush()

    t0 = time.perf_counter()
    import keras
    import tensorflow as tf

    from . import runtime

    if spec.get("logical_cpus", 0) > 1:
        runtime.split_cpu(spec["logical_cpus"])
    default = tf.distribute.get_strategy()
    mirrored = None
    emit(event="ready", import_s=time.perf_counter() - t0)
    arrays: dict = {}
    cases = spec["cases"]
    for n, case in enumerate(cases):
        left = spec["deadline"] - time.time()
        cap = min(spec["case_max_s"], max(spec["case_min_s"], left / (len(cases) - n)), left)
        if left < spec["case_min_s"]:
            emit(event="done", id=case["id"], status="skipped", error="the check's time budget ran out")
            continue
        emit(event="start", id=case["id"], cap_s=cap)
        t_case = time.perf_counter()
        try:
            if case["strategy"] == "mirrored" and mirrored is None:
                # One MirroredStrategy per process: several over the same devices mix up their all-reduces.
                gpus = tf.config.list_logical_devices("GPU")
                devices = [d.name for d in (gpus if len(gpus) > 1 else tf.config.list_logical_devices("CPU"))]
                mirrored = tf.distribute.MirroredStrategy(devices=devices)
            strategy = mirrored if case["strategy"] == "mirrored" else default
            result = run_case(case, spec, cap, strategy, arrays)
            status = "failed" if "error" in result else "ok"
        except Exception as e:  # noqa: BLE001 - every failure is a finding; the check goes on
            result, status = {"error": f"{type(e).__name__}: {_first_lines(str(e))}"}, "failed"
        emit(event="done", id=case["id"], status=status, case_s=time.perf_counter() - t_case, **result)
        keras.utils.clear_session()
        gc.collect()
    emit(event="finished")
    return 0


def _first_lines(text: str, limit: int = 400) -> str:
    text = " ".join(line.strip() for line in str(text).strip().splitlines()[:4] if line.strip())
    return text if len(text) <= limit else text[:limit - 3] + "..."


_SET_GROWTH = False   # whether main() set TF_FORCE_GPU_ALLOW_GROWTH for itself (the children do not inherit it)


def _child_env() -> dict:
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ)
    if _SET_GROWTH:
        env.pop("TF_FORCE_GPU_ALLOW_GROWTH", None)
    # Where TensorFlow carries only PTX for the GPU, the driver compiles its kernels at first use; a cache large
    # enough for them lets the worker, a restarted worker and the CAAE run share that work.
    env.setdefault("CUDA_CACHE_MAXSIZE", str(4 * 2 ** 30))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _tail(path: Path, lines: int = 6) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    text = [ln for ln in text if ln.strip() and "cuInit" not in ln]
    return " | ".join(text[-lines:])


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass


def _worker_command(spec_path: Path) -> list[str]:
    return [sys.executable, "-m", "tfgan_emotion.gpucheck", "--worker", str(spec_path)]


def run_cases(cases: list[dict], spec: dict, deadline: float, budget: Budget, logs: Path, record, log) -> None:
    """Run ``cases`` in worker processes until each is done, skipped, failed or stopped at its cap; ``record(id,
    result)`` gets each outcome as it arrives."""
    pending = list(cases)
    attempt = 0
    while pending:
        if deadline - time.time() < budget.case_min_s:
            for c in pending:
                record(c["id"], {"status": "skipped", "error": "the check's time budget ran out"})
            return
        attempt += 1
        work = Path(logs) / f"worker-{attempt}"
        results = work.with_suffix(".jsonl")
        results.write_text("")
        spec_path = work.with_suffix(".spec.json")
        spec_path.write_text(json.dumps({**spec, "cases": pending, "results": str(results), "deadline": deadline,
                                         "case_max_s": budget.case_max_s, "case_min_s": budget.case_min_s}))
        stderr = work.with_suffix(".log")
        with open(stderr, "w") as err:
            proc = subprocess.Popen(_worker_command(spec_path), stdout=err, stderr=subprocess.STDOUT,
                                    env=_child_env())
        started, current, offset, ready, capped = time.time(), None, 0, False, False
        while True:
            with open(results, "rb") as f:
                f.seek(offset)
                chunk = f.read()
            complete = chunk[:chunk.rfind(b"\n") + 1]
            offset += len(complete)
            for line in complete.decode().splitlines():
                ev = json.loads(line)
                if ev["event"] == "ready":
                    ready = True
                    log(f"worker {attempt} ready ({ev['import_s']:.1f} s to import TensorFlow)")
                elif ev["event"] == "start":
                    current = (ev["id"], ev["t"], ev["cap_s"])
                    log(f"{ev['id']}: started (cap {ev['cap_s']:.0f} s)")
                elif ev["event"] == "done":
                    current = None
                    record(ev["id"], {k: v for k, v in ev.items() if k not in ("event", "id", "t")})
                    pending = [c for c in pending if c["id"] != ev["id"]]
            if proc.poll() is not None and not complete:
                break
            now = time.time()
            if current and now > current[1] + current[2] + budget.grace_s:
                _stop(proc)
                record(current[0], {"status": "timed out", "cap_s": current[2],
                                    "error": f"still running after its cap of {current[2]:.0f} s; stopped"})
                pending = [c for c in pending if c["id"] != current[0]]
                capped = True
                break
            if not ready and now > min(started + budget.worker_start_s, deadline):
                _stop(proc)
                break
            time.sleep(0.2)
        proc.wait()
        if capped or not pending:
            continue                      # a new worker for the cases left
        if current is not None:
            # The worker died inside a case (a crash, the kernel's OOM killer): that case failed, the rest go on.
            record(current[0], {"status": "failed", "error": f"the worker process ended with status "
                                f"{proc.returncode} during this case: {_tail(stderr)}"})
            pending = [c for c in pending if c["id"] != current[0]]
            continue
        if not ready and time.time() >= deadline and started + budget.worker_start_s > deadline:
            for c in pending:
                record(c["id"], {"status": "skipped", "error": "the check's time budget ran out"})
            return
        why = "did not start in time" if not ready else f"ended with status {proc.returncode} between cases"
        for c in pending:
            record(c["id"], {"status": "failed", "error": f"the worker process {why}: {_tail(stderr)}"})
        return


# --------------------------------------------------------------------------------------------------------------------
# CAAE at paper size
# --------------------------------------------------------------------------------------------------------------------
def write_caae_files(root: Path, n: int, seed: int, tiny: bool) -> dict:
    """AffectNet-layout training and validation files for the CAAE run (validation images in their own folder)."""
    from .data import synthetic

    frame, face = (64, 48) if tiny else (128, 96)
    t0 = time.perf_counter()
    synthetic.write_affectnet_files(root, n, seed=seed, frame_size=frame, face_size=face, split="train")
    images = root / "Manually_Annotated_Images"
    staged = Path(tempfile.mkdtemp(prefix="val-", dir=root))
    n_val = max(16, n // 8)
    synthetic.write_affectnet_files(staged, n_val, seed=seed + 1, frame_size=frame, face_size=face,
                                    split="validation")
    for sub in (staged / "Manually_Annotated_Images").iterdir():
        shutil.move(str(sub), str(images / f"val{sub.name}"))
    lists = staged / "Manually_Annotated_file_lists" / "validation.csv"
    lines = lists.read_text().splitlines()
    lines = lines[:1] + [f"val{line}" for line in lines[1:]]
    (root / "Manually_Annotated_file_lists" / "validation.csv").write_text("\n".join(lines) + "\n")
    shutil.rmtree(staged)
    return {"train_images": n, "validation_images": n_val, "frame": frame, "face": face,
            "seconds": time.perf_counter() - t0}


def losses_trend(csv_path: Path, headline: str = CAAE_HEADLINE) -> dict:
    """Per loss column of a losses.csv: the mean of the first and of the last 10% of the rows (at least one row
    each) and whether it fell. ``fell`` overall: the ``headline`` loss fell (every loss, without that column)."""
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    out = {"rows": len(rows), "columns": {}}
    if len(rows) < 2:
        out.update(fell=None, reason=f"{len(rows)} logged row(s): too few to compare")
        return out
    k = max(1, len(rows) // 10)
    out["window_rows"] = k
    out["first_step"], out["last_step"] = rows[0].get("step"), rows[-1].get("step")
    for col in rows[0]:
        if col == "step":
            continue
        vals = []
        for r in rows:
            try:
                vals.append(float(r[col]))
            except (TypeError, ValueError):
                vals.append(float("nan"))
        first = [v for v in vals[:k] if math.isfinite(v)]
        last = [v for v in vals[-k:] if math.isfinite(v)]
        if not first or not last:
            continue
        a, b = sum(first) / len(first), sum(last) / len(last)
        out["columns"][col] = {"first_mean": a, "last_mean": b, "fell": b < a}
    cols = out["columns"]
    if headline in cols:
        out.update(headline=headline, fell=cols[headline]["fell"])
    else:
        out.update(headline="every loss", fell=bool(cols) and all(c["fell"] for c in cols.values()))
    return out


def caae_training(budget: Budget, tiny: bool, seed: int, logs: Path, out: Path, deadline: float, log) -> dict:
    """Write the files, start the CAAE recipe, SIGTERM it after ``budget.caae_train_s``, read its losses."""
    work = Path(tempfile.mkdtemp(prefix="tfgan-gpu-check-caae-"))
    try:
        data = work / "affectnet"
        files = write_caae_files(data, budget.caae_files, seed, tiny)
        log(f"CAAE: wrote {files['train_images']} + {files['validation_images']} AffectNet-layout images "
            f"({files['seconds']:.1f} s)")
        flags = (TINY_CAAE_FLAGS if tiny else CAAE_FLAGS) + [
            "--data-dir", str(data), "--steps", "10000000", "--checkpoint-every", "10000000",
            "--sample-every", "10000000", "--skip-eval", "--strategy", "default", "--seed", str(seed),
            "--out", str(work / "runs"), "--run", "gpu-check", "--reports", str(work / "reports")]
        cmd = [sys.executable, "-m", "tfgan_emotion.cli", "train", CAAE_RECIPE, *flags]
        train_s = max(1.0, min(budget.caae_train_s, deadline - time.time() - budget.caae_stop_s))
        log(f"CAAE: training at {'tiny' if tiny else 'paper'} size; SIGTERM in {train_s:.0f} s")
        logfile = logs / "caae-train.log"
        t0 = time.time()
        with open(logfile, "w") as err:
            proc = subprocess.Popen(cmd, stdout=err, stderr=subprocess.STDOUT, env=_child_env())
        try:
            proc.wait(timeout=train_s)
            signalled = False
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
            signalled = True
        try:
            proc.wait(timeout=budget.caae_stop_s)
            killed = False
        except subprocess.TimeoutExpired:
            _stop(proc)
            killed = True
        wall = time.time() - t0
        run_dir = work / "runs" / "gpu-check"
        result = {"command": ["tfgan-emotion", "train", CAAE_RECIPE,
                              *[f if not f.startswith(str(work)) else f.replace(str(work), "<tmp>") for f in flags]],
                  "files": files, "sigterm_after_s": train_s if signalled else None, "wall_s": wall,
                  "exit_status": proc.returncode, "killed": killed,
                  "status": "ok" if signalled and proc.returncode == 3 and not killed else "failed"}
        if result["status"] != "ok":
            if not signalled:
                result["error"] = f"the recipe ended by itself with status {proc.returncode}: {_tail(logfile)}"
            elif killed:
                result["error"] = f"did not exit within {budget.caae_stop_s:.0f} s of SIGTERM; killed"
            else:
                result["error"] = f"exit status {proc.returncode} after SIGTERM, not 3: {_tail(logfile)}"
        try:
            cfg = json.loads((run_dir / "config.json").read_text())
            result["config"] = {k: cfg["config"].get(k) for k in ("image_size", "batch_size", "width",
                                                                 "identity_net", "identity_size")}
            result["runtime"] = {k: cfg["runtime"].get(k) for k in ("strategy", "replicas", "devices", "precision")}
        except (OSError, ValueError, KeyError, AttributeError):
            pass
        losses = run_dir / "logs" / "losses.csv"
        if losses.exists():
            shutil.copyfile(losses, out / "caae_losses.csv")
            result["losses"] = losses_trend(losses)
            last = result["losses"].get("last_step")
            result["steps"] = int(float(last)) if last not in (None, "") else None
            events = run_dir / "logs" / "events.jsonl"
            for line in reversed(events.read_text().splitlines() if events.exists() else []):
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                if ev.get("event") == "interrupted":
                    result["steps"] = ev.get("step", result["steps"])
                    break
        else:
            result["losses"] = {"rows": 0, "fell": None, "reason": "no losses.csv: training logged nothing"}
            if result["status"] == "ok":
                result.update(status="failed", error="training logged no losses before SIGTERM")
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------------------------------------------------
# Outputs
# --------------------------------------------------------------------------------------------------------------------
def _gib(b) -> str:
    return "n/a" if b is None else (f"{b / 2 ** 30:.2f} GiB" if b >= 2 ** 30 else f"{b / 2 ** 20:.0f} MiB")


def document(doc: dict):
    """The check as a report.Document (rendered to gpu-check.md)."""
    from .report import Document
    from .runtime import describe_build, describe_commit, describe_devices

    env = doc.get("environment", {})
    d = Document()
    d.heading(1, f"tfgan-emotion bench --gpu-check, {doc['created']}")
    drv = env.get("driver") or {}
    d.para(f"TensorFlow {env.get('tensorflow', '?')} ({describe_build(env)}), Keras {env.get('keras', '?')}; "
           f"NVIDIA driver {drv.get('driver_version', '?')}; devices: {'; '.join(describe_devices(env))}; "
           f"source {describe_commit(env)}. Took {doc.get('seconds', 0):.0f} s (budget {doc['budget']['total_s']:.0f} "
           "s).")
    if doc.get("tiny"):
        d.para("TINY settings (a test of the check itself): not the paper's sizes; the numbers mean nothing.",
               "missing")
    d.heading(2, "Training steps at the paper settings")
    rows = []
    for c in doc["cases"]:
        st = c.get("step_seconds") or {}
        rows.append([c["recipe"], c.get("image_size", ""), c.get("global_batch", ""), c["strategy"]
                     + (f" x{c['replicas']}" if c.get("replicas", 1) > 1 else ""),
                     c["precision"] + (f" ({c['policy']})" if c.get("policy") and c["policy"] != c["precision"]
                                       else ""),
                     "on" if c["xla"] else "off", c.get("status", "not run"),
                     f"{c['first_step_s']:.2f}" if c.get("first_step_s") is not None else "",
                     f"{st['median']:.4f}" if st else "", f"{c['images_per_second']:.0f}"
                     if c.get("images_per_second") else "", _gib(c.get("gpu_peak_bytes")) if "gpu_peak_bytes" in c
                     else "", c.get("error", "")])
    d.table(["recipe", "size", "global batch", "strategy", "precision", "XLA", "status", "first step s",
             "step s (median)", "img/s", "GPU peak", "error"], rows)
    ct = doc.get("caae_training")
    if ct:
        d.heading(2, "CAAE at paper size, trained until SIGTERM")
        cfg = ct.get("config") or {}
        rt = ct.get("runtime") or {}
        d.para(f"{CAAE_RECIPE}: {cfg.get('image_size', '?')}x{cfg.get('image_size', '?')}, batch "
               f"{cfg.get('batch_size', '?')}, width {cfg.get('width', '?')}, identity net "
               f"{cfg.get('identity_net', '?')} at {cfg.get('identity_size', '?')}; {rt.get('precision', '?')} on "
               f"{', '.join(rt.get('devices') or ['?'])}; {ct['files']['train_images']} AffectNet-layout training "
               f"images. SIGTERM after {ct.get('sigterm_after_s') or 0:.0f} s; exit status {ct.get('exit_status')} "
               f"(3 = checkpoint saved on the signal); {ct.get('steps', '?')} steps; status {ct['status']}"
               + (f": {ct['error']}" if ct.get("error") else "") + ".")
        lt = ct.get("losses") or {}
        if lt.get("columns"):
            w = lt["window_rows"]
            d.table(["loss", f"mean of the first {w} rows", f"mean of the last {w} rows", "fell"],
                    [[name, v["first_mean"], v["last_mean"], "yes" if v["fell"] else "no"]
                     for name, v in lt["columns"].items()])
        verdict = {True: "fell", False: "did NOT fall", None: "could not be compared"}[lt.get("fell")]
        d.para(f"Over {lt.get('rows', 0)} logged rows, {lt.get('headline', 'the losses')} {verdict}"
               + (f" ({lt['reason']})" if lt.get("reason") else "") + ".")
    d.heading(2, "How this was measured")
    d.items(["One worker process runs the step cases in turn; each has its own time cap (at most "
             f"{doc['budget']['case_max_s']:.0f} s, less when the budget is short), past which the worker is ended "
             "and started again for the rest.",
             "First step: tracing, compiling (XLA on) and running the first step. Step time: the median over the "
             "measured steps after the warm-up, batches already on the device, the losses read back every step.",
             "GPU peak: TensorFlow's allocator peak on the GPU (get_memory_info peak, reset before the case): "
             "weights, optimizer state and activations; with MirroredStrategy the largest over the GPUs.",
             "MirroredStrategy: the global batch is the paper's batch times the number of GPUs (each GPU its paper "
             "batch).",
             "CAAE: the recipe with its real-data defaults (paper 001's settings) on AffectNet-layout files written "
             "by the check, untrained VGG-Face identity features (no weights file), one GPU, auto precision; SIGTERM "
             "counts from the recipe's start, so its start-up is part of the time.",
             "Where TensorFlow carries only PTX for the GPU (tfgan-emotion doctor says so), the driver compiles the "
             "kernels at their first use: the first steps of a first run include that compilation."],
            "notes")
    return d


def write_outputs(doc: dict, out: Path) -> tuple[Path, Path]:
    from .report import render_markdown

    out.mkdir(parents=True, exist_ok=True)
    js, md = out / "gpu-check.json", out / "gpu-check.md"
    js.write_text(json.dumps(doc, indent=2, allow_nan=True))
    md.write_text(render_markdown(document(doc)))
    return js, md


# --------------------------------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------------------------------
def main(args) -> int:
    global _SET_GROWTH
    t_start = time.time()
    if "TF_FORCE_GPU_ALLOW_GROWTH" not in os.environ:
        # This process only lists devices; should anything in it start TensorFlow's GPU runtime, it must not take
        # the GPU memory that the worker and the CAAE run will need.
        os.environ["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
        _SET_GROWTH = True
    import tensorflow as tf

    from . import bench, runtime

    log = lambda m: print(f"[gpu-check] {m}", file=sys.stderr, flush=True)  # noqa: E731
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus and not args.allow_cpu:
        print("tfgan-emotion bench --gpu-check: TensorFlow sees no GPU here; run it on a GPU machine with "
              "pip install -e \".[gpu]\" (tfgan-emotion doctor shows what TensorFlow sees)", file=sys.stderr)
        return 2
    try:
        recipes = bench._choose(args.recipes)
        if args.steps < 1 or args.warmup < 0:
            raise ValueError("--steps must be >= 1 and --warmup >= 0")
    except ValueError as e:
        print(f"tfgan-emotion bench: {e}", file=sys.stderr)
        return 2
    budget = TINY if args.tiny else FULL
    out = Path(args.out)
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for old in logs.glob("worker-*"):
        old.unlink()
    auto_policy = runtime.resolve_precision("auto")[0]
    logical_cpus = int(getattr(args, "logical_cpus", 0) or 0)
    replicas = len(gpus) if len(gpus) > 1 else (logical_cpus if not gpus and args.tiny else 0)
    cases = plan_cases(recipes, auto_policy, replicas)
    doc = {"created": time.strftime("%Y-%m-%dT%H:%M:%S"), "tiny": bool(args.tiny), "budget": asdict(budget),
           "settings": {"recipes": recipes, "steps": args.steps, "warmup": args.warmup, "seed": args.seed,
                        "auto_policy": auto_policy, "gpus": len(gpus)},
           "environment": runtime.environment(), "cases": [dict(c, status="pending") for c in cases]}
    by_id = {c["id"]: c for c in doc["cases"]}

    def record(case_id, result):
        by_id[case_id].update(result)
        c = by_id[case_id]
        st = c.get("step_seconds") or {}
        log(f"{case_id}: {c['status']}" + (f", {st['median']:.4f} s/step" if st else "")
            + (f" ({c['error']})" if c.get("error") else ""))
        doc["seconds"] = time.time() - t_start
        write_outputs(doc, out)

    caae_reserve = budget.caae_setup_s + budget.caae_train_s + budget.caae_stop_s + 5.0
    step_deadline = t_start + budget.total_s - caae_reserve
    spec = {"tiny": bool(args.tiny), "seed": args.seed, "steps": args.steps, "warmup": args.warmup,
            "logical_cpus": logical_cpus if args.tiny else 0}
    log(f"{len(cases)} step cases in {step_deadline - time.time():.0f} s, then {budget.caae_train_s:.0f} s of CAAE "
        "training")
    run_cases(cases, spec, step_deadline, budget, logs, record, log)
    try:
        doc["caae_training"] = caae_training(budget, bool(args.tiny), args.seed, logs, out,
                                             t_start + budget.total_s, log)
    except Exception as e:  # noqa: BLE001 - recorded like a failed case
        doc["caae_training"] = {"status": "failed", "error": f"{type(e).__name__}: {_first_lines(str(e))}",
                                "files": {"train_images": 0}}
    ct = doc["caae_training"]
    log(f"CAAE: {ct['status']}; {ct.get('steps', '?')} steps; losses "
        f"{ {True: 'fell', False: 'did not fall', None: 'not compared'}[(ct.get('losses') or {}).get('fell')]}")
    doc["seconds"] = time.time() - t_start
    js, md = write_outputs(doc, out)
    print(js)
    print(md)
    ok = all(c["status"] == "ok" for c in doc["cases"]) and ct["status"] == "ok" and \
        (ct.get("losses") or {}).get("fell") is True
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        sys.exit(_worker(sys.argv[2]))
    print("usage: tfgan-emotion bench --gpu-check (this module's command line is the check's worker)",
          file=sys.stderr)
    sys.exit(2)
