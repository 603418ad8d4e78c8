"""Discover connectors, classifiers and catalog stores through entry points.

Built-in plugins register in cardex's own package metadata exactly as third
parties do, under the groups below, so a plugin installed beside cardex is a
peer of the built-in ones.
"""

from __future__ import annotations

import logging
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from scanner.errors import PluginError, UsageError

logger = logging.getLogger(__name__)

CONNECTORS = "cardex.connectors"
CLASSIFIERS = "cardex.classifiers"
CATALOGS = "cardex.catalogs"
WRITERS = "cardex.writers"
GROUPS = (CONNECTORS, CLASSIFIERS, CATALOGS, WRITERS)


def plugin_entry_points(group: str) -> list[EntryPoint]:
    """Return the entry points of ``group``, sorted by name."""
    if group not in GROUPS:
        raise UsageError(
            f"unknown plugin group {group!r}; valid groups: {', '.join(GROUPS)}"
        )
    found = sorted(entry_points(group=group), key=lambda ep: ep.name)
    if not found:
        raise UsageError(
            f"no plugins registered under {group}; is cardex installed "
            "(pip install -e .) rather than run from a source folder?"
        )
    return found


def load_plugins(group: str) -> dict[str, Any]:
    """Import every plugin of ``group`` and return them by entry-point name."""
    loaded: dict[str, Any] = {}
    for entry_point in plugin_entry_points(group):
        try:
            loaded[entry_point.name] = entry_point.load()
        except Exception as exc:  # noqa: BLE001 - any import failure of a plugin
            raise PluginError(
                f"plugin {entry_point.name!r} ({entry_point.value}) in {group} failed "
                f"to load: {type(exc).__name__}: {exc}; reinstall or uninstall it"
            ) from exc
        logger.debug("loaded plugin %s from %s", entry_point.name, entry_point.value)
    return loaded
