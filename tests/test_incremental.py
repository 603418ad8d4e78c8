"""Incremental scans: fingerprints, --changed-only and catalog schema version 3."""

import io
import os
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from scanner.catalog.local import (
    SCHEMA_VERSION,
    LocalCatalog,
    _add_grades,
    _create_v1,
    meta_table,
)
from scanner.engine import Scanner, ScanOptions
from scanner.report import print_summary, report_dict

NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄强"]


def _owners(rows: int = 30, prefix: str = "1381234") -> str:
    return "姓名,手机号码,城市\n" + "".join(
        f"{NAMES[i % len(NAMES)]},{prefix}{i:04d},北京\n" for i in range(rows)
    )


@pytest.fixture
def lake(tmp_path):
    folder = tmp_path / "lake"
    folder.mkdir()
    (folder / "owners.csv").write_text(_owners(), encoding="utf-8")
    (folder / "parts.csv").write_text(
        "sku,quantity\n" + "".join(f"SKU{i:04d},{i}\n" for i in range(30)),
        encoding="utf-8",
    )
    return folder


@pytest.fixture
def catalog_url(tmp_path):
    return f"sqlite:///{tmp_path / 'catalog.db'}"


def _scan(sources, catalog_url, **settings):
    options = ScanOptions(
        sources=[str(source) for source in sources],
        catalog_url=catalog_url,
        **settings,
    )
    return Scanner(options).run()


def _skipped(outcome):
    return {
        uri.rsplit("/", 1)[-1]: item.reason for uri, item in outcome.skipped.items()
    }


def _label_ids(outcome):
    return {
        result.name: sorted(
            [label.id for label in result.labels]
            + [label.id for column in result.columns for label in column.labels]
        )
        for result in outcome.results
    }


def test_unchanged_rescan_skips_all(lake, catalog_url):
    first = _scan([lake], catalog_url)
    second = _scan([lake], catalog_url, changed_only=True)

    assert _skipped(second) == {"owners.csv": "unchanged", "parts.csv": "unchanged"}
    assert _label_ids(second) == _label_ids(first)
    assert "pi.phone" in _label_ids(second)["owners.csv"]
    message = second.skipped[str(lake / "owners.csv")].message
    assert message == f"skipped: unchanged since scan {first.scan_id}"
    assert second.status == "ok"


def test_skipped_dataset_keeps_catalog_labels(lake, catalog_url):
    _scan([lake], catalog_url)
    second = _scan([lake], catalog_url, changed_only=True)

    store = LocalCatalog(catalog_url)
    summary = {row.name: row for row in store.list_datasets()}
    with store.engine.connect() as connection:
        rows = connection.execute(
            sa.text("select uri, last_seen_scan_id from datasets")
        ).all()
    seen = {uri: scan_id for uri, scan_id in rows}
    store.close()
    assert "pi.phone" in summary["owners.csv"].label_ids
    assert summary["owners.csv"].personal == "personal"
    assert set(seen.values()) == {second.scan_id}


def test_changed_file_is_rescanned(lake, catalog_url):
    _scan([lake], catalog_url)
    (lake / "owners.csv").write_text(_owners(40), encoding="utf-8")

    second = _scan([lake], catalog_url, changed_only=True)

    assert _skipped(second) == {"parts.csv": "unchanged"}


