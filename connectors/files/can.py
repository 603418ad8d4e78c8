"""Describe CAN databases (DBC) and CAN logs (MDF 4, BLF, ASC).

A DBC file defines the signals that CAN frames carry. Its description counts
messages and signals, and each signal becomes a channel column named
``message.signal`` whose source type carries the frame id, unit and range, so
that signal names such as ``GPS_Latitude`` or ``VIN_Char_1`` are classified
like column names.

Logs are read from a bounded part of the file. An MDF file is read from its
block metadata (channel names, cycle counts, first and last time stamp). A
BLF or ASC log is read from its first ``CAN_LOG_SCAN_LIMIT`` bytes (frame
ids, frame count, time span). The libraries parse frame payloads, but no
payload is stored in the sample.
"""

from __future__ import annotations

import io
import re
import struct
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import pyarrow as pa

from connectors.files.objects import (
    MDF_CHANNEL,
    SIGNAL_CHANNEL,
    Channel,
    ObjectDescription,
    ObjectFields,
    corrupt,
    import_extra,
)
from connectors.files.robotics import CountingStream
from scanner.errors import UnsupportedError
from scanner.masking import redact_text

if TYPE_CHECKING:
    from connectors.files.content import ByteSource, ReadContext

# DBC files for a whole vehicle are a few MiB (an estimate). cantools 45
# parsed a 1.2 MB DBC of 12,000 signals in 5 to 9 s on a loaded 2-core
# machine, so 4 MiB stays within the default 60 s timeout.
DBC_READ_LIMIT = 4 * 1024 * 1024
# Bytes of a BLF or ASC log parsed for frame ids and the time span. That is
# about 16,000 ASC lines, several seconds of a busy bus, so most periodic
# frames show. Parsing them took 0.35 s on a 2-core machine (python-can 4.6).
CAN_LOG_SCAN_LIMIT = 1024 * 1024
# Frames parsed at most. BLF containers are compressed, so 1 MiB of a BLF
# file can hold 150,000 frames, which took python-can 4.6 about 3 s to parse
# on a 2-core machine.
MAX_FRAMES = 50_000
# The frame id channel of an ASAM MDF bus logging file.
BUS_LOGGING_ID = "CAN_DataFrame.ID"
# Bits of a CAN id; bit 31 of a bus logging id marks an extended frame.
_CAN_ID_MASK = 0x1FFFFFFF
# Frame ids listed in the ``can_ids`` column, most frequent first.
MAX_LISTED_IDS = 64
# Bytes of a DBC file given to the encoding detector.
_DBC_ENCODING_SAMPLE = 64 * 1024
# Characters of a DBC signal comment kept in the source type.
_COMMENT_LIMIT = 80

# The header of a Vector ASC log: optional comment lines, a ``date`` line,
# then ``base hex|dec timestamps absolute|relative``.
_ASC_HEADER = re.compile(
    r"(?:[ \t]*//[^\n]*\n)*[ \t]*date[ \t]+[^\n]+\n"
    r"[ \t]*base[ \t]+(?:hex|dec)[ \t]+timestamps[ \t]+(?:absolute|relative)",
    re.IGNORECASE,
)


def is_asc_header(text: str) -> bool:
    """Tell whether ``text`` starts with the header of a Vector ASC log."""
    return _ASC_HEADER.match(text.replace("\r\n", "\n")) is not None


def describe_dbc(source: ByteSource, context: ReadContext) -> ObjectDescription:
    """Count the messages and signals of a DBC file and list its signals."""
    cantools = import_extra("cantools", "cantools", "can", "Reading a DBC file")
    if source.size > DBC_READ_LIMIT:
        raise UnsupportedError(
            f"{context.path} is a DBC file of {source.size} bytes; cardex reads "
            f"DBC files up to {DBC_READ_LIMIT} bytes, so exclude it from the scan"
        )
    text = _decode_dbc(source.read_range(0, DBC_READ_LIMIT), context.path)
    try:
        database: Any = cantools.database.load_string(text, database_format="dbc")
    except Exception as exc:  # noqa: BLE001 - cantools raises parser-specific types
        what = f"the DBC text does not parse ({type(exc).__name__})"
        raise corrupt(source, context, what) from None

    channels = [
        _signal_channel(message, signal)
        for message in database.messages
        for signal in message.signals
    ]
    fields: ObjectFields = {
        "message_count": len(database.messages),
        "channel_count": len(channels),
        "can_ids": _hex_ids(message.frame_id for message in database.messages),
    }
    return ObjectDescription(fields, channels)


