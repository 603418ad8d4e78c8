"""Classify every row of a dataset, chunk by chunk, instead of a sample.

A full scan reads each file of a columnar dataset (Parquet, ORC, Arrow IPC)
in chunks of ``chunk_rows`` rows and classifies each chunk as if it were a
sample. The results are merged: a label found in any chunk applies to the
column or the dataset. The merge is the same whether the files are read one
after another here or as Spark tasks, so both engines give the same result.

Other formats and database tables are classified from their sample, with a
note saying so.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from classifiers.base import Classifier
from classifiers.pipeline import classify_sample
from classifiers.rulepack import RulePack
from connectors.files.flatten import flatten_table
from connectors.files.handles import FileDataset, PartitionedDataset, with_partition
from connectors.objectstore.handles import FileSetDataset, ObjectDataset
from scanner.masking import redact_text
from scanner.model import (
    ColumnResult,
    DatasetFailure,
    DatasetHandle,
    DatasetResult,
    Label,
    Sample,
)

logger = logging.getLogger(__name__)

#: Rows classified at once in a full scan, and the most allowed.
DEFAULT_CHUNK_ROWS = 50_000
MAX_CHUNK_ROWS = 10_000_000
#: The scan's format names that a full scan reads, and their pyarrow names.
FULL_FORMATS = {"parquet": "parquet", "orc": "orc", "arrow": "ipc"}
#: Arrow IPC streams have no footer to split by; they are read in order.
STREAM_FORMAT = "arrow_stream"


@dataclass(frozen=True)
class WholeFile:
    """One file of a dataset to read whole, with its partition values."""

    path: str
    partition: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True)
class WholeFiles:
    """The files of a dataset, and the filesystem they are on (None: local)."""

    files: tuple[WholeFile, ...]
    filesystem: pafs.FileSystem | None = None


def whole_files(handle: DatasetHandle) -> WholeFiles | None:
    """Return the files that make up ``handle``, or None for other datasets."""
    if isinstance(handle, ObjectDataset):
        return WholeFiles((WholeFile(handle.info.path),), handle.store.filesystem)
    if isinstance(handle, FileSetDataset):
        files = tuple(WholeFile(item.path, item.partition) for item in handle.files)
        return WholeFiles(files, handle.filesystem)
    if isinstance(handle, PartitionedDataset):
        files = tuple(WholeFile(item.path, item.partition) for item in handle.files)
        return WholeFiles(files)
    if isinstance(handle, FileDataset):
        return WholeFiles((WholeFile(handle.uri),))
    return None


def full_files(handle: DatasetHandle, result: DatasetResult) -> WholeFiles | None:
    """Return the files a full scan reads for ``handle``, or None to keep the sample.

    ``result`` is the dataset's sampled result; its format decides. A note
    on ``result`` gives the reason a dataset is not read whole.
    """
    if result.errors:
        return None
    files = whole_files(handle)
    readable = result.format in FULL_FORMATS or result.format == STREAM_FORMAT
    if files is None or not readable:
        what = result.format or result.kind
        result.notes.append(
            f"full scan reads Parquet, ORC and Arrow files; this {what} dataset "
            "was classified from its sample"
        )
        return None
    return files


def classify_file(
    item: WholeFile,
    files: WholeFiles,
    file_format: str,
    chunk_rows: int,
    classifiers: Sequence[Classifier],
    rules: RulePack,
) -> DatasetResult:
    """Classify every row of one file; return a partial result to merge.

    A file that cannot be read whole gives a partial result with an error.
    A full scan requests every row, so the dataset fails rather than keep
    labels from part of it.
    """
    partial = DatasetResult(uri=item.path, name=item.path, kind="file")
    try:
        for chunk in _chunks(item, files.filesystem, file_format, chunk_rows):
            sample = _chunk_sample(chunk, file_format)
            columns, labels = classify_sample(sample, classifiers, rules)
            chunk_result = DatasetResult(
                uri=item.path,
                name=item.path,
                kind="file",
                columns=columns,
                labels=labels,
                sampled_rows=chunk.num_rows,
            )
            merge_into(partial, chunk_result)
    except Exception as exc:  # noqa: BLE001 - one file must not stop the scan
        name = item.path.rsplit("/", 1)[-1]
        if not isinstance(exc, (OSError, pa.ArrowException)):
            # The same error the engine records for a dataset that breaks it.
            message = redact_text(f"{type(exc).__name__}: {exc}")
            partial.errors.append(
                DatasetFailure(item.path, "internal", f"unexpected error: {message}")
            )
            return partial
        partial.errors.append(
            DatasetFailure(
                item.path,
                "unreadable",
                f"the full scan could not read {name} whole after "
                f"{partial.sampled_rows:,} rows ({type(exc).__name__}: "
                f"{redact_text(str(exc))}); repair or exclude it, or scan "
                "without --full",
            )
        )
    return partial


def _chunks(
    item: WholeFile,
    filesystem: pafs.FileSystem | None,
    file_format: str,
    chunk_rows: int,
) -> Iterator[pa.Table]:
    for table in _tables(item.path, filesystem, file_format, chunk_rows):
        if table.num_rows:
            yield with_partition(table, item.partition)


def _tables(
    path: str, filesystem: pafs.FileSystem | None, file_format: str, chunk_rows: int
) -> Iterator[pa.Table]:
    """Yield the rows of one file as tables of at most ``chunk_rows`` rows."""
    if file_format == STREAM_FORMAT:
        opened = (
            filesystem.open_input_stream(path)
            if filesystem is not None
            else pa.input_stream(path)
        )
        with opened as source:
            yield from _rechunk(pa.ipc.open_stream(source), chunk_rows)
        return
    dataset = ds.dataset(path, format=FULL_FORMATS[file_format], filesystem=filesystem)
    for batch in dataset.to_batches(batch_size=chunk_rows, use_threads=True):
        yield pa.Table.from_batches([batch])


def _rechunk(batches: Iterable[pa.RecordBatch], chunk_rows: int) -> Iterator[pa.Table]:
    """Regroup record batches of any size into tables of ``chunk_rows`` rows."""
    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in batches:
        pending.append(batch)
        rows += batch.num_rows
        while rows >= chunk_rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, chunk_rows)
            rest = table.slice(chunk_rows)
            pending = rest.to_batches()
            rows = rest.num_rows
    if rows:
        yield pa.Table.from_batches(pending)


def _chunk_sample(chunk: pa.Table, file_format: str) -> Sample:
    table, types = flatten_table(chunk)
    return Sample(table=table, source_types=types, format=file_format)


def finish_full_scan(result: DatasetResult, parts: Sequence[DatasetResult]) -> None:
    """Replace the sampled classification of ``result`` by the merged ``parts``.

    ``parts`` are the per-file results in file order. A part that could not
    be read fails the dataset, with the error of each such file.
    """
    merged = DatasetResult(uri=result.uri, name=result.name, kind=result.kind)
    for part in parts:
        merge_into(merged, part)
    failures = [error for part in parts for error in part.errors]
    if failures:
        result.errors.extend(
            DatasetFailure(result.uri, error.reason, error.message)
            for error in failures
        )
        return
    result.notes.extend(merged.notes)
    if not merged.sampled_rows:
        result.notes.append("full scan: the files hold no rows")
        return
    # The sample's notes describe rows that were not what was classified.
    result.notes = [note for note in result.notes if not _about_sample(note)]
    result.columns = [_whole_column_evidence(column) for column in merged.columns]
    result.labels = merged.labels
    result.sampled_rows = merged.sampled_rows
    result.notes.append(
        f"full scan: {merged.sampled_rows:,} rows classified in chunks; a label "
        "found in any chunk holds for the dataset"
    )


def _whole_column_evidence(column: ColumnResult) -> ColumnResult:
    """Count each label's matches against every value of the column.

    Merged labels count the values of the chunks they were found in; the
    share of matches is over the whole column.
    """
    labels = [
        dataclasses.replace(
            label,
            evidence=dataclasses.replace(
                label.evidence, examined=column.examined, non_null=column.non_null
            ),
        )
        for label in column.labels
    ]
    return dataclasses.replace(column, labels=labels)


def _about_sample(note: str) -> bool:
    return note.startswith("rows taken from")


def merge_into(merged: DatasetResult, part: DatasetResult) -> None:
    """Add the columns, labels, rows and notes of ``part`` to ``merged``.

    Counts add up, the highest confidence wins, and the first part's rule
    id, signals and masked examples stay, so merging parts in order gives
    one answer however the parts were grouped.
    """
    merged.sampled_rows += part.sampled_rows
    merged.notes.extend(note for note in part.notes if note not in merged.notes)
    merged.labels = _merge_labels(merged.labels, part.labels)
    columns = {column.name: column for column in merged.columns}
    for column in part.columns:
        known = columns.get(column.name)
        if known is None:
            columns[column.name] = dataclasses.replace(
                column, labels=list(column.labels), notes=list(column.notes)
            )
            continue
        known.examined += column.examined
        known.non_null += column.non_null
        known.labels = _merge_labels(known.labels, column.labels)
        known.notes.extend(note for note in column.notes if note not in known.notes)
    merged.columns = list(columns.values())


def _merge_labels(first: Sequence[Label], second: Sequence[Label]) -> list[Label]:
    labels = {label.id: label for label in first}
    for label in second:
        known = labels.get(label.id)
        if known is None:
            labels[label.id] = label
            continue
        evidence = known.evidence
        added = label.evidence
        labels[label.id] = dataclasses.replace(
            known,
            confidence=max(known.confidence, label.confidence),
            evidence=dataclasses.replace(
                evidence,
                examined=evidence.examined + added.examined,
                non_null=evidence.non_null + added.non_null,
                matches=evidence.matches + added.matches,
                masked_values=evidence.masked_values + added.masked_values,
            ),
        )
    return list(labels.values())
