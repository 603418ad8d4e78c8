"""Dataset handles for one file and for a Hive-partitioned folder."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from connectors.files.content import ReadContext
from connectors.files.readers import is_object_file, sample_file
from connectors.files.spread import (
    MIN_SPREAD_GROUPS,
    refining_order,
    sampling_part_of_many,
    take_spread,
)
from scanner.errors import DatasetError, DatasetTimeoutError, UsageError
from scanner.model import DatasetHandle, DatasetKind, Fingerprint, Sample

logger = logging.getLogger(__name__)

# A partitioned dataset is sampled from at least this many of its files
# (fewer if it has fewer), chosen evenly over the sorted partitions.
SPREAD_FILES = 16
# More files are read while the sample is short, up to this many.
MAX_FILES = 256
# A file's fingerprint hashes this many bytes from its start and its end.
FINGERPRINT_BYTES = 64 * 1024


class FileDataset(DatasetHandle):
    """One file read as one dataset.

    Its ``kind`` is ``object`` when the content is an image, video, point
    cloud, firmware image or robotics log, and ``file`` otherwise.
    """

    def __init__(self, path: str, timeout: float) -> None:
        self.uri = os.path.abspath(path)
        self.name = os.path.basename(self.uri)
        self.timeout = timeout
        self._kind: DatasetKind | None = None

    @property
    def kind(self) -> DatasetKind:  # type: ignore[override]
        """``object`` or ``file``, named from the first bytes of the content."""
        if self._kind is None:
            self._kind = "object" if is_object_file(self.uri) else "file"
        return self._kind

    def sample(self, rows: int) -> Sample:
        _check_rows(rows)
        context = ReadContext.start(self.uri, rows, self.timeout)
        sample = sample_file(self.uri, context)
        sample.bytes_read = _bytes_read(context, self.uri)
        logger.info(
            "sampled %d rows from %s (%s, %d bytes read)",
            sample.table.num_rows,
            self.uri,
            sample.format,
            context.bytes_read,
        )
        return sample

    def fingerprint(self) -> Fingerprint:
        """Return the size, modified time and a checksum of the head and tail.

        The checksum (in ``etag``) reads at most ``2 * FINGERPRINT_BYTES``,
        and notices a change that kept the size and modified time, as
        ``cp -p`` or ``rsync -a`` do. It misses a change confined to the
        middle of a file larger than that.
        """
        try:
            with open(self.uri, "rb") as stream:
                status = os.fstat(stream.fileno())
                digest = hashlib.blake2b(digest_size=16)
                digest.update(stream.read(FINGERPRINT_BYTES))
                if status.st_size > 2 * FINGERPRINT_BYTES:
                    stream.seek(-FINGERPRINT_BYTES, os.SEEK_END)
                digest.update(stream.read(FINGERPRINT_BYTES))
        except OSError:
            return Fingerprint()
        return Fingerprint(
            size=status.st_size,
            modified=status.st_mtime,
            etag="head-tail:" + digest.hexdigest(),
        )


@dataclass(frozen=True)
class PartitionFile:
    """A data file inside a partitioned folder, with its partition values.

    A value is ``None`` for Hive's ``__HIVE_DEFAULT_PARTITION__``.
    """

    path: str
    partition: tuple[tuple[str, str | None], ...]


class PartitionedDataset(DatasetHandle):
    """A folder of ``key=value`` subfolders, or part files of one table, read
    as one dataset.

    Partition keys become string columns. The sample comes from files spread
    over the sorted partitions; a file that fails is skipped with a note,
    unless every file fails.
    """

    kind = "file"

    def __init__(
        self, root: str, files: Sequence[PartitionFile], timeout: float
    ) -> None:
        self.uri = os.path.abspath(root)
        self.name = os.path.basename(self.uri)
        self.files = sorted(files, key=lambda item: item.path)
        self.timeout = timeout

    def sample(self, rows: int) -> Sample:
        _check_rows(rows)
        context = ReadContext.start(self.uri, rows, self.timeout)
        spread_files = min(len(self.files), SPREAD_FILES)
        per_file = math.ceil(rows / spread_files)
        parts: list[pa.Table] = []
        samples: list[Sample] = []
        failures: list[DatasetError] = []
        # Files enough to spread the sample over let each file give rows from
        # fewer of its row groups, which reads less of each.
        spread: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
        if spread_files >= MIN_SPREAD_GROUPS:
            spread = sampling_part_of_many()
        with spread:
            for attempt, index in enumerate(refining_order(len(self.files))):
                sampled_rows = sum(part.num_rows for part in parts)
                if attempt >= MAX_FILES or (
                    len(parts) >= spread_files and sampled_rows >= rows
                ):
                    break
                item = self.files[index]
                sample = self._sample_one(item, per_file, context, failures)
                if sample is not None:
                    samples.append(sample)
                    parts.append(with_partition(sample.table, item.partition))

        if not samples:
            raise failures[0]
        return self._combine(parts, samples, failures, context)

    def _sample_one(
        self,
        item: PartitionFile,
        rows: int,
        context: ReadContext,
        failures: list[DatasetError],
    ) -> Sample | None:
        """Sample one file; record a failure unless it is a timeout."""
        context.check_time()
        file_context = ReadContext(item.path, rows, context.deadline, context.timeout)
        try:
            sample = sample_file(item.path, file_context)
        except DatasetTimeoutError:
            raise
        except DatasetError as exc:
            failures.append(exc)
            logger.warning("skipped %s in %s: %s", item.path, self.uri, exc)
            return None
        sample.bytes_read = _bytes_read(file_context, item.path)
        return sample

    def _combine(
        self,
        parts: list[pa.Table],
        samples: list[Sample],
        failures: list[DatasetError],
        context: ReadContext,
    ) -> Sample:
        table = take_spread(concat_flexible(parts), context.rows)
        types: dict[str, str] = {}
        for sample in samples:
            for name, kind in sample.source_types.items():
                types.setdefault(name, kind)
        keys = list(dict.fromkeys(k for item in self.files for k, _ in item.partition))
        for key in keys:
            types.setdefault(key, "string")

        if keys:
            layout = f"partitioned folder of {len(self.files)} files"
            layout_keys = f"; partition keys: {', '.join(keys)}"
        else:
            layout = f"set of {len(self.files)} part files of one table"
            layout_keys = ""
        notes = [f"{layout}, {len(samples)} sampled{layout_keys}"]
        for sample in samples:
            notes.extend(note for note in sample.notes if note not in notes)
        if failures:
            attempted = len(failures) + len(samples)
            notes.append(
                f"{len(failures)} of {attempted} files could not be read and were "
                f"skipped; the first failed with: {failures[0]}"
            )
        formats = sorted({sample.format for sample in samples})
        logger.info(
            "sampled %d rows from %d files of %s",
            table.num_rows,
            len(samples),
            self.uri,
        )
        return Sample(
            table=table,
            source_types={
                name: types.get(name, "unknown") for name in table.column_names
            },
            total_rows=_known_total(samples, len(self.files)),
            bytes_read=sum(sample.bytes_read or 0 for sample in samples),
            notes=notes,
            format=formats[0] if len(formats) == 1 else "mixed:" + ",".join(formats),
        )

    def fingerprint(self) -> Fingerprint:
        """Return the total size, the latest modified time, and in ``etag`` a
        hash of every file's path, size and modified time, so that a file
        added, removed or replaced changes it."""
        size = 0
        modified = 0.0
        digest = hashlib.blake2b(digest_size=16)
        for item in self.files:
            try:
                status = os.stat(item.path)
            except OSError:
                digest.update(
                    f"{item.path}\0missing\n".encode(errors="surrogateescape")
                )
                continue
            size += status.st_size
            modified = max(modified, status.st_mtime)
            line = f"{item.path}\0{status.st_size}\0{status.st_mtime_ns}\n"
            digest.update(line.encode(errors="surrogateescape"))
        return Fingerprint(
            size=size, modified=modified or None, etag="files:" + digest.hexdigest()
        )


def with_partition(
    table: pa.Table, partition: tuple[tuple[str, str | None], ...]
) -> pa.Table:
    """Append the partition keys as string columns, unless the data has them."""
    for key, value in partition:
        if key in table.column_names:
            continue
        table = table.append_column(
            key, pa.array([value] * table.num_rows, pa.string())
        )
    return table


def concat_flexible(tables: list[pa.Table]) -> pa.Table:
    """Concatenate tables whose columns may differ; clashing types become text."""
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    kinds: dict[str, set[str]] = {}
    for table in tables:
        for field in table.schema:
            kinds.setdefault(field.name, set()).add(str(field.type))
    clashing = {name for name, found in kinds.items() if len(found) > 1}
    return pa.concat_tables(
        [_stringify_columns(table, clashing) for table in tables],
        promote_options="permissive",
    )


def _stringify_columns(table: pa.Table, names: set[str]) -> pa.Table:
    for index, name in enumerate(table.column_names):
        if name in names:
            values = [None if v is None else str(v) for v in table[name].to_pylist()]
            table = table.set_column(index, name, pa.array(values, pa.string()))
    return table


def _check_rows(rows: int) -> None:
    if rows < 1:
        raise UsageError(f"the sample size must be at least 1 row, not {rows}")


def _known_total(samples: list[Sample], file_count: int) -> int | None:
    """Add up the row counts when every file was sampled and reported one."""
    totals = [sample.total_rows for sample in samples]
    if len(samples) < file_count or any(total is None for total in totals):
        return None
    return sum(total for total in totals if total is not None)


def _bytes_read(context: ReadContext, path: str) -> int:
    """Return the bytes read, at most the file size.

    Readers count each range they read, and some ranges are read twice: the
    head, then the same bytes by the format library. The file size bounds the
    distinct bytes read.
    """
    try:
        size = os.stat(path).st_size
    except OSError:
        return context.bytes_read
    return min(context.bytes_read, size)
