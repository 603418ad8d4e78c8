"""Samplers for text files: delimited text (CSV, TSV...), JSON and JSON Lines.

A text file up to ``SPREAD_THRESHOLD`` bytes is read whole. A larger one is
read as a head (for the encoding, layout and header) plus ``SPREAD_CHUNKS``
byte ranges at evenly spaced offsets, each cut to whole lines, so that the
bytes read stay bounded whatever the file size.

Delimited text is never type-inferred: every column is a string, so leading
zeros in IDs and phone numbers survive. Repeated header names are kept and
suffixed ``_2``, ``_3``... Text whose rows split into more than
``MAX_COLUMNS`` fields raises ``ColumnLimitError``.

JSON nested deeper than Python's json parser reads (about 1,000 levels, set
by the interpreter's recursion limit) raises ``UnsupportedError``. A JSON
Lines file only skips the lines that are nested too deeply, with a note.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from connectors.files.content import MIB, ByteSource, ReadContext
from connectors.files.detect import TextEncoding, decode_text, detect_encoding
from connectors.files.dialect import TextLayout, sniff_layout
from connectors.files.flatten import (
    MAX_COLUMNS,
    ColumnLimitError,
    flatten_records,
    unique_names,
)
from connectors.files.spread import spread_indices
from scanner.errors import UnreadableFormatError, UnsupportedError
from scanner.masking import redact_text
from scanner.model import Sample

SPREAD_THRESHOLD = 4 * MIB
SPREAD_CHUNKS = 8
_HEAD_CHUNK = 1 * MIB
_MIN_CHUNK = 64 * 1024
_MAX_CHUNK = 4 * MIB

# A JSON document (not JSON Lines) up to this size is parsed whole. A larger
# array is parsed record by record from its first _JSON_PREFIX bytes.
_JSON_DOCUMENT_LIMIT = 32 * MIB
_JSON_PREFIX = 16 * MIB

# Characters of the head given to the layout sniffer.
_SNIFF_CHARACTERS = 256 * 1024
# A delimited layout that skips more than this share of the rows as ragged
# is given up for one value per line.
_MAX_DROPPED_SHARE = 0.2

# The share of lines that must parse for a file to count as JSON Lines.
_MIN_JSON_LINES_SHARE = 0.5


@dataclass(frozen=True)
class _Piece:
    """Whole lines of decoded text read from one byte range.

    ``invalid`` counts the characters replaced because they did not decode.
    """

    text: str
    first: bool
    invalid: int = 0


def sample_delimited(source: ByteSource, context: ReadContext) -> Sample:
    """Sample delimited text; every column is read as a string."""
    encoding = detect_encoding(source.head, context.path)
    pieces = list(_read_pieces(source, context, encoding))
    _note_invalid(context, sum(piece.invalid for piece in pieces), encoding)
    head_text = pieces[0].text if pieces else ""
    if not head_text.strip():
        raise UnreadableFormatError(
            f"{context.path} contains no text rows, only whitespace; remove it or "
            "exclude it from the scan"
        )

    layout = sniff_layout(head_text[:_SNIFF_CHARACTERS])
    if layout.width > MAX_COLUMNS:
        # The sniffed row may be cut at the end of the sniffed text.
        raise ColumnLimitError(f"rows of at least {layout.width:,} fields")
    names, rows, skipped = _parse_pieces(pieces, layout)
    if _mostly_dropped(layout, len(rows), skipped):
        # Text that only partly fits a table (config files, logs with a
        # header block) is kept whole, one line per value, so that nothing in
        # it escapes the classifiers.
        context.note(
            f"only {len(rows)} of {len(rows) + skipped} rows fit one delimited "
            "layout; each line is read as one value"
        )
        layout = TextLayout(delimiter=None, header=False)
        names, rows, skipped = _parse_pieces(pieces, layout)
    _note_layout(context, layout, encoding, skipped)

    chosen = [rows[i] for i in spread_indices(len(rows), context.rows)]
    columns = list(zip(*chosen, strict=True)) if chosen else [()] * len(names)
    arrays = [pa.array(list(column), pa.string()) for column in columns]
    table = pa.Table.from_arrays(arrays, names=names)
    return Sample(
        table=table,
        source_types=dict.fromkeys(names, "string"),
        total_rows=len(rows) if _is_whole(source) else None,
        format="csv",
        notes=context.notes,
    )


def _mostly_dropped(layout: TextLayout, parsed: int, skipped: int) -> bool:
    """Tell whether the layout drops too many rows to be the right one."""
    if layout.delimiter is None:
        return False
    return skipped > _MAX_DROPPED_SHARE * (parsed + skipped)


def _is_whole(source: ByteSource) -> bool:
    """Tell whether ``source`` is read whole, so its rows can be counted."""
    return source.size <= SPREAD_THRESHOLD and source.complete


def _parse_pieces(
    pieces: list[_Piece], layout: TextLayout
) -> tuple[list[str], list[tuple[str | None, ...]], int]:
    """Parse every piece; return column names, rows and the skipped row count."""
    rows: list[tuple[str | None, ...]] = []
    skipped = 0
    names: list[str] = []
    for piece in pieces:
        parsed = _non_empty_rows(layout, piece.text)
        if piece.first:
            parsed = parsed[layout.preamble_rows :]
            header = parsed[0] if layout.header and parsed else None
            names = column_names(header, layout.width)
            if header is not None:
                parsed = parsed[1:]
        for row in parsed:
            fitted = _fit_row(row, layout.width)
            if fitted is None:
                skipped += 1
            else:
                rows.append(fitted)
    return names, rows, skipped


def _non_empty_rows(layout: TextLayout, text: str) -> list[list[str] | None]:
    return [
        row
        for row in layout.rows(text)
        if row is None or any(cell.strip() for cell in row)
    ]


def _fit_row(row: list[str] | None, width: int) -> tuple[str | None, ...] | None:
    """Return the row's values with empty ones as null, or None if ragged.

    Trailing empty fields beyond the width (a delimiter at the end of a data
    line but not of the header) are dropped rather than counted as ragged.
    """
    if row is None:
        return None
    if len(row) > width and not any(cell.strip() for cell in row[width:]):
        row = row[:width]
    if len(row) != width:
        return None
    return tuple(cell if cell != "" else None for cell in row)


def column_names(header: list[str] | None, width: int) -> list[str]:
    """Name the columns from the header row, or ``column_1`` ... ``column_N``.

    A header cell that is empty names its column ``column_N`` too, and a
    repeated name gets ``_2``, ``_3``... from ``unique_names``.
    """
    cells = list(header or [])[:width]
    cells += [""] * (width - len(cells))
    return unique_names(
        cell.strip().strip("\"'").strip() or f"column_{index}"
        for index, cell in enumerate(cells, start=1)
    )


def _note_layout(
    context: ReadContext, layout: TextLayout, encoding: TextEncoding, skipped: int
) -> None:
    if encoding.codec != "utf-8" or encoding.bom_length:
        bom = " with a byte order mark" if encoding.bom_length else ""
        context.note(f"text decoded as {encoding.codec}{bom} ({encoding.source})")
    if layout.delimiter is None:
        context.note("no delimiter found; each line is one value")
    elif layout.delimiter != ",":
        context.note(f"delimiter {layout.delimiter!r}")
    if layout.quotechar != '"':
        context.note(f"values quoted with {layout.quotechar!r}")
    if not layout.header:
        context.note("no header row found; columns are named column_1 to column_N")
    if layout.preamble_rows:
        context.note(
            f"skipped {_plural(layout.preamble_rows, 'line')} before the table"
        )
    if skipped:
        context.note(
            f"skipped {_plural(skipped, 'row')} that failed to parse or whose "
            f"number of fields differs from the {layout.width} columns"
        )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def sample_json(source: ByteSource, context: ReadContext, kind: str) -> Sample:
    """Sample a JSON document (``kind="json"``) or JSON Lines (``"jsonl"``)."""
    encoding = detect_encoding(source.head, context.path)
    if kind == "jsonl":
        records = _json_lines(source, context, encoding)
    else:
        records = _json_document(source, context, encoding)

    chosen = [records[i] for i in spread_indices(len(records), context.rows)]
    table, types, notes = flatten_records(chosen)
    for note in notes:
        context.note(note)
    return Sample(
        table=table,
        source_types=types,
        total_rows=len(records) if _is_whole(source) else None,
        format=kind,
        notes=context.notes,
    )


def _json_lines(
    source: ByteSource, context: ReadContext, encoding: TextEncoding
) -> list[Any]:
    pieces = list(_read_pieces(source, context, encoding))
    _note_invalid(context, sum(piece.invalid for piece in pieces), encoding)

    records: list[Any] = []
    bad = 0
    first_error = ""
    deep_lines = 0
    too_deep: RecursionError | None = None
    for piece in pieces:
        for line in piece.text.splitlines():
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except RecursionError as exc:
                deep_lines += 1
                too_deep = exc
            except ValueError as exc:
                bad += 1
                first_error = first_error or str(exc)

    if too_deep is not None and not records:
        raise too_deep  # translate_errors reports the nesting depth
    if bad and bad > _MIN_JSON_LINES_SHARE * (bad + len(records)):
        raise UnreadableFormatError(
            f"{context.path} is not valid JSON Lines: {bad} of {bad + len(records)} "
            f"lines failed to parse (first error: {redact_text(first_error)}); "
            "fix the file or exclude it from the scan"
        )

    if bad:
        context.note(f"skipped {_plural(bad, 'invalid JSON line')}")
    if deep_lines:
        context.note(
            f"skipped {_plural(deep_lines, 'JSON line')} nested deeper than about "
            f"{_parser_depth():,} levels, the most Python's json parser reads"
        )
    return records


def _parser_depth() -> int:
    """Return about how deep Python's json parser can nest before it fails.

    In CPython 3.11 the C parser counts each nested array or object against
    the recursion limit, together with the frames already on the stack, so
    the real bound is a little lower.
    """
    # NOTE: CPython 3.12 and later guard C code with a separate limit, so
    # there this figure is only an estimate of where parsing fails.
    return sys.getrecursionlimit()


def _json_document(
    source: ByteSource, context: ReadContext, encoding: TextEncoding
) -> list[Any]:
    if source.size > _JSON_DOCUMENT_LIMIT or not source.complete:
        return _json_array_prefix(source, context, encoding)

    data = source.read_range(encoding.bom_length, source.size)
    text, invalid = decode_text(data, encoding, context.path)
    _note_invalid(context, invalid, encoding)
    values, error = _json_values(text)
    if not values:
        raise UnreadableFormatError(
            f"{context.path} is not valid JSON ({redact_text(error)}); fix the file "
            "or exclude it from the scan"
        )
    if error:
        context.note(
            f"JSON parsing stopped after {len(values)} values ({redact_text(error)})"
        )
    if len(values) == 1 and isinstance(values[0], list):
        return values[0]
    return values


def _json_values(text: str) -> tuple[list[Any], str]:
    """Parse consecutive JSON values from ``text``; return them and any error.

    A first value nested too deeply for the parser raises ``RecursionError``,
    which ``translate_errors`` reports as unsupported, not as invalid JSON.
    """
    decoder = json.JSONDecoder()
    values: list[Any] = []
    position = _skip_space(text, 0)
    while position < len(text):
        try:
            value, position = decoder.raw_decode(text, position)
        except RecursionError:
            if not values:
                raise
            return values, _too_deep_text()
        except ValueError as exc:
            return values, str(exc) or type(exc).__name__
        values.append(value)
        position = _skip_space(text, position)
    return values, ""


def _too_deep_text() -> str:
    return f"a value nested deeper than about {_parser_depth():,} levels"


def _json_array_prefix(
    source: ByteSource, context: ReadContext, encoding: TextEncoding
) -> list[Any]:
    """Parse the records of a large JSON array from its first bytes."""
    data = source.read_range(encoding.bom_length, _JSON_PREFIX)
    text, invalid = decode_text(data, encoding, context.path)
    _note_invalid(context, invalid, encoding)
    position = _skip_space(text, 0)
    if not text.startswith("[", position):
        raise UnsupportedError(
            f"{context.path} contains a JSON document that is not an array and is too "
            f"large to parse whole (over {_JSON_DOCUMENT_LIMIT // MIB} MiB, or "
            "compressed); convert it to JSON Lines"
        )

    decoder = json.JSONDecoder()
    records: list[Any] = []
    position = _skip_space(text, position + 1)
    while position < len(text) and text[position] != "]":
        try:
            record, position = decoder.raw_decode(text, position)
        except RecursionError:
            if not records:
                raise
            context.note(f"JSON array read up to {_too_deep_text()}")
            break
        except ValueError:
            break  # the prefix ends inside this record
        records.append(record)
        position = _skip_space(text, position)
        if text.startswith(",", position):
            position = _skip_space(text, position + 1)
    context.note(
        f"large JSON array sampled from the {len(records)} records in its first "
        f"{len(data) // MIB} MiB"
    )
    return records


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n\ufeff":
        position += 1
    return position


def _read_pieces(
    source: ByteSource, context: ReadContext, encoding: TextEncoding
) -> Iterator[_Piece]:
    """Yield the text to parse: all of it, or a head and spread chunks."""
    start = encoding.bom_length
    if source.size <= SPREAD_THRESHOLD:
        data = source.read_range(start, source.size)
        if not source.complete:
            data = _cut_to_last_line(data, encoding)
        yield _decoded_piece(data, encoding, context, first=True)
        return

    head = _cut_to_last_line(source.read_range(start, _HEAD_CHUNK), encoding)
    yield _decoded_piece(head, encoding, context, first=True)

    chunk = _chunk_size(head, context.rows, encoding)
    begin = start + len(head)
    if source.size - begin <= chunk * SPREAD_CHUNKS:
        # The spread ranges would cover the rest anyway: read it in one go.
        rest = source.read_range(begin, source.size - begin)
        if not source.complete:
            rest = _cut_to_last_line(rest, encoding)
        yield _decoded_piece(rest, encoding, context, first=False)
        return
    last = source.size - chunk
    step = (last - begin) / (SPREAD_CHUNKS - 1)
    offsets = {round(begin + i * step) for i in range(SPREAD_CHUNKS)}
    for offset in sorted(offsets):
        context.check_time()
        data = _whole_lines(source, offset, chunk, encoding)
        if data:
            yield _decoded_piece(data, encoding, context, first=False)
    context.note(
        f"large text file sampled from its first {len(head) // 1024} KiB and "
        f"{len(offsets)} byte ranges of about {chunk // 1024} KiB spread over "
        f"its {source.size // MIB} MiB"
    )


def _chunk_size(head: bytes, rows: int, encoding: TextEncoding) -> int:
    """Size the spread chunks so that together they hold about ``rows`` rows."""
    lines = max(1, head.count(encoding.newline))
    line_bytes = max(1, len(head) // lines)
    needed = math.ceil(rows * line_bytes * 1.5 / SPREAD_CHUNKS)
    return min(_MAX_CHUNK, max(_MIN_CHUNK, needed))


def _whole_lines(
    source: ByteSource, offset: int, length: int, encoding: TextEncoding
) -> bytes:
    """Read a byte range and keep only the whole lines in it.

    The range starts right after the first line break at or after ``offset``
    and ends after its last line break. The offset is first aligned to the
    encoding's code unit, so a UTF-16 range never starts inside a character.
    """
    unit = encoding.unit
    offset -= (offset - encoding.bom_length) % unit
    data = source.read_range(offset, length)
    newline = encoding.newline
    position = _find_aligned(data, newline, 0, unit)
    if position < 0:
        return b""
    # NOTE: a range that starts inside a quoted value spanning several lines
    # parses that value's tail as rows, which are then skipped as ragged.
    lines = data[position + len(newline) :]
    if offset + len(data) >= source.size and source.complete:
        return lines  # the range reaches the end of the file
    return _cut_to_last_line(lines, encoding)


def _find_aligned(data: bytes, needle: bytes, start: int, unit: int) -> int:
    position = data.find(needle, start)
    while position >= 0 and position % unit:
        position = data.find(needle, position + 1)
    return position


def _cut_to_last_line(data: bytes, encoding: TextEncoding) -> bytes:
    """Drop a partial line at the end of ``data``."""
    newline = encoding.newline
    position = data.rfind(newline)
    while position >= 0 and position % encoding.unit:
        position = data.rfind(newline, 0, position)
    if position < 0:
        return data
    return data[: position + len(newline)]


def _decoded_piece(
    data: bytes, encoding: TextEncoding, context: ReadContext, first: bool
) -> _Piece:
    text, invalid = decode_text(data, encoding, context.path)
    return _Piece(text, first, invalid)


def _note_invalid(context: ReadContext, invalid: int, encoding: TextEncoding) -> None:
    if invalid:
        context.note(
            f"{invalid} characters are not valid {encoding.codec} and were "
            "replaced with U+FFFD"
        )
