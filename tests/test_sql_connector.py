"""Tests of the SQL connector against real SQLite files and a real PostgreSQL.

The PostgreSQL tests (marker ``postgres``) use the ``postgres_url`` fixture and
create their schemas and a login role with a random suffix, dropped at the end.
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from connectors.base import DiscoveryOptions
from connectors.sql import (
    SqlConnector,
    SqlTableHandle,
    classify_error,
    column_to_arrow,
    translate_error,
)
from connectors.sql_dialects import PostgresDialect, SqliteDialect
from scanner.errors import (
    AccessDeniedError,
    DatasetError,
    DatasetTimeoutError,
    MissingExtraError,
    UnknownSourceError,
    UnreadableFormatError,
    UsageError,
)
from scanner.model import DatasetFailure

BIG_ROWS = 100_000


def discover(source: str, **options: Any) -> list[SqlTableHandle | DatasetFailure]:
    return list(SqlConnector().discover(source, DiscoveryOptions(**options)))


def single_handle(source: str, **options: Any) -> SqlTableHandle:
    """Discover a source that must yield exactly one table handle."""
    (item,) = discover(source, **options)
    assert isinstance(item, SqlTableHandle), item
    return item


def handles_by_name(items: list[SqlTableHandle | DatasetFailure]) -> dict[str, Any]:
    return {item.name: item for item in items if isinstance(item, SqlTableHandle)}


def failures(items: list[SqlTableHandle | DatasetFailure]) -> list[DatasetFailure]:
    return [item for item in items if isinstance(item, DatasetFailure)]


@pytest.fixture
def issued_sql() -> Iterator[list[str]]:
    """Collect every statement any engine sends to its driver."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    yield statements
    event.remove(Engine, "before_cursor_execute", record)


# ---------------------------------------------------------------------------
# accepts()


@pytest.mark.parametrize(
    "source",
    [
        "sqlite:///app.db",
        "sqlite:////abs/app.db",
        "postgresql://user@db.internal/warehouse",
        "postgresql+psycopg://user:pw@127.0.0.1:5432/db",
        "postgres://user@host/db",
        "mysql+pymysql://user@host/db",
    ],
)
def test_accepts_sqlalchemy_urls(source: str) -> None:
    assert SqlConnector().accepts(source)


@pytest.mark.parametrize(
    "source",
    [
        "/data/app.db",
        "relative/dir",
        "C:\\data\\file.csv",
        "s3://bucket/prefix/",
        "gs://bucket/key",
        "abfss://container@account.dfs.core.windows.net/path",
        "hdfs://namenode/warehouse",
        "file:///data/x.parquet",
        "oss://bucket/key",
        "",
    ],
)
def test_rejects_paths_and_object_stores(source: str) -> None:
    assert not SqlConnector().accepts(source)


# ---------------------------------------------------------------------------
# SQLite


def _app_user_row(i: int) -> tuple[Any, ...]:
    # ``note`` mixes integers and text, as SQLite allows in an untyped column.
    note = i if i % 2 else f"text {i}"
    signed_up = f"2024-01-0{i % 9 + 1} 08:00:00"
    return (f"user{i}", f"1380013{i:04d}", i * 1.5, signed_up, bytes([i, 255]), note)


@pytest.fixture
def app_db(tmp_path: Path) -> Path:
    """A small SQLite database with tables of several types and views."""
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as connection:
        connection.executescript(
            """
            CREATE TABLE app_user (
                id INTEGER PRIMARY KEY, name TEXT, phone VARCHAR(20),
                balance REAL, signed_up DATETIME, photo BLOB, note
            );
            CREATE TABLE app_order (id INTEGER PRIMARY KEY, user_id INTEGER);
            CREATE TABLE audit_log (k TEXT PRIMARY KEY, v INTEGER) WITHOUT ROWID;
            CREATE TABLE empty_table (id INTEGER, label TEXT, seen DATETIME);
            CREATE VIEW app_user_view AS SELECT id, name FROM app_user;
            """
        )
        connection.executemany(
            "INSERT INTO app_user (name, phone, balance, signed_up, photo, note) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [_app_user_row(i) for i in range(50)],
        )
        connection.executemany(
            "INSERT INTO audit_log VALUES (?, ?)", [(f"k{i}", i) for i in range(5)]
        )
    connection.close()
    return path


