"""The training engine shared by every system: ``keras.Model.fit()`` on a tf.data input under a tf.distribute
strategy, with checkpoint/resume, signal handling, a NaN/Inf guard, a per-step CSV of losses, TensorBoard scalars
and sample grids, and console progress with an ETA.

A system is a :class:`GANModel` subclass: it registers its *players* (an optimizer and the networks it updates)
with :meth:`GANModel.add_player` and implements ``train_step`` (keras.io "GAN overriding train_step" pattern).
"""
from __future__ import annotations

import csv
import json
import math
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf
import keras

from . import fileio, paths


class NonFiniteLossError(RuntimeError):
    """Training stopped because a loss became NaN or Inf; the last good checkpoint is kept."""

    def __init__(self, loss_name: str, step: int, value: float, checkpoint: str | None):
        self.loss_name, self.step, self.value, self.checkpoint = loss_name, step, value, checkpoint
        where = f"the last good checkpoint is {checkpoint}" if checkpoint else "no checkpoint had been written yet"
        super().__init__(f"loss '{loss_name}' became {value} at step {step}; training stopped and {where}. "
                         "Lower the learning rate, try --precision float32, or inspect the data of that step.")


class TrainingInterrupted(RuntimeError):
    """Training stopped on SIGTERM/SIGINT after saving a checkpoint; re-running the same command resumes."""

    def __init__(self, signum: int, step: int, checkpoint: str | None):
        self.signum, self.step, self.checkpoint = signum, step, checkpoint
        super().__init__(f"interrupted by {signal.Signals(signum).name} at step {step}; checkpoint {checkpoint} "
                         "saved. Run the same command again to resume.")


class WorkerLost(TrainingInterrupted):
    """Multi-worker training stopped because another worker stopped (killed, crashed, preempted) or became
    unreachable: no step can complete without it, so every worker stops instead of waiting forever. The complete
    checkpoints are kept; starting all workers again with the same command resumes from the last one."""

    def __init__(self, step: int, checkpoint: str | None, detail: str):
        self.signum, self.step, self.checkpoint, self.detail = None, step, checkpoint, detail
        where = f"the last checkpoint is {checkpoint}" if checkpoint else "no checkpoint had been written yet"
        RuntimeError.__init__(self, f"a peer worker stopped or became unreachable after step {step} ({detail}); "
                              f"training stopped and {where}. Start all workers again with the same command to "
                              "resume from the last checkpoint.")


def _peer_failure(error: Exception) -> str | None:
    """A one-line account of ``error`` when it says that a peer worker is gone (the collective operations of
    MultiWorkerMirroredStrategy abort with such errors once a peer stops sending heartbeats, drops its connection
    or a collective times out), else None."""
    import re

    text = getattr(error, "message", None) or str(error)
    peer_error = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.AbortedError,
                  tf.errors.CancelledError)
    if not isinstance(error, peer_error) and not re.search(r"heartbeat|unhealthy|collective ops is aborted", text,
                                                           re.IGNORECASE):
        return None
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith(("Graph execution error", "Detected at node",
                                                                      "File ", "[[", "The error could be from"))]
    detail = " ".join(lines[:2] if lines and lines[0].endswith(":") else lines[:1])
    return f"{type(error).__name__}: {detail[:300]}"


def make_adam(learning_rate: float = 2e-4, beta_1: float = 0.5, beta_2: float = 0.999, name: str | None = None):
    """Adam (SPECS common conventions: lr 2e-4, beta1 0.5, beta2 0.999), wrapped in a LossScaleOptimizer when the
    global policy is ``mixed_float16`` so that small float16 gradients do not underflow."""
    opt = keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, name=name)
    if keras.mixed_precision.global_policy().name == "mixed_float16":
        opt = keras.optimizers.LossScaleOptimizer(opt, name=f"{name}_loss_scale" if name else None)
    return opt


