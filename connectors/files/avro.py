"""Sample Avro object container files.

An Avro container is a header followed by blocks, each ending with the
file's 16-byte sync marker. The sampler walks the block headers (a record
count and a byte size, both zig-zag varints) without decoding, and picks
evenly spaced blocks. It decodes only those, by handing fastavro the header
followed by the chosen blocks, which is itself a valid container.

Records are converted to Arrow with types derived from the writer schema, so
that Avro maps become ``{}`` columns like Parquet maps, then flattened like
any Arrow table.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import fastavro
import pyarrow as pa

from connectors.files.content import ByteSource, ReadContext
from connectors.files.flatten import (
    MAP_SUFFIX,
    flatten_records,
    flatten_table,
    join_path,
)
from connectors.files.spread import allocate_rows, choose_groups, spread_indices
from scanner.model import LIST_SUFFIX, Sample

_SYNC_SIZE = 16
_NUMERIC_PRIMITIVES = frozenset({"int", "long", "float", "double"})
_PRIMITIVE_ARROW: dict[str, pa.DataType] = {
    "null": pa.null(),
    "boolean": pa.bool_(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "bytes": pa.binary(),
    "string": pa.string(),
}
_LOGICAL_ARROW: dict[str, pa.DataType] = {
    "date": pa.date32(),
    "time-millis": pa.time32("ms"),
    "time-micros": pa.time64("us"),
    "timestamp-millis": pa.timestamp("ms", tz="UTC"),
    "timestamp-micros": pa.timestamp("us", tz="UTC"),
    "local-timestamp-millis": pa.timestamp("ms"),
    "local-timestamp-micros": pa.timestamp("us"),
    "uuid": pa.string(),
}
# Named types nested deeper than this (recursive records) become JSON text.
_MAX_SCHEMA_DEPTH = 32


@dataclass(frozen=True)
class _Block:
    """One block: where it starts, its length with the sync marker, its rows.

    ``header_length`` counts the two varints read to find the block.
    """

    offset: int
    length: int
    records: int
    header_length: int


def sample_avro(source: ByteSource, context: ReadContext) -> Sample:
    """Sample an Avro container from a spread of its blocks."""
    with source.open_binary() as handle:
        reader = fastavro.reader(handle)
        schema = reader.writer_schema
        header_end = handle.tell()
        blocks = list(_scan_blocks(handle, source.size, context))
        header = source.read_range(0, header_end)
        source.add_read(sum(block.header_length for block in blocks))

        chosen = choose_groups([block.records for block in blocks], context.rows)
        allocated = allocate_rows([blocks[i].records for i in chosen], context.rows)
        records: list[Any] = []
        for index, rows in zip(chosen, allocated, strict=True):
            context.check_time()
            block = blocks[index]
            data = source.read_range(block.offset, block.length)
            decoded = list(fastavro.reader(io.BytesIO(header + data)))
            records.extend(decoded[i] for i in spread_indices(len(decoded), rows))

    if 0 < len(chosen) < len(blocks):
        context.note(f"rows taken from {len(chosen)} of {len(blocks)} Avro blocks")
    records = [records[i] for i in spread_indices(len(records), context.rows)]
    table, types = _records_to_table(records, schema, context)
    return Sample(
        table=table,
        source_types=types,
        total_rows=sum(block.records for block in blocks),
        format="avro",
        notes=context.notes,
    )


def _scan_blocks(handle: BinaryIO, size: int, context: ReadContext) -> Iterator[_Block]:
    """Yield the position of each block by reading only its two varints."""
    position = handle.tell()
    while position < size:
        context.check_time()
        try:
            records = _read_long(handle)
            length = _read_long(handle)
        except EOFError:
            break
        data_start = handle.tell()
        end = data_start + length + _SYNC_SIZE
        if records < 0 or length < 0 or end > size:
            context.note("the last Avro block is truncated and was skipped")
            break
        yield _Block(position, end - position, records, data_start - position)
        handle.seek(end)
        position = end


def _read_long(handle: BinaryIO) -> int:
    """Read one zig-zag encoded variable-length long (Avro specification)."""
    shift = 0
    accumulated = 0
    while True:
        byte = handle.read(1)
        if not byte:
            raise EOFError("end of Avro data inside a varint")
        accumulated |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return (accumulated >> 1) ^ -(accumulated & 1)
        shift += 7
        if shift > 63:
            raise ValueError("invalid varint in an Avro block header")


def _records_to_table(
    records: list[Any], schema: Any, context: ReadContext
) -> tuple[pa.Table, dict[str, str]]:
    """Convert records with the schema's types, or like JSON if that fails."""
    converter = _ArrowSchema()
    try:
        arrow_type = converter.arrow_type(schema, 0)
        values = [converter.normalize(record, schema, 0) for record in records]
        array = pa.array(values, type=arrow_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError, TypeError) as exc:
        context.note(
            f"Avro records were read without their schema types ({type(exc).__name__})"
        )
        table, types, notes = flatten_records(records)
        for note in notes:
            context.note(note)
        return table, types

    if pa.types.is_struct(array.type):
        table = pa.Table.from_struct_array(array)
    else:
        table = pa.table({"value": array})
    flat, types = flatten_table(table)
    declared = dict(avro_leaf_types(schema))
    return flat, {name: declared.get(name, kind) for name, kind in types.items()}


class _SchemaNames:
    """Named Avro types (records, enums, fixed), remembered where defined.

    A later reference by short or full name resolves to the definition.
    """

    def __init__(self) -> None:
        self.named: dict[str, Any] = {}

    def resolve(self, schema: Any) -> Any:
        if isinstance(schema, str) and schema in self.named:
            return self.named[schema]
        if isinstance(schema, dict) and "name" in schema:
            self.named.setdefault(schema["name"], schema)
            if "namespace" in schema:
                full = f"{schema['namespace']}.{schema['name']}"
                self.named.setdefault(full, schema)
        return schema