def test_same_size_and_time_caught_by_checksum(lake, catalog_url):
    path = lake / "owners.csv"
    _scan([lake], catalog_url)
    before = os.stat(path)
    path.write_text(_owners(prefix="1391234"), encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(path).st_size == before.st_size

    second = _scan([lake], catalog_url, changed_only=True)

    assert "owners.csv" not in _skipped(second)


def test_without_flag_scans_everything(lake, catalog_url):
    _scan([lake], catalog_url)
    second = _scan([lake], catalog_url)
    assert second.skipped == {}


@pytest.mark.parametrize("setting", ["rules", "terms", "sample_size"])
def test_changed_settings_rescan_everything(lake, catalog_url, tmp_path, setting):
    rules = tmp_path / "rules.yaml"
    rules.write_text("name: site\nversion: '1'\nlabels: []\n", encoding="utf-8")
    terms = tmp_path / "terms.yaml"
    terms.write_text("national_key_projects: [天河]\n", encoding="utf-8")
    _scan([lake], catalog_url, rules_path=str(rules), terms_path=str(terms))

    if setting == "rules":
        rules.write_text("name: site\nversion: '1'\nlabels: []\n# edited\n")
    elif setting == "terms":
        terms.write_text("national_key_projects: [天河, 北斗]\n", encoding="utf-8")
    settings = {"rules_path": str(rules), "terms_path": str(terms)}
    if setting == "sample_size":
        settings["sample_size"] = 500
    second = _scan([lake], catalog_url, changed_only=True, **settings)

    assert second.skipped == {}


def test_failed_dataset_is_retried(lake, catalog_url):
    broken = lake / "broken.parquet"
    broken.write_bytes(b"PAR1 not really parquet")
    first = _scan([lake], catalog_url)
    assert [result.name for result in first.failed] == ["broken.parquet"]

    second = _scan([lake], catalog_url, changed_only=True)

    assert "broken.parquet" not in _skipped(second)
    assert [result.name for result in second.failed] == ["broken.parquet"]


def test_partitioned_folder_notices_new_file(tmp_path, catalog_url):
    root = tmp_path / "trips"
    for day in ("2026-01-01", "2026-01-02"):
        part = root / f"day={day}"
        part.mkdir(parents=True)
        (part / "part-0.csv").write_text(_owners(10), encoding="utf-8")
    _scan([root], catalog_url)
    assert _skipped(_scan([root], catalog_url, changed_only=True)) == {
        "trips": "unchanged"
    }

    extra = root / "day=2026-01-03"
    extra.mkdir()
    (extra / "part-0.csv").write_text(_owners(10), encoding="utf-8")

    assert _scan([root], catalog_url, changed_only=True).skipped == {}


def test_rejected_label_stays_rejected_when_skipped(lake, catalog_url):
    _scan([lake], catalog_url)
    store = LocalCatalog(catalog_url)
    store.decide_label("owners.csv", "手机号码", "pi.phone", "rejected", "li.na")
    store.close()

    second = _scan([lake], catalog_url, changed_only=True)

    owners = next(result for result in second.results if result.name == "owners.csv")
    phone = owners.column("手机号码")
    assert "owners.csv" in _skipped(second)
    assert [label.id for label in phone.labels] == []
    assert phone.notes == ["pi.phone rejected by li.na"]


def test_report_marks_skipped_datasets(lake, catalog_url, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    first = _scan([lake], catalog_url)
    second = _scan([lake], catalog_url, changed_only=True)

    report = report_dict(second)
    owners = next(d for d in report["datasets"] if d["name"] == "owners.csv")
    assert report["schema_version"] == 1
    assert report["scan"]["counts"]["skipped"] == 2
    assert owners["skipped"] == {
        "reason": "unchanged",
        "since_scan": first.scan_id,
        "message": f"skipped: unchanged since scan {first.scan_id}",
    }
    assert report_dict(first)["datasets"][0]["skipped"] is None

    table = io.StringIO()
    print_summary(second, table)
    assert "unchanged since scan" in table.getvalue()
    assert "(2 skipped)" in table.getvalue()


def test_sqlite_table_change_rescans_its_file(tmp_path, catalog_url):
    database = tmp_path / "app.db"
    engine = sa.create_engine(f"sqlite:///{database}", poolclass=NullPool)
    with engine.begin() as connection:
        connection.execute(sa.text("create table users (name text, phone text)"))
        connection.execute(sa.text("create table parts (sku text)"))
        connection.execute(sa.text("insert into users values ('张伟', '13812345678')"))
    source = f"sqlite:///{database}"
    _scan([source], catalog_url)
    unchanged = _scan([source], catalog_url, changed_only=True)
    assert _skipped(unchanged) == {"users": "unchanged", "parts": "unchanged"}

    with engine.begin() as connection:
        connection.execute(sa.text("insert into users values ('王芳', '13912345678')"))
    engine.dispose()

    assert _scan([source], catalog_url, changed_only=True).skipped == {}


@pytest.mark.postgres
def test_postgres_table_fingerprint(postgres_url, tmp_path, catalog_url):
    schema = f"inc_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(postgres_url, poolclass=NullPool)
    with admin.begin() as connection:
        connection.execute(sa.text(f"create schema {schema}"))
        connection.execute(sa.text(f"create table {schema}.owners (phone text)"))
        connection.execute(sa.text(f"create table {schema}.parts (sku text)"))
        connection.execute(sa.text(f"create view {schema}.v as select 1 as one"))
        connection.execute(
            sa.text(f"insert into {schema}.owners values ('13812345678')")
        )
    source = postgres_url
    options = {"include": (f"{schema}.*",)}
    try:
        _scan([source], catalog_url, **options)
        unchanged = _scan([source], catalog_url, changed_only=True, **options)
        # A view has only a column hash, so it is always classified again.
        assert _skipped(unchanged) == {"owners": "unchanged", "parts": "unchanged"}

        with admin.begin() as connection:
            connection.execute(
                sa.text(f"insert into {schema}.owners values ('13912345678')")
            )
        # Closing the session publishes its statistics counters.
        admin.dispose()
        changed = _scan([source], catalog_url, changed_only=True, **options)
        assert _skipped(changed) == {"parts": "unchanged"}
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f"drop schema {schema} cascade"))
        admin.dispose()


