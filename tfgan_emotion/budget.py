"""``tfgan-emotion budget``: how the CAAE recipe's quality grows with training compute on the built-in synthetic faces.

The synthetic default run of ``caae_affectnet`` (the one ``python recipes/caae_affectnet.py`` trains without
--data-dir) is sized for about 15 minutes on a 2-core CPU. This command trains the same recipe, unchanged but for
its length, at a few multiples of that compute: multiple m trains m x the default run's steps (same batch, same
networks, same data), one run per multiple and seed, each in its own subprocess (its own memory and precision
policy, as ``tfgan-emotion train`` runs it). Each run then goes through the recipe's own evaluation, and the curve
reads from its metrics.json:

- the Table IV analogue: concordance (CCC) between the valence / arousal requested from the editor and what the
  run's Table II regressors read on the edited faces (``table4_edits.all``);
- identity kept: the share of edited faces the identity check still recognises as their source
  (``identity_preservation.share_recognised``);
- the Frechet distance between edited and real faces (``frechet_distance.value``), where the evaluation computes
  it (shown as n/a otherwise);
- the training seconds the run reports and the wall seconds of its subprocess(es).

Runs go to OUT/runs/budget-x<m>-seed<s> (logs to OUT/logs/, the runs' own reports to OUT/reports-runs/ unless
--reports says otherwise). A run that already finished with its evaluation is reused, so the same command can be
repeated to add multiples or seeds; a run stopped before the end (Ctrl-C or SIGTERM, which let the running training
save its checkpoint first; a killed process) resumes from its last checkpoint when the command is run again. The
curve is written to OUT/budget.json (every run, and per multiple the mean and [min, max] over seeds), OUT/budget.md
(the table) and OUT/budget.png (three panels against the training steps).

The default curve (1, 4, 16) trains 21 x the default run (252,000 steps): about 4.5 hours per seed on a 2-core
CPU with AVX-512, about 11 on one with AVX2 only. --smoke trains each point for m x 2 steps with the recipe's
--smoke evaluation, to check that everything runs; its numbers mean nothing.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from . import paths
from .fileio import atomic_write

RECIPES = ("caae_affectnet",)
SMOKE_STEPS_PER_MULTIPLE = 2
DEFAULT_MULTIPLES = (1, 4, 16)
DEFAULT_SEEDS = (0,)
# Flags the budget sets on every run itself; --extra may not give them.
RESERVED_FLAGS = ("--steps", "--epochs", "--seed", "--out", "--run", "--reports", "--smoke")
# Written into a run directory by the budget: the wall seconds of every subprocess that trained the run (one per
# invocation that started it: a run stopped and resumed has several) and the --extra flags it was trained with.
WALL_FILE = "budget_wall.json"
# The numbers of every point that summarize() gives a mean and a range over seeds.
METRICS = ("training_seconds", "wall_seconds", "ccc_valence", "ccc_arousal", "identity_kept", "frechet_distance")


def log(msg: str) -> None:
    print(f"[budget] {msg}", flush=True)


def base_steps(recipe: str = "caae_affectnet") -> int:
    """Steps of the recipe's synthetic default run (the 1x point)."""
    if recipe not in RECIPES:
        raise ValueError(f"unsupported recipe {recipe!r}: the budget curve supports {', '.join(RECIPES)} for now")
    from .systems.caae import SYNTH

    return int(SYNTH["steps"])


# --------------------------------------------------------------------------------------------------------------
# Flags
# --------------------------------------------------------------------------------------------------------------

def _int_list(text: str, what: str, minimum: int) -> list[int]:
    values = []
    for part in str(text).split(","):
        part = part.strip()
        try:
            v = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r} is not a whole number (give e.g. "
                                             f"{'1,4,16' if minimum else '0,1,2'})") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"{v} is not allowed (each {what} must be >= {minimum})")
        values.append(v)
    return sorted(set(values))


def parse_multiples(text: str) -> list[int]:
    """'1,4,16' -> [1, 4, 16]: positive whole multiples of the default run's compute (sorted, duplicates dropped)."""
    return _int_list(text, "multiple", 1)


