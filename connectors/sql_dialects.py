"""Per-database behaviour of the SQL connector.

A ``SqlDialect`` contains what differs between database families. It creates
the engine and makes every query read-only and bounded by a statement timeout.
It also names the system schemas and samples rows spread over a table without
sorting it. ``dialect_for`` picks the class from a URL's backend name.
Databases without a class of their own get ``SqlDialect`` itself: plain
``LIMIT`` sampling and no read-only guard or timeout.

Every dialect runs only ``SELECT`` statements and catalog queries. Errors are
left to the caller, which translates them into ``scanner.errors`` in one place.
"""

from __future__ import annotations

import math
import random
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, Inspector
from sqlalchemy.pool import ConnectionPoolEntry, NullPool

RelationKind = Literal["table", "view", "materialized_view"]

# A sample statement may return up to this many times the requested rows, so
# that a sampling method that overshoots is not cut off at the start of the
# table by its LIMIT. The client then keeps a random subset of the requested size.
BOUND_FACTOR = 3

APPLICATION_NAME = "cardex"


@dataclass(frozen=True)
class Relation:
    """A table, view or materialized view found in a schema."""

    schema: str
    name: str
    kind: RelationKind

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def label(self) -> str:
        """Kind and qualified name, as messages show it: ``view crm.v_user``."""
        return f"{self.kind.replace('_', ' ')} {self.qualified_name}"


@dataclass
class RowBatch:
    """Rows fetched from one relation, and how they were chosen.

    ``total_rows`` is the relation's row count or the database's estimate of
    it, or None when neither was cheap to get.
    """

    columns: list[str]
    rows: Sequence[Sequence[Any]]
    method: str
    total_rows: int | None = None
    notes: list[str] = field(default_factory=list)


class SqlDialect:
    """Generic behaviour, used for databases without a class of their own."""

    name = "generic"
    system_schemas: frozenset[str] = frozenset({"information_schema"})

    def create_engine(self, url: URL, timeout: float) -> Engine:
        """Create an engine whose connections are closed after each use.

        Handles may be sampled long after discovery, one at a time, so pooled
        connections would only sit idle; NullPool also leaves no connection
        open when the caller forgets the engine.
        """
        engine = sa.create_engine(url, poolclass=NullPool)
        self._add_listeners(engine, timeout)
        return engine

    def _add_listeners(self, engine: Engine, timeout: float) -> None:
        """Register engine events; the base class needs none."""

    @contextmanager
    def read_only(self, connection: Connection, timeout: float) -> Iterator[None]:
        """Run the block in a transaction that is rolled back at the end."""
        transaction = connection.begin()
        try:
            self.start_transaction(connection, timeout)
            yield
        finally:
            if transaction.is_active:
                transaction.rollback()

    def start_transaction(self, connection: Connection, timeout: float) -> None:
        """Make the transaction just begun read-only, with a statement timeout.

        NOTE: the generic dialect cannot do either, so on databases without a
        class of their own only the fact that cardex issues nothing but
        SELECT statements keeps the scan read-only, and nothing bounds a slow
        statement.
        """

    def list_schemas(self, inspector: Inspector, url: URL) -> list[str]:
        names = inspector.get_schema_names()
        return [name for name in names if not self.is_system_schema(name)]

    def is_system_schema(self, schema: str) -> bool:
        return schema.lower() in self.system_schemas

    def list_relations(self, inspector: Inspector, schema: str) -> list[Relation]:
        tables = inspector.get_table_names(schema=schema)
        views = inspector.get_view_names(schema=schema)
        return [Relation(schema, name, "table") for name in tables] + [
            Relation(schema, name, "view") for name in views
        ]

    def sample(
        self,
        connection: Connection,
        relation: Relation,
        columns: Sequence[str],
        rows: int,
    ) -> RowBatch:
        """Fetch up to ``rows`` rows; the generic way takes the first ones."""
        batch = fetch(connection, select_columns(relation, columns).limit(rows))
        batch.method = "LIMIT"
        batch.notes.append(
            f"first {rows} rows read with LIMIT: the {self.name} dialect has no "
            "sampling method, so the sample may not be spread over the table"
        )
        return batch


