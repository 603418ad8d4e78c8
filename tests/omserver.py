"""A stand-in for OpenMetadata's REST API, on loopback, for the writer tests.

It serves the endpoints the OpenMetadata writer calls, in the shapes of the
real API (OpenMetadata 1.x): ``/api/v1/classifications``, ``/api/v1/tags``,
``/api/v1/tables/name/{fqn}`` and JSON Patch on ``/api/v1/tables/{id}``. It
keeps state between requests and checks every request: method and path,
the bearer token, the content type of patches, and request bodies against
JSON Schemas copied from openmetadata-spec (createClassification, createTag,
TagLabel). A request that fails a check gets an error response and is
listed in ``problems``.

Limits: it does not run OpenMetadata's authorisation, search indexing,
versioning, or its checks of mutually exclusive tags, and the TagLabel
schema here carries ``reason``, which older servers do not accept.
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jsonschema

_ENTITY_NAME = {"type": "string", "minLength": 1, "maxLength": 256}
CREATE_CLASSIFICATION = {
    "type": "object",
    "properties": {
        "name": _ENTITY_NAME,
        "displayName": {"type": "string"},
        "description": {"type": "string"},
        "provider": {"type": "string", "enum": ["system", "user", "automation"]},
        "mutuallyExclusive": {"type": "boolean"},
        "domains": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["name", "description"],
    "additionalProperties": False,
}
CREATE_TAG = {
    "type": "object",
    "properties": {
        "classification": _ENTITY_NAME,
        "parent": {"type": "string"},
        "name": _ENTITY_NAME,
        "displayName": {"type": "string"},
        "description": {"type": "string"},
        "associatedTags": {"type": "array", "items": {"type": "string"}},
        "provider": {"type": "string", "enum": ["system", "user", "automation"]},
        "mutuallyExclusive": {"type": "boolean"},
    },
    "required": ["name", "description"],
    "additionalProperties": False,
}
TAG_LABEL = {
    "type": "object",
    "properties": {
        "tagFQN": {"type": "string", "maxLength": 128},
        "name": {"type": "string"},
        "displayName": {"type": "string"},
        "description": {"type": "string"},
        "source": {"type": "string", "enum": ["Classification", "Glossary"]},
        "labelType": {
            "type": "string",
            "enum": ["Manual", "Propagated", "Automated", "Derived"],
        },
        "state": {"type": "string", "enum": ["Suggested", "Confirmed"]},
        "reason": {"type": "string"},
        "href": {"type": "string"},
    },
    "required": ["tagFQN", "source", "labelType", "state"],
    "additionalProperties": False,
}
PATCH_OPERATION = {
    "type": "object",
    "properties": {
        "op": {"enum": ["add", "remove", "replace", "move", "copy", "test"]},
        "path": {"type": "string"},
        "value": {},
        "from": {"type": "string"},
    },
    "required": ["op", "path"],
}


class PatchError(Exception):
    """A JSON Patch operation could not be applied."""


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _parent(document: Any, parts: list[str]) -> Any:
    node = document
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def apply_patch(document: Any, operations: list[dict[str, Any]]) -> Any:
    """Apply add, remove, replace and test operations (RFC 6902) to a copy."""
    result = copy.deepcopy(document)
    for operation in operations:
        parts = _pointer(operation["path"])
        try:
            parent = _parent(result, parts)
            last = parts[-1]
            _apply_one(parent, last, operation)
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise PatchError(f"cannot apply {operation}: {exc}") from exc
    return result


def _apply_one(parent: Any, last: str, operation: dict[str, Any]) -> None:
    op = operation["op"]
    if isinstance(parent, list):
        if op == "add":
            index = len(parent) if last == "-" else int(last)
            if index > len(parent):
                raise PatchError(f"index {index} out of range")
            parent.insert(index, operation["value"])
        elif op == "remove":
            del parent[int(last)]
        elif op == "replace":
            parent[int(last)] = operation["value"]
        elif op == "test":
            if parent[int(last)] != operation["value"]:
                raise PatchError(f"test failed at {operation['path']}")
        else:
            raise PatchError(f"unsupported operation {op}")
        return
    if op in ("add", "replace"):
        if op == "replace" and last not in parent:
            raise PatchError(f"nothing to replace at {operation['path']}")
        parent[last] = operation["value"]
    elif op == "remove":
        del parent[last]
    elif op == "test":
        if parent.get(last) != operation["value"]:
            raise PatchError(f"test failed at {operation['path']}")
    else:
        raise PatchError(f"unsupported operation {op}")


def _tag_labels(table: dict[str, Any]) -> list[dict[str, Any]]:
    labels = list(table.get("tags") or [])
    stack = list(table.get("columns") or [])
    while stack:
        column = stack.pop()
        labels += column.get("tags") or []
        stack += column.get("children") or []
    return labels


class OpenMetadataServer:
    """Serves the recorded API on 127.0.0.1 until ``stop``."""

    def __init__(self, token: str = "om-test-token") -> None:
        self.token = token
        self.classifications: dict[str, dict[str, Any]] = {}
        self.tags: dict[str, dict[str, Any]] = {}
        self.tables: dict[str, dict[str, Any]] = {}
        #: (method, path, body) of every request, in order.
        self.requests: list[tuple[str, str, Any]] = []
        #: Requests that broke a check of the real API's contract.
        self.problems: list[str] = []
        #: Status codes returned for the next requests, before any work.
        self.failures: list[int] = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/api"

    def start(self) -> OpenMetadataServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    # -- state the tests set up or inspect --------------------------------------

    def add_table(self, fqn: str, columns: list[dict[str, Any]]) -> dict[str, Any]:
        """Register a table as ingestion would; columns may have children."""
        table = {
            "id": str(uuid.uuid4()),
            "name": fqn.rsplit(".", 1)[-1],
            "fullyQualifiedName": fqn,
            "columns": copy.deepcopy(columns),
            "tags": [],
        }
        self.tables[fqn] = table
        return table

    def table(self, fqn: str) -> dict[str, Any]:
        return self.tables[fqn]

    def writes(self) -> list[tuple[str, str, Any]]:
        return [r for r in self.requests if r[0] in ("POST", "PATCH", "PUT", "DELETE")]

    def check_tag_labels(self) -> None:
        """Record a problem for any stored tag label that breaks the schema."""
        for table in self.tables.values():
            for label in _tag_labels(table):
                self._validate(label, TAG_LABEL, "stored tag label")

    def _validate(self, body: Any, schema: dict[str, Any], what: str) -> bool:
        try:
            jsonschema.validate(body, schema)
        except jsonschema.ValidationError as exc:
            self.problems.append(f"{what}: {exc.message}")
            return False
        return True

    # -- request handling -----------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                with server.lock:
                    status, answer = server.route(
                        method, self.path, dict(self.headers), body
                    )
                self._send(status, answer)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PATCH(self) -> None:
                self._handle("PATCH")

            def do_PUT(self) -> None:
                self._handle("PUT")

            def do_DELETE(self) -> None:
                self._handle("DELETE")

        return Handler

    def route(
        self, method: str, target: str, headers: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        parts = urlsplit(target)
        path = parts.path
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        self.requests.append((method, path, body))
        if self.failures:
            return self.failures.pop(0), {"code": 503, "message": "unavailable"}
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"code": 401, "message": "Not authorized; token invalid"}
        for prefix, handler in (
            ("/api/v1/classifications/name/", self._get_classification),
            ("/api/v1/tables/name/", self._get_table),
            ("/api/v1/tables/", self._patch_table),
        ):
            if path.startswith(prefix):
                return handler(
                    method, unquote(path[len(prefix) :]), query, headers, body
                )
        if path == "/api/v1/classifications" and method == "POST":
            return self._create_classification(body)
        if path == "/api/v1/tags" and method == "GET":
            return self._list_tags(query)
        if path == "/api/v1/tags" and method == "POST":
            return self._create_tag(body)
        self.problems.append(f"unexpected request {method} {path}")
        return 404, {"code": 404, "message": f"no route {method} {path}"}

    def _get_classification(self, method: str, name: str, *_: Any) -> tuple[int, Any]:
        if method != "GET":
            self.problems.append(f"{method} on a classification by name")
            return 405, {"code": 405, "message": "method not allowed"}
        if name not in self.classifications:
            return 404, {
                "code": 404,
                "message": f"classification instance for {name} not found",
            }
        return 200, self.classifications[name]

    def _create_classification(self, body: Any) -> tuple[int, Any]:
        if not self._validate(body, CREATE_CLASSIFICATION, "createClassification"):
            return 400, {"code": 400, "message": "invalid request"}
        entity = dict(body, id=str(uuid.uuid4()), fullyQualifiedName=body["name"])
        self.classifications[body["name"]] = entity
        return 201, entity

    def _list_tags(self, query: dict[str, str]) -> tuple[int, Any]:
        parent = query.get("parent")
        limit = int(query.get("limit", "10"))
        start = int(query.get("after", "0"))
        found = [t for t in self.tags.values() if t["classification"]["name"] == parent]
        page = found[start : start + limit]
        paging: dict[str, Any] = {"total": len(found)}
        if start + limit < len(found):
            paging["after"] = str(start + limit)
        return 200, {"data": page, "paging": paging}

    def _create_tag(self, body: Any) -> tuple[int, Any]:
        if not self._validate(body, CREATE_TAG, "createTag"):
            return 400, {"code": 400, "message": "invalid request"}
        classification = body.get("classification")
        if classification not in self.classifications:
            return 404, {
                "code": 404,
                "message": f"classification {classification} not found",
            }
        name = body["name"]
        fqn = (
            f'{classification}."{name}"' if "." in name else f"{classification}.{name}"
        )
        if fqn in self.tags:
            return 409, {"code": 409, "message": "Entity already exists"}
        self.tags[fqn] = dict(
            body,
            id=str(uuid.uuid4()),
            fullyQualifiedName=fqn,
            classification={"name": classification, "type": "classification"},
        )
        return 201, self.tags[fqn]

    def _get_table(
        self, method: str, fqn: str, query: dict[str, str], *_: Any
    ) -> tuple[int, Any]:
        if method != "GET":
            self.problems.append(f"{method} on a table by name")
            return 405, {"code": 405, "message": "method not allowed"}
        if fqn not in self.tables:
            return 404, {"code": 404, "message": f"table instance for {fqn} not found"}
        fields = set(query.get("fields", "").split(","))
        table = copy.deepcopy(self.tables[fqn])
        if "tags" not in fields:
            table.pop("tags")
        if "columns" not in fields:
            table.pop("columns")
        return 200, table

    def _patch_table(
        self,
        method: str,
        table_id: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: Any,
    ) -> tuple[int, Any]:
        if method != "PATCH":
            self.problems.append(f"{method} on a table by id")
            return 405, {"code": 405, "message": "method not allowed"}
        if headers.get("Content-Type") != "application/json-patch+json":
            self.problems.append(
                f"patch with content type {headers.get('Content-Type')}"
            )
            return 415, {"code": 415, "message": "unsupported media type"}
        table = next((t for t in self.tables.values() if t["id"] == table_id), None)
        if table is None:
            return 404, {"code": 404, "message": f"table {table_id} not found"}
        if not isinstance(body, list):
            self.problems.append("patch body is not a list of operations")
            return 400, {"code": 400, "message": "invalid patch"}
        for operation in body:
            if not self._validate(operation, PATCH_OPERATION, "patch operation"):
                return 400, {"code": 400, "message": "invalid patch"}
        try:
            patched = apply_patch(table, body)
        except PatchError as exc:
            return 400, {"code": 400, "message": str(exc)}
        for label in _tag_labels(patched):
            if not self._validate(label, TAG_LABEL, "tag label"):
                return 400, {"code": 400, "message": "invalid tag label"}
            if (
                label["tagFQN"].startswith("cardex.")
                and label["tagFQN"] not in self.tags
            ):
                return 404, {"code": 404, "message": f"tag {label['tagFQN']} not found"}
        self.tables[table["fullyQualifiedName"]] = patched
        return 200, patched
