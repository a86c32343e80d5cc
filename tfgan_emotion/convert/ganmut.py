"""The GANmut authors' published generators (``<iterations>-G.ckpt``, PyTorch state dicts of their linear and
gaussian 2-D models) as a ``ganmut_affwild2`` run directory.

What the checkpoint holds (names as the authors' modules give them; C = 64 channels in theirs, R = 6 residual
blocks, 7 classes):

- ``main.N.*``: the StarGAN generator as one sequence: 0 conv7 (C x 5 x 7 x 7: image and the 2 code channels), 1
  instance norm, 3 and 6 the strided convs, 4 and 7 their norms, 9 .. 8+R the residual blocks (``main.0`` conv3,
  ``main.1`` norm, ``main.3`` conv3, ``main.4`` norm), 9+R and 12+R the transposed convs (in x out x 4 x 4), 10+R and
  13+R their norms, 15+R the conv7 to 3 channels. Convolutions have no bias. Each instance norm has ``weight`` and
  ``bias`` and, since the authors track running statistics, ``running_mean``, ``running_var`` and
  ``num_batches_tracked``.
- linear model: ``axes.weight`` (6 x 2), the emotion directions (normalised at use), and ``axes.bias`` (6), which
  the original never uses.
- gaussian model: ``mu.weight`` (7 x 2), ``covariance_axes.weight`` (7 x 2), ``covariance_angles.weight`` (1 x 7).

How each maps here (:func:`keras_weights`): a convolution's OIHW kernel becomes Keras' HWIO (transpose 2, 3, 1, 0);
a transposed convolution's IOHW kernel becomes Keras' Conv2DTranspose HW-out-in by the same transpose (both are the
adjoint of the same cross-correlation, so nothing is flipped); an instance norm's weight and bias are the layer's
``gamma`` and ``beta``; ``axes.weight`` is :class:`nets.layers.EmotionDirections`' ``directions``; ``mu``,
``covariance_axes`` and ``covariance_angles`` (flattened) are :class:`nets.layers.EmotionGaussians`' weights.

Conventions, so that the converted generator edits the RGB images this suite reads exactly as the original edits
the same photo: the original reads images with OpenCV, i.e. in BGR order, scales them to [-1, 1] and returns BGR.
The converted generator takes and returns RGB like every network here: the first convolution's input channels 0 and
2 and the last convolution's output channels 0 and 2 are swapped at conversion (the 2 code channels stay where they
are). The authors' notebook calls the generator in training mode, so every instance norm normalises with the
image's own mean and (biased) variance, as this suite's instance norm does; the running statistics in the
checkpoint are checked for shape and otherwise not used. NCHW vs NHWC needs nothing beyond the kernel transposes.

The authors publish generators only: the converted run has no discriminator and cannot be trained further.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .torchfile import CheckpointError, read_state_dict

ORIGINAL_CONV = 64               # the authors' g_conv_dim; the port's width is conv_dim / 64
N_CLASSES = 7                    # AffectNet's first 7 classes, as the port's GANmut vocabulary
BGR_TO_RGB = [2, 1, 0]           # the same permutation either way
NORM_STATS = ("running_mean", "running_var", "num_batches_tracked")
RECIPE = "ganmut_affwild2"


@dataclass(frozen=True)
class Layout:
    """What a checkpoint's keys say about the generator it holds."""

    parametrization: str
    conv_dim: int
    residual_blocks: int
    n_classes: int

    @property
    def width(self) -> float:
        return self.conv_dim / ORIGINAL_CONV


def _modules(layout: Layout):
    """(torch module prefix, kind, Keras layer name, (in, out) channels) in the order of the original's sequence."""
    c, r = layout.conv_dim, layout.residual_blocks
    out = [("main.0", "conv", "g_conv1", (5, c), 7), ("main.1", "norm", "g_in1", c, None),
           ("main.3", "conv", "g_down1", (c, 2 * c), 4), ("main.4", "norm", "g_in2", 2 * c, None),
           ("main.6", "conv", "g_down2", (2 * c, 4 * c), 4), ("main.7", "norm", "g_in3", 4 * c, None)]
    for b in range(r):
        p = f"main.{9 + b}.main"
        out += [(f"{p}.0", "conv", f"g_res{b + 1}_conv1", (4 * c, 4 * c), 3),
                (f"{p}.1", "norm", f"g_res{b + 1}_in1", 4 * c, None),
                (f"{p}.3", "conv", f"g_res{b + 1}_conv2", (4 * c, 4 * c), 3),
                (f"{p}.4", "norm", f"g_res{b + 1}_in2", 4 * c, None)]
    out += [(f"main.{9 + r}", "deconv", "g_up1", (4 * c, 2 * c), 4),
            (f"main.{10 + r}", "norm", "g_up_in1", 2 * c, None),
            (f"main.{12 + r}", "deconv", "g_up2", (2 * c, c), 4),
            (f"main.{13 + r}", "norm", "g_up_in2", c, None),
            (f"main.{15 + r}", "conv", "g_conv_out", (c, 3), 7)]
    return out


