"""The yearly export ledger, kept in the catalog database.

Export thresholds count people per processor since 1 January, so every
approved transfer recorded with ``cardex audit --record`` stores who was
exported: not the subject keys themselves but their HMAC-SHA256 under a
random salt made once per catalog and stored here. The same person in a
later transfer of the same year hashes to the same value and is counted
once. The tables are defined here, not in the catalog's migrations, and are
created on first use.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError

from scanner.audit.model import PeopleCount
from scanner.catalog import default_catalog_url
from scanner.errors import CatalogError, UsageError
from scanner.masking import redact_text

logger = logging.getLogger(__name__)

SALT_BYTES = 32
SALT_KEY = "subject_salt"
# Rows per batch when streaming hashes between the ledger and DuckDB.
BATCH_ROWS = 50_000
SQLITE_BUSY_SECONDS = 30

metadata = sa.MetaData()

ledger_meta = sa.Table(
    "audit_ledger_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
)
transfers = sa.Table(
    "audit_transfers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("processor", sa.String(512), nullable=False),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("recorded_at", sa.String(32), nullable=False),
    sa.Column("destination", sa.String(256), nullable=False),
    sa.Column("recipient", sa.String(512), nullable=False),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("route", sa.String(64), nullable=False),
    sa.Column("personal", sa.BigInteger, nullable=False),
    sa.Column("sensitive", sa.BigInteger, nullable=False),
    #: People of datasets without a subject key, counted by rows; they
    #: cannot be de-duplicated, so the year adds them up.
    sa.Column("unkeyed_personal", sa.BigInteger, nullable=False),
    sa.Column("unkeyed_sensitive", sa.BigInteger, nullable=False),
    sa.Column("context", sa.Text, nullable=False),
    sa.Index("ix_audit_transfers_processor_year", "processor", "year"),
)
subjects = sa.Table(
    "audit_subjects",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "transfer_id", sa.Integer, sa.ForeignKey("audit_transfers.id"), nullable=False
    ),
    sa.Column("processor", sa.String(512), nullable=False),
    sa.Column("year", sa.Integer, nullable=False),
    #: Hex HMAC-SHA256 of ``key_type:normalised key``.
    sa.Column("key_hash", sa.String(64), nullable=False),
    sa.Column("sensitive", sa.Boolean, nullable=False),
    sa.Index("ix_audit_subjects_processor_year", "processor", "year", "key_hash"),
)

INSERT_COLUMNS = ["transfer_id", "processor", "year", "key_hash", "sensitive"]
HASH_SCHEMA = pa.schema([("key_hash", pa.string()), ("sensitive", pa.bool_())])


@dataclass(frozen=True)
class TransferRecord:
    """One recorded transfer, as ``cardex ledger list`` shows it."""

    id: int
    processor: str
    year: int
    recorded_at: str
    destination: str
    recipient: str
    route: str
    personal: int
    sensitive: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Ledger:
    """The ledger tables in the catalog database at ``url``."""

    def __init__(self, url: str | None = None) -> None:
        url = url or default_catalog_url()
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise UsageError(
                f"invalid catalog URL {url!r}; use a SQLAlchemy URL such as "
                "sqlite:///path/catalog.db"
            ) from None
        self._display = parsed.render_as_string(hide_password=True)
        connect_args: dict[str, Any] = {}
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database or ""
            if database in ("", ":memory:"):
                raise UsageError(
                    f"catalog {self._display} is in memory and would keep no "
                    "ledger; give a file such as sqlite:///catalog.db"
                )
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            connect_args["timeout"] = SQLITE_BUSY_SECONDS
        try:
            self.engine = sa.create_engine(parsed, connect_args=connect_args)
            metadata.create_all(self.engine, checkfirst=True)
        except (SQLAlchemyError, ImportError) as exc:
            raise self._error("opening the ledger", exc) from exc

    def close(self) -> None:
        self.engine.dispose()

    def _error(self, action: str, exc: Exception) -> CatalogError:
        reason = redact_text(str(getattr(exc, "orig", None) or exc))
        return CatalogError(f"catalog {self._display}: {action} failed: {reason}")

    def salt(self) -> bytes:
        """Return the catalog's salt, creating it on first use."""
        try:
            with self.engine.begin() as connection:
                stored = _read_salt(connection)
                if stored is None:
                    stored = secrets.token_bytes(SALT_BYTES)
                    connection.execute(
                        sa.insert(ledger_meta).values(key=SALT_KEY, value=stored.hex())
                    )
                return stored
        except IntegrityError:
            # Another audit created the salt at the same moment: use theirs.
            with self.engine.connect() as connection:
                stored = _read_salt(connection)
            assert stored is not None
            return stored
        except SQLAlchemyError as exc:
            raise self._error("reading the salt", exc) from exc

    def has_year(self, processor: str, year: int) -> bool:
        """Tell whether any transfer of ``processor`` is recorded for ``year``."""
        statement = (
            sa.select(sa.func.count())
            .select_from(transfers)
            .where(transfers.c.processor == processor, transfers.c.year == year)
        )
        return bool(self._scalar(statement))

    def year_hashes(self, processor: str, year: int) -> pa.RecordBatchReader:
        """Stream the (key_hash, sensitive) rows recorded for the year."""
        return pa.RecordBatchReader.from_batches(
            HASH_SCHEMA, self._hash_batches(processor, year)
        )

    def _hash_batches(self, processor: str, year: int) -> Iterator[pa.RecordBatch]:
        statement = sa.select(subjects.c.key_hash, subjects.c.sensitive).where(
            subjects.c.processor == processor, subjects.c.year == year
        )
        try:
            with self.engine.connect() as connection:
                result = connection.execution_options(stream_results=True).execute(
                    statement
                )
                while rows := result.fetchmany(BATCH_ROWS):
                    hashes, flags = zip(*rows, strict=True)
                    yield pa.record_batch(
                        [pa.array(hashes, pa.string()), pa.array(flags, pa.bool_())],
                        schema=HASH_SCHEMA,
                    )
        except SQLAlchemyError as exc:
            raise self._error("reading the ledger", exc) from exc

    def year_unkeyed(self, processor: str, year: int) -> PeopleCount:
        """Sum the people recorded without a subject key for the year."""
        statement = sa.select(
            sa.func.coalesce(sa.func.sum(transfers.c.unkeyed_personal), 0),
            sa.func.coalesce(sa.func.sum(transfers.c.unkeyed_sensitive), 0),
        ).where(transfers.c.processor == processor, transfers.c.year == year)
        try:
            with self.engine.connect() as connection:
                row = connection.execute(statement).one()
        except SQLAlchemyError as exc:
            raise self._error("reading the ledger", exc) from exc
        return PeopleCount(int(row[0]), int(row[1]))

    def record(
        self,
        context: dict[str, Any],
        year: int,
        route: str,
        people: PeopleCount,
        unkeyed: PeopleCount,
        new_hashes: pa.RecordBatchReader,
    ) -> int:
        """Record a transfer and its new subject hashes in one transaction."""
        processor = str(context["processor"])
        try:
            with self.engine.begin() as connection:
                transfer_id = self._insert_transfer(
                    connection, context, year, route, people, unkeyed
                )
                for batch in new_hashes:
                    _insert_hashes(connection, transfer_id, processor, year, batch)
        except SQLAlchemyError as exc:
            raise self._error("recording the transfer", exc) from exc
        logger.info("recorded transfer %d of %s for %d", transfer_id, processor, year)
        return transfer_id

    def _insert_transfer(
        self,
        connection: Connection,
        context: dict[str, Any],
        year: int,
        route: str,
        people: PeopleCount,
        unkeyed: PeopleCount,
    ) -> int:
        result = connection.execute(
            sa.insert(transfers).values(
                processor=context["processor"],
                year=year,
                recorded_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                destination=context["destination"],
                recipient=context["recipient"],
                purpose=context["purpose"],
                route=route,
                personal=people.personal,
                sensitive=people.sensitive,
                unkeyed_personal=unkeyed.personal,
                unkeyed_sensitive=unkeyed.sensitive,
                context=json.dumps(context, ensure_ascii=False),
            )
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def list_transfers(self, year: int | None = None) -> list[TransferRecord]:
        """Return the recorded transfers, oldest first, optionally of one year."""
        statement = sa.select(
            transfers.c.id,
            transfers.c.processor,
            transfers.c.year,
            transfers.c.recorded_at,
            transfers.c.destination,
            transfers.c.recipient,
            transfers.c.route,
            transfers.c.personal,
            transfers.c.sensitive,
        ).order_by(transfers.c.id)
        if year is not None:
            statement = statement.where(transfers.c.year == year)
        try:
            with self.engine.connect() as connection:
                rows = connection.execute(statement).all()
        except SQLAlchemyError as exc:
            raise self._error("listing the ledger", exc) from exc
        return [TransferRecord(*row) for row in rows]

    def _scalar(self, statement: sa.Select[Any]) -> Any:
        try:
            with self.engine.connect() as connection:
                return connection.execute(statement).scalar_one()
        except SQLAlchemyError as exc:
            raise self._error("reading the ledger", exc) from exc


def _insert_hashes(
    connection: Connection,
    transfer_id: int,
    processor: str,
    year: int,
    batch: pa.RecordBatch,
) -> None:
    """Insert one batch of (key_hash, sensitive) rows with the driver's executemany.

    Building the statement once and passing plain rows to the driver skips
    SQLAlchemy's per-row parameter processing, which costs more than the
    insert itself for hundreds of thousands of rows.
    """
    if batch.num_rows == 0:
        return
    compiled = sa.insert(subjects).compile(
        dialect=connection.dialect, column_keys=INSERT_COLUMNS
    )
    values = {
        "transfer_id": [transfer_id] * batch.num_rows,
        "processor": [processor] * batch.num_rows,
        "year": [year] * batch.num_rows,
        "key_hash": batch.column(0).to_pylist(),
        "sensitive": batch.column(1).to_pylist(),
    }
    if compiled.positional:
        order = compiled.positiontup or []
        rows: list[Any] = list(zip(*(values[name] for name in order), strict=True))
    else:
        rows = [
            dict(zip(values, row, strict=True))
            for row in zip(*values.values(), strict=True)
        ]
    connection.exec_driver_sql(compiled.string, rows)


def _read_salt(connection: Connection) -> bytes | None:
    value = connection.execute(
        sa.select(ledger_meta.c.value).where(ledger_meta.c.key == SALT_KEY)
    ).scalar_one_or_none()
    return bytes.fromhex(value) if value else None
