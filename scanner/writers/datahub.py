"""Write cardex labels into DataHub as tags or glossary terms.

Dataset labels go to the dataset's ``globalTags`` (or ``glossaryTerms``)
aspect. Column labels go to ``editableSchemaMetadata``, the aspect DataHub's
UI edits too, so they survive re-ingestion of the schema. Each association
cardex makes carries the context ``cardex`` and an attribution whose
``sourceDetail`` contains the evidence. Anything else on the aspect, tags a
person added included, is read and written back unchanged.

Three transports: a GMS server over REST, a file of proposals for
``datahub ingest`` (patch proposals that add or remove single associations,
since a file cannot be read back), and a DataHub Lite store.
"""

from __future__ import annotations

import os

# DataHub's SDK sends usage telemetry to a third-party host unless this is off;
# it reads the variable once, when its telemetry module is imported.
os.environ["DATAHUB_TELEMETRY_ENABLED"] = "false"

import contextlib  # noqa: E402
import logging  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Iterator, Mapping, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from classifiers.rulepack import LabelRule  # noqa: E402
from scanner.errors import MissingExtraError, UsageError  # noqa: E402
from scanner.masking import redact_text  # noqa: E402
from scanner.writers.base import (  # noqa: E402
    CatalogWriter,
    DatasetPlan,
    ExpectedLabel,
    LabelKey,
    RemoteLabel,
    TransientWriterError,
    WriterError,
)
from scanner.writers.config import WriterConfig  # noqa: E402
from scanner.writers.evidence import label_title  # noqa: E402
from scanner.writers.locate import SQL_PLATFORMS, field_names, locate  # noqa: E402

try:
    from datahub.emitter import mce_builder  # noqa: E402
    from datahub.emitter.mcp import MetadataChangeProposalWrapper  # noqa: E402
    from datahub.metadata import schema_classes as models  # noqa: E402
    from datahub.utilities.urns.field_paths import (  # noqa: E402
        get_simple_field_path_from_v2_field_path,
    )
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise MissingExtraError(
        "acryl-datahub", "datahub", "Writing labels to DataHub"
    ) from exc

logger = logging.getLogger(__name__)

#: Context of every association cardex makes; its mark of ownership.
MARKER = "cardex"
TAG_PREFIX = "urn:li:tag:cardex."
TERM_PREFIX = "urn:li:glossaryTerm:cardex."
GLOSSARY_NODE = "urn:li:glossaryNode:cardex"
DESCRIPTION_BEGIN = "<!-- cardex labels: begin -->"
DESCRIPTION_END = "<!-- cardex labels: end -->"


def label_urn(label_id: str, vocabulary: str) -> str:
    """Return the tag or glossary term URN of a label id."""
    prefix = TERM_PREFIX if vocabulary == "glossary" else TAG_PREFIX
    return prefix + label_id


def label_id_of(urn: str) -> str | None:
    """Return the label id of a cardex tag or term URN, else None."""
    for prefix in (TAG_PREFIX, TERM_PREFIX):
        if urn.startswith(prefix):
            return urn[len(prefix) :]
    return None


def simple_field_path(field_path: str) -> str:
    """Return a DataHub field path in plain dotted form (``a.b.c``)."""
    return get_simple_field_path_from_v2_field_path(field_path)


def replace_block(description: str | None, block: str) -> str | None:
    """Put ``block`` between cardex's markers in ``description``, keeping the rest.

    An empty ``block`` removes the markers; None comes back for a description
    left empty.
    """
    text = description or ""
    start = text.find(DESCRIPTION_BEGIN)
    end = text.find(DESCRIPTION_END)
    if start != -1 and end > start:
        text = (text[:start] + text[end + len(DESCRIPTION_END) :]).strip()
    if block:
        managed = f"{DESCRIPTION_BEGIN}\n{block}\n{DESCRIPTION_END}"
        text = f"{text}\n\n{managed}" if text else managed
    return text or None


