"""A ``ByteSource`` over one object in an object store, read by range.

Every reader of the file connector works on it unchanged. Byte ranges become
ranged GET requests through pyarrow's ``read_at``. ``open_arrow`` gives
Parquet, ORC and Arrow readers a seekable file whose reads are ranged GETs
too, so a Parquet sample fetches the footer and the chosen row groups only.

The start and the end of the object are cached: the head (64 KiB) because
every format check reads it, the tail (64 KiB) because footers live there.
An object no larger than the head is fetched once and read from memory.

``bytes_read`` counts the bytes the store sent, which is the real cost of a
sample; the estimates readers report through ``add_read`` are ignored.
"""

from __future__ import annotations

import io
from typing import BinaryIO

import pyarrow as pa

from connectors.files.content import (
    HEAD_BYTES,
    ByteSource,
    RangeReader,
    ReadContext,
    file_extension,
)
from connectors.objectstore.store import ObjectStore

# Bytes at the end of an object kept after the first read there: Parquet's
# footer is read in one request of this size by pyarrow's default too.
TAIL_BYTES = 64 * 1024


class RemoteFile(ByteSource):
    """One object, with its head and tail cached and its fetched bytes counted.

    ``path`` is the object's path inside the store's filesystem, ``uri`` its
    URL. ``head`` may be passed in when the caller already fetched it.
    """

    def __init__(
        self,
        store: ObjectStore,
        path: str,
        context: ReadContext | None,
        head: bytes | None = None,
    ) -> None:
        self.store = store
        self.path = path
        self.uri = store.uri(path)
        self.context = context
        self.extension = file_extension(path)
        self.fetched = 0
        self.requests = 0
        self._tail = b""
        self._handle = self._open()
        self.size = self._handle.size()
        if head is None:
            head = self._fetch(0, min(self.size, HEAD_BYTES))
        self.head = head[: self.size]

    def _open(self) -> pa.NativeFile:
        self.store.check_reachable(self.uri)
        try:
            handle = self.store.filesystem.open_input_file(self.path)
        except Exception as exc:
            error = self.store.translate(exc, self.uri, "opening")
            self.store.record(error)
            raise error from None
        self.store.record(None)
        return handle

    def etag(self) -> str | None:
        """Return the ETag the store sent when the object was opened, if any."""
        try:
            metadata = self._handle.metadata()
        except (OSError, pa.ArrowException):
            return None
        value = metadata.get("ETag") or metadata.get("etag")
        if value is None:
            return None
        text = value.decode() if isinstance(value, bytes) else str(value)
        return text.strip('"')

    def read_range(self, offset: int, length: int) -> bytes:
        end = min(offset + length, self.size)
        if offset >= end:
            return b""
        if end <= len(self.head):
            return self.head[offset:end]
        tail_start = self.size - len(self._tail)
        if self._tail and offset >= tail_start:
            return self._tail[offset - tail_start : end - tail_start]
        if offset >= self.size - TAIL_BYTES and not self._tail:
            start = max(0, self.size - TAIL_BYTES)
            self._tail = self._fetch(start, self.size - start)
            return self._tail[offset - start : end - start]
        return self._fetch(offset, end - offset)

    def _fetch(self, offset: int, length: int) -> bytes:
        """Fetch one range from the store, counting it and translating errors."""
        if length <= 0:
            return b""
        if self.context is not None:
            self.context.check_time()
        self.store.check_reachable(self.uri)
        try:
            data = self._handle.read_at(length, offset)
        except Exception as exc:
            error = self.store.translate(exc, self.uri, "reading")
            self.store.record(error)
            raise error from None
        self.store.record(None)
        self.requests += 1
        self.fetched += len(data)
        if self.context is not None:
            self.context.bytes_read += len(data)
        return bytes(data)

    def add_read(self, count: int) -> None:
        """Ignore a reader's estimate: fetched bytes are counted exactly."""

    def open_binary(self) -> BinaryIO:
        if self.size <= len(self.head):
            return io.BytesIO(self.head)
        return io.BufferedReader(RangeReader(self), buffer_size=256 * 1024)  # type: ignore[return-value]

    def open_arrow(self) -> pa.NativeFile:
        if self.size <= len(self.head):
            return pa.BufferReader(self.head)
        return pa.PythonFile(RangeReader(self), mode="r")

    def close(self) -> None:
        self._handle.close()
