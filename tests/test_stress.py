"""Kill loops (``pytest -m stress``; .ci/run runs them after the e2e tier).

Training killed with SIGKILL at random moments (during a step, a checkpoint, a losses.csv write, a sample grid) and
relaunched with the same command must never restore a torn checkpoint, log a step twice or lose one, and must
finish; a multi-worker run whose worker is killed must stop on the other worker with a clear error and resume when
all workers are launched again.
"""
import json
import queue
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import tiny_gan
from test_engine import SCRIPT, _env, _free_ports
from tfgan_emotion import fileio, training

pytestmark = pytest.mark.stress


class _Proc:
    """A training process whose output (stdout and stderr) is read line by line as it comes."""

    def __init__(self, cmd, env):
        self.popen = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                      bufsize=1)
        self.lines: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.popen.stdout:
            self.lines.append(line)
            self._queue.put(line)
        self._queue.put(None)

    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float) -> str:
        """The next output line matching ``pattern`` (lines before it are passed over)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r} within {timeout} s:\n{self.output()[-3000:]}")
            if line is None:
                self._queue.put(None)
                raise AssertionError(f"the process ended (status {self.popen.wait()}) before a line matching "
                                     f"{pattern!r}:\n{self.output()[-3000:]}")
            if re.search(pattern, line):
                return line

    def skip(self) -> None:
        """Pass over the output so far: the next :meth:`wait_for` looks at lines still to come."""
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                return
            if line is None:
                self._queue.put(None)
                return

    def kill(self) -> None:
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait()
        self._reader.join(10)

    def finish(self, timeout: float) -> int:
        try:
            status = self.popen.wait(timeout=timeout)
        finally:
            if self.popen.poll() is None:
                self.kill()
        self._reader.join(10)
        return status


def _complete_steps(ckpt_dir: Path) -> list[int]:
    """Steps of the checkpoints the engine would restore (marked complete, index present), newest first."""
    store = training._CheckpointStore(tf.train.Checkpoint(), tf.Variable(0, dtype=tf.int64), ckpt_dir, 3)
    return [int(p.rsplit("-", 1)[1]) for p in store.complete_checkpoints()] if ckpt_dir.exists() else []


class _Restorer:
    """Restores checkpoints of tiny_gan into one model built once, to prove that each is whole."""

    def __init__(self):
        self.model = tiny_gan.TinyCGAN()
        self.model.build_optimizers()
        self.step = tf.Variable(0, dtype=tf.int64)
        self.ckpt = tf.train.Checkpoint(model=self.model, step=self.step)

    def check(self, prefix: Path, step: int) -> None:
        self.ckpt.restore(str(prefix)).assert_consumed()
        assert int(self.step.numpy()) == step, prefix
        weights = self.model.generator.get_weights() + self.model.discriminator.get_weights()
        assert all(np.isfinite(w).all() for w in weights), prefix


def _logged_steps(csv_path: Path) -> list[int]:
    """The steps of losses.csv, after checking that every line is a whole, well-formed row."""
    if not csv_path.exists():
        return []
    data = csv_path.read_bytes()
    assert data.endswith(b"\n"), f"torn last line in losses.csv: {data[-80:]!r}"
    header, *rows = data.decode().splitlines()
    assert header == "step,d_loss,g_loss", header
    steps = []
    for row in rows:
        fields = row.split(",")
        assert len(fields) == 3, f"malformed row {row!r}"
        [float(v) for v in fields[1:]]
        steps.append(int(fields[0]))
    return steps


STEPS, PAUSE = 100, 0.1
PHASES = ("step", "checkpoint", "losses.csv", "sample")
# What each phase waits for before it kills: a write announced by TFGAN_WRITE_PAUSE (the kill then lands inside it).
ANNOUNCED = {"checkpoint": r"writing checkpoint ckpt-", "losses.csv": r"writing losses\.csv",
             "sample": r"writing sample step_"}


def test_sigkill_at_random_moments_never_tears_the_run(tmp_path, float32_policy):
    rng = random.Random(20240607)
    out = tmp_path / "runs"
    run_dir = out / "synthetic-seed0"
    ckpt_dir, csv_path = run_dir / "ckpt", run_dir / "logs" / "losses.csv"
    cmd = [sys.executable, SCRIPT, "--out", str(out), "--reports", str(tmp_path / "reports"), "--steps", str(STEPS),
           "--precision", "float32", "--batch-size", "8", "--checkpoint-every", "3", "--log-every", "1",
           "--sample-every", "2", "--step-sleep", "0.02"]
    env = _env(**{fileio.PAUSE_ENV: str(PAUSE)})
    phases = [p for p in PHASES for _ in range(5)]
    rng.shuffle(phases)
    restorer, torn_events, kinds, resumes = _Restorer(), [], [], 0
    inside = {"checkpoint": 0, "sample": 0}  # kills that caught a write half done (files written, not yet published)
    for i, phase in enumerate(phases):
        expected = (_complete_steps(ckpt_dir) or [None])[0]
        resumes += expected is not None
        proc = _Proc(cmd, env)
        # Half of the losses.csv kills land in the rewrite a resumed run makes before training; the rest (and all
        # other kills) once training runs.
        at_resume = phase == "losses.csv" and expected is not None and i % 2 == 0
        if not at_resume:
            line = proc.wait_for(r"resumed from|step \d+/%d" % STEPS, 180)
            if expected is not None:
                assert re.search(rf"resumed from \S+ckpt-{expected} at step {expected} ", line), line
        # Let it train a few steps (about 0.3 s each) so that the run advances and checkpoints rotate.
        if not at_resume:
            time.sleep(rng.uniform(0.0, 2.5))
            proc.skip()
        if phase != "step":
            proc.wait_for(ANNOUNCED[phase], 120)
            time.sleep(rng.uniform(0.0, PAUSE * 1.2))
        proc.kill()
        kinds.append(phase + (" (resume rewrite)" if at_resume else ""))
        unmarked = [p for p in ckpt_dir.glob("ckpt-*.index") if not p.with_suffix(".complete").exists()]
        inside["checkpoint"] += phase == "checkpoint" and bool(unmarked)
        inside["sample"] += phase == "sample" and bool(list((run_dir / "samples").glob(".step_*.tmp")))

        # No torn checkpoint: every one the engine would restore loads whole.
        complete = _complete_steps(ckpt_dir)
        for step in complete:
            restorer.check(ckpt_dir / f"ckpt-{step}", step)
        # losses.csv: whole rows, each step once, in order, none lost up to the newest checkpoint (rows are written
        # before the checkpoint of their step).
        steps = _logged_steps(csv_path)
        assert steps == list(range(1, len(steps) + 1)), steps
        assert not complete or len(steps) >= complete[0], (steps, complete)
        # sample grids: every one is a whole PNG
        from PIL import Image

        for png in (run_dir / "samples").glob("*.png"):
            Image.open(png).verify()
        # events.jsonl: whole lines
        events = (run_dir / "logs" / "events.jsonl")
        if events.exists():
            lines = events.read_text().splitlines()
            assert [ln for ln in lines if not ln.startswith("{") or not ln.endswith("}")] == torn_events
            [json.loads(ln) for ln in lines if ln not in torn_events]
        if i in (6, 12):
            # What a crash of the machine (not only of the process) can leave: a last line whose write never
            # finished. The next run (its kill comes after its repair: i + 1 is odd) must drop the torn row and
            # keep the torn event apart from the next one.
            with open(csv_path, "ab") as f:
                f.write(b"%d,0.69" % (len(steps) + 1))
            torn_events.append('{"event": "tor')
            with open(events, "a") as f:
                f.write(torn_events[-1])

    last = _complete_steps(ckpt_dir)[0]
    final = _Proc([c for c in cmd if c not in ("--step-sleep", "0.02")], _env())
    status = final.finish(timeout=300)
    log = final.output()
    assert status == 0, log[-3000:]
    assert f"done step {STEPS} restored_from {last}" in log, log[-2000:]
    assert _logged_steps(csv_path) == list(range(1, STEPS + 1))
    assert _complete_steps(ckpt_dir)[0] == STEPS
    events = [json.loads(ln) for ln in (run_dir / "logs" / "events.jsonl").read_text().splitlines()
              if ln not in torn_events]
    assert events[-1]["event"] == "finished" and events[-1]["step"] == STEPS
    assert sum(e["event"] == "restored" for e in events) == resumes + 1, events
    assert not list(run_dir.rglob("*.tmp")), "temporary files of killed writes are cleared by later writes"
    assert inside["checkpoint"] and inside["sample"], inside
    print(f"kills: {', '.join(kinds)}; inside a write: {inside}; {resumes + 1} resumes, the last from step {last}")


def _launch_workers(cmd, workers):
    procs = []
    for i in range(len(workers)):
        tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}})
        procs.append(_Proc(cmd, _env(TF_CONFIG=tf_config)))
    return procs


def _kill_one_and_watch_the_other(procs, victim: int, ckpt_dir: Path, after_step: int) -> tuple[str, float]:
    """SIGKILL worker ``victim`` once a checkpoint newer than ``after_step`` is complete; the other worker must stop
    on its own with status 3 and say why. Returns its output and how long it took to stop."""
    deadline = time.monotonic() + 240
    while not [s for s in _complete_steps(ckpt_dir) if s > after_step]:
        for p in procs:
            assert p.popen.poll() is None, p.output()[-3000:]
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.2)
    procs[victim].kill()
    t0 = time.monotonic()
    survivor = procs[1 - victim]
    status = survivor.finish(timeout=90)
    took = time.monotonic() - t0
    log = survivor.output()
    assert status == 3, f"status {status} after {took:.0f} s:\n{log[-3000:]}"
    assert "a peer worker stopped or became unreachable" in log, log[-3000:]
    assert "Start all workers again with the same command" in log
    return log, took


def test_multi_worker_stops_when_a_worker_dies_and_resumes(tmp_path):
    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    steps = 300
    cmd = [sys.executable, SCRIPT, "--out", str(tmp_path), "--steps", str(steps), "--strategy", "multi_worker",
           "--precision", "float32", "--checkpoint-every", "10", "--batch-size", "4", "--log-every", "5",
           "--sample-every", "50"]
    run_dir = tmp_path / "synthetic-seed0"
    ckpt_dir = run_dir / "ckpt"
    waits = []
    # The non-chief worker dies: the chief stops (it keeps the checkpoints and records the loss).
    procs = _launch_workers(cmd + ["--step-sleep", "0.05"], workers)
    log, took = _kill_one_and_watch_the_other(procs, victim=1, ckpt_dir=ckpt_dir, after_step=0)
    waits.append(took)
    lost = json.loads((run_dir / "logs" / "events.jsonl").read_text().splitlines()[-1])
    assert lost["event"] == "worker_lost" and lost["last_checkpoint"].endswith(f"ckpt-{_complete_steps(ckpt_dir)[0]}")
    # Relaunched, they resume; then the chief dies: the other worker stops too.
    first = _complete_steps(ckpt_dir)[0]
    procs = _launch_workers(cmd + ["--step-sleep", "0.05"], workers)
    waits.append(_kill_one_and_watch_the_other(procs, victim=0, ckpt_dir=ckpt_dir, after_step=first)[1])
    second = _complete_steps(ckpt_dir)[0]
    assert second > first
    # Relaunched once more, both resume from the last complete checkpoint and finish.
    procs = _launch_workers(cmd, workers)
    for p in procs:
        status = p.finish(timeout=300)
        assert status == 0, p.output()[-3000:]
        assert f"done step {steps} restored_from {second}" in p.output()
    events = [json.loads(ln) for ln in (run_dir / "logs" / "events.jsonl").read_text().splitlines()]
    restored = [e["step"] for e in events if e["event"] == "restored"]
    assert restored == [first, second], events
    assert events[-1]["event"] == "finished" and events[-1]["step"] == steps
    assert _logged_steps_every(run_dir / "logs" / "losses.csv", 5) == list(range(5, steps + 1, 5))
    print(f"the surviving worker stopped {', '.join(f'{w:.0f} s' for w in waits)} after the kill")


def _logged_steps_every(csv_path: Path, every: int) -> list[int]:
    steps = _logged_steps(csv_path)
    assert all(s % every == 0 for s in steps), steps
    return steps


def test_the_main_job_killed_and_resumed_equals_the_uninterrupted_run(tmp_path):
    """The CAAE recipe with --deterministic, SIGKILLed mid-training and launched again, logs exactly the rows of the
    same command never interrupted: the resumed run reads the same batches and draws from the restored step on."""
    from conftest import ROOT

    def cmd(run):
        return [sys.executable, str(ROOT / "recipes" / "caae_affectnet.py"), "--smoke", "--steps", "16",
                "--checkpoint-every", "4", "--log-every", "1", "--deterministic", "--skip-eval", "--precision",
                "float32", "--out", str(tmp_path / "runs"), "--run", run, "--reports", str(tmp_path / "reports")]

    whole = subprocess.run(cmd("whole"), env=_env(), capture_output=True, text=True, timeout=600)
    assert whole.returncode == 0, whole.stderr[-3000:]
    # slowed down (each file write pauses) so that the kill lands between checkpoints, mid-run
    proc = _Proc(cmd("resumed"), _env(**{fileio.PAUSE_ENV: "0.15"}))
    proc.wait_for(r"writing .*ckpt-8", timeout=300)
    proc.wait_for(r"writing .*losses.csv", timeout=60)
    proc.kill()
    done = _complete_steps(tmp_path / "runs" / "resumed" / "ckpt")
    assert done and 4 <= done[0] < 16
    again = subprocess.run(cmd("resumed"), env=_env(), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    resumed = [line for line in again.stderr.splitlines() if "resumed from" in line]
    assert resumed and f"at step {done[0]} " in resumed[0], again.stderr[-3000:]
    rows = [(tmp_path / "runs" / r / "logs" / "losses.csv").read_text().splitlines() for r in ("whole", "resumed")]
    assert len(rows[0]) == 17 and rows[1] == rows[0]
