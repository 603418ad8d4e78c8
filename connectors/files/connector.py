"""The file connector: local files, folders, globs and ``file://`` URLs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from urllib.parse import urlsplit
from urllib.request import url2pathname

from connectors.base import Connector, DiscoveryOptions
from connectors.files.discovery import discover_path, has_glob
from scanner.errors import UsageError
from scanner.model import DatasetFailure, DatasetHandle

_FILE_SCHEME = "file://"
_LOCAL_HOSTS = frozenset({"", "localhost"})


class FileConnector(Connector):
    """Connector for local files: Parquet, ORC, Arrow, Avro, JSON and text.

    Images, video, point clouds, firmware images and MCAP logs are datasets of
    kind ``object``, each sampled as one row that describes the file.

    It accepts an existing path, a glob (``*``, ``?``, ``[``) or a ``file://``
    URL. Each file is a dataset, except that a Hive-partitioned folder
    (``dt=2026-01-01/...``) is one dataset.
    """

    name = "files"

    def accepts(self, source: str) -> bool:
        if source.lower().startswith(_FILE_SCHEME):
            return True
        if "://" in source:
            return False
        return os.path.exists(source) or has_glob(source)

    def discover(
        self, source: str, options: DiscoveryOptions
    ) -> Iterator[DatasetHandle | DatasetFailure]:
        yield from discover_path(source_path(source), options)


def source_path(source: str) -> str:
    """Turn a ``file://`` URL into a local path; return other sources as given.

    Raises ``UsageError`` for a ``file://`` URL that names a remote host.
    """
    if not source.lower().startswith(_FILE_SCHEME):
        return source
    parts = urlsplit(source)
    if parts.netloc.lower() not in _LOCAL_HOSTS:
        raise UsageError(
            f"the file URL {source} names the host {parts.netloc!r}; only local "
            "files can be read, so use file:///absolute/path"
        )
    return url2pathname(parts.path)
