"""Arrow sources of the subject-key columns of whole datasets, for counting.

The scan reads samples; counting people needs every row. This module opens
the full data of a dataset, reduced to its key columns, as an Arrow object
that DuckDB scans. Columnar files become a record batch reader of a
``pyarrow.dataset`` scanner, which decodes only the key columns in
pyarrow's threads. Delimited text and JSON lines become record batch
readers. Database tables become readers of ``SELECT DISTINCT`` batches, so
that the database does the first de-duplication.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import fastavro
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.json as pa_json
import sqlalchemy as sa
from sqlalchemy.engine import URL

from connectors.files.detect import detect_encoding
from connectors.files.dialect import TextLayout, sniff_layout
from connectors.files.text import column_names
from connectors.sql import SqlSource, parse_source
from connectors.sql_dialects import Relation, dialect_for
from scanner.errors import DatasetError, UnsupportedError, UsageError
from scanner.model import LIST_SUFFIX, PATH_SEPARATOR

# Rows per batch read from columnar files (about 16 MiB for phone numbers).
SCAN_BATCH_ROWS = 1 << 20
# Batches each columnar reader decodes ahead of DuckDB. pyarrow's default
# of 16 keeps up to 16 batches of every dataset in memory at once.
SCAN_READAHEAD_BATCHES = 2
# The column of record batches that count rows but read no key.
ROW_COLUMN = "row"
# Rows per batch streamed out of a database.
SQL_BATCH_ROWS = 50_000
# Bytes of a text file read to detect its encoding and layout.
SNIFF_BYTES = 64 * 1024
DATASET_FORMATS = {"parquet": "parquet", "orc": "orc", "arrow": "ipc"}
# The scan's compression names -> Arrow codecs; Arrow has no xz codec.
ARROW_COMPRESSIONS = {"gzip": "gzip", "bzip2": "bz2", "zstd": "zstd"}


@dataclass
class KeyColumns:
    """An Arrow object to register in DuckDB and SQL for each key column.

    ``expressions[i]`` selects the i-th requested column from ``data`` as
    VARCHAR, so that every key reaches normalisation as text.
    """

    data: Any
    expressions: list[str]


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _as_text(expression: str, arrow_type: pa.DataType) -> str:
    # Floating-point keys are phone numbers read as numbers: 13812345678.0
    # must become 13812345678 before the dot is stripped as a separator.
    if pa.types.is_floating(arrow_type):
        return f"CAST(TRY_CAST({expression} AS BIGINT) AS VARCHAR)"
    return f"CAST({expression} AS VARCHAR)"


def _field_path(schema: pa.Schema, column: str) -> tuple[list[str], pa.DataType]:
    """Split a dotted column path into struct fields that exist in ``schema``."""
    if LIST_SUFFIX in column:
        raise UnsupportedError(
            f"column {column} is inside a list; counting people by keys in "
            "lists is not supported yet"
        )
    if column in schema.names:
        return [column], schema.field(column).type
    parts = column.split(PATH_SEPARATOR)
    arrow_type: pa.DataType = pa.struct(list(schema))
    for part in parts:
        if not pa.types.is_struct(arrow_type) or arrow_type.get_field_index(part) < 0:
            raise UnsupportedError(f"column {column} not found when counting people")
        arrow_type = arrow_type.field(part).type
    return parts, arrow_type


def _path_expression(schema: pa.Schema, column: str) -> str:
    parts, arrow_type = _field_path(schema, column)
    expression = quote(parts[0]) + "".join(
        f"[{_sql_string(part)}]" for part in parts[1:]
    )
    return _as_text(expression, arrow_type)


def _scan_keys(dataset: ds.Dataset, columns: Sequence[str]) -> KeyColumns:
    """Read only the key columns, renamed ``key_0``... , in large batches.

    A reader of large batches decodes in pyarrow's threads while DuckDB
    groups the previous batch; registering the dataset itself measured no
    faster with bench/count_bench.py data. The scan starts when DuckDB requests
    for the first batch: pyarrow starts decoding ahead as soon as a scanner's
    reader exists, so opening every dataset of a transfer at once would hold
    readahead batches of all of them in memory.
    """
    paths = [_field_path(dataset.schema, column) for column in columns]
    projection = {
        f"key_{index}": pc.field(*parts) for index, (parts, _) in enumerate(paths)
    }
    schema = pa.schema(
        [
            (name, arrow_type)
            for name, (_, arrow_type) in zip(projection, paths, strict=True)
        ]
    )

    def open_scan() -> pa.RecordBatchReader:
        return dataset.scanner(
            columns=projection,
            batch_size=SCAN_BATCH_ROWS,
            batch_readahead=SCAN_READAHEAD_BATCHES,
            fragment_readahead=1,
            use_threads=True,
        ).to_reader()

    expressions = [
        _as_text(quote(f"key_{index}"), arrow_type)
        for index, (_, arrow_type) in enumerate(paths)
    ]
    return KeyColumns(deferred(schema, open_scan), expressions)


def deferred(
    schema: pa.Schema, open_reader: Callable[[], Iterable[pa.RecordBatch]]
) -> pa.RecordBatchReader:
    """Return a reader that calls ``open_reader`` when its first batch is asked for.

    The counter opens every dataset of a transfer before DuckDB reads the
    first. An open file, a decoded block or a whole parsed document for each
    of thousands of datasets would not fit, so the files are opened, read
    and closed one after another. ``open_reader`` may return a reader, or
    an iterator that closes its file when exhausted.
    """

    def batches() -> Iterator[pa.RecordBatch]:
        reader = open_reader()
        try:
            yield from reader
        finally:
            close = getattr(reader, "close", None)
            if close is not None:
                close()

    return pa.RecordBatchReader.from_batches(schema, batches())


#: Errors that mean a dataset's data could not be read, not a bug in cardex.
DATA_ERRORS = (OSError, pa.ArrowException, UnicodeError, ValueError, DatasetError)


def watched(
    keys: KeyColumns, on_error: Callable[[BaseException], object]
) -> KeyColumns:
    """Return ``keys`` with read errors passed to ``on_error``, then raised.

    DuckDB reports an error of any of the readers of a query in one
    message, so ``on_error`` is how the caller learns which reader failed.
    """
    reader = keys.data

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            yield from reader
        except DATA_ERRORS as exc:
            on_error(exc)
            raise

    watched_reader = pa.RecordBatchReader.from_batches(reader.schema, batches())
    return KeyColumns(watched_reader, keys.expressions)


def _input(
    path: str, codec: str | None, filesystem: pafs.FileSystem | None
) -> pa.NativeFile:
    """Open ``path`` as a stream, decompressing ``codec`` when given."""
    if filesystem is None:
        return pa.input_stream(path, compression=codec)
    raw = filesystem.open_input_stream(path)
    return pa.CompressedInputStream(raw, codec) if codec else raw


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def open_file_keys(
    path: str,
    file_format: str,
    columns: Sequence[str],
    partitioned: bool = False,
    filesystem: pafs.FileSystem | None = None,
) -> KeyColumns:
    """Open the key ``columns`` of a file or Hive-partitioned folder.

    ``file_format`` is the scan's name for the format, such as ``parquet`` or
    ``csv+gzip``. ``filesystem`` reads ``path`` from an object store instead
    of the local disk. Raises ``UnsupportedError`` for formats that cannot be
    counted yet.
    """
    base_format, _, compression = file_format.partition("+")
    if base_format in DATASET_FORMATS and not compression:
        dataset = ds.dataset(
            path,
            format=DATASET_FORMATS[base_format],
            partitioning="hive" if partitioned else None,
            filesystem=filesystem,
        )
        return _scan_keys(dataset, columns)
    if partitioned:
        raise UnsupportedError(
            f"counting people in partitioned {file_format} folders is not "
            "supported yet; convert them to Parquet"
        )
    if compression and compression not in ARROW_COMPRESSIONS:
        raise UnsupportedError(
            f"counting people in {compression}-compressed files is not supported "
            "yet; decompress them first"
        )
    codec = ARROW_COMPRESSIONS.get(compression)
    if base_format == "arrow_stream":
        return _open_arrow_stream(path, columns, codec, filesystem)
    if base_format == "csv":
        return _open_delimited(path, columns, codec, filesystem)
    if base_format == "jsonl":
        return _open_json_lines(path, columns, codec, filesystem)
    if base_format == "avro":
        return _open_avro(path, columns, codec, filesystem)
    if base_format == "json":
        return _open_json_document(path, columns, codec, filesystem)
    raise UnsupportedError(
        f"counting people in {file_format or 'this'} files is not supported yet"
    )


def _open_avro(
    path: str,
    columns: Sequence[str],
    codec: str | None,
    filesystem: pafs.FileSystem | None = None,
) -> KeyColumns:
    def records() -> Iterator[Any]:
        with _input(path, codec, filesystem) as stream:
            yield from fastavro.reader(stream)

    return _from_records(records, columns)


def _open_json_document(
    path: str,
    columns: Sequence[str],
    codec: str | None,
    filesystem: pafs.FileSystem | None = None,
) -> KeyColumns:
    def records() -> Iterator[Any]:
        # NOTE: a JSON document is parsed whole in memory; JSON Lines stream.
        with _input(path, codec, filesystem) as stream:
            document = json.loads(stream.read())
        yield from document if isinstance(document, list) else [document]

    return _from_records(records, columns)


def _open_arrow_stream(
    path: str,
    columns: Sequence[str],
    codec: str | None,
    filesystem: pafs.FileSystem | None = None,
) -> KeyColumns:
    with _input(path, codec, filesystem) as source:
        schema = pa.ipc.open_stream(source).schema

    def open_stream() -> Iterator[pa.RecordBatch]:
        with _input(path, codec, filesystem) as source:
            yield from pa.ipc.open_stream(source)

    return _from_schema(schema, deferred(schema, open_stream), columns)


def _open_json_lines(
    path: str,
    columns: Sequence[str],
    codec: str | None,
    filesystem: pafs.FileSystem | None = None,
) -> KeyColumns:
    """Read JSON Lines whole, once for the types now and again when counted.

    NOTE: the types come from the whole file, so a key that is null in the
    first block and text later is still text. The cost is two reads, and one
    whole file in memory at a time.
    """
    with _input(path, codec, filesystem) as source:
        schema = pa_json.read_json(source).schema

    def read_lines() -> Iterator[pa.RecordBatch]:
        with _input(path, codec, filesystem) as source:
            table = pa_json.read_json(source)
        yield from table.cast(schema).to_batches()

    return _from_schema(schema, deferred(schema, read_lines), columns)


def _from_records(
    open_records: Callable[[], Iterator[Any]], columns: Sequence[str]
) -> KeyColumns:
    """Stream the key columns of row records (Avro, JSON) as string batches.

    ``open_records`` is called when DuckDB asks for the first batch.

    NOTE: records are walked in Python, one value at a time, so these
    formats count far slower than Parquet, ORC or CSV.
    """
    names = [f"key_{index}" for index in range(len(columns))]
    paths = [column.split(PATH_SEPARATOR) for column in columns]
    for column in columns:
        if LIST_SUFFIX in column:
            raise UnsupportedError(
                f"column {column} is inside a list; counting people by keys in "
                "lists is not supported yet"
            )

    def batches() -> Iterator[pa.RecordBatch]:
        records = open_records()
        while chunk := list(itertools.islice(records, SQL_BATCH_ROWS)):
            arrays = [
                pa.array(
                    [_lookup(record, column, parts) for record in chunk], pa.string()
                )
                for column, parts in zip(columns, paths, strict=True)
            ]
            if not columns:
                # A batch needs a column to carry its row count.
                arrays = [pa.nulls(len(chunk), pa.string())]
            yield pa.record_batch(arrays, names=names or [ROW_COLUMN])

    schema = pa.schema([(name, pa.string()) for name in names or [ROW_COLUMN]])
    return KeyColumns(deferred(schema, batches), [quote(name) for name in names])


def _lookup(record: Any, column: str, parts: Sequence[str]) -> str | None:
    """Return the value at a dotted column path of a record, as text."""
    value = record.get(column) if isinstance(record, dict) else None
    if value is None:
        value = record
        for part in parts:
            value = value.get(part) if isinstance(value, dict) else None
    if value is None or isinstance(value, (dict, list)):
        return None
    return _text(value)


def _from_schema(
    schema: pa.Schema, reader: pa.RecordBatchReader, columns: Sequence[str]
) -> KeyColumns:
    expressions = [_path_expression(schema, column) for column in columns]
    return KeyColumns(reader, expressions)


def _open_delimited(
    path: str,
    columns: Sequence[str],
    codec: str | None,
    filesystem: pafs.FileSystem | None = None,
) -> KeyColumns:
    """Stream a delimited text file with the layout the scan's sniffer finds."""
    with _input(path, codec, filesystem) as handle:
        head = handle.read(SNIFF_BYTES)
    encoding = detect_encoding(head, path)
    text = head[encoding.bom_length :].decode(encoding.codec, errors="replace")
    layout = sniff_layout(text)
    if layout.delimiter is None:
        raise UnsupportedError(
            f"{os.path.basename(path)} is read one value per line; counting "
            "people in it is not supported yet"
        )
    names = _column_names(layout, text)
    missing = [column for column in columns if column not in names]
    if missing:
        raise UnsupportedError(f"columns {missing} not found when counting people")

    expected = list(dict.fromkeys(columns))
    # Counting rows needs no key column, but reading one keeps the layout.
    included = expected or names[:1]
    # NOTE: rows with the wrong number of fields are skipped, as in the scan,
    # so their people are not counted. skip_rows counts physical lines, so
    # blank lines inside a preamble shift the header.
    read_options = pa_csv.ReadOptions(
        column_names=names,
        skip_rows=layout.preamble_rows + (1 if layout.header else 0),
        encoding=encoding.codec,
        block_size=1 << 22,
    )
    parse_options = pa_csv.ParseOptions(
        delimiter=layout.delimiter,
        quote_char=layout.quotechar,
        invalid_row_handler=lambda row: "skip",
    )
    convert_options = pa_csv.ConvertOptions(
        include_columns=included, column_types=dict.fromkeys(included, pa.string())
    )

    def open_rows() -> Iterator[pa.RecordBatch]:
        with _input(path, codec, filesystem) as source:
            yield from pa_csv.open_csv(
                source,
                read_options=read_options,
                parse_options=parse_options,
                convert_options=convert_options,
            )

    schema = pa.schema([(name, pa.string()) for name in included])
    return KeyColumns(
        deferred(schema, open_rows), [f"CAST({quote(c)} AS VARCHAR)" for c in columns]
    )


