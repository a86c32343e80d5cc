"""Driving the compared runs: training each system's recipe for a budget of images (in its own process), checking
reused runs, what a run actually trained, and every measure of one system through its SavedModel."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from .. import paths
from ..data import labels as L
from .evaluator import Evaluator
from .protocol import (COMMON, GALLERY, SYSTEMS, Domain, log, Requests, _normalise, controls, identification,
                       make_requests, requested_va, sweep_requests, sweep_smoothness, va_scores)

# --------------------------------------------------------------------------------------------------------------
# Running a system's SavedModel
# --------------------------------------------------------------------------------------------------------------

class Runner:
    """A run's SavedModel plus what the protocol needs to drive it."""

    def __init__(self, spec, run_dir: Path, cfg: dict, seed: int):
        from ..export import load_saved_model

        self.spec, self.run_dir, self.cfg, self.seed = spec, run_dir, cfg, seed
        c = cfg["config"]
        self.domain = Domain(int(c["image_size"]), int(c["channels"]), spec.compare.style)
        self.model = load_saved_model(run_dir)
        self.z_dim = c.get("z_dim")

    def z(self, slot, category) -> np.ndarray:
        """cGAN latent vectors: one fixed z per identity slot (so a sweep or a row follows one face),
        z ~ U(-1, 1) as editing.run_mix draws them."""
        zs = np.random.default_rng([self.seed, 0x2A]).uniform(-1, 1, (int(np.max(slot)) + 1, self.z_dim))
        return zs[np.asarray(slot)].astype(np.float32)

    def apply(self, sources, req: Requests) -> np.ndarray:
        ctrl = controls(self.spec.name, req.category, req.intensity, self.cfg["config"])
        endpoint = getattr(self.model, ctrl.pop("endpoint"))
        out = []
        for s in range(0, len(req), 128):
            sl = slice(s, s + 128)
            args = {k: v[sl] for k, v in ctrl.items()}
            if not self.spec.compare.editing:    # a generator: one z per identity slot instead of a face
                args["z"] = self.z(req.slot, req.category)[sl]
            else:
                args["image"] = sources[sl].astype(np.float32)
            out.append(endpoint(**args)["image"].numpy())
        return np.concatenate(out).astype(np.float32)


