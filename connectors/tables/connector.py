"""The table connector: Iceberg tables named through their catalog."""

from __future__ import annotations

from collections.abc import Iterator

from connectors.base import Connector, DiscoveryOptions
from connectors.tables.iceberg import SCHEME, discover_catalog
from scanner.model import DatasetFailure, DatasetHandle


class TableConnector(Connector):
    """Connector for ``iceberg://CATALOG_URI#namespace.table`` sources.

    ``CATALOG_URI`` is an SQL catalog's SQLAlchemy URL (``sqlite:///...``,
    ``postgresql://...``) or a REST catalog's ``http(s)://`` URL. The part
    after ``#`` names one table, or a namespace for all its tables; without
    it every table is scanned. Delta tables and Iceberg tables without a
    catalog are found by path: scan their folder or ``s3://`` prefix.
    """

    name = "tables"

    def accepts(self, source: str) -> bool:
        return source.lower().startswith(SCHEME)

    def discover(
        self, source: str, options: DiscoveryOptions
    ) -> Iterator[DatasetHandle | DatasetFailure]:
        yield from discover_catalog(source, options.timeout, options.endpoint_url)