def _column_names(layout: TextLayout, text: str) -> list[str]:
    """Name the columns as the scan does: from the header row, or by position."""
    rows = (row for row in layout.rows(text) if row and any(row))
    for _ in range(layout.preamble_rows):
        next(rows, [])
    header: list[str] = next(rows, [])
    return column_names(header if layout.header else None, layout.width)


def count_file_rows(
    path: str,
    file_format: str,
    partitioned: bool = False,
    filesystem: pafs.FileSystem | None = None,
) -> int:
    """Count the rows of a whole file, for datasets without a subject key."""
    if file_format in DATASET_FORMATS:
        dataset = ds.dataset(
            path,
            format=DATASET_FORMATS[file_format],
            partitioning="hive" if partitioned else None,
            filesystem=filesystem,
        )
        return int(dataset.count_rows())
    keys = open_file_keys(path, file_format, [], partitioned, filesystem)
    data = keys.data
    if isinstance(data, pa.Table):
        return int(data.num_rows)
    return sum(batch.num_rows for batch in data)


@dataclass(frozen=True)
class SqlTable:
    """A database table to count in: its source URL (with secrets) and name."""

    source: str
    schema: str
    name: str
    timeout: float


def find_sql_source(uri: str, sources: Sequence[str], relation: Relation) -> str | None:
    """Return the source URL the table at ``uri`` was found in.

    A source given as a URL keeps its password. A SQLite file found inside
    a folder is named by the dataset URI itself, which has no secrets.
    """
    for source in sources:
        try:
            target = parse_source(source)
        except (UsageError, ValueError):
            continue
        if uri == target.relation_uri(relation):
            return source
    # The relation's part of a URI: "/schema/name", escaped as the connector does.
    suffix = SqlSource(
        url=URL.create("sqlite"), public_uri="", secrets=()
    ).relation_uri(relation)
    if uri.startswith("sqlite:") and uri.endswith(suffix):
        return uri[: -len(suffix)]
    return None