def expected_keys(layout: Layout) -> tuple[dict, dict]:
    """({required key: torch shape}, {accepted but unused key: torch shape})."""
    required, unused = {}, {}
    for prefix, kind, _, ch, k in _modules(layout):
        if kind == "conv":
            required[f"{prefix}.weight"] = (ch[1], ch[0], k, k)            # OIHW
        elif kind == "deconv":
            required[f"{prefix}.weight"] = (ch[0], ch[1], k, k)            # IOHW
        else:
            required[f"{prefix}.weight"] = required[f"{prefix}.bias"] = (ch,)
            unused[f"{prefix}.running_mean"] = unused[f"{prefix}.running_var"] = (ch,)
            unused[f"{prefix}.num_batches_tracked"] = ()
    n = layout.n_classes
    if layout.parametrization == "linear":
        required["axes.weight"] = (n - 1, 2)
        unused["axes.bias"] = (n - 1,)
    else:
        required["mu.weight"] = (n, 2)
        required["covariance_axes.weight"] = (n, 2)
        required["covariance_angles.weight"] = (1, n)
    return required, unused


def _guess_parametrization(state) -> str | None:
    if "axes.weight" in state and "mu.weight" not in state:
        return "linear"
    if "mu.weight" in state and "axes.weight" not in state:
        return "gaussian"
    return None


def inspect(state: dict, parametrization: str | None = None, what: str = "the checkpoint") -> Layout:
    """The layout of a GANmut generator state dict; :class:`CheckpointError` naming every missing, unexpected or
    mis-shaped key (``parametrization`` None: read from the keys)."""
    guessed = _guess_parametrization(state)
    if parametrization is None:
        if guessed is None:
            raise CheckpointError(f"{what}: neither axes.weight (linear model) nor mu.weight (gaussian model) is in "
                                  "it, so it is not a GANmut generator; give --parametrization to see which keys "
                                  "are missing")
        parametrization = guessed
    if parametrization not in ("linear", "gaussian"):
        raise CheckpointError(f"parametrization must be linear or gaussian, got {parametrization!r}")
    first = state.get("main.0.weight")
    if first is None or first.ndim != 4:
        raise CheckpointError(f"{what}: missing key main.0.weight (the first convolution, C x 5 x 7 x 7)")
    blocks = [int(m.group(1)) for k in state for m in [re.fullmatch(r"main\.(\d+)\.main\.0\.weight", k)] if m]
    if parametrization == "linear" and "axes.weight" in state:
        n_classes = int(np.shape(state["axes.weight"])[0]) + 1
    elif parametrization == "gaussian" and "mu.weight" in state:
        n_classes = int(np.shape(state["mu.weight"])[0])
    else:
        n_classes = N_CLASSES
    layout = Layout(parametrization, int(first.shape[0]), max(blocks) - 8 if blocks else 0, n_classes)
    problems = []
    if n_classes != N_CLASSES:
        problems.append(f"it has {n_classes} classes where this port's GANmut has {N_CLASSES} (AffectNet's neutral, "
                        "happy, sad, surprise, fear, disgust, anger; the authors' c_dim 7)")
    if layout.residual_blocks < 1:
        problems.append("it has no residual block (main.9.main.0.weight)")
    required, unused = expected_keys(layout)
    missing = [k for k in required if k not in state]
    unexpected = [k for k in state if k not in required and k not in unused]
    shapes = [f"{k} has shape {tuple(np.shape(state[k]))}, expected {want}"
              for k, want in {**required, **unused}.items() if k in state and tuple(np.shape(state[k])) != want]
    if missing:
        problems.append(f"missing key{'s' * (len(missing) > 1)} {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected key{'s' * (len(unexpected) > 1)} {', '.join(unexpected)}")
    problems += shapes
    if problems:
        hint = ""
        if guessed and guessed != parametrization:
            hint = f" (its keys are those of the {guessed} model: --parametrization {guessed})"
        raise CheckpointError(f"{what}: not a GANmut {parametrization} generator as the authors publish it{hint}: "
                              + "; ".join(problems))
    return layout


