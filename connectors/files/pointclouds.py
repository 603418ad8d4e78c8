"""Describe point cloud files from their headers: PCD, LAS and LAZ.

Only headers are read. For binary PCD and for LAS the declared point count
times the point size is checked against the file size, so a truncated file
raises ``UnreadableFormatError`` without reading its points. A LAZ file
(LAS with compressed points) is opened with ``laspy`` and ``lazrs``, which
read the header, the variable-length records and the chunk table, not the
compressed points.
"""

from __future__ import annotations

import io
import re
import struct
from typing import TYPE_CHECKING

from connectors.files.objects import ObjectFields, corrupt, import_extra, read_exact
from connectors.files.robotics import CountingStream

if TYPE_CHECKING:
    from connectors.files.content import ByteSource, ReadContext

# A PCD header (Point Cloud Library file format v0.7): optional comment
# lines, then VERSION and FIELDS in this order.
_PCD_START = re.compile(rb"(?:#[^\n]*\n)*VERSION[ \t]+\S+[ \t]*\r?\nFIELDS[ \t]")
_PCD_REQUIRED = ("FIELDS", "SIZE", "TYPE", "POINTS", "DATA")
_PCD_DATA_KINDS = frozenset({"ascii", "binary", "binary_compressed"})
# A PCD header longer than this is not a header.
_PCD_MAX_HEADER = 64 * 1024

# LAS 1.0-1.4 public header (ASPRS LAS specification 1.4):
# byte offsets of the fields read here.
_LAS_MIN_HEADER = 227
_LAS_VERSION = 24
_LAS_POINT_OFFSET = 96
_LAS_POINT_FORMAT = 104
_LAS_14_COUNT = 247
_LAS_14_HEADER = 375
# Bit 7 of the point data format id marks compressed (LAZ) points.
LAZ_FORMAT_BIT = 0x80

# Fields of each LAS point data record format, after the common ones.
_LAS_COMMON = ("x", "y", "z", "intensity", "classification")
_LAS_EXTRA: dict[int, tuple[str, ...]] = {
    0: (),
    1: ("gps_time",),
    2: ("red", "green", "blue"),
    3: ("gps_time", "red", "green", "blue"),
    4: ("gps_time", "wave_packet"),
    5: ("gps_time", "red", "green", "blue", "wave_packet"),
    6: ("gps_time",),
    7: ("gps_time", "red", "green", "blue"),
    8: ("gps_time", "red", "green", "blue", "nir"),
    9: ("gps_time", "wave_packet"),
    10: ("gps_time", "red", "green", "blue", "nir", "wave_packet"),
}


def is_pcd_header(head: bytes) -> bool:
    """Tell whether ``head`` starts with a PCD header."""
    return _PCD_START.match(head.lstrip(b"\xef\xbb\xbf")) is not None


def describe_pcd(source: ByteSource, context: ReadContext) -> ObjectFields:
    """Read the point count and fields from a PCD header."""
    header, header_length = _pcd_header(source, context)
    for key in _PCD_REQUIRED:
        if key not in header:
            raise corrupt(source, context, f"the PCD header has no {key} line")
    fields = header["FIELDS"]
    data_kind = header["DATA"][0].lower() if header["DATA"] else ""
    if data_kind not in _PCD_DATA_KINDS:
        raise corrupt(source, context, f"the PCD DATA kind {data_kind!r} is unknown")
    try:
        points = int(header["POINTS"][0])
        sizes = [int(size) for size in header["SIZE"]]
        counts = [int(count) for count in header.get("COUNT", ["1"] * len(fields))]
    except (ValueError, IndexError):
        raise corrupt(source, context, "a PCD header number is invalid") from None
    if not len(fields) == len(sizes) == len(counts):
        raise corrupt(source, context, "the PCD FIELDS, SIZE and COUNT lengths differ")

    if data_kind == "binary":
        expected = header_length + points * sum(
            s * c for s, c in zip(sizes, counts, strict=True)
        )
        if source.size < expected:
            raise corrupt(
                source,
                context,
                f"the PCD header declares {points} points ({expected} bytes) but "
                f"the file has {source.size} bytes",
            )
    context.note(f"PCD data stored as {data_kind}")
    return {"point_count": points, "point_fields": ",".join(fields)}


