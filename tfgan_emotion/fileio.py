"""Crash-safe writes of the files a run keeps and reads again (checkpoint markers, losses.csv, events.jsonl,
sample grids, config.json, metrics.json).

A file is replaced whole or not at all: it is written to a hidden temporary file beside it, flushed to disk and
renamed over the old one. A log line is appended whole, with one ``write``; when the file ends in a line that was
never finished (only a crash of the machine leaves one), the new line starts on a line of its own. A process
killed at any moment therefore leaves the old or the new content, never a torn file that a resumed run reads.

``TFGAN_WRITE_PAUSE`` (seconds, unset by default) makes each of these writes announce itself on stderr and pause
before the new content is published, so that tests can kill a process in the middle of one. Unset, nothing pauses
and nothing is printed.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

PAUSE_ENV = "TFGAN_WRITE_PAUSE"


def write_pause(what: str) -> None:
    """Pause inside the write of ``what`` when ``TFGAN_WRITE_PAUSE`` is set (tests only); else do nothing."""
    seconds = os.environ.get(PAUSE_ENV)
    if seconds:
        print(f"[tfgan-emotion] writing {what} (pausing {seconds} s)", file=sys.stderr, flush=True)
        time.sleep(float(seconds))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _temp_name(path: Path, pid: int) -> Path:
    return path.with_name(f".{path.name}.{pid}.tmp")


def _of_dead_writer(pid: str) -> bool:
    """Whether the pid part of a temporary file's name names a writer that is gone (not this process)."""
    return pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid))


def remove_stale_temps(path) -> None:
    """Delete the temporary files that writers of ``path`` killed mid-write left behind."""
    path = Path(path)
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        if _of_dead_writer(tmp.name[len(path.name) + 2:-len(".tmp")]):
            tmp.unlink(missing_ok=True)


def remove_stale_temps_in(directory) -> int:
    """Delete, in ``directory`` (not below it), every temporary file that a writer killed mid-write left behind,
    whatever it was writing; returns how many. A kill in the instant between a write's rename and its own clean-up
    leaves the temporary file of an earlier killed writer of the same path, which no later write of that path may
    come to clear: a run sweeps its directories when it starts."""
    directory = Path(directory)
    removed = 0
    if not directory.is_dir():
        return removed
    for tmp in directory.glob(".*.tmp"):
        target, _, pid = tmp.name[1:-len(".tmp")].rpartition(".")
        if target and _of_dead_writer(pid):
            tmp.unlink(missing_ok=True)
            removed += 1
    return removed


def atomic_write(path, data: bytes | str, what: str | None = None) -> Path:
    """Replace ``path`` with ``data`` (bytes, or text written as UTF-8) all at once: readers, and a run resumed
    after a kill, see the old content or the new one, never part of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    tmp = _temp_name(path, os.getpid())
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        write_pause(what or path.name)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    remove_stale_temps(path)
    return path


def append_line(path, line: str, what: str | None = None) -> None:
    """Append ``line`` (a newline is added) to ``path`` with a single ``write`` of the whole line."""
    path = Path(path)
    data = (line.rstrip("\n") + "\n").encode("utf-8")
    write_pause(what or path.name)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data  # the last line was torn: keep it apart (readers drop it) from this one
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