def keras_weights(state: dict, layout: Layout) -> dict:
    """``{(layer name, weight name): float32 array}`` for the port's generator and conditional space (module
    docstring: kernel transposes, BGR -> RGB at the first and last convolution)."""
    out = {}
    for prefix, kind, layer, _, _ in _modules(layout):
        w = np.asarray(state[f"{prefix}.weight"], np.float32)
        if kind == "norm":
            out[(layer, "gamma")] = w
            out[(layer, "beta")] = np.asarray(state[f"{prefix}.bias"], np.float32)
            continue
        kernel = w.transpose(2, 3, 1, 0)          # OIHW -> HWIO; deconv IOHW -> HW, out, in
        if layer == "g_conv1":
            kernel = kernel[:, :, BGR_TO_RGB + [3, 4], :]
        elif layer == "g_conv_out":
            kernel = kernel[:, :, :, BGR_TO_RGB]
        out[(layer, "kernel")] = np.ascontiguousarray(kernel)
    if layout.parametrization == "linear":
        out[("emotion_directions", "directions")] = np.asarray(state["axes.weight"], np.float32)
    else:
        out[("emotion_gaussians", "mu")] = np.asarray(state["mu.weight"], np.float32)
        out[("emotion_gaussians", "covariance_axes")] = np.asarray(state["covariance_axes.weight"], np.float32)
        out[("emotion_gaussians", "covariance_angles")] = np.asarray(state["covariance_angles.weight"],
                                                                     np.float32).reshape(-1)
    return out


def load_into(model, weights: dict) -> None:
    """Assign :func:`keras_weights` to a GANmut model's generator and conditional space, checking every shape."""
    nets = (model.generator, model.conditional_space)
    for (layer_name, weight), value in weights.items():
        layer = next(n.get_layer(layer_name) for n in nets if layer_name in {x.name for x in n.layers})
        var = getattr(layer, weight)
        if tuple(var.shape) != value.shape:
            raise CheckpointError(f"{layer_name}.{weight}: the port's shape {tuple(var.shape)} differs from the "
                                  f"converted {value.shape}")
        var.assign(value)


def _iterations(path: Path) -> int | None:
    m = re.fullmatch(r"(\d+)-G\.ckpt", path.name)
    return int(m.group(1)) if m else None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _notes(layout: Layout, path: Path, iterations, synthetic: bool) -> list[str]:
    trained = f" after {iterations:,} iterations" if iterations else ""
    notes = [f"Converted from the GANmut authors' PyTorch generator {path.name} ({layout.parametrization} 2-D "
             f"model{trained}): not trained here (tfgan-emotion convert). It holds the generator and the conditional "
             "space only.",
             "No discriminator: the authors publish generators only. `tfgan-emotion evaluate` gives the emotion "
             "classifiers' F1 on generated faces, FED and smoothness (the paper's 'GANmut Original' column); the "
             "discriminator F1 (Table V) cannot be computed and is left out.",
             "Colours: the original reads images with OpenCV (BGR); the converted generator takes and returns RGB: "
             "the first convolution's input channels and the last one's output channels were swapped at conversion.",
             "Instance norm uses each image's own statistics, as the authors' notebook runs the generator (training "
             "mode); the checkpoint's running means and variances are not used."]
    if layout.parametrization == "gaussian":
        notes.append("Gaussian model: --emotion e --rho r edits at the point r of the way from the learned neutral "
                     "mode to e's mode (ours; the original has no intensity for this model and edits at a point "
                     "(x, y) of the plane, which --theta/--rho give as rho (cos theta, sin theta)).")
    if synthetic:
        notes.append("No --data-dir was given: `tfgan-emotion evaluate` trains the classifiers on, and edits, the "
                     "built-in synthetic Aff-Wild2-like faces, so its numbers are not the paper's. Convert with "
                     "--data-dir AFF_WILD2 (and --detector) for the paper's protocol.")
    return notes


# Recipe flags the conversion itself decides (the run directory, float32 weights, the checkpoint's width).
FIXED_FLAGS = {"out": "-o", "run": "-o", "precision": "the checkpoint (float32)", "width": "the checkpoint",
               "strategy": "the conversion"}


