"""Recognise Delta and Iceberg tables in folders and object-store prefixes.

A folder (or prefix) is a Delta table when it contains ``_delta_log/``, and
an Iceberg table when it contains a ``metadata/`` folder with at least one
``*.metadata.json`` file. Either becomes one dataset instead of one per
Parquet file.
"""

from __future__ import annotations

import os

import pyarrow.fs as pafs

from connectors.objectstore.store import ObjectStore
from connectors.tables.delta import delta_dataset
from connectors.tables.iceberg import (
    METADATA_SUFFIX,
    VERSION_HINT,
    iceberg_from_metadata,
    newest_metadata,
)
from scanner.errors import DatasetError, MissingExtraError, UnsupportedError
from scanner.model import DatasetFailure, DatasetHandle

DELTA_LOG = "_delta_log"
ICEBERG_METADATA = "metadata"

Found = DatasetHandle | DatasetFailure


def find_local_table(path: str, names: set[str], timeout: float) -> Found | None:
    """Return the table dataset of a local folder, or None if it is no table.

    ``names`` are the names of the folder's entries.
    """
    if DELTA_LOG in names and os.path.isdir(os.path.join(path, DELTA_LOG)):
        return _or_failure(path, lambda: delta_dataset(path, timeout))
    metadata_dir = os.path.join(path, ICEBERG_METADATA)
    if ICEBERG_METADATA not in names or not os.path.isdir(metadata_dir):
        return None
    try:
        entries = os.listdir(metadata_dir)
    except OSError:
        return None
    newest = newest_metadata(
        entries, _read_hint(os.path.join(metadata_dir, VERSION_HINT))
    )
    if newest is None:
        return None
    location = os.path.join(metadata_dir, newest)
    return _or_failure(
        path, lambda: iceberg_from_metadata(location, timeout, name=path)
    )


def find_table_in_store(
    store: ObjectStore, prefix: str, entries: list[pafs.FileInfo], timeout: float
) -> Found | None:
    """Return the table dataset at an object-store prefix, or None."""
    directories = {
        entry.path.rsplit("/", 1)[-1]
        for entry in entries
        if entry.type == pafs.FileType.Directory
    }
    uri = store.uri(prefix)
    if DELTA_LOG in directories:
        return _or_failure(uri, lambda: delta_dataset(prefix, timeout, store))
    if ICEBERG_METADATA not in directories:
        return None
    metadata_prefix = f"{prefix}/{ICEBERG_METADATA}"
    try:
        listed = store.filesystem.get_file_info(pafs.FileSelector(metadata_prefix))
    except Exception as exc:  # noqa: BLE001 - translated below
        error = store.translate(exc, store.uri(metadata_prefix), "listing")
        return DatasetFailure(uri=uri, reason=error.reason, message=str(error))
    names = [info.path.rsplit("/", 1)[-1] for info in listed]
    if not any(name.endswith(METADATA_SUFFIX) for name in names):
        return None
    hint = _read_store_hint(store, f"{metadata_prefix}/{VERSION_HINT}", names)
    newest = newest_metadata(names, hint)
    location = store.uri(f"{metadata_prefix}/{newest}")
    return _or_failure(
        uri, lambda: iceberg_from_metadata(location, timeout, store, name=uri)
    )


def _or_failure(uri: str, open_table) -> Found:  # type: ignore[no-untyped-def]
    try:
        return open_table()
    except DatasetError as exc:
        return DatasetFailure(uri=uri, reason=exc.reason, message=str(exc))
    except MissingExtraError as exc:
        # One table format without its extra must not stop the rest of the scan.
        return DatasetFailure(uri=uri, reason=UnsupportedError.reason, message=str(exc))


def _read_hint(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as stream:
            return stream.read(32)
    except (OSError, UnicodeDecodeError):
        return None


def _read_store_hint(store: ObjectStore, path: str, names: list[str]) -> str | None:
    if VERSION_HINT not in names:
        return None
    try:
        with store.filesystem.open_input_file(path) as handle:
            return handle.read(32).decode("ascii")
    except (OSError, UnicodeDecodeError):
        return None