class PostgresDialect(SqlDialect):
    """PostgreSQL: TABLESAMPLE from the planner's row estimate."""

    name = "postgresql"
    system_schemas = frozenset({"information_schema", "pg_catalog", "pg_toast"})

    # Below this many 8 kB pages (8 MB) a full scan is cheap, so BERNOULLI
    # samples single rows. Larger tables use SYSTEM, which reads chosen pages only.
    SYSTEM_MIN_PAGES = 1000
    # Sampling percentages aim at this many times the requested rows, because
    # SYSTEM picks whole pages and its yield varies from run to run.
    OVERSAMPLE = 1.5

    def create_engine(self, url: URL, timeout: float) -> Engine:
        connect_args: dict[str, Any] = {}
        if "connect_timeout" not in url.query:
            # libpq takes whole seconds and treats values below 2 as 2.
            connect_args["connect_timeout"] = max(2, math.ceil(timeout))
        if "application_name" not in url.query:
            connect_args["application_name"] = APPLICATION_NAME
        return sa.create_engine(url, poolclass=NullPool, connect_args=connect_args)

    def start_transaction(self, connection: Connection, timeout: float) -> None:
        # SET TRANSACTION must be the first statement of the transaction.
        connection.exec_driver_sql("SET TRANSACTION READ ONLY")
        # set_config(..., true) is SET LOCAL: it ends with the transaction.
        connection.execute(
            sa.text("SELECT set_config('statement_timeout', :value, true)"),
            {"value": f"{max(1, round(timeout * 1000))}ms"},
        )

    def list_relations(self, inspector: Inspector, schema: str) -> list[Relation]:
        relations = super().list_relations(inspector, schema)
        materialized = inspector.get_materialized_view_names(schema=schema)
        return relations + [
            Relation(schema, name, "materialized_view") for name in materialized
        ]

    def sample(
        self,
        connection: Connection,
        relation: Relation,
        columns: Sequence[str],
        rows: int,
    ) -> RowBatch:
        if relation.kind == "view":
            return self._sample_first_rows(connection, relation, columns, rows)

        estimate = self._estimate(connection, relation)
        if estimate is None:
            batch = self._sample_first_rows(connection, relation, columns, rows)
            batch.notes.append(
                "no row estimate (the table was never analyzed), so the sample "
                "is the first rows read; run ANALYZE for a spread sample"
            )
            return batch
        tuples, pages = estimate
        if tuples <= rows:
            batch = self._sample_first_rows(connection, relation, columns, rows)
        else:
            batch = self._sample_tablesample(
                connection, relation, columns, rows, estimate
            )
        batch.total_rows = tuples
        batch.notes.append("total_rows is the planner's estimate (pg_class.reltuples)")
        return batch

    def _estimate(
        self, connection: Connection, relation: Relation
    ) -> tuple[int, int] | None:
        """Return the planner's (rows, pages) estimate, or None if unknown."""
        found = connection.execute(
            sa.text(
                "SELECT c.reltuples, c.relpages FROM pg_catalog.pg_class c "
                "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :schema AND c.relname = :name"
            ),
            {"schema": relation.schema, "name": relation.name},
        ).first()
        # reltuples is -1 before the first VACUUM or ANALYZE (PostgreSQL 14+),
        # and 0 both for empty and for never-analyzed tables on older servers.
        if found is None or found.reltuples is None or found.reltuples < 0:
            return None
        if found.reltuples == 0 and found.relpages > 0:
            return None
        return int(found.reltuples), int(found.relpages)

    def _sample_first_rows(
        self,
        connection: Connection,
        relation: Relation,
        columns: Sequence[str],
        rows: int,
    ) -> RowBatch:
        batch = fetch(connection, select_columns(relation, columns).limit(rows))
        batch.method = "LIMIT"
        return batch

    def _sample_tablesample(
        self,
        connection: Connection,
        relation: Relation,
        columns: Sequence[str],
        rows: int,
        estimate: tuple[int, int],
    ) -> RowBatch:
        """Sample with TABLESAMPLE, falling back when too few rows come back.

        The fallbacks are BERNOULLI (if SYSTEM came back short) and then a
        plain LIMIT, which finds the rows when the estimate is stale and the
        table has shrunk. A fallback that fails keeps the rows already read.
        """
        best: RowBatch | None = None
        for plan in self._plans(rows, *estimate):
            try:
                batch = self._run_plan(connection, relation, columns, rows, plan)
            except sa.exc.DBAPIError as exc:
                if best is None or not best.rows:
                    raise
                best.notes.append(
                    f"fallback {plan.method} failed ({type(exc.orig).__name__}); "
                    f"kept the {len(best.rows)} rows already sampled"
                )
                break
            if best is None or len(batch.rows) > len(best.rows):
                best = batch
            if len(best.rows) >= rows:
                break

        assert best is not None
        best.rows = spread_subset(best.rows, rows)
        return best

    def _plans(self, rows: int, tuples: int, pages: int) -> list[SamplingPlan]:
        """Return the sampling plans to try in turn, best first."""
        bernoulli = SamplingPlan(
            "BERNOULLI", percent=min(100.0, 100.0 * rows * self.OVERSAMPLE / tuples)
        )
        plans = [bernoulli, SamplingPlan("LIMIT")]
        if pages < self.SYSTEM_MIN_PAGES:
            return plans

        # SYSTEM returns whole pages, so a sample from a few pages contains runs
        # of neighbouring rows. Reading up to one page per requested row and
        # keeping a random share of each page's rows spreads the sample.
        page_share = min(pages, rows) / pages
        row_share = min(1.0, rows * self.OVERSAMPLE / (tuples * page_share))
        system = SamplingPlan("SYSTEM", 100.0 * page_share, row_share)
        return [system, *plans]

    def _run_plan(
        self,
        connection: Connection,
        relation: Relation,
        columns: Sequence[str],
        rows: int,
        plan: SamplingPlan,
    ) -> RowBatch:
        if plan.method == "LIMIT":
            return self._sample_first_rows(connection, relation, columns, rows)

        sampler = getattr(sa.func, plan.method.lower())
        sampled = sa.tablesample(base_table(relation, columns), sampler(plan.percent))
        statement = sa.select(sampled).limit(rows * BOUND_FACTOR)
        if plan.row_share < 1.0:
            statement = statement.where(sa.func.random() < plan.row_share)
        batch = fetch(connection, statement)
        batch.method = plan.describe()
        return batch


