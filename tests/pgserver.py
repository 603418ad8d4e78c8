"""Start a throwaway PostgreSQL server on loopback for the test session.

The server listens on 127.0.0.1 only, on a free port, with its Unix socket,
data directory and log inside one temporary directory. Loopback connections
are trusted (no password check), and durability settings are off because the
data is thrown away. PostgreSQL refuses to run as root, so when the tests run
as root, ``initdb`` and ``pg_ctl`` run as the ``postgres`` system user.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

SEARCH_GLOBS = ("/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin")
SERVER_TOOLS = ("initdb", "pg_ctl", "createdb")
SERVER_USER = "postgres"
DATABASE = "cardex_test"
START_TIMEOUT_SECONDS = 30

# Only loopback TCP and the private socket are accepted, both without a
# password, because the server contains nothing but test data and lives for
# one session.
HBA_RULES = """\
local all all trust
host all all 127.0.0.1/32 trust
"""

SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{socket_dir}'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 20
shared_buffers = 16MB
log_min_messages = warning
"""


class PostgresServerError(RuntimeError):
    """The test server could not be initialised, started or stopped."""


def find_bin_dir() -> Path | None:
    """Return the newest directory that contains all of ``SERVER_TOOLS``, if any."""
    candidates = [Path(path) for pattern in SEARCH_GLOBS for path in glob.glob(pattern)]
    on_path = shutil.which("pg_ctl")
    if on_path:
        # Resolve links such as /usr/local/bin/pg_ctl, whose directory may
        # lack the other programs.
        candidates.append(Path(on_path).resolve().parent)

    usable = [path for path in candidates if _has_server_tools(path)]
    return max(usable, key=_version_key, default=None)


def _has_server_tools(bin_dir: Path) -> bool:
    return all((bin_dir / tool).is_file() for tool in SERVER_TOOLS)


def _version_key(bin_dir: Path) -> tuple[int, ...]:
    numbers = re.findall(r"\d+", str(bin_dir))
    return tuple(int(number) for number in numbers)


def free_loopback_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """One PostgreSQL cluster in a temporary directory, started and stopped."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.base_dir: Path | None = None
        self.port: int | None = None
        self._account = _server_account()

    @property
    def data_dir(self) -> Path:
        if self.base_dir is None:
            raise PostgresServerError("the server has not been initialised")
        return self.base_dir / "data"

    def start(self) -> str:
        """Initialise and start the cluster; return a SQLAlchemy URL to it.

        On any failure the server is stopped and its directory deleted before
        the error propagates.
        """
        self.base_dir = Path(tempfile.mkdtemp(prefix="cardex-pg-"))
        try:
            return self._initialise_and_start()
        except BaseException:
            self.stop()
            raise

    def _initialise_and_start(self) -> str:
        assert self.base_dir is not None
        if self._account is not None:
            os.chown(self.base_dir, self._account.pw_uid, self._account.pw_gid)

        self._run(
            "initdb",
            ["-D", str(self.data_dir), "-U", SERVER_USER, "--auth=trust"]
            + ["--encoding=UTF8", "--locale=C", "--no-sync"],
        )
        self.port = free_loopback_port()
        self._configure(self.port)
        self._run(
            "pg_ctl",
            ["-D", str(self.data_dir), "-l", str(self.base_dir / "server.log")]
            + ["-w", "-t", str(START_TIMEOUT_SECONDS), "start"],
        )
        self._run(
            "createdb",
            ["-h", str(self.base_dir), "-p", str(self.port)]
            + ["-U", SERVER_USER, DATABASE],
        )
        return f"postgresql+psycopg://{SERVER_USER}@127.0.0.1:{self.port}/{DATABASE}"

    def stop(self) -> None:
        """Stop the server at once and delete its directory."""
        if self.base_dir is None:
            return
        pid_file = self.data_dir / "postmaster.pid"
        try:
            if pid_file.exists():
                self._run(
                    "pg_ctl",
                    ["-D", str(self.data_dir), "-m", "immediate"] + ["-w", "stop"],
                )
        except PostgresServerError:
            _signal_postmaster(pid_file)
            raise
        finally:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None

    def _configure(self, port: int) -> None:
        assert self.base_dir is not None
        (self.data_dir / "pg_hba.conf").write_text(HBA_RULES)
        settings = SETTINGS.format(port=port, socket_dir=self.base_dir)
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(settings)

    def _run(self, tool: str, arguments: list[str]) -> None:
        command = [str(self.bin_dir / tool), *arguments]
        options: dict[str, object] = {}
        if self._account is not None:
            options = {
                "user": self._account.pw_uid,
                "group": self._account.pw_gid,
                "extra_groups": [],
            }
        try:
            completed = subprocess.run(
                command,
                cwd=self.base_dir,
                capture_output=True,
                text=True,
                timeout=START_TIMEOUT_SECONDS + 10,
                check=False,
                **options,  # type: ignore[call-overload]
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise PostgresServerError(f"{tool} could not be run: {exc}") from exc
        if completed.returncode != 0:
            raise PostgresServerError(
                f"{tool} failed with exit status {completed.returncode}: "
                f"{completed.stderr.strip() or completed.stdout.strip()}"
                f"{self._log_tail()}"
            )

    def _log_tail(self) -> str:
        if self.base_dir is None:
            return ""
        log = self.base_dir / "server.log"
        if not log.exists():
            return ""
        lines = log.read_text(errors="replace").splitlines()[-20:]
        return "\nserver log:\n" + "\n".join(lines)


def _signal_postmaster(pid_file: Path) -> None:
    """Ask the postmaster named in ``pid_file`` for an immediate shutdown."""
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        # SIGQUIT is PostgreSQL's immediate shutdown, like pg_ctl -m immediate.
        os.kill(pid, signal.SIGQUIT)
    except (OSError, ValueError, IndexError):
        pass


def _server_account() -> pwd.struct_passwd | None:
    """Return the account to run the server as, or None for the current user."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError as exc:
        raise PostgresServerError(
            "the tests run as root, which PostgreSQL refuses, and there is no "
            f"'{SERVER_USER}' system user to run the server as; create one or "
            "run the tests as another user"
        ) from exc
