"""Byte access for the readers: a local file or decompressed bytes in memory.

Readers never open paths themselves. They ask a ``ByteSource`` for byte
ranges or for a file object, so the same reader samples a plain file and the
decompressed content of a ``.gz`` or ``.zst`` file. The bytes read from disk
are counted in one place too.
"""

from __future__ import annotations

import abc
import bz2
import gzip
import io
import lzma
import os
import stat
import time
from dataclasses import dataclass, field
from typing import BinaryIO

import pyarrow as pa
import zstandard

from scanner.errors import DatasetTimeoutError, UnsupportedError

# Bytes of the start of a file used to recognise its format and encoding.
HEAD_BYTES = 64 * 1024

# Decompressed bytes sampled from a compressed file (16 MiB). Compressed
# streams cannot be read at spread offsets, so the sample comes from the start.
DECOMPRESSED_LIMIT = 16 * 1024 * 1024

_READ_STEP = 1024 * 1024

MIB = 1024 * 1024


@dataclass
class ReadContext:
    """Settings and running records of one sampling run.

    ``deadline`` is a ``time.monotonic()`` value. ``bytes_read`` counts the
    bytes read from disk, best effort.
    """

    path: str
    rows: int
    deadline: float
    timeout: float
    notes: list[str] = field(default_factory=list)
    bytes_read: int = 0

    @classmethod
    def start(cls, path: str, rows: int, timeout: float) -> ReadContext:
        return cls(path, rows, time.monotonic() + timeout, timeout)

    def check_time(self) -> None:
        """Raise ``DatasetTimeoutError`` once the deadline has passed."""
        if time.monotonic() > self.deadline:
            raise DatasetTimeoutError(
                f"sampling {self.path} took longer than {self.timeout:g} s; raise "
                "the timeout or lower the sample size"
            )

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


class ByteSource(abc.ABC):
    """The content of one file, read by byte range or as a file object."""

    size: int
    head: bytes
    extension: str
    context: ReadContext | None = None
    # False when the bytes are only the start of the content.
    complete: bool = True

    @abc.abstractmethod
    def read_range(self, offset: int, length: int) -> bytes:
        """Return up to ``length`` bytes starting at ``offset``."""

    @abc.abstractmethod
    def open_binary(self) -> BinaryIO:
        """Open the content as a Python binary file object."""

    @abc.abstractmethod
    def open_arrow(self) -> pa.NativeFile:
        """Open the content as a pyarrow file, memory-mapped where possible."""

    def add_read(self, count: int) -> None:
        """Count ``count`` bytes as read from disk by a reader."""
        if self.context is not None:
            self.context.bytes_read += count


class RangeReader(io.RawIOBase):
    """A seekable, read-only file object whose reads go through ``read_range``.

    The source counts what it reads and serves its cached head without
    reading again, so the count is the bytes a reader really needed.
    """

    def __init__(self, source: ByteSource) -> None:
        self.source = source
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            self.position = offset
        elif whence == io.SEEK_CUR:
            self.position += offset
        else:
            self.position = self.source.size + offset
        return self.position

    def read(self, size: int = -1) -> bytes:
        # One range for the rest of the content, not the base class's loop of
        # small reads, each of which would be a request on an object store.
        if size is None or size < 0:
            size = self.source.size - self.position
        data = self.source.read_range(self.position, size)
        self.position += len(data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.source.read_range(self.position, len(buffer))
        view = memoryview(buffer).cast("B")
        view[: len(data)] = data
        self.position += len(data)
        return len(data)


class LocalFile(ByteSource):
    """A file on the local file system."""

    def __init__(self, path: str, context: ReadContext) -> None:
        self.path = path
        self.context = context
        status = os.stat(path)
        if not stat.S_ISREG(status.st_mode):
            # Opening a FIFO or a device could block or never end.
            raise UnsupportedError(
                f"{path} is not a regular file (a pipe, socket or device); "
                "exclude it from the scan"
            )
        self.size = status.st_size
        self.extension = file_extension(path)
        self.head = b""
        self.head = self.read_range(0, HEAD_BYTES)

    def read_range(self, offset: int, length: int) -> bytes:
        end = min(offset + length, self.size)
        if end <= len(self.head):
            return self.head[offset:end]  # already read, not counted again
        with open(self.path, "rb") as handle:
            handle.seek(offset)
            data = handle.read(length)
        self.add_read(len(data))
        return data

    def open_binary(self) -> BinaryIO:
        return open(self.path, "rb")

    def open_arrow(self) -> pa.NativeFile:
        return pa.memory_map(self.path)


class MemoryBytes(ByteSource):
    """Bytes already in memory, such as a decompressed stream.

    ``complete`` is false when the bytes are only the start of the stream.
    Reads from memory are not counted: the compressed bytes were counted when
    they were read from disk.
    """

    def __init__(self, data: bytes, extension: str, complete: bool) -> None:
        self.data = data
        self.size = len(data)
        self.head = data[:HEAD_BYTES]
        self.extension = extension
        self.complete = complete

    def read_range(self, offset: int, length: int) -> bytes:
        return self.data[offset : offset + length]

    def open_binary(self) -> BinaryIO:
        return io.BytesIO(self.data)

    def open_arrow(self) -> pa.NativeFile:
        return pa.BufferReader(self.data)


COMPRESSIONS = frozenset({"gzip", "bzip2", "xz", "zstd"})


def _decompressing_reader(raw: BinaryIO, compression: str) -> BinaryIO:
    """Wrap ``raw`` in a reader that decompresses it as it is read."""
    if compression == "gzip":
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    if compression == "bzip2":
        return bz2.BZ2File(raw)  # type: ignore[return-value]
    if compression == "xz":
        return lzma.LZMAFile(raw)  # type: ignore[return-value]
    decompressor = zstandard.ZstdDecompressor()
    return decompressor.stream_reader(raw, read_across_frames=True)  # type: ignore[return-value]


# File name suffixes a compression adds, removed to find the inner extension.
_COMPRESSION_SUFFIXES = (".gz", ".gzip", ".zst", ".zstd", ".bz2", ".xz")


def decompress_head(
    source: ByteSource, compression: str, context: ReadContext, path: str
) -> MemoryBytes:
    """Decompress the start of ``source``, at most ``DECOMPRESSED_LIMIT`` bytes.

    ``path`` is the name of the compressed file, whose inner extension the
    result takes.
    """
    with (
        source.open_binary() as raw,
        _decompressing_reader(raw, compression) as stream,
    ):
        chunks: list[bytes] = []
        total = 0
        while total <= DECOMPRESSED_LIMIT:
            context.check_time()
            chunk = stream.read(_READ_STEP)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        source.add_read(raw.tell())

    data = b"".join(chunks)
    complete = total <= DECOMPRESSED_LIMIT
    inner_extension = file_extension(_strip_compression_suffix(path))
    return MemoryBytes(data[:DECOMPRESSED_LIMIT], inner_extension, complete)


def file_extension(path: str) -> str:
    """Return the lower-case extension of ``path`` with its dot, or ``""``."""
    return os.path.splitext(path)[1].lower()


def _strip_compression_suffix(path: str) -> str:
    lowered = path.lower()
    for suffix in _COMPRESSION_SUFFIXES:
        if lowered.endswith(suffix):
            return path[: -len(suffix)]
    return path