def _pcd_header(
    source: ByteSource, context: ReadContext
) -> tuple[dict[str, list[str]], int]:
    """Return the header lines by keyword, and the header's length in bytes."""
    head = source.read_range(0, _PCD_MAX_HEADER)
    header: dict[str, list[str]] = {}
    offset = 0
    while offset < len(head):
        end = head.find(b"\n", offset)
        if end < 0:
            break
        line = head[offset:end].decode("ascii", errors="replace").strip()
        offset = end + 1
        if not line or line.startswith("#"):
            continue
        keyword, *values = line.split()
        header[keyword.upper()] = values
        if keyword.upper() == "DATA":
            return header, offset
    raise corrupt(source, context, "the PCD header has no DATA line")


def describe_las(source: ByteSource, context: ReadContext) -> ObjectFields:
    """Read the point count and point format from a LAS public header."""
    header = read_exact(source, context, 0, _LAS_MIN_HEADER, "LAS header")
    major, minor = header[_LAS_VERSION], header[_LAS_VERSION + 1]
    (point_offset,) = struct.unpack_from("<I", header, _LAS_POINT_OFFSET)
    point_format, record_length, count = struct.unpack_from(
        "<BHI", header, _LAS_POINT_FORMAT
    )
    # Bits 6 and 7 of the format id mark compressed (LAZ) points.
    point_format &= 0x3F
    if (major, minor) >= (1, 4) and source.size >= _LAS_14_HEADER:
        extended = read_exact(source, context, _LAS_14_COUNT, 8, "LAS 1.4 header")
        count = max(count, int.from_bytes(extended, "little"))
    if point_format not in _LAS_EXTRA:
        raise corrupt(
            source, context, f"the LAS point format {point_format} is unknown"
        )

    expected = point_offset + count * record_length
    if source.size < expected:
        raise corrupt(
            source,
            context,
            f"the LAS header declares {count} points ({expected} bytes) but the "
            f"file has {source.size} bytes",
        )
    context.note(f"LAS version {major}.{minor}, point data format {point_format}")
    fields = _LAS_COMMON + _LAS_EXTRA[point_format]
    return {"point_count": count, "point_fields": ",".join(fields)}


def is_laz_header(head: bytes) -> bool:
    """Tell whether a LAS header marks its points as compressed (LAZ)."""
    return len(head) > _LAS_POINT_FORMAT and bool(
        head[_LAS_POINT_FORMAT] & LAZ_FORMAT_BIT
    )


def describe_laz(source: ByteSource, context: ReadContext) -> ObjectFields:
    """Read the point count, format and bounds presence of a LAZ file."""
    laspy = import_extra("laspy", "laspy", "lidar", "Reading a LAZ header")
    import_extra("lazrs", "lazrs", "lidar", "Reading a LAZ header")
    _check_laz_chunk_table(source, context)
    stream = io.BufferedReader(CountingStream(source), buffer_size=8192)
    try:
        with laspy.open(stream, closefd=False) as reader:
            header = reader.header
            count = int(header.point_count)
            point_format = int(header.point_format.id)
            names = list(header.point_format.dimension_names)
            bounded = any(header.mins) or any(header.maxs)
            version = f"{header.version.major}.{header.version.minor}"
    except Exception as exc:  # noqa: BLE001 - laspy and lazrs raise many types
        what = f"the LAZ header or chunk table is invalid ({type(exc).__name__})"
        raise corrupt(source, context, what) from None
    finally:
        stream.raw.release()  # type: ignore[attr-defined]
    context.note(f"LAZ version {version}, point data format {point_format}")
    # The bounds are coordinates, so the row records only whether they are set.
    return {
        "point_count": count,
        "point_fields": ",".join(names),
        "has_bounds": bounded,
    }


def _check_laz_chunk_table(source: ByteSource, context: ReadContext) -> None:
    """Check that the LAZ chunk table offset points inside the file.

    LASzip writes the offset of its chunk table as the first 8 bytes of the
    point data and the table at the end, so a cut file loses the table.
    """
    header = read_exact(source, context, 0, _LAS_MIN_HEADER, "LAS header")
    (point_offset,) = struct.unpack_from("<I", header, _LAS_POINT_OFFSET)
    raw = read_exact(source, context, point_offset, 8, "LAZ chunk table offset")
    table_offset = int.from_bytes(raw, "little", signed=True)
    if table_offset == -1:
        return  # written by a streaming writer; laspy finds the table itself
    if not point_offset + 8 <= table_offset < source.size:
        what = f"the LAZ chunk table offset {table_offset} is outside the file"
        raise corrupt(source, context, what)
