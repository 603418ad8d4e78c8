"""Write cardex labels into OpenMetadata as tags of the ``cardex`` classification.

Each label id is one tag (``cardex."pi.phone"``: names with dots are quoted
in fully qualified names). Tags go on tables and columns as tag labels with
``labelType`` ``Automated``, ``state`` ``Suggested`` (``Confirmed`` once a
person confirmed the label in cardex) and a ``reason`` that carries the
evidence and ends with cardex's marker ``[cardex FINGERPRINT]``. A tag label
without that marker was set by a person and is never changed.

Tables are found by fully qualified name (service.database.schema.table)
and changed with JSON Patch. Every remove or replace is preceded by a
``test`` operation. A table that changed since it was read then makes the
server reject the patch instead of removing the wrong tag.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from classifiers.rulepack import LabelRule
from scanner.errors import MissingExtraError, UsageError
from scanner.masking import redact_text
from scanner.writers.base import (
    CatalogWriter,
    DatasetPlan,
    ExpectedLabel,
    LabelKey,
    RemoteLabel,
    TransientWriterError,
    WriterError,
)
from scanner.writers.config import WriterConfig
from scanner.writers.evidence import label_title
from scanner.writers.locate import field_names, locate

try:
    import httpx
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise MissingExtraError(
        "httpx", "openmetadata", "Writing labels to OpenMetadata"
    ) from exc

logger = logging.getLogger(__name__)

CLASSIFICATION = "cardex"
MARKER = re.compile(r"\[cardex ([0-9a-f]{12})\]$")
PAGE_SIZE = 1000
#: Maximum characters of a reason, evidence and marker included.
MAX_REASON_CHARS = 2000


def quote_name(name: str) -> str:
    """Quote one part of a fully qualified name when it contains a dot."""
    return f'"{name}"' if "." in name else name


def split_fqn(fqn: str) -> list[str]:
    """Split a fully qualified name into its parts, honouring quotes."""
    return [part.strip('"') for part in re.findall(r'"[^"]*"|[^.]+', fqn)]


def tag_fqn(label_id: str) -> str:
    return f"{CLASSIFICATION}.{quote_name(label_id)}"


def label_id_of(fqn: str) -> str | None:
    """Return the label id of a cardex tag FQN, else None."""
    parts = split_fqn(fqn)
    if len(parts) == 2 and parts[0] == CLASSIFICATION:
        return parts[1]
    return None


class OpenMetadataWriter(CatalogWriter):
    """Publishes labels to an OpenMetadata server over its REST API."""

    name = "openmetadata"

    def __init__(self, config: WriterConfig) -> None:
        super().__init__(config)
        if config.vocabulary != "tags":
            raise UsageError(
                "the OpenMetadata writer applies classification tags only; "
                "remove vocabulary=glossary from the target"
            )
        if config.transport != "rest" or not config.server:
            raise UsageError("the OpenMetadata writer needs openmetadata+https://HOST")
        headers = {"Accept": "application/json"}
        token = config.token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.client = httpx.Client(
            base_url=config.server.rstrip("/") + "/",
            headers=headers,
            timeout=config.timeout,
        )
        #: Tables read during this push, by fully qualified name.
        self._tables: dict[str, dict[str, Any]] = {}

    # -- HTTP ---------------------------------------------------------------

    def _request(
        self, method: str, path: str, expected: tuple[int, ...] = (200,), **kwargs: Any
    ) -> httpx.Response:
        action = f"{method} {path.split('?')[0]}"
        try:
            response = self.client.request(method, path.lstrip("/"), **kwargs)
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise TransientWriterError(
                f"OpenMetadata at {self.config.server} failed {action}: "
                f"{type(exc).__name__}: {redact_text(str(exc), limit=200)}"
            ) from exc
        if response.status_code in expected:
            return response
        body = redact_text(response.text, limit=300)
        message = (
            f"OpenMetadata at {self.config.server} answered {action} with HTTP "
            f"{response.status_code}: {body}"
        )
        if response.status_code in (401, 403):
            raise WriterError(
                f"{message}; check the token in the variable named by token_env "
                "(default OPENMETADATA_TOKEN)"
            )
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientWriterError(message)
        raise WriterError(message)

    # -- identifiers --------------------------------------------------------

    def dataset_id(self, uri: str) -> str:
        mapping = self.config.mapping_for(uri)
        try:
            location = locate(uri, mapping)
        except ValueError as exc:
            raise UsageError(f"cannot name {uri} in OpenMetadata: {exc}") from exc
        service = (mapping.service if mapping else None) or self.config.service
        if not service:
            raise UsageError(
                f"no OpenMetadata service for {uri}; add service=NAME to the target "
                "or a mapping with prefix and service to the push configuration"
            )
        if location.is_table:
            parts = [location.database or "default", location.schema, location.table]
        else:
            schema = (mapping.schema_name if mapping else None) or "default"
            database = (mapping.database if mapping else None) or "default"
            parts = [database, schema, location.path]
        return ".".join(quote_name(part or "default") for part in [service, *parts])

    # -- vocabulary ---------------------------------------------------------

    def ensure_vocabulary(
        self, rules: Sequence[LabelRule], dry_run: bool = False
    ) -> list[str]:
        found = self._request(
            "GET", f"v1/classifications/name/{CLASSIFICATION}", expected=(200, 404)
        )
        existing: set[str] = set()
        if found.status_code == 200:
            existing = self._existing_tags()
        elif not dry_run:
            self._request(
                "POST",
                "v1/classifications",
                expected=(200, 201),
                json={
                    "name": CLASSIFICATION,
                    "displayName": "cardex",
                    "description": "Labels the cardex scanner gives to personal, "
                    "sensitive personal and important automotive data.",
                    "mutuallyExclusive": False,
                },
            )
        missing = [rule for rule in rules if rule.id not in existing]
        if not dry_run:
            for rule in missing:
                self._request("POST", "v1/tags", expected=(200, 201), json=_tag(rule))
        return [rule.id for rule in missing]

    def _existing_tags(self) -> set[str]:
        names: set[str] = set()
        after: str | None = None
        while True:
            params = {"parent": CLASSIFICATION, "limit": str(PAGE_SIZE)}
            if after:
                params["after"] = after
            page = self._request("GET", "v1/tags", params=params).json()
            names |= {tag["name"] for tag in page.get("data", [])}
            after = (page.get("paging") or {}).get("after")
            if not after:
                return names

    # -- reading ------------------------------------------------------------

    def _table(self, fqn: str) -> dict[str, Any]:
        response = self._request(
            "GET",
            f"v1/tables/name/{quote(fqn, safe='')}",
            expected=(200, 404),
            params={"fields": "columns,tags"},
        )
        if response.status_code == 404:
            raise WriterError(
                f"table {fqn} not found in OpenMetadata; ingest its metadata first, "
                "or map its source to the right service with a mapping"
            )
        table: dict[str, Any] = response.json()
        self._tables[fqn] = table
        return table

    def read_labels(
        self, uri: str, columns: Sequence[str] = ()
    ) -> Mapping[LabelKey, RemoteLabel] | None:
        table = self._table(self.dataset_id(uri))
        found: dict[LabelKey, RemoteLabel] = {}
        for column, tags in self._tag_holders(table, columns):
            for tag in tags:
                remote = _remote_label(column, tag)
                if remote is not None:
                    found[remote.key] = remote
        return found

    def missing_columns(self, uri: str, columns: Sequence[str]) -> set[str]:
        table = self._tables.get(self.dataset_id(uri)) or self._table(
            self.dataset_id(uri)
        )
        return {column for column in columns if _column_path(table, column) is None}

    def _tag_holders(
        self, table: dict[str, Any], columns: Sequence[str]
    ) -> list[tuple[str, list[dict[str, Any]]]]:
        holders = [("", table.get("tags") or [])]
        for column in columns:
            path = _column_path(table, column)
            if path is not None:
                holders.append((column, _resolve(table, path).get("tags") or []))
        return holders

    # -- writing ------------------------------------------------------------

    def apply(self, plan: DatasetPlan) -> None:
        if not plan.writes:
            return
        table = self._tables.get(plan.remote_id) or self._table(plan.remote_id)
        operations: list[dict[str, Any]] = []
        for column in sorted({change.column for change in plan.writes}):
            operations += self._operations(table, plan, column)
        self._request(
            "PATCH",
            f"v1/tables/{table['id']}",
            json=operations,
            headers={"Content-Type": "application/json-patch+json"},
        )
        # The table changed; read it again if another plan needs it.
        self._tables.pop(plan.remote_id, None)

    def _operations(
        self, table: dict[str, Any], plan: DatasetPlan, column: str
    ) -> list[dict[str, Any]]:
        """Build the JSON Patch operations for one column's (or the table's) tags."""
        path = [] if column == "" else _column_path(table, column)
        if path is None:
            raise WriterError(f"column {column} not found in table {plan.remote_id}")

        holder = _resolve(table, path)
        pointer = "".join(f"/{step}" for step in path) + "/tags"
        tags = holder.get("tags") or []
        operations: list[dict[str, Any]] = []
        if not holder.get("tags"):
            operations.append({"op": "add", "path": pointer, "value": []})

        changed = {c.label_id: c for c in plan.writes if c.column == column}
        # Remove and replace from the end so that earlier indices stay valid.
        for index in reversed(range(len(tags))):
            tag = tags[index]
            label_id = label_id_of(tag.get("tagFQN", ""))
            if label_id not in changed or not _is_owned(tag):
                continue
            item = f"{pointer}/{index}"
            operations.append(
                {"op": "test", "path": f"{item}/tagFQN", "value": tag["tagFQN"]}
            )
            change = changed.pop(label_id)
            if change.action == "remove":
                operations.append({"op": "remove", "path": item})
            elif change.label is not None:
                operations.append(
                    {"op": "replace", "path": item, "value": _tag_label(change.label)}
                )

        for change in changed.values():
            if change.action in ("add", "update") and change.label is not None:
                operations.append(
                    {
                        "op": "add",
                        "path": f"{pointer}/-",
                        "value": _tag_label(change.label),
                    }
                )
        return operations

    def close(self) -> None:
        self.client.close()


def _tag(rule: LabelRule) -> dict[str, Any]:
    description = f"{rule.name_zh} / {rule.name_en} ({rule.category}). {rule.grounds}"
    description += f" Source: {rule.source}."
    if rule.provisional:
        description += " Provisional rule."
    return {
        "classification": CLASSIFICATION,
        "name": rule.id,
        "displayName": label_title(rule.id, rule),
        "description": description,
    }


def _tag_label(label: ExpectedLabel) -> dict[str, Any]:
    marker = f" [cardex {label.fingerprint}]"
    reason = label.description[: MAX_REASON_CHARS - len(marker)] + marker
    return {
        "tagFQN": tag_fqn(label.label_id),
        "source": "Classification",
        "labelType": "Automated",
        "state": "Confirmed" if label.state == "confirmed" else "Suggested",
        "reason": reason,
    }


def _is_owned(tag: Mapping[str, Any]) -> bool:
    return tag.get("labelType") == "Automated" and bool(
        MARKER.search(tag.get("reason") or "")
    )


def _remote_label(column: str, tag: Mapping[str, Any]) -> RemoteLabel | None:
    label_id = label_id_of(tag.get("tagFQN", ""))
    if label_id is None:
        return None
    match = MARKER.search(tag.get("reason") or "")
    owned = _is_owned(tag)
    fingerprint = match.group(1) if owned and match else ""
    return RemoteLabel(column, label_id, owned=owned, fingerprint=fingerprint)


def _column_path(table: Mapping[str, Any], column: str) -> list[str | int] | None:
    """Return the JSON path of a column (``columns``, index, ``children``...)."""
    path: list[str | int] = []
    children = table.get("columns") or []
    key = "columns"
    for name in field_names(column):
        index = next(
            (i for i, child in enumerate(children) if child.get("name") == name), None
        )
        if index is None:
            return None
        path += [key, index]
        children = children[index].get("children") or []
        key = "children"
    return path


def _resolve(table: Mapping[str, Any], path: Sequence[str | int]) -> Any:
    node: Any = table
    for step in path:
        node = node[step]
    return node
