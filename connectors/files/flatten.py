"""Flatten nested data into leaf columns named by dotted path.

Both entry points produce the same shape, one row per record:

- a struct field becomes its own column, ``owner.name``;
- a value reached through one or more lists becomes a list column holding,
  per row, every leaf value under that path, in order. Its name marks each
  list level with ``[]`` and each map level with ``{}``: ``owner.phones[]``,
  ``trips[].stops[].city``, ``tags{}.key``, ``tags{}.value``;
- a list of numbers (an embedding, a point, a coordinate pair) is one value,
  not a list level. It keeps its plain name and stays a list of numbers per
  row, or a list of such vectors per row when it sits under another list;
- dictionary arrays are decoded, extension arrays give their storage, and
  union values become strings.

``flatten_table`` works on Arrow tables (Parquet, ORC, Arrow, Avro);
``flatten_records`` on parsed JSON, where one key can hold different types
in different records.

Leaf names that collide are made unique by ``unique_names``: the first keeps
its name and later ones get ``_2``, ``_3``..., the same convention as the
columns of delimited text.

A dataset is sampled only if it has at most ``MAX_COLUMNS`` (5,000) leaf
columns, and a wider one raises ``ColumnLimitError``. Classifying takes time
for every column, and JSON that uses values (IDs, phone numbers) as object
keys turns each value into a column. The bound keeps such files from stalling
a scan.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scanner.model import LIST_SUFFIX, PATH_SEPARATOR

MAP_SUFFIX = "{}"

# JSON nested deeper than this is kept as one JSON string per value.
MAX_RECORD_DEPTH = 64

# Leaf columns sampled per dataset at most; see the module docstring.
MAX_COLUMNS = 5_000

# Floats represent integers exactly up to 2**53.
_MAX_EXACT_FLOAT_INT = 2**53
_INT64_RANGE = (-(2**63), 2**63 - 1)

_TOO_DEEP_NOTE = (
    f"values nested deeper than {MAX_RECORD_DEPTH} levels are kept as JSON text"
)


class ColumnLimitError(Exception):
    """Raised when a dataset has more than ``MAX_COLUMNS`` columns.

    ``found`` describes what was counted, such as ``"12,000 leaf columns"``.
    It never quotes a column name, because JSON keys can be sampled values.
    """

    def __init__(self, found: str) -> None:
        super().__init__(found)
        self.found = found


@dataclass
class _Leaf:
    name: str
    array: pa.Array | pa.ChunkedArray
    source_type: str


@dataclass(frozen=True)
class _Rows:
    """Parent rows of the values under a list level, one row index per value."""

    parents: np.ndarray
    row_count: int
    null_rows: np.ndarray


def join_path(parent: str, child: str) -> str:
    """Join a parent path and a field name with the path separator."""
    return f"{parent}{PATH_SEPARATOR}{child}" if parent else child


def flatten_table(table: pa.Table) -> tuple[pa.Table, dict[str, str]]:
    """Flatten ``table`` into leaf columns; return it with each leaf's type."""
    leaves: list[_Leaf] = []
    for field, column in zip(table.schema, table.columns, strict=True):
        _flatten_plain(field.name, _single_array(column), leaves)
    return _assemble(leaves)


def _single_array(column: pa.ChunkedArray) -> pa.Array:
    if column.num_chunks == 1:
        return column.chunk(0)
    return column.combine_chunks()


def _flatten_plain(path: str, array: pa.Array, leaves: list[_Leaf]) -> None:
    """Flatten a column with one value per row."""
    declared = str(array.type)
    array = _decoded(array)
    kind = array.type

    if pa.types.is_struct(kind):
        for field, child in zip(kind, array.flatten(), strict=True):
            _flatten_plain(join_path(path, field.name), child, leaves)
    elif _is_vector(kind):
        leaves.append(_Leaf(path, array, declared))
    elif pa.types.is_map(kind):
        entries = _map_as_list(array)
        rows = _rows_of(entries, len(entries))
        _flatten_repeated(path + MAP_SUFFIX, pc.list_flatten(entries), rows, leaves)
    elif _is_list(kind):
        rows = _rows_of(array, len(array))
        _flatten_repeated(path + LIST_SUFFIX, pc.list_flatten(array), rows, leaves)
    elif pa.types.is_union(kind):
        leaves.append(_Leaf(path, _stringified(array), declared))
    else:
        leaves.append(_Leaf(path, array, declared))


