"""Connector for SQL databases reachable through SQLAlchemy.

A source is a SQLAlchemy URL (``sqlite:///app.db``,
``postgresql://user@host/db``, ``mysql+pymysql://...``). ``discover`` lists
the tables, views and materialized views of every non-system schema and
reflects their columns. Each becomes a ``SqlTableHandle``, whose ``sample``
reads rows spread over the table into Arrow. How each database samples, and
how it keeps every query read-only and bounded by ``options.timeout``, lives
in ``connectors.sql_dialects``.

Driver errors are translated into ``scanner.errors`` by ``translate_error``
only. Dataset URIs and error messages never contain the URL's password.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import sqlite3
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import quote, quote_plus

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.types import TypeEngine

from connectors.base import Connector, DiscoveryOptions
from connectors.sql_dialects import Relation, RowBatch, SqlDialect, dialect_for
from scanner.errors import (
    AccessDeniedError,
    CardexError,
    DatasetError,
    DatasetTimeoutError,
    MissingExtraError,
    UnknownSourceError,
    UnreadableFormatError,
    UsageError,
)
from scanner.masking import redact_text
from scanner.model import (
    DatasetFailure,
    DatasetHandle,
    DatasetKind,
    Fingerprint,
    Sample,
)

logger = logging.getLogger(__name__)

# URL schemes of object stores, file systems and web servers. They are not
# databases, although SQLAlchemy's URL parser accepts them as dialect names.
NON_SQL_SCHEMES = frozenset(
    {
        "s3", "s3a", "gs", "gcs", "abfs", "abfss", "az", "adl", "hdfs",
        "webhdfs", "file", "iceberg", "http", "https", "ftp", "sftp", "memory",
        "oss", "cos", "obs",
    }
)  # fmt: skip

# Drivers used when a URL names only the database family.
DEFAULT_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}

# Driver package -> (extra that installs it, what needs it).
DRIVER_EXTRAS = {
    "psycopg": ("postgres", "Scanning PostgreSQL"),
    "pymysql": ("mysql", "Scanning MySQL"),
}

# Query parameters that may carry a secret. Their values are scrubbed from
# messages, like the password.
SECRET_QUERY_KEYS = frozenset(
    {"password", "passwd", "pwd", "sslpassword", "secret", "token", "access_token"}
)

SCRUBBED = "***"

UNKNOWN_TYPE = "unknown"

# Warning text SQLAlchemy emits for a column type it cannot map.
_UNRECOGNIZED_TYPE = re.compile(
    r"Did not recognize type '(?P<type>[^']+)' of (?:column )?'(?P<column>[^']+)'"
)


@dataclass(frozen=True)
class SqlSource:
    """A parsed source: the URL to connect with and what must stay hidden."""

    url: URL
    public_uri: str
    secrets: tuple[str, ...]

    def relation_uri(self, relation: Relation) -> str:
        return (
            f"{self.public_uri}/{_uri_part(relation.schema)}/{_uri_part(relation.name)}"
        )


@dataclass(frozen=True)
class SqlColumn:
    """A reflected column: its SQLAlchemy type and the type as the source names it."""

    name: str
    sql_type: TypeEngine[Any]
    source_type: str


class SqlConnector(Connector):
    """Finds the tables and views of a database named by a SQLAlchemy URL."""

    name = "sql"

    def accepts(self, source: str) -> bool:
        try:
            url = make_url(source)
        except (sa.exc.ArgumentError, ValueError):
            return False
        backend = url.drivername.partition("+")[0].lower()
        return bool(backend) and backend not in NON_SQL_SCHEMES

    def discover(
        self, source: str, options: DiscoveryOptions
    ) -> Iterator[SqlTableHandle | DatasetFailure]:
        """Yield a handle per selected table or view, or failures.

        A source that cannot be reached or listed yields one failure with the
        source's URI; a table whose columns cannot be read yields a failure of
        its own. A missing driver package or an unusable URL raises
        ``UsageError`` (``MissingExtraError`` for a missing extra).
        """
        if not 0 < options.timeout < math.inf:
            raise UsageError(
                f"timeout must be a positive number of seconds, got {options.timeout}"
            )
        target = parse_source(source)
        dialect = dialect_for(target.url)
        engine = _create_engine(dialect, target, options.timeout)

        found = list(_discover(engine, dialect, target, options))
        failed = sum(isinstance(item, DatasetFailure) for item in found)
        logger.info(
            "found %d tables and views in %s (%d failed)",
            len(found) - failed,
            target.public_uri,
            failed,
        )
        yield from found


class SqlTableHandle(DatasetHandle):
    """One table or view of a database, ready to sample."""

    kind: DatasetKind = "table"

    def __init__(
        self,
        *,
        source: SqlSource,
        relation: Relation,
        columns: Sequence[SqlColumn],
        engine: Engine,
        dialect: SqlDialect,
        timeout: float,
    ) -> None:
        self.uri = source.relation_uri(relation)
        self.name = relation.name
        self.relation = relation
        self.columns = tuple(columns)
        self._source = source
        self._engine = engine
        self._dialect = dialect
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"SqlTableHandle({self.uri!r}, {self.relation.kind})"

    def sample(self, rows: int) -> Sample:
        if rows <= 0:
            raise UsageError(f"rows must be a positive number, got {rows}")

        secrets = self._source.secrets
        with translating(
            "Sampling", self.relation.label, secrets, self._timeout, "table"
        ):
            batch = self._fetch(rows)

        sql_types = {column.name: column.sql_type for column in self.columns}
        table, notes = rows_to_arrow(batch.columns, batch.rows, sql_types)
        logger.info(
            "sampled %d rows from %s with %s", table.num_rows, self.uri, batch.method
        )
        return Sample(
            table=table,
            source_types={column.name: column.source_type for column in self.columns},
            total_rows=batch.total_rows,
            notes=[f"sampled with {batch.method}", *batch.notes, *notes],
            format=self._engine.dialect.name,
        )

    def _fetch(self, rows: int) -> RowBatch:
        names = [column.name for column in self.columns]
        with (
            self._engine.connect() as connection,
            self._dialect.read_only(connection, self._timeout),
        ):
            return self._dialect.sample(connection, self.relation, names, rows)

    def fingerprint(self) -> Fingerprint:
        """Return a hash of the columns and, where it is cheap, change markers.

        SQLite: the size and modified time of the database file and its
        write-ahead log, so a write to any table changes every table's
        fingerprint. PostgreSQL tables and materialized views: the relation
        size, file node and the insert, update and delete counters of
        ``pg_stat_all_tables``. Neither reads a row. Views and other
        databases get only the column hash, so ``--changed-only`` always
        classifies them again.
        """
        described = "\n".join(f"{c.name}\t{c.source_type}" for c in self.columns)
        schema_hash = hashlib.sha256(described.encode("utf-8")).hexdigest()[:16]
        size, snapshot = None, None
        try:
            if self._engine.dialect.name == "sqlite":
                size, snapshot = self._sqlite_markers()
            elif self._engine.dialect.name == "postgresql":
                size, snapshot = self._postgres_markers()
        except (OSError, sa.exc.SQLAlchemyError) as exc:
            logger.info(
                "no change markers for %s (%s); it will be classified again",
                self.uri,
                type(exc).__name__,
            )
        return Fingerprint(size=size, snapshot=snapshot, schema_hash=schema_hash)

    def _sqlite_markers(self) -> tuple[int | None, str | None]:
        database = self._engine.url.database or ""
        files = []
        for path in (database, database + "-wal"):
            if os.path.exists(path):
                status = os.stat(path)
                files.append((status.st_size, status.st_mtime_ns))
        if not files:
            return None, None
        return files[0][0], "sqlite-file:" + json.dumps(files)

    def _postgres_markers(self) -> tuple[int | None, str | None]:
        """Read the relation's size and statistics counters.

        NOTE: PostgreSQL publishes a session's statistics counters with a
        delay, estimated at up to about a second. A write committed just
        before the scan may therefore be missed until the next scan.
        """
        if self.relation.kind == "view":
            return None, None
        with (
            self._engine.connect() as connection,
            self._dialect.read_only(connection, self._timeout),
        ):
            row = connection.execute(
                sa.text(
                    "SELECT pg_catalog.pg_relation_size(c.oid) AS size, "
                    "c.relfilenode, s.n_tup_ins, s.n_tup_upd, s.n_tup_del "
                    "FROM pg_catalog.pg_class c "
                    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                    "LEFT JOIN pg_catalog.pg_stat_all_tables s ON s.relid = c.oid "
                    "WHERE n.nspname = :schema AND c.relname = :name"
                ),
                {"schema": self.relation.schema, "name": self.relation.name},
            ).first()
        if row is None or row.n_tup_ins is None:
            return None, None
        counters = (row.relfilenode, row.n_tup_ins, row.n_tup_upd, row.n_tup_del)
        return row.size, "pg-stat:" + ":".join(str(value) for value in counters)


def parse_source(source: str) -> SqlSource:
    """Parse a source URL, choosing the default driver for its database family.

    SQLite paths are made absolute. Raises ``UsageError`` for a URL that does
    not parse or names an in-memory SQLite database.
    """
    try:
        url = make_url(source)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise UsageError(
            f"{redact_text(str(exc))}; a SQL source is a SQLAlchemy URL such as "
            "postgresql://user@host:5432/db or sqlite:////path/to/app.db"
        ) from None

    default = DEFAULT_DRIVERS.get(url.drivername)
    if default is not None:
        url = url.set(drivername=default)
    if url.drivername.partition("+")[0] == "sqlite":
        url = _absolute_sqlite(url)

    secrets = [url.password or ""]
    for key, values in url.query.items():
        if key.lower() in SECRET_QUERY_KEYS:
            secrets += [values] if isinstance(values, str) else list(values)
    return SqlSource(
        url=url,
        public_uri=public_uri(url),
        secrets=tuple(secret for secret in secrets if secret),
    )


def public_uri(url: URL) -> str:
    """Render the URL without password and query, to name datasets by."""
    bare = URL.create(
        url.drivername,
        username=url.username,
        host=url.host,
        port=url.port,
        database=url.database,
    )
    return bare.render_as_string(hide_password=False)


def _absolute_sqlite(url: URL) -> URL:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        raise UsageError(
            f"'{public_uri(url)}' does not name a SQLite database file; give its "
            "path, for example sqlite:///relative/app.db or sqlite:////abs/app.db"
        )
    return url.set(database=os.path.abspath(os.path.expanduser(database)))


def _uri_part(name: str) -> str:
    # Only the characters that would change how the URI splits are escaped,
    # so that names in Chinese stay readable.
    return name.replace("%", "%25").replace("/", "%2F").replace("?", "%3F")


def _create_engine(dialect: SqlDialect, target: SqlSource, timeout: float) -> Engine:
    try:
        return dialect.create_engine(target.url, timeout)
    except sa.exc.NoSuchModuleError:
        backend = target.url.drivername
        raise UnknownSourceError(
            f"No SQLAlchemy dialect named '{backend}' is installed, so "
            f"{target.public_uri} cannot be scanned; install the package that "
            "provides it, or check the spelling of the URL scheme"
        ) from None
    except ImportError as exc:
        raise _missing_driver(target, exc) from exc
    except sa.exc.ArgumentError as exc:
        raise UsageError(
            f"Invalid SQL source {target.public_uri}: {_scrub(str(exc), target)}"
        ) from None


def _missing_driver(target: SqlSource, exc: ImportError) -> CardexError:
    package = (exc.name or "").partition(".")[0]
    if package in DRIVER_EXTRAS:
        extra, purpose = DRIVER_EXTRAS[package]
        return MissingExtraError(package, extra, purpose)
    return UsageError(
        f"Scanning {target.public_uri} needs the driver package "
        f"'{package or target.url.drivername}', which is not installed; install "
        "it with pip, or name an installed driver in the URL scheme"
    )


def _discover(
    engine: Engine, dialect: SqlDialect, target: SqlSource, options: DiscoveryOptions
) -> Iterator[SqlTableHandle | DatasetFailure]:
    """Yield a handle or a failure per selected relation, or one source failure."""
    try:
        with (
            translating(
                "Listing the tables of",
                target.public_uri,
                target.secrets,
                options.timeout,
                "source",
            ),
            engine.connect() as connection,
        ):
            relations = _list_relations(connection, dialect, target.url, options)
            for relation in relations:
                yield _inspect_relation(
                    connection, engine, dialect, target, relation, options
                )
    except DatasetError as error:
        logger.warning("could not list %s: %s", target.public_uri, error)
        yield DatasetFailure(target.public_uri, error.reason, str(error))


def _list_relations(
    connection: Connection, dialect: SqlDialect, url: URL, options: DiscoveryOptions
) -> list[Relation]:
    with dialect.read_only(connection, options.timeout):
        inspector = sa.inspect(connection)
        relations = [
            relation
            for schema in dialect.list_schemas(inspector, url)
            for relation in dialect.list_relations(inspector, schema)
        ]
    return [relation for relation in relations if is_selected(relation, options)]


def is_selected(relation: Relation, options: DiscoveryOptions) -> bool:
    """Tell whether the include and exclude globs keep the relation.

    Each glob is matched against ``schema.table`` and against the bare table
    name, case-sensitively.
    """
    names = (relation.qualified_name, relation.name)

    def matches(patterns: Sequence[str]) -> bool:
        return any(fnmatchcase(name, pattern) for name in names for pattern in patterns)

    if options.include and not matches(options.include):
        return False
    return not matches(options.exclude)


def _inspect_relation(
    connection: Connection,
    engine: Engine,
    dialect: SqlDialect,
    target: SqlSource,
    relation: Relation,
    options: DiscoveryOptions,
) -> SqlTableHandle | DatasetFailure:
    uri = target.relation_uri(relation)
    try:
        with (
            translating(
                "Reading the columns of",
                relation.label,
                target.secrets,
                options.timeout,
                "table",
            ),
            dialect.read_only(connection, options.timeout),
        ):
            columns = reflect_columns(connection, relation, engine)
    except DatasetError as error:
        logger.warning("could not inspect %s: %s", uri, error)
        return DatasetFailure(uri, error.reason, str(error))
    return SqlTableHandle(
        source=target,
        relation=relation,
        columns=columns,
        engine=engine,
        dialect=dialect,
        timeout=options.timeout,
    )


def reflect_columns(
    connection: Connection, relation: Relation, engine: Engine
) -> list[SqlColumn]:
    """Reflect the relation's columns with their types as the source names them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", sa.exc.SAWarning)
        reflected = sa.inspect(connection).get_columns(
            relation.name, schema=relation.schema
        )
    # SQLAlchemy maps a type it does not know (PostGIS geometry, a custom
    # type) to NullType and names the real type only in its warning.
    unrecognized = {}
    for warning in caught:
        found = _UNRECOGNIZED_TYPE.search(str(warning.message))
        if found:
            unrecognized[found["column"]] = found["type"]
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )

    return [
        SqlColumn(
            name=column["name"],
            sql_type=column["type"],
            source_type=unrecognized.get(column["name"])
            or _type_name(column["type"], engine),
        )
        for column in reflected
    ]