def evaluate_system(runner: Runner, ev: Evaluator, s: dict, seed: int) -> dict:
    """Every measure of one system (see the module docstring); also the pieces of the figure and the evaluation
    network's quality on this system's domain."""
    spec, dom = runner.spec, runner.domain
    ids = dom.identities(s["identities"])
    n = len(ids)
    levels = s["intensities"] if spec.compare.control == "continuous" else (1.0,)
    req = make_requests(n, levels)
    rv, ra = requested_va(req.category, req.intensity)
    src = dom.render(ids, 0.0, 0.0)
    truth = dom.render(ids[req.slot], rv, ra)
    gen = runner.apply(src[req.slot], req)
    m_gen, m_truth = ev.measure(gen), ev.measure(truth)
    full = req.full
    res = {"requests": int(len(req)), "requests_t1": int(full.sum()), "identities": int(n),
           "domain": vars(dom)}

    if spec.compare.control == "continuous":
        res["va"] = va_scores(rv, ra, m_gen["va"])
    cat_pred = L.category_from_va(m_gen["va"][:, 0], m_gen["va"][:, 1], COMMON)
    res["category_accuracy"] = float(np.mean(cat_pred[full] == req.category[full]))
    res["category_accuracy_per_class"] = {COMMON.names[c]: float(np.mean(cat_pred[full & (req.category == c)] == c))
                                          for c in range(len(COMMON))}

    # Identity: galleries of GALLERY identities (consecutive slots; the last group ends at the last identity),
    # truth renders of the same request.
    g = min(GALLERY, n)
    start = np.minimum((req.slot // g) * g, n - g)
    gallery_slots = np.stack([start + j for j in range(g)], 1)
    feat_truth = {}
    for i in range(len(req)):
        feat_truth[(int(req.slot[i]), int(req.category[i]), float(req.intensity[i]))] = m_truth["features"][i]
    gallery = np.stack([[feat_truth[(int(gs), int(req.category[i]), float(req.intensity[i]))]
                         for gs in gallery_slots[i]] for i in range(len(req))])
    res["identity_chance"] = 1.0 / g
    m_src = ev.measure(src)
    if spec.compare.editing:
        res["identity_top1"] = identification(m_gen["features"][full], gallery[full], req.slot[full],
                                              gallery_slots[full])
        f_src = _normalise(m_src["features"])[req.slot]
        res["cosine_source_edit"] = float(np.mean(np.sum(f_src * _normalise(m_gen["features"]), 1)[full]))
        res["cosine_source_truth"] = float(np.mean(np.sum(f_src * _normalise(m_truth["features"]), 1)[full]))
    from ..eval import metrics as M

    res["frechet_distance"] = M.frechet_distance(m_gen["features"][full], m_truth["features"][full])
    res["frechet_samples"], res["feature_dim"] = int(full.sum()), int(m_gen["features"].shape[1])

    # Smoothness sweeps.
    sw_ids = min(s["sweep_identities"], n)
    sw = sweep_requests(sw_ids)
    if spec.compare.smoothness != "no":
        sw_gen = runner.apply(src[sw.slot], sw)
        res["smoothness"] = sweep_smoothness(ev.measure(sw_gen)["va"], sw.category, sw_ids)

    # The measuring stick on this domain: held-out identities rendered WITH nuisance (another pose, light, noise).
    noisy = dom.render(ids[req.slot], rv, ra, nuisance=True, seed=seed + 7)
    m_noisy = ev.measure(noisy)
    q = {"va": va_scores(rv, ra, m_noisy["va"])}
    q_cat = L.category_from_va(m_noisy["va"][:, 0], m_noisy["va"][:, 1], COMMON)
    q["category_accuracy"] = float(np.mean(q_cat[full] == req.category[full]))
    q["identity_top1"] = identification(m_noisy["features"][full], gallery[full], req.slot[full], gallery_slots[full])
    sw_truth = dom.render(ids[sw.slot], *requested_va(sw.category, sw.intensity))
    q["smoothness_truth"] = sweep_smoothness(ev.measure(sw_truth)["va"], sw.category, sw_ids)["score"]
    q["truth_va_ccc"] = {k: v["ccc"] for k, v in va_scores(rv, ra, m_truth["va"]).items()}
    t_cat = L.category_from_va(m_truth["va"][:, 0], m_truth["va"][:, 1], COMMON)
    q["truth_category_accuracy"] = float(np.mean(t_cat[full] == req.category[full]))
    res["evaluator_quality"] = q

    # Figure rows: slot 0, the six classes at t = 1 (source first).
    order = [int(np.flatnonzero(full & (req.slot == 0) & (req.category == c))[0]) for c in range(len(COMMON))]
    res["_figure"] = {"source": src[0], "truth": truth[order], "generated": gen[order]}
    return res


# --------------------------------------------------------------------------------------------------------------
# Training the runs
# --------------------------------------------------------------------------------------------------------------

def steps_for(recipe: str, budget: int) -> dict:
    """Recipe flags and steps for a budget of training images: steps = ceil(budget / images per step), as the
    system's budget_flags spreads them (the fer2013 DCGAN over its two phases)."""
    total = max(1, math.ceil(budget / SYSTEMS[recipe].compare.images_per_step))
    return {"flags": SYSTEMS[recipe].budget_flags(total), "steps": total}


# Written into a run directory when compare trained it to the end: a later compare with the same --out reuses the
# run and the wall time it took, instead of re-running the recipe (which would only resume, re-export and time that).
WALL_FILE = "compare_wall.json"


def train_system(recipe: str, args, out: Path) -> dict:
    """Run one recipe in a subprocess (its own precision policy and memory): synthetic defaults, --skip-eval, the
    budget's steps (or --smoke). Returns the run directory and the wall time; raises RuntimeError on failure."""
    name = f"compare-{'smoke' if args.smoke else f'b{args.budget_images}'}-seed{args.seed}"
    runs = out / "runs" / recipe
    cmd = [sys.executable, "-m", "tfgan_emotion.cli", "train", recipe, "--skip-eval", "--seed", str(args.seed), "--out", str(runs), "--run", name,
           "--reports", str(out / "runs" / "reports")]
    plan = {"flags": ["--smoke"], "steps": None} if args.smoke else steps_for(recipe, args.budget_images)
    cmd += plan["flags"]
    done = runs / name / WALL_FILE
    if done.exists() and (runs / name / paths.SAVED_MODEL / "saved_model.pb").exists():
        wall = json.loads(done.read_text())["wall_seconds"]
        log(f"{recipe}: already trained in {runs / name} ({wall:.0f}s then); not run again")
        return {"run_dir": runs / name, "wall_seconds": wall}
    log_path = out / "logs" / f"{recipe}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root] + [p for p in [os.environ.get("PYTHONPATH")] if p]),
               TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    log(f"training {recipe}: {' '.join(plan['flags'])} (log {log_path})")
    t0 = time.monotonic()
    with open(log_path, "w") as fh:
        fh.write(" ".join(cmd) + "\n")
        fh.flush()
        rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env).returncode
    wall = time.monotonic() - t0
    if rc != 0:
        tail = log_path.read_text()[-1500:]
        raise RuntimeError(f"{recipe} failed with exit status {rc} after {wall:.0f}s; see {log_path}:\n{tail}")
    log(f"trained {recipe} in {wall:.0f}s")
    (runs / name / WALL_FILE).write_text(json.dumps({"wall_seconds": wall, "command": cmd}))
    return {"run_dir": runs / name, "wall_seconds": wall}


def check_run(run_dir: Path) -> dict:
    """config.json of a run usable by compare; clear errors otherwise."""
    run_dir = Path(run_dir)
    cfg_path = run_dir / paths.CONFIG
    if not cfg_path.exists():
        raise ValueError(f"--reuse {run_dir}: not a run directory (no {paths.CONFIG})")
    if not (run_dir / paths.SAVED_MODEL / "saved_model.pb").exists():
        raise ValueError(f"--reuse {run_dir}: no {paths.SAVED_MODEL}/saved_model.pb; train the run to the end (the "
                         "recipe exports when training finishes)")
    cfg = json.loads(cfg_path.read_text())
    recipe = cfg.get("recipe")
    if recipe not in SYSTEMS:
        raise ValueError(f"--reuse {run_dir}: recipe {recipe!r} is not one of the compared systems "
                         f"({', '.join(SYSTEMS)})")
    return cfg


def budget_of(recipe: str, run_dir: Path, cfg: dict, wall: float | None) -> dict:
    """What a run actually trained: steps, images per step (from its config), images seen, seconds."""
    c = cfg["config"]
    metrics_path = run_dir / paths.METRICS
    m = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    step = int(m.get("step", 0))
    # Images per step: the batch, times the critic updates per generator step where there are several (GANmut).
    per = int(c.get("batch_size", SYSTEMS[recipe].compare.images_per_step)) * int(c.get("n_critic", 1))
    train_s = m.get("training", {}).get("seconds")
    if "training_phases" in m:
        train_s = sum(p.get("seconds", 0.0) for p in m["training_phases"].values() if isinstance(p, dict))
    # --batch-size is the global batch (whatever the number of replicas).
    return {"run_dir": str(run_dir), "steps": step, "images_per_step": per, "images": step * per,
            "training_seconds": None if train_s is None else round(float(train_s), 1),
            "wall_seconds": None if wall is None else round(float(wall), 1),
            "resolution": f"{c['image_size']}x{c['image_size']}x{c['channels']}",
            "precision": cfg.get("runtime", {}).get("precision"), "smoke": bool(cfg.get("args", {}).get("smoke"))}