def _flatten_repeated(
    path: str, values: pa.Array, rows: _Rows, leaves: list[_Leaf]
) -> None:
    """Flatten values reached through a list; ``rows`` maps them to rows."""
    declared = str(values.type)
    values = _decoded(values)
    kind = values.type

    if pa.types.is_struct(kind):
        for field, child in zip(kind, values.flatten(), strict=True):
            _flatten_repeated(join_path(path, field.name), child, rows, leaves)
    elif _is_vector(kind):
        leaves.append(_Leaf(path, _rows_to_lists(values, rows), declared))
    elif pa.types.is_map(kind) or _is_list(kind):
        suffix = MAP_SUFFIX if pa.types.is_map(kind) else LIST_SUFFIX
        as_list = _map_as_list(values) if pa.types.is_map(kind) else values
        inner_parents = np.asarray(pc.list_parent_indices(as_list), dtype=np.int64)
        inner = _Rows(rows.parents[inner_parents], rows.row_count, rows.null_rows)
        _flatten_repeated(path + suffix, pc.list_flatten(as_list), inner, leaves)
    elif pa.types.is_union(kind):
        leaves.append(_Leaf(path, _rows_to_lists(_stringified(values), rows), declared))
    else:
        leaves.append(_Leaf(path, _rows_to_lists(values, rows), declared))


def _decoded(array: pa.Array) -> pa.Array:
    """Decode dictionary arrays and unwrap extension arrays."""
    while True:
        if isinstance(array.type, pa.BaseExtensionType):
            array = array.storage
        elif pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        else:
            return array


def _is_list(kind: pa.DataType) -> bool:
    return (
        pa.types.is_list(kind)
        or pa.types.is_large_list(kind)
        or pa.types.is_fixed_size_list(kind)
        or pa.types.is_list_view(kind)
        or pa.types.is_large_list_view(kind)
    )


def _is_vector(kind: pa.DataType) -> bool:
    """Tell whether ``kind`` is a list of plain numbers."""
    if not _is_list(kind) or pa.types.is_map(kind):
        return False
    element = kind.value_type
    return (
        pa.types.is_integer(element)
        or pa.types.is_floating(element)
        or pa.types.is_decimal(element)
    )


def _map_as_list(array: pa.Array) -> pa.Array:
    """View a map array as a list of ``key``/``value`` structs."""
    kind = array.type
    entry = pa.struct([kind.key_field, kind.item_field])
    return array.cast(pa.list_(entry))


def _rows_of(array: pa.Array, row_count: int) -> _Rows:
    parents = np.asarray(pc.list_parent_indices(array), dtype=np.int64)
    null_rows = np.asarray(array.is_null(), dtype=bool)
    return _Rows(parents, row_count, null_rows)


def _rows_to_lists(values: pa.Array, rows: _Rows) -> pa.Array:
    """Group ``values`` into one list per row, following ``rows.parents``."""
    counts = np.bincount(rows.parents, minlength=rows.row_count)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    offset_type = pa.int32() if offsets[-1] < 2**31 else pa.int64()
    mask = pa.array(rows.null_rows & (counts == 0))
    if offset_type == pa.int64():
        return pa.LargeListArray.from_arrays(
            pa.array(offsets, offset_type), values, mask=mask
        )
    return pa.ListArray.from_arrays(pa.array(offsets, offset_type), values, mask=mask)


def _stringified(array: pa.Array) -> pa.Array:
    return pa.array([_render(value) for value in array.to_pylist()], pa.string())


def _assemble(leaves: list[_Leaf]) -> tuple[pa.Table, dict[str, str]]:
    """Build the flat table, renaming leaves whose paths collide."""
    _check_column_count(len(leaves))
    names = unique_names(leaf.name for leaf in leaves)
    types = {name: leaf.source_type for name, leaf in zip(names, leaves, strict=True)}
    if not leaves:
        return pa.table({}), types
    return pa.Table.from_arrays([leaf.array for leaf in leaves], names=names), types


def _check_column_count(count: int) -> None:
    if count > MAX_COLUMNS:
        raise ColumnLimitError(f"{count:,} leaf columns")


def unique_names(names: Iterable[str]) -> list[str]:
    """Suffix repeated names with ``_2``, ``_3``... in order of appearance.

    The first occurrence keeps its name. A suffixed name that is already taken
    moves on to the next number, so the result has no repeats. Each base name
    remembers its next number, which keeps the work linear in the names.
    """
    used: set[str] = set()
    next_suffix: dict[str, int] = {}
    unique: list[str] = []
    for name in names:
        candidate = name
        if candidate in used:
            suffix = next_suffix.get(name, 2)
            candidate = f"{name}_{suffix}"
            while candidate in used:
                suffix += 1
                candidate = f"{name}_{suffix}"
            next_suffix[name] = suffix + 1
        used.add(candidate)
        unique.append(candidate)
    return unique