# -- schema version 3 ---------------------------------------------------------


def _v2_catalog(url):
    """Write a catalog of schema version 2 with one scan and one dataset."""
    engine = sa.create_engine(url, poolclass=NullPool)
    with engine.begin() as connection:
        _create_v1(connection)
        _add_grades(connection)
        connection.execute(
            sa.insert(meta_table).values(key="schema_version", value="2")
        )
        connection.execute(
            sa.text(
                "INSERT INTO scans (started_at, status, sources, rule_pack_version) "
                "VALUES ('2026-01-01', 'ok', '[\"/lake\"]', 'v1')"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO datasets (uri, name, kind, first_seen_at, fingerprint, "
                "last_scan_id) VALUES ('/lake/ids.csv', 'ids.csv', 'file', "
                "'2026-01-01', '{\"size\": 10}', 1)"
            )
        )
    engine.dispose()


def _check_v3(url):
    store = LocalCatalog(url)
    with store.engine.connect() as connection:
        version = connection.execute(
            sa.select(meta_table.c.value).where(meta_table.c.key == "schema_version")
        ).scalar_one()
        inspector = sa.inspect(connection)
        scan_columns = {c["name"] for c in inspector.get_columns("scans")}
        seen = connection.execute(
            sa.text("select last_seen_scan_id from datasets")
        ).scalar_one()
    remembered = store.stored_datasets()
    stored = remembered["/lake/ids.csv"]
    remembered.close()
    new_scan = store.begin_scan(["/lake"], "v1", "abc")
    store.close()

    assert int(version) == SCHEMA_VERSION == 3
    assert {"host", "pid", "process_started", "settings_hash"} <= scan_columns
    assert seen == 1
    assert stored.fingerprint == {"size": 10}
    assert stored.settings_hash is None
    assert new_scan == 2


def test_migration_from_v2_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'v2.db'}"
    _v2_catalog(url)
    _check_v3(url)


@pytest.mark.postgres
def test_migration_from_v2_postgres(postgres_url):
    name = f"cardex_v2_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(
        postgres_url, poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(sa.text(f"create database {name}"))
    url = make_url(postgres_url).set(database=name).render_as_string(False)
    try:
        _v2_catalog(url)
        _check_v3(url)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f"drop database {name} with (force)"))
        admin.dispose()


def test_changed_only_needs_catalog(lake):
    from scanner.errors import UsageError

    with pytest.raises(UsageError, match="cannot be combined with --no-catalog"):
        Scanner(ScanOptions(sources=[str(lake)], use_catalog=False, changed_only=True))


def test_cli_changed_only_without_catalog(lake):
    import subprocess
    import sys

    command = [sys.executable, "-m", "scanner", "scan", str(lake), "--no-catalog"]
    completed = subprocess.run(
        [*command, "--changed-only"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert completed.returncode == 2
    assert "cannot be combined with --no-catalog" in completed.stderr
