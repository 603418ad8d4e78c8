"""Dataset handles for objects: one object, and a set of objects read as one.

A set of objects is a Hive-partitioned prefix, a folder of part files of one
table (``part-00000.parquet``, ``part-00001.parquet``...), or the data files
of a Delta or Iceberg snapshot. It is sampled like a local partitioned folder:
files spread over the set, only as many as the sample needs.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyarrow.fs as pafs

from connectors.files.content import ByteSource, LocalFile, ReadContext
from connectors.files.detect import sniff_format
from connectors.files.errors import translate_errors
from connectors.files.handles import PartitionedDataset, PartitionFile
from connectors.files.readers import OBJECT_FORMATS, sample_source
from connectors.objectstore.remote import RemoteFile
from connectors.objectstore.store import ObjectStore
from scanner.errors import (
    DatasetError,
    DatasetTimeoutError,
    UnreadableFormatError,
    UsageError,
)
from scanner.model import DatasetHandle, DatasetKind, Fingerprint, Sample

logger = logging.getLogger(__name__)

# Bytes of the head used to tell an object file from a table.
_KIND_SNIFF_BYTES = 4096

SourceOpener = Callable[[str, ReadContext], ByteSource]


@dataclass(frozen=True)
class ObjectInfo:
    """An object found by listing: path in the store, size and modification time.

    ``modified`` is seconds since the epoch.
    """

    path: str
    size: int
    modified: float | None


class ObjectDataset(DatasetHandle):
    """One object read as one dataset, through ranged reads."""

    def __init__(self, store: ObjectStore, info: ObjectInfo, timeout: float) -> None:
        self.store = store
        self.info = info
        self.uri = store.uri(info.path)
        self.name = info.path.rsplit("/", 1)[-1]
        self.timeout = timeout
        self._source: RemoteFile | None = None
        self._open_error: DatasetError | None = None
        self._kind: DatasetKind | None = None

    @property
    def kind(self) -> DatasetKind:  # type: ignore[override]
        """``object`` or ``file``, named from the object's first bytes."""
        if self._kind is None:
            self._kind = self._sniff_kind()
        return self._kind

    def _sniff_kind(self) -> DatasetKind:
        try:
            source = self._open(None)
        except DatasetError:
            return "file"  # sampling reports the error
        head = source.head[:_KIND_SNIFF_BYTES]
        format_name = sniff_format(head, source.extension)
        return "object" if format_name in OBJECT_FORMATS else "file"

    def _open(self, context: ReadContext | None) -> RemoteFile:
        """Open the object once; a failure is kept and raised again, not retried."""
        if self._open_error is not None:
            raise self._open_error
        if self._source is None:
            try:
                self._source = RemoteFile(self.store, self.info.path, context)
            except DatasetError as exc:
                self._open_error = exc
                raise
        elif context is not None:
            # Bytes fetched before the sample started count towards it.
            context.bytes_read += self._source.fetched
            self._source.context = context
        return self._source

    def sample(self, rows: int) -> Sample:
        if rows < 1:
            raise UsageError(f"the sample size must be at least 1 row, not {rows}")
        context = ReadContext.start(self.uri, rows, self.timeout)
        try:
            source = self._open(context)
            sample = sample_source(source, context, self.uri)
        finally:
            self._close()
        sample.bytes_read = context.bytes_read
        logger.info(
            "sampled %d rows from %s (%s, %d of %d bytes fetched)",
            sample.table.num_rows,
            self.uri,
            sample.format,
            context.bytes_read,
            self.info.size,
        )
        return sample

    def _close(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None

    def fingerprint(self) -> Fingerprint:
        etag = None
        # An object that cannot be opened keeps the listing's fingerprint;
        # sampling reports the error.
        with contextlib.suppress(DatasetError):
            etag = self._open(None).etag()
        return Fingerprint(size=self.info.size, modified=self.info.modified, etag=etag)


class FileSetDataset(PartitionedDataset):
    """Files of one table, sampled as one dataset through ``open_source``.

    ``open_source`` opens one file by its path (a store path or a local path).
    Partition values, where the layout has them, become string columns.
    """

    def __init__(
        self,
        uri: str,
        files: Sequence[PartitionFile],
        timeout: float,
        open_source: SourceOpener,
        sizes: dict[str, tuple[int, float | None]] | None = None,
        filesystem: pafs.FileSystem | None = None,
    ) -> None:
        super().__init__(uri, files, timeout)
        self.uri = uri
        #: The store's filesystem when the files are on an object store, for
        #: readers of whole files such as the audit's person count.
        self.filesystem = filesystem
        self.name = uri.rstrip("/").rsplit("/", 1)[-1]
        self.open_source = open_source
        self.sizes = sizes or {}
        self.snapshot: str | None = None
        #: The first note of a sample, naming what the set is; None keeps
        #: the partitioned folder's note.
        self.description: str | None = None
        if not any(item.partition for item in self.files):
            self.description = f"set of {len(self.files)} files of one table"

    def sample(self, rows: int) -> Sample:
        if not self.files:
            raise UnreadableFormatError(
                f"{self.uri} has no data files to sample; the table is empty"
            )
        sample = super().sample(rows)
        if sample.notes and self.description is not None:
            sample.notes[0] = self.description
        return sample

    def _sample_one(
        self,
        item: PartitionFile,
        rows: int,
        context: ReadContext,
        failures: list[DatasetError],
    ) -> Sample | None:
        context.check_time()
        file_context = ReadContext(item.path, rows, context.deadline, context.timeout)
        source: ByteSource | None = None
        try:
            with translate_errors(item.path, "file"):
                source = self.open_source(item.path, file_context)
            sample = sample_source(source, file_context, item.path)
        except DatasetTimeoutError:
            raise
        except DatasetError as exc:
            failures.append(exc)
            logger.warning("skipped %s in %s: %s", item.path, self.uri, exc)
            return None
        finally:
            if isinstance(source, RemoteFile):
                source.close()
        sample.bytes_read = file_context.bytes_read
        return sample

    def fingerprint(self) -> Fingerprint:
        known = [self.sizes[f.path] for f in self.files if f.path in self.sizes]
        size = sum(item[0] for item in known) if known else None
        modified = max((item[1] for item in known if item[1]), default=None)
        return Fingerprint(size=size, modified=modified, snapshot=self.snapshot)


def remote_opener(store: ObjectStore) -> SourceOpener:
    """Return an opener that reads paths inside ``store`` by ranged reads."""

    def open_remote(path: str, context: ReadContext) -> ByteSource:
        return RemoteFile(store, path, context)

    return open_remote


def local_opener(path: str, context: ReadContext) -> ByteSource:
    """Open a local file by its path."""
    return LocalFile(path, context)
