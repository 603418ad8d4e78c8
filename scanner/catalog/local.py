"""The local catalog: SQLite by default, PostgreSQL for a team.

The schema is versioned: ``cardex_meta`` stores the schema version and opening
a catalog applies the migrations it lacks, in order, in one transaction.
Dataset-level labels are stored with an empty column name.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from scanner.catalog.base import (
    CatalogStore,
    DatasetSummary,
    LabelChanges,
    StoredDatasets,
    UnfinishedScan,
)
from scanner.catalog.process import ScanProcess, current_process, is_alive
from scanner.errors import CatalogError, UsageError
from scanner.grading import grade_labels
from scanner.masking import redact_text
from scanner.model import (
    ColumnResult,
    DatasetFailure,
    DatasetResult,
    Evidence,
    Fingerprint,
    Label,
    LabelState,
)

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 3
SQLITE_BUSY_SECONDS = 30
RETRIES = 5
RETRY_SECONDS = 0.2
HUMAN_STATES = ("confirmed", "rejected")
SCANNER = "scanner"
DATASET_LEVEL = ""
# Datasets marked seen per UPDATE statement, below the limit on bound
# parameters of SQLite (999 before version 3.32) and PostgreSQL (65,535).
SEEN_BATCH = 500
# Fingerprint rows copied from the catalog at a time.
STORED_BATCH = 10_000

metadata = sa.MetaData()

meta_table = sa.Table(
    "cardex_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
)


def _scan_columns_v1() -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("started_at", sa.String(32), nullable=False),
        sa.Column("finished_at", sa.String(32)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sources", sa.Text, nullable=False),
        sa.Column("rule_pack_version", sa.String(128), nullable=False),
        sa.Column("counts", sa.Text),
    ]


scans = sa.Table(
    "scans",
    metadata,
    *_scan_columns_v1(),
    # Schema version 3: the process running the scan (``process.ScanProcess``)
    # and the hash of the settings that decide labels (``engine``).
    sa.Column("host", sa.String(255)),
    sa.Column("pid", sa.Integer),
    sa.Column("process_started", sa.BigInteger),
    sa.Column("settings_hash", sa.String(64)),
)


def _dataset_columns_v1() -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("uri", sa.String(2048), nullable=False, unique=True),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("format", sa.String(64)),
        sa.Column("fingerprint", sa.Text),
        sa.Column("sampled_rows", sa.Integer),
        sa.Column("total_rows", sa.BigInteger),
        sa.Column("rule_pack_version", sa.String(128)),
        sa.Column("first_seen_at", sa.String(32), nullable=False),
        sa.Column("last_scanned_at", sa.String(32)),
        sa.Column("last_scan_id", sa.Integer, sa.ForeignKey("scans.id")),
        sa.Column("last_error", sa.Text),
    ]


# Columns that schema version 2 added to ``datasets``.
GRADE_COLUMNS = ("grade", "personal")

datasets = sa.Table(
    "datasets",
    metadata,
    *_dataset_columns_v1(),
    *(sa.Column(name, sa.String(16)) for name in GRADE_COLUMNS),
    # Schema version 3: the last scan that found the dataset, including a
    # scan that skipped it as unchanged.
    sa.Column("last_seen_scan_id", sa.Integer, sa.ForeignKey("scans.id")),
)
# Columns that schema version 3 added, by table.
SCAN_PROCESS_COLUMNS = ("host", "pid", "process_started", "settings_hash")
SEEN_COLUMNS = ("last_seen_scan_id",)
columns = sa.Table(
    "columns",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dataset_id", sa.Integer, sa.ForeignKey("datasets.id"), nullable=False),
    sa.Column("name", sa.String(1024), nullable=False),
    sa.Column("data_type", sa.String(256)),
    sa.Column("examined", sa.Integer),
    sa.Column("non_null", sa.Integer),
    sa.UniqueConstraint("dataset_id", "name"),
)
labels = sa.Table(
    "labels",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dataset_id", sa.Integer, sa.ForeignKey("datasets.id"), nullable=False),
    sa.Column("column_name", sa.String(1024), nullable=False),
    sa.Column("label_id", sa.String(128), nullable=False),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("source", sa.String(128), nullable=False),
    sa.Column("confidence", sa.Float),
    sa.Column("evidence", sa.Text),
    sa.Column("rule_pack_version", sa.String(128)),
    sa.Column("scan_id", sa.Integer, sa.ForeignKey("scans.id")),
    sa.Column("updated_at", sa.String(32), nullable=False),
    sa.UniqueConstraint("dataset_id", "column_name", "label_id"),
)


def _is_collision(exc: SQLAlchemyError) -> bool:
    """Tell whether an error comes from a concurrent writer, so a retry helps."""
    if isinstance(exc, IntegrityError):
        return True
    text = str(exc).lower()
    return any(
        marker in text
        for marker in (
            "locked",
            "already exists",
            "duplicate column",
            "deadlock",
            "could not serialize",
        )
    )


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _create_v1(connection: Connection) -> None:
    """Create the tables of schema version 1, as that version defined them."""
    version_1 = sa.MetaData()
    for table in metadata.sorted_tables:
        if table is datasets:
            sa.Table(table.name, version_1, *_dataset_columns_v1())
        elif table is scans:
            sa.Table(table.name, version_1, *_scan_columns_v1())
        else:
            table.to_metadata(version_1)
    version_1.create_all(connection)


def _add_columns(connection: Connection, table: sa.Table, names: Sequence[str]) -> None:
    """Add the columns ``names`` of ``table`` that the database lacks."""
    preparer = connection.dialect.identifier_preparer
    # Another scan opening the catalog at the same moment may have added
    # the columns already.
    present = {
        column["name"] for column in sa.inspect(connection).get_columns(table.name)
    }
    for name in names:
        if name in present:
            continue
        spec = sa.schema.CreateColumn(table.c[name]).compile(dialect=connection.dialect)
        connection.execute(
            sa.text(f"ALTER TABLE {preparer.quote(table.name)} ADD COLUMN {spec}")
        )


def _add_grades(connection: Connection) -> None:
    """Add ``grade`` and ``personal`` to datasets and grade the stored ones."""
    _add_columns(connection, datasets, GRADE_COLUMNS)
    ids = connection.execute(sa.select(datasets.c.id)).scalars().all()
    for dataset_id in ids:
        _regrade(connection, dataset_id)


def _add_scan_tracking(connection: Connection) -> None:
    """Record who runs each scan and which scan last found each dataset.

    Datasets stored before this version were last found by the scan that
    last classified them.
    """
    _add_columns(connection, scans, SCAN_PROCESS_COLUMNS)
    _add_columns(connection, datasets, SEEN_COLUMNS)
    connection.execute(
        sa.update(datasets)
        .where(datasets.c.last_seen_scan_id.is_(None))
        .values(last_seen_scan_id=datasets.c.last_scan_id)
    )


# Migration n brings the schema from version n-1 to n.
MIGRATIONS: list[Callable[[Connection], None]] = [
    _create_v1,
    _add_grades,
    _add_scan_tracking,
]


def _regrade(connection: Connection, dataset_id: int) -> None:
    """Store the grade that the labels in force on a dataset make."""
    label_ids = connection.execute(
        sa.select(labels.c.label_id).where(
            labels.c.dataset_id == dataset_id, labels.c.state != "rejected"
        )
    ).scalars()
    grade, personal = grade_labels(label_ids)
    connection.execute(
        sa.update(datasets)
        .where(datasets.c.id == dataset_id)
        .values(grade=grade, personal=personal)
    )


class LocalCatalog(CatalogStore):
    """A catalog in a SQLAlchemy database."""

    def __init__(self, url: str, create: bool = True) -> None:
        parsed = make_url(url)
        self._display = parsed.render_as_string(hide_password=True)
        connect_args: dict[str, Any] = {}
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database or ""
            if database in ("", ":memory:") or database.startswith("file::memory:"):
                raise UsageError(
                    f"catalog {url!r} is in memory and would keep nothing; give a "
                    "file such as sqlite:///catalog.db, or scan with --no-catalog"
                )
            path = Path(database).expanduser()
            if not create and not path.exists():
                raise UsageError(
                    f"catalog {path} not found; check --catalog or $CARDEX_CATALOG, "
                    "or run 'cardex scan' first"
                )
            path.parent.mkdir(parents=True, exist_ok=True)
            # Concurrent scans wait for each other's writes instead of failing.
            connect_args["timeout"] = SQLITE_BUSY_SECONDS
        try:
            self.engine = sa.create_engine(parsed, connect_args=connect_args)
        except (SQLAlchemyError, ImportError) as exc:
            raise CatalogError(f"cannot open catalog {self._display}: {exc}") from exc
        self._run("opening", self._migrate)

    def _migrate(self, connection: Connection) -> None:
        version = 0
        if sa.inspect(connection).has_table(meta_table.name):
            row = connection.execute(
                sa.select(meta_table.c.value).where(
                    meta_table.c.key == "schema_version"
                )
            ).first()
            version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise CatalogError(
                f"catalog {self._display} has schema version {version}, newer than "
                f"this cardex understands ({SCHEMA_VERSION}); upgrade cardex"
            )
        for step in range(version, SCHEMA_VERSION):
            MIGRATIONS[step](connection)
            logger.info(
                "catalog %s migrated to schema version %d", self._display, step + 1
            )
        if version != SCHEMA_VERSION:
            connection.execute(
                sa.delete(meta_table).where(meta_table.c.key == "schema_version")
            )
            connection.execute(
                sa.insert(meta_table).values(
                    key="schema_version", value=str(SCHEMA_VERSION)
                )
            )

    def _run(self, action: str, work: Callable[[Connection], Any]) -> Any:
        """Run ``work`` in one transaction, retrying when another scan collides.

        Two scans writing one catalog can race to create the schema or the
        same dataset row. The loser's transaction is rolled back and runs
        again once the other has committed.
        """
        for attempt in range(RETRIES + 1):
            try:
                with self.engine.begin() as connection:
                    return work(connection)
            except (IntegrityError, OperationalError) as exc:
                if attempt == RETRIES or not _is_collision(exc):
                    raise self._error(action, exc) from exc
                logger.info("catalog %s busy while %s; retrying", self._display, action)
                time.sleep(RETRY_SECONDS * (attempt + 1))
            except SQLAlchemyError as exc:
                raise self._error(action, exc) from exc
        raise AssertionError("unreachable")

    def _error(self, action: str, exc: SQLAlchemyError) -> CatalogError:
        reason = redact_text(str(getattr(exc, "orig", None) or exc))
        return CatalogError(f"catalog {self._display}: {action} failed: {reason}")

    # -- scans --------------------------------------------------------------

    def begin_scan(
        self,
        sources: Sequence[str],
        rule_pack_version: str,
        settings_hash: str | None = None,
    ) -> int:
        process = current_process()

        def work(connection: Connection) -> int:
            result = connection.execute(
                sa.insert(scans).values(
                    started_at=_now(),
                    status="running",
                    sources=json.dumps(list(sources)),
                    rule_pack_version=rule_pack_version,
                    settings_hash=settings_hash,
                    host=process.host,
                    pid=process.pid,
                    process_started=process.started,
                )
            )
            return int(result.inserted_primary_key[0])  # type: ignore[index]

        scan_id: int = self._run("starting a scan", work)
        return scan_id

    def resume_scan(
        self, sources: Sequence[str], settings_hash: str
    ) -> UnfinishedScan | None:
        def work(connection: Connection) -> UnfinishedScan | None:
            row = connection.execute(
                sa.select(scans)
                .where(scans.c.sources == json.dumps(list(sources)))
                .order_by(scans.c.id.desc())
                .limit(1)
            ).first()
            if row is None or not _resumable(row):
                return None
            if row.settings_hash != settings_hash:
                logger.info(
                    "scan %d stopped unfinished, but the rule pack, user lists or "
                    "sample size changed since; starting a new scan",
                    row.id,
                )
                _close_dead_scan(connection, row)
                return None
            return _claim(connection, row)

        found: UnfinishedScan | None = self._run("looking for a scan to resume", work)
        return found

    def finish_scan(self, scan_id: int, status: str, counts: dict[str, int]) -> None:
        self._run(
            "finishing a scan",
            lambda connection: connection.execute(
                sa.update(scans)
                .where(scans.c.id == scan_id)
                .values(finished_at=_now(), status=status, counts=json.dumps(counts))
            ),
        )

    # -- datasets -----------------------------------------------------------

    def _dataset_id(
        self, connection: Connection, result: DatasetResult | DatasetFailure
    ) -> int:
        row = connection.execute(
            sa.select(datasets.c.id).where(datasets.c.uri == result.uri)
        ).first()
        if row:
            return int(row[0])
        name = (
            getattr(result, "name", None) or result.uri.rstrip("/").rsplit("/", 1)[-1]
        )
        kind = getattr(result, "kind", "file")
        inserted = connection.execute(
            sa.insert(datasets).values(
                uri=result.uri, name=name, kind=kind, first_seen_at=_now()
            )
        )
        return int(inserted.inserted_primary_key[0])  # type: ignore[index]

    def record_dataset(self, scan_id: int, result: DatasetResult) -> LabelChanges:
        return self._run(  # type: ignore[no-any-return]
            f"recording {result.uri}", lambda c: self._record(c, scan_id, result)
        )

    def _record(
        self, connection: Connection, scan_id: int, result: DatasetResult
    ) -> LabelChanges:
        dataset_id = self._dataset_id(connection, result)
        now = _now()
        rule_pack_version = next(
            (label.evidence.rule_pack_version for label in result.labels), None
        )
        connection.execute(
            sa.update(datasets)
            .where(datasets.c.id == dataset_id)
            .values(
                name=result.name,
                kind=result.kind,
                format=result.format,
                fingerprint=json.dumps(result.fingerprint.to_dict()),
                sampled_rows=result.sampled_rows,
                total_rows=result.total_rows,
                last_scanned_at=now,
                last_scan_id=scan_id,
                last_seen_scan_id=scan_id,
                last_error=None,
                rule_pack_version=rule_pack_version,
            )
        )
        connection.execute(sa.delete(columns).where(columns.c.dataset_id == dataset_id))
        if result.columns:
            connection.execute(
                sa.insert(columns),
                [
                    {
                        "dataset_id": dataset_id,
                        "name": column.name,
                        "data_type": column.data_type,
                        "examined": column.examined,
                        "non_null": column.non_null,
                    }
                    for column in result.columns
                ],
            )
        changes = self._merge_labels(connection, dataset_id, scan_id, result, now)
        # Graded from the stored labels, which include people's decisions.
        _regrade(connection, dataset_id)
        return changes

    def _merge_labels(
        self,
        connection: Connection,
        dataset_id: int,
        scan_id: int,
        result: DatasetResult,
        now: str,
    ) -> LabelChanges:
        existing = {
            (row.column_name, row.label_id): row
            for row in connection.execute(
                sa.select(labels).where(labels.c.dataset_id == dataset_id)
            )
        }
        found = {(DATASET_LEVEL, label.id): label for label in result.labels} | {
            (column.name, label.id): label
            for column in result.columns
            for label in column.labels
        }
        changes = LabelChanges()
        for key, row in existing.items():
            if row.state in HUMAN_STATES:
                changes.decisions[key] = (row.state, row.source, row.category)
            elif key not in found:
                connection.execute(sa.delete(labels).where(labels.c.id == row.id))
                changes.removed += 1

        for key, label in found.items():
            values = {
                "category": label.category,
                "confidence": label.confidence,
                "evidence": json.dumps(label.evidence.to_dict(), ensure_ascii=False),
                "rule_pack_version": label.evidence.rule_pack_version,
                "scan_id": scan_id,
                "updated_at": now,
            }
            previous = existing.get(key)
            if previous is None:
                connection.execute(
                    sa.insert(labels).values(
                        dataset_id=dataset_id,
                        column_name=key[0],
                        label_id=key[1],
                        state="suggested",
                        source=SCANNER,
                        **values,
                    )
                )
                changes.added += 1
            elif previous.state not in HUMAN_STATES:
                connection.execute(
                    sa.update(labels).where(labels.c.id == previous.id).values(**values)
                )
                changes.updated += 1
        return changes

    def record_failure(self, scan_id: int, failure: DatasetFailure) -> None:
        def work(connection: Connection) -> None:
            dataset_id = self._dataset_id(connection, failure)
            connection.execute(
                sa.update(datasets)
                .where(datasets.c.id == dataset_id)
                .values(
                    last_error=f"{failure.reason}: {failure.message}",
                    last_scan_id=scan_id,
                    last_seen_scan_id=scan_id,
                )
            )

        self._run(f"recording the failure of {failure.uri}", work)

    def mark_seen(self, scan_id: int, uris: Sequence[str]) -> None:
        def work(connection: Connection) -> None:
            for start in range(0, len(uris), SEEN_BATCH):
                connection.execute(
                    sa.update(datasets)
                    .where(datasets.c.uri.in_(uris[start : start + SEEN_BATCH]))
                    .values(last_seen_scan_id=scan_id)
                )

        if uris:
            self._run(f"marking {len(uris)} unchanged datasets", work)

    def stored_datasets(self) -> StoredDatasets:
        stored = StoredDatasets()

        def work(connection: Connection) -> None:
            rows = connection.execution_options(stream_results=True).execute(
                sa.select(
                    datasets.c.uri,
                    datasets.c.fingerprint,
                    scans.c.settings_hash,
                    datasets.c.last_scan_id,
                    datasets.c.last_seen_scan_id,
                    datasets.c.last_error.is_not(None),
                ).select_from(
                    datasets.outerjoin(scans, datasets.c.last_scan_id == scans.c.id)
                )
            )
            while batch := rows.fetchmany(STORED_BATCH):
                stored.add(tuple(row) for row in batch)

        try:
            self._run("reading fingerprints", work)
        except BaseException:
            stored.close()
            raise
        return stored

    def load_results(self, uris: Sequence[str]) -> dict[str, DatasetResult]:
        def work(connection: Connection) -> dict[str, DatasetResult]:
            found: dict[str, DatasetResult] = {}
            for start in range(0, len(uris), SEEN_BATCH):
                chunk = uris[start : start + SEEN_BATCH]
                found.update(_load_chunk(connection, chunk))
            return found

        if not uris:
            return {}
        found: dict[str, DatasetResult] = self._run(
            f"reading {len(uris)} stored datasets", work
        )
        return found

    # -- reading and deciding -------------------------------------------------

    def list_datasets(self) -> list[DatasetSummary]:
        def work(connection: Connection) -> list[DatasetSummary]:
            label_rows = connection.execute(
                sa.select(labels.c.dataset_id, labels.c.label_id).where(
                    labels.c.state != "rejected"
                )
            )
            by_dataset: dict[int, set[str]] = {}
            for dataset_id, label_id in label_rows:
                by_dataset.setdefault(dataset_id, set()).add(label_id)
            rows = connection.execute(sa.select(datasets).order_by(datasets.c.uri))
            return [
                DatasetSummary(
                    uri=row.uri,
                    name=row.name,
                    kind=row.kind,
                    last_scanned_at=row.last_scanned_at,
                    label_ids=tuple(sorted(by_dataset.get(row.id, ()))),
                    last_error=row.last_error,
                    grade=row.grade,
                    personal=row.personal,
                )
                for row in rows
            ]

        result: list[DatasetSummary] = self._run("listing datasets", work)
        return result

    def _find(self, connection: Connection, reference: str) -> Any:
        row = connection.execute(
            sa.select(datasets).where(datasets.c.uri == reference)
        ).first()
        if row is not None:
            return row
        matches = connection.execute(
            sa.select(datasets).where(
                sa.or_(
                    datasets.c.name == reference,
                    datasets.c.uri.endswith("/" + reference),
                )
            )
        ).all()
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise UsageError(
                f"dataset {reference!r} not found in the catalog; "
                "run 'cardex catalog list' to see dataset names and URIs"
            )
        uris = "\n  ".join(match.uri for match in matches)
        raise UsageError(
            f"dataset name {reference!r} is ambiguous; use one of:\n  {uris}"
        )

    def show_dataset(self, reference: str) -> dict[str, Any]:
        def work(connection: Connection) -> dict[str, Any]:
            row = self._find(connection, reference)
            column_rows = connection.execute(
                sa.select(columns)
                .where(columns.c.dataset_id == row.id)
                .order_by(columns.c.id)
            ).all()
            label_rows = connection.execute(
                sa.select(labels)
                .where(labels.c.dataset_id == row.id)
                .order_by(labels.c.label_id)
            ).all()
            return _dataset_view(row, column_rows, label_rows)

        result: dict[str, Any] = self._run(f"reading {reference}", work)
        return result

    def decide_label(
        self, dataset: str, column: str, label_id: str, state: LabelState, by: str
    ) -> None:
        if state not in HUMAN_STATES:
            raise UsageError(f"invalid decision {state!r}; use confirmed or rejected")
        category = _category(label_id, column)

        def work(connection: Connection) -> None:
            row = self._find(connection, dataset)
            if column != DATASET_LEVEL:
                known = connection.execute(
                    sa.select(columns.c.id).where(
                        columns.c.dataset_id == row.id, columns.c.name == column
                    )
                ).first()
                if known is None:
                    raise UsageError(
                        f"column {column!r} not found in {row.uri}; run "
                        f"'cardex catalog show {row.name}' to see its columns"
                    )
            existing = connection.execute(
                sa.select(labels.c.id).where(
                    labels.c.dataset_id == row.id,
                    labels.c.column_name == column,
                    labels.c.label_id == label_id,
                )
            ).first()
            values = {"state": state, "source": by, "updated_at": _now()}
            if existing:
                connection.execute(
                    sa.update(labels).where(labels.c.id == existing[0]).values(**values)
                )
            else:
                connection.execute(
                    sa.insert(labels).values(
                        dataset_id=row.id,
                        column_name=column,
                        label_id=label_id,
                        category=category,
                        **values,
                    )
                )
            _regrade(connection, row.id)

        self._run(f"recording a decision on {dataset}", work)

    def close(self) -> None:
        self.engine.dispose()


def _resumable(row: Any) -> bool:
    """Tell whether a scan stopped unfinished and may be taken over.

    Raises ``UsageError`` when the scan's process is still running.
    """
    if row.status == "interrupted":
        return True
    if row.status != "running":
        return False
    if row.pid is None or row.host is None:
        logger.warning(
            "scan %d is marked running but has no process recorded "
            "(it began before catalog schema version 3); starting a new scan",
            row.id,
        )
        return False
    owner = ScanProcess(row.host, row.pid, row.process_started)
    alive = is_alive(owner)
    if alive is None:
        logger.warning(
            "scan %d is marked running on host %s, which cardex cannot check "
            "from here; starting a new scan",
            row.id,
            row.host,
        )
        return False
    if alive:
        raise UsageError(
            f"scan {row.id} of these sources is still running (process {row.pid} "
            "on this host); wait for it to finish, or stop it and run --resume again"
        )
    return True


def _close_dead_scan(connection: Connection, row: Any) -> None:
    """Mark a killed scan ``interrupted``, which it could not do itself."""
    if row.status == "running":
        connection.execute(
            sa.update(scans)
            .where(scans.c.id == row.id, scans.c.status == "running")
            .values(status="interrupted", finished_at=_now())
        )


def _claim(connection: Connection, row: Any) -> UnfinishedScan | None:
    """Make this process the owner of an unfinished scan.

    Returns None when another process claimed it first.
    """
    process = current_process()
    claimed = connection.execute(
        sa.update(scans)
        .where(
            scans.c.id == row.id,
            scans.c.status == row.status,
            scans.c.pid.is_not_distinct_from(row.pid),
        )
        .values(
            status="running",
            finished_at=None,
            host=process.host,
            pid=process.pid,
            process_started=process.started,
        )
    )
    if claimed.rowcount != 1:
        return None
    logger.info("resuming scan %d, which stopped %s", row.id, row.status)
    return UnfinishedScan(row.id, row.status, row.settings_hash)


def _load_chunk(
    connection: Connection, uris: Sequence[str]
) -> dict[str, DatasetResult]:
    """Rebuild the results of a few datasets with three queries."""
    rows = connection.execute(sa.select(datasets).where(datasets.c.uri.in_(uris)))
    by_id = {row.id: row for row in rows}
    column_rows: dict[int, list[Any]] = {dataset_id: [] for dataset_id in by_id}
    for column in connection.execute(
        sa.select(columns)
        .where(columns.c.dataset_id.in_(list(by_id)))
        .order_by(columns.c.id)
    ):
        column_rows[column.dataset_id].append(column)
    label_rows: dict[int, list[Any]] = {dataset_id: [] for dataset_id in by_id}
    for label in connection.execute(
        sa.select(labels)
        .where(labels.c.dataset_id.in_(list(by_id)))
        .order_by(labels.c.id)
    ):
        label_rows[label.dataset_id].append(label)
    return {
        row.uri: stored_result(row, column_rows[dataset_id], label_rows[dataset_id])
        for dataset_id, row in by_id.items()
    }


def stored_result(
    row: Any, column_rows: Sequence[Any], label_rows: Sequence[Any]
) -> DatasetResult:
    """Rebuild a dataset's result from its catalog rows.

    People's decisions apply as in a scan: rejected labels are left out and
    named in the notes, and confirmed labels are marked. Notes and byte
    counts of the scan that classified the dataset are not stored.
    """
    result = DatasetResult(
        uri=row.uri,
        name=row.name,
        kind=row.kind,
        format=row.format or "",
        sampled_rows=row.sampled_rows or 0,
        total_rows=row.total_rows,
        fingerprint=_fingerprint(row.fingerprint),
    )
    result.columns = [
        ColumnResult(
            column.name,
            column.data_type or "",
            column.examined or 0,
            column.non_null or 0,
        )
        for column in column_rows
    ]
    by_name = {column.name: column for column in result.columns}
    for label_row in label_rows:
        if label_row.column_name == DATASET_LEVEL:
            labels_found, notes = result.labels, result.notes
        elif label_row.column_name in by_name:
            column = by_name[label_row.column_name]
            labels_found, notes = column.labels, column.notes
        else:
            continue
        if label_row.state == "rejected":
            notes.append(f"{label_row.label_id} rejected by {label_row.source}")
        else:
            labels_found.append(_stored_label(label_row))
    if row.last_error:
        reason, _, message = row.last_error.partition(": ")
        result.errors.append(DatasetFailure(row.uri, reason, message))
    return result


def _fingerprint(text: str | None) -> Fingerprint:
    """Parse a stored fingerprint, ignoring fields this version does not know."""
    stored = json.loads(text) if text else {}
    known = {field.name for field in dataclasses.fields(Fingerprint)}
    return Fingerprint(**{k: v for k, v in stored.items() if k in known})


def _stored_label(row: Any) -> Label:
    if row.evidence:
        evidence = Evidence.from_dict(json.loads(row.evidence))
    else:
        evidence = Evidence(
            rule_id="person",
            rule_pack_version=row.rule_pack_version or "",
            signals=(f"confirmed by {row.source}",),
        )
    confirmed = row.state == "confirmed"
    return Label(
        id=row.label_id,
        category=row.category,
        confidence=1.0 if row.confidence is None else row.confidence,
        evidence=evidence,
        state="confirmed" if confirmed else "suggested",
        decided_by=row.source if confirmed else None,
    )


def _category(label_id: str, column: str) -> str:
    """Return the category of ``label_id``, checking it may sit on ``column``."""
    from classifiers.rulepack import load_rule_pack

    pack = load_rule_pack()
    if label_id not in pack:
        raise UsageError(
            f"unknown label id {label_id!r}; run 'cardex labels' to list the label ids"
        )
    scope = pack[label_id].scope
    if scope == "dataset" and column != DATASET_LEVEL:
        raise UsageError(f"{label_id} describes a whole dataset; use '-' as the column")
    if scope == "column" and column == DATASET_LEVEL:
        raise UsageError(f"{label_id} describes a column; name the column")
    return pack[label_id].category


def _label_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.label_id,
        "category": row.category,
        "state": row.state,
        "source": row.source,
        "confidence": row.confidence,
        "rule_pack_version": row.rule_pack_version,
        "evidence": json.loads(row.evidence) if row.evidence else None,
        "updated_at": row.updated_at,
    }


def _dataset_view(
    row: Any, column_rows: Sequence[Any], label_rows: Sequence[Any]
) -> dict[str, Any]:
    by_column: dict[str, list[dict[str, Any]]] = {}
    for label in label_rows:
        by_column.setdefault(label.column_name, []).append(_label_view(label))
    return {
        "uri": row.uri,
        "name": row.name,
        "kind": row.kind,
        "format": row.format,
        "fingerprint": json.loads(row.fingerprint) if row.fingerprint else {},
        "sampled_rows": row.sampled_rows,
        "total_rows": row.total_rows,
        "grade": row.grade,
        "personal": row.personal,
        "first_seen_at": row.first_seen_at,
        "last_scanned_at": row.last_scanned_at,
        "last_error": row.last_error,
        "labels": by_column.pop(DATASET_LEVEL, []),
        "columns": [
            {
                "name": column.name,
                "data_type": column.data_type,
                "examined": column.examined,
                "non_null": column.non_null,
                "labels": by_column.pop(column.name, []),
            }
            for column in column_rows
        ],
        # Labels people set on columns that the last scan did not see.
        "other_labels": by_column,
    }