def _decode_dbc(data: bytes, path: str) -> str:
    """Decode DBC text, which tools write in UTF-8, cp1252 or GBK."""
    from connectors.files.detect import detect_encoding

    encoding = detect_encoding(data[:_DBC_ENCODING_SAMPLE], path)
    return data[encoding.bom_length :].decode(encoding.codec, errors="replace")


def _signal_channel(message: Any, signal: Any) -> Channel:
    parts = [f"{SIGNAL_CHANNEL}: frame 0x{message.frame_id:X} {message.name}"]
    if signal.unit:
        parts.append(f"unit {signal.unit}")
    if signal.minimum is not None or signal.maximum is not None:
        parts.append(f"range {signal.minimum}..{signal.maximum}")
    if signal.comment:
        # Comments are free text written by people, so they are redacted.
        parts.append(f"comment {redact_text(str(signal.comment), _COMMENT_LIMIT)}")
    data_type = pa.float64() if signal.is_float or _scaled(signal) else pa.int64()
    return Channel(f"{message.name}.{signal.name}", data_type, ", ".join(parts))


def _scaled(signal: Any) -> bool:
    return bool(signal.scale != 1 or signal.offset != 0)


def _hex_ids(ids: Iterable[int]) -> str:
    unique = list(dict.fromkeys(ids))
    listed = ",".join(f"0x{frame_id:X}" for frame_id in unique[:MAX_LISTED_IDS])
    return listed + (",..." if len(unique) > MAX_LISTED_IDS else "")


def describe_mdf(source: ByteSource, context: ReadContext) -> ObjectDescription:
    """List the channels of an MDF file, their groups and cycle counts.

    asammdf reads the block metadata of the whole file (channel groups,
    channels, conversions), not the samples. The time span reads the first
    and last record of each group's master channel. In a bus logging file
    (ASAM MDF bus logging), the frame ids come from the first ``MAX_FRAMES``
    records of each ``CAN_DataFrame.ID`` channel.
    """
    import_extra("asammdf", "asammdf", "can", "Reading an MDF file")
    stream = io.BufferedReader(CountingStream(source))
    try:
        if source.read_range(8, 1) == b"4":
            _check_mdf4_blocks(stream, source, context)
        mdf = _open_mdf(stream, source, context)
        try:
            channels, cycles = _mdf_channels(mdf)
            duration = _mdf_duration(mdf)
            frame_ids = _mdf_frame_ids(mdf, context)
            context.note(f"MDF version {mdf.version}")
        finally:
            mdf.close()
    finally:
        stream.raw.release()  # type: ignore[attr-defined]
    fields: ObjectFields = {
        "message_count": cycles,
        "channel_count": len(channels),
        "duration_seconds": duration,
    }
    if frame_ids:
        fields["can_ids"] = _hex_ids(frame_ids)
    return ObjectDescription(fields, channels)


# MDF 4 block header: "##" and a 2-letter type, 4 reserved bytes, the block
# length and the link count (ASAM MDF 4.1, section 5.2).
_MDF4_BLOCK = struct.Struct("<4s4xQQ")
# Blocks followed per file; more are left to asammdf.
_MDF4_MAX_BLOCKS = 100_000
# Link positions followed from each block type. HD links to the first data
# group (DG). DG links to the next DG and its first channel group (CG). CG
# links to the next CG and its first channel (CN). CN links to the next CN.
_MDF4_CHAIN_LINKS = {
    b"##HD": (0,),
    b"##DG": (0, 1),
    b"##CG": (0, 1),
    b"##CN": (0,),
}


