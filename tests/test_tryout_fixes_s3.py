"""S3 stores that stop responding: bounded waits and the fail-fast rule."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pyarrow.fs as pafs
import pytest
from s3server import ADMIN, S3Server

from connectors.objectstore.settings import resolve_s3_settings, s3_filesystem
from connectors.objectstore.store import ObjectStore
from scanner.engine import Scanner, ScanOptions
from scanner.errors import UsageError

BUCKET = "quiet"
NAMES = ["owners", "trips", "dealers", "claims", "repairs", "loans"]
KEYS = [f"fleet/{name}.csv" for name in NAMES]
TIMEOUT_SECONDS = 2.0


def _listing_xml() -> bytes:
    contents = "".join(
        f"<Contents><Key>{key}</Key><Size>120</Size>"
        "<LastModified>2026-01-01T00:00:00.000Z</LastModified>"
        '<ETag>"0"</ETag></Contents>'
        for key in KEYS
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Name>{BUCKET}</Name><Prefix></Prefix><KeyCount>{len(KEYS)}</KeyCount>"
        f"<MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>{contents}"
        "</ListBucketResult>"
    ).encode()


class _QuietStore(BaseHTTPRequestHandler):
    """Respond to bucket requests, and never to a request for an object."""

    release: threading.Event

    def do_GET(self) -> None:  # noqa: N802 - name fixed by http.server
        if "list-type" in parse_qs(urlsplit(self.path).query):
            body = _listing_xml()
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.release.wait(30)

    def do_HEAD(self) -> None:  # noqa: N802 - name fixed by http.server
        if urlsplit(self.path).path.strip("/") == BUCKET:
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.release.wait(30)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Keep the test output quiet."""


@pytest.fixture
def quiet_store() -> Iterator[str]:
    release = threading.Event()
    handler = type("Handler", (_QuietStore,), {"release": release})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def _s3_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "quiet-access")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "quiet-secret")
    monkeypatch.setenv("CARDEX_S3_MAX_ATTEMPTS", "2")


def test_silent_store_fails_fast(
    quiet_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _s3_environment(monkeypatch)
    options = ScanOptions(
        sources=[f"s3://{BUCKET}/"],
        use_catalog=False,
        concurrency=1,
        endpoint_url=quiet_store,
        timeout=TIMEOUT_SECONDS,
    )

    started = time.monotonic()
    results = Scanner(options).run().results
    elapsed = time.monotonic() - started

    assert len(results) == len(KEYS)
    reasons = [result.errors[0].reason for result in results]
    assert 1 <= reasons.count("timeout") <= 3
    assert reasons.count("unavailable") >= len(KEYS) - 3
    assert reasons[-1] == "unavailable"
    timeouts = [r.errors[0].message for r in results if r.errors[0].reason == "timeout"]
    assert "--timeout" in timeouts[0]
    # 3 timed-out requests of about TIMEOUT_SECONDS each, then the rest at once.
    assert elapsed < 6 * TIMEOUT_SECONDS


@pytest.mark.parametrize("endpoint", ["notaurl", "127.0.0.1:8333"])
def test_endpoint_without_scheme(endpoint: str) -> None:
    settings = resolve_s3_settings(endpoint, environ={})

    with pytest.raises(UsageError, match="invalid S3 endpoint") as caught:
        s3_filesystem(settings, 5.0)

    assert "http://HOST[:PORT]" in str(caught.value)


def test_rejected_signature_names_credentials() -> None:
    store = ObjectStore("s3", pafs.LocalFileSystem(), "lake")
    error = OSError("AWS Error SIGNATURE_DOES_NOT_MATCH during ListObjectsV2 operation")

    translated = store.translate(error, "s3://lake/raw", "listing")

    assert translated.reason == "access_denied"
    assert "AWS_SECRET_ACCESS_KEY" in str(translated)


def test_glob_in_url_hint(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    _s3_environment(monkeypatch)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ADMIN.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", ADMIN.secret_key)
    s3_server.create_bucket("globbed")
    options = ScanOptions(
        sources=["s3://globbed/raw/*.csv"],
        use_catalog=False,
        endpoint_url=s3_server.endpoint,
    )

    results = Scanner(options).run().results

    assert [error.reason for error in results[0].errors] == ["not_found"]
    assert "--include" in results[0].errors[0].message