def recipe_args(system, flags):
    """The recipe's flags (its defaults, then ``flags``) for the converted run; ValueError for a flag the recipe
    does not have or one the conversion decides."""
    import argparse

    parser = system.parser()
    parser.exit_on_error = False
    try:
        args, unknown = parser.parse_known_args(list(flags))
    except argparse.ArgumentError as e:
        raise ValueError(f"{e} (a {RECIPE} recipe flag)") from None
    if unknown:
        raise ValueError(f"{' '.join(unknown)}: not a flag of tfgan-emotion convert or of the {RECIPE} recipe (python "
                         f"recipes/{RECIPE}.py --help lists the recipe's; give them after the checkpoint)")
    defaults = parser.parse_args([])
    fixed = [k for k in FIXED_FLAGS if getattr(args, k) != getattr(defaults, k)]
    if fixed:
        raise ValueError("; ".join(f"--{k.replace('_', '-')} cannot be given: the converted run's comes from "
                                   f"{FIXED_FLAGS[k]}" for k in fixed))
    return args


def convert(checkpoint, out_dir, parametrization: str | None = None, image_size: int = 128, recipe_flags=(),
            log=print) -> Path:
    """Write the run directory ``out_dir`` (config.json, ckpt/, export/) from the authors' generator ``checkpoint``.
    ``recipe_flags``: ganmut_affwild2 recipe flags stored with the run (its data and evaluation settings, e.g.
    ``--data-dir``, ``--detector``), which ``tfgan-emotion evaluate`` then uses. Raises CheckpointError for a file
    that is not such a generator, ValueError for flags that cannot be used."""
    path = Path(checkpoint)
    out_dir = Path(out_dir)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    if (out_dir / "config.json").exists():
        raise ValueError(f"{out_dir} already holds a run (config.json); give -o a new folder")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ValueError(f"{out_dir} is not empty; give -o a new folder")
    what = f"{path}: not a GANmut generator checkpoint"
    state = read_state_dict(path, what)
    layout = inspect(state, parametrization, f"{path}")
    weights = keras_weights(state, layout)

    from dataclasses import replace

    from .. import runtime
    from ..systems import get
    from ..systems.base import UsageError

    system = get(RECIPE)
    args = recipe_args(system, recipe_flags)
    args.image_size, args.width, args.parametrization = int(image_size), layout.width, layout.parametrization
    args.precision, args.out, args.run = "float32", out_dir.parent, out_dir.name
    try:
        system.check_files(args)
        plan = system.plan(args)
    except UsageError as e:
        raise ValueError(str(e)) from None
    config = replace(plan.config, residual_blocks=layout.residual_blocks, n_classes=layout.n_classes,
                     discriminator=False)
    strategy, info = runtime.setup("default", "float32", args.seed, quiet=True)
    with strategy.scope():
        model = system.build(config, args, None)
    load_into(model, weights)
    iterations = _iterations(path)
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        _write_run(out_dir, system, args, strategy, info, model, config, layout, path, state, iterations, log)
    except BaseException:
        if created:                     # a half-written run would be refused by the next attempt: remove it
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    return out_dir


def _write_run(out_dir, system, args, strategy, info, model, config, layout, path, state, iterations, log):
    """ckpt/ (step = the original's iterations / n_critic), config.json with the conversion's facts, export/."""
    from dataclasses import asdict

    import tensorflow as tf

    from .. import paths, run, training
    from ..systems.base import export_run

    step_var = tf.Variable(0, dtype=tf.int64, trainable=False)
    store = training._CheckpointStore(tf.train.Checkpoint(model=model, step=step_var), step_var,
                                      out_dir / paths.CKPT, keep=1)
    prefix = store.save(iterations // config.n_critic if iterations else 0)
    synthetic = args.synthetic or not args.data_dir
    r = run.Run(system.name, out_dir.name, out_dir, args, strategy, info, {"system": system.kind, **asdict(config)},
                _notes(layout, path, iterations, synthetic))
    r._write_config()
    cfg_path = out_dir / paths.CONFIG
    doc = json.loads(cfg_path.read_text())
    required = expected_keys(layout)[0]
    doc["converted"] = {"from": str(path.resolve()), "sha256": _sha256(path), "format": "PyTorch state dict",
                        "parametrization": layout.parametrization, "conv_dim": layout.conv_dim,
                        "residual_blocks": layout.residual_blocks, "original_iterations": iterations,
                        "keys_used": len(required), "keys_ignored": sorted(k for k in state if k not in required)}
    cfg_path.write_text(json.dumps(doc, indent=2))
    log(f"converted {path.name} ({layout.parametrization}, {layout.conv_dim} channels, {layout.residual_blocks} "
        f"residual blocks) -> {prefix}")
    export_run(system, out_dir, model, log)
