"""Values passed between connectors, classifiers, the catalog and the report.

A connector yields ``DatasetHandle`` objects; sampling one gives a ``Sample``
(an Arrow table whose columns are named by their dotted paths). Classifiers
turn a sample into ``Label`` objects on columns and on the dataset, collected
in a ``DatasetResult`` that the catalog stores and the report prints.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa

Category = Literal["personal", "sensitive_personal", "important", "flag"]
DatasetKind = Literal["file", "table", "object"]
LabelState = Literal["suggested", "confirmed", "rejected"]

# Separator between the parts of a nested column path (``owner.phones[]``).
PATH_SEPARATOR = "."
LIST_SUFFIX = "[]"


@dataclass(frozen=True)
class Evidence:
    """Why a label was given: the rule, its counts and masked examples.

    ``examined`` counts the values looked at, ``non_null`` those that were not
    null or blank, and ``matches`` those that passed the rule's validator.
    Examples are always masked before they are stored here.
    """

    rule_id: str
    rule_pack_version: str
    examined: int = 0
    non_null: int = 0
    matches: int = 0
    masked_examples: tuple[str, ...] = ()
    signals: tuple[str, ...] = ()
    masked_values: int = 0

    @property
    def share(self) -> float:
        """Share of the non-null values that matched, between 0 and 1."""
        return self.matches / self.non_null if self.non_null else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "rule_pack_version": self.rule_pack_version,
            "examined": self.examined,
            "non_null": self.non_null,
            "matches": self.matches,
            "share": round(self.share, 4),
            "masked_values": self.masked_values,
            "signals": list(self.signals),
            "examples": list(self.masked_examples),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evidence:
        return cls(
            rule_id=data["rule_id"],
            rule_pack_version=data["rule_pack_version"],
            examined=data.get("examined", 0),
            non_null=data.get("non_null", 0),
            matches=data.get("matches", 0),
            masked_examples=tuple(data.get("examples", ())),
            signals=tuple(data.get("signals", ())),
            masked_values=data.get("masked_values", 0),
        )


@dataclass(frozen=True)
class Label:
    """One label id given to a column or a dataset, with its evidence."""

    id: str
    category: Category
    confidence: float
    evidence: Evidence
    #: ``suggested`` by the scanner, or ``confirmed`` by a person.
    state: LabelState = "suggested"
    #: Who confirmed the label, when a person did.
    decided_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "category": self.category,
            "confidence": round(self.confidence, 3),
            "state": self.state,
            "rule_pack_version": self.evidence.rule_pack_version,
            "evidence": self.evidence.to_dict(),
        }
        if self.decided_by:
            data["decided_by"] = self.decided_by
        return data


@dataclass(frozen=True)
class Fingerprint:
    """State of a dataset when it was read, to notice later changes."""

    size: int | None = None
    modified: float | None = None
    etag: str | None = None
    snapshot: str | None = None
    schema_hash: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class Sample:
    """Rows sampled from one dataset.

    ``table`` contains the sampled rows with nested fields flattened to leaf
    columns named by dotted path (``owner.phones[]``). Lists of numbers
    (embeddings, point arrays) stay one list column under their plain name.
    ``source_types`` maps each column to the type the source declared (SQL
    type, Parquet logical type, ``string`` for CSV). ``total_rows`` is the
    dataset's row count when known without a full scan.
    """

    table: pa.Table
    source_types: dict[str, str] = field(default_factory=dict)
    total_rows: int | None = None
    bytes_read: int | None = None
    notes: list[str] = field(default_factory=list)
    format: str = ""


class DatasetHandle(abc.ABC):
    """A dataset found by a connector, not yet read.

    ``uri`` names the source exactly (an absolute file path, or a SQLAlchemy
    URL without password followed by ``/schema/table``); ``name`` is the file
    or table name shown to people.
    """

    uri: str
    name: str
    kind: DatasetKind

    @abc.abstractmethod
    def sample(self, rows: int) -> Sample:
        """Read up to ``rows`` rows spread over the dataset.

        Raises ``DatasetError`` (or a subclass) when the dataset cannot be read.
        """

    def fingerprint(self) -> Fingerprint:
        return Fingerprint()


@dataclass(frozen=True)
class DatasetFailure:
    """A dataset, or a source, that could not be read, and why."""

    uri: str
    reason: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"uri": self.uri, "reason": self.reason, "message": self.message}


@dataclass
class ColumnResult:
    """Labels and counts the classifiers gave one column."""

    name: str
    data_type: str
    examined: int
    non_null: int
    labels: list[Label] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "data_type": self.data_type,
            "examined": self.examined,
            "non_null": self.non_null,
            "labels": [label.to_dict() for label in self.labels],
            "notes": list(self.notes),
        }


@dataclass
class DatasetResult:
    """Result of scanning one dataset: columns, labels and errors."""

    uri: str
    name: str
    kind: DatasetKind
    format: str = ""
    columns: list[ColumnResult] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    errors: list[DatasetFailure] = field(default_factory=list)
    sampled_rows: int = 0
    total_rows: int | None = None
    bytes_read: int | None = None
    fingerprint: Fingerprint = field(default_factory=Fingerprint)
    notes: list[str] = field(default_factory=list)
    #: GB/T 43697-2024 grade: ``core_candidate``, ``important`` or ``general``
    #: (set by ``scanner.grading`` once labels are final).
    grade: str = "general"
    #: ``sensitive``, ``personal`` or ``none``: the personal data held.
    personal: str = "none"

    def column(self, name: str) -> ColumnResult | None:
        return next((c for c in self.columns if c.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "name": self.name,
            "kind": self.kind,
            "format": self.format,
            "sampled_rows": self.sampled_rows,
            "total_rows": self.total_rows,
            "bytes_read": self.bytes_read,
            "grade": self.grade,
            "personal": self.personal,
            "labels": [label.to_dict() for label in self.labels],
            "columns": [column.to_dict() for column in self.columns],
            "errors": [error.to_dict() for error in self.errors],
            "notes": list(self.notes),
        }
