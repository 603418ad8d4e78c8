"""Split a cardex dataset URI into the parts catalogs name datasets by.

cardex names a file by its absolute path (or object-store URL) and a table
by the database URL without password followed by ``/schema/table``, with
``%``, ``/`` and ``?`` in the two names escaped (see ``connectors.sql``).
Column paths are dotted, with ``[]`` after a list (``owner.phones[]``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import unquote

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from scanner.model import LIST_SUFFIX, PATH_SEPARATOR
from scanner.writers.config import SourceMapping

# URL schemes of object stores and file systems, whose datasets are files.
FILE_SCHEMES = ("s3", "s3a", "gs", "gcs", "abfs", "abfss", "hdfs", "oss", "cos", "file")
# DataHub platform ids of the SQLAlchemy backends cardex scans.
SQL_PLATFORMS = {
    "postgresql": "postgres",
    "mysql": "mysql",
    "mariadb": "mariadb",
    "sqlite": "sqlite",
    "mssql": "mssql",
    "oracle": "oracle",
    "clickhouse": "clickhouse",
    "snowflake": "snowflake",
    "duckdb": "duckdb",
}


@dataclass(frozen=True)
class DatasetLocation:
    """The location of a dataset, in the terms catalogs use.

    For a table, ``database``, ``schema`` and ``table`` are set and ``path``
    is empty. For a file, ``path`` is its name below the mapping's prefix
    (with the mapping's ``name_prefix``), or its whole path without mapping.
    """

    uri: str
    backend: str
    database: str | None = None
    schema: str | None = None
    table: str | None = None
    path: str = ""
    mapping: SourceMapping | None = None

    @property
    def is_table(self) -> bool:
        return self.table is not None


def _scheme(uri: str) -> str:
    return uri.partition("://")[0].lower() if "://" in uri else ""


def locate(uri: str, mapping: SourceMapping | None) -> DatasetLocation:
    """Return the location of the dataset named by ``uri``."""
    scheme = _scheme(uri)
    if not scheme or scheme.partition("+")[0] in FILE_SCHEMES:
        return _locate_file(uri, scheme, mapping)
    return _locate_table(uri, mapping)


def _locate_file(
    uri: str, scheme: str, mapping: SourceMapping | None
) -> DatasetLocation:
    if mapping is not None:
        below = uri[len(mapping.prefix) :].lstrip("/")
        path = mapping.name_prefix + below
    elif scheme:
        path = uri.partition("://")[2]
    else:
        path = uri.lstrip("/")
    return DatasetLocation(
        uri=uri, backend=scheme or "file", path=path, mapping=mapping
    )


def _locate_table(uri: str, mapping: SourceMapping | None) -> DatasetLocation:
    database_url, schema, table = _split_relation(uri)
    try:
        url = make_url(database_url)
    except ArgumentError as exc:
        raise ValueError(f"{uri!r} is neither a file nor a table URI") from exc
    backend = url.get_backend_name()
    database = url.database
    if backend == "sqlite" and database:
        database = PurePosixPath(database).stem
    if mapping is not None:
        database = mapping.database or database
        schema = mapping.schema_name or schema
    return DatasetLocation(
        uri=uri,
        backend=backend,
        database=database,
        schema=schema,
        table=table,
        mapping=mapping,
    )


def _split_relation(uri: str) -> tuple[str, str, str]:
    """Split a table URI into its database URL, schema and table names."""
    database_url, _, table = uri.rpartition("/")
    database_url, _, schema = database_url.rpartition("/")
    if not database_url or not table:
        raise ValueError(f"{uri!r} does not end in /schema/table")
    return database_url, unquote(schema), unquote(table)


def field_names(column: str) -> list[str]:
    """Split a cardex column path into field names, dropping list markers.

    ``owner.phones[].number`` becomes ``["owner", "phones", "number"]``.
    """
    return [
        part.removesuffix(LIST_SUFFIX) for part in column.split(PATH_SEPARATOR) if part
    ]