def _type_name(sql_type: TypeEngine[Any], engine: Engine) -> str:
    if isinstance(sql_type, sa.types.NullType):
        return UNKNOWN_TYPE
    try:
        return str(sql_type.compile(dialect=engine.dialect))
    except (sa.exc.CompileError, NotImplementedError):
        return type(sql_type).__name__


# ---------------------------------------------------------------------------
# Error translation: the one place where driver errors become cardex errors.

# SQLSTATE codes (PostgreSQL and the SQL standard).
_SQLSTATE_ACCESS_DENIED = ("42501",)  # insufficient_privilege
_SQLSTATE_ACCESS_CLASSES = ("28",)  # invalid authorization specification
_SQLSTATE_TIMEOUT = ("57014", "55P03")  # query_canceled, lock_not_available
# MySQL and MariaDB error numbers.
_MYSQL_ACCESS_DENIED = frozenset({1044, 1045, 1142, 1143, 1227})
_MYSQL_TIMEOUT = frozenset({3024, 1317, 1969})  # time limit, interrupted
# Fragments of driver messages without a code (SQLite, connection errors).
# SQLite reports "interrupted" when the progress handler stops a statement,
# and "database is locked" when another process held a lock for longer than
# the busy timeout, which is the scan timeout too.
_TIMEOUT_TEXT = ("interrupted", "timeout", "timed out", "database is locked")
_ACCESS_TEXT = ("permission denied", "access denied", "not authorized")
_UNREADABLE_TEXT = ("file is not a database", "database disk image is malformed")

