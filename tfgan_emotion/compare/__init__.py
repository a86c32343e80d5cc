"""``tfgan-emotion compare``: the five systems side by side on the synthetic faces' ground truth.

Trains (or, with --reuse, takes existing runs of) CAAE, FExGAN, the fer2013 DCGAN + encoder, the FACES
label-interpolation cGAN and GANmut on their built-in synthetic stand-ins with ONE budget of training images, then
scores every system with ONE protocol against the renderer's ground truth:

  request      (held-out identity, FACES emotion c, intensity t): the 6 FACES emotions (neutral, fear, anger,
               sadness, disgust, happiness) are the classes every system knows; the requested (valence, arousal) is
               t x the emotion's circumplex direction (labels.CIRCUMPLEX_DEGREES), neutral = (0, 0).
  control      CAAE edit(v, a); GANmut edit_emotion(c, rho=t); cGAN label (1-t) onehot(neutral) + t onehot(c)
               from a fixed z; FExGAN transfer with affect (1-t) onehot(neutral) + t onehot(c); DCGAN
               transfer(c) (categorical, t = 1 only).
  source       the identity rendered neutral in the canonical pose (no nuisance) at the system's own size,
               channels and stand-in style (FERG characters for FExGAN, the FACES studio look for the cGAN).
  truth        the renderer's face of the same identity and style at the requested (valence, arousal).
  measuring    ONE evaluation network for all systems, on 48x48 grey (every image is converted): a CNN with a
  stick        valence/arousal regression head and an identity head, trained once per comparison on renders of all
               five domains (cached in OUT/evaluator); its own held-out quality is in the report.

Columns: valence/arousal CCC, RMSE and SAGR between requested and measured (continuous systems); accuracy of the
requested category (category_from_va of the measured point on the FACES vocabulary, at t = 1, every system);
identity preservation (top-1 identification of each edit among the truth renders of 6 identities showing the same
request; editing systems); Frechet distance between the evaluation network's features of generated faces and of
the truth renders of the same requests; smoothness (paper 002's score) of the measured intensity along sweeps
t = 0.1 .. 1.0 toward each emotion (systems with a continuous control); the budget. Cells that do not apply say
n/a and why. Writes OUT/compare.json, compare.md, compare.html and figures/edits.png; OUT defaults to
reports/compare/<timestamp>. The trained runs live in OUT/runs/<recipe>/ (re-running with the same --out reuses
the finished runs, resumes unfinished ones and reuses the evaluation network).

Examples:
  tfgan-emotion compare                                  # all five, default budget (~30 min on an idle 2-core CPU)
  tfgan-emotion compare --smoke                          # a few steps each: checks that everything runs
  tfgan-emotion compare --systems caae_affectnet ganmut_affwild2 --budget-images 20000
  tfgan-emotion compare --reuse checkpoints/caae_affectnet/synthetic-seed0 checkpoints/fexgan_ferg/synthetic-seed0
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .. import paths
from .evaluator import Evaluator, evaluator_training_set, train_evaluator  # noqa: F401
from .protocol import *  # noqa: F401,F403  (the protocol's names are this package's interface)
from .protocol import (COLUMNS, COLUMN_TITLES, DEFAULT_BUDGET, SETTINGS, SYSTEMS, Domain, log)
from .report import NA_REASONS, PROTOCOL, cell_text, save_figure, table_cells, write_report  # noqa: F401
from .runner import Runner, budget_of, check_run, evaluate_system, steps_for, train_system  # noqa: F401

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--systems", nargs="+", metavar="RECIPE", help=f"systems to compare (default all five: "
                   f"{' '.join(SYSTEMS)}; with --reuse: the reused runs' systems)")
    p.add_argument("--budget-images", type=int, default=DEFAULT_BUDGET, help="training images every system sees "
                   f"(default {DEFAULT_BUDGET:,}: the five train in about 30 minutes on 2 CPU cores)")
    p.add_argument("--reuse", nargs="+", type=Path, metavar="RUN_DIR", help="existing runs (holding "
                   "export/saved_model) to evaluate instead of training their systems")
    p.add_argument("--smoke", action="store_true", help="recipes with --smoke (a few steps), a tiny evaluation "
                   "network and few requests: checks that everything runs; the numbers mean nothing")
    p.add_argument("--out", type=Path, help="output folder (default reports/compare/<timestamp>); runs, logs, the "
                   "evaluation network, compare.{json,md,html} and figures go there")
    p.add_argument("--identities", type=int, help="held-out identities per system (default 12, smoke 3; FExGAN "
                   "has 6 characters at most)")
    p.add_argument("--intensities", type=float, nargs="+", help="request intensities of continuous systems "
                   "(default 0.4 0.7 1.0; 1.0 is always added)")
    p.add_argument("--evaluator-steps", type=int, help="training steps of the shared evaluation network "
                   "(default 3000, smoke 250)")
    p.add_argument("--jobs", type=int, default=1, help="recipes trained at the same time (default 1; more "
                   "shares the CPU, so the measured seconds are not each system's own)")
    p.add_argument("--seed", type=int, default=0, help="seed of the recipes, requests and evaluation network")


def _resolve(args) -> tuple[list[str], dict, dict]:
    """(systems, {recipe: reused run dir}, settings); ValueError for bad flags."""
    reuse = {}
    for d in args.reuse or ():
        cfg = check_run(d)
        if cfg["recipe"] in reuse:
            raise ValueError(f"--reuse: two runs of {cfg['recipe']} ({reuse[cfg['recipe']]} and {d})")
        reuse[cfg["recipe"]] = Path(d)
    systems = list(args.systems) if args.systems else (list(reuse) if reuse else list(SYSTEMS))
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        raise ValueError(f"--systems: unknown {', '.join(unknown)}; choose from {', '.join(SYSTEMS)}")
    if len(set(systems)) != len(systems):
        raise ValueError("--systems: a system is named twice")
    extra = [r for r in reuse if r not in systems]
    if extra:
        raise ValueError(f"--reuse gives runs of {', '.join(extra)}, which --systems leaves out")
    systems = [s for s in SYSTEMS if s in systems]  # the table's fixed order
    if args.budget_images < 1:
        raise ValueError("--budget-images must be positive")
    if args.jobs < 1:
        raise ValueError("--jobs must be positive")
    s = dict(SETTINGS["smoke" if args.smoke else "default"])
    if args.identities is not None:
        if args.identities < 2:
            raise ValueError("--identities must be at least 2 (identification needs a gallery)")
        s["identities"] = args.identities
    if args.intensities:
        if any(not 0.2 <= t <= 1.0 for t in args.intensities):
            raise ValueError("--intensities must lie in [0.2, 1] (below 0.2 the renderer's faces are neutral)")
        s["intensities"] = tuple(args.intensities)
    if args.evaluator_steps is not None:
        if args.evaluator_steps < 1:
            raise ValueError("--evaluator-steps must be positive")
        s["evaluator_steps"] = args.evaluator_steps
    return systems, reuse, s


def _default_domain(recipe: str) -> Domain:
    """The domain of a system's synthetic default (for the evaluation network when that system is not compared)."""
    c = SYSTEMS[recipe].compare
    return Domain(c.size, c.channels, c.style)


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items() if not str(k).startswith("_")}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(float(x)) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, Path):
        return str(x)
    return x


