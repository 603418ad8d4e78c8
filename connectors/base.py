"""The interface every connector implements.

A connector is registered under the ``cardex.connectors`` entry-point group.
The engine asks each one in turn whether it ``accepts`` a source string; the
first that does lists the source's datasets with ``discover``.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass

from scanner.model import DatasetFailure, DatasetHandle


@dataclass(frozen=True)
class DiscoveryOptions:
    """Options that narrow which datasets a source yields.

    ``include`` and ``exclude`` are shell-style globs matched against a
    table's ``schema.table`` (or plain table) name, or for files as in
    ``.gitignore``: a glob without ``/`` matches a file or folder name at any
    depth, one with ``/`` the path relative to the source.
    ``timeout`` bounds each statement or read, in seconds.
    ``endpoint_url`` overrides the S3 endpoint of ``s3://`` sources.
    """

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    timeout: float = 60.0
    endpoint_url: str | None = None


class Connector(abc.ABC):
    """Finds datasets in one kind of source."""

    #: Short name used in messages and entry points.
    name: str = ""

    @abc.abstractmethod
    def accepts(self, source: str) -> bool:
        """Tell whether this connector reads ``source`` (a path, glob or URL)."""

    @abc.abstractmethod
    def discover(
        self, source: str, options: DiscoveryOptions
    ) -> Iterator[DatasetHandle | DatasetFailure]:
        """Yield the datasets in ``source``, or a failure for each part that
        could not be listed; listing one part must not stop the rest."""