class _Backend:
    """Reads and writes aspects; None from ``read`` means absent."""

    readable = True

    def read(self, urn: str, aspect: type[Any]) -> Any:
        raise NotImplementedError

    def write(self, proposals: Sequence[Any]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        return None


#: Bytes 8 to 11 of every DuckDB database file (DuckDB 1.x storage header).
DUCKDB_MAGIC = b"DUCK"


def check_parent_folders(path: Path, kind: str) -> None:
    """Raise ``UsageError`` when a parent of ``path`` exists but is a file.

    Missing parent folders are created when the target is written.
    """
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise UsageError(f"invalid {kind} {path}: {parent} is not a directory")


def check_lite_path(path: Path) -> None:
    """Raise ``UsageError`` unless ``path`` is absent or a DuckDB database file.

    DuckDB opens some other files, such as JSON, as a read-only database with
    an in-memory overlay, so DataHub Lite would accept every write and lose it
    on close.
    """
    check_parent_folders(path, "DataHub Lite path")
    if not path.exists():
        return
    if not path.is_file():
        raise UsageError(f"invalid DataHub Lite path {path}: not a file")
    try:
        with path.open("rb") as stream:
            header = stream.read(12)
    except OSError as exc:
        raise UsageError(
            f"cannot read DataHub Lite store {path}: {exc.strerror}"
        ) from exc
    if header[8:12] != DUCKDB_MAGIC:
        raise UsageError(
            f"{path} exists but is not a DuckDB database, so it is not a DataHub "
            "Lite store; pass a new path or an existing store (a proposals file "
            "for 'datahub ingest' is a datahub-file: target)"
        )


class _LiteBackend(_Backend):
    """A DataHub Lite store in a DuckDB file.

    On a dry run against a path that does not exist yet, the store is not
    created: every read returns None, as from an empty store.
    """

    def __init__(self, config: WriterConfig, dry_run: bool = False) -> None:
        from datahub.lite.lite_util import get_datahub_lite

        assert config.path is not None
        self.path = config.path
        check_lite_path(config.path)
        self.lite: Any = None
        if dry_run and not config.path.exists():
            return
        try:
            self.lite = get_datahub_lite(
                {"type": "duckdb", "config": {"file": str(config.path)}}
            )
        except Exception as exc:  # noqa: BLE001 - DuckDB raises its own tree
            hint = "; is another process using it?" if "lock" in str(exc) else ""
            raise WriterError(
                f"cannot open DataHub Lite store {config.path}: "
                f"{redact_text(str(exc), limit=300)}{hint}"
            ) from exc

    def read(self, urn: str, aspect: type[Any]) -> Any:
        if self.lite is None:
            return None
        found = self.lite.get(urn, [aspect.ASPECT_NAME], typed=True)
        return (found or {}).get(aspect.ASPECT_NAME)

    def write(self, proposals: Sequence[Any]) -> None:
        if self.lite is None:
            raise WriterError(f"DataHub Lite store {self.path} is open for a dry run")
        with _quiet_lite():
            for proposal in proposals:
                self.lite.write(proposal)

    def close(self) -> None:
        if self.lite is None:
            return
        with _quiet_lite():
            self.lite.close()


@contextlib.contextmanager
def _quiet_lite() -> Iterator[None]:
    """Silence the deprecation warning DataHub Lite raises from its own code.

    acryl-datahub 1.7 calls its own deprecated ``Urn.get_type`` while
    indexing, and a cardex user cannot act on that warning.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="Call to deprecated method", category=DeprecationWarning
        )
        yield


class _RestBackend(_Backend):
    """A DataHub GMS server, through the SDK's graph client."""

    def __init__(self, config: WriterConfig) -> None:
        from datahub.ingestion.graph.client import DatahubClientConfig, DataHubGraph

        assert config.server is not None
        self.server = config.server
        client_config = DatahubClientConfig(
            server=config.server,
            token=config.token(),
            timeout_sec=config.timeout,
            # cardex retries the whole dataset with its own bound.
            retry_max_times=0,
        )
        try:
            self.graph = DataHubGraph(client_config)
        except Exception as exc:  # noqa: BLE001 - the SDK wraps requests errors
            raise _translate(exc, f"connecting to DataHub at {self.server}") from exc

    def read(self, urn: str, aspect: type[Any]) -> Any:
        try:
            return self.graph.get_aspect(urn, aspect)
        except Exception as exc:  # noqa: BLE001
            raise _translate(exc, f"reading {aspect.ASPECT_NAME} of {urn}") from exc

    def write(self, proposals: Sequence[Any]) -> None:
        for proposal in proposals:
            try:
                self.graph.emit_mcp(proposal)
            except Exception as exc:  # noqa: BLE001
                raise _translate(exc, f"writing {proposal.aspectName}") from exc

    def close(self) -> None:
        self.graph.close()


def _http_status(exc: BaseException | None) -> int | None:
    """Return the HTTP status behind an SDK error, looking through its causes."""
    while exc is not None:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if isinstance(status, int):
            return status
        info = getattr(exc, "info", None)
        if isinstance(info, dict) and isinstance(info.get("status"), int):
            return int(info["status"])
        exc = exc.__cause__ or exc.__context__
    return None


def _translate(exc: Exception, action: str) -> WriterError:
    """Map an SDK or HTTP error to cardex's writer errors, masked."""
    import requests

    text = redact_text(f"{type(exc).__name__}: {exc}", limit=300)
    status = _http_status(exc)
    if status in (401, 403) or "authentication error" in str(exc):
        return WriterError(
            f"DataHub rejected {action}: {text}; check the token in the variable "
            "named by token_env (default DATAHUB_GMS_TOKEN)"
        )
    transient = isinstance(exc, requests.ConnectionError | requests.Timeout) or (
        status is not None and (status >= 500 or status == 429)
    )
    error_class = TransientWriterError if transient else WriterError
    return error_class(f"DataHub failed {action}: {text}")


class _FileBackend(_Backend):
    """A JSON file of proposals for ``datahub ingest`` (file source)."""

    readable = False

    def __init__(self, config: WriterConfig) -> None:
        assert config.path is not None
        check_parent_folders(config.path, "DataHub proposals path")
        self.path = config.path
        self.proposals: list[Any] = []

    def read(self, urn: str, aspect: type[Any]) -> Any:
        return None

    def write(self, proposals: Sequence[Any]) -> None:
        self.proposals.extend(proposals)

    def close(self) -> None:
        from datahub.ingestion.sink.file import write_metadata_file

        if not self.proposals:
            logger.info("no proposals to write; %s left as it is", self.path)
            return
        try:
            write_metadata_file(self.path, self.proposals)
        except OSError as exc:
            raise WriterError(
                f"cannot write DataHub proposals to {self.path}: {exc.strerror}"
            ) from exc
        logger.info("wrote %d proposals to %s", len(self.proposals), self.path)


BACKENDS = {"lite": _LiteBackend, "rest": _RestBackend, "file": _FileBackend}


class DataHubWriter(CatalogWriter):
    """Publishes labels to DataHub through one of three transports."""

    name = "datahub"

    def __init__(self, config: WriterConfig, dry_run: bool = False) -> None:
        super().__init__(config)
        self.backend: _Backend
        if config.transport == "lite":
            self.backend = _LiteBackend(config, dry_run=dry_run)
        else:
            self.backend = BACKENDS[config.transport](config)
        self.writes_on_close = not self.backend.readable
        self.glossary = config.vocabulary == "glossary"
        #: Plain dotted field path to DataHub field path, per dataset URN.
        self._field_paths: dict[str, dict[str, str]] = {}

    @classmethod
    def check_config(cls, config: WriterConfig) -> None:
        """Raise ``UsageError`` for a Lite target that is not a DuckDB database,
        or a file or Lite path below a file."""
        if config.transport == "lite" and config.path is not None:
            check_lite_path(config.path)
        elif config.transport == "file" and config.path is not None:
            check_parent_folders(config.path, "DataHub proposals path")

    # -- identifiers --------------------------------------------------------

    def dataset_id(self, uri: str) -> str:
        mapping = self.config.mapping_for(uri)
        try:
            location = locate(uri, mapping)
        except ValueError as exc:
            raise UsageError(f"cannot name {uri} in DataHub: {exc}") from exc
        platform = (mapping.platform if mapping else None) or SQL_PLATFORMS.get(
            location.backend, location.backend
        )
        if location.is_table:
            parts = [location.database, location.schema, location.table]
            if location.schema in (location.database, "main"):
                parts.remove(location.schema)
            name = ".".join(part for part in parts if part)
        else:
            name = location.path
        instance = (mapping.platform_instance if mapping else None) or (
            self.config.platform_instance
        )
        env = (mapping.env if mapping else None) or self.config.env
        return mce_builder.make_dataset_urn_with_platform_instance(
            platform, name, instance, env
        )

    def field_path(self, dataset_urn: str, column: str) -> str:
        """Return the DataHub field path of a cardex column path.

        A field of the dataset's schema whose plain dotted path matches is
        used as it is (v2 paths included); without a schema, the plain path.
        """
        if dataset_urn not in self._field_paths:
            self._field_paths[dataset_urn] = self._read_field_paths(dataset_urn)
        plain = ".".join(field_names(column))
        return self._field_paths[dataset_urn].get(plain, plain)

    def _read_field_paths(self, dataset_urn: str) -> dict[str, str]:
        schema = self.backend.read(dataset_urn, models.SchemaMetadataClass)
        if schema is None:
            return {}
        return {
            simple_field_path(field.fieldPath): field.fieldPath
            for field in schema.fields
        }

    # -- vocabulary ---------------------------------------------------------

    def ensure_vocabulary(
        self, rules: Sequence[LabelRule], dry_run: bool = False
    ) -> list[str]:
        info = (
            models.GlossaryTermInfoClass if self.glossary else models.TagPropertiesClass
        )
        missing = [
            rule
            for rule in rules
            if self.backend.read(label_urn(rule.id, self.config.vocabulary), info)
            is None
        ]
        if dry_run or not missing:
            return [rule.id for rule in missing]
        proposals = [self._vocabulary_entry(rule) for rule in missing]
        if (
            self.glossary
            and self.backend.read(GLOSSARY_NODE, models.GlossaryNodeInfoClass) is None
        ):
            node = models.GlossaryNodeInfoClass(
                definition="Labels the cardex scanner gives to personal, sensitive "
                "personal and important automotive data.",
                name="cardex",
            )
            proposals.insert(0, _proposal(GLOSSARY_NODE, node))
        self.backend.write(proposals)
        return [rule.id for rule in missing]

    def _vocabulary_entry(self, rule: LabelRule) -> Any:
        urn = label_urn(rule.id, self.config.vocabulary)
        description = (
            f"{rule.name_zh} / {rule.name_en} ({rule.category}). {rule.grounds} "
            f"Source: {rule.source}."
        )
        if rule.provisional:
            description += " Provisional rule."
        if not self.glossary:
            properties = models.TagPropertiesClass(
                name=label_title(rule.id, rule), description=description
            )
            return _proposal(urn, properties)
        term = models.GlossaryTermInfoClass(
            definition=description,
            termSource="EXTERNAL",
            name=label_title(rule.id, rule),
            parentNode=GLOSSARY_NODE,
            sourceRef="cardex",
            customProperties={
                "label_id": rule.id,
                "category": rule.category,
                "name_zh": rule.name_zh,
                "name_en": rule.name_en,
            },
        )
        return _proposal(urn, term)

    # -- reading ------------------------------------------------------------

    def read_labels(
        self, uri: str, columns: Sequence[str] = ()
    ) -> Mapping[LabelKey, RemoteLabel] | None:
        if not self.backend.readable:
            return None
        urn = self.dataset_id(uri)
        found: dict[LabelKey, RemoteLabel] = {}
        for association in self._dataset_associations(urn):
            remote = _remote_label("", association)
            if remote is not None:
                found[remote.key] = remote

        by_path = {self.field_path(urn, column): column for column in columns}
        editable = self.backend.read(urn, models.EditableSchemaMetadataClass)
        for info in editable.editableSchemaFieldInfo if editable else []:
            column = by_path.get(info.fieldPath, simple_field_path(info.fieldPath))
            for association in self._field_associations(info):
                remote = _remote_label(column, association)
                if remote is not None:
                    found[remote.key] = remote
        return found

    def _dataset_associations(self, urn: str) -> list[Any]:
        if self.glossary:
            terms = self.backend.read(urn, models.GlossaryTermsClass)
            return list(terms.terms) if terms else []
        tags = self.backend.read(urn, models.GlobalTagsClass)
        return list(tags.tags) if tags else []

    def _field_associations(self, info: Any) -> list[Any]:
        holder = info.glossaryTerms if self.glossary else info.globalTags
        if holder is None:
            return []
        return list(holder.terms if self.glossary else holder.tags)

    # -- writing ------------------------------------------------------------

    def apply(self, plan: DatasetPlan) -> None:
        if not plan.writes and self.backend.readable:
            return
        if not self.backend.readable:
            self.backend.write(self._patches(plan))
            return
        proposals = self._dataset_proposals(plan) + self._field_proposals(plan)
        self.backend.write(proposals)

    def _association(self, label: ExpectedLabel) -> Any:
        attribution = models.MetadataAttributionClass(
            time=int(time.time() * 1000),
            actor=mce_builder.make_user_urn(self.config.actor),
            sourceDetail={
                "fingerprint": label.fingerprint,
                "state": label.state,
                "evidence": label.description,
            },
        )
        urn = label_urn(label.label_id, self.config.vocabulary)
        if self.glossary:
            return models.GlossaryTermAssociationClass(
                urn=urn, context=MARKER, attribution=attribution
            )
        return models.TagAssociationClass(
            tag=urn, context=MARKER, attribution=attribution
        )

    def _merged(self, existing: list[Any], plan: DatasetPlan, column: str) -> list[Any]:
        """Return ``existing`` with cardex's associations for ``column`` replaced.

        Only cardex's own associations of labels the plan adds, updates or
        removes are dropped. A person's association for the same label stays,
        because the plan never owns such a key.
        """
        changed = {key[1] for key in plan.owned_after if key[0] == column} | {
            change.label_id
            for change in plan.writes
            if change.column == column and change.action == "remove"
        }
        kept = [
            association
            for association in existing
            if not (
                _is_owned(association) and label_id_of(_urn(association)) in changed
            )
        ]
        owned = [
            self._association(label)
            for key, label in sorted(plan.owned_after.items())
            if key[0] == column
        ]
        return kept + owned

    def _dataset_proposals(self, plan: DatasetPlan) -> list[Any]:
        if not any(change.column == "" for change in plan.writes):
            return []
        urn = plan.remote_id
        existing = self._dataset_associations(urn)
        merged = self._merged(existing, plan, "")
        audit = models.AuditStampClass(
            time=int(time.time() * 1000),
            actor=mce_builder.make_user_urn(self.config.actor),
        )
        aspect: Any
        if self.glossary:
            aspect = models.GlossaryTermsClass(terms=merged, auditStamp=audit)
        else:
            aspect = models.GlobalTagsClass(tags=merged)
        properties = self.backend.read(urn, models.EditableDatasetPropertiesClass)
        properties = properties or models.EditableDatasetPropertiesClass()
        properties.description = replace_block(
            properties.description, _evidence_block(plan, "")
        )
        return [_proposal(urn, aspect), _proposal(urn, properties)]

    def _field_proposals(self, plan: DatasetPlan) -> list[Any]:
        columns = sorted({c.column for c in plan.writes if c.column != ""})
        if not columns:
            return []
        urn = plan.remote_id
        editable = self.backend.read(urn, models.EditableSchemaMetadataClass)
        if editable is None:
            editable = models.EditableSchemaMetadataClass(editableSchemaFieldInfo=[])
        infos = {info.fieldPath: info for info in editable.editableSchemaFieldInfo}
        for column in columns:
            path = self.field_path(urn, column)
            info = infos.get(path)
            if info is None:
                info = models.EditableSchemaFieldInfoClass(fieldPath=path)
                editable.editableSchemaFieldInfo.append(info)
                infos[path] = info
            self._update_field(info, plan, column)
        return [_proposal(urn, editable)]

    def _update_field(self, info: Any, plan: DatasetPlan, column: str) -> None:
        merged = self._merged(self._field_associations(info), plan, column)
        if self.glossary:
            audit = models.AuditStampClass(
                time=int(time.time() * 1000),
                actor=mce_builder.make_user_urn(self.config.actor),
            )
            info.glossaryTerms = models.GlossaryTermsClass(
                terms=merged, auditStamp=audit
            )
        else:
            info.globalTags = models.GlobalTagsClass(tags=merged)
        info.description = replace_block(
            info.description, _evidence_block(plan, column)
        )

    def _patches(self, plan: DatasetPlan) -> list[Any]:
        """Return patch proposals for a target that cannot be read back.

        Every label cardex owns is added again (adding is idempotent), so
        that ingesting the latest file alone brings the catalog up to date,
        except for removals made by an earlier file that was never ingested.
        """
        from datahub.specific.dataset import DatasetPatchBuilder

        builder = DatasetPatchBuilder(plan.remote_id)
        for change in plan.writes:
            if change.action != "remove":
                continue
            urn = label_urn(change.label_id, self.config.vocabulary)
            target: Any = builder
            if change.column:
                path = self.field_path(plan.remote_id, change.column)
                target = builder.for_field(path, editable=True)
            if self.glossary:
                target.remove_term(urn)
            else:
                target.remove_tag(urn)
        for (column, _), label in sorted(plan.owned_after.items()):
            association = self._association(label)
            target = builder
            if column:
                target = builder.for_field(
                    self.field_path(plan.remote_id, column), editable=True
                )
            if self.glossary:
                target.add_term(association)
            else:
                target.add_tag(association)
        return list(builder.build())

    def close(self) -> None:
        self.backend.close()


def _proposal(urn: str, aspect: Any) -> Any:
    return MetadataChangeProposalWrapper(entityUrn=urn, aspect=aspect)


def _urn(association: Any) -> str:
    return str(getattr(association, "tag", None) or association.urn)


def _is_owned(association: Any) -> bool:
    return bool(association.context == MARKER)


def _remote_label(column: str, association: Any) -> RemoteLabel | None:
    label_id = label_id_of(_urn(association))
    if label_id is None:
        return None
    owned = _is_owned(association)
    detail = association.attribution.sourceDetail if association.attribution else None
    fingerprint = (detail or {}).get("fingerprint", "") if owned else ""
    return RemoteLabel(column, label_id, owned=owned, fingerprint=fingerprint)


def _evidence_block(plan: DatasetPlan, column: str) -> str:
    lines = [
        f"- {label.label_id}: {label.description}"
        for (where, _), label in sorted(plan.owned_after.items())
        if where == column
    ]
    if not lines:
        return ""
    return "cardex labels:\n" + "\n".join(lines)
