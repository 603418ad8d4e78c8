"""Apache Iceberg tables: the data files of the current snapshot, read as one.

A table is opened from a catalog (``iceberg://CATALOG_URI#namespace.table``)
or from its newest metadata file when a folder or prefix with a
``metadata/`` folder is found. ``pyiceberg`` plans the current snapshot's
data files from its manifests; the sample reads a spread of those files. The
snapshot id is the fingerprint's snapshot.

NOTE: delete files (row-level deletes of format version 2) are not applied,
so a sample may contain deleted rows. The sample notes state this.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from connectors.files.content import ByteSource, LocalFile, ReadContext
from connectors.files.handles import PartitionFile
from connectors.objectstore.handles import FileSetDataset, remote_opener
from connectors.objectstore.store import ObjectStore, open_store
from scanner.errors import (
    DatasetError,
    MissingExtraError,
    UnreadableFormatError,
    UnsupportedError,
    UsageError,
)
from scanner.masking import public_url, redact_text
from scanner.model import DatasetFailure

logger = logging.getLogger(__name__)

SCHEME = "iceberg://"
METADATA_SUFFIX = ".metadata.json"
VERSION_HINT = "version-hint.text"
DEFAULT_CATALOG = "default"
# Tables in which pyiceberg's SQL catalog stores its table list and namespaces.
SQL_CATALOG_TABLES = ("iceberg_tables", "iceberg_namespace_properties")
# ``v3.metadata.json`` (file-system tables) or ``00002-<uuid>.metadata.json``
# (catalog tables): the leading number orders the versions.
_METADATA_VERSION = re.compile(r"v?(\d+)")


def _require_pyiceberg() -> None:
    try:
        import pyiceberg  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError(
            "pyiceberg", "iceberg", "Reading Iceberg tables"
        ) from exc


def newest_metadata(names: list[str], hint: str | None) -> str | None:
    """Return the newest ``*.metadata.json`` name, preferring the version hint."""
    candidates = [name for name in names if name.endswith(METADATA_SUFFIX)]
    if hint is not None and f"v{hint.strip()}{METADATA_SUFFIX}" in candidates:
        return f"v{hint.strip()}{METADATA_SUFFIX}"

    def version(name: str) -> int:
        match = _METADATA_VERSION.match(name)
        return int(match.group(1)) if match else -1

    return max(candidates, key=lambda name: (version(name), name), default=None)


def iceberg_from_metadata(
    metadata_location: str,
    timeout: float,
    store: ObjectStore | None = None,
    name: str | None = None,
) -> FileSetDataset:
    """Open the table whose newest metadata file is ``metadata_location``.

    ``metadata_location`` is a local path, or a URL inside ``store``.
    """
    _require_pyiceberg()
    from pyiceberg.table import StaticTable

    properties = store.iceberg_properties if store is not None else {}
    try:
        table = StaticTable.from_metadata(metadata_location, properties)
    except Exception as exc:  # noqa: BLE001 - pyiceberg raises many error types
        raise _unreadable(metadata_location, exc, store) from None
    return _table_dataset(table, name or _table_uri(metadata_location), timeout, store)


def _table_uri(metadata_location: str) -> str:
    """Return the table folder of a metadata file (the parent of ``metadata/``)."""
    return metadata_location.rsplit("/metadata/", 1)[0]


def _table_dataset(
    table: Any, uri: str, timeout: float, store: ObjectStore | None
) -> FileSetDataset:
    snapshot = table.current_snapshot()
    files: list[PartitionFile] = []
    sizes: dict[str, tuple[int, float | None]] = {}
    with_deletes = 0
    if snapshot is not None:
        home = _store_of(table.metadata_location)
        try:
            _check_in_store(snapshot.manifest_list, "manifest list", home, uri)
            for manifest in snapshot.manifests(table.io):
                _check_in_store(manifest.manifest_path, "manifest", home, uri)
            tasks = list(table.scan().plan_files())
        except UnsupportedError:
            raise
        except Exception as exc:  # noqa: BLE001 - manifests may fail in many ways
            raise _unreadable(uri, exc, store) from None
        for task in tasks:
            path = task.file.file_path
            _check_in_store(path, "data file", home, uri)
            files.append(PartitionFile(path, ()))
            sizes[path] = (task.file.file_size_in_bytes, None)
            with_deletes += bool(task.delete_files)

    dataset = FileSetDataset(uri, files, timeout, _opener(store), sizes)
    snapshot_id = snapshot.snapshot_id if snapshot is not None else None
    dataset.snapshot = f"iceberg-snapshot:{snapshot_id}"
    dataset.description = (
        f"Iceberg table at snapshot {snapshot_id}: {len(files)} data files"
    )
    if with_deletes:
        dataset.description += (
            f"; {with_deletes} files have delete files, which are not applied, so "
            "the sample may include deleted rows"
        )
    logger.info("found the Iceberg table %s at snapshot %s", uri, snapshot_id)
    return dataset


def _store_of(location: str) -> tuple[str, str]:
    """Return the scheme and bucket of a location; local paths are ``file``."""
    parts = urlsplit(location)
    scheme = parts.scheme.lower()
    if scheme in ("", "file"):
        return "file", ""
    if scheme in ("s3a", "s3n"):
        scheme = "s3"
    return scheme, parts.netloc


def _check_in_store(path: str, kind: str, home: tuple[str, str], uri: str) -> None:
    """Raise ``UnsupportedError`` when ``path`` is outside the table's store.

    A table's metadata could otherwise make the scan read the scanning
    host's disk, or another bucket, and file what it finds under the table.
    """
    if _store_of(path) == home:
        return
    scheme, bucket = home
    where = "the local file system" if scheme == "file" else f"{scheme}://{bucket}"
    raise UnsupportedError(
        f"the Iceberg table {public_url(uri)} lists the {kind} {public_url(path)}, "
        f"which is outside the table's store ({where}); cardex reads only files "
        "in the store that holds the table's metadata"
    )


def _opener(store: ObjectStore | None):  # type: ignore[no-untyped-def]
    """Return an opener for the absolute file URIs an Iceberg manifest lists."""
    remote = remote_opener(store) if store is not None else None

    def open_data_file(path: str, context: ReadContext) -> ByteSource:
        parts = urlsplit(path)
        if parts.scheme in ("", "file"):
            return LocalFile(unquote(parts.path) if parts.scheme else path, context)
        if remote is None or parts.scheme not in ("s3", "s3a", "s3n"):
            raise UnsupportedError(
                f"the Iceberg data file {public_url(path)} is in {parts.scheme}://, "
                "which cardex reads only when the table was found there"
            )
        return remote(f"{parts.netloc}{parts.path}", context)

    return open_data_file


def _unreadable(
    where: str, exc: BaseException, store: ObjectStore | None
) -> UnreadableFormatError:
    message = f"{type(exc).__name__}: {exc}"
    message = store.scrub(message) if store is not None else redact_text(message)
    return UnreadableFormatError(
        f"could not read the Iceberg table at {public_url(where)} ({message}); "
        "check the table's metadata and rerun"
    )


def split_catalog_source(source: str) -> tuple[str, str, str | None]:
    """Split ``iceberg://CATALOG_URI#[NAME:]namespace.table``.

    Returns the catalog URI, the catalog name (``default`` unless ``NAME:``
    is given; SQL catalogs keep tables per name) and the identifier.
    """
    rest = source[len(SCHEME) :]
    catalog_uri, _, fragment = rest.rpartition("#") if "#" in rest else (rest, "", "")
    if not catalog_uri:
        raise UsageError(
            "an Iceberg source needs a catalog URI, such as "
            "iceberg://sqlite:////data/catalog.db#namespace.table"
        )
    name, separator, identifier = fragment.partition(":")
    if not separator:
        name, identifier = DEFAULT_CATALOG, fragment
    return catalog_uri, name or DEFAULT_CATALOG, identifier or None


def discover_catalog(
    source: str, timeout: float, endpoint_url: str | None
) -> Iterator[FileSetDataset | DatasetFailure]:
    """Yield the tables an Iceberg catalog lists under the source's identifier.

    Without an identifier every table of every namespace is yielded; with a
    namespace, that namespace's tables; with ``namespace.table``, that table.
    """
    _require_pyiceberg()
    catalog_uri, catalog_name, identifier = split_catalog_source(source)
    catalog = _load_catalog(catalog_uri, catalog_name)
    store = _s3_store(endpoint_url, timeout)
    for table_id in _table_ids(catalog, identifier):
        prefix = "" if catalog_name == DEFAULT_CATALOG else f"{catalog_name}:"
        name = f"{SCHEME}{public_url(catalog_uri)}#{prefix}{'.'.join(table_id)}"
        try:
            table = catalog.load_table(table_id)
            yield _table_dataset(table, name, timeout, store)
        except DatasetError as exc:
            yield DatasetFailure(uri=name, reason=exc.reason, message=str(exc))
        except Exception as exc:  # noqa: BLE001 - catalog drivers vary
            error = _unreadable(name, exc, store)
            yield DatasetFailure(uri=name, reason=error.reason, message=str(error))


def _load_catalog(catalog_uri: str, name: str) -> Any:
    from pyiceberg.catalog import load_catalog

    scheme = catalog_uri.split(":", 1)[0].lower()
    if scheme in ("http", "https"):
        properties = {"type": "rest", "uri": catalog_uri}
    else:
        # pyiceberg's SQL catalog creates its tables on open unless
        # init_catalog_tables is false, and a scan must never write to a source.
        properties = {
            "type": "sql",
            "uri": _read_only_sql_uri(catalog_uri),
            "init_catalog_tables": "false",
        }
    try:
        catalog = load_catalog(name, **properties)
    except Exception as exc:  # noqa: BLE001 - catalog drivers vary
        raise _catalog_failure(catalog_uri, exc) from None
    from pyiceberg.catalog.sql import SqlCatalog

    if isinstance(catalog, SqlCatalog):
        try:
            _check_sql_catalog_tables(catalog.engine, catalog_uri)
        except Exception as exc:  # noqa: BLE001 - catalog drivers vary
            catalog.engine.dispose()
            if isinstance(exc, UsageError):
                raise
            raise _catalog_failure(catalog_uri, exc) from None
    return catalog


def _catalog_failure(catalog_uri: str, exc: Exception) -> UsageError:
    return UsageError(
        f"could not open the Iceberg catalog {public_url(catalog_uri)} "
        f"({type(exc).__name__}: {redact_text(str(exc), limit=200)}); check "
        "the catalog URI"
    )


def _read_only_sql_uri(catalog_uri: str) -> str:
    """Return an SQLite catalog URI that opens the file read-only.

    Other databases are returned unchanged. Raises ``UsageError`` when the
    SQLite file does not exist, because opening it would create it.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(catalog_uri)
    except ArgumentError:
        return catalog_uri
    if url.get_backend_name() != "sqlite":
        return catalog_uri
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        raise UsageError(
            f"the Iceberg catalog {public_url(catalog_uri)} names no SQLite file; "
            "use iceberg://sqlite:////path/to/catalog.db#namespace.table"
        )
    if not os.path.isfile(database):
        raise UsageError(
            f"the Iceberg catalog file {database} was not found; check the path "
            "in the iceberg:// source"
        )
    path = quote(os.path.abspath(database))
    return str(
        url.set(database=f"file:{path}").update_query_dict(
            {"mode": "ro", "uri": "true"}
        )
    )


