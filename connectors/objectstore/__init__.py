"""Connector for object stores (S3-compatible, GCS, Azure) and HDFS."""

from connectors.objectstore.connector import ObjectStoreConnector

__all__ = ["ObjectStoreConnector"]
