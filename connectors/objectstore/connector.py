"""The object-store connector: ``s3://``, ``gs://``, ``abfs://`` and ``hdfs://``."""

from __future__ import annotations

from collections.abc import Iterator

from connectors.base import Connector, DiscoveryOptions
from connectors.objectstore.listing import discover_store
from connectors.objectstore.store import SCHEMES, open_store
from scanner.model import DatasetFailure, DatasetHandle


class ObjectStoreConnector(Connector):
    """Connector for buckets and prefixes in object stores and HDFS.

    Objects are read by ranged requests through pyarrow's filesystems, so a
    Parquet sample fetches its footer and a few row groups, and a CSV or JSON
    sample a few spread byte ranges. Delta and Iceberg tables found under the
    prefix are scanned as one dataset each, when the table connector is
    installed.
    """

    name = "objectstore"

    def accepts(self, source: str) -> bool:
        scheme, separator, _ = source.partition("://")
        return bool(separator) and scheme.lower() in SCHEMES

    def discover(
        self, source: str, options: DiscoveryOptions
    ) -> Iterator[DatasetHandle | DatasetFailure]:
        # Imported here: the table connector imports this package in turn.
        from connectors.tables.detect import find_table_in_store

        store = open_store(source, options.endpoint_url, options.timeout)
        yield from discover_store(store, options, find_table_in_store)
