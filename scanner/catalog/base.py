"""The interface every catalog store implements, and how one is opened.

A store keeps datasets, their columns, labels with their state (suggested by
the scanner, confirmed or rejected by a person) and scan runs. Stores are
registered under the ``cardex.catalogs`` entry-point group, keyed by the
URL scheme they serve (``sqlite``, ``postgresql``).
"""

from __future__ import annotations

import abc
import json
import os
import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.errors import UsageError
from scanner.model import DatasetFailure, DatasetResult, LabelState

CATALOG_ENV = "CARDEX_CATALOG"


def default_catalog_url() -> str:
    """Return the catalog URL used when none is given.

    ``$CARDEX_CATALOG`` when set, else a SQLite file at
    ``$XDG_DATA_HOME/cardex/catalog.db`` (``~/.local/share/cardex/catalog.db``).
    """
    if os.environ.get(CATALOG_ENV):
        return os.environ[CATALOG_ENV]
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local/share")
    return f"sqlite:///{data_home / 'cardex' / 'catalog.db'}"


@dataclass
class LabelChanges:
    """Changes that recording one dataset made in the catalog."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    #: Decisions people made, by (column or "", label id): (state, who, category).
    decisions: dict[tuple[str, str], tuple[LabelState, str, str]] = field(
        default_factory=dict
    )


@dataclass(frozen=True)
class DatasetSummary:
    """One row of ``cardex catalog list``."""

    uri: str
    name: str
    kind: str
    last_scanned_at: str | None
    label_ids: tuple[str, ...]
    last_error: str | None
    #: GB/T 43697-2024 grade and personal level (``scanner.grading``); None
    #: until the dataset is scanned.
    grade: str | None = None
    personal: str | None = None


@dataclass(frozen=True)
class StoredDataset:
    """The stored state of a dataset, used to tell whether it changed.

    ``fingerprint`` is ``Fingerprint.to_dict()`` as of the last scan that
    classified the dataset (``last_scan_id``). ``settings_hash`` is that
    scan's hash of the rule pack, user lists and sampling settings.
    ``last_seen_scan_id`` is the last scan that found the dataset, whether it
    classified it, skipped it as unchanged, or failed on it.
    """

    uri: str
    fingerprint: dict[str, Any]
    settings_hash: str | None
    last_scan_id: int | None
    last_seen_scan_id: int | None
    failed: bool


class StoredDatasets:
    """The stored state of each dataset of a catalog, by URI, in a temporary file.

    A lake's fingerprints would take about a kilobyte a dataset in Python,
    so they are kept in SQLite on disk and read one dataset at a time. Any
    thread may read; ``close`` deletes the file.
    """

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="cardex-stored-")
        self._db = sqlite3.connect(
            os.path.join(self._folder.name, "stored.db"), check_same_thread=False
        )
        self._lock = threading.Lock()
        try:
            self._db.execute(
                "CREATE TABLE stored (uri TEXT PRIMARY KEY, fingerprint TEXT, "
                "settings_hash TEXT, last_scan_id INTEGER, "
                "last_seen_scan_id INTEGER, failed INTEGER)"
            )
        except BaseException:
            self.close()
            raise

    def add(
        self, rows: Iterable[tuple[str, str, str | None, int | None, int | None, bool]]
    ) -> None:
        """Add (uri, fingerprint JSON, settings hash, last scan, last seen, failed)."""
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO stored VALUES (?, ?, ?, ?, ?, ?)", rows
            )
            self._db.commit()

    def get(self, uri: str) -> StoredDataset | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM stored WHERE uri = ?", (uri,)
            ).fetchone()
        return None if row is None else _stored_dataset(row)

    def __getitem__(self, uri: str) -> StoredDataset:
        found = self.get(uri)
        if found is None:
            raise KeyError(uri)
        return found

    def seen_in(self, scan_id: int) -> list[str]:
        """Return the URIs whose last scan to find them was ``scan_id``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT uri FROM stored WHERE last_seen_scan_id = ?", (scan_id,)
            ).fetchall()
        return [uri for (uri,) in rows]

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM stored").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
        self._folder.cleanup()


