"""The run lock, held and contested by real processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from scanner.runs.lock import LockHeldError, LockHolder, RunLock, process_alive

# A child that takes the lock, prints "locked" and waits for a line on stdin.
HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from scanner.runs.lock import RunLock

    lock = RunLock(Path(sys.argv[1]))
    lock.acquire()
    print("locked", flush=True)
    sys.stdin.readline()
    lock.release()
    """
)
# A child that tries the lock once and prints what happened.
CONTENDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from scanner.runs.lock import LockHeldError, RunLock

    start = float(sys.argv[2])
    while time.time() < start:
        time.sleep(0.001)
    try:
        RunLock(Path(sys.argv[1])).acquire()
    except LockHeldError:
        print("held", flush=True)
    else:
        print("acquired", flush=True)
    """
)


def start_holder(lock_path: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    return holder


def dead_pid() -> int:
    # The pid of a child that has been reaped; reuse within the test is unlikely.
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_lock_file_names_holder(tmp_path):
    path = tmp_path / "run.lock"
    with RunLock(path) as lock:
        holder = LockHolder.parse(path.read_text(encoding="utf-8"))
        assert holder is not None
        assert holder.pid == os.getpid()
        assert holder.host == socket.gethostname()
        assert holder.started_at == lock.holder.started_at
    assert not path.exists()


def test_live_holder_blocks_second_process(tmp_path):
    path = tmp_path / "run.lock"
    holder = start_holder(path)
    try:
        with pytest.raises(LockHeldError) as caught:
            RunLock(path).acquire()
        assert f"pid {holder.pid}" in str(caught.value)
        assert caught.value.holder is not None
        assert caught.value.holder.pid == holder.pid
    finally:
        holder.communicate("\n", timeout=10)
    assert holder.returncode == 0
    assert not path.exists()


def test_killed_holder_lock_taken_over(tmp_path, caplog):
    path = tmp_path / "run.lock"
    holder = start_holder(path)
    holder.send_signal(signal.SIGKILL)
    holder.communicate(timeout=10)
    assert path.exists()
    assert not process_alive(holder.pid)

    caplog.set_level("WARNING", logger="scanner.runs.lock")
    lock = RunLock(path)
    lock.acquire()
    try:
        assert lock.took_over is not None
        assert lock.took_over.pid == holder.pid
        written = LockHolder.parse(path.read_text(encoding="utf-8"))
        assert written == lock.holder
        assert f"stale lock {path}" in caplog.text
        assert f"pid {holder.pid}" in caplog.text
    finally:
        lock.release()
    assert not path.exists()


def test_lock_from_other_host_counts_as_held(tmp_path):
    path = tmp_path / "run.lock"
    other = LockHolder(1, "other-host.example", "2026-01-01T00:00:00+00:00", "ab")
    path.write_text(other.to_json(), encoding="utf-8")
    with pytest.raises(LockHeldError, match="pid 1 on other-host.example"):
        RunLock(path).acquire()
    assert path.read_text(encoding="utf-8") == other.to_json()


def test_unreadable_lock_counts_as_held(tmp_path):
    path = tmp_path / "run.lock"
    path.write_text("", encoding="utf-8")
    with pytest.raises(LockHeldError, match="an unknown process"):
        RunLock(path).acquire()


def test_release_keeps_foreign_lock(tmp_path):
    path = tmp_path / "run.lock"
    lock = RunLock(path)
    lock.acquire()
    other = LockHolder(os.getpid(), socket.gethostname(), "later", "other-token")
    path.write_text(other.to_json(), encoding="utf-8")
    lock.release()
    assert path.exists()


def test_racing_takeovers_have_one_winner(tmp_path):
    path = tmp_path / "run.lock"
    stale = LockHolder(dead_pid(), socket.gethostname(), "earlier", "stale")
    path.write_text(stale.to_json(), encoding="utf-8")
    start = time.time() + 1.5
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CONTENDER, str(path), str(start)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = sorted(child.communicate(timeout=30)[0].strip() for child in children)
    assert outputs == ["acquired", "held", "held", "held"]
    holder = json.loads(path.read_text(encoding="utf-8"))
    assert holder["token"] != "stale"


def test_process_alive():
    assert process_alive(os.getpid())
    assert not process_alive(dead_pid())
    assert not process_alive(0)