class GANModel(keras.Model):
    """Base class of every system's training model.

    Subclasses build their sub-networks, call :meth:`add_player` once per optimizer, and implement ``train_step``
    returning a dict of scalar losses (local means over the replica's batch; ``fit`` averages them over replicas).
    Losses used for gradients go through :meth:`update`, which scales them by ``1 / replicas`` so that the summed
    gradients of all replicas equal the gradient of the loss averaged over the global batch (DESIGN conventions).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._players: dict[str, tuple] = {}
        # The global training step, set by the engine before every batch, for schedules inside train_step.
        self.global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step",
                                       aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)

    def add_player(self, name: str, optimizer, networks) -> None:
        """Register a player: ``optimizer`` updates the trainable variables of ``networks``."""
        self._players[name] = (optimizer, list(networks))
        setattr(self, f"{name}_optimizer", optimizer)

    @property
    def players(self) -> dict:
        return dict(self._players)

    def player_variables(self, name: str) -> list:
        _, networks = self._players[name]
        seen, out = set(), []
        for net in networks:
            for v in net.trainable_variables:
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    def build_optimizers(self) -> None:
        """Create every optimizer's slot variables now (before a checkpoint restore, so that it restores them).
        The sub-networks are functional models, built when constructed, so the GAN model counts as built too."""
        self.built = True
        for name, (opt, _) in self._players.items():
            if not opt.built:
                opt.build(self.player_variables(name))

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras (3.15) reduces a first batch across replicas before fit() to build the model symbolically; under
        # MultiWorkerMirroredStrategy that reduce fails on dict batches. A GANModel is built from functional
        # sub-networks and has no compiled loss or metrics, so that build has nothing to do.
        if not self.built:
            super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def update(self, name: str, tape: tf.GradientTape, loss) -> None:
        """Apply one optimizer step of player ``name`` for ``loss`` recorded on ``tape``."""
        opt, _ = self._players[name]
        variables = self.player_variables(name)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tape:  # re-enter so that the scaling is recorded too
            scaled = opt.scale_loss(tf.cast(loss, tf.float32) / replicas)
        grads = tape.gradient(scaled, variables)
        opt.apply(grads, variables)

    def networks(self) -> dict:
        """The named sub-networks (``keras.Model``) to export; subclasses override."""
        return {}

    # Columns of the sample grid (None: as square as possible).
    sample_columns: int | None = None

    def sample_images(self):
        """A fixed batch of images in [-1, 1] to draw as a grid during training (row-major, ``sample_columns``
        per row), or None."""
        return None


# ------------------------------------------------------------------------------------------------------------------
# Rules defined on the global batch. The engine cuts every global batch into equal contiguous parts, one per replica
# (replica r holds rows r*L .. r*L + L - 1), so a train step that needs a rule over the whole batch ("the first 16
# images", "a permutation of the batch's labels") computes it from these helpers and gives the same losses on one
# replica and on many.
# ------------------------------------------------------------------------------------------------------------------
def replica_position() -> tuple:
    """(this replica's index as an int32 tensor, the number of replicas as a Python int)."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return tf.constant(0, tf.int32), 1
    return tf.cast(ctx.replica_id_in_sync_group, tf.int32), int(ctx.num_replicas_in_sync)


def global_rows(local_n) -> tf.Tensor:
    """[local_n] int32: the row of the global batch each local row is."""
    rid, _ = replica_position()
    local_n = tf.cast(local_n, tf.int32)
    return rid * local_n + tf.range(local_n)


def gather_global(x):
    """The global batch of ``x`` (rows of every replica, in order) on every replica; ``x`` itself on one."""
    _, replicas = replica_position()
    if replicas == 1:
        return x
    return tf.distribute.get_replica_context().all_gather(x, axis=0)


def sum_over_replicas(x):
    """``x`` summed over the replicas (on every replica); ``x`` itself on one."""
    _, replicas = replica_position()
    if replicas == 1:
        return x
    return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, x)


