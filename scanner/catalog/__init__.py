"""Catalog stores: where labels live between scans and where people decide."""

from scanner.catalog.base import (
    CatalogStore,
    LabelChanges,
    StoredDataset,
    StoredDatasets,
    UnfinishedScan,
    default_catalog_url,
    open_catalog,
)

__all__ = [
    "CatalogStore",
    "LabelChanges",
    "StoredDataset",
    "StoredDatasets",
    "UnfinishedScan",
    "default_catalog_url",
    "open_catalog",
]
