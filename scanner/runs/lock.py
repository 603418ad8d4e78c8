"""A lock file that keeps two runs from overlapping.

The file contains JSON with the holder's pid, host name, start time and a
random token. It is created with ``O_EXCL``, so only one process can create
it. A lock whose holder is a dead process on this host is stale: it is taken
over with a warning. A lock from another host cannot be checked for
liveness and counts as held until a person deletes it.

Taking over a stale lock happens under an exclusive ``flock`` on a guard file
beside the lock, so two runs that find the same stale lock cannot both take
it. ``flock`` is advisory and may not work across hosts on network file
systems; the lock itself relies only on ``O_EXCL`` and ``rename``.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import json
import logging
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from scanner.errors import CardexError

logger = logging.getLogger(__name__)


class LockHeldError(CardexError):
    """Another run holds the lock."""

    def __init__(self, path: Path, holder: LockHolder | None) -> None:
        self.path = path
        self.holder = holder
        who = holder.describe() if holder else "an unknown process"
        super().__init__(
            f"another run is active: {path} is held by {who}; if that run is "
            "gone (for example on another host), delete the lock file"
        )


@dataclass(frozen=True)
class LockHolder:
    """The process that wrote a lock file."""

    pid: int
    host: str
    started_at: str
    token: str

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, started {self.started_at}"

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def parse(cls, text: str) -> LockHolder | None:
        """Return the holder written in ``text``, or None when it is unreadable."""
        try:
            data = json.loads(text)
            return cls(
                pid=int(data["pid"]),
                host=str(data["host"]),
                started_at=str(data["started_at"]),
                token=str(data["token"]),
            )
        except (ValueError, KeyError, TypeError):
            return None


def process_alive(pid: int) -> bool:
    """Tell whether a process with ``pid`` exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists but belongs to another user
    return True


class RunLock:
    """An exclusive lock on ``path``, held between ``acquire`` and ``release``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.holder = LockHolder(
            pid=os.getpid(),
            host=socket.gethostname(),
            started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            token=secrets.token_hex(8),
        )
        self.took_over: LockHolder | None = None

    def acquire(self) -> None:
        """Create the lock file, taking over a stale one.

        Raises ``LockHeldError`` when a live run has it.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self._create():
            return
        with _guard(self.path):
            # The holder may release between our attempt and the guard.
            for _ in range(3):
                if self._create():
                    return
                current = self._read()
                if current is not None and self._is_stale(current):
                    self._take_over(current)
                    return
                if current is not None or self.path.exists():
                    # An unreadable lock may be one being written right now.
                    raise LockHeldError(self.path, current)
            raise LockHeldError(self.path, None)

    def _create(self) -> bool:
        try:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(self.holder.to_json())
        return True

    def _read(self) -> LockHolder | None:
        try:
            return LockHolder.parse(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    def _is_stale(self, holder: LockHolder) -> bool:
        return holder.host == self.holder.host and not process_alive(holder.pid)

    def _take_over(self, stale: LockHolder) -> None:
        """Replace the stale lock with ours in one rename."""
        fresh = self.path.with_name(f"{self.path.name}.{self.holder.token}")
        fresh.write_text(self.holder.to_json(), encoding="utf-8")
        os.replace(fresh, self.path)
        self.took_over = stale
        logger.warning(
            "took over stale lock %s from %s, which is no longer running",
            self.path,
            stale.describe(),
        )

    def release(self) -> None:
        """Delete the lock file if it is still ours."""
        current = self._read()
        if current is None or current.token != self.holder.token:
            logger.warning("lock %s is no longer ours; leaving it", self.path)
            return
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


class _guard:
    """An exclusive ``flock`` on ``<lock>.guard`` for the duration of a takeover."""

    def __init__(self, lock_path: Path) -> None:
        self.path = lock_path.with_name(lock_path.name + ".guard")
        self.descriptor = -1

    def __enter__(self) -> None:
        self.descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.descriptor, fcntl.LOCK_EX)
        except OSError as exc:
            # Some network file systems refuse flock; the takeover then
            # relies on the atomic rename alone.
            if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                raise
            logger.debug("flock unsupported on %s: %s", self.path, exc)

    def __exit__(self, *exc_info: object) -> None:
        os.close(self.descriptor)