def _check_sql_catalog_tables(engine: Any, catalog_uri: str) -> None:
    """Raise ``UsageError`` unless the database contains the Iceberg catalog tables."""
    from sqlalchemy import inspect

    names = set(inspect(engine).get_table_names())
    missing = [table for table in SQL_CATALOG_TABLES if table not in names]
    if missing:
        raise UsageError(
            f"{public_url(catalog_uri)} is not an Iceberg SQL catalog: the "
            f"table{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"{'are' if len(missing) > 1 else 'is'} missing; check the catalog URI"
        )


def _table_ids(catalog: Any, identifier: str | None) -> list[tuple[str, ...]]:
    if identifier:
        parts = tuple(identifier.split("."))
        try:
            namespaces = {tuple(n) for n in catalog.list_namespaces()}
        except Exception:  # noqa: BLE001 - listing is only a hint here
            namespaces = set()
        if parts in namespaces:
            return sorted(tuple(t) for t in catalog.list_tables(parts))
        return [parts]
    return sorted(
        tuple(table)
        for namespace in catalog.list_namespaces()
        for table in catalog.list_tables(namespace)
    )


def _s3_store(endpoint_url: str | None, timeout: float) -> ObjectStore:
    """Open S3 for data files that a catalog places in S3.

    Opening sends no request; the settings come from the environment as for
    ``s3://`` sources.
    """
    return open_store("s3://", endpoint_url, timeout)
