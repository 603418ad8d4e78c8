import pytest
import sqlalchemy as sa

from scanner.catalog.local import SCHEMA_VERSION, LocalCatalog
from scanner.errors import CatalogError, UsageError
from scanner.model import ColumnResult, DatasetFailure, DatasetResult, Evidence, Label


def _label(label_id, category="personal", confidence=0.9):
    return Label(label_id, category, confidence, Evidence("rule", "v1", 10, 10, 9))


def _result(column_labels, dataset_labels=()):
    return DatasetResult(
        uri="/lake/owners.csv",
        name="owners.csv",
        kind="file",
        columns=[
            ColumnResult(name, "string", 10, 10, [_label(i) for i in ids])
            for name, ids in column_labels.items()
        ],
        labels=[_label(i, "sensitive_personal") for i in dataset_labels],
    )


@pytest.fixture
def catalog(tmp_path):
    store = LocalCatalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    yield store
    store.close()


def _states(catalog):
    view = catalog.show_dataset("owners.csv")
    found = {("", label["id"]): label["state"] for label in view["labels"]}
    for column in view["columns"]:
        for label in column["labels"]:
            found[(column["name"], label["id"])] = label["state"]
    for column, extra in view["other_labels"].items():
        for label in extra:
            found[(column, label["id"])] = label["state"]
    return found


def test_rescan_replaces_suggestions(catalog):
    scan = catalog.begin_scan(["/lake"], "v1")
    first = catalog.record_dataset(
        scan, _result({"phone": ["pi.phone"], "note": ["pi.name"]})
    )
    assert first.added == 2

    scan = catalog.begin_scan(["/lake"], "v1")
    second = catalog.record_dataset(scan, _result({"phone": ["pi.phone"], "note": []}))
    assert (second.added, second.updated, second.removed) == (0, 1, 1)
    assert _states(catalog) == {("phone", "pi.phone"): "suggested"}


def test_rescan_keeps_human_decisions(catalog):
    scan = catalog.begin_scan(["/lake"], "v1")
    catalog.record_dataset(scan, _result({"phone": ["pi.phone"], "note": ["pi.name"]}))
    catalog.decide_label("owners.csv", "phone", "pi.phone", "confirmed", "li.na")
    catalog.decide_label("owners.csv", "note", "pi.name", "rejected", "li.na")

    scan = catalog.begin_scan(["/lake"], "v1")
    changes = catalog.record_dataset(scan, _result({"phone": [], "note": ["pi.name"]}))

    assert _states(catalog) == {
        ("phone", "pi.phone"): "confirmed",
        ("note", "pi.name"): "rejected",
    }
    assert changes.decisions[("note", "pi.name")] == ("rejected", "li.na", "personal")
    assert changes.added == 0


def test_person_can_add_missing_label(catalog):
    scan = catalog.begin_scan(["/lake"], "v1")
    catalog.record_dataset(scan, _result({"note": []}))
    catalog.decide_label("owners.csv", "note", "pi.address", "confirmed", "li.na")
    catalog.decide_label("owners.csv", "", "spi.location", "confirmed", "li.na")
    assert _states(catalog)[("note", "pi.address")] == "confirmed"
    assert _states(catalog)[("", "spi.location")] == "confirmed"


def test_decide_rejects_unknown_label_and_column(catalog):
    scan = catalog.begin_scan(["/lake"], "v1")
    catalog.record_dataset(scan, _result({"note": []}))
    with pytest.raises(UsageError, match="unknown label id"):
        catalog.decide_label("owners.csv", "note", "pi.shoe_size", "confirmed", "li.na")
    with pytest.raises(UsageError, match="column 'nope' not found"):
        catalog.decide_label("owners.csv", "nope", "pi.name", "confirmed", "li.na")
    with pytest.raises(UsageError, match="not found in the catalog"):
        catalog.decide_label("missing.csv", "note", "pi.name", "confirmed", "li.na")


def test_failure_keeps_previous_labels(catalog):
    scan = catalog.begin_scan(["/lake"], "v1")
    catalog.record_dataset(scan, _result({"phone": ["pi.phone"]}))
    scan = catalog.begin_scan(["/lake"], "v1")
    catalog.record_failure(
        scan, DatasetFailure("/lake/owners.csv", "unreadable", "truncated")
    )
    summary = catalog.list_datasets()[0]
    assert summary.label_ids == ("pi.phone",)
    assert summary.last_error == "unreadable: truncated"


def test_schema_version_recorded_and_reopen_is_idempotent(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    LocalCatalog(url).close()
    store = LocalCatalog(url)
    with store.engine.connect() as connection:
        version = connection.execute(
            sa.text("select value from cardex_meta")
        ).scalar_one()
    store.close()
    assert int(version) == SCHEMA_VERSION


def test_newer_schema_is_rejected(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    store = LocalCatalog(url)
    with store.engine.begin() as connection:
        connection.execute(sa.text("update cardex_meta set value = '99'"))
    store.close()
    with pytest.raises(CatalogError, match="newer than"):
        LocalCatalog(url)


def test_catalog_on_postgres(postgres_url):
    store = LocalCatalog(postgres_url)
    scan = store.begin_scan(["/lake"], "v1")
    store.record_dataset(scan, _result({"phone": ["pi.phone"]}, ["spi.location"]))
    assert store.list_datasets()[0].label_ids == ("pi.phone", "spi.location")
    store.close()
