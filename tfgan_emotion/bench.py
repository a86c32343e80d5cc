"""``tfgan-emotion bench``: how fast every recipe trains, feeds, generates and evaluates on this machine, at the
paper's batch size and resolution (override with --image-size/--batch-size/--width, which the report flags).

For each chosen recipe, in one process:

- training step time and images/s (median and spread over the measured steps; warm-up steps excluded), with the
  steps fed from batches already in memory, so that the number is the step alone;
- FLOPs per training step, counted by the TensorFlow profiler from the traced step graph, and the achieved FLOP/s
  as a fraction of the dense-matmul FLOP/s measured in the same process and precision (the practical peak);
- the input pipeline alone (the recipe's tf.data stream, batched and prefetched), in images/s, on the synthetic
  stand-in and on an AffectNet-style JPEG set with face boxes written by the benchmark (decode + crop + resize),
  as a multiple of what the training step consumes;
- float32 against the recipe's ``auto`` precision (mixed_bfloat16 on GPUs of compute capability >= 8.0 and on CPUs
  with native bf16, float32 elsewhere) as a speed ratio, and the mean of every loss over the measured steps of
  both, from the same initial weights and the same batches, with the step-to-step spread as the noise level;
- generation + evaluation throughput: the exported SavedModel endpoint (edit/transfer/generate) followed by the
  recipe's evaluation network(s), in images/s, and the projected time of paper 001's 220,500-image evaluation
  (4,500 faces x 49 labels, section IV.C.1) at that rate;
- peak memory: resident set size (VmHWM, reset before each phase) and, on a GPU, TensorFlow's peak allocation.

Writes ``reports/bench/<timestamp>/bench.json`` and ``bench.md`` (+ ``bench.html``). Synthetic weights: nothing is
trained to convergence and no pretrained file is read (VGG-Face/ImageNet weights do not change a step's cost).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

PAPER_001_EVAL_IMAGES = 220_500  # paper 001 IV.C.1: 4,500 held-out faces x 49 (valence, arousal) labels
DEFAULT_REPORTS = Path("reports")


# --------------------------------------------------------------------------------------------------------------------
# What each recipe trains, at the paper's settings
# --------------------------------------------------------------------------------------------------------------------
@dataclass
class Target:
    """One recipe as the benchmark builds it: its model at the paper's settings, its training stream in the recipe's
    format, its exported generation endpoint and its evaluation network(s)."""

    recipe: str
    paper: str
    kind: str            # synthetic stand-in
    size: int
    channels: int
    batch: int           # faces per training step (the global batch, split across the replicas)
    n_classes: int
    build: Callable      # (size, batch, width) -> model, built under the current policy and strategy scope
    stream: Callable     # (source, model_config, seed) -> unbatched tf.data stream of training examples
    endpoint: str        # SavedModel endpoint timed for generation
    evaluators: Callable  # (size) -> list of (name, keras model)
    endpoints: Callable   # model -> {name: (fn, input signature)}, the system's SavedModel endpoints
    settings: dict = field(default_factory=dict)
    default: dict | None = None  # the settings of the recipe's run without data ({"size", "width", "batch"[, "build"]})

    def config(self, size=None, batch=None, width=None):
        return dict(image_size=size or self.size, batch_size=batch or self.batch, width=width or 1.0)


def targets() -> dict[str, Target]:
    """Every registered system at its paper settings (systems.<x>.bench)."""
    from . import systems

    out = {}
    for system in systems.all_systems():
        b = system.bench
        out[system.name] = Target(system.name, system.paper, b.dataset, b.size, b.channels, b.batch, b.n_classes,
                                  b.build, b.stream, b.endpoint, b.evaluators, system.endpoints, default=b.default)
    return out


def base_dataset(source, size: int, channels: int, n_classes: int):
    """An unbatched, endless stream of ``image``, ``expression`` (taken modulo ``n_classes``), ``valence`` and
    ``arousal`` (0 where the source has none) from ``("arrays", dict)`` (a synthetic stand-in in memory, shuffled as
    the recipes do) or ``("scan", Scan)`` (files decoded by the reader's pipeline)."""
    import tensorflow as tf

    kind, data = source
    if kind == "arrays":
        n = len(data["image"])
        fields = {"image": data["image"], "expression": (data["expression"] % n_classes).astype(np.int32)}
        for k in ("valence", "arousal"):
            fields[k] = data.get(k, np.zeros(n, np.float32)).astype(np.float32)
        ds = tf.data.Dataset.from_tensor_slices(fields).shuffle(n, seed=0, reshuffle_each_iteration=True)
    else:
        ds = data.dataset((size, size), channels, shuffle_files=True, seed=0)

        def fix(e):
            return {"image": e["image"], "expression": tf.math.floormod(tf.cast(e["expression"], tf.int32), n_classes),
                    "valence": e["valence"], "arousal": e["arousal"]}

        ds = ds.map(fix, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.repeat()


# --------------------------------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------------------------------
def _stats(values) -> dict:
    v = np.asarray(values, np.float64)
    return {"median": float(np.median(v)), "mean": float(v.mean()), "min": float(v.min()), "max": float(v.max()),
            "p10": float(np.percentile(v, 10)), "p90": float(np.percentile(v, 90)),
            "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0, "n": int(len(v))}


def reset_peak_memory() -> None:
    """Reset the peak resident set size (Linux: ``/proc/self/clear_refs``) and TensorFlow's GPU peak."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    import tensorflow as tf

    for i, _ in enumerate(tf.config.list_logical_devices("GPU")):
        try:
            tf.config.experimental.reset_memory_stats(f"GPU:{i}")
        except (ValueError, RuntimeError):
            pass


def peak_memory() -> dict:
    """``{"rss_peak_bytes", "gpu_peak_bytes"?}`` since the last :func:`reset_peak_memory`."""
    out = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                out["rss_peak_bytes"] = int(line.split()[1]) * 1024
    except OSError:
        pass
    if "rss_peak_bytes" not in out:
        import resource

        scale = 1 if sys.platform == "darwin" else 1024
        out["rss_peak_bytes"] = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * scale
        out["rss_peak_note"] = "process lifetime peak (no per-phase reset on this OS)"
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        out["gpu_peak_bytes"] = int(sum(tf.config.experimental.get_memory_info(f"GPU:{i}")["peak"]
                                        for i in range(len(gpus))))
    return out


def count_flops(concrete_function) -> int:
    """Floating-point operations of one call of a traced function: the TF profiler's per-op statistics (MatMul,
    Conv2D and its two backprops, element-wise ops, ...; static shapes) summed over the ops that actually run.

    Only ops that the function's outputs or its stateful ops (variable updates) depend on are counted. A gradient
    function emits every gradient of an op (e.g. both the input and the filter backprop of a convolution), and
    TensorFlow prunes those nobody uses before running the graph: the filter gradients of a frozen network
    (VGG-Face in the CAAE identity loss), the input gradient of a network's first layer. Counting them would
    overstate a CAAE step by a quarter."""
    from tensorflow.python.framework import ops as tf_ops

    graph = concrete_function.graph
    stack = [t.op for t in graph.outputs] + list(getattr(graph, "control_outputs", []))
    seen = set()
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    total = 0
    for op in graph.get_operations():
        if op.name not in seen:
            continue
        try:
            value = tf_ops.get_stats_for_node_def(graph, op.node_def, "flops").value
        except (ValueError, TypeError):  # an op whose statistics need shapes it does not have
            value = None
        total += int(value or 0)
    return total


class PeakProbe:
    """The dense-matmul FLOP/s of one call of a chain of 4 n x n x n products, callable again and again
    between measured steps: on a shared machine the peak moves from minute to minute, and the best probe taken
    while the steps ran is the peak they are compared with."""

    def __init__(self, dtype: str, n: int):
        import tensorflow as tf

        self.dtype, self.n, self.values = dtype, int(n), []
        a = tf.cast(tf.random.stateless_normal([n, n], [1, 2]), dtype)
        b = tf.cast(tf.random.stateless_normal([n, n], [3, 4]) / math.sqrt(n), dtype)

        @tf.function
        def chain(x):
            for _ in range(4):
                x = tf.matmul(x, b)
            return tf.reduce_sum(tf.cast(x[:1, :1], tf.float32))

        self._chain, self._a = chain, a
        float(chain(a))

    def __call__(self) -> float:
        t0 = time.perf_counter()
        float(self._chain(self._a))
        value = 4 * 2 * self.n ** 3 / (time.perf_counter() - t0)
        self.values.append(value)
        return value

    def summary(self) -> dict:
        v = self.values
        return {"dtype": self.dtype, "n": self.n, "probes": len(v), "best_flops_per_second": max(v) if v else None,
                "median_flops_per_second": float(np.median(v)) if v else None}


def matmul_peak(dtype: str, n: int | None = None, repeats: int = 5) -> dict:
    """Dense matmul FLOP/s of n x n x n products in ``dtype`` on the default device: the practical peak that the
    step's achieved FLOP/s is compared with. ``n`` None tries several sizes (CPU 1024-4096, GPU 4096-16384) and
    keeps the fastest, since the best blocking differs by machine. A chain of 4 products per call hides the call
    overhead; each size's number is the median of ``repeats`` calls (:class:`PeakProbe`)."""
    import tensorflow as tf

    gpu = bool(tf.config.list_logical_devices("GPU"))
    sizes = [n] if n else ([4096, 8192, 16384] if gpu else [1024, 2048, 4096])
    tried = {}
    for size in sizes:
        probe = PeakProbe(dtype, size)
        tried[size] = float(np.median([probe() for _ in range(repeats)]))
    best = max(tried, key=tried.get)
    return {"dtype": dtype, "n": best, "flops_per_second": tried[best],
            "by_size": {str(k): v for k, v in tried.items()}}


def _build(target: Target, strategy, overrides, seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    with strategy.scope():
        model = target.build(overrides.get("size", target.size), overrides.get("batch", target.batch),
                             overrides.get("width", 1.0))
        model.build_optimizers()
        model.compile(optimizer=None)
    return model


def time_training(target: Target, policy: str, strategy, source, overrides: dict, steps: int, warmup: int,
                  seed: int, log, probe: PeakProbe | None = None) -> dict:
    """Median step time etc. of ``target`` under ``policy`` (see module docstring); returns the measurements and the
    model (for generation). ``probe``: a matmul peak probe run after every measured step (not timed with it)."""
    import tensorflow as tf

    from . import runtime

    runtime.set_precision(policy)
    model = _build(target, strategy, overrides, seed)
    from . import training

    # The batch is global, as in training: the engine's batches, each replica its contiguous share.
    global_batch = model.config.step_batch if hasattr(model.config, "step_batch") else model.config.batch_size
    replicas = strategy.num_replicas_in_sync
    parts, per_replica = training.split_batch(model, global_batch, replicas)
    batches = list(training.batches(target.stream(source, model, seed), global_batch, replicas, parts).take(4))
    dist = [strategy.experimental_distribute_values_from_function(
        lambda ctx, b=b: tf.nest.map_structure(
            lambda t: t[ctx.replica_id_in_sync_group * per_replica:(ctx.replica_id_in_sync_group + 1) * per_replica],
            b))
        for b in batches] if replicas > 1 else batches

    def step(batch):
        out = strategy.run(model.train_step, args=(batch,))
        return {k: strategy.reduce("MEAN", v, axis=None) for k, v in out.items()}

    fn = tf.function(step)
    t0 = time.perf_counter()
    try:  # all replicas' ops are in the one graph, so this is the FLOPs of a global step
        flops = count_flops(fn.get_concrete_function(dist[0]))
    except (TypeError, ValueError) as e:
        log(f"  FLOPs not counted ({type(e).__name__}: {str(e)[:120]})")
        flops = None
    trace_s = time.perf_counter() - t0
    reset_peak_memory()
    times, losses = [], {}
    for i in range(warmup + steps):
        model.global_step.assign(i)
        t0 = time.perf_counter()
        out = fn(dist[i % len(dist)])
        values = {k: float(v) for k, v in out.items()}  # the host reads the losses every step, as fit's callbacks do
        dt = time.perf_counter() - t0
        if i >= warmup:
            times.append(dt)
            for k, v in values.items():
                losses.setdefault(k, []).append(v)
            if probe is not None:
                probe()
        log(f"  {target.recipe} [{policy}] step {i + 1}/{warmup + steps}: {dt:.3f} s"
            f"{' (warm-up)' if i < warmup else ''}")
    mem = peak_memory()
    st = _stats(times)
    result = {"policy": policy, "global_batch": global_batch, "replicas": strategy.num_replicas_in_sync,
              "step_seconds": st, "images_per_second": global_batch / st["median"],
              "images_per_second_spread": [global_batch / st["p90"], global_batch / st["p10"]],
              "trace_and_count_seconds": trace_s, "losses": {k: _stats(v) for k, v in losses.items()},
              "memory": mem}
    if flops is not None:
        result["flops_per_step"] = flops
        result["achieved_flops_per_second"] = flops / st["median"]
    return result, model


def time_pipeline(stream, global_batch: int, min_batches: int, min_seconds: float, max_batches: int = 500) -> dict:
    """Images/s of a stream alone: batched and prefetched as training does, after 3 warm-up batches."""
    import tensorflow as tf

    it = iter(stream.batch(global_batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE))
    for _ in range(3):
        next(it)
    reset_peak_memory()
    t0 = time.perf_counter()
    done = 0
    while done < max_batches and (done < min_batches or time.perf_counter() - t0 < min_seconds):
        next(it)
        done += 1
    dt = time.perf_counter() - t0
    return {"batches": done, "seconds": dt, "images_per_second": done * global_batch / dt, "memory": peak_memory()}


def _random_inputs(specs, n_classes: int, n: int, rng: np.random.Generator) -> list:
    import tensorflow as tf

    out = []
    for s in specs:
        shape = [n] + list(s.shape[1:])
        if s.dtype.is_integer:
            out.append(tf.constant(rng.integers(0, n_classes, shape), s.dtype))
        elif len(shape) == 2 and s.name in ("affect", "label"):
            out.append(tf.constant(np.eye(shape[1], dtype=np.float32)[rng.integers(0, shape[1], n)]))
        elif len(shape) == 1:
            out.append(tf.constant(rng.uniform(0, 1, shape).astype(np.float32)))
        else:
            out.append(tf.constant(rng.uniform(-1, 1, shape).astype(np.float32)))
    return out


def time_generation(target: Target, model, size: int, batch: int, batches: int, log) -> dict:
    """Images/s of the exported generation endpoint, of the evaluation network(s) on its output, and of both."""
    import tensorflow as tf

    fn, specs = target.endpoints(model)[target.endpoint]
    gen = tf.function(fn, input_signature=specs)
    evaluators = target.evaluators(size)

    @tf.function
    def evaluate(images):
        outs = [tf.reduce_sum(tf.cast(net(images, training=False), tf.float32)) for _, net in evaluators]
        return tf.add_n(outs)

    rng = np.random.default_rng(0)
    inputs = [_random_inputs(specs, target.n_classes, batch, rng) for _ in range(2)]
    images = gen(*inputs[0])["image"]
    float(evaluate(images))
    reset_peak_memory()
    gen_t, eval_t = [], []
    for i in range(batches):
        t0 = time.perf_counter()
        images = gen(*inputs[i % 2])["image"]
        images.numpy()
        t1 = time.perf_counter()
        float(evaluate(images))
        t2 = time.perf_counter()
        gen_t.append(t1 - t0)
        eval_t.append(t2 - t1)
    g, e = float(np.median(gen_t)), float(np.median(eval_t))
    both = batch / (g + e)
    log(f"  {target.recipe} generation {batch / g:.1f} img/s, evaluation {batch / e:.1f} img/s")
    return {"endpoint": target.endpoint, "evaluators": [n for n, _ in evaluators], "batch": batch,
            "generation_images_per_second": batch / g, "evaluation_images_per_second": batch / e,
            "generation_seconds": _stats(gen_t), "evaluation_seconds": _stats(eval_t),
            "images_per_second": both, "paper001_eval_images": PAPER_001_EVAL_IMAGES,
            "paper001_projected_seconds": PAPER_001_EVAL_IMAGES / both, "memory": peak_memory()}


def quality_check(f32: dict, auto: dict) -> dict:
    """Per loss: mean over the measured steps in each precision and whether they agree within the noise (the
    difference at most 2 x the pooled step-to-step standard deviation)."""
    out = {}
    for k in sorted(set(f32["losses"]) & set(auto["losses"])):
        a, b = f32["losses"][k], auto["losses"][k]
        noise = math.sqrt((a["std"] ** 2 + b["std"] ** 2) / 2)
        diff = b["mean"] - a["mean"]
        out[k] = {"float32_mean": a["mean"], "auto_mean": b["mean"], "difference": diff, "noise_std": noise,
                  "within_noise": bool(abs(diff) <= 2 * noise + 1e-6 * max(1.0, abs(a["mean"])))}
    return out


# --------------------------------------------------------------------------------------------------------------------
# One recipe, all recipes
# --------------------------------------------------------------------------------------------------------------------
def _precisions(args) -> list[str]:
    """The --precision values a bench run measures: float32 and auto for ``both``, else the one asked for."""
    return ["float32", "auto"] if args.precision == "both" else [args.precision]


def _meaning(target: Target, preset: str, precision: str) -> str:
    """The policy a --precision value asks for: a recipe's run without data may fix what ``auto`` means for it (CAAE
    trains it in float32 whatever bf16 the hardware offers), and the default-run preset follows it."""
    if precision == "auto" and preset == "default" and target.default and target.default.get("precision"):
        return target.default["precision"]
    return precision


def bench_recipe(target: Target, args, strategy, fixture_scan, peaks: dict, log) -> dict:
    from . import runtime
    from .data import synthetic

    over = {k: v for k, v in dict(size=args.image_size, batch=args.batch_size, width=args.width).items()
            if v is not None}
    preset = args.preset
    if preset == "default":
        if not target.default:
            raise ValueError(f"{target.recipe} has no default-run preset; use --preset paper")
        over = {**{k: target.default[k] for k in ("size", "width", "batch")}, **over}
        target = replace(target, build=target.default.get("build", target.build))
    size = over.get("size", target.size)
    entry = {"recipe": target.recipe, "paper": target.paper, "image_size": size, "channels": target.channels,
             "batch": over.get("batch", target.batch), "width": over.get("width", 1.0), "preset": preset,
             "paper_settings": not over, "overrides": over}
    n_faces = max(256, 2 * over.get("batch", target.batch) * 5)
    log(f"{target.recipe}: rendering {n_faces} synthetic {target.kind} faces at {size}px")
    arrays = synthetic.make_arrays(target.kind, "train", n=n_faces, size=size, seed=args.seed)
    source = ("arrays", arrays)
    precisions = _precisions(args)
    auto = _meaning(target, preset, "auto")
    if auto != "auto":
        entry["auto_precision"] = f"{auto}, as the recipe's run without data resolves auto"
    runs, model = {}, None
    for p in precisions:
        policy = runtime.resolve_precision(_meaning(target, preset, p))[0]
        same = [q for q in runs if runs[q]["policy"] == policy]
        if same:  # auto is float32 here: the same measurement, not a second one
            log(f"{target.recipe}: {p} is {policy} on this machine, as measured above")
            runs[p] = dict(runs[same[0]], same_as=same[0])
            continue
        log(f"{target.recipe}: timing {args.warmup} + {args.steps} training steps in {policy} ({p})")
        peak = peaks.get(policy)
        probe = PeakProbe(peak["dtype"], peak["n"]) if peak else None
        runs[p], model = time_training(target, policy, strategy, source, over, args.steps, args.warmup, args.seed,
                                       log, probe)
        if peak and "achieved_flops_per_second" in runs[p]:
            runs[p]["peak_probes"] = probe.summary()
            # The best of the probe before the recipes and the probes between this run's steps.
            best = max(peak["flops_per_second"], runs[p]["peak_probes"]["best_flops_per_second"] or 0.0)
            runs[p]["matmul_peak_flops_per_second"] = best * runs[p]["replicas"]
            runs[p]["fraction_of_matmul_peak"] = runs[p]["achieved_flops_per_second"] / \
                runs[p]["matmul_peak_flops_per_second"]
            if runs[p]["fraction_of_matmul_peak"] > 1.0:
                runs[p]["fraction_note"] = ("the step outran every matmul probe: the probe size does not reach this "
                                            "machine's peak (try --matmul-size) or the FLOP count is too high")
    entry["training"] = runs
    main = runs["auto"] if "auto" in runs else runs[precisions[0]]
    if len(runs) == 2:
        entry["auto_vs_float32_speedup"] = runs["float32"]["step_seconds"]["median"] / \
            runs["auto"]["step_seconds"]["median"]
        entry["auto_vs_float32_losses"] = quality_check(runs["float32"], runs["auto"])
    # The input pipeline alone, as many images/s as it can make, against what the step consumes.
    global_batch = main["global_batch"]
    pipes = {}
    for name, src in (("synthetic", source), ("affectnet_jpeg", ("scan", fixture_scan))):
        log(f"{target.recipe}: input pipeline on {name}")
        pipes[name] = time_pipeline(target.stream(src, model, args.seed), global_batch, args.pipeline_batches,
                                    args.pipeline_seconds)
        pipes[name]["ratio_to_training"] = pipes[name]["images_per_second"] / main["images_per_second"]
        log(f"  {pipes[name]['images_per_second']:.0f} img/s = {pipes[name]['ratio_to_training']:.1f}x training")
    entry["input_pipeline"] = pipes
    log(f"{target.recipe}: generation + evaluation")
    entry["generation_evaluation"] = time_generation(target, model, size, args.eval_batch_size, args.eval_batches,
                                                     log)
    entry["peak_memory_bytes"] = max(v["memory"]["rss_peak_bytes"] for v in
                                     [*runs.values(), *pipes.values(), entry["generation_evaluation"]])
    return entry


def add_arguments(p) -> None:
    names = ", ".join(targets())
    p.add_argument("--recipes", default="all", help=f"comma-separated recipes to measure (default all: {names})")
    p.add_argument("--preset", choices=("paper", "default"), default="paper",
                   help="paper (default): each recipe at its paper's image size, batch and widths; default: at the "
                   "settings of the recipe's run without data (e.g. CAAE 32x32, width x0.25, no identity network), "
                   "the run a first user makes")
    p.add_argument("--precision", choices=("both", "auto", "float32", "mixed_bfloat16", "mixed_float16"),
                   default="both", help="both (default): float32 and the recipe's auto policy, with the speed ratio "
                   "(with --preset default, auto is what the recipe's run without data picks for it)")
    p.add_argument("--steps", type=int, default=10, help="measured training steps per precision (default 10)")
    p.add_argument("--warmup", type=int, default=3, help="warm-up steps, not measured (default 3; the first traces)")
    p.add_argument("--pipeline-batches", type=int, default=20, help="input-pipeline batches measured (at least)")
    p.add_argument("--pipeline-seconds", type=float, default=3.0, help="input-pipeline seconds measured (at least)")
    p.add_argument("--eval-batches", type=int, default=5, help="generation + evaluation batches measured")
    p.add_argument("--eval-batch-size", type=int, default=64, help="generation + evaluation batch (default 64)")
    p.add_argument("--fixture-images", type=int, default=256, help="AffectNet-style JPEGs written for the "
                   "real-format pipeline (default 256, 256x256 frames with a face box)")
    p.add_argument("--image-size", type=int, help="override every recipe's paper resolution (flagged in the report)")
    p.add_argument("--batch-size", type=int, help="override every recipe's paper batch size (flagged)")
    p.add_argument("--width", type=float, help="override the channel multiplier 1.0 (flagged)")
    p.add_argument("--strategy", choices=("auto", "default", "mirrored"), default="auto",
                   help="auto: all GPUs mirrored, else one device")
    p.add_argument("--matmul-size", type=int, help="n of the n x n x n peak matmul (default: the fastest of 1024/2048/4096 on a CPU, 4096-16384 on a GPU)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reports", type=Path, default=DEFAULT_REPORTS, help="reports root (default ./reports)")
    p.add_argument("--logical-cpus", type=int, default=0, help=argparse.SUPPRESS)


def _choose(text: str) -> list[str]:
    known = list(targets())
    if text == "all":
        return known
    chosen = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in chosen if t not in known]
    if bad or not chosen:
        raise ValueError(f"unknown recipe(s) {', '.join(bad) or repr(text)}; choose from {', '.join(known)} or all")
    return chosen


def _validate(args) -> None:
    for name in ("steps", "eval_batches", "eval_batch_size", "pipeline_batches", "fixture_images"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.warmup < 0:
        raise ValueError(f"--warmup must be >= 0, got {args.warmup}")
    if args.steps < 2 and args.precision == "both":
        raise ValueError("--steps must be >= 2 with --precision both (the loss check needs a spread)")
    if args.image_size is not None and not 28 <= args.image_size <= 256:
        raise ValueError(f"--image-size must be in 28..256 (the renderer's range), got {args.image_size}")


def machine_info(strategy) -> dict:
    import tensorflow as tf
    import keras

    from . import runtime

    names = [d.get("device_name") or d["name"] for d in runtime.physical_devices() if d["type"] == "GPU"]
    return {"cpu": runtime.cpu_model(), "cpu_count": os.cpu_count(), "native_bf16_cpu": runtime.cpu_has_native_bf16(),
            "onednn": runtime._guard(runtime.onednn).get("enabled"),
            "gpus": names, "replicas": strategy.num_replicas_in_sync, "tensorflow": tf.__version__,
            "keras": keras.__version__, "python": platform.python_version(), "platform": platform.platform()}


def run_bench(args, log) -> Path:
    from . import runtime
    from .data import affectnet, synthetic

    chosen = _choose(args.recipes)
    _validate(args)
    if args.logical_cpus:
        runtime.split_cpu(args.logical_cpus)
    strategy = runtime.make_strategy(args.strategy)
    table = targets()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path(args.reports) / "bench" / stamp
    out.mkdir(parents=True, exist_ok=True)
    doc = {"created": time.strftime("%Y-%m-%dT%H:%M:%S"), "command": [sys.executable, "-m", "tfgan_emotion.cli"] +
           sys.argv[1:], "machine": machine_info(strategy), "settings": {k: (str(v) if isinstance(v, Path) else v)
                                                                          for k, v in vars(args).items()
                                                                          if k != "func"}}
    # The practical peak, once per policy that will be used.
    policies = sorted({runtime.resolve_precision(_meaning(table[name], args.preset, p))[0] for name in chosen
                       for p in _precisions(args)})
    peaks = {}
    for policy in policies:
        dtype = {"float32": "float32", "mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}[policy]
        peaks[policy] = matmul_peak(dtype, args.matmul_size)
        log(f"dense matmul peak ({dtype}, n={peaks[policy]['n']}): {peaks[policy]['flops_per_second'] / 1e9:.1f} "
            "GFLOP/s")
    doc["matmul_peak"] = peaks
    with tempfile.TemporaryDirectory(prefix="tfgan-bench-") as tmp:
        log(f"writing {args.fixture_images} AffectNet-style JPEGs (256x256 frames, face boxes)")
        written = synthetic.write_affectnet_files(tmp, args.fixture_images, seed=args.seed)
        fixture = affectnet.scan(tmp, "train", check="header")
        doc["fixture"] = {"images": args.fixture_images, "frame": 256, "face": 160, "format": "AffectNet "
                          "Manually_Annotated_file_lists/training.csv + JPEG (quality 90)",
                          "write_seconds": written["seconds"]}
        doc["recipes"] = {}
        for name in chosen:
            t0 = time.perf_counter()
            doc["recipes"][name] = bench_recipe(table[name], args, strategy, fixture, peaks, log)
            doc["recipes"][name]["bench_seconds"] = time.perf_counter() - t0
            (out / "bench.json").write_text(json.dumps(doc, indent=2))  # nothing lost if a later recipe fails
            import keras

            keras.utils.clear_session()
    doc["summary"] = summarize(doc)
    (out / "bench.json").write_text(json.dumps(doc, indent=2))
    from .report import render_html, render_markdown

    report = document(doc)
    (out / "bench.md").write_text(render_markdown(report))
    (out / "bench.html").write_text(render_html(report, "tfgan-emotion bench"))
    return out / "bench.json"


# --------------------------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------------------------
TARGETS = {"input_pipeline_ratio": 5.0, "fraction_of_matmul_peak": 0.5, "auto_speedup_amx_cpu": 1.8}


def summarize(doc: dict) -> dict:
    """The performance targets (:data:`TARGETS`), recipe by recipe: met or not, with the measured number."""
    out = {}
    amx = doc["machine"]["native_bf16_cpu"] and not doc["machine"]["gpus"]
    for name, e in doc["recipes"].items():
        main = e["training"].get("auto") or next(iter(e["training"].values()))
        s = {"input_pipeline_min_ratio": min(p["ratio_to_training"] for p in e["input_pipeline"].values())}
        s["input_pipeline_target_met"] = s["input_pipeline_min_ratio"] >= TARGETS["input_pipeline_ratio"]
        if "fraction_of_matmul_peak" in main:
            s["fraction_of_matmul_peak"] = main["fraction_of_matmul_peak"]
            s["matmul_peak_target_met"] = main["fraction_of_matmul_peak"] >= TARGETS["fraction_of_matmul_peak"]
        if "auto_vs_float32_speedup" in e:
            s["auto_vs_float32_speedup"] = e["auto_vs_float32_speedup"]
            if amx:
                s["auto_speedup_target_met"] = e["auto_vs_float32_speedup"] >= TARGETS["auto_speedup_amx_cpu"]
            s["losses_within_noise"] = all(v["within_noise"] for v in e["auto_vs_float32_losses"].values())
        out[name] = s
    return out


def _fmt_bytes(b: float) -> str:
    return f"{b / 2 ** 30:.2f} GiB" if b >= 2 ** 30 else f"{b / 2 ** 20:.0f} MiB"


def _fmt_s(s: float) -> str:
    if s >= 3600:
        return f"{s / 3600:.1f} h"
    return f"{s / 60:.1f} min" if s >= 120 else f"{s:.1f} s"


def document(doc: dict):
    """The bench report as a :class:`report.Document` (rendered to bench.md and bench.html)."""
    from .report import Document

    m = doc["machine"]
    d = Document()
    d.heading(1, f"tfgan-emotion bench, {doc['created']}")
    dnn = {True: ", oneDNN kernels on", False: ", oneDNN kernels OFF"}.get(m.get("onednn"), "")
    d.para(f"Machine: {m['cpu']} ({m['cpu_count']} CPUs{', native bf16' if m['native_bf16_cpu'] else ''}{dnn})"
           f"{'; GPUs: ' + ', '.join(m['gpus']) if m['gpus'] else '; no GPU'}; {m['replicas']} replica(s); "
           f"TensorFlow {m['tensorflow']}, Keras {m['keras']}. Dense-matmul peak: "
           + "; ".join(f"{k} {v['flops_per_second'] / 1e9:.1f} GFLOP/s (n={v['n']})"
                       for k, v in doc["matmul_peak"].items()) + ".")
    preset = [n for n, e in doc["recipes"].items() if e.get("preset") == "default"]
    if preset:
        d.para("The default-run preset: " + "; ".join(
            f"{n} at {doc['recipes'][n]['image_size']}x{doc['recipes'][n]['image_size']}, batch "
            f"{doc['recipes'][n]['batch']}, width x{doc['recipes'][n]['width']}"
            + (f", auto precision {doc['recipes'][n]['auto_precision']}" if "auto_precision" in doc["recipes"][n] else "")
            for n in preset) + " (the settings of each recipe's run without data, not the paper's).")
    overridden = [n for n, e in doc["recipes"].items() if not e["paper_settings"] and e.get("preset") != "default"]
    if overridden:
        d.para(f"NOT the paper settings for {', '.join(overridden)}: {doc['recipes'][overridden[0]]['overrides']}.",
               "missing")
    d.heading(2, "Training step")
    rows = []
    for name, e in doc["recipes"].items():
        for r in e["training"].values():
            st = r["step_seconds"]
            rows.append([name, e["image_size"], r["global_batch"], r["policy"],
                         f"{st['median']:.3f} ({st['p10']:.3f}-{st['p90']:.3f})", f"{r['images_per_second']:.1f}",
                         f"{r['flops_per_step'] / 1e9:.1f}" if "flops_per_step" in r else "n/a",
                         f"{100 * r['fraction_of_matmul_peak']:.1f}%" if "fraction_of_matmul_peak" in r else "n/a",
                         _fmt_bytes(r["memory"]["rss_peak_bytes"])])
    d.table(["recipe", "size", "batch", "policy", "step s, median (p10-p90)", "img/s", "GFLOP/step",
             "of matmul peak", "peak RSS"], rows)
    d.heading(2, "Input pipeline alone")
    d.table(["recipe", "synthetic img/s", "x training", "AffectNet-style JPEG img/s", "x training"],
            [[name, f"{e['input_pipeline']['synthetic']['images_per_second']:.0f}",
              f"{e['input_pipeline']['synthetic']['ratio_to_training']:.1f}",
              f"{e['input_pipeline']['affectnet_jpeg']['images_per_second']:.0f}",
              f"{e['input_pipeline']['affectnet_jpeg']['ratio_to_training']:.1f}"]
             for name, e in doc["recipes"].items()])
    rows = []
    for name, e in doc["recipes"].items():
        if "auto_vs_float32_speedup" in e:
            q = e["auto_vs_float32_losses"]
            rows.append([name, e["training"]["auto"]["policy"], f"{e['auto_vs_float32_speedup']:.2f}x",
                         f"{sum(v['within_noise'] for v in q.values())}/{len(q)}",
                         ", ".join(f"{k} {v['float32_mean']:.3g} -> {v['auto_mean']:.3g}"
                                   f"{'' if v['within_noise'] else ' (outside)'}" for k, v in q.items())])
    if rows:
        d.heading(2, "Precision: auto vs float32")
        d.table(["recipe", "auto policy", "speed-up", "losses within noise", "loss means float32 -> auto"], rows)
    d.heading(2, "Generation + evaluation")
    d.table(["recipe", "endpoint", "evaluation network(s)", "generation img/s", "evaluation img/s", "both img/s",
             "paper 001's 220,500 images"],
            [[name, g["endpoint"], ", ".join(g["evaluators"]), f"{g['generation_images_per_second']:.1f}",
              f"{g['evaluation_images_per_second']:.1f}", f"{g['images_per_second']:.1f}",
              _fmt_s(g["paper001_projected_seconds"])]
             for name, g in ((n, e["generation_evaluation"]) for n, e in doc["recipes"].items())])
    d.heading(2, "Targets")
    items = []
    for name, s in doc.get("summary", {}).items():
        bits = [f"input >= 5x: {'met' if s['input_pipeline_target_met'] else 'NOT met'} "
                f"({s['input_pipeline_min_ratio']:.1f}x)"]
        if "matmul_peak_target_met" in s:
            bits.append(f"FLOP/s >= 50% of peak: {'met' if s['matmul_peak_target_met'] else 'NOT met'} "
                        f"({100 * s['fraction_of_matmul_peak']:.1f}%)")
        if "auto_speedup_target_met" in s:
            bits.append(f"auto >= 1.8x float32: {'met' if s['auto_speedup_target_met'] else 'NOT met'} "
                        f"({s['auto_vs_float32_speedup']:.2f}x)")
        if "losses_within_noise" in s:
            bits.append(f"losses within noise: {'yes' if s['losses_within_noise'] else 'no'}")
        items.append(f"{name}: " + "; ".join(bits))
    d.items(items)
    d.heading(2, "How these were measured")
    d.items(["FLOPs: the TF profiler's count on the traced training-step graph (ops without a registered count, "
             "e.g. resizes and normalisation statistics, add nothing).",
             "Step times: batches held in memory, the losses read back to the host every step (as fit's callbacks "
             "do); the input pipeline is measured separately, alone.",
             "Peak: the dense-matmul probe before the recipes and again after every measured step (not timed with "
             "it); each ratio is against the best of them, so a moment when the shared machine ran slow cannot "
             "make a step look faster than the peak.",
             "Losses: means over the measured steps from identical initial weights and batches; 'within noise' = "
             "|difference| <= 2 x the pooled step-to-step standard deviation.",
             "Peak RSS: reset before each phase (Linux clear_refs), so each number is that phase's peak.",
             "Projected paper-001 time: 220,500 / (images/s of generation followed by evaluation)."], "notes")
    return d


def main(args) -> int:
    import keras

    log = lambda m: print(f"[bench] {m}", file=sys.stderr, flush=True)  # noqa: E731
    before = keras.mixed_precision.global_policy()
    try:
        path = run_bench(args, log)
    except ValueError as e:
        print(f"tfgan-emotion bench: {e}", file=sys.stderr)
        return 2
    finally:
        keras.mixed_precision.set_global_policy(before)
    print(path)
    print(path.with_name("bench.md"))
    return 0
