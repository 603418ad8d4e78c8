"""Delta Lake tables: the data files of the current version, read as one dataset.

``deltalake`` replays the transaction log (``_delta_log/``) to find the data
files of the latest version. The sample then reads a spread of those Parquet
files, like a partitioned folder. Partition values come from the log and
become string columns. The table version is the fingerprint's snapshot.
"""

from __future__ import annotations

import logging
import os
from urllib.parse import unquote

import pyarrow as pa

from connectors.files.handles import PartitionFile
from connectors.objectstore.handles import (
    FileSetDataset,
    SourceOpener,
    local_opener,
    remote_opener,
)
from connectors.objectstore.store import ObjectStore
from scanner.errors import MissingExtraError, UnreadableFormatError, UnsupportedError

logger = logging.getLogger(__name__)

_PARTITION_PREFIX = "partition."


def delta_dataset(
    location: str, timeout: float, store: ObjectStore | None = None
) -> FileSetDataset:
    """Open the Delta table at ``location`` (a local folder or a store path).

    Raises ``MissingExtraError`` without ``deltalake``, ``UnsupportedError``
    for a store it cannot be given credentials for, and
    ``UnreadableFormatError`` when the log cannot be read.
    """
    try:
        from deltalake import DeltaTable
    except ImportError as exc:
        raise MissingExtraError("deltalake", "delta", "Reading Delta tables") from exc

    table_uri = location if store is None else store.uri(location)
    options = _storage_options(store)
    try:
        table = DeltaTable(table_uri, storage_options=options)
        actions = pa.table(table.get_add_actions(flatten=True))
        version = table.version()
        deletion_vectors = _uses_deletion_vectors(table)
    except Exception as exc:  # noqa: BLE001 - deltalake raises many error types
        # deltalake appends a Rust backtrace to some errors: keep the first line.
        first_line = str(exc).strip().split("\n", 1)[0]
        message = f"{type(exc).__name__}: {first_line}"
        if store is not None:
            message = store.scrub(message)
        raise UnreadableFormatError(
            f"could not read the Delta log of {table_uri} ({message}); check the "
            "table and rerun"
        ) from None

    files, sizes = _data_files(actions, location, store is not None)
    opener: SourceOpener = local_opener if store is None else remote_opener(store)
    dataset = FileSetDataset(table_uri, files, timeout, opener, sizes)
    dataset.snapshot = f"delta-version:{version}"
    dataset.description = f"Delta table at version {version}: {len(files)} data files"
    if deletion_vectors:
        dataset.description += (
            "; deletion vectors are not applied, so the sample may include deleted rows"
        )
    logger.info("found the Delta table %s at version %d", table_uri, version)
    return dataset


def _storage_options(store: ObjectStore | None) -> dict[str, str] | None:
    if store is None:
        return None
    if store.scheme != "s3" or not store.storage_options:
        # deltalake's own credential chain would ask the cloud's instance
        # metadata address, which cardex never does on its own.
        raise UnsupportedError(
            f"Delta tables in {store.scheme}:// are read only with explicit S3 "
            "credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or a "
            "profile with keys"
        )
    return dict(store.storage_options)


def _uses_deletion_vectors(table: object) -> bool:
    protocol = table.protocol()  # type: ignore[attr-defined]
    features = getattr(protocol, "reader_features", None) or []
    return "deletionVectors" in features


def _data_files(
    actions: pa.Table, location: str, remote: bool
) -> tuple[list[PartitionFile], dict[str, tuple[int, float | None]]]:
    keys = [
        name.removeprefix(_PARTITION_PREFIX)
        for name in actions.column_names
        if name.startswith(_PARTITION_PREFIX)
    ]
    files: list[PartitionFile] = []
    sizes: dict[str, tuple[int, float | None]] = {}
    for row in actions.to_pylist():
        relative = unquote(row["path"])
        if remote:
            path = f"{location.rstrip('/')}/{relative}"
        else:
            path = os.path.join(location, relative)
        partition = tuple(
            (key, _text(row.get(_PARTITION_PREFIX + key))) for key in keys
        )
        files.append(PartitionFile(path, partition))
        modified = row.get("modification_time")
        sizes[path] = (
            row.get("size_bytes") or 0,
            modified / 1000 if modified else None,
        )
    return files, sizes


def _text(value: object) -> str | None:
    return None if value is None else str(value)
