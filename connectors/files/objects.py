"""Describe files that are not tables: images, video, point clouds, firmware.

Such a file becomes a dataset of kind ``object``. Its sample is one row that
describes the file with ``path``, ``format``, ``object_kind`` and
``size_bytes``, plus the columns its format adds. Images add ``width`` and
``height``, point clouds ``point_count`` and ``point_fields``, MCAP logs
``topics`` and ``message_types``, and firmware images ``record_count``,
``address_start`` and ``address_end``.

Logs and CAN databases also name their channels: ROS topics, CAN signals,
MDF channels. Each channel becomes one more column of the row, named
``group.channel`` and holding null, so that the column-name classifiers see
the channel names as they see the columns of a table. The column's source
type names the channel kind and type (``ros topic: sensor_msgs/msg/Image``).
No channel value is stored in the sample.

Most describers read headers only, through ``ByteSource.read_range``, so a
2 GB video costs the 64 KiB head plus a few box headers. Logs are read from
their index or a bounded start (see ``rosbag``, ``can``). A header that is
cut short or inconsistent raises ``UnreadableFormatError``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from scanner.errors import MissingExtraError, UnreadableFormatError
from scanner.model import Sample

if TYPE_CHECKING:
    from connectors.files.content import ByteSource, ReadContext

ObjectFields = dict[str, int | float | bool | str | None]


@dataclass(frozen=True)
class Channel:
    """A named stream inside an object file: a topic, a signal, a channel.

    ``source_type`` starts with the channel kind and a colon (see the
    ``*_CHANNEL`` constants) and may add the message type, unit or range.
    """

    name: str
    data_type: pa.DataType
    source_type: str


@dataclass
class ObjectDescription:
    """The result of a describer: the row's fields and the file's channels."""

    fields: ObjectFields = field(default_factory=dict)
    channels: list[Channel] = field(default_factory=list)


# A describer returns the format-specific fields of the row, or a full
# description when the file has channels.
Describer = Callable[["ByteSource", "ReadContext"], ObjectFields | ObjectDescription]

# Channel kinds, the first word of a channel column's source type. The
# ``objects`` classifier reads them to find image, point cloud and GNSS
# streams inside logs.
TOPIC_CHANNEL = "ros topic"
SIGNAL_CHANNEL = "can signal"
MDF_CHANNEL = "mdf channel"
# Channel columns kept per object, because the classifiers run on each one:
# 2,000 null columns took 18 s to classify on a loaded 2-core machine.
# NOTE: channels past the cap are not classified; a note gives their count.
MAX_CHANNELS = 2_000

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
    "has_bounds": pa.bool_(),
    "point_dtype": pa.string(),
    "message_count": pa.int64(),
    "channel_count": pa.int64(),
    "duration_seconds": pa.float64(),
    "can_ids": pa.string(),
    "firmware_version": pa.string(),
    "ecu": pa.string(),
    "declared_hash": pa.string(),
    "head_sha256": pa.string(),
    "head_bytes": pa.int64(),
    "manifest": pa.string(),
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
        description = ObjectDescription()
        try:
            described = describer(source, context) if describer else {}
        except MissingExtraError as exc:
            # The row keeps the format and size, and the note names the extra.
            context.note(f"{format_name} header not read: {exc}")
            described = {}
        if isinstance(described, ObjectDescription):
            description = described
        else:
            description.fields = described
        fields.update(description.fields)
        return one_row(fields, description.channels, format_name, context)

    return sample


def one_row(
    fields: ObjectFields,
    channels: list[Channel],
    format_name: str,
    context: ReadContext,
) -> Sample:
    """Build the one-row sample of an object: its fields, then its channels."""
    arrays = {
        name: pa.array([value], OBJECT_COLUMNS[name]) for name, value in fields.items()
    }
    source_types = dict.fromkeys(arrays, "object metadata")
    if len(channels) > MAX_CHANNELS:
        context.note(
            f"{len(channels)} channels found; the first {MAX_CHANNELS} are "
            "columns of the sample"
        )
    for channel in channels[:MAX_CHANNELS]:
        if channel.name in arrays:
            continue  # the same topic or signal listed twice
        arrays[channel.name] = pa.nulls(1, channel.data_type)
        source_types[channel.name] = channel.source_type
    return Sample(
        table=pa.table(arrays),
        source_types=source_types,
        total_rows=1,
        notes=list(context.notes),
        format=format_name,
    )


def import_extra(module: str, package: str, extra: str, purpose: str) -> Any:
    """Import an optional module; raise ``MissingExtraError`` without it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(package, extra, purpose) from exc


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
