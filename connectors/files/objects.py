"""Describe files that are not tables: images, video, point clouds, firmware.

Such a file becomes a dataset of kind ``object``. Its sample is one row that
describes the file with ``path``, ``format``, ``object_kind`` and
``size_bytes``, plus the columns its format adds. Images add ``width`` and
``height``, point clouds ``point_count`` and ``point_fields``, MCAP logs
``topics`` and ``message_types``, and firmware images ``record_count``,
``address_start`` and ``address_end``.

Describers read headers only, through ``ByteSource.read_range``, so a
2 GB video costs the 64 KiB head plus a few box headers. A header that is
cut short or inconsistent raises ``UnreadableFormatError``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pyarrow as pa

from scanner.errors import UnreadableFormatError
from scanner.model import Sample

if TYPE_CHECKING:
    from connectors.files.content import ByteSource, ReadContext

# A describer returns the format-specific fields of the row.
ObjectFields = dict[str, int | str | None]
Describer = Callable[["ByteSource", "ReadContext"], ObjectFields]

# Column types of the object row; a row has only the columns its format fills.
OBJECT_COLUMNS: dict[str, pa.DataType] = {
    "path": pa.string(),
    "format": pa.string(),
    "object_kind": pa.string(),
    "size_bytes": pa.int64(),
    "width": pa.int64(),
    "height": pa.int64(),
    "point_count": pa.int64(),
    "point_fields": pa.string(),
    "topics": pa.string(),
    "message_types": pa.string(),
    "record_count": pa.int64(),
    "address_start": pa.int64(),
    "address_end": pa.int64(),
}

# JPEG start-of-frame markers (ITU-T T.81); C4, C8 and CC are
# other segments that share the range.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field: TEM and the restart markers RST0-RST7.
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_JPEG_EOI = b"\xff\xd9"
# Segments walked before giving up on finding the frame header.
_JPEG_MAX_SEGMENTS = 512
# Bytes at the end searched for the end-of-image marker; some cameras pad
# after it.
_TAIL_SEARCH = 1024

# The last chunk of every PNG file: length 0, type IEND, its CRC.
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"

# Top-level MP4 boxes walked to check that the file is complete.
_MP4_MAX_BOXES = 4096


def describe_object(
    format_name: str, object_kind: str, describer: Describer | None
) -> Callable[[ByteSource, ReadContext], Sample]:
    """Return a sampler that describes one object file as a one-row sample."""

    def sample(source: ByteSource, context: ReadContext) -> Sample:
        fields: ObjectFields = {
            "path": context.path,
            "format": format_name,
            "object_kind": object_kind,
            "size_bytes": source.size,
        }
        if describer is not None:
            fields.update(describer(source, context))
        return _one_row(fields, format_name, context)

    return sample


def _one_row(fields: ObjectFields, format_name: str, context: ReadContext) -> Sample:
    arrays = {
        name: pa.array([value], OBJECT_COLUMNS[name]) for name, value in fields.items()
    }
    return Sample(
        table=pa.table(arrays),
        source_types={name: "object metadata" for name in arrays},
        total_rows=1,
        notes=list(context.notes),
        format=format_name,
    )


def corrupt(
    source: ByteSource, context: ReadContext, what: str
) -> UnreadableFormatError:
    """Return the error for an object file whose header is invalid or cut short."""
    return UnreadableFormatError(
        f"could not read {context.path} ({source.size} bytes): {what}; the file "
        "may be truncated or corrupt, so copy it again or exclude it from the scan"
    )


def read_exact(
    source: ByteSource, context: ReadContext, offset: int, length: int, what: str
) -> bytes:
    """Read ``length`` bytes at ``offset``; raise if the file ends before."""
    data = source.read_range(offset, length)
    if len(data) < length:
        raise corrupt(source, context, f"the file ends inside the {what}")
    return data


def describe_jpeg(source: ByteSource, context: ReadContext) -> ObjectFields:
    """Read the width and height from the JPEG frame header (SOFn segment)."""
    offset = 2
    for _ in range(_JPEG_MAX_SEGMENTS):
        header = read_exact(source, context, offset, 4, "JPEG segment headers")
        if header[0] != 0xFF:
            raise corrupt(source, context, f"no JPEG marker at byte {offset}")
        marker = header[1]
        if marker == 0xFF:  # fill byte before a marker
            offset += 1
            continue
        if marker in _JPEG_STANDALONE:
            offset += 2
            continue
        if marker in (0xD9, 0xDA):
            raise corrupt(source, context, "the JPEG scan starts before its frame")
        if marker in _JPEG_SOF:
            frame = read_exact(source, context, offset + 4, 5, "JPEG frame header")
            _check_tail(source, context, _JPEG_EOI, "JPEG end-of-image marker")
            return {
                "width": int.from_bytes(frame[3:5], "big"),
                "height": int.from_bytes(frame[1:3], "big"),
            }
        offset += 2 + int.from_bytes(header[2:4], "big")
    raise corrupt(source, context, "no JPEG frame header in the first segments")


def describe_png(source: ByteSource, context: ReadContext) -> ObjectFields:
    """Read the width and height from the PNG IHDR chunk (PNG specification)."""
    header = read_exact(source, context, 8, 16, "PNG header chunk")
    if header[4:8] != b"IHDR":
        raise corrupt(source, context, "the first PNG chunk is not IHDR")
    tail = source.read_range(max(0, source.size - len(_PNG_IEND)), len(_PNG_IEND))
    if tail != _PNG_IEND:
        raise corrupt(source, context, "the PNG file does not end with an IEND chunk")
    return {
        "width": int.from_bytes(header[8:12], "big"),
        "height": int.from_bytes(header[12:16], "big"),
    }


def describe_gif(source: ByteSource, context: ReadContext) -> ObjectFields:
    """Read the logical screen size from the GIF header."""
    header = read_exact(source, context, 6, 4, "GIF screen descriptor")
    return {
        "width": int.from_bytes(header[0:2], "little"),
        "height": int.from_bytes(header[2:4], "little"),
    }


def describe_bmp(source: ByteSource, context: ReadContext) -> ObjectFields:
    """Read the size from a BMP info header; a negative height is top-down."""
    header = read_exact(source, context, 14, 12, "BMP info header")
    if int.from_bytes(header[0:4], "little") < 40:
        raise corrupt(source, context, "the BMP info header is too short")
    return {
        "width": int.from_bytes(header[4:8], "little", signed=True),
        "height": abs(int.from_bytes(header[8:12], "little", signed=True)),
    }


def describe_mp4(source: ByteSource, context: ReadContext) -> ObjectFields:
    """Walk the top-level MP4 boxes (ISO/IEC 14496-12) to check none is cut."""
    offset = 0
    for _ in range(_MP4_MAX_BOXES):
        if offset >= source.size:
            return {}
        header = read_exact(source, context, offset, 8, "MP4 box header")
        size = int.from_bytes(header[0:4], "big")
        if size == 1:  # a 64-bit size follows the box type
            size = int.from_bytes(
                read_exact(source, context, offset + 8, 8, "MP4 box size"), "big"
            )
        elif size == 0:  # the box runs to the end of the file
            return {}
        if size < 8 or offset + size > source.size:
            box = header[4:8].decode("latin-1")
            raise corrupt(source, context, f"the MP4 box {box!r} runs past the end")
        offset += size
    context.note(f"MP4 structure checked for its first {_MP4_MAX_BOXES} boxes only")
    return {}


def describe_riff(source: ByteSource, context: ReadContext) -> ObjectFields:
    """Check that the RIFF container (AVI, WebP) is as long as it declares."""
    declared = int.from_bytes(
        read_exact(source, context, 4, 4, "RIFF header"), "little"
    )
    if declared + 8 > source.size:
        raise corrupt(
            source,
            context,
            f"the RIFF header declares {declared + 8} bytes but the file has "
            f"{source.size}",
        )
    return {}


def _check_tail(
    source: ByteSource, context: ReadContext, marker: bytes, what: str
) -> None:
    start = max(0, source.size - _TAIL_SEARCH)
    if marker not in source.read_range(start, source.size - start):
        raise corrupt(source, context, f"the {what} is missing")