def _stored_dataset(row: tuple[Any, ...]) -> StoredDataset:
    uri, fingerprint, settings_hash, last_scan_id, last_seen_scan_id, failed = row
    return StoredDataset(
        uri=uri,
        fingerprint=json.loads(fingerprint) if fingerprint else {},
        settings_hash=settings_hash,
        last_scan_id=last_scan_id,
        last_seen_scan_id=last_seen_scan_id,
        failed=bool(failed),
    )


@dataclass(frozen=True)
class UnfinishedScan:
    """A scan that stopped before it finished: killed, or interrupted."""

    id: int
    status: str
    settings_hash: str | None


class CatalogStore(abc.ABC):
    """Stores scan results and the decisions people make about labels.

    The methods that support incremental and resumed scans have defaults
    that remember nothing, so a store without them rescans every dataset.
    """

    @abc.abstractmethod
    def begin_scan(
        self,
        sources: Sequence[str],
        rule_pack_version: str,
        settings_hash: str | None = None,
    ) -> int:
        """Record the start of a scan and the process running it, and return its id."""

    @abc.abstractmethod
    def record_dataset(self, scan_id: int, result: DatasetResult) -> LabelChanges:
        """Store one scanned dataset.

        The scanner's own suggestions are replaced by ``result``'s labels;
        labels a person confirmed or rejected are never changed.
        """

    @abc.abstractmethod
    def record_failure(self, scan_id: int, failure: DatasetFailure) -> None:
        """Note that a dataset failed in this scan, keeping its earlier labels."""

    @abc.abstractmethod
    def finish_scan(self, scan_id: int, status: str, counts: dict[str, int]) -> None:
        """Record the end of a scan."""

    @abc.abstractmethod
    def list_datasets(self) -> list[DatasetSummary]:
        """Return every dataset in the catalog."""

    @abc.abstractmethod
    def show_dataset(self, reference: str) -> dict[str, Any]:
        """Return one dataset with its columns and labels, by URI or name."""

    @abc.abstractmethod
    def decide_label(
        self, dataset: str, column: str, label_id: str, state: LabelState, by: str
    ) -> None:
        """Record a person's decision on a label of a dataset or column."""

    def stored_datasets(self) -> StoredDatasets:
        """Return what the catalog remembers of each dataset, by URI.

        The caller closes the returned object.
        """
        return StoredDatasets()

    def load_results(self, uris: Sequence[str]) -> dict[str, DatasetResult]:
        """Rebuild the stored results of datasets, by URI, without rejected labels.

        URIs the catalog does not contain are left out.
        """
        return {}

    def mark_seen(self, scan_id: int, uris: Sequence[str]) -> None:  # noqa: B027
        """Record that a scan found ``uris`` unchanged and kept their labels."""

    def resume_scan(
        self, sources: Sequence[str], settings_hash: str
    ) -> UnfinishedScan | None:
        """Take over the last scan of ``sources`` if it stopped unfinished.

        Returns None when there is nothing to resume, and the caller then
        begins a new scan.
        """
        return None

    def close(self) -> None:  # noqa: B027 - optional for stores without resources
        """Release connections."""


def open_catalog(url: str | None = None, create: bool = True) -> CatalogStore:
    """Open the catalog store that serves ``url``'s scheme.

    With ``create=False`` a catalog that does not exist yet is an error,
    for commands that only read or annotate one.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from scanner.plugins import CATALOGS, load_plugins

    url = url or default_catalog_url()
    try:
        scheme = make_url(url).get_backend_name()
    except ArgumentError as exc:
        raise UsageError(
            f"invalid catalog URL {url!r}; use a SQLAlchemy URL such as "
            "sqlite:///path/catalog.db or postgresql://host/db"
        ) from exc
    stores = load_plugins(CATALOGS)
    if scheme not in stores:
        raise UsageError(
            f"no catalog store for {scheme!r} URLs; installed stores: "
            f"{', '.join(sorted(stores))}"
        )
    store: CatalogStore = stores[scheme](url, create=create)
    return store
