from classifiers.base import Classifier
from connectors.base import Connector
from scanner.catalog.base import CatalogStore
from scanner.plugins import (
    CATALOGS,
    CLASSIFIERS,
    CONNECTORS,
    load_plugins,
    plugin_entry_points,
)


def test_builtin_connectors_are_entry_points():
    loaded = load_plugins(CONNECTORS)
    assert {"files", "sql"} <= loaded.keys()
    assert all(issubclass(cls, Connector) for cls in loaded.values())


def test_builtin_classifiers_are_entry_points():
    loaded = load_plugins(CLASSIFIERS)
    assert {"values", "names", "text", "context"} <= loaded.keys()
    assert all(issubclass(cls, Classifier) for cls in loaded.values())


def test_catalog_stores_keyed_by_url_scheme():
    loaded = load_plugins(CATALOGS)
    assert {"sqlite", "postgresql"} <= loaded.keys()
    assert all(issubclass(cls, CatalogStore) for cls in loaded.values())


def test_entry_points_point_into_cardex_packages():
    for group in (CONNECTORS, CLASSIFIERS, CATALOGS):
        for entry_point in plugin_entry_points(group):
            assert entry_point.value.split(".")[0] in {
                "scanner",
                "classifiers",
                "connectors",
            }