def _sql_engine(table: SqlTable) -> tuple[sa.engine.Engine, Any]:
    target = parse_source(table.source)
    dialect = dialect_for(target.url)
    return dialect.create_engine(target.url, table.timeout), dialect


def open_sql_keys(table: SqlTable, columns: Sequence[str]) -> list[KeyColumns]:
    """Stream the distinct non-null values of each key column of a table.

    Each column becomes one reader of one VARCHAR column ``k``; the database
    removes duplicates, DuckDB normalises and removes the rest.
    """
    schema = pa.schema([("k", pa.string())])
    return [
        KeyColumns(
            pa.RecordBatchReader.from_batches(schema, _distinct_batches(table, column)),
            ['"k"'],
        )
        for column in columns
    ]


def _distinct_batches(table: SqlTable, column: str) -> Iterator[pa.RecordBatch]:
    engine, dialect = _sql_engine(table)
    relation = sa.table(table.name, sa.column(column), schema=table.schema or None)
    statement = (
        sa.select(relation.c[column]).where(relation.c[column].is_not(None)).distinct()
    )
    try:
        with (
            engine.connect() as connection,
            dialect.read_only(connection, table.timeout),
        ):
            result = connection.execution_options(stream_results=True).execute(
                statement
            )
            while rows := result.fetchmany(SQL_BATCH_ROWS):
                values = [_text(row[0]) for row in rows]
                yield pa.record_batch([pa.array(values, pa.string())], names=["k"])
    finally:
        engine.dispose()


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def count_sql_rows(table: SqlTable) -> int:
    """Count the rows of a whole table, for datasets without a subject key."""
    engine, dialect = _sql_engine(table)
    relation = sa.table(table.name, schema=table.schema or None)
    statement = sa.select(sa.func.count()).select_from(relation)
    try:
        with (
            engine.connect() as connection,
            dialect.read_only(connection, table.timeout),
        ):
            return int(connection.execute(statement).scalar_one())
    finally:
        engine.dispose()