class _ArrowSchema(_SchemaNames):
    """Arrow types for an Avro schema, and values shaped to fit them."""

    def arrow_type(self, schema: Any, depth: int) -> pa.DataType:
        schema = self.resolve(schema)
        if depth > _MAX_SCHEMA_DEPTH:
            return pa.string()
        if isinstance(schema, list):
            branches = [b for b in schema if b != "null"]
            if len(branches) == 1:
                return self.arrow_type(branches[0], depth)
            return pa.string()
        if isinstance(schema, str):
            return _PRIMITIVE_ARROW.get(schema, pa.string())
        return self._complex_type(schema, depth)

    def _complex_type(self, schema: dict[str, Any], depth: int) -> pa.DataType:
        logical = schema.get("logicalType")
        if logical == "decimal":
            precision = int(schema.get("precision", 38))
            decimal = pa.decimal128 if precision <= 38 else pa.decimal256
            return decimal(precision, int(schema.get("scale", 0)))
        if logical in _LOGICAL_ARROW:
            return _LOGICAL_ARROW[logical]
        kind = schema.get("type")
        if kind == "record":
            fields = [
                pa.field(field["name"], self.arrow_type(field["type"], depth + 1))
                for field in schema["fields"]
            ]
            return pa.struct(fields)
        if kind == "array":
            return pa.list_(self.arrow_type(schema["items"], depth + 1))
        if kind == "map":
            return pa.map_(pa.string(), self.arrow_type(schema["values"], depth + 1))
        if kind == "enum":
            return pa.string()
        if kind == "fixed":
            return pa.binary()
        return self.arrow_type(kind, depth)

    def normalize(self, value: Any, schema: Any, depth: int) -> Any:
        """Shape ``value`` so that ``pa.array`` accepts it for the Arrow type."""
        schema = self.resolve(schema)
        if value is None:
            return None
        if depth > _MAX_SCHEMA_DEPTH:
            return json.dumps(value, default=str)

        if isinstance(schema, list):
            branches = [b for b in schema if b != "null"]
            if len(branches) == 1:
                return self.normalize(value, branches[0], depth)
            return _as_text(value)
        if isinstance(value, uuid.UUID):
            return str(value)
        if not isinstance(schema, dict):
            return value

        kind = schema.get("type")
        if kind == "record":
            return {
                field["name"]: self.normalize(
                    value.get(field["name"]), field["type"], depth + 1
                )
                for field in schema["fields"]
            }
        if kind == "array":
            return [self.normalize(item, schema["items"], depth + 1) for item in value]
        if kind == "map":
            return [
                (key, self.normalize(item, schema["values"], depth + 1))
                for key, item in value.items()
            ]
        return value


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.hex()
    return json.dumps(value, default=str, ensure_ascii=False)


def avro_leaf_types(schema: Any) -> Iterator[tuple[str, str]]:
    """Yield each leaf column's path and Avro type, named like the flattener."""
    names = _SchemaNames()
    schema = names.resolve(schema)
    is_record = isinstance(schema, dict) and schema.get("type") == "record"
    yield from _leaf_types(schema, "" if is_record else "value", names, 0)


def _leaf_types(
    schema: Any, path: str, names: _SchemaNames, depth: int
) -> Iterator[tuple[str, str]]:
    schema = names.resolve(schema)
    if depth > _MAX_SCHEMA_DEPTH:
        yield path, "string"
        return

    if isinstance(schema, list):
        branches = [b for b in schema if b != "null"]
        if len(branches) == 1:
            yield from _leaf_types(branches[0], path, names, depth)
        else:
            yield path, _type_name(schema)
        return
    if not isinstance(schema, dict) or schema.get("logicalType"):
        yield path, _type_name(schema)
        return

    kind = schema.get("type")
    if kind == "record":
        for field in schema["fields"]:
            child = join_path(path, field["name"])
            yield from _leaf_types(field["type"], child, names, depth + 1)
    elif kind == "array" and _is_numeric(names.resolve(schema["items"])):
        yield path, _type_name(schema)
    elif kind == "array":
        yield from _leaf_types(schema["items"], path + LIST_SUFFIX, names, depth + 1)
    elif kind == "map":
        yield path + MAP_SUFFIX + ".key", "string"
        child = path + MAP_SUFFIX + ".value"
        yield from _leaf_types(schema["values"], child, names, depth + 1)
    else:
        yield path, _type_name(schema)


def _is_numeric(schema: Any) -> bool:
    """Tell whether values of ``schema`` are plain numbers (nullable or not)."""
    if isinstance(schema, list):
        branches = [b for b in schema if b != "null"]
        return len(branches) == 1 and _is_numeric(branches[0])
    if isinstance(schema, dict):
        if schema.get("logicalType") == "decimal":
            return True
        return not schema.get("logicalType") and _is_numeric(schema.get("type"))
    return schema in _NUMERIC_PRIMITIVES


def _type_name(schema: Any) -> str:
    """Render an Avro type as short text: ``long``, ``array<string>``."""
    if isinstance(schema, str):
        return schema
    if isinstance(schema, list):
        return "union<" + ",".join(_type_name(branch) for branch in schema) + ">"
    if not isinstance(schema, dict):
        return str(schema)
    if schema.get("logicalType"):
        return str(schema["logicalType"])
    kind = schema.get("type")
    if kind == "array":
        return f"array<{_type_name(schema['items'])}>"
    if kind == "map":
        return f"map<{_type_name(schema['values'])}>"
    if kind in ("record", "enum", "fixed"):
        return str(kind)
    return _type_name(kind)
