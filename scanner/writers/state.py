"""Push records: which labels cardex applied to which remote catalog.

The records live in the local catalog's database, in a table of their own
(``cardex_pushed_labels``, created on first use). A writer removes a label
from a remote catalog only when a record shows this local catalog applied it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from scanner.catalog import CatalogStore
from scanner.errors import CatalogError, UsageError
from scanner.masking import redact_text
from scanner.writers.base import LabelKey, PushedRecord

metadata = sa.MetaData()

pushed_labels = sa.Table(
    "cardex_pushed_labels",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # The target without options or secrets (WriterConfig.target_id).
    sa.Column("target", sa.String(1024), nullable=False),
    sa.Column("dataset_uri", sa.String(2048), nullable=False),
    sa.Column("column_name", sa.String(1024), nullable=False),
    sa.Column("label_id", sa.String(128), nullable=False),
    sa.Column("remote_id", sa.String(2048), nullable=False),
    # ``applied``, or ``removed_remotely`` once someone removed it remotely.
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("pushed_at", sa.String(32), nullable=False),
    sa.UniqueConstraint("target", "dataset_uri", "column_name", "label_id"),
)


class PushRecords:
    """Reads and writes the push records of one target."""

    def __init__(self, store: CatalogStore, target: str) -> None:
        engine = getattr(store, "engine", None)
        if not isinstance(engine, Engine):
            raise UsageError(
                f"the catalog store {type(store).__name__} has no SQL database to "
                "keep push records in; push from a SQLite or PostgreSQL catalog"
            )
        self.engine = engine
        self.target = target
        self._run(lambda: metadata.create_all(self.engine))

    def _run(self, work: Callable[[], object]) -> object:
        try:
            return work()
        except SQLAlchemyError as exc:
            reason = redact_text(str(getattr(exc, "orig", None) or exc))
            raise CatalogError(f"push records: {reason}") from exc

    def read(self, dataset_uri: str) -> dict[LabelKey, PushedRecord]:
        """Return the records of one dataset, by (column, label id)."""
        query = sa.select(pushed_labels).where(
            pushed_labels.c.target == self.target,
            pushed_labels.c.dataset_uri == dataset_uri,
        )

        def work() -> dict[LabelKey, PushedRecord]:
            with self.engine.connect() as connection:
                rows = connection.execute(query).all()
            return {
                (row.column_name, row.label_id): PushedRecord(
                    row.status, row.fingerprint, row.remote_id
                )
                for row in rows
            }

        result: dict[LabelKey, PushedRecord] = self._run(work)  # type: ignore[assignment]
        return result

    def write(
        self, dataset_uri: str, records: Mapping[LabelKey, PushedRecord | None]
    ) -> None:
        """Store new records and delete those mapped to None, in one transaction."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

        def work() -> None:
            with self.engine.begin() as connection:
                for (column, label_id), record in records.items():
                    connection.execute(
                        sa.delete(pushed_labels).where(
                            pushed_labels.c.target == self.target,
                            pushed_labels.c.dataset_uri == dataset_uri,
                            pushed_labels.c.column_name == column,
                            pushed_labels.c.label_id == label_id,
                        )
                    )
                    if record is None:
                        continue
                    connection.execute(
                        sa.insert(pushed_labels).values(
                            target=self.target,
                            dataset_uri=dataset_uri,
                            column_name=column,
                            label_id=label_id,
                            remote_id=record.remote_id,
                            status=record.status,
                            fingerprint=record.fingerprint,
                            pushed_at=now,
                        )
                    )

        self._run(work)
