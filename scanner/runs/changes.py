"""Label changes per dataset: added or removed by a run, or decided by people.

The catalog's label rows are copied to a temporary SQLite file before and
after the run and compared dataset by dataset.
Only label ids, column names and states are read, never evidence, so no
sampled value passes through here.
"""

from __future__ import annotations

import heapq
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from scanner.catalog.local import datasets, labels

HUMAN_STATES = ("confirmed", "rejected")
# Label rows copied from the catalog to a snapshot at a time.
_COPY_BATCH_ROWS = 10_000

#: (column name or "" for the dataset, label id) -> (state, source, updated_at)
LabelRows = dict[tuple[str, str], tuple[str, str, str]]


@dataclass
class DatasetChanges:
    """Label changes on one dataset; each label is ``column: label id``."""

    uri: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    #: ``column: label id confirmed by NAME`` for decisions since the last run.
    decided: list[str] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.decided)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class LabelSnapshot:
    """The catalog's label rows at one moment, in a temporary SQLite file.

    The rows of a whole lake would take hundreds of bytes a label in
    Python, so they stay on disk and are read back one dataset at a time.
    """

    def __init__(self, url: str) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="cardex-labels-")
        self._db = sqlite3.connect(os.path.join(self._folder.name, "labels.db"))
        try:
            self._db.execute(
                "CREATE TABLE labels (uri TEXT, column_name TEXT, label_id TEXT, "
                "state TEXT, source TEXT, updated_at TEXT)"
            )
            self._copy(url)
            self._db.execute("CREATE INDEX labels_uri ON labels (uri)")
        except BaseException:
            self.close()
            raise

    def _copy(self, url: str) -> None:
        engine = sa.create_engine(url)
        query = sa.select(
            datasets.c.uri,
            labels.c.column_name,
            labels.c.label_id,
            labels.c.state,
            labels.c.source,
            labels.c.updated_at,
        ).join(datasets, labels.c.dataset_id == datasets.c.id)
        try:
            with engine.connect() as connection:
                if not sa.inspect(connection).has_table(labels.name):
                    return
                rows = connection.execution_options(stream_results=True).execute(query)
                while batch := rows.fetchmany(_COPY_BATCH_ROWS):
                    self._db.executemany(
                        "INSERT INTO labels VALUES (?, ?, ?, ?, ?, ?)",
                        [tuple(row) for row in batch],
                    )
        finally:
            engine.dispose()
        self._db.commit()

    def rows(self, uri: str) -> LabelRows:
        """Return the label rows of the dataset at ``uri``."""
        return {
            (column, label_id): (state, source, updated)
            for column, label_id, state, source, updated in self._db.execute(
                "SELECT column_name, label_id, state, source, updated_at "
                "FROM labels WHERE uri = ?",
                (uri,),
            )
        }

    def uris(self) -> Iterator[str]:
        """Yield the URIs of the datasets with labels, in sorted order."""
        for (uri,) in self._db.execute("SELECT DISTINCT uri FROM labels ORDER BY uri"):
            yield uri

    def close(self) -> None:
        self._db.close()
        self._folder.cleanup()

    def __enter__(self) -> LabelSnapshot:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _describe(key: tuple[str, str]) -> str:
    column, label_id = key
    return f"{column or '(dataset)'}: {label_id}"


@dataclass
class LabelDiff:
    """The datasets whose labels changed, the first ``MAX_LISTED`` of them.

    ``more`` counts the datasets with changes past that limit. A first run
    over a lake changes every dataset, and the list goes into the run
    record and the summary.
    """

    listed: list[DatasetChanges] = field(default_factory=list)
    more: int = 0


#: Datasets with label changes listed per run.
MAX_LISTED = 1_000


def diff_labels(
    before: LabelSnapshot,
    after: LabelSnapshot,
    scanned: Iterable[str],
    since: str | None,
    limit: int = MAX_LISTED,
) -> LabelDiff:
    """Compare two snapshots and return the datasets with changes, in URI order.

    Additions and removals count on the ``scanned`` datasets only. Decisions
    count on every dataset when a person made them at or after ``since``
    (the previous run's start), or when the state changed during this run.
    Datasets past ``limit`` are counted, not listed.
    """
    scanned_set = set(scanned)
    found = LabelDiff()
    for uri in _merged(after.uris(), sorted(scanned_set)):
        old = before.rows(uri)
        new = after.rows(uri)
        entry = DatasetChanges(uri)
        if uri in scanned_set:
            in_force = {k for k, v in new.items() if v[0] != "rejected"}
            entry.added = [_describe(k) for k in sorted(in_force - set(old))]
            entry.removed = [
                _describe(k)
                for k in sorted(set(old) - set(new))
                if old[k][0] not in HUMAN_STATES
            ]
        entry.decided = _decisions(old, new, since)
        if entry.is_empty():
            continue
        if len(found.listed) < limit:
            found.listed.append(entry)
        else:
            found.more += 1
    return found


def _merged(first: Iterable[str], second: Iterable[str]) -> Iterator[str]:
    """Yield the union of two sorted sequences of URIs, sorted, each once."""
    previous = None
    for uri in heapq.merge(first, second):
        if uri != previous:
            yield uri
        previous = uri


def _decisions(old: LabelRows, new: LabelRows, since: str | None) -> list[str]:
    found = []
    for key in sorted(new):
        state, person, updated_at = new[key]
        if state not in HUMAN_STATES:
            continue
        changed = key not in old or old[key][0] != state
        recent = since is not None and updated_at >= since
        if changed or recent:
            found.append(f"{_describe(key)} {state} by {person}")
    return found