def _check_mdf4_blocks(
    stream: BinaryIO, source: ByteSource, context: ReadContext
) -> None:
    """Follow the group and channel chains of an MDF 4 file to its last block.

    A truncated or overwritten file fails here with a clear message, before
    asammdf parses it. Without this check asammdf raises from its
    constructor and then again from ``MDF4.__del__`` (asammdf 8.8), which
    Python reports as an unraisable exception.
    """
    pending = [0x40]
    seen: set[int] = set()
    while pending and len(seen) < _MDF4_MAX_BLOCKS:
        address = pending.pop()
        if address == 0:
            continue
        if address in seen:
            # Each block of these chains has one predecessor, so a second
            # visit is a cycle, which would make asammdf loop forever.
            what = f"the MDF block chains loop back to byte {address}"
            raise corrupt(source, context, what)
        seen.add(address)
        stream.seek(address)
        header = stream.read(_MDF4_BLOCK.size)
        if len(header) < _MDF4_BLOCK.size:
            raise corrupt(
                source, context, f"the file ends inside the MDF block at byte {address}"
            )
        kind, length, link_count = _MDF4_BLOCK.unpack(header)
        if not kind.startswith(b"##") or address + length > source.size:
            what = f"the MDF block at byte {address} is invalid or runs past the end"
            raise corrupt(source, context, what)
        links = stream.read(8 * link_count)
        for position in _MDF4_CHAIN_LINKS.get(kind, ()):
            if position < link_count:
                (link,) = struct.unpack_from("<Q", links, 8 * position)
                pending.append(link)


def _open_mdf(stream: Any, source: ByteSource, context: ReadContext) -> Any:
    asammdf = import_extra("asammdf", "asammdf", "can", "Reading an MDF file")
    try:
        return asammdf.MDF(stream)
    except Exception as exc:  # noqa: BLE001 - asammdf raises many error types
        what = f"the MDF blocks are invalid ({type(exc).__name__})"
        raise corrupt(source, context, what) from None


def _mdf_channels(mdf: Any) -> tuple[list[Channel], int]:
    channels: list[Channel] = []
    cycles = 0
    for index, group in enumerate(mdf.groups):
        group_cycles = int(group.channel_group.cycles_nr)
        cycles += group_cycles
        group_name = _group_name(group, index)
        master = mdf.masters_db.get(index)
        for position, channel in enumerate(group.channels):
            if position == master:
                continue  # the time channel of the group
            parts = [f"{MDF_CHANNEL}: group {index}, {group_cycles} samples"]
            if channel.unit:
                parts.append(f"unit {channel.unit}")
            name = f"{group_name}.{channel.name}"
            channels.append(Channel(name, pa.float64(), ", ".join(parts)))
    return channels, cycles


def _mdf_frame_ids(mdf: Any, context: ReadContext) -> list[int]:
    """Return the CAN frame ids of a bus logging file, most frequent first."""
    counts: Counter[int] = Counter()
    for index, group in enumerate(mdf.groups):
        for position, channel in enumerate(group.channels):
            if channel.name != BUS_LOGGING_ID:
                continue
            records = min(int(group.channel_group.cycles_nr), MAX_FRAMES)
            signal = mdf.get(
                group=index,
                index=position,
                record_offset=0,
                record_count=records,
                raw=True,
            )
            counts.update(int(frame_id) & _CAN_ID_MASK for frame_id in signal.samples)
            if records < group.channel_group.cycles_nr:
                context.note(f"frame ids of group {index} read from {records} records")
    return [frame_id for frame_id, _ in counts.most_common()]


def _group_name(group: Any, index: int) -> str:
    name = str(getattr(group.channel_group, "acq_name", "") or "").strip()
    return name.replace(".", "_") if name else f"group{index}"


def _mdf_duration(mdf: Any) -> float | None:
    """Return the longest time span of a group, from its first and last record.

    NOTE: asammdf reads the whole data block that holds each record, so this
    costs up to a few MiB per group (about 5.6 MiB for one group of
    2,000,000 records written by asammdf 8.8).
    """
    spans: list[float] = []
    for index, group in enumerate(mdf.groups):
        cycles = int(group.channel_group.cycles_nr)
        if cycles == 0 or mdf.masters_db.get(index) is None:
            continue
        first = mdf.get_master(index, record_offset=0, record_count=1)
        last = mdf.get_master(index, record_offset=cycles - 1, record_count=1)
        if len(first) and len(last):
            spans.append(float(last[-1]) - float(first[0]))
    return max(spans) if spans else None