_HINTS: dict[tuple[str, type[DatasetError]], str] = {
    ("source", DatasetError): (
        "Check the URL, the credentials and that the server is reachable."
    ),
    ("source", AccessDeniedError): (
        "Check the user name and password, and that the account may connect "
        "and read the catalog."
    ),
    ("table", DatasetError): "Check that the table still exists and can be read.",
    ("table", AccessDeniedError): (
        "Grant the scanning account SELECT on it and USAGE on its schema, or "
        "leave it out with an exclude pattern."
    ),
    (
        "source",
        UnreadableFormatError,
    ): "Check that the file is an intact SQLite database.",
    (
        "table",
        UnreadableFormatError,
    ): "Check that the file is an intact SQLite database.",
}


@contextmanager
def translating(
    action: str,
    target: str,
    secrets: Sequence[str],
    timeout: float,
    scope: str,
) -> Iterator[None]:
    """Translate driver and SQLAlchemy errors raised in the block.

    ``scope`` is "source" or "table" and picks the advice in the message.
    """
    try:
        yield
    except (sa.exc.SQLAlchemyError, sqlite3.Error) as exc:
        error = translate_error(exc, action, target, secrets, timeout, scope)
        # The chain is cut on purpose: the driver's exception can quote row
        # values and the SQL, and the translated message keeps its class,
        # SQLSTATE and masked text.
        raise error from None


