"""The result of one export audit, serialised as the audit JSON (schema 1).

``AuditResult.to_dict()`` is the contract with the report renderers and
the CI gate; docs/audit-format.md describes every field. Every example value
is masked with ``scanner.masking.mask_value`` before it is stored here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from scanner.model import DatasetFailure

SCHEMA_VERSION = 1
KIND = "cardex-audit"

Route = Literal[
    "exempt", "contract_or_certification", "security_assessment", "manual_review"
]
ROUTE_TEXT: dict[str, str] = {
    "exempt": "Exempt: no security assessment, standard contract or certification",
    "contract_or_certification": "Sign a standard contract and file it with the "
    "provincial CAC, or obtain personal information protection certification",
    "security_assessment": "Declare a security assessment to the CAC",
    "manual_review": "Stop: manual legal review (possible core data)",
}


@dataclass(frozen=True)
class PeopleCount:
    """Distinct people by sensitivity.

    A person is ``sensitive`` when any sensitive personal information about
    them is exported, and counted under ``personal`` otherwise, so the two
    numbers never overlap.
    """

    personal: int = 0
    sensitive: int = 0

    def __add__(self, other: PeopleCount) -> PeopleCount:
        return PeopleCount(
            self.personal + other.personal, self.sensitive + other.sensitive
        )

    def to_dict(self) -> dict[str, int]:
        return {"personal": self.personal, "sensitive": self.sensitive}


@dataclass(frozen=True)
class LabelHit:
    """A personal or sensitive label on a column of an audited dataset."""

    label: str
    column: str
    confidence: float
    example: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "column": self.column,
            "confidence": round(self.confidence, 3),
            "example": self.example,
        }


@dataclass(frozen=True)
class SubjectKey:
    """A column whose values identify people, with the key type it holds."""

    column: str
    key_type: str
    sensitive: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "key_type": self.key_type,
            "sensitive": self.sensitive,
        }


@dataclass
class AuditedDataset:
    """One dataset of the transfer: its personal data and how many people."""

    uri: str
    name: str
    kind: str
    grade: str
    personal: str
    rows: int | None = None
    labels: list[LabelHit] = field(default_factory=list)
    subject_keys: list[SubjectKey] = field(default_factory=list)
    people: PeopleCount = field(default_factory=PeopleCount)
    #: ``subject_key``: distinct key values; ``rows``: no subject key, so
    #: every row counts as a person; ``none``: no personal information.
    people_method: str = "none"
    #: Covered by a contract, HR or emergency exemption (route row 5).
    exempted_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "name": self.name,
            "kind": self.kind,
            "grade": self.grade,
            "personal": self.personal,
            "rows": self.rows,
            "labels": [hit.to_dict() for hit in self.labels],
            "subject_keys": [key.to_dict() for key in self.subject_keys],
            "people": self.people.to_dict(),
            "people_method": self.people_method,
            "exempted_by": self.exempted_by,
        }


@dataclass
class Counts:
    """People counted for the thresholds, for this transfer and the year."""

    method: Literal["exact", "approximate"] = "exact"
    #: Relative error bound of an approximate count (0.12 is 12 %), else None.
    error_bound: float | None = None
    this_transfer: PeopleCount = field(default_factory=PeopleCount)
    already_this_year: PeopleCount = field(default_factory=PeopleCount)
    year_total: PeopleCount = field(default_factory=PeopleCount)
    dropped_by_exemption: PeopleCount = field(default_factory=PeopleCount)
    year: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "error_bound": self.error_bound,
            "this_transfer": self.this_transfer.to_dict(),
            "already_this_year": self.already_this_year.to_dict(),
            "year_total": self.year_total.to_dict(),
            "dropped_by_exemption": self.dropped_by_exemption.to_dict(),
            "year": self.year,
        }


@dataclass(frozen=True)
class ImportantItem:
    """An important-data label found on a dataset."""

    label: str
    dataset: str

    def to_dict(self) -> dict[str, str]:
        return {"label": self.label, "dataset": self.dataset}


@dataclass(frozen=True)
class RouteRow:
    """One row of the route table as evaluated for this transfer."""

    row: int
    condition: str
    fired: bool
    numbers: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "condition": self.condition,
            "fired": self.fired,
            "numbers": dict(self.numbers),
        }


@dataclass
class Decision:
    """The route, the rows that led to it and the duties that come with it."""

    route: Route
    rows: list[RouteRow] = field(default_factory=list)
    surveying_approval: bool = False
    manual_review: bool = False
    pipl_duties: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def route_text(self) -> str:
        return ROUTE_TEXT[self.route]

    def to_dict(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "route_text": self.route_text,
            "rows": [row.to_dict() for row in self.rows],
            "surveying_approval": self.surveying_approval,
            "manual_review": self.manual_review,
            "pipl_duties": list(self.pipl_duties),
            "notes": list(self.notes),
        }


@dataclass
class AuditResult:
    """Everything one audit found and decided."""

    generated_at: str
    rule_pack_version: str
    transfer: dict[str, Any]
    sources: list[str]
    datasets: list[AuditedDataset]
    counts: Counts
    important: list[ImportantItem]
    flags: list[str]
    thresholds: dict[str, int]
    decision: Decision
    exit_code: int
    failures: list[DatasetFailure] = field(default_factory=list)
    #: Id of the ledger entry when the transfer was recorded with --record.
    recorded_transfer_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": KIND,
            "generated_at": self.generated_at,
            "rule_pack_version": self.rule_pack_version,
            "transfer": self.transfer,
            "sources": list(self.sources),
            "datasets": [dataset.to_dict() for dataset in self.datasets],
            "counts": self.counts.to_dict(),
            "important": [item.to_dict() for item in self.important],
            "flags": list(self.flags),
            "thresholds": dict(self.thresholds),
            "decision": self.decision.to_dict(),
            "exit_code": self.exit_code,
            "failures": [failure.to_dict() for failure in self.failures],
            "recorded_transfer_id": self.recorded_transfer_id,
        }
