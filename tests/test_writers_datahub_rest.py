"""The DataHub writer over REST, against a loopback stand-in for GMS.

The stand-in serves the three Rest.li endpoints the SDK's ``DataHubGraph``
calls here (``GET /config``, ``GET /aspects/{urn}``, ``POST
/aspects?action=ingestProposal``), stores aspects as GMS returns them, and
checks the bearer token. It does not run GMS's validation, versioning or
search indexing; the SDK's OpenAPI ingestion path is not exercised.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

os.environ["DATAHUB_TELEMETRY_ENABLED"] = "false"
pytest.importorskip("datahub.metadata.schema_classes")

from datahub.metadata.schema_classes import ASPECT_CLASSES  # noqa: E402

from classifiers.rulepack import load_rule_pack  # noqa: E402
from scanner.catalog.local import LocalCatalog  # noqa: E402
from scanner.model import ColumnResult, DatasetResult, Evidence, Label  # noqa: E402
from scanner.writers import push as push_module  # noqa: E402
from scanner.writers.config import parse_target  # noqa: E402
from scanner.writers.push import push_catalog  # noqa: E402

RULES = load_rule_pack()
TOKEN = "gms-test-token"
URI = "postgresql://etl@pg.example:5432/fleet/public/owners"
URN = "urn:li:dataset:(urn:li:dataPlatform:postgres,fleet.public.owners,PROD)"
RECORD_NAMES = {
    cls.ASPECT_NAME: cls.RECORD_SCHEMA.fullname.replace(".pegasus2avro", "")
    for cls in ASPECT_CLASSES
}


class FakeGms:
    """Stores aspects in memory and serves them as GMS's Rest.li API does."""

    def __init__(self) -> None:
        self.aspects: dict[tuple[str, str], dict[str, Any]] = {}
        self.requests: list[tuple[str, str, str | None]] = []
        self.failures: list[int] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def route(self, method: str, target: str, auth: str | None, body: Any) -> Any:
        self.requests.append((method, target, auth))
        if self.failures:
            return self.failures.pop(0), {"status": 503}
        if auth != f"Bearer {TOKEN}":
            return 401, {"status": 401, "message": "Unauthorized"}
        parts = urlsplit(target)
        if method == "GET" and parts.path == "/config":
            return 200, {"noCode": "true", "versions": {}}
        if method == "GET" and parts.path.startswith("/aspects/"):
            urn = unquote(parts.path[len("/aspects/") :])
            name = parse_qs(parts.query)["aspect"][0]
            stored = self.aspects.get((urn, name))
            if stored is None:
                return 404, {"status": 404}
            return 200, {"aspect": {RECORD_NAMES[name]: stored}}
        if method == "POST" and target == "/aspects?action=ingestProposal":
            proposal = body["proposal"]
            key = (proposal["entityUrn"], proposal["aspectName"])
            self.aspects[key] = json.loads(proposal["aspect"]["value"])
            return 200, {"value": proposal["entityUrn"]}
        return 404, {"status": 404}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        gms = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                auth = self.headers.get("Authorization")
                status, answer = gms.route(method, self.path, auth, body)
                data = json.dumps(answer).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

        return Handler


def record(store: LocalCatalog, columns: dict[str, list[str]]) -> None:
    def label(label_id: str) -> Label:
        evidence = Evidence(f"{label_id}.values", RULES.version, 10, 10, 9, ("1***9",))
        return Label(label_id, RULES[label_id].category, 0.9, evidence)

    result = DatasetResult(
        uri=URI,
        name="owners",
        kind="table",
        columns=[
            ColumnResult(name, "VARCHAR", 10, 10, [label(i) for i in ids])
            for name, ids in columns.items()
        ],
    )
    scan_id = store.begin_scan([URI], RULES.version)
    store.record_dataset(scan_id, result)
    store.finish_scan(scan_id, "ok", {})


@pytest.fixture
def gms(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGms]:
    monkeypatch.setenv("DATAHUB_GMS_TOKEN", TOKEN)
    monkeypatch.setattr(push_module, "RETRY_BASE_SECONDS", 0.01)
    server = FakeGms()
    yield server
    server.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LocalCatalog]:
    catalog = LocalCatalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    yield catalog
    catalog.close()


def field_tags(gms: FakeGms, field_path: str) -> list[dict[str, Any]]:
    editable = gms.aspects[(URN, "editableSchemaMetadata")]
    for info in editable["editableSchemaFieldInfo"]:
        if info["fieldPath"] == field_path:
            return list(info.get("globalTags", {}).get("tags", []))
    return []


def test_rest_apply_reapply_and_change(store: LocalCatalog, gms: FakeGms) -> None:
    record(store, {"phone": ["pi.phone"], "contact": ["pi.name"]})
    first = push_catalog(store, parse_target(f"datahub+{gms.url}"), rules=RULES)
    posts = sum(method == "POST" for method, _, _ in gms.requests)
    again = push_catalog(store, parse_target(f"datahub+{gms.url}"), rules=RULES)
    reposts = sum(method == "POST" for method, _, _ in gms.requests) - posts
    person = {"tag": "urn:li:tag:pii-reviewed"}
    editable = gms.aspects[(URN, "editableSchemaMetadata")]
    for info in editable["editableSchemaFieldInfo"]:
        if info["fieldPath"] == "contact":
            info["globalTags"]["tags"].append(person)
    record(store, {"phone": ["pi.phone"], "contact": []})
    changed = push_catalog(store, parse_target(f"datahub+{gms.url}"), rules=RULES)

    assert first.status == "ok", [d.error for d in first.failed]
    assert first.count("add") == 2
    assert again.count("add") == 0
    assert reposts == 0
    assert changed.count("remove") == 1
    assert [tag["tag"] for tag in field_tags(gms, "contact")] == [person["tag"]]
    assert [tag["tag"] for tag in field_tags(gms, "phone")] == [
        "urn:li:tag:cardex.pi.phone"
    ]
    assert field_tags(gms, "phone")[0]["context"] == "cardex"
    assert all(auth == f"Bearer {TOKEN}" for _, _, auth in gms.requests)


def test_rest_transient_failure_retried(store: LocalCatalog, gms: FakeGms) -> None:
    record(store, {"phone": ["pi.phone"]})
    gms.failures = [503, 503]
    report = push_catalog(store, parse_target(f"datahub+{gms.url}"), rules=RULES)

    assert report.status == "ok", report.error
    assert [tag["tag"] for tag in field_tags(gms, "phone")] == [
        "urn:li:tag:cardex.pi.phone"
    ]


def test_rest_wrong_token_reported(
    store: LocalCatalog, gms: FakeGms, monkeypatch: pytest.MonkeyPatch
) -> None:
    record(store, {"phone": ["pi.phone"]})
    monkeypatch.setenv("DATAHUB_GMS_TOKEN", "wrong-secret-4711")
    report = push_catalog(store, parse_target(f"datahub+{gms.url}"), rules=RULES)

    assert report.status == "failed"
    assert "token" in (report.error or "")
    assert "wrong-secret-4711" not in (report.error or "")