def flatten_records(
    records: Sequence[Any],
) -> tuple[pa.Table, dict[str, str], list[str]]:
    """Flatten parsed JSON records into a table of leaf columns.

    Returns the table, the JSON kind of each column (``string``, ``integer``,
    ``number``, ``boolean``, ``array<number>``, ``mixed``, ``null``) and notes.
    A record that is not an object becomes ``{"value": record}``. A column
    whose values have different JSON kinds contains them all as strings. A list
    column is null in a row where the list is missing or empty, because an
    empty list names none of the leaves below it.
    """
    columns: dict[tuple[str, bool], list[Any]] = {}
    notes: list[str] = []
    for index, record in enumerate(records):
        row: dict[tuple[str, bool], Any] = {}
        if not isinstance(record, dict):
            record = {"value": record}
        if _walk(record, "", False, row, 0):
            _add_note(notes, _TOO_DEEP_NOTE)
        for key, value in row.items():
            column = columns.setdefault(key, [])
            # Pad the rows before this one in which the leaf was missing.
            column.extend([None] * (index - len(column)))
            column.append(value)
        _check_column_count(len(columns))
    for column in columns.values():
        column.extend([None] * (len(records) - len(column)))

    leaves = [
        _record_leaf(path, repeated, values)
        for (path, repeated), values in columns.items()
    ]
    table, types = _assemble(leaves)
    return table, types, notes


def _add_note(notes: list[str], note: str) -> None:
    if note not in notes:
        notes.append(note)


def _walk(
    value: Any, path: str, repeated: bool, row: dict[tuple[str, bool], Any], depth: int
) -> bool:
    """Add the leaves of ``value`` to ``row``; return True if any was too deep."""
    if depth > MAX_RECORD_DEPTH and isinstance(value, dict | list):
        _emit(json.dumps(value, default=str), path, repeated, row)
        return True
    if isinstance(value, dict):
        too_deep = False
        for key, child in value.items():
            too_deep |= _walk(
                child, join_path(path, str(key)), repeated, row, depth + 1
            )
        return too_deep
    if isinstance(value, list | tuple):
        if _is_number_list(value):
            _emit(list(value), path, repeated, row)
            return False
        too_deep = False
        for item in value:
            too_deep |= _walk(item, path + LIST_SUFFIX, True, row, depth + 1)
        return too_deep
    _emit(value, path, repeated, row)
    return False


def _emit(
    value: Any, path: str, repeated: bool, row: dict[tuple[str, bool], Any]
) -> None:
    if repeated:
        row.setdefault((path, True), []).append(value)
    else:
        row[(path, False)] = value


def _is_number_list(value: Sequence[Any]) -> bool:
    return bool(value) and all(type(item) in (int, float) for item in value)


def _record_leaf(path: str, repeated: bool, values: list[Any]) -> _Leaf:
    if not repeated:
        array, kind = _infer_array(values)
        return _Leaf(path, array, kind)

    elements = [item for items in values if items for item in items]
    element_array, kind = _infer_array(elements)
    counts = [len(items) if items else 0 for items in values]
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]), pa.int32())
    mask = pa.array([items is None for items in values])
    return _Leaf(
        path, pa.ListArray.from_arrays(offsets, element_array, mask=mask), kind
    )


def _infer_array(values: list[Any]) -> tuple[pa.Array, str]:
    """Build an Arrow array from JSON values; mixed kinds become strings."""
    kinds = {type(value) for value in values if value is not None}
    if not kinds:
        return pa.nulls(len(values), pa.string()), "null"
    if kinds == {bool}:
        return pa.array(values, pa.bool_()), "boolean"
    if kinds == {int} and _fits_int64(values):
        return pa.array(values, pa.int64()), "integer"
    if kinds <= {int, float} and _exact_as_float(values):
        return pa.array(values, pa.float64()), "number"
    if kinds == {str}:
        return pa.array(values, pa.string()), "string"
    if kinds == {bytes}:
        return pa.array(values, pa.binary()), "bytes"
    if kinds == {list}:
        return _vector_array(values), "array<number>"
    if len(kinds) == 1:
        try:
            array = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            pass
        else:
            return array, str(array.type)
    return pa.array([_render(value) for value in values], pa.string()), "mixed"


def _vector_array(values: list[Any]) -> pa.Array:
    numbers = [item for vector in values if vector for item in vector]
    if all(type(item) is int for item in numbers) and _fits_int64(numbers):
        return pa.array(values, pa.list_(pa.int64()))
    floats = [None if v is None else [float(item) for item in v] for v in values]
    return pa.array(floats, pa.list_(pa.float64()))


def _fits_int64(values: Iterable[Any]) -> bool:
    low, high = _INT64_RANGE
    return all(low <= value <= high for value in values if type(value) is int)


def _exact_as_float(values: Iterable[Any]) -> bool:
    return all(
        abs(value) <= _MAX_EXACT_FLOAT_INT for value in values if type(value) is int
    )


def _render(value: Any) -> str | None:
    """Render one value as text the way JSON writes it."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)