def translate_error(
    exc: BaseException,
    action: str,
    target: str,
    secrets: Sequence[str],
    timeout: float,
    scope: str = "table",
) -> DatasetError:
    """Return the cardex error for a driver or SQLAlchemy exception.

    The message names the action and its target, gives the driver's first
    line with secrets scrubbed and values masked, and ends with what to do.
    """
    original = getattr(exc, "orig", None) or exc
    error_class = classify_error(original)

    first_line = (str(original).strip().splitlines() or [""])[0]
    detail = redact_text(_scrub_secrets(first_line, secrets), limit=300)
    code = _sqlstate(original)
    origin = type(original).__name__ + (f", SQLSTATE {code}" if code else "")

    if error_class is DatasetTimeoutError:
        hint = (
            f"Raise the timeout (now {timeout:g} s) or leave it out with an "
            "exclude pattern."
        )
    else:
        hint = _HINTS.get((scope, error_class)) or _HINTS[(scope, DatasetError)]
    return error_class(f"{action} {target} failed: {detail} ({origin}). {hint}")


def classify_error(original: BaseException) -> type[DatasetError]:
    """Pick the ``DatasetError`` subclass for a driver exception.

    A SQLSTATE or MySQL error number decides when the driver gives one. The
    message text decides only for errors without a code, such as SQLite's and
    failures to connect.
    """
    code = _sqlstate(original)
    if code:
        if code in _SQLSTATE_ACCESS_DENIED or code.startswith(_SQLSTATE_ACCESS_CLASSES):
            return AccessDeniedError
        if code in _SQLSTATE_TIMEOUT:
            return DatasetTimeoutError
        return DatasetError

    number = _mysql_error_number(original)
    if number is not None:
        if number in _MYSQL_ACCESS_DENIED:
            return AccessDeniedError
        if number in _MYSQL_TIMEOUT:
            return DatasetTimeoutError
        return DatasetError

    text = str(original).lower()
    if any(fragment in text for fragment in _TIMEOUT_TEXT):
        return DatasetTimeoutError
    if any(fragment in text for fragment in _ACCESS_TEXT):
        return AccessDeniedError
    if any(fragment in text for fragment in _UNREADABLE_TEXT):
        return UnreadableFormatError
    return DatasetError


