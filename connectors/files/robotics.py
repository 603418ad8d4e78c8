"""Describe MCAP robotics logs: their topics and message types.

The topics come from the summary section at the end of the file, found from
the footer, so a large log costs its footer and summary. A log without a
summary (a recording that was cut off) is read from its first
``MCAP_SCAN_LIMIT`` bytes instead. Reading MCAP needs the optional ``mcap``
package (``pip install 'cardex[robotics]'``).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from connectors.files.objects import (
    TOPIC_CHANNEL,
    Channel,
    ObjectDescription,
    ObjectFields,
    corrupt,
)
from scanner.errors import MissingExtraError

if TYPE_CHECKING:
    from connectors.files.content import ByteSource, ReadContext

# Bytes read from the start of a log that has no summary section.
MCAP_SCAN_LIMIT = 4 * 1024 * 1024


def require_mcap() -> Any:
    """Import the ``mcap`` package; raise ``MissingExtraError`` without it."""
    try:
        import mcap.reader
    except ImportError as exc:
        raise MissingExtraError(
            "mcap", "robotics", "Listing the topics of an MCAP log"
        ) from exc
    return mcap.reader


class CountingStream(io.RawIOBase):
    """A file object that counts the bytes read through it as read from disk."""

    def __init__(self, source: ByteSource) -> None:
        self.source = source
        self.inner = source.open_binary()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.inner.seek(offset, whence)

    def tell(self) -> int:
        return self.inner.tell()

    def readinto(self, buffer: Any) -> int:
        data = self.inner.read(len(buffer))
        buffer[: len(data)] = data
        self.source.add_read(len(data))
        return len(data)

    def close(self) -> None:
        # The mcap reader closes streams it wraps while the summary is still
        # to be read, so the file closes only in ``release``.
        pass

    def release(self) -> None:
        self.inner.close()


def describe_mcap(
    source: ByteSource, context: ReadContext
) -> ObjectFields | ObjectDescription:
    """List the topics, message types and message counts of an MCAP log.

    Without the ``mcap`` package the row has the format and size only, and a
    note carries the ``MissingExtraError`` message.
    """
    try:
        reader_module = require_mcap()
    except MissingExtraError as exc:
        context.note(f"topics not listed: {exc}")
        return {}

    stream = CountingStream(source)
    try:
        summary = reader_module.make_reader(stream).get_summary()
    except Exception as exc:  # noqa: BLE001 - mcap raises several error types
        what = "the MCAP footer or summary is missing or invalid"
        raise corrupt(source, context, what) from exc
    finally:
        stream.release()
    counts: dict[int, int] = {}
    if summary is not None:
        channels = list(summary.channels.values())
        schemas = {key: schema.name for key, schema in summary.schemas.items()}
        if summary.statistics is not None:
            counts = dict(summary.statistics.channel_message_counts)
    else:
        channels, schemas = _scan_start(source, context)
    if not channels and summary is None:
        raise corrupt(source, context, "the MCAP log has no summary and no channels")

    topics = sorted({channel.topic for channel in channels})
    types = sorted({schemas.get(channel.schema_id, "") for channel in channels} - {""})
    fields: ObjectFields = {
        "topics": ",".join(topics),
        "message_types": ",".join(types),
        "channel_count": len(topics),
        "message_count": sum(counts.values()) if counts else None,
    }
    streams = [
        topic_channel(
            channel.topic,
            schemas.get(channel.schema_id, ""),
            counts.get(channel.id),
        )
        for channel in channels
    ]
    return ObjectDescription(fields, streams)


def topic_channel(topic: str, message_type: str, count: int | None) -> Channel:
    """Return the channel column of one topic of a robotics log."""
    source_type = f"{TOPIC_CHANNEL}: {message_type or 'unknown type'}"
    if count is not None:
        source_type += f", {count} messages"
    return Channel(f"topics.{topic}", pa.string(), source_type)


def _scan_start(
    source: ByteSource, context: ReadContext
) -> tuple[list[Any], dict[int, str]]:
    """Collect channel and schema records from the start of a log."""
    from mcap.records import Channel, Schema
    from mcap.stream_reader import StreamReader

    prefix = source.read_range(0, MCAP_SCAN_LIMIT)
    context.note(
        f"MCAP log without a summary section; topics listed from its first "
        f"{len(prefix)} bytes"
    )
    channels: list[Any] = []
    schemas: dict[int, str] = {}
    try:
        for record in StreamReader(io.BytesIO(prefix)).records:
            if isinstance(record, Channel):
                channels.append(record)
            elif isinstance(record, Schema):
                schemas[record.id] = record.name
    except Exception:  # noqa: BLE001 - the prefix ends inside a record
        pass
    return channels, schemas