def main(args) -> int:
    try:
        systems, reuse, s = _resolve(args)
    except ValueError as e:
        print(f"tfgan-emotion compare: {e}", file=sys.stderr)
        return 2
    t_start = time.monotonic()
    out = Path(args.out) if args.out else Path(paths.DEFAULT_REPORTS) / "compare" / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    log(f"comparing {', '.join(systems)} in {out}")

    # 1. Runs: reuse or train (the recipes in subprocesses, --jobs at a time).
    runs, walls = {}, {}
    for r in systems:
        if r in reuse:
            runs[r], walls[r] = reuse[r], None
            log(f"reusing {r}: {reuse[r]}")
    # Longest first, so that with --jobs > 1 GANmut (slowest per image, and its crops) starts at once.
    todo = sorted((r for r in systems if r not in reuse), key=lambda r: -SYSTEMS[r].compare.seconds_per_1k_images)
    try:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for r, res in zip(todo, pool.map(lambda r: train_system(r, args, out), todo)):
                runs[r], walls[r] = res["run_dir"], res["wall_seconds"]
    except RuntimeError as e:
        print(f"tfgan-emotion compare: {e}", file=sys.stderr)
        return 1
    cfgs = {r: check_run(runs[r]) for r in systems}
    budget = {r: budget_of(r, Path(runs[r]), cfgs[r], walls[r]) for r in systems}

    # 2. The shared evaluation network, trained on every domain (the compared runs' sizes, defaults for the rest).
    domains = []
    for r in SYSTEMS:
        d = (Domain(int(cfgs[r]["config"]["image_size"]), int(cfgs[r]["config"]["channels"]), SYSTEMS[r].compare.style)
             if r in cfgs else _default_domain(r))
        if d not in domains:
            domains.append(d)
    import keras

    keras.utils.set_random_seed(args.seed)
    evaluator, ev_meta = train_evaluator(domains, s, args.seed, out / "evaluator")

    # 3. Every system through the protocol.
    results, table = {}, {}
    for r in systems:
        t0 = time.monotonic()
        log(f"evaluating {r} ({runs[r]})")
        runner = Runner(SYSTEMS[r], Path(runs[r]), cfgs[r], args.seed)
        results[r] = evaluate_system(runner, evaluator, s, args.seed)
        results[r]["seconds"] = round(time.monotonic() - t0, 1)
        table[r] = table_cells(r, results[r], budget[r])
        del runner
        log(f"evaluated {r} in {results[r]['seconds']}s: " + ", ".join(
            f"{c} {cell_text(c, table[r][c], [])}" for c in COLUMNS))

    # 4. Report.
    save_figure(results, out / "figures" / "edits.png")
    images = {budget[r]["images"] for r in systems}
    budget_text = ("--smoke (each recipe's smoke steps)" if args.smoke else
                   f"{args.budget_images:,} training images per system" + ("" if not reuse else
                                                                          " (reused runs: as they were trained)"))
    budget_notes = []
    if len(images) > 1:
        budget_notes.append("Images seen differ between systems where steps round up to whole batches, where runs "
                            "were reused, or under --smoke.")
    if args.jobs > 1:
        budget_notes.append(f"--jobs {args.jobs}: recipes trained concurrently, so wall and training seconds include "
                            "sharing the CPU.")
    budget_notes.append("Wall seconds: the whole recipe process (start-up, data, training, export); training seconds: "
                        "the training loop alone (both phases for the fer2013 DCGAN). Each recipe keeps its synthetic "
                        "defaults (size, width, precision) apart from the number of steps.")
    doc = {"created": time.strftime("%Y-%m-%d %H:%M:%S"), "command": [Path(sys.argv[0]).name] + sys.argv[1:],
           "smoke": bool(args.smoke), "budget_images": None if args.smoke else args.budget_images,
           "budget_text": budget_text, "systems": systems, "columns": list(COLUMNS),
           "column_titles": COLUMN_TITLES, "table": table, "na_reasons": NA_REASONS, "budget": budget,
           "budget_notes": budget_notes, "evaluator": {k: v for k, v in ev_meta.items() if k != "key"},
           "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in s.items()},
           "results": results, "protocol": PROTOCOL}
    doc["seconds"] = round(time.monotonic() - t_start, 1)
    md = write_report(out, doc)
    (out / "compare.json").write_text(json.dumps(_jsonable(doc), indent=2))
    log(f"done in {doc['seconds']:.0f}s")
    print(md)
    print(md.with_suffix(".html"))
    return 0
