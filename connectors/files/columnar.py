"""Samplers for columnar files: Parquet, ORC, Arrow IPC and Feather.

Each reads only an evenly spaced subset of the file's row groups (stripes,
record batches) and takes rows spread within them. A Parquet file that is
one of many in a dataset gives the first rows of fewer row groups instead.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.orc as orc
import pyarrow.parquet as pq

from connectors.files.content import ByteSource, RangeReader, ReadContext
from connectors.files.flatten import flatten_table
from connectors.files.spread import (
    allocate_rows,
    choose_groups,
    is_part_of_many,
    spread_indices,
    take_spread,
)
from scanner.errors import UnreadableFormatError
from scanner.model import Sample

_BATCH_ROWS = 64 * 1024

# Read size for a Parquet column chunk when only its first rows are needed
# (1 MiB, pyarrow's default data page size), so reading stops near the pages
# that contain them instead of fetching the whole chunk.
_PART_BUFFER_BYTES = 1024 * 1024

# An Arrow stream has no index, so it is read from the start; reading stops
# after this many bytes of record batches (256 MiB).
_STREAM_BYTE_LIMIT = 256 * 1024 * 1024


@dataclass(frozen=True)
class _Ending:
    """The magic number at the end of a complete file, and its minimum size.

    ``magic`` ends ``offset`` bytes before the end of the file. ``minimum`` is
    the smallest size of a complete file, in bytes.
    """

    label: str
    magic: bytes
    minimum: int
    offset: int = 0


_ENDINGS = {
    # Magic number, 4-byte footer length, magic number (Parquet format).
    "parquet": _Ending("Parquet", b"PAR1", 12),
    # Magic number padded to 8 bytes, footer, 4-byte length, magic (Arrow IPC).
    "arrow": _Ending("Arrow IPC", b"ARROW1", 18),
    # Magic number, metadata, 4-byte metadata length, magic (Feather v1).
    "feather": _Ending("Feather", b"FEA1", 12),
    # Magic number, then the postscript, which ends with the magic number and
    # is followed by its length in one byte (Apache ORC, orc_proto.proto).
    "orc": _Ending("ORC", b"ORC", 4, offset=1),
}


def check_ending(source: ByteSource, context: ReadContext, format_name: str) -> None:
    """Raise ``UnreadableFormatError`` if the file lacks its format's ending.

    The content starts with the format's magic number, so a file that is too
    short or does not end as the format requires was cut off.
    """
    ending = _ENDINGS[format_name]
    if source.size < ending.minimum:
        problem = f"is only {source.size} bytes long"
    else:
        start = source.size - ending.offset - len(ending.magic)
        if source.read_range(start, len(ending.magic)) == ending.magic:
            return
        problem = f"does not end with the {ending.label} footer"
    raise UnreadableFormatError(
        f"{context.path} is a truncated {ending.label} file: it starts with the "
        f"{ending.label} magic number but {problem}; re-export it or exclude it "
        "from the scan"
    )


def sample_parquet(source: ByteSource, context: ReadContext) -> Sample:
    """Sample a Parquet file from a spread of its row groups.

    Inside ``sampling_part_of_many`` the rows are the first rows of the
    chosen row groups, because the dataset's other files give the spread and
    the first rows need only the first pages of each column chunk.
    """
    check_ending(source, context, "parquet")
    part_of_many = is_part_of_many()
    with pa.PythonFile(RangeReader(source), mode="r") as handle:
        parquet = pq.ParquetFile(
            handle,
            buffer_size=_PART_BUFFER_BYTES if part_of_many else 0,
            pre_buffer=False,
        )
        metadata = parquet.metadata
        counts = [
            metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)
        ]
        chosen = choose_groups(counts, context.rows)
        allocated = allocate_rows([counts[i] for i in chosen], context.rows)

        schema = parquet.schema_arrow
        parts = [schema.empty_table()]
        for group, rows in zip(chosen, allocated, strict=True):
            context.check_time()
            if part_of_many:
                parts.append(_first_rows(parquet, group, rows, schema))
                continue
            batches = parquet.iter_batches(batch_size=_BATCH_ROWS, row_groups=[group])
            parts.append(_take_from_batches(batches, counts[group], rows, schema))

    table = pa.concat_tables(parts)
    _note_spread(context, "row groups", len(chosen), len(counts))
    if part_of_many and table.num_rows < metadata.num_rows:
        context.note("rows taken from the start of each chosen row group")
    return _columnar_sample(table, context, "parquet", metadata.num_rows)


def _first_rows(
    parquet: pq.ParquetFile, group: int, rows: int, schema: pa.Schema
) -> pa.Table:
    """Read the first ``rows`` rows of one row group, and stop there."""
    if rows <= 0:
        return schema.empty_table()
    batches = parquet.iter_batches(batch_size=rows, row_groups=[group])
    first = next(batches, None)
    if first is None:
        return schema.empty_table()
    return pa.Table.from_batches([first], schema=schema)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        view = memoryview(buffer).cast("B")
        view[: len(data)] = data
        return len(data)


def _take_from_batches(
    batches: Iterable[pa.RecordBatch], total: int, requested: int, schema: pa.Schema
) -> pa.Table:
    """Select ``requested`` rows, evenly spaced, from batches of ``total`` rows."""
    keep = spread_indices(total, requested)
    selected: list[pa.RecordBatch] = []
    start = 0
    cursor = 0
    for batch in batches:
        end = start + batch.num_rows
        local: list[int] = []
        while cursor < len(keep) and keep[cursor] < end:
            local.append(keep[cursor] - start)
            cursor += 1
        if local:
            selected.append(batch.take(pa.array(local)))
        start = end
        if cursor >= len(keep):
            break
    return pa.Table.from_batches(selected, schema=schema)


def sample_orc(source: ByteSource, context: ReadContext) -> Sample:
    """Sample an ORC file from a spread of its stripes."""
    check_ending(source, context, "orc")
    with source.open_arrow() as handle:
        reader = orc.ORCFile(handle)
        stripes = reader.nstripes
        # pyarrow does not expose per-stripe row counts; assume equal stripes.
        mean = reader.nrows / stripes if stripes else 0
        chosen = choose_groups([math.ceil(mean)] * stripes, context.rows)
        per_stripe = math.ceil(context.rows / max(1, len(chosen)))

        parts = [reader.schema.empty_table()]
        for stripe in chosen:
            context.check_time()
            batch = reader.read_stripe(stripe)
            sampled = batch.take(pa.array(spread_indices(batch.num_rows, per_stripe)))
            parts.append(pa.Table.from_batches([sampled]))
        share = len(chosen) / stripes if stripes else 0
        footer = reader.file_footer_length + reader.file_postscript_length
        source.add_read(int(reader.content_length * share) + footer)
        total = reader.nrows

    table = pa.concat_tables(parts)
    _note_spread(context, "stripes", len(chosen), stripes)
    return _columnar_sample(table, context, "orc", total)


def sample_arrow_file(source: ByteSource, context: ReadContext) -> Sample:
    """Sample an Arrow IPC file (Feather v2) from a spread of record batches."""
    check_ending(source, context, "arrow")
    with source.open_arrow() as handle:
        reader = pa.ipc.open_file(handle)
        batch_count = reader.num_record_batches
        total = reader.count_rows()
        mean = math.ceil(total / batch_count) if batch_count else 0
        chosen = choose_groups([mean] * batch_count, context.rows)
        per_batch = math.ceil(context.rows / max(1, len(chosen)))

        parts = [reader.schema.empty_table()]
        for index in chosen:
            context.check_time()
            batch = reader.get_batch(index)
            source.add_read(batch.nbytes)
            sampled = batch.take(pa.array(spread_indices(batch.num_rows, per_batch)))
            parts.append(pa.Table.from_batches([sampled]))

    table = pa.concat_tables(parts)
    _note_spread(context, "record batches", len(chosen), batch_count)
    return _columnar_sample(table, context, "arrow", total)


def sample_arrow_stream(source: ByteSource, context: ReadContext) -> Sample:
    """Sample an Arrow IPC stream, read from the start up to a byte limit."""
    with source.open_arrow() as handle:
        reader = pa.ipc.open_stream(handle)
        batches: list[pa.RecordBatch] = []
        seen = 0
        for batch in reader:
            context.check_time()
            batches.append(batch)
            seen += batch.nbytes
            if seen > _STREAM_BYTE_LIMIT:
                context.note(
                    f"Arrow stream sampled from its first "
                    f"{_STREAM_BYTE_LIMIT // (1024 * 1024)} MiB of record batches"
                )
                break
        schema = reader.schema
    source.add_read(seen)

    table = pa.Table.from_batches(batches, schema=schema)
    total = table.num_rows if seen <= _STREAM_BYTE_LIMIT else None
    # The format names a stream apart from an Arrow file, whose readers differ.
    return _columnar_sample(
        take_spread(table, context.rows), context, "arrow_stream", total
    )


def sample_feather_v1(source: ByteSource, context: ReadContext) -> Sample:
    """Sample a Feather version 1 file, which has no record batches."""
    check_ending(source, context, "feather")
    with source.open_arrow() as handle, warnings.catch_warnings():
        # pyarrow 25 deprecated Feather v1 but still reads it. The note below
        # informs the user instead of a warning on stderr.
        warnings.simplefilter("ignore", DeprecationWarning)
        table = feather.read_table(handle)
    source.add_read(table.nbytes)
    context.note(
        "Feather version 1 is deprecated since pyarrow 25; rewrite the file as "
        "Arrow IPC (Feather version 2) before pyarrow drops support"
    )
    return _columnar_sample(
        take_spread(table, context.rows), context, "feather", table.num_rows
    )


def _columnar_sample(
    table: pa.Table, context: ReadContext, format_name: str, total: int | None
) -> Sample:
    flat, types = flatten_table(take_spread(table, context.rows))
    return Sample(
        table=flat,
        source_types=types,
        total_rows=total,
        format=format_name,
        notes=context.notes,
    )


def _note_spread(context: ReadContext, unit: str, chosen: int, total: int) -> None:
    if 0 < chosen < total:
        context.note(f"rows taken from {chosen} of {total} {unit}, evenly spaced")