def describe_blf(source: ByteSource, context: ReadContext) -> ObjectDescription:
    """Read the BLF header and the frames in the first part of the log."""
    can = import_extra("can", "python-can", "can", "Reading a BLF log")

    stream = io.BufferedReader(CountingStream(source))
    try:
        bounded = cast(BinaryIO, _Bounded(stream, CAN_LOG_SCAN_LIMIT))
        reader = can.BLFReader(bounded)
        declared = int(reader.object_count)
        declared_size = int(reader.file_size)
        frames = _frame_stats(reader, context)
    except Exception as exc:  # noqa: BLE001 - python-can raises struct and zlib errors
        what = f"the BLF header or objects are invalid ({type(exc).__name__})"
        raise corrupt(source, context, what) from None
    finally:
        stream.raw.release()  # type: ignore[attr-defined]
    if declared_size > source.size:
        what = f"the BLF header declares {declared_size} bytes"
        raise corrupt(source, context, what)
    if source.size > CAN_LOG_SCAN_LIMIT:
        context.note(
            f"frame ids and time span read from the first {CAN_LOG_SCAN_LIMIT} "
            f"bytes; the header declares {declared} objects in all"
        )
    return ObjectDescription(frames.fields(declared))


def describe_asc(source: ByteSource, context: ReadContext) -> ObjectDescription:
    """Read the frames in the first part of a Vector ASC log."""
    can = import_extra("can", "python-can", "can", "Reading an ASC log")

    data = source.read_range(0, CAN_LOG_SCAN_LIMIT)
    complete = len(data) >= source.size
    if not complete:
        data = data[: data.rfind(b"\n") + 1]
        context.note(
            f"frame ids, count and time span read from the first {len(data)} "
            f"of {source.size} bytes"
        )
    text = io.StringIO(data.decode("ascii", errors="replace"))
    try:
        frames = _frame_stats(can.ASCReader(text), context)
    except Exception as exc:  # noqa: BLE001 - python-can raises parse errors
        what = f"an ASC frame line is invalid ({type(exc).__name__})"
        raise corrupt(source, context, what) from None
    total = None if frames.truncated or not complete else frames.count
    return ObjectDescription(frames.fields(total))


class _FrameStats:
    """Frame ids, frame count and time span of the frames read."""

    def __init__(self) -> None:
        self.ids: Counter[int] = Counter()
        self.count = 0
        self.first: float | None = None
        self.last: float | None = None
        self.truncated = False

    def add(self, frame_id: int, timestamp: float) -> None:
        self.ids[frame_id] += 1
        self.count += 1
        self.first = timestamp if self.first is None else self.first
        self.last = timestamp

    def fields(self, total: int | None) -> ObjectFields:
        span = None
        if self.first is not None and self.last is not None:
            span = round(self.last - self.first, 6)
        return {
            "message_count": total,
            "channel_count": len(self.ids),
            "duration_seconds": span,
            "can_ids": _hex_ids(frame_id for frame_id, _ in self.ids.most_common()),
        }


def _frame_stats(reader: Iterable[Any], context: ReadContext) -> _FrameStats:
    stats = _FrameStats()
    for index, message in enumerate(reader):
        if index == MAX_FRAMES:
            context.note(f"frame ids and time span read from the first {index} frames")
            stats.truncated = True
            break
        if index % 10_000 == 0:
            context.check_time()
        if message.is_error_frame or message.is_remote_frame:
            continue
        stats.add(int(message.arbitration_id), float(message.timestamp))
    return stats


class _Bounded(io.RawIOBase):
    """A read-only view of the first ``limit`` bytes of a stream."""

    def __init__(self, inner: BinaryIO, limit: int) -> None:
        self.inner = inner
        self.remaining = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.inner.read(min(len(buffer), self.remaining))
        buffer[: len(data)] = data
        self.remaining -= len(data)
        return len(data)
