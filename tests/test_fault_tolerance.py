"""What a run leaves on disk when it is killed mid-write, and how a resumed run repairs it (quick; the kill loops
are in test_stress.py)."""
import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import tiny_gan
from tfgan_emotion import fileio, training


def _rows(path):
    return path.read_text().splitlines()


def _logger(path, start, total=100, every=1):
    return training._CSVLogger(training._State(start, total, 8, True), path, every)


def test_resume_drops_rows_past_the_checkpoint_and_every_torn_or_malformed_line(tmp_path):
    path = tmp_path / "losses.csv"
    path.write_bytes(b"step,d_loss,g_loss\r\n"        # a file of an older version: \r\n line ends
                     b"1,0.5,0.6\r\n"
                     b"2,0.5\n"                        # too few fields
                     b"2,0.4,0.7\n"
                     b"x,0.4,0.7\n"                    # step not a number
                     b"3,0.3,zz\n"                     # a value not a number
                     b"3,0.3,0.8\n"
                     b"3,0.3,0.8\n"                    # the same step twice
                     b"\n"
                     b"4,0.2,0.9\n"
                     b"5,0.1,1.0\n"                    # past the restored step
                     b"6,0.1,1")                       # torn: its write never finished
    logger = _logger(path, start=4)
    assert _rows(path) == ["step,d_loss,g_loss", "1,0.5,0.6", "2,0.4,0.7", "3,0.3,0.8", "4,0.2,0.9"]
    assert logger.fields == ["d_loss", "g_loss"]
    logger.state.step = 5
    logger.on_train_batch_end(4, {"d_loss": 0.25, "g_loss": 1.5})
    assert _rows(path)[-1] == "5,0.25,1.5"
    assert path.read_bytes().endswith(b"\n") and b"\r" not in path.read_bytes()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("content", [b"", b"step,d_lo", b"\0\0\0\0", b"d_loss,g_loss\n1,2\n"])
def test_a_file_without_a_valid_header_starts_over(tmp_path, content):
    path = tmp_path / "losses.csv"
    path.write_bytes(content)
    logger = _logger(path, start=0)
    assert logger.fields is None and not path.exists()
    logger.state.step = 1
    logger.on_train_batch_end(0, {"g_loss": 1.0, "d_loss": 2.0})
    assert _rows(path) == ["step,d_loss,g_loss", "1,2,1"]


def test_a_new_loss_widens_the_header_in_one_replacement(tmp_path):
    path = tmp_path / "losses.csv"
    logger = _logger(path, start=0)
    for step, logs in [(1, {"a": 1.0}), (2, {"a": 2.0, "b": 3.0}), (3, {"b": 4.0, "a": 5.0})]:
        logger.state.step = step
        logger.on_train_batch_end(step - 1, logs)
    assert _rows(path) == ["step,a,b", "1,1,", "2,2,3", "3,5,4"]


def test_append_line_keeps_a_torn_last_line_apart(tmp_path):
    path = tmp_path / "events.jsonl"
    fileio.append_line(path, json.dumps({"event": "a"}))
    with open(path, "ab") as f:
        f.write(b'{"event": "tor')
    fileio.append_line(path, json.dumps({"event": "b"}))
    lines = path.read_text().splitlines()
    assert lines == ['{"event": "a"}', '{"event": "tor', '{"event": "b"}']


def test_atomic_write_replaces_whole_and_clears_temporaries_of_dead_writers(tmp_path):
    path = tmp_path / "samples" / "step_000010.png"
    fileio.atomic_write(path, b"old")
    # a writer killed between writing its temporary file and renaming it (pid 2**22 + 1 is above Linux's maximum)
    stale = path.with_name(f".{path.name}.{2 ** 22 + 1}.tmp")
    stale.write_bytes(b"half")
    fileio.atomic_write(path, b"new")
    assert path.read_bytes() == b"new" and not stale.exists()
    assert sorted(p.name for p in path.parent.iterdir()) == ["step_000010.png"]


def test_a_resumed_run_sweeps_the_temporaries_no_later_write_would_clear(tmp_path, float32_policy):
    """A kill between a write's rename and its clean-up leaves an earlier killed writer's temporary file of a path
    (here checkpoint 2's marker) that nothing writes again once the run is past it: the next run sweeps it."""
    cfg = training.TrainConfig(steps=2, batch_size=8, checkpoint_every=2, log_every=1, sample_every=2, verbose=False)
    training.train(tiny_gan.TinyCGAN(), tiny_gan.dataset(64), tmp_path, cfg)
    dead = 2 ** 22 + 1  # above Linux's largest pid: no process has it
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = [tmp_path / "ckpt" / f".ckpt-2.complete.{dead}.tmp", tmp_path / "logs" / f".losses.csv.{dead}.tmp",
                 tmp_path / "samples" / f".step_000002.png.{dead}.tmp"]
        kept = [tmp_path / "ckpt" / f".ckpt-2.complete.{alive.pid}.tmp",  # a writer still running
                tmp_path / "samples" / ".notes.tmp"]  # not a writer's temporary file
        for p in stale + kept:
            p.write_bytes(b"half")
        assert fileio.remove_stale_temps_in(tmp_path / "missing") == 0
        training.train(tiny_gan.TinyCGAN(), tiny_gan.dataset(64), tmp_path,
                       dataclasses.replace(cfg, steps=3))
        assert [p.exists() for p in stale] == [False] * 3
        assert [p.exists() for p in kept] == [True] * 2
    finally:
        alive.kill()
        alive.wait()


def test_write_pause_is_inert_unless_asked(monkeypatch, capsys):
    monkeypatch.delenv(fileio.PAUSE_ENV, raising=False)
    fileio.write_pause("losses.csv")
    assert capsys.readouterr().err == ""
    monkeypatch.setenv(fileio.PAUSE_ENV, "0.01")
    fileio.write_pause("losses.csv")
    assert "writing losses.csv" in capsys.readouterr().err


def test_save_png_writes_a_readable_picture_at_once(tmp_path):
    from PIL import Image

    grid = training.image_grid(np.zeros((4, 8, 8, 1), np.float32))
    path = training.save_png(grid, tmp_path / "samples" / "step_000001.png")
    assert Image.open(path).size == (grid.shape[1], grid.shape[0])
    assert [p.name for p in path.parent.iterdir()] == ["step_000001.png"]


def test_loggers_run_before_the_checkpoint_of_the_same_step(tmp_path, float32_policy, monkeypatch):
    """A checkpoint of step N is written only once the CSV row and sample of step N are on disk."""
    seen = []
    real_save = training._CheckpointStore.save

    def save(store, step):
        rows = [int(r.split(",")[0]) for r in _rows(tmp_path / "logs" / "losses.csv")[1:]]
        seen.append((step, rows[-1], (tmp_path / "samples" / f"step_{step:06d}.png").exists()))
        return real_save(store, step)

    monkeypatch.setattr(training._CheckpointStore, "save", save)
    cfg = training.TrainConfig(steps=4, batch_size=8, checkpoint_every=2, log_every=1, sample_every=2, verbose=False)
    training.train(tiny_gan.TinyCGAN(), tiny_gan.dataset(64), tmp_path, cfg)
    assert seen == [(2, 2, True), (4, 4, True)]