def _sqlstate(original: BaseException) -> str | None:
    # psycopg 3 names it sqlstate, psycopg2 pgcode.
    code = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return code if isinstance(code, str) else None


def _mysql_error_number(original: BaseException) -> int | None:
    # PyMySQL and mysqlclient put the server's error number first in args.
    args = getattr(original, "args", ())
    if args and isinstance(args[0], int) and not isinstance(args[0], bool):
        return args[0]
    return None


def _scrub_secrets(text: str, secrets: Sequence[str]) -> str:
    """Replace each secret, raw or URL-encoded, with ``***``."""
    for secret in secrets:
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            text = text.replace(form, SCRUBBED)
    return text


def _scrub(text: str, target: SqlSource) -> str:
    return redact_text(_scrub_secrets(text, target.secrets))


# ---------------------------------------------------------------------------
# Conversion of fetched rows to Arrow.

# Arrow type of an all-null or empty column, by the kind of its SQL type.
_EMPTY_TYPES: dict[str, pa.DataType] = {
    "int": pa.int64(),
    "float": pa.float64(),
    "decimal": pa.float64(),
    "bool": pa.bool_(),
    "binary": pa.binary(),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
    "time": pa.time64("us"),
}

_CONVERSION_ERRORS = (pa.ArrowException, TypeError, ValueError, OverflowError)


