"""The Python API: the same systems, settings and run directories as the command line, from Python.

    import tfgan_emotion as tfe

    run_dir = tfe.train("caae_affectnet", smoke=True)        # = tfgan-emotion train caae_affectnet --smoke
    model = tfe.load(run_dir)                                 # the run's exported endpoints
    out = model.edit(faces, valence=0.5, arousal=-0.2)        # NumPy in, NumPy out (images in [-1, 1])
    metrics = tfe.evaluate(run_dir, eval_faces=200)          # = tfgan-emotion evaluate --run RUN --eval-faces 200
    tfe.export_run(run_dir)                                   # = tfgan-emotion export --run RUN

Keyword arguments of :func:`train` are the recipe's flags with ``-`` written ``_`` (``batch_size=49``,
``data_dir="..."``); ``True`` turns a switch on.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import paths, systems
from .systems.base import UsageError


def _argv(flags: dict) -> list[str]:
    argv = []
    for key, value in flags.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif isinstance(value, (list, tuple)):
            argv += [flag, *map(str, value)]
        else:
            argv += [flag, str(value)]
    return argv


def run_dir_of(system: str, **flags) -> Path:
    """The run directory ``train(system, **flags)`` writes (the CLI's default naming)."""
    from . import run

    s = systems.get(system)
    args = s.parser().parse_args(_argv(flags))
    return Path(args.out) / (args.run or run.default_run_name(args))


def train(system: str, callbacks=(), **flags) -> Path:
    """Train (or resume) a system exactly as ``tfgan-emotion train SYSTEM`` with these flags would: export, evaluate
    and report at the end. Returns the run directory. Raises :class:`UsageError` for bad flags or data and
    RuntimeError when training stopped (NaN/Inf loss, signal) or the evaluation failed.

    ``callbacks``: your own ``keras.callbacks.Callback`` objects, run after the engine's own in every training
    phase. ``batch`` in their ``on_train_batch_*`` counts from 0 in each ``fit`` call (a resumed run or a later
    phase starts again at 0); ``self.model.global_step`` holds the run's global step, and ``logs`` the step's
    losses."""
    s = systems.get(system)
    try:
        status = systems.main(s, _argv(flags), callbacks=callbacks)
    except SystemExit as e:          # argparse: a flag the recipe does not know
        raise UsageError(f"{system}: bad flags {flags} (exit status {e.code})") from None
    if status == 2:
        raise UsageError(f"{system}: the flags or data were refused (the reason is printed above)")
    if status != 0:
        raise RuntimeError(f"{system}: training or evaluation did not finish (exit status {status}; the reason is "
                           "printed above)")
    return run_dir_of(system, **flags)


def evaluate(run_dir, **flags) -> dict:
    """The paper's evaluation on the run's newest complete checkpoint (finished or stopped mid-training), as
    ``tfgan-emotion evaluate``; ``flags`` replace the run's evaluation settings. Returns metrics.json's contents."""
    status = systems.evaluate_run(run_dir, {k: v for k, v in flags.items() if v is not None})
    if status != 0:
        raise RuntimeError(f"the evaluation of {run_dir} failed (the reason is printed above)")
    return json.loads((Path(run_dir) / paths.METRICS).read_text())


def export_run(run_dir) -> Path:
    """The run's networks (newest complete checkpoint) as .keras files and the SavedModel, as
    ``tfgan-emotion export``. Returns the export folder."""
    return systems.export_from_run(run_dir)


def load(run_dir) -> "Model":
    """A trained run's exported endpoints, callable on NumPy arrays."""
    return Model(run_dir)


class Model:
    """A run's SavedModel endpoints on NumPy arrays.

    Every endpoint of the run is a method: ``edit`` (CAAE: ``valence``, ``arousal``; GANmut: ``theta``, ``rho``),
    ``edit_emotion`` (GANmut: ``emotion``, ``rho``), ``transfer`` (FExGAN: ``affect``; fer2013 DCGAN: ``label``),
    ``generate`` (cGAN: ``label``; FExGAN: ``affect``; fer2013 DCGAN: ``label``). Images go in as [N, H, W, C]
    (or one [H, W, C]) float arrays in [-1, 1] or uint8 arrays, and are resized to the run's size when they differ;
    the result is float32 in [-1, 1] (``to_uint8`` converts). A per-image input may be one value for all images;
    emotions and labels may be given by name (``emotion="happy"``, ``label="happiness"``, ``affect="joy"``).
    ``generate`` draws ``z`` from the system's latent prior (U(-1, 1), or N(0, 1) for FExGAN) with ``seed``
    unless ``z`` is given.
    """

    def __init__(self, run_dir):
        from .export import load_saved_model

        self.run_dir = Path(run_dir)
        cfg_path = self.run_dir / paths.CONFIG
        if not cfg_path.exists():
            raise UsageError(f"{run_dir} is not a run directory (no {paths.CONFIG})")
        cfg = json.loads(cfg_path.read_text())
        self.system = systems.get(cfg.get("recipe", ""))
        self.config = cfg["config"]
        self.image_size, self.channels = int(self.config["image_size"]), int(self.config["channels"])
        self.vocabulary = self.system.vocabulary(self.config)
        self._saved = load_saved_model(self.run_dir)
        sig_path = self.run_dir / paths.SAVED_MODEL / "tfgan_emotion_signatures.json"
        self.signatures = json.loads(sig_path.read_text())
        self.endpoints = tuple(self.signatures)

    def __repr__(self):
        return f"Model({self.system.name}, {self.run_dir}, endpoints {', '.join(self.endpoints)})"

    def __getattr__(self, name):
        if name.startswith("_") or name not in self.__dict__.get("signatures", {}):
            raise AttributeError(f"{name!r}: this {self.__dict__.get('system', '?')} run has the endpoints "
                                 f"{', '.join(self.__dict__.get('signatures', {}))}")
        return lambda images=None, **inputs: self.call(name, images, **inputs)

    def edit_photo(self, photo, endpoint: str | None = None, face: int | None = None, detector="mtcnn",
                   weights=None, margin: float = 0.2, **inputs) -> np.ndarray:
        """Edit the faces of a photograph (uint8 [H, W, 3]) as ``tfgan-emotion edit --detect`` does: each face found
        (or only the ``face``-th, most confident first) is cut as ``data crop`` cuts training faces, passed through
        ``endpoint`` (default: the run's first endpoint that takes an image) with ``inputs`` (e.g. ``valence=0.5,
        arousal=-0.2``), and pasted back with a soft edge. Returns the whole photograph, uint8, same size.
        ``detector``: "mtcnn", "retinaface" (``weights``: its file) or an object with ``detect``."""
        from . import editing
        from .data import detect

        if endpoint is None:
            takes_image = [e for e, specs in self.signatures.items() if any(s["name"] == "image" for s in specs)]
            if not takes_image:
                raise ValueError(f"this {self.system.name} run has no endpoint that edits an image")
            endpoint = takes_image[0]
        finder = detector if hasattr(detector, "detect") else detect.make_detector(detector, weights)

        def one(crop):
            return self.to_uint8(self.call(endpoint, crop[None], **inputs)[0])

        return editing.edit_photo(photo, one, self.image_size, self.channels, finder, face, margin)[0]

    @staticmethod
    def to_uint8(images) -> np.ndarray:
        from .systems.common import to_uint8

        return to_uint8(images)

    def images(self, images) -> np.ndarray:
        """Any image batch -> float32 [N, size, size, channels] in [-1, 1]."""
        x = np.asarray(images)
        if x.ndim == 3:
            x = x[None]
        if x.ndim != 4:
            raise ValueError(f"images must be [N, H, W, C] or [H, W, C], got shape {x.shape}")
        x = x.astype(np.float32) / 127.5 - 1.0 if x.dtype == np.uint8 else x.astype(np.float32)
        if x.shape[-1] != self.channels:
            if x.shape[-1] == 3 and self.channels == 1:
                x = x @ np.array([0.299, 0.587, 0.114], np.float32)[:, None]
            elif x.shape[-1] == 1 and self.channels == 3:
                x = np.repeat(x, 3, -1)
            else:
                raise ValueError(f"images have {x.shape[-1]} channels; this run takes {self.channels}")
        if x.shape[1:3] != (self.image_size, self.image_size):
            import tensorflow as tf

            x = tf.image.resize(x, (self.image_size, self.image_size), method="area").numpy()
        return x

    def _value(self, name: str, value, spec: dict, n: int) -> np.ndarray:
        dtype = np.int32 if spec["dtype"].startswith("int") else np.float32
        width = spec["shape"][1] if len(spec["shape"]) > 1 else None
        if isinstance(value, str) or (isinstance(value, (list, tuple)) and value and isinstance(value[0], str)):
            words = [value] * n if isinstance(value, str) else list(value)
            if width is None:          # a class index
                try:
                    value = [self.vocabulary.index(w) for w in words]
                except KeyError as e:
                    raise ValueError(f"{name}: {e.args[0]}") from None
            else:                      # a label / affect vector
                from .systems.common import parse_affect

                value = [parse_affect(w, self.vocabulary.names[:width]) for w in words]
        arr = np.asarray(value, dtype)
        shape = (n,) if width is None else (n, width)
        try:
            return np.broadcast_to(arr, shape).astype(dtype)
        except ValueError:
            raise ValueError(f"{name}: shape {arr.shape} does not fit {n} images (expected {shape})") from None

    def call(self, endpoint: str, images=None, batch_size: int = 64, seed: int = 0, n: int | None = None,
             **inputs) -> np.ndarray:
        """Run ``endpoint`` over the inputs in batches; returns the images, float32 in [-1, 1]."""
        specs = self.signatures[endpoint]
        names = [s["name"] for s in specs]
        unknown = set(inputs) - set(names)
        if unknown:
            raise ValueError(f"{endpoint} takes {', '.join(names)}; not {', '.join(sorted(unknown))}")
        feed = {}
        if "image" in names:
            if images is None:
                raise ValueError(f"{endpoint} needs images")
            feed["image"] = self.images(images)
            n = len(feed["image"])
        elif n is None:
            # A batch is an input with the signature's full rank (a [n] array of scalars, an [n, k] array of
            # vectors); anything smaller is one value for every output.
            ranked = [np.asarray(inputs[s["name"]]) for s in specs
                      if s["name"] in inputs and not isinstance(inputs[s["name"]], str)
                      and np.ndim(inputs[s["name"]]) == len(s["shape"])]
            n = len(ranked[0]) if ranked else 1
        for s in specs:
            if s["name"] == "image":
                continue
            if s["name"] == "z" and "z" not in inputs:
                rng = np.random.default_rng(seed)
                dim = s["shape"][1]
                feed["z"] = (rng.standard_normal((n, dim)) if self.system.latent_prior == "normal"
                             else rng.uniform(-1, 1, (n, dim))).astype(np.float32)
                continue
            if s["name"] not in inputs:
                raise ValueError(f"{endpoint} needs {s['name']} (it takes {', '.join(names)})")
            feed[s["name"]] = self._value(s["name"], inputs[s["name"]], s, n)
        fn = getattr(self._saved, endpoint)
        out = [fn(**{k: v[i:i + batch_size] for k, v in feed.items()})["image"].numpy()
               for i in range(0, n, batch_size)]
        return np.concatenate(out).astype(np.float32)