def test_sqlite_discovers_tables_and_views(
    app_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(app_db.parent)

    items = discover("sqlite:///app.db")

    found = handles_by_name(items)
    assert set(found) == {
        "app_user",
        "app_order",
        "audit_log",
        "empty_table",
        "app_user_view",
    }
    assert failures(items) == []
    assert all(handle.kind == "table" for handle in found.values())
    assert found["app_user_view"].relation.kind == "view"
    assert found["app_user"].uri == f"sqlite:///{app_db}/main/app_user"
    assert found["app_user"].uri.startswith("sqlite:////")


@pytest.mark.parametrize(
    ("include", "exclude", "expected"),
    [
        (("main.app_*",), (), {"app_user", "app_order", "app_user_view"}),
        (("app_user",), (), {"app_user"}),
        ((), ("*_view", "main.empty_*"), {"app_user", "app_order", "audit_log"}),
        (("app_*",), ("app_order",), {"app_user", "app_user_view"}),
        (("nothing_*",), (), set()),
        (("APP_USER",), (), set()),
    ],
)
def test_sqlite_include_exclude_globs(
    app_db: Path,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    expected: set[str],
) -> None:
    items = discover(f"sqlite:///{app_db}", include=include, exclude=exclude)

    assert set(handles_by_name(items)) == expected


def test_sqlite_sample_spreads_over_table(tmp_path: Path) -> None:
    path = tmp_path / "big.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE trips (id INTEGER PRIMARY KEY, vin TEXT)")
        connection.executemany(
            "INSERT INTO trips (vin) VALUES (?)", [("LSVAM4187C2184847",)] * BIG_ROWS
        )
    connection.close()
    handle = single_handle(f"sqlite:///{path}")

    sample = handle.sample(1000)

    ids = sample.table.column("id").to_pylist()
    assert len(ids) == 1000
    assert len(set(ids)) == 1000
    assert max(ids) > BIG_ROWS * 0.9
    assert sum(1 for row_id in ids if row_id <= 1000) < 50
    assert sample.total_rows == BIG_ROWS
    assert sample.format == "sqlite"


def test_sqlite_records_column_types(app_db: Path) -> None:
    handle = single_handle(f"sqlite:///{app_db}", include=("app_user",))

    sample = handle.sample(10)

    assert sample.source_types == {
        "id": "INTEGER",
        "name": "TEXT",
        "phone": "VARCHAR(20)",
        "balance": "REAL",
        "signed_up": "DATETIME",
        "photo": "BLOB",
        "note": "unknown",
    }
    schema = sample.table.schema
    assert schema.field("id").type == pa.int64()
    assert schema.field("name").type == pa.string()
    assert schema.field("balance").type == pa.float64()
    assert schema.field("signed_up").type == pa.timestamp("us")
    assert schema.field("photo").type == pa.binary()
    assert sample.table.num_rows == 10


def test_sqlite_mixed_column_kept_as_text(app_db: Path) -> None:
    handle = single_handle(f"sqlite:///{app_db}", include=("app_user",))

    sample = handle.sample(50)

    note = sample.table.column("note").to_pylist()
    assert sample.table.schema.field("note").type == pa.string()
    assert "1" in note
    assert "text 2" in note
    assert any("column note" in line for line in sample.notes)


def test_sqlite_empty_table_sample_has_columns(app_db: Path) -> None:
    handle = single_handle(f"sqlite:///{app_db}", include=("empty_table",))

    sample = handle.sample(100)

    assert sample.table.num_rows == 0
    assert sample.table.column_names == ["id", "label", "seen"]
    assert sample.table.schema.field("id").type == pa.int64()
    assert sample.table.schema.field("seen").type == pa.timestamp("us")
    assert sample.total_rows == 0