def rows_to_arrow(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    sql_types: Mapping[str, TypeEngine[Any]],
) -> tuple[pa.Table, list[str]]:
    """Build an Arrow table from fetched rows; return it with conversion notes.

    Integers become int64, floats float64, decimals int64 when every value is
    whole (text when too large, to keep every digit) or float64 otherwise.
    JSON values become JSON text, binary stays binary, one-dimensional
    numeric arrays become list<float64>, and other arrays and exotic values
    (UUID, intervals, network addresses) become text. A column whose values
    do not fit one Arrow type is kept as text, with a note.
    """
    arrays: list[pa.Array] = []
    notes: list[str] = []
    for index, name in enumerate(columns):
        values = [row[index] for row in rows]
        array, as_text = column_to_arrow(values, sql_types.get(name))
        arrays.append(array)
        if as_text:
            notes.append(
                f"column {name}: values of mixed or oversized types kept as text"
            )
    return pa.Table.from_arrays(arrays, names=list(columns)), notes


def column_to_arrow(
    values: Sequence[Any], sql_type: TypeEngine[Any] | None
) -> tuple[pa.Array, bool]:
    """Convert one column; the flag is True when it fell back to text."""
    kind = _type_kind(sql_type)
    if kind == "json":
        texts = [None if value is None else _json_text(value) for value in values]
        return pa.array(texts, pa.string()), False

    plain = [_plain_value(value) for value in values]
    present = [value for value in plain if value is not None]
    if not present:
        return pa.nulls(len(plain), _EMPTY_TYPES.get(kind, pa.string())), False
    try:
        return _typed_array(plain, present, kind), False
    except _CONVERSION_ERRORS:
        return pa.array([_text(value) for value in plain], pa.string()), True


