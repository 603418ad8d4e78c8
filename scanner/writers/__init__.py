"""Catalog writers: publish the local catalog's labels to DataHub or OpenMetadata.

The names below are imported on first use, so that ``cardex --help``, which
imports ``scanner.writers.cli``, stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "CatalogWriter": "scanner.writers.base",
    "WriterError": "scanner.writers.base",
    "open_writer": "scanner.writers.base",
    "WriterConfig": "scanner.writers.config",
    "parse_target": "scanner.writers.config",
    "PushReport": "scanner.writers.push",
    "push_catalog": "scanner.writers.push",
    "push_targets": "scanner.writers.push",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'scanner.writers' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
