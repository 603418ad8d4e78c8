"""The interface every catalog writer implements, and how one is opened.

A writer publishes the labels of the local catalog (the source of truth) to a
remote catalog such as DataHub or OpenMetadata. For each dataset it

1. maps the cardex URI and column paths to the catalog's identifiers,
2. reads which cardex labels the catalog has now and who set each one,
3. applies the changes ``scanner.writers.plan`` decides: add what the local
   catalog holds, update changed evidence, and remove only the labels
   cardex applied earlier that no longer hold.

Writers register under the ``cardex.writers`` entry-point group, keyed by the
catalog name of ``WriterConfig.catalog`` (``datahub``, ``openmetadata``).
"""

from __future__ import annotations

import abc
import hashlib
import inspect
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from classifiers.rulepack import LabelRule
from scanner.errors import CardexError, UsageError
from scanner.writers.config import WriterConfig

#: (column path, label id); the column is "" for a dataset-level label.
LabelKey = tuple[str, str]
Action = Literal["add", "update", "remove", "skip"]
PushedStatus = Literal["applied", "removed_remotely"]


class WriterError(CardexError):
    """A remote catalog could not be read or written."""


class TransientWriterError(WriterError):
    """A failure that may pass: a timeout, a refused connection, a 5xx reply."""


@dataclass(frozen=True)
class ExpectedLabel:
    """A label in force in the local catalog (suggested or confirmed)."""

    column: str
    label_id: str
    category: str
    state: Literal["suggested", "confirmed"]
    #: Evidence text, built from masked evidence only (``scanner.writers.evidence``).
    evidence: str
    confidence: float | None = None
    decided_by: str | None = None
    #: When the scan that gave the evidence ran (ISO 8601).
    scanned_at: str | None = None

    @property
    def key(self) -> LabelKey:
        return (self.column, self.label_id)

    @property
    def description(self) -> str:
        """The evidence with the scan time, as the remote catalog shows it."""
        if self.scanned_at:
            return f"{self.evidence}; scanned {self.scanned_at}"
        return self.evidence

    @property
    def fingerprint(self) -> str:
        """Short digest of the state and evidence, to tell when to update.

        The scan time is left out, so that a new scan that finds the same
        evidence changes nothing in the remote catalog.
        """
        content = json.dumps(
            [self.state, self.decided_by, self.evidence], ensure_ascii=False
        )
        return hashlib.sha256(content.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class RemoteLabel:
    """A cardex label id found on a dataset or column in the remote catalog."""

    column: str
    label_id: str
    #: Whether cardex's marker is on it; a label without one was set by a person.
    owned: bool
    fingerprint: str = ""

    @property
    def key(self) -> LabelKey:
        return (self.column, self.label_id)


@dataclass(frozen=True)
class PushedRecord:
    """The record an earlier push made of one label on one target."""

    status: PushedStatus
    fingerprint: str
    remote_id: str = ""


@dataclass(frozen=True)
class Change:
    """One change a push makes, or a label it leaves alone and why."""

    action: Action
    column: str
    label_id: str
    reason: str
    label: ExpectedLabel | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "column": self.column,
            "label_id": self.label_id,
            "reason": self.reason,
        }


@dataclass
class DatasetPlan:
    """The changes for one dataset and the labels cardex owns afterwards."""

    uri: str
    remote_id: str
    changes: list[Change] = field(default_factory=list)
    #: cardex's labels on the dataset once the plan is applied.
    owned_after: dict[LabelKey, ExpectedLabel] = field(default_factory=dict)
    #: New push records; None deletes the record.
    records: dict[LabelKey, PushedRecord | None] = field(default_factory=dict)

    @property
    def writes(self) -> list[Change]:
        return [change for change in self.changes if change.action != "skip"]