def parse_seeds(text: str) -> list[int]:
    """'0,1' -> [0, 1]: non-negative seeds (sorted, duplicates dropped)."""
    return _int_list(text, "seed", 0)


def check_extra(extra) -> list[str]:
    """The --extra recipe flags, refusing those the budget sets itself."""
    extra = list(extra or [])
    bad = [a for a in extra if a.split("=", 1)[0] in RESERVED_FLAGS]
    if bad:
        raise ValueError(f"--extra may not set {', '.join(bad)}: the budget sets {', '.join(RESERVED_FLAGS)} on "
                         "every run itself")
    return extra


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--recipe", choices=RECIPES, default="caae_affectnet", help="the recipe whose curve to measure "
                   "(only caae_affectnet for now, on the built-in synthetic faces)")
    p.add_argument("--multiples", type=parse_multiples, default=list(DEFAULT_MULTIPLES), metavar="M,M,...",
                   help="compute multiples to train, comma-separated positive whole numbers: multiple m trains m x "
                   "the default synthetic run's steps (default 1,4,16: 21 x the default run, about 4.5 hours per "
                   "seed on a 2-core CPU with AVX-512, about 11 with AVX2 only)")
    p.add_argument("--seeds", type=parse_seeds, default=list(DEFAULT_SEEDS), metavar="S,S,...",
                   help="seeds to train at every multiple, comma-separated (default 0); with several, the table "
                   "shows the mean and the range over seeds")
    p.add_argument("--out", type=Path, default=Path("budget"), metavar="DIR", help="output folder (default ./budget): runs/, "
                   "logs/, budget.json, budget.md and budget.png go there; run the same command again to reuse the "
                   "finished runs and resume stopped ones")
    p.add_argument("--reports", type=Path, metavar="DIR", help="reports root of the training runs' own reports (default "
                   "OUT/reports-runs, so that the curve's runs stay out of ./reports)")
    p.add_argument("--smoke", action="store_true", help="tiny runs (m x 2 steps, the recipe's --smoke evaluation) "
                   "to check that everything runs; the numbers mean nothing")
    p.add_argument("--extra", nargs=argparse.REMAINDER, default=[], metavar="ARGS",
                   help="flags passed unchanged to every training run (everything after --extra, e.g. --extra "
                   "--width 0.5); not --steps, --epochs, --seed, --out, --run, --reports or --smoke, which the "
                   "budget sets. Finished runs are reused only with the same --extra: use another --out to change it")


# --------------------------------------------------------------------------------------------------------------
# Plan, run, collect
# --------------------------------------------------------------------------------------------------------------

def run_name(multiple: int, seed: int, smoke: bool = False) -> str:
    return f"budget-{'smoke-' if smoke else ''}x{multiple}-seed{seed}"


def plan_points(multiples, seeds, out, smoke: bool = False, recipe: str = "caae_affectnet") -> list[dict]:
    """One point per (multiple, seed), multiples first: its steps (m x the default run's, or m x 2 with --smoke), run
    name and run directory OUT/runs/<name>. --smoke runs are named budget-smoke-..., so that a smoke run is never
    taken for a real one."""
    per = SMOKE_STEPS_PER_MULTIPLE if smoke else base_steps(recipe)
    out = Path(out)
    points = []
    for m in multiples:
        if int(m) < 1:
            raise ValueError(f"multiples must be >= 1, got {m}")
        for s in seeds:
            name = run_name(int(m), int(s), smoke)
            points.append({"multiple": int(m), "seed": int(s), "steps": int(m) * per, "run": name,
                           "run_dir": str(out / "runs" / name)})
    return points


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def is_finished(point: dict) -> bool:
    """True when the point's run holds metrics.json with the Table IV analogue at the planned step."""
    m = _read_json(Path(point["run_dir"]) / paths.METRICS)
    return bool(m) and "table4_edits" in m and int(m.get("step", -1)) == int(point["steps"])


