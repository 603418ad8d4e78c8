"""Label changes per dataset: added or removed by a run, or decided by people.

The catalog's label rows are read before and after the run and compared.
Only label ids, column names and states are read, never evidence, so no
sampled value passes through here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from scanner.catalog.local import datasets, labels

HUMAN_STATES = ("confirmed", "rejected")

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


def snapshot_labels(url: str) -> dict[str, LabelRows]:
    """Return every label row of the catalog at ``url``, by dataset URI."""
    engine = sa.create_engine(url)
    query = sa.select(
        datasets.c.uri,
        labels.c.column_name,
        labels.c.label_id,
        labels.c.state,
        labels.c.source,
        labels.c.updated_at,
    ).join(datasets, labels.c.dataset_id == datasets.c.id)
    found: dict[str, LabelRows] = {}
    try:
        with engine.connect() as connection:
            if not sa.inspect(connection).has_table(labels.name):
                return found
            for uri, column, label_id, state, source, updated in connection.execute(
                query
            ):
                found.setdefault(uri, {})[(column, label_id)] = (state, source, updated)
    finally:
        engine.dispose()
    return found


def _describe(key: tuple[str, str]) -> str:
    column, label_id = key
    return f"{column or '(dataset)'}: {label_id}"


def diff_labels(
    before: dict[str, LabelRows],
    after: dict[str, LabelRows],
    scanned: Iterable[str],
    since: str | None,
) -> list[DatasetChanges]:
    """Compare two snapshots and return the datasets with changes.

    Additions and removals count on the ``scanned`` datasets only. Decisions
    count on every dataset when a person made them at or after ``since``
    (the previous run's start), or when the state changed during this run.
    """
    scanned_set = set(scanned)
    changes = []
    for uri in sorted(set(after) | scanned_set):
        old = before.get(uri, {})
        new = after.get(uri, {})
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
        if not entry.is_empty():
            changes.append(entry)
    return changes


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