def test_sqlite_without_rowid_table_samples(app_db: Path) -> None:
    handle = single_handle(f"sqlite:///{app_db}", include=("audit_log",))

    sample = handle.sample(100)

    assert sample.table.column("k").to_pylist() == [f"k{i}" for i in range(5)]
    assert any("no rowid" in line for line in sample.notes)


def test_sqlite_view_timeout_raises(tmp_path: Path) -> None:
    path = tmp_path / "slow.db"
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE VIEW endless AS WITH RECURSIVE counter(x) AS "
            "(SELECT 1 UNION ALL SELECT x + 1 FROM counter) "
            "SELECT x FROM counter WHERE x < 0"
        )
    connection.close()
    handle = single_handle(f"sqlite:///{path}", timeout=1.0)

    started = time.monotonic()
    with pytest.raises(DatasetTimeoutError) as raised:
        handle.sample(10)
    elapsed = time.monotonic() - started

    assert elapsed < 2.0
    assert "view main.endless" in str(raised.value)
    assert "timeout" in str(raised.value)


def test_sqlite_locked_database_yields_failure(app_db: Path) -> None:
    holder = sqlite3.connect(app_db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        items = discover(f"sqlite:///{app_db}", timeout=0.3)
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    (failure,) = items
    assert isinstance(failure, DatasetFailure)
    assert failure.uri == f"sqlite:///{app_db}"
    assert failure.reason == DatasetTimeoutError.reason
    assert "database is locked" in failure.message


def test_sqlite_corrupt_file_yields_failure(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"this is not a database file at all" * 200)

    (failure,) = discover(f"sqlite:///{path}")

    assert isinstance(failure, DatasetFailure)
    assert failure.reason == UnreadableFormatError.reason
    assert "intact SQLite database" in failure.message


def test_sqlite_missing_file_not_created(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"

    (failure,) = discover(f"sqlite:///{path}")

    assert isinstance(failure, DatasetFailure)
    assert "unable to open database file" in failure.message
    assert not path.exists()


def test_sqlite_broken_view_fails_alone(app_db: Path) -> None:
    with sqlite3.connect(app_db) as connection:
        connection.executescript(
            "CREATE TABLE doomed (x); CREATE VIEW broken AS SELECT x FROM doomed;"
            "DROP TABLE doomed;"
        )
    connection.close()

    items = discover(f"sqlite:///{app_db}")

    (failure,) = failures(items)
    assert failure.uri == f"sqlite:///{app_db}/main/broken"
    assert "view main.broken" in failure.message
    assert "app_user" in handles_by_name(items)


def test_sqlite_connection_is_read_only(app_db: Path) -> None:
    url = make_url(f"sqlite:///{app_db}")
    engine = SqliteDialect().create_engine(url, timeout=5.0)

    with engine.connect() as connection, pytest.raises(sa.exc.OperationalError):
        connection.exec_driver_sql("INSERT INTO app_order (user_id) VALUES (1)")

    with sqlite3.connect(app_db) as check:
        assert check.execute("SELECT count(*) FROM app_order").fetchone() == (0,)
    check.close()


def test_sqlite_logs_contain_no_values(
    app_db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    for item in discover(f"sqlite:///{app_db}"):
        assert isinstance(item, SqlTableHandle)
        item.sample(100)

    assert "sampled 50 rows" in caplog.text
    assert "13800130001" not in caplog.text
    assert "user1" not in caplog.text


def test_sqlite_in_memory_url_rejected() -> None:
    with pytest.raises(UsageError, match="does not name a SQLite database file"):
        discover("sqlite://")


def test_fingerprint_follows_columns(app_db: Path) -> None:
    before = single_handle(f"sqlite:///{app_db}", include=("app_order",))
    with sqlite3.connect(app_db) as connection:
        connection.execute("ALTER TABLE app_order ADD COLUMN vin TEXT")
    connection.close()
    after = single_handle(f"sqlite:///{app_db}", include=("app_order",))

    assert before.fingerprint().schema_hash != after.fingerprint().schema_hash


# ---------------------------------------------------------------------------
# Drivers, errors and conversion


def test_missing_psycopg_raises_missing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes ``import psycopg`` fail.
    monkeypatch.setitem(sys.modules, "psycopg", None)

    with pytest.raises(MissingExtraError, match=r"cardex\[postgres\]"):
        discover("postgresql://user@127.0.0.1:1/db")


def test_missing_pymysql_raises_missing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pymysql", None)

    with pytest.raises(MissingExtraError, match=r"cardex\[mysql\]"):
        discover("mysql://user@127.0.0.1:1/db")


def test_unknown_dialect_raises() -> None:
    with pytest.raises(UnknownSourceError, match="nosuchdb"):
        discover("nosuchdb://user@127.0.0.1/db")


def _psycopg_errors() -> Any:
    return pytest.importorskip("psycopg").errors


@pytest.mark.parametrize(
    ("make_error", "expected"),
    [
        (lambda: sqlite3.OperationalError("interrupted"), DatasetTimeoutError),
        (lambda: sqlite3.OperationalError("database is locked"), DatasetTimeoutError),
        (
            lambda: sqlite3.DatabaseError("file is not a database"),
            UnreadableFormatError,
        ),
        (lambda: sqlite3.OperationalError("no such table: t"), DatasetError),
        (
            lambda: _psycopg_errors().InsufficientPrivilege("permission denied"),
            AccessDeniedError,
        ),
        (lambda: _psycopg_errors().InvalidPassword("bad password"), AccessDeniedError),
        (lambda: _psycopg_errors().QueryCanceled("canceling"), DatasetTimeoutError),
        (lambda: _psycopg_errors().LockNotAvailable("lock"), DatasetTimeoutError),
        (
            lambda: _psycopg_errors().InvalidParameterValue("bad statement_timeout"),
            DatasetError,
        ),
        (lambda: _psycopg_errors().UndefinedTable("no such relation"), DatasetError),
        (lambda: Exception(1142, "SELECT command denied to user"), AccessDeniedError),
        (
            lambda: Exception(3024, "maximum statement execution time"),
            DatasetTimeoutError,
        ),
        (lambda: Exception(1146, "Table 'db.t' doesn't exist"), DatasetError),
    ],
)
def test_driver_errors_map_to_cardex_errors(
    make_error: Any, expected: type[DatasetError]
) -> None:
    original = make_error()
    wrapped = sa.exc.OperationalError("SELECT 1", {}, original)

    assert classify_error(original) is expected
    assert type(translate_error(wrapped, "Sampling", "table s.t", (), 5.0)) is expected


def test_translated_message_masks_values_and_secrets() -> None:
    original = sqlite3.IntegrityError(
        "value 13800138000 rejected for s3cr3t-pass\nDETAIL: row (张三, 13800138000)"
    )

    error = translate_error(original, "Sampling", "table main.t", ["s3cr3t-pass"], 5.0)

    message = str(error)
    assert "13800138000" not in message
    assert "s3cr3t-pass" not in message
    assert "张三" not in message
    assert "Sampling table main.t failed" in message


@pytest.mark.parametrize(
    ("values", "expected_type", "expected"),
    [
        ([Decimal("12"), None, Decimal("-3")], pa.int64(), [12, None, -3]),
        ([Decimal("1.25"), Decimal("2")], pa.float64(), [1.25, 2.0]),
        (
            [Decimal("6222021234567890123456")],
            pa.string(),
            ["6222021234567890123456"],
        ),
        ([[0.5, 1], [2, 3.5]], pa.list_(pa.float64()), [[0.5, 1.0], [2.0, 3.5]]),
        ([["a", "b"]], pa.string(), ['["a", "b"]']),
        ([memoryview(b"\x00\x01")], pa.binary(), [b"\x00\x01"]),
        ([{"城市": "上海"}], pa.string(), ['{"城市": "上海"}']),
        ([1, "x"], pa.string(), ["1", "x"]),
        ([None, None], pa.string(), [None, None]),
    ],
)
def test_column_to_arrow_types(
    values: list[Any], expected_type: pa.DataType, expected: list[Any]
) -> None:
    array, _ = column_to_arrow(values, None)

    assert array.type == expected_type
    assert array.to_pylist() == expected


def test_timeout_must_be_positive(app_db: Path) -> None:
    with pytest.raises(UsageError, match="timeout"):
        discover(f"sqlite:///{app_db}", timeout=0)


def test_rows_must_be_positive(app_db: Path) -> None:
    handle = single_handle(f"sqlite:///{app_db}", include=("app_user",))

    with pytest.raises(UsageError):
        handle.sample(0)


# ---------------------------------------------------------------------------
# PostgreSQL


@dataclass(frozen=True)
class PgSetup:
    """Names of the objects the PostgreSQL tests created."""

    admin_url: str
    reader_url: str
    reader_password: str
    crm: str
    telematics: str

    def discover(self, url: str, **options: Any) -> list[Any]:
        include = (f"{self.crm}.*", f"{self.telematics}.*")
        return discover(url, include=include, **options)


def _pg_setup_sql(crm: str, telematics: str, reader: str, password: str) -> str:
    return f"""
    CREATE SCHEMA {crm};
    CREATE SCHEMA {telematics};
    CREATE TABLE {crm}.app_user (
        id serial PRIMARY KEY, name text, phone text, photo bytea,
        profile jsonb, created_at timestamptz, score numeric(10, 2),
        tags text[], embedding real[], location point, client_ip inet,
        device uuid, trip_time interval
    );
    INSERT INTO {crm}.app_user
        (name, phone, photo, profile, created_at, score, tags, embedding,
         location, client_ip, device, trip_time)
    SELECT 'user' || g, '1380013' || lpad(g::text, 4, '0'), '\\x00ff'::bytea,
           jsonb_build_object('city', '上海', 'n', g), now(), g * 1.5,
           ARRAY['a', 'b'], ARRAY[0.5, 0.25, g]::real[], point(121.47, 31.23),
           '10.0.0.1', gen_random_uuid(), interval '1 hour'
    FROM generate_series(1, 20) AS g;
    CREATE VIEW {crm}.user_view AS SELECT id, name FROM {crm}.app_user;
    CREATE MATERIALIZED VIEW {crm}.user_count AS
        SELECT count(*) AS users FROM {crm}.app_user;
    CREATE VIEW {crm}.phone_as_int AS
        SELECT phone::int AS phone_number FROM {crm}.app_user;
    CREATE TABLE {telematics}.trips (id bigint PRIMARY KEY, vin text, payload text);
    INSERT INTO {telematics}.trips
    SELECT g, 'LSVAM4187C2184847', repeat('x', 100)
    FROM generate_series(1, {BIG_ROWS}) AS g;
    CREATE TABLE {telematics}.secret_keys (id int, secret text);
    INSERT INTO {telematics}.secret_keys VALUES (1, 'k');
    CREATE VIEW {telematics}.slow_view AS SELECT 1 AS x FROM pg_sleep(30);
    ANALYZE {crm}.app_user;
    ANALYZE {telematics}.trips;
    CREATE ROLE {reader} LOGIN PASSWORD '{password}';
    GRANT USAGE ON SCHEMA {crm}, {telematics} TO {reader};
    GRANT SELECT ON {crm}.app_user, {crm}.user_view, {telematics}.trips TO {reader};
    """


@pytest.fixture(scope="module")
def pg(postgres_url: str) -> Iterator[PgSetup]:
    suffix = secrets.token_hex(3)
    crm, telematics = f"crm_{suffix}", f"telematics_{suffix}"
    reader, password = f"cardex_reader_{suffix}", f"Pw-{secrets.token_hex(8)}"
    admin = sa.create_engine(postgres_url, poolclass=NullPool)
    with admin.begin() as connection:
        connection.exec_driver_sql(_pg_setup_sql(crm, telematics, reader, password))

    reader_url = make_url(postgres_url).set(username=reader, password=password)
    yield PgSetup(
        admin_url=postgres_url,
        reader_url=reader_url.render_as_string(hide_password=False),
        reader_password=password,
        crm=crm,
        telematics=telematics,
    )

    with admin.begin() as connection:
        connection.exec_driver_sql(
            f"DROP SCHEMA {crm}, {telematics} CASCADE; DROP ROLE {reader};"
        )
    admin.dispose()


@pytest.mark.postgres
def test_pg_discovers_schemas_tables_views(pg: PgSetup) -> None:
    items = pg.discover(pg.admin_url)

    found = {(h.relation.schema, h.name, h.relation.kind) for h in items}
    assert found == {
        (pg.crm, "app_user", "table"),
        (pg.crm, "user_view", "view"),
        (pg.crm, "phone_as_int", "view"),
        (pg.crm, "user_count", "materialized_view"),
        (pg.telematics, "trips", "table"),
        (pg.telematics, "secret_keys", "table"),
        (pg.telematics, "slow_view", "view"),
    }
    user = handles_by_name(items)["app_user"]
    assert user.uri == f"{pg.admin_url}/{pg.crm}/app_user"


@pytest.mark.postgres
def test_pg_skips_system_schemas(pg: PgSetup) -> None:
    items = discover(pg.admin_url, include=("information_schema.*", "pg_catalog.*"))

    assert items == []


@pytest.mark.postgres
def test_pg_large_table_uses_tablesample(pg: PgSetup, issued_sql: list[str]) -> None:
    trips = handles_by_name(pg.discover(pg.admin_url))["trips"]

    sample = trips.sample(500)

    assert any("TABLESAMPLE system" in statement for statement in issued_sql)
    ids = sample.table.column("id").to_pylist()
    assert len(ids) == 500
    # Ids spread over most of the hundred blocks of 1,000, not a few pages.
    assert len({row_id // 1000 for row_id in ids}) > 80
    assert sample.total_rows is not None
    assert abs(sample.total_rows - BIG_ROWS) < BIG_ROWS * 0.1
    assert sample.format == "postgresql"


@pytest.mark.postgres
def test_pg_small_table_reads_all_rows(pg: PgSetup, issued_sql: list[str]) -> None:
    user = handles_by_name(pg.discover(pg.admin_url))["app_user"]

    sample = user.sample(100)

    assert sample.table.num_rows == 20
    assert not any("TABLESAMPLE" in statement for statement in issued_sql)


@pytest.mark.postgres
def test_pg_sampling_runs_read_only(pg: PgSetup) -> None:
    trips = handles_by_name(pg.discover(pg.admin_url, timeout=7.0))["trips"]
    settings: list[tuple[str, str]] = []

    def inspect_transaction(_conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if "TABLESAMPLE" in statement:
            raw = cursor.connection
            read_only = raw.execute("SHOW transaction_read_only").fetchone()[0]
            timeout = raw.execute("SHOW statement_timeout").fetchone()[0]
            settings.append((read_only, timeout))

    event.listen(Engine, "before_cursor_execute", inspect_transaction)
    try:
        trips.sample(200)
    finally:
        event.remove(Engine, "before_cursor_execute", inspect_transaction)

    assert settings
    assert all(setting == ("on", "7s") for setting in settings)


@pytest.mark.postgres
def test_pg_read_only_transaction_rejects_writes(pg: PgSetup) -> None:
    dialect = PostgresDialect()
    engine = dialect.create_engine(make_url(pg.admin_url), timeout=5.0)

    with (
        engine.connect() as connection,
        dialect.read_only(connection, 5.0),
        pytest.raises(sa.exc.InternalError, match="read-only transaction"),
    ):
        connection.exec_driver_sql(
            f"INSERT INTO {pg.telematics}.secret_keys VALUES (2, 'x')"
        )


@pytest.mark.postgres
def test_pg_view_timeout_raises(pg: PgSetup) -> None:
    slow = handles_by_name(pg.discover(pg.admin_url, timeout=1.0))["slow_view"]

    started = time.monotonic()
    with pytest.raises(DatasetTimeoutError) as raised:
        slow.sample(10)
    elapsed = time.monotonic() - started

    assert elapsed < 2.5
    assert f"view {pg.telematics}.slow_view" in str(raised.value)
    assert "57014" in str(raised.value)


@pytest.mark.postgres
def test_pg_unprivileged_table_access_denied(pg: PgSetup) -> None:
    items = pg.discover(pg.reader_url, exclude=("slow_view", "phone_as_int"))
    found = handles_by_name(items)

    with pytest.raises(AccessDeniedError) as raised:
        found["secret_keys"].sample(10)

    message = str(raised.value)
    assert f"table {pg.telematics}.secret_keys" in message
    assert "Grant" in message
    assert pg.reader_password not in message
    for name in ("app_user", "user_view", "trips"):
        assert found[name].sample(50).table.num_rows > 0


@pytest.mark.postgres
def test_pg_bytea_jsonb_arrays_convert(pg: PgSetup) -> None:
    user = handles_by_name(pg.discover(pg.admin_url))["app_user"]

    sample = user.sample(100)

    schema = sample.table.schema
    assert schema.field("photo").type == pa.binary()
    assert sample.table.column("photo")[0].as_py() == b"\x00\xff"
    assert schema.field("profile").type == pa.string()
    profile = json.loads(sample.table.column("profile")[0].as_py())
    assert profile["city"] == "上海"
    assert schema.field("created_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("score").type == pa.float64()
    assert schema.field("embedding").type == pa.list_(pa.float64())
    assert schema.field("tags").type == pa.string()
    assert sample.source_types["profile"] == "JSONB"
    assert sample.source_types["photo"] == "BYTEA"
    assert sample.source_types["score"] == "NUMERIC(10, 2)"


@pytest.mark.postgres
def test_pg_exotic_types_become_text(pg: PgSetup) -> None:
    user = handles_by_name(pg.discover(pg.admin_url))["app_user"]

    sample = user.sample(5)

    for column in ("location", "client_ip", "device", "trip_time"):
        assert sample.table.schema.field(column).type == pa.string()
    assert sample.table.column("client_ip")[0].as_py() == "10.0.0.1"
    assert sample.table.column("location")[0].as_py() == "(121.47,31.23)"
    assert sample.source_types["location"] == "point"
    assert sample.source_types["client_ip"] == "INET"


@pytest.mark.postgres
def test_pg_materialized_view_samples(pg: PgSetup) -> None:
    summary = handles_by_name(pg.discover(pg.admin_url))["user_count"]

    sample = summary.sample(10)

    assert sample.table.column("users").to_pylist() == [20]


@pytest.mark.postgres
def test_pg_error_message_masks_values(pg: PgSetup) -> None:
    view = handles_by_name(pg.discover(pg.admin_url))["phone_as_int"]

    with pytest.raises(DatasetError) as raised:
        view.sample(10)

    assert "13800130001" not in str(raised.value)
    assert "out of range" in str(raised.value)


@pytest.mark.postgres
def test_pg_password_absent_from_uris(pg: PgSetup) -> None:
    items = pg.discover(pg.reader_url)

    assert items
    for item in items:
        assert pg.reader_password not in item.uri
        assert ":***@" not in item.uri
        assert item.uri.startswith("postgresql+psycopg://cardex_reader_")


@pytest.mark.postgres
def test_pg_unreachable_server_yields_failure(pg: PgSetup) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = make_url(pg.reader_url).set(host="127.0.0.1", port=port)
    source = url.render_as_string(hide_password=False)

    (failure,) = discover(source, timeout=2.0)

    assert isinstance(failure, DatasetFailure)
    assert pg.reader_password not in failure.message
    assert pg.reader_password not in failure.uri
    assert "Listing the tables of" in failure.message
    assert "Check the URL" in failure.message


@pytest.mark.postgres
def test_pg_samples_run_concurrently(pg: PgSetup) -> None:
    found = handles_by_name(pg.discover(pg.admin_url))
    results: dict[str, int] = {}

    def sample(name: str) -> None:
        results[name] = found[name].sample(50).table.num_rows

    threads = [
        threading.Thread(target=sample, args=(n,)) for n in ("app_user", "trips")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == {"app_user": 20, "trips": 50}
