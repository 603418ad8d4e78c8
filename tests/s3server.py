"""Start a throwaway S3-compatible server (SeaweedFS) on loopback for tests.

``weed server`` runs a master, a volume server, a filer and the S3 gateway in
one process, bound to 127.0.0.1 only, on free ports, with its data in one
temporary directory. The S3 gateway reads its identities (access keys and
the actions each may perform) from a JSON file written here, so tests can
have an administrator and a reader limited to some prefixes.

Importing this module sets ``AWS_EC2_METADATA_DISABLED``, so the AWS SDK
inside pyarrow never requests credentials or a region from the EC2 instance
metadata address.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.fs as pafs

os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 10
REGION = "us-east-1"


@dataclass(frozen=True)
class Identity:
    """An S3 access key pair and the SeaweedFS actions it may perform.

    Actions are ``Admin``, ``Read``, ``Write``, ``List`` and ``Tagging``,
    optionally limited to a bucket or a bucket prefix (``Read:lake/public``).
    """

    name: str
    access_key: str
    secret_key: str
    actions: tuple[str, ...]

    def to_config(self) -> dict[str, object]:
        return {
            "name": self.name,
            "credentials": [
                {"accessKey": self.access_key, "secretKey": self.secret_key}
            ],
            "actions": list(self.actions),
        }


ADMIN = Identity(
    "admin",
    "CARDEXTESTADMINKEY01",
    "cardex-test-admin-secret-6f1c2e9a7b",
    ("Admin", "Read", "Write", "List", "Tagging"),
)


# May list the bucket ``lake`` and read under ``lake/public/`` only.
READER = Identity(
    "reader",
    "CARDEXTESTREADERKEY1",
    "cardex-test-reader-secret-0d4b8c",
    ("List:lake", "Read:lake/public/*"),
)
TEST_IDENTITIES = (ADMIN, READER)


class S3ServerError(RuntimeError):
    """The test server could not be started."""


def find_weed() -> Path | None:
    """Return the ``weed`` program beside this Python, or on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    on_path = shutil.which("weed")
    return Path(on_path) if on_path else None


def free_loopback_ports(count: int) -> list[int]:
    """Return ``count`` distinct TCP ports on 127.0.0.1 that were free a moment ago.

    SeaweedFS listens on gRPC ports at each HTTP port plus 10000, so a port is
    only taken when that one is free too.
    """
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port in ports or port + 10000 > 65535 or not _port_free(port + 10000):
            continue
        ports.append(port)
    return ports


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class S3Server:
    """One SeaweedFS server in a temporary directory, started and stopped."""

    weed: Path
    identities: tuple[Identity, ...] = (ADMIN,)
    base_dir: Path | None = None
    s3_port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    _ports: dict[str, int] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def start(self) -> str:
        """Start the server, wait until S3 responds, and return its endpoint URL.

        On any failure the server is stopped and its directory deleted before
        the error propagates.
        """
        self.base_dir = Path(tempfile.mkdtemp(prefix="cardex-s3-"))
        try:
            self._launch()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self.endpoint

    def _launch(self) -> None:
        assert self.base_dir is not None
        config = self.base_dir / "identities.json"
        identities = [identity.to_config() for identity in self.identities]
        config.write_text(json.dumps({"identities": identities}))
        data = self.base_dir / "data"
        data.mkdir()
        master, volume, filer, s3 = free_loopback_ports(4)
        self.s3_port = s3
        arguments = [
            "server",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master}",
            f"-volume.port={volume}",
            "-filer",
            f"-filer.port={filer}",
            f"-filer.localSocket={self.base_dir / 'filer.sock'}",
            "-s3",
            f"-s3.port={s3}",
            f"-s3.config={config}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-s3.iam=false",
            "-master.volumeSizeLimitMB=64",
            # Each bucket grows volumes of its own; the tests create many buckets.
            "-volume.max=256",
        ]
        self.log_path = self.base_dir / "weed.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - fixed program and flags
                [str(self.weed), *arguments],
                cwd=self.base_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def _wait_ready(self) -> None:
        """Poll the S3 port until it responds to an HTTP request, within a bound.

        An anonymous request is rejected with 403 once the gateway is up, and
        a bucket can be created only once a volume server has registered, so
        readiness is also checked by the caller's first upload retrying.
        """
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise S3ServerError(
                    f"weed exited with status {self.process.returncode}"
                    f"{self.log_tail()}"
                )
            if _answers_http(self.endpoint):
                return
            time.sleep(0.25)
        raise S3ServerError(
            f"the S3 gateway did not answer within {START_TIMEOUT_SECONDS} s"
            f"{self.log_tail()}"
        )

    def filesystem(self, identity: Identity = ADMIN) -> pafs.S3FileSystem:
        """Return a pyarrow S3 filesystem that signs requests as ``identity``."""
        return pafs.S3FileSystem(
            access_key=identity.access_key,
            secret_key=identity.secret_key,
            endpoint_override=f"127.0.0.1:{self.s3_port}",
            scheme="http",
            region=REGION,
            allow_bucket_creation=True,
        )

    def create_bucket(self, bucket: str) -> None:
        """Create ``bucket``, retrying while the volume server registers."""
        filesystem = self.filesystem()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                filesystem.create_dir(bucket)
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.25)

    def upload_folder(self, folder: Path, destination: str) -> int:
        """Copy every file under ``folder`` to ``destination``; return the count."""
        filesystem = self.filesystem()
        count = 0
        for path in sorted(folder.rglob("*")):
            if not path.is_file():
                continue
            key = f"{destination}/{path.relative_to(folder).as_posix()}"
            with filesystem.open_output_stream(key, compression=None) as stream:
                stream.write(path.read_bytes())
            count += 1
        return count

    def kill(self) -> None:
        """Kill the server and its children at once, keeping its directory."""
        if self.process is None or self.process.poll() is not None:
            return
        # The process group contains weed and any child it started.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT_SECONDS)

    def stop(self) -> None:
        """Kill the server and its children and delete its directory.

        The data is thrown away, so there is no graceful shutdown to wait for.
        """
        self.kill()
        self.process = None
        if self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None

    def log_tail(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        lines = self.log_path.read_text(errors="replace").splitlines()[-20:]
        return "\nserver log:\n" + "\n".join(lines)


# Readiness checks go straight to loopback, never through a configured proxy.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _answers_http(endpoint: str) -> bool:
    try:
        with _DIRECT.open(endpoint, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP status means the gateway is listening
    except (urllib.error.URLError, OSError):
        return False