def _type_kind(sql_type: TypeEngine[Any] | None) -> str:
    checks: list[tuple[type[TypeEngine[Any]], str]] = [
        (sa.JSON, "json"),
        (sa.ARRAY, "array"),
        (sa.Boolean, "bool"),
        (sa.Integer, "int"),
        (sa.Float, "float"),
        (sa.Numeric, "decimal"),
        (sa.DateTime, "timestamp"),
        (sa.Date, "date"),
        (sa.Time, "time"),
        (sa.LargeBinary, "binary"),
        (sa.BINARY, "binary"),
        (sa.VARBINARY, "binary"),
        (sa.String, "string"),
    ]
    for type_class, kind in checks:
        if isinstance(sql_type, type_class):
            if kind == "timestamp" and getattr(sql_type, "timezone", False):
                return "timestamptz"
            return kind
    return "other"


def _typed_array(plain: list[Any], present: list[Any], kind: str) -> pa.Array:
    if all(isinstance(value, Decimal) for value in present):
        return _decimal_array(plain, present)
    if all(isinstance(value, datetime) for value in present):
        aware = {value.tzinfo is not None for value in present}
        if len(aware) > 1:
            raise TypeError("naive and time-zone aware timestamps in one column")
        return pa.array(plain, pa.timestamp("us", tz="UTC" if aware.pop() else None))
    if kind in ("timestamp", "timestamptz", "date") and all(
        isinstance(value, str) for value in present
    ):
        return _parsed_temporal(plain, kind)
    return pa.array(plain)


def _decimal_array(plain: list[Any], present: list[Decimal]) -> pa.Array:
    if all(
        value.is_finite() and value == value.to_integral_value() for value in present
    ):
        return pa.array([None if v is None else int(v) for v in plain], pa.int64())
    return pa.array([None if v is None else float(v) for v in plain], pa.float64())


def _parsed_temporal(plain: list[Any], kind: str) -> pa.Array:
    """Parse ISO 8601 text (SQLite stores dates as text); keep text otherwise."""
    texts = pa.array(plain, pa.string())
    targets = {
        "date": [pa.date32()],
        "timestamp": [pa.timestamp("us"), pa.timestamp("us", tz="UTC")],
        "timestamptz": [pa.timestamp("us", tz="UTC"), pa.timestamp("us")],
    }[kind]
    for target in targets:
        try:
            return texts.cast(target)
        except pa.ArrowException:
            continue
    return texts


def _plain_value(value: Any) -> Any:
    """Return the value as a type Arrow infers well."""
    if value is None or isinstance(
        value, (bool, int, float, str, bytes, Decimal, datetime, date, time)
    ):
        return value
    if isinstance(value, (memoryview, bytearray)):
        return bytes(value)
    if isinstance(value, (list, tuple)):
        numbers = _numeric_list(value)
        return numbers if numbers is not None else _json_text(value)
    if isinstance(value, dict):
        return _json_text(value)
    return str(value)


def _numeric_list(values: Sequence[Any]) -> list[float | None] | None:
    """Return a flat list of numbers as floats (an embedding), else None."""
    numeric = (int, float, Decimal)
    if not values or not all(
        value is None or (isinstance(value, numeric) and not isinstance(value, bool))
        for value in values
    ):
        return None
    return [None if value is None else float(value) for value in values]


def _json_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list):
        return json.dumps(value)
    return str(value)