def local_rows(x_global, local_n):
    """This replica's rows of a global-batch tensor (the inverse of :func:`gather_global`)."""
    rid, replicas = replica_position()
    if replicas == 1:
        return x_global
    start = rid * tf.cast(local_n, tf.int32)
    return x_global[start:start + local_n]


def share_of_mean(local_sum, global_count):
    """This replica's share of a mean over the global batch: ``local_sum / global_count x replicas``. The engine
    divides a replica's loss by the replica count before summing the gradients, and ``fit`` averages the logged
    values over replicas, so both then equal the global ``sum / global_count`` (0 when the count is 0)."""
    _, replicas = replica_position()
    return tf.math.divide_no_nan(tf.cast(local_sum, tf.float32), tf.cast(global_count, tf.float32)) * float(replicas)


def check_global_batch(batch: int, replicas: int, flag: str = "--batch-size") -> int:
    """The per-replica batch of a global ``batch`` split evenly across ``replicas``; ValueError naming the nearest
    batches that split when it does not."""
    if batch < 1:
        raise ValueError(f"{flag} must be >= 1, got {batch}")
    if batch % replicas == 0:
        return batch // replicas
    below = batch - batch % replicas
    options = [b for b in (below, below + replicas) if b >= replicas]
    raise ValueError(f"{flag} {batch} is the global batch and does not split evenly across {replicas} replicas; "
                     f"use {' or '.join(map(str, options))} (or run on a number of replicas that divides {batch})")