@dataclass(frozen=True)
class SamplingPlan:
    """One way to sample a PostgreSQL table.

    ``percent`` is the TABLESAMPLE argument (share of pages for SYSTEM, of
    rows for BERNOULLI), and ``row_share`` the share of the sampled rows kept
    by a ``random()`` filter.
    """

    method: Literal["SYSTEM", "BERNOULLI", "LIMIT"]
    percent: float = 100.0
    row_share: float = 1.0

    def describe(self) -> str:
        if self.method == "LIMIT":
            return "LIMIT"
        described = f"TABLESAMPLE {self.method} ({self.percent:.3g}%)"
        if self.row_share < 1.0:
            described += f" keeping {self.row_share:.3%} of the rows at random"
        return described


class SqliteDialect(SqlDialect):
    """SQLite: the file opened read-only, a rowid stride for spread samples."""

    name = "sqlite"
    system_schemas = frozenset({"temp"})

    # SQLite calls the progress handler after every this many virtual machine
    # instructions. In the tests a timeout overshoots its deadline by about 1 ms.
    PROGRESS_STEPS = 1000
    # Names under which SQLite exposes the rowid, unless a column takes them.
    ROWID_ALIASES = ("rowid", "_rowid_", "oid")

    def create_engine(self, url: URL, timeout: float) -> Engine:
        """Create an engine that opens the database file read-only.

        ``url.database`` must be an absolute path. The file is opened with
        ``mode=ro`` so that a missing file is an error instead of a new empty
        database, and ``PRAGMA query_only`` rejects writes as well.
        """
        path = Path(url.database or "")
        file_uri = path.as_uri() + "?mode=ro"

        def connect() -> sqlite3.Connection:
            # ``timeout`` is how long SQLite waits for another process's lock.
            return sqlite3.connect(
                file_uri, uri=True, timeout=timeout, check_same_thread=False
            )

        engine = sa.create_engine(
            url.set(database=str(path)), poolclass=NullPool, creator=connect
        )
        self._add_listeners(engine, timeout)
        return engine

    def _add_listeners(self, engine: Engine, timeout: float) -> None:
        def on_connect(
            dbapi_connection: sqlite3.Connection, record: ConnectionPoolEntry
        ) -> None:
            dbapi_connection.execute("PRAGMA query_only = ON")
            deadline = StatementDeadline(timeout)
            dbapi_connection.set_progress_handler(deadline.expired, self.PROGRESS_STEPS)
            record.info[StatementDeadline.INFO_KEY] = deadline

        def before_execute(connection: Connection, *_: object) -> None:
            deadline = connection.info.get(StatementDeadline.INFO_KEY)
            if deadline is not None:
                deadline.restart()

        event.listen(engine, "connect", on_connect)
        event.listen(engine, "before_cursor_execute", before_execute)

    def sample(
        self,
        connection: Connection,
        relation: Relation,
        columns: Sequence[str],
        rows: int,
    ) -> RowBatch:
        if relation.kind == "view":
            return self._sample_first_rows(connection, relation, columns, rows, None)

        total, notes = self._count(connection, relation)
        rowid = self._rowid_alias(connection, relation, columns)
        if rowid is None:
            batch = self._sample_first_rows(connection, relation, columns, rows, total)
            batch.notes.append(
                "the table has no rowid (WITHOUT ROWID, or columns named rowid, "
                "_rowid_ and oid), so the sample is the first rows read"
            )
        else:
            batch = self._sample_stride(
                connection, relation, columns, rows, rowid, total
            )
        batch.notes.extend(notes)
        return batch

    def _count(
        self, connection: Connection, relation: Relation
    ) -> tuple[int | None, list[str]]:
        """Count the rows, or return None with a note if that fails or times out."""
        statement = sa.select(sa.func.count()).select_from(base_table(relation, ()))
        try:
            return connection.execute(statement).scalar_one(), []
        except sa.exc.OperationalError as exc:
            reason = type(exc.orig).__name__
            return None, [f"row count skipped: count(*) failed or timed out ({reason})"]

    def _rowid_alias(
        self, connection: Connection, relation: Relation, columns: Sequence[str]
    ) -> tuple[str, int] | None:
        """Return a rowid alias not shadowed by a column, and the largest rowid.

        Returns None for a WITHOUT ROWID table, where SQLite rejects the alias.
        """
        taken = {column.lower() for column in columns}
        alias = next((name for name in self.ROWID_ALIASES if name not in taken), None)
        if alias is None:
            return None
        largest_rowid: sa.ColumnElement[Any] = sa.func.max(sa.literal_column(alias))
        statement = sa.select(largest_rowid).select_from(base_table(relation, ()))
        try:
            largest = connection.execute(statement).scalar_one()
        except sa.exc.OperationalError:
            return None
        return alias, int(largest or 0)

    def _sample_first_rows(
        self,
        connection: Connection,
        relation: Relation,
        columns: Sequence[str],
        rows: int,
        total: int | None,
    ) -> RowBatch:
        batch = fetch(connection, select_columns(relation, columns).limit(rows))
        batch.method = "LIMIT"
        batch.total_rows = total
        return batch

    def _sample_stride(
        self,
        connection: Connection,
        relation: Relation,
        columns: Sequence[str],
        rows: int,
        rowid: tuple[str, int],
        total: int | None,
    ) -> RowBatch:
        """Keep every k-th rowid so that the sample spans the whole table.

        ``k`` comes from the row count, or from the largest rowid when the
        count timed out. A stride that returns too few rows (rowids with big
        gaps) is retried four times denser, down to a plain bounded LIMIT.

        NOTE: rows inserted in fixed-size cycles (for example k readings per
        vehicle) can line up with the stride, and the sample then contains one
        position of each cycle only.
        """
        alias, largest = rowid
        span = total if total is not None else largest
        stride = max(1, span // rows)
        while True:
            statement = select_columns(relation, columns)
            if stride > 1:
                statement = statement.where(sa.literal_column(alias) % stride == 0)
            batch = fetch(connection, statement.limit(rows * BOUND_FACTOR))
            enough = len(batch.rows) >= rows or len(batch.rows) == total
            if enough or stride == 1:
                break
            stride = max(1, stride // 4)

        batch.method = f"rowid stride {stride}" if stride > 1 else "LIMIT"
        batch.rows = spread_subset(batch.rows, rows)
        batch.total_rows = total
        return batch


class MysqlDialect(SqlDialect):
    """MySQL and MariaDB: session-level read-only mode and statement timeout.

    NOTE: this class has not been run against a MySQL or MariaDB server; only
    SQLite and PostgreSQL are covered by the tests.
    """

    name = "mysql"
    system_schemas = frozenset(
        {"information_schema", "mysql", "performance_schema", "sys"}
    )

    def create_engine(self, url: URL, timeout: float) -> Engine:
        connect_args: dict[str, Any] = {}
        if url.get_driver_name() == "pymysql" and "connect_timeout" not in url.query:
            connect_args["connect_timeout"] = max(1, math.ceil(timeout))
        engine = sa.create_engine(url, poolclass=NullPool, connect_args=connect_args)
        self._add_listeners(engine, timeout)
        return engine

    def _add_listeners(self, engine: Engine, timeout: float) -> None:
        def on_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
            # Session settings, made before any transaction starts, so that
            # every later transaction on this connection inherits them.
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SET SESSION TRANSACTION READ ONLY")
                cursor.execute("SELECT VERSION()")
                version = str(cursor.fetchone()[0])
                cursor.execute(_timeout_statement(version, timeout))
            finally:
                cursor.close()

        event.listen(engine, "connect", on_connect)

    def list_schemas(self, inspector: Inspector, url: URL) -> list[str]:
        # A database in the URL narrows the scan to it, as MySQL clients do.
        if url.database:
            return [url.database]
        return super().list_schemas(inspector, url)


def _timeout_statement(server_version: str, timeout: float) -> str:
    """Return the statement that bounds each SELECT of the session."""
    if "mariadb" in server_version.lower():
        # MariaDB: max_statement_time, in seconds.
        return f"SET SESSION max_statement_time = {timeout:.3f}"
    # MySQL 5.7.8+: max_execution_time, in milliseconds, for SELECT only.
    return f"SET SESSION max_execution_time = {max(1, round(timeout * 1000))}"


class StatementDeadline:
    """Deadline for the running SQLite statement, checked by a progress handler."""

    INFO_KEY = "cardex_statement_deadline"

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.expires_at = time.monotonic() + timeout

    def restart(self) -> None:
        self.expires_at = time.monotonic() + self.timeout

    def expired(self) -> int:
        """Return non-zero once the deadline passed; SQLite then interrupts."""
        return int(time.monotonic() > self.expires_at)


DIALECTS: dict[str, type[SqlDialect]] = {
    "postgresql": PostgresDialect,
    "sqlite": SqliteDialect,
    "mysql": MysqlDialect,
    "mariadb": MysqlDialect,
}


def dialect_for(url: URL) -> SqlDialect:
    """Return the behaviour for the URL's database family."""
    backend = url.drivername.partition("+")[0]
    return DIALECTS.get(backend, SqlDialect)()


def base_table(relation: Relation, columns: Sequence[str]) -> sa.TableClause:
    """Return a table clause whose names the dialect quotes as needed."""
    return sa.table(
        relation.name, *(sa.column(name) for name in columns), schema=relation.schema
    )


def select_columns(relation: Relation, columns: Sequence[str]) -> sa.Select[Any]:
    return sa.select(base_table(relation, columns))


def fetch(connection: Connection, statement: sa.Executable) -> RowBatch:
    result = connection.execute(statement)
    columns = list(result.keys())
    rows = [tuple(row) for row in result.fetchall()]
    return RowBatch(columns=columns, rows=rows, method="")


def spread_subset(rows: Sequence[Sequence[Any]], limit: int) -> Sequence[Sequence[Any]]:
    """Return ``limit`` rows chosen at random, in their original order."""
    if len(rows) <= limit:
        return rows
    chosen = sorted(random.sample(range(len(rows)), limit))
    return [rows[index] for index in chosen]
