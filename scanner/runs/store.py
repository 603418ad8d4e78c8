"""Run records in the catalog database, in tables of their own.

The ``cardex_runs`` table has its own SQLAlchemy metadata and is created on
first use, so it needs no migration of the catalog schema. A record is
written when a run starts (status ``running``) and completed when it ends;
a run that was killed stays ``running`` with no ``finished_at``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from scanner.errors import CatalogError, UsageError
from scanner.masking import public_url, redact_text

SQLITE_BUSY_SECONDS = 30

metadata = sa.MetaData()

runs = sa.Table(
    "cardex_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started_at", sa.String(32), nullable=False),
    sa.Column("finished_at", sa.String(32)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("exit_code", sa.Integer),
    sa.Column("host", sa.String(256), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("config_path", sa.Text, nullable=False),
    sa.Column("config_sha256", sa.String(64), nullable=False),
    sa.Column("duration_seconds", sa.Float),
    #: JSON: datasets scanned, skipped and failed; labels added, updated and
    #: removed.
    sa.Column("counts", sa.Text),
    #: JSON list, one object per source: name, status, duration, counts,
    #: catalog scan id.
    sa.Column("sources", sa.Text),
    #: JSON list, one object per dataset with label changes.
    sa.Column("changes", sa.Text),
    sa.Column("message", sa.Text),
)


@dataclass
class RunRecord:
    """One row of ``cardex_runs``, with its JSON columns decoded."""

    id: int
    started_at: str
    finished_at: str | None
    status: str
    exit_code: int | None
    host: str
    pid: int
    config_path: str
    config_sha256: str
    duration_seconds: float | None
    counts: dict[str, int] = field(default_factory=dict)
    sources: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class RunStore:
    """Reads and writes run records in the database at ``url``."""

    def __init__(self, url: str, create: bool = True) -> None:
        self._display = public_url(url)
        parsed = make_url(url)
        connect_args: dict[str, Any] = {}
        if parsed.get_backend_name() == "sqlite":
            path = Path(parsed.database or "").expanduser()
            if not create and not path.exists():
                raise UsageError(
                    f"catalog {path} not found; check --catalog or the configuration"
                )
            connect_args["timeout"] = SQLITE_BUSY_SECONDS
        try:
            self.engine: Engine = sa.create_engine(parsed, connect_args=connect_args)
        except (SQLAlchemyError, ImportError) as exc:
            raise CatalogError(f"cannot open catalog {self._display}: {exc}") from exc
        self._create_tables()

    def _create_tables(self) -> None:
        # A reader of the catalog at the same moment may have created it.
        for attempt in range(3):
            try:
                metadata.create_all(self.engine, checkfirst=True)
                return
            except OperationalError as exc:
                if attempt == 2 or "already exists" not in str(exc):
                    raise self._error("creating the run table", exc) from exc
            except SQLAlchemyError as exc:
                raise self._error("creating the run table", exc) from exc

    def _error(self, action: str, exc: SQLAlchemyError) -> CatalogError:
        reason = redact_text(str(getattr(exc, "orig", None) or exc))
        return CatalogError(f"catalog {self._display}: {action} failed: {reason}")

    def begin(
        self, started_at: str, host: str, pid: int, config_path: str, sha256: str
    ) -> int:
        """Insert a ``running`` record and return its id."""
        values = {
            "started_at": started_at,
            "status": "running",
            "host": host,
            "pid": pid,
            "config_path": config_path,
            "config_sha256": sha256,
        }
        try:
            with self.engine.begin() as connection:
                result = connection.execute(sa.insert(runs).values(**values))
        except SQLAlchemyError as exc:
            raise self._error("recording the run start", exc) from exc
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def finish(self, run_id: int, record: dict[str, Any]) -> None:
        """Complete record ``run_id`` with the outcome in ``record``."""
        values = dict(record)
        for key in ("counts", "sources", "changes"):
            if key in values:
                values[key] = json.dumps(values[key], ensure_ascii=False)
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    sa.update(runs).where(runs.c.id == run_id).values(**values)
                )
        except SQLAlchemyError as exc:
            raise self._error("recording the run end", exc) from exc

    def list(self, limit: int = 20) -> list[RunRecord]:
        """Return the latest ``limit`` runs, newest first."""
        query = sa.select(runs).order_by(runs.c.id.desc()).limit(limit)
        try:
            with self.engine.connect() as connection:
                rows = connection.execute(query).all()
        except SQLAlchemyError as exc:
            raise self._error("listing runs", exc) from exc
        return [_record(row) for row in rows]

    def previous_start(self, before_id: int) -> str | None:
        """Return the start time of the last run before ``before_id``."""
        query = (
            sa.select(runs.c.started_at)
            .where(runs.c.id < before_id)
            .order_by(runs.c.id.desc())
            .limit(1)
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else str(row[0])

    def close(self) -> None:
        self.engine.dispose()


def _record(row: Any) -> RunRecord:
    def decoded(text: str | None, empty: Any) -> Any:
        return json.loads(text) if text else empty

    return RunRecord(
        id=row.id,
        started_at=row.started_at,
        finished_at=row.finished_at,
        status=row.status,
        exit_code=row.exit_code,
        host=row.host,
        pid=row.pid,
        config_path=row.config_path,
        config_sha256=row.config_sha256,
        duration_seconds=row.duration_seconds,
        counts=decoded(row.counts, {}),
        sources=decoded(row.sources, []),
        changes=decoded(row.changes, []),
        message=row.message,
    )