def split_batch(model, global_batch: int, replicas: int) -> tuple[int, int]:
    """(sub-batches per step, rows per replica) of ``model``'s step on a ``global_batch``: a model whose step is
    made of ``model.batch_parts`` equal sub-batches has each of them split evenly across the replicas; ValueError
    (with the nearest batches that split) otherwise."""
    parts = int(getattr(model, "batch_parts", 1))
    if global_batch % parts:
        raise ValueError(f"a global batch of {global_batch} does not hold {parts} equal sub-batches")
    return parts, check_global_batch(global_batch // parts, replicas) * parts


def add_noise(dataset, name: str, shape, seed: int, distribution: str = "uniform"):
    """Attach per-example noise to an unbatched stream of dicts, drawn with stateless RNG keyed by
    ``(seed, position in the stream)``. Noise that comes with the data is the same whatever the strategy or the
    number of replicas, and on a resumed run the same as on an uninterrupted one.

    ``dataset``: a :class:`data.stream.Stream` (the noise follows its positions), or a plain tf.data.Dataset, which
    is repeated and numbered from 0 (it becomes endless; every pass draws new noise)."""
    from .data.stream import Stream, with_position

    shape = tuple(shape)
    if distribution not in ("uniform", "normal"):
        raise ValueError(f"unknown noise distribution {distribution!r}")

    def attach(i, ex):
        key = tf.stack([tf.cast(seed, tf.int64), i])
        if distribution == "uniform":
            noise = tf.random.stateless_uniform(shape, key, minval=-1.0, maxval=1.0)
        else:
            noise = tf.random.stateless_normal(shape, key)
        return {**ex, name: noise}

    return with_position(dataset if isinstance(dataset, Stream) else dataset.repeat(), attach)


@dataclass
class TrainConfig:
    """Engine settings (not hyperparameters of a paper)."""

    steps: int
    batch_size: int  # the global batch, split evenly across the replicas
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    log_every: int = 10
    sample_every: int = 500
    progress_every_s: float = 15.0
    jit_compile: bool = False
    shuffle_buffer: int = 0  # 0: the caller already shuffled
    verbose: bool = True


@dataclass
class TrainResult:
    step: int
    restored_from: int | None
    checkpoint: str | None
    seconds: float
    steps_run: int

    def to_dict(self):
        return asdict(self)


def image_grid(images, ncol: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile a batch of images in [-1, 1] (N,H,W,C) into one uint8 picture (rows of ``ncol``)."""
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 3:
        x = x[..., None]
    n, h, w, c = x.shape
    ncol = ncol or int(math.ceil(math.sqrt(n)))
    nrow = int(math.ceil(n / ncol))
    grid = np.full((nrow * (h + pad) + pad, ncol * (w + pad) + pad, c), 255, np.uint8)
    pix = np.clip((x + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)
    for i in range(n):
        r, q = divmod(i, ncol)
        grid[pad + r * (h + pad):pad + r * (h + pad) + h, pad + q * (w + pad):pad + q * (w + pad) + w] = pix[i]
    return grid[..., 0] if c == 1 else grid


def save_png(array: np.ndarray, path) -> Path:
    """Write ``array`` as a PNG, all at once (a process killed meanwhile leaves no truncated picture)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return fileio.atomic_write(path, buf.getvalue(), what=f"sample {Path(path).name}")


def format_duration(s: float) -> str:
    """Seconds as ``1h02m03s`` / ``2m03s`` for progress lines."""
    s = int(round(max(s, 0)))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}h{m:02d}m{sec:02d}s" if h else f"{m}m{sec:02d}s"


class _State:
    """Host-side state the callbacks share."""

    def __init__(self, start: int, total: int, global_batch: int, is_chief: bool):
        self.start, self.total, self.global_batch, self.is_chief = start, total, global_batch, is_chief
        self.step = start
        self.bad: tuple | None = None
        self.signum: int | None = None
        self.last_checkpoint: str | None = None
        self.last_checkpoint_step: int | None = None


class _CheckpointStore:
    """A CheckpointManager whose checkpoints count only once complete: after ``manager.save`` returns, a marker
    file ``<prefix>.complete`` is written; restore considers marked checkpoints only, newest first, and falls back
    to an older one when a newer one fails to load. A checkpoint half-written when the process died is therefore
    never restored."""

    def __init__(self, checkpoint: tf.train.Checkpoint, step_var: tf.Variable, directory: Path, keep: int):
        self.ckpt, self.step_var, self.dir = checkpoint, step_var, directory
        self.manager = tf.train.CheckpointManager(checkpoint, str(directory), max_to_keep=keep)

    def save(self, step: int) -> str:
        self.step_var.assign(step)
        prefix = self.manager.save(checkpoint_number=step)
        # The marker appears whole (renamed into place) once every file of the checkpoint is written.
        fileio.atomic_write(prefix + ".complete", json.dumps({"step": int(step), "time": time.time()}),
                            what=f"checkpoint {Path(prefix).name}")
        for stale in self.dir.glob("*.complete"):
            if not Path(str(stale)[:-len(".complete")] + ".index").exists():
                stale.unlink()
        return prefix

    def complete_checkpoints(self) -> list[str]:
        prefixes = [str(p)[:-len(".complete")] for p in self.dir.glob("ckpt-*.complete")]
        prefixes = [p for p in prefixes if Path(p + ".index").exists()]
        return sorted(prefixes, key=lambda p: int(p.rsplit("-", 1)[1]), reverse=True)

    def restore_latest(self, log) -> tuple[int | None, str | None]:
        for prefix in self.complete_checkpoints():
            try:
                self.ckpt.restore(prefix).assert_existing_objects_matched()
            except (tf.errors.OpError, AssertionError, ValueError) as e:
                log(f"checkpoint {prefix} could not be restored ({type(e).__name__}: {str(e)[:200]}); "
                    "trying an older one")
                continue
            return int(self.step_var.numpy()), prefix
        return None, None


class _StepTracker(keras.callbacks.Callback):
    def __init__(self, state: _State, model_ref: GANModel):
        super().__init__()
        self.state, self.gan = state, model_ref

    def on_train_batch_begin(self, batch, logs=None):
        self.gan.global_step.assign(self.state.start + batch)

    def on_train_batch_end(self, batch, logs=None):
        self.state.step = self.state.start + batch + 1
        for name, value in (logs or {}).items():
            if isinstance(value, (int, float)) and not math.isfinite(value):
                self.state.bad = (name, self.state.step, value)
                self.model.stop_training = True
                return


class _Checkpointer(keras.callbacks.Callback):
    def __init__(self, state: _State, store: _CheckpointStore, every: int, log):
        super().__init__()
        self.state, self.store, self.every, self.log = state, store, every, log

    def _save(self):
        self.state.last_checkpoint = self.store.save(self.state.step)
        self.state.last_checkpoint_step = self.state.step

    def on_train_batch_end(self, batch, logs=None):
        if self.state.bad:
            return
        if self.state.signum is not None:
            self._save()
            self.model.stop_training = True
        elif self.every and self.state.step % self.every == 0:
            self._save()


class _CSVLogger(keras.callbacks.Callback):
    """logs/losses.csv: one row every ``every`` steps, each appended whole with one write.

    The engine runs this logger before the checkpointer, so a checkpoint of step N exists only once the row of
    step N is on disk. On resume the file is cleaned and replaced at once (temporary file + rename): rows past the
    restored step are dropped (they came from a run that died before checkpointing them), and so is any line that
    is not a complete row (a last line without its newline, a wrong number of fields, a step that is not a number
    or does not follow the previous row), so that the resumed run writes each step exactly once."""

    def __init__(self, state: _State, path: Path, every: int):
        super().__init__()
        self.state, self.path, self.every = state, path, every
        self.fields: list[str] | None = None
        if path.exists():
            header, rows, malformed = self.read_rows(path, state.start)
            if malformed:
                _log(f"{path.name}: dropped {malformed} incomplete or malformed line(s) left by an interrupted run")
            if header is None:
                path.unlink()
            else:
                self.fields = header[1:]
                self._replace([header] + rows)

    @staticmethod
    def _line(row) -> str:
        import io

        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(row)
        return buf.getvalue()

    def _replace(self, rows) -> None:
        fileio.atomic_write(self.path, "".join(self._line(r) for r in rows), what=self.path.name)

    @staticmethod
    def read_rows(path: Path, last_step: float = math.inf) -> tuple[list | None, list, int]:
        """(header, rows up to ``last_step``, number of malformed lines dropped) of a losses.csv. Only complete
        lines count: the text after the last newline is a row whose write never finished. The header is None
        when the file has no valid one."""
        *lines, torn = path.read_bytes().split(b"\n")
        malformed = int(bool(torn.strip()))
        parsed = []
        for raw in lines:
            try:
                parsed.append(next(csv.reader([raw.decode("utf-8").rstrip("\r")]), []))
            except (UnicodeDecodeError, csv.Error):
                parsed.append([])
        if not parsed or len(parsed[0]) < 2 or parsed[0][0] != "step":
            return None, [], malformed + len(parsed)
        header, rows, previous = parsed[0], [], 0
        for r in parsed[1:]:
            try:
                ok = len(r) == len(header) and int(r[0]) > previous
                [float(v) for v in r[1:] if v != ""]
            except ValueError:
                ok = False
            if not ok:
                malformed += 1
            elif int(r[0]) <= last_step:
                rows.append(r)
                previous = int(r[0])
        return header, rows, malformed

    def on_train_batch_end(self, batch, logs=None):
        step = self.state.step
        if not logs or (step % self.every and step != self.state.total) or self.state.bad:
            return
        if self.fields is None:
            self.fields = sorted(logs)
            self._replace([["step"] + self.fields])
        elif set(logs) - set(self.fields):
            # A later training phase logs new losses (e.g. the encoder phase of paper 003): widen the header and
            # leave the new columns empty in the earlier rows.
            new = sorted(set(logs) - set(self.fields))
            _, rows, _ = self.read_rows(self.path)
            self.fields = self.fields + new
            self._replace([["step"] + self.fields] + [r + [""] * len(new) for r in rows])
        fileio.append_line(self.path, self._line([step] + [f"{logs[k]:.6g}" if k in logs else ""
                                                             for k in self.fields]), what=self.path.name)


class _TensorBoardAndSamples(keras.callbacks.Callback):
    def __init__(self, state: _State, run_dir: Path, gan: GANModel, log_every: int, sample_every: int):
        super().__init__()
        self.state, self.run_dir, self.gan = state, run_dir, gan
        self.log_every, self.sample_every = log_every, sample_every
        self.writer = tf.summary.create_file_writer(str(run_dir / paths.TENSORBOARD))

    def write_samples(self):
        images = self.gan.sample_images()
        if images is None:
            return
        images = np.asarray(tf.cast(images, tf.float32))
        grid = image_grid(images, self.gan.sample_columns)
        save_png(grid, self.run_dir / paths.SAMPLES / f"step_{self.state.step:06d}.png")
        with self.writer.as_default(step=self.state.step):
            g = grid[None, ..., None] if grid.ndim == 2 else grid[None]
            tf.summary.image("samples", g)

    def on_train_batch_end(self, batch, logs=None):
        step = self.state.step
        if self.state.bad:
            return
        if logs and (step % self.log_every == 0 or step == self.state.total):
            with self.writer.as_default(step=step):
                for k, v in logs.items():
                    if isinstance(v, (int, float)):
                        tf.summary.scalar(k, v)
        if self.sample_every and step % self.sample_every == 0:
            self.write_samples()

    def on_train_end(self, logs=None):
        self.writer.flush()


class _Progress(keras.callbacks.Callback):
    def __init__(self, state: _State, every_s: float, out=sys.stderr):
        super().__init__()
        self.state, self.every_s, self.out = state, every_s, out
        self.t0 = self.last = None

    def on_train_begin(self, logs=None):
        self.t0 = self.last = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        s = self.state
        if now - self.last < self.every_s and s.step not in (s.start + 1, s.total):
            return
        self.last = now
        done = s.step - s.start
        per_step = (now - self.t0) / max(done, 1)
        losses = " ".join(f"{k} {v:.4g}" for k, v in sorted((logs or {}).items()) if isinstance(v, (int, float)))
        print(f"step {s.step}/{s.total} ({100.0 * s.step / s.total:.1f}%) | {per_step:.3f} s/step | "
              f"{s.global_batch / per_step:.1f} img/s | ETA {format_duration(per_step * (s.total - s.step))} | "
              f"{losses}", file=self.out, flush=True)


def _log(msg: str) -> None:
    print(f"[tfgan-emotion] {msg}", file=sys.stderr, flush=True)


def _events(run_dir: Path, event: dict) -> None:
    fileio.append_line(paths.run_file(run_dir, "logs/events.jsonl"), json.dumps({"time": time.time(), **event}),
                       what="events.jsonl")


def restore(model: GANModel, run_dir) -> tuple[int | None, str | None]:
    """Load the newest complete checkpoint of ``run_dir`` into ``model`` (its networks; optimizer state is not
    needed to evaluate or export). Returns (step, checkpoint prefix), or (None, None) when there is none."""
    run_dir = Path(run_dir)
    if not (run_dir / paths.CKPT).exists():
        return None, None
    step_var = tf.Variable(0, dtype=tf.int64, trainable=False)
    ckpt = tf.train.Checkpoint(model=model, step=step_var)
    store = _CheckpointStore(ckpt, step_var, run_dir / paths.CKPT, keep=1)
    for prefix in store.complete_checkpoints():
        try:
            status = ckpt.restore(prefix)
            status.expect_partial()
            status.assert_existing_objects_matched()
        except (tf.errors.OpError, AssertionError, ValueError) as e:
            _log(f"checkpoint {prefix} could not be restored ({type(e).__name__}: {str(e)[:200]}); trying an older one")
            continue
        return int(step_var.numpy()), prefix
    return None, None


def batches(data, global_batch: int, replicas: int = 1, parts: int = 1, start: int = 0,
            shuffle_buffer: int = 0) -> tf.data.Dataset:
    """The global batches the engine feeds ``fit``: a :class:`data.stream.Stream` from example ``start`` on (a plain
    dataset is repeated from its beginning), cut into batches of ``global_batch``. With ``parts`` sub-batches per
    step and several replicas, the rows are reordered so that each replica's contiguous share holds its slice of
    every sub-batch, in order."""
    from .data.stream import Stream, without_tuning_thread

    if isinstance(data, Stream):
        ds = data.dataset(start)
    else:
        ds = data.repeat()
    if shuffle_buffer:
        ds = ds.shuffle(shuffle_buffer)
    ds = ds.batch(global_batch, drop_remainder=True)
    if parts > 1 and replicas > 1:
        def interleave(t):
            rest = t.shape.as_list()[1:]
            t = tf.reshape(t, [parts, replicas, global_batch // (parts * replicas)] + rest)
            t = tf.transpose(t, [1, 0] + list(range(2, 3 + len(rest))))
            return tf.reshape(t, [global_batch] + rest)

        ds = ds.map(lambda b: tf.nest.map_structure(interleave, b), num_parallel_calls=tf.data.AUTOTUNE)
    options = tf.data.Options()
    # Workers take contiguous shares of every global batch (never whole files), so the rules above hold.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return without_tuning_thread(ds.with_options(options).prefetch(tf.data.AUTOTUNE))


def train(model: GANModel, dataset: tf.data.Dataset, run_dir, config: TrainConfig, strategy=None,
          is_chief: bool = True, extra_callbacks=()) -> TrainResult:
    """Train ``model`` on an UNBATCHED stream of dicts for ``config.steps`` total steps.

    ``dataset`` is a :class:`data.stream.Stream` (or a plain tf.data.Dataset, repeated). The global batch
    ``config.batch_size`` is split evenly across the replicas (ValueError naming the nearest batches that split when
    it does not); a model whose step is made of ``model.batch_parts`` equal sub-batches gets each sub-batch split
    across the replicas. If ``run_dir/ckpt`` holds a complete checkpoint, training resumes from it and stops at the
    same total step count; a Stream then starts at example ``step x global batch``, so the resumed run reads the
    batches and draws the uninterrupted run would have (with any number of replicas, as long as the global batch
    is the same). Checkpoints are written every ``config.checkpoint_every`` steps, at the end, and on SIGTERM/SIGINT
    (then :class:`TrainingInterrupted` is raised). A NaN/Inf in any logged loss stops training without
    checkpointing the bad state and raises :class:`NonFiniteLossError`.

    ``model`` must have been created inside ``strategy.scope()``.
    """
    run_dir = Path(run_dir)
    strategy = strategy or tf.distribute.get_strategy()
    log = _log if config.verbose else (lambda m: None)
    replicas = strategy.num_replicas_in_sync
    global_batch = config.batch_size
    parts, _ = split_batch(model, global_batch, replicas)

    with strategy.scope():
        model.build_optimizers()
        # No compile optimizer: each player has its own (a default one would get slots for every variable).
        model.compile(optimizer=None, jit_compile=config.jit_compile)
    step_var = tf.Variable(0, dtype=tf.int64, trainable=False)
    ckpt = tf.train.Checkpoint(model=model, step=step_var)
    ckpt_dir = run_dir / paths.CKPT if is_chief else run_dir / paths.CKPT / f"worker-tmp-{id(model)}"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    store = _CheckpointStore(ckpt, step_var, ckpt_dir, config.keep_checkpoints)
    restored, prefix = _CheckpointStore(ckpt, step_var, run_dir / paths.CKPT, config.keep_checkpoints
                                        ).restore_latest(log) if (run_dir / paths.CKPT).exists() else (None, None)
    start = restored or 0
    if restored is not None:
        log(f"resumed from {prefix} at step {restored} (target {config.steps})")
        if is_chief:
            _events(run_dir, {"event": "restored", "step": restored, "checkpoint": prefix, "replicas": replicas,
                              "global_batch": global_batch})
    if is_chief:
        for sub in (paths.CKPT, Path(paths.LOSSES).parent, paths.SAMPLES):
            fileio.remove_stale_temps_in(run_dir / sub)
    state = _State(start, config.steps, global_batch, is_chief)
    state.last_checkpoint, state.last_checkpoint_step = prefix, restored
    t0 = time.perf_counter()
    if start >= config.steps:
        log(f"already at step {start} >= {config.steps}; nothing to train")
        return TrainResult(start, restored, prefix, 0.0, 0)

    ds = batches(dataset, global_batch, replicas, parts, start=start * global_batch,
                 shuffle_buffer=config.shuffle_buffer)

    # The loggers of a step run before its checkpoint: once checkpoint N exists, so do the CSV row, scalars and
    # samples of step N (a kill between the two would otherwise lose them: the resumed run starts after step N).
    callbacks = [_StepTracker(state, model)]
    if is_chief:
        callbacks += [_CSVLogger(state, paths.run_file(run_dir, paths.LOSSES), config.log_every),
                      _TensorBoardAndSamples(state, run_dir, model, config.log_every, config.sample_every)]
    callbacks.append(_Checkpointer(state, store, config.checkpoint_every, log))
    if config.verbose and is_chief:
        callbacks.append(_Progress(state, config.progress_every_s))
    callbacks += list(extra_callbacks)

    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        # Keras (3.15) reduces step outputs across workers with axis=0, which fails on scalars: give each loss a
        # length-1 axis (the reduce then yields the scalar mean over all replicas).
        step_fn = model.train_step
        model.train_step = lambda data: {k: tf.reshape(v, [1]) for k, v in step_fn(data).items()}

    previous = {}

    def on_signal(signum, frame):
        state.signum = signum

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, on_signal)
    try:
        model.fit(ds, epochs=1, steps_per_epoch=config.steps - start, verbose=0, callbacks=callbacks, shuffle=False)
    except tf.errors.OpError as e:
        # A peer worker that dies aborts this worker's collectives (runtime.make_strategy bounds how long they wait):
        # stop with a clear error rather than a TensorFlow traceback; the complete checkpoints are kept.
        detail = _peer_failure(e) if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) else None
        if detail is None:
            raise
        shared = run_dir / paths.CKPT
        latest = _CheckpointStore(ckpt, step_var, shared, config.keep_checkpoints).complete_checkpoints()
        checkpoint = latest[0] if latest else state.last_checkpoint if is_chief else None
        log(f"a peer worker is gone after step {state.step}: {detail}")
        if is_chief:
            _events(run_dir, {"event": "worker_lost", "step": state.step, "detail": detail,
                              "last_checkpoint": checkpoint})
        elif ckpt_dir != shared:
            import shutil

            shutil.rmtree(ckpt_dir, ignore_errors=True)
        raise WorkerLost(state.step, checkpoint, detail) from e
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    if state.bad:
        name, step, value = state.bad
        if is_chief:
            _events(run_dir, {"event": "non_finite", "loss": name, "step": step, "value": str(value),
                              "last_good_checkpoint": state.last_checkpoint})
        raise NonFiniteLossError(name, step, value, state.last_checkpoint)
    if state.signum is not None:
        if is_chief:
            _events(run_dir, {"event": "interrupted", "signal": int(state.signum), "step": state.step})
        raise TrainingInterrupted(state.signum, state.step, state.last_checkpoint)
    if state.last_checkpoint_step != state.step:
        state.last_checkpoint = store.save(state.step)
    if is_chief:
        for cb in callbacks:
            if isinstance(cb, _TensorBoardAndSamples) and (not cb.sample_every or state.step % cb.sample_every):
                cb.write_samples()
        _events(run_dir, {"event": "finished", "step": state.step, "checkpoint": state.last_checkpoint})
    elif ckpt_dir != run_dir / paths.CKPT:
        import shutil

        shutil.rmtree(ckpt_dir, ignore_errors=True)
    seconds = time.perf_counter() - t0
    log(f"trained to step {state.step} in {format_duration(seconds)}; checkpoint {state.last_checkpoint}")
    return TrainResult(state.step, restored, state.last_checkpoint, seconds, state.step - start)