class CatalogWriter(abc.ABC):
    """Publishes labels to one remote catalog."""

    #: Catalog name, as in ``WriterConfig.catalog``.
    name: str = ""
    #: Whether ``apply`` only buffers and ``close`` writes everything; push
    #: records are then stored only after a successful close.
    writes_on_close: bool = False

    def __init__(self, config: WriterConfig) -> None:
        self.config = config

    @abc.abstractmethod
    def dataset_id(self, uri: str) -> str:
        """Return the catalog's identifier of the dataset cardex names ``uri``.

        Raises ``UsageError`` when the URI cannot be mapped with the
        configuration (for example, no OpenMetadata service for it).
        """

    @abc.abstractmethod
    def ensure_vocabulary(
        self, rules: Sequence[LabelRule], dry_run: bool = False
    ) -> list[str]:
        """Create the tags or glossary terms of ``rules`` that are missing.

        Returns the label ids created (or that would be, with ``dry_run``).
        Existing ones are left as they are, so a person may edit them.
        """

    @abc.abstractmethod
    def read_labels(
        self, uri: str, columns: Sequence[str] = ()
    ) -> Mapping[LabelKey, RemoteLabel] | None:
        """Return the cardex label ids on the dataset and its columns.

        ``columns`` are the dataset's column paths in the local catalog, so
        that remote fields map back to them.

        Returns None when the target cannot be read back (a file of
        proposals); the plan then trusts the push records alone.
        """

    def missing_columns(self, uri: str, columns: Sequence[str]) -> set[str]:
        """Return the columns the remote catalog's schema of the dataset lacks.

        Labels on those columns cannot be applied and are reported as skipped.
        The default returns an empty set, for catalogs that accept any field path.
        """
        return set()

    @abc.abstractmethod
    def apply(self, plan: DatasetPlan) -> None:
        """Make the changes of ``plan``, keeping every label cardex does not own."""

    def close(self) -> None:  # noqa: B027 - optional for writers without resources
        """Release connections and flush files."""


def writer_class(catalog: str) -> type[CatalogWriter]:
    """Import the writer plugin registered for ``catalog``, and only that one.

    Loading one plugin means a missing extra of another writer (such as the
    DataHub SDK for an OpenMetadata push) does not matter. Raises
    ``MissingExtraError`` when the plugin needs a package that is not
    installed, ``UsageError`` when no plugin has that name, and
    ``PluginError`` when the plugin fails to import for another reason.
    """
    from scanner.errors import MissingExtraError, PluginError
    from scanner.plugins import WRITERS, plugin_entry_points

    found = {entry.name: entry for entry in plugin_entry_points(WRITERS)}
    if catalog not in found:
        raise UsageError(
            f"no catalog writer for {catalog!r}; installed writers: "
            f"{', '.join(sorted(found))}"
        )
    entry = found[catalog]
    try:
        loaded: type[CatalogWriter] = entry.load()
    except MissingExtraError:
        raise
    except Exception as exc:  # noqa: BLE001 - any import failure of a plugin
        raise PluginError(
            f"catalog writer {catalog!r} ({entry.value}) failed to import: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    return loaded


def check_writer(config: WriterConfig) -> None:
    """Check that the writer for ``config`` can start, before any work is done.

    Imports the writer plugin and runs its ``check_config`` class method when
    it has one (the DataHub writer checks that a Lite path is a DuckDB
    database or absent). Raises as ``writer_class`` does, or ``UsageError``.
    """
    check = getattr(writer_class(config.catalog), "check_config", None)
    if check is not None:
        check(config)


def open_writer(config: WriterConfig, dry_run: bool = False) -> CatalogWriter:
    """Create the writer registered for ``config.catalog``.

    ``dry_run`` reaches writers whose constructor takes a ``dry_run`` keyword,
    so that they can avoid creating a store that a dry run only reads.
    """
    cls = writer_class(config.catalog)
    if dry_run and "dry_run" in inspect.signature(cls).parameters:
        return cls(config, dry_run=True)  # type: ignore[call-arg]
    return cls(config)
