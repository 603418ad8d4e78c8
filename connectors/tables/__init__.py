"""Table formats of data lakes: Delta Lake and Apache Iceberg."""

from connectors.tables.connector import TableConnector

__all__ = ["TableConnector"]
