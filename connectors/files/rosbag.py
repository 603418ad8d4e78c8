"""Describe ROS 1 bag files and ROS 2 bag folders: topics, types, counts.

A ROS 1 bag (format 2.0) ends with an index: one connection record per
topic and one chunk-info record per chunk, which counts the messages of each
connection. The describer reads the bag header and that index through the
record readers of ``rosbags``, so the cost is the index, not the messages.
Message index records inside the chunks are not read.

A ROS 2 bag is a folder: ``metadata.yaml`` lists the topics, their types and
message counts, and one or more storage files (``.db3`` or ``.mcap``) hold
the messages. The folder is one dataset. Its description comes from the
metadata, read by ``rosbags``, and each storage file is checked to exist and
to start with its format's magic number.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from connectors.files.content import ReadContext
from connectors.files.errors import translate_errors
from connectors.files.objects import (
    Channel,
    ObjectDescription,
    ObjectFields,
    corrupt,
    import_extra,
    one_row,
)
from connectors.files.robotics import CountingStream, topic_channel
from scanner.errors import DatasetError, MissingExtraError, UnreadableFormatError
from scanner.model import DatasetHandle, Fingerprint, Sample

if TYPE_CHECKING:
    from connectors.files.content import ByteSource

logger = logging.getLogger(__name__)

ROSBAG1_MAGIC = b"#ROSBAG V2.0\n"
ROSBAG2_METADATA = "metadata.yaml"
# The top-level key of every rosbag2 metadata file.
_ROSBAG2_KEY = "rosbag2_bagfile_information"
# A metadata file of a long recording with many topics stays under 1 MiB.
_METADATA_LIMIT = 1024 * 1024
_STORAGE_MAGIC = {
    ".db3": b"SQLite format 3\x00",
    ".mcap": b"\x89MCAP0\r\n",
}


def describe_rosbag1(source: ByteSource, context: ReadContext) -> ObjectDescription:
    """List the topics, types and message counts of a ROS 1 bag from its index."""
    import_extra("rosbags", "rosbags", "robotics", "Reading a ROS bag")
    from rosbags.rosbag1.reader import Header, Reader, RecordType

    stream = io.BufferedReader(CountingStream(source), buffer_size=4096)
    reader = Reader.__new__(Reader)  # the record readers need only ``bio``
    reader.bio = stream
    reader.connections = []
    reader.chunk_infos = []
    try:
        stream.readline()
        header = Header.read(stream, RecordType.BAGHEADER)
        index_pos = header.get_uint64("index_pos")
        if index_pos == 0:
            raise corrupt(source, context, "the ROS bag is not indexed; reindex it")
        if index_pos >= source.size:
            raise corrupt(source, context, "the ROS bag index starts past the end")
        stream.seek(index_pos)
        connections = [
            reader.read_connection() for _ in range(header.get_uint32("conn_count"))
        ]
        reader.connections = connections
        reader.chunk_infos = [
            reader.read_chunk_info() for _ in range(header.get_uint32("chunk_count"))
        ]
        topics = reader.topics
        duration = reader.duration if reader.chunk_infos else 0
    except DatasetError:
        raise
    except Exception as exc:  # noqa: BLE001 - struct, rosbags and EOF errors
        what = f"the ROS bag header or index is invalid ({type(exc).__name__})"
        raise corrupt(source, context, what) from None
    finally:
        stream.raw.release()  # type: ignore[attr-defined]

    counts = {topic: info.msgcount for topic, info in topics.items()}
    types = {topic: info.msgtype or "" for topic, info in topics.items()}
    return _description(counts, types, duration)


def _description(
    counts: dict[str, int], types: dict[str, str], duration_ns: int
) -> ObjectDescription:
    fields: ObjectFields = {
        "topics": ",".join(sorted(counts)),
        "message_types": ",".join(sorted(set(types.values()) - {""})),
        "channel_count": len(counts),
        "message_count": sum(counts.values()),
        "duration_seconds": duration_ns / 1e9,
    }
    channels: list[Channel] = [
        topic_channel(topic, types[topic], counts[topic]) for topic in sorted(counts)
    ]
    return ObjectDescription(fields, channels)


def is_rosbag2_folder(path: str) -> bool:
    """Tell whether ``path`` is a folder with a rosbag2 ``metadata.yaml``."""
    metadata = os.path.join(path, ROSBAG2_METADATA)
    if not os.path.isfile(metadata):
        return False  # a FIFO or device would block or never end
    try:
        with open(metadata, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return _ROSBAG2_KEY.encode() in head


class RosBag2Dataset(DatasetHandle):
    """A ROS 2 bag folder read as one object dataset."""

    kind = "object"

    def __init__(self, path: str, timeout: float) -> None:
        self.uri = os.path.abspath(path)
        self.name = os.path.basename(self.uri)
        self.timeout = timeout

    def sample(self, rows: int) -> Sample:
        context = ReadContext.start(self.uri, rows, self.timeout)
        with translate_errors(self.uri, "rosbag2"):
            fields, channels = describe_rosbag2(self.uri, context)
        sample = one_row(fields, channels, "rosbag2", context)
        sample.bytes_read = context.bytes_read
        logger.info(
            "described ROS 2 bag %s (%d topics, %d bytes read)",
            self.uri,
            len(channels),
            context.bytes_read,
        )
        return sample

    def fingerprint(self) -> Fingerprint:
        try:
            status = os.stat(os.path.join(self.uri, ROSBAG2_METADATA))
        except OSError:
            return Fingerprint()
        return Fingerprint(size=status.st_size, modified=status.st_mtime)


def describe_rosbag2(
    folder: str, context: ReadContext
) -> tuple[ObjectFields, list[Channel]]:
    """Describe a ROS 2 bag folder from its metadata and storage headers."""
    metadata_path = os.path.join(folder, ROSBAG2_METADATA)
    metadata = _read_metadata(metadata_path, context)
    storage_size = _check_storage(folder, metadata, context)
    try:
        counts, types = _list_topics(folder, metadata, context)
        duration = int(metadata["duration"]["nanoseconds"])
    except Exception as exc:  # noqa: BLE001 - rosbags, sqlite3 and key errors
        raise UnreadableFormatError(
            f"could not read the ROS 2 bag {folder} ({type(exc).__name__}); its "
            "metadata.yaml or storage files are invalid, so record it again or "
            "exclude the folder from the scan"
        ) from None
    description = _description(counts, types, duration)
    fields: ObjectFields = {
        "path": folder,
        "format": "rosbag2",
        "object_kind": "robotics_log",
        "size_bytes": storage_size,
        **description.fields,
    }
    return fields, description.channels


def _list_topics(
    folder: str, metadata: dict[str, Any], context: ReadContext
) -> tuple[dict[str, int], dict[str, str]]:
    """List topic counts and types through rosbags, or from the metadata alone.

    Opening the bag reads metadata.yaml again and the schema of each storage
    file. A storage compressed whole would be decompressed, so such a bag,
    like any bag when rosbags is missing, is listed from its metadata alone.
    """
    try:
        import_extra("rosbags", "rosbags", "robotics", "Checking a ROS 2 bag")
    except MissingExtraError as exc:
        context.note(f"storage files not opened: {exc}")
        return _topics_from_metadata(metadata)
    if str(metadata.get("compression_mode", "")).lower() == "file":
        context.note("storage files compressed whole; topics read from metadata")
        return _topics_from_metadata(metadata)

    from rosbags.rosbag2 import Reader

    with Reader(Path(folder)) as reader:
        counts = {c.topic: c.msgcount for c in reader.connections}
        types = {c.topic: c.msgtype for c in reader.connections}
    return counts, types


def _read_metadata(path: str, context: ReadContext) -> dict[str, Any]:
    with open(path, "rb") as handle:
        data = handle.read(_METADATA_LIMIT + 1)
    context.bytes_read += len(data)
    if len(data) > _METADATA_LIMIT:
        raise UnreadableFormatError(
            f"{path} is larger than {_METADATA_LIMIT} bytes, too large for rosbag2 "
            "metadata; exclude the folder from the scan"
        )
    try:
        document = yaml.safe_load(data)
        metadata = document[_ROSBAG2_KEY]
    except (yaml.YAMLError, TypeError, KeyError):
        raise UnreadableFormatError(
            f"{path} is not valid rosbag2 metadata (no {_ROSBAG2_KEY} mapping); "
            "fix the file or exclude the folder from the scan"
        ) from None
    if not isinstance(metadata, dict):
        raise UnreadableFormatError(f"{path} has an empty {_ROSBAG2_KEY} mapping")
    return metadata


def _check_storage(folder: str, metadata: dict[str, Any], context: ReadContext) -> int:
    """Check each storage file's magic number; return their total size."""
    total = 0
    for relative in metadata.get("relative_file_paths") or []:
        path = os.path.join(folder, os.path.basename(str(relative)))
        try:
            if not os.path.isfile(path):
                raise FileNotFoundError(path)
            size = os.path.getsize(path)
            with open(path, "rb") as handle:
                head = handle.read(16)
        except OSError:
            raise UnreadableFormatError(
                f"the ROS 2 bag {folder} lists the storage file {relative}, which "
                "is missing or unreadable; copy the whole folder again"
            ) from None
        context.bytes_read += len(head)
        total += size
        magic = _STORAGE_MAGIC.get(os.path.splitext(path)[1].lower())
        if magic is not None and not head.startswith(magic):
            raise UnreadableFormatError(
                f"the storage file {path} of a ROS 2 bag does not start with its "
                "format's magic number; it may be truncated or corrupt"
            )
    return total


def _topics_from_metadata(
    metadata: dict[str, Any],
) -> tuple[dict[str, int], dict[str, str]]:
    counts: dict[str, int] = {}
    types: dict[str, str] = {}
    for entry in metadata["topics_with_message_count"]:
        topic = entry["topic_metadata"]
        counts[topic["name"]] = int(entry["message_count"])
        types[topic["name"]] = str(topic["type"])
    return counts, types