def train_command(point: dict, out, smoke: bool = False, extra=(), reports=None,
                  recipe: str = "caae_affectnet") -> list[str]:
    """The ``tfgan-emotion train`` command line of one point."""
    out = Path(out)
    cmd = [sys.executable, "-m", "tfgan_emotion.cli", "train", recipe, "--seed", str(point["seed"]),
           "--steps", str(point["steps"]), "--out", str(out / "runs"), "--run", point["run"],
           "--reports", str(Path(reports) if reports else out / "reports-runs")]
    return cmd + (["--smoke"] if smoke else []) + list(extra)


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def _walls(run_dir: Path) -> dict:
    return _read_json(run_dir / WALL_FILE) or {"invocations": []}


def run_point(point: dict, cmd: list[str], log_path: Path, extra=()) -> float:
    """Train one point in a subprocess (output to ``log_path``, appended); returns its wall seconds. Every
    invocation's wall seconds are added to the run's budget_wall.json, also when it fails or is interrupted. On
    Ctrl-C the run gets time to save its checkpoint (the next invocation resumes from it). RuntimeError, naming the
    log and quoting its last lines, when the run fails."""
    run_dir = Path(point["run_dir"])
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root] + [p for p in [os.environ.get("PYTHONPATH")] if p]),
               TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    t0 = time.monotonic()
    rc, interrupted = None, False
    with open(log_path, "a") as fh:
        fh.write(f"# {time.strftime('%Y-%m-%dT%H:%M:%S')}: {' '.join(cmd)}\n")
        fh.flush()
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
        try:
            rc = proc.wait()
        except KeyboardInterrupt:
            log(f"interrupted: letting {point['run']} save its checkpoint (Ctrl-C again to kill it)")
            # Ctrl-C in a terminal reaches the whole process group, but an interrupt sent to this process alone
            # (kill -INT, a job scheduler) would not reach the run: pass it on. A second SIGINT is harmless to a
            # training run, which saves its checkpoint once at the end of the step.
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            interrupted = True
            try:
                proc.wait(timeout=300)
            except (KeyboardInterrupt, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()
            rc = proc.returncode
            raise
        finally:
            wall = time.monotonic() - t0
            if run_dir.exists():
                walls = _walls(run_dir)
                walls["invocations"].append({"wall_seconds": round(wall, 1), "exit_status": rc,
                                             "finished": rc == 0 and not interrupted, "interrupted": interrupted})
                walls["extra"] = list(extra)
                atomic_write(run_dir / WALL_FILE, json.dumps(walls, indent=2))
    if rc != 0:
        raise RuntimeError(f"the run {point['run']} failed with exit status {rc} after {wall:.0f}s; see {log_path}; "
                           f"its last lines:\n{_tail(log_path)}")
    if not is_finished(point):
        raise RuntimeError(f"the run {point['run']} ended without an evaluation at step {point['steps']} in "
                           f"{run_dir / paths.METRICS}; see {log_path}; its last lines:\n{_tail(log_path)}")
    return wall


def _get(d, *keys):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _num(v):
    return None if v is None else float(v)


def read_point(point: dict) -> dict:
    """The point's numbers, from its run's metrics.json, config.json and budget_wall.json (None where absent)."""
    run_dir = Path(point["run_dir"])
    m = _read_json(run_dir / paths.METRICS)
    if m is None:
        raise FileNotFoundError(f"{run_dir / paths.METRICS} not found or unreadable: the run {point['run']} has not "
                                "finished; run the budget command again to train it")
    cfg = _read_json(run_dir / paths.CONFIG) or {}
    walls = [i["wall_seconds"] for i in _walls(run_dir)["invocations"] if i.get("wall_seconds") is not None]
    fd = m.get("frechet_distance")
    fd = fd.get("value") if isinstance(fd, dict) else fd
    return {"multiple": point["multiple"], "seed": point["seed"], "run": point["run"], "run_dir": str(run_dir),
            "steps": int(m.get("step", 0)), "planned_steps": point.get("steps"),
            "image_size": _get(cfg, "config", "image_size"), "width": _get(cfg, "config", "width"),
            "smoke": bool(_get(cfg, "args", "smoke")),
            "training_seconds": _num(_get(m, "training", "seconds")),
            "wall_seconds": round(sum(walls), 1) if walls else None,
            "ccc_valence": _num(_get(m, "table4_edits", "all", "valence", "ccc")),
            "ccc_arousal": _num(_get(m, "table4_edits", "all", "arousal", "ccc")),
            "identity_kept": _num(_get(m, "identity_preservation", "share_recognised")),
            "frechet_distance": _num(fd)}


def collect(points) -> list[dict]:
    """``read_point`` of every point, in order."""
    return [read_point(p) for p in points]


def _stats(values) -> dict | None:
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return None
    return {"mean": sum(vals) / len(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def _times(multiple) -> str:
    """A multiple as the table and the figure name it: ``16x``, ``128x``; a fraction (a run of an earlier default)
    to two decimals, ``0.58x``."""
    return f"{round(float(multiple), 2):g}x"


def summarize(rows) -> list[dict]:
    """Per training length (ascending steps, one per multiple within one curve): its multiple, seeds, steps, image
    size and width (of its first seed's run) and, per metric, the mean, min and max over the seeds that have it (None
    when none has)."""
    by: dict[int, list[dict]] = {}
    for r in rows:
        by.setdefault(int(r["steps"]), []).append(r)
    out = []
    for steps in sorted(by):
        rs = by[steps]
        out.append({"multiple": rs[0]["multiple"], "seeds": [r["seed"] for r in rs], "steps": steps,
                    "image_size": rs[0].get("image_size"), "width": rs[0].get("width"),
                    **{k: _stats(r.get(k) for r in rs) for k in METRICS}})
    return out


# --------------------------------------------------------------------------------------------------------------
# Outputs
# --------------------------------------------------------------------------------------------------------------

def machine_info() -> dict:
    """What the curve's seconds depend on, read without TensorFlow (each run's config.json has the rest)."""
    from . import runtime

    return {"cpu": runtime.cpu_model(), "cpu_count": os.cpu_count(), "native_bf16_cpu": runtime.cpu_has_native_bf16(),
            "python": platform.python_version(), "platform": platform.platform()}


def _cell(stats: dict | None, fmt, several: bool) -> str:
    """"mean (min–max)" over several seeds (an en dash, so that negative numbers read), the value for one."""
    if stats is None:
        return "n/a"

    def f(v):
        text = fmt(v)
        return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.000"

    if not several or stats["n"] < 2:
        return f(stats["mean"])
    return f"{f(stats['mean'])} ({f(stats['min'])}–{f(stats['max'])})"


def _minutes(s: float) -> str:
    m = s / 60.0
    return f"{m:.1f}" if m >= 1 else f"{m:.2f}"


COLUMNS = (("training_seconds", "training time (min)", _minutes), ("wall_seconds", "wall time (min)", _minutes),
           ("ccc_valence", "CCC valence", lambda v: f"{v:.3f}"), ("ccc_arousal", "CCC arousal", lambda v: f"{v:.3f}"),
           ("identity_kept", "identity kept", lambda v: f"{v:.3f}"),
           ("frechet_distance", "Fréchet distance", lambda v: f"{v:.4g}"))


def markdown(doc: dict) -> str:
    summary, several = doc["summary"], len(doc["seeds"]) > 1
    mach = doc.get("machine") or {}
    lines = [f"# Quality vs compute: {doc['recipe']} on the synthetic faces", ""]
    if doc.get("smoke"):
        lines += [f"**--smoke: each point trained m x {SMOKE_STEPS_PER_MULTIPLE} steps with the recipe's smoke "
                  "evaluation; the numbers mean nothing.**", ""]
    else:
        lines += [f"Multiple 1 is the recipe's synthetic default run ({doc['base_steps']} steps, about 13.5-15 minutes "
                  "on a 2-core CPU with AVX-512); multiple m trains m x its steps, nothing else changed.", ""]
    lines += [f"Seeds: {', '.join(map(str, doc['seeds']))}"
              + ("; each cell is the mean (min–max) over the seeds." if several else "."),
              f"Machine: {mach.get('cpu', '?')}, {mach.get('cpu_count', '?')} CPUs, {mach.get('platform', '?')}.", ""]
    head = ["multiple", "steps", "image size", "width"] + [c[1] for c in COLUMNS]
    lines += ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for s in summary:
        cells = [_times(s["multiple"]), str(s["steps"]), str(s["image_size"]) if s["image_size"] else "n/a",
                 f"{s['width']:g}" if s["width"] is not None else "n/a"]
        cells += [_cell(s[k], fmt, several) for k, _, fmt in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "CCC valence / arousal: concordance between the requested and the measured valence / arousal of "
              "the edited faces over the 49-label grid (the Table IV analogue, all labels). Identity kept: share of "
              "edited faces recognised as their source. Training time: the seconds the run's training loop reports (for "
              "a run stopped and resumed, only the part after its last restart); wall time: all its subprocesses, "
              "start-up and evaluation included."]
    if all(s["frechet_distance"] is None for s in summary):
        lines += ["", "Fréchet distance: n/a, the runs' evaluation wrote none."]
    lines += ["", "Runs:", ""] + [f"- {r['run']} ({r['steps']} steps): {r['run_dir']}" for r in doc["points"]]
    return "\n".join(lines) + "\n"


def plot(doc: dict) -> bytes:
    """The PNG: CCC valence and arousal, identity kept, Fréchet distance against the training steps (log2 axis; each
    tick also names its multiple of the default run); each seed a dot, the mean over seeds a line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    summary, rows = doc["summary"], doc["points"]
    fig = Figure(figsize=(13.5, 3.8), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3)
    panels = ((axes[0], (("ccc_valence", "valence", "tab:blue"), ("ccc_arousal", "arousal", "tab:orange")),
               "CCC (Table IV analogue)"),
              (axes[1], (("identity_kept", "identity kept", "tab:green"),), "identity kept (share)"),
              (axes[2], (("frechet_distance", "Fréchet distance", "tab:red"),), "Fréchet distance"))
    xs = [s["steps"] for s in summary]
    for ax, series, title in panels:
        drawn = False
        for key, label, colour in series:
            pts = [(r["steps"], r[key]) for r in rows if r.get(key) is not None]
            if pts:
                ax.scatter(*zip(*pts), color=colour, s=18, alpha=0.6)
            line = [(s["steps"], s[key]["mean"]) for s in summary if s[key] is not None]
            if line:
                ax.plot(*zip(*line), color=colour, marker="o", markersize=4, label=f"{label} (mean)")
                drawn = True
        if not drawn:
            ax.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax.transAxes, color="0.4")
        elif len(series) > 1:
            ax.legend(fontsize=8)
        ax.set_xscale("log", base=2)
        if xs:
            ax.set_xticks(xs)
            ax.set_xticklabels([f"{s['steps']:,}\n({_times(s['multiple'])})" for s in summary], fontsize=8)
            ax.minorticks_off()
            lo, hi = min(xs), max(xs)
            ax.set_xlim(lo / 1.5, hi * 1.5)
        ax.set_xlabel("training steps (x the default run's)")
        ax.set_title(title, fontsize=10)
        ax.grid(True, alpha=0.3)
    fig.suptitle(f"{doc['recipe']}: quality vs compute (dots: each seed; lines: mean over seeds)"
                 + (" (--smoke: numbers mean nothing)" if doc.get("smoke") else ""), fontsize=11)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def write_outputs(out, doc: dict) -> dict:
    """Write OUT/budget.json (``doc``: every point, the summary, settings, machine), OUT/budget.md and OUT/budget.png,
    each atomically; returns their paths."""
    out = Path(out)
    files = {"json": out / "budget.json", "md": out / "budget.md", "png": out / "budget.png"}
    atomic_write(files["json"], json.dumps(doc, indent=2, default=str))
    atomic_write(files["md"], markdown(doc))
    atomic_write(files["png"], plot(doc))
    return files


# --------------------------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------------------------

def _listed(value, parse, flag: str) -> list[int]:
    """A --multiples / --seeds value given as a list (parsed by argparse) or as text (a caller's Namespace)."""
    if isinstance(value, (list, tuple)):
        value = ",".join(map(str, value))
    try:
        return parse(value)
    except argparse.ArgumentTypeError as e:
        raise ValueError(f"{flag}: {e}") from None


def _fmt_s(s: float) -> str:
    return f"{s:.0f}s" if s < 120 else f"{s / 60:.1f} min" if s < 7200 else f"{s / 3600:.1f} h"


def main(args) -> int:
    t_start = time.monotonic()
    try:
        if args.recipe not in RECIPES:
            raise ValueError(f"unsupported recipe {args.recipe!r}: the budget curve supports {', '.join(RECIPES)} "
                             "for now")
        extra = check_extra(getattr(args, "extra", None))
        multiples, seeds = (_listed(v, parse, flag) for v, parse, flag in
                            ((args.multiples, parse_multiples, "--multiples"), (args.seeds, parse_seeds, "--seeds")))
        out = Path(args.out)
        points = plan_points(multiples, seeds, out, smoke=args.smoke, recipe=args.recipe)
    except ValueError as e:
        print(f"tfgan-emotion budget: {e}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    log(f"{args.recipe}: {len(points)} run(s), multiples {','.join(map(str, multiples))} x seeds "
        f"{','.join(map(str, seeds))}{' (--smoke)' if args.smoke else ''}, in {out}")
    # SIGTERM (a job scheduler's stop) takes the Ctrl-C path: the running training saves its checkpoint first.
    previous = signal.signal(signal.SIGTERM, _interrupt) \
        if threading.current_thread() is threading.main_thread() else None
    try:
        return _train_points(args, points, out, extra, multiples, seeds, t_start)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _train_points(args, points, out, extra, multiples, seeds, t_start) -> int:
    for i, p in enumerate(points, 1):
        where = f"[{i}/{len(points)}] x{p['multiple']} seed {p['seed']} ({p['steps']} steps)"
        run_dir = Path(p["run_dir"])
        log_path = out / "logs" / f"{p['run']}.log"
        if is_finished(p):
            before = _walls(run_dir).get("extra", [])
            if before != extra:
                print(f"tfgan-emotion budget: {run_dir} was trained with --extra {' '.join(before) or '(none)'}, "
                      f"not {' '.join(extra) or '(none)'}; use another --out for other recipe flags",
                      file=sys.stderr)
                return 2
            log(f"{where}: reused the finished run {run_dir} (not run again)")
            continue
        resuming = (run_dir / paths.CKPT).exists()
        log(f"{where}: {'resuming' if resuming else 'training'} {p['run']} (log {log_path}; "
            f"{_fmt_s(time.monotonic() - t_start)} elapsed)")
        try:
            wall = run_point(p, train_command(p, out, args.smoke, extra, args.reports, args.recipe), log_path, extra)
        except RuntimeError as e:
            print(f"tfgan-emotion budget: {e}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("tfgan-emotion budget: interrupted; run the same command again to resume (finished runs are "
                  "reused, a stopped one resumes from its last checkpoint)", file=sys.stderr)
            return 130
        log(f"{where}: done in {_fmt_s(wall)} ({_fmt_s(time.monotonic() - t_start)} elapsed)")
    rows = collect(points)
    doc = {"created": time.strftime("%Y-%m-%dT%H:%M:%S"), "recipe": args.recipe, "smoke": bool(args.smoke),
           "base_steps": SMOKE_STEPS_PER_MULTIPLE if args.smoke else base_steps(args.recipe),
           "multiples": multiples, "seeds": seeds, "extra": extra,
           "command": [sys.executable, "-m", "tfgan_emotion.cli"] + sys.argv[1:], "machine": machine_info(),
           "points": rows, "summary": summarize(rows)}
    files = write_outputs(out, doc)
    log(f"wrote {files['json']}, {files['md']} and {files['png']} ({_fmt_s(time.monotonic() - t_start)} in all)")
    print(files["md"])
    return 0
