"""Identity of the process running a scan, and a check that it is alive.

A scan records its host name, process id and the process's start time when
it begins. A scan killed with SIGKILL cannot record its end, so it stays
``running`` in the catalog. ``is_alive`` distinguishes such a scan from one
still running, so that ``cardex scan --resume`` can take it over.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

# In /proc/PID/stat the start time is field 22 (proc(5)). Counted after the
# command name, which ends with the last ")", it is at index 19.
STAT_START_FIELD = 19


@dataclass(frozen=True)
class ScanProcess:
    """The process that runs a scan.

    ``started`` is the start time from ``/proc/PID/stat`` in clock ticks since
    boot, so a process id reused after the scan died does not look alive.
    It is None where ``/proc`` is missing.
    """

    host: str
    pid: int
    started: int | None


def current_process() -> ScanProcess:
    """Return the host, id and start time of this process."""
    pid = os.getpid()
    return ScanProcess(socket.gethostname(), pid, _start_time(pid))


def is_alive(process: ScanProcess) -> bool | None:
    """Tell whether ``process`` is still running.

    Returns None when the process ran on another host, where this one cannot
    check. A zombie (killed but not yet reaped by its parent) counts as dead.
    """
    if process.host != socket.gethostname():
        return None
    try:
        os.kill(process.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, but owned by another user
    stat = _read_stat(process.pid)
    if stat is None:
        return True
    state, started = stat
    if state == "Z":
        return False
    return process.started is None or started == process.started


def _read_stat(pid: int) -> tuple[str, int] | None:
    """Return the state letter and start time of ``pid`` from ``/proc``."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return None
    fields = text[text.rfind(")") + 2 :].split()
    try:
        return fields[0], int(fields[STAT_START_FIELD])
    except (IndexError, ValueError):
        return None


def _start_time(pid: int) -> int | None:
    stat = _read_stat(pid)
    return stat[1] if stat else None
