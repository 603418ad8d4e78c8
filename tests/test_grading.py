"""Grades (GB/T 43697-2024) and personal levels: rule, scan, report, catalog."""

import io
import json
import subprocess
import sys

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from scanner.catalog.local import (
    SCHEMA_VERSION,
    LocalCatalog,
    _create_v1,
    meta_table,
)
from scanner.engine import Scanner, ScanOptions
from scanner.grading import grade_labels
from scanner.model import ColumnResult, DatasetResult, Evidence, Label
from scanner.report import print_summary, report_dict

NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄强"]


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        ([], ("general", "none")),
        (["pi.phone"], ("general", "personal")),
        (["pi.phone", "spi.location"], ("general", "sensitive")),
        (["imp.connected_operation.vehicle_flow"], ("important", "none")),
        (["flag.surveying"], ("general", "none")),
        (["flag.export_control"], ("general", "none")),
        (
            ["imp.driving_automation.geodata", "flag.core_candidate"],
            ("core_candidate", "none"),
        ),
        (["flag.core_candidate", "spi.id_number"], ("core_candidate", "sensitive")),
        # Prefixes, not substrings: "pix" and "spin" are no label families.
        (["pix.thing", "spin.thing", "important"], ("general", "none")),
    ],
)
def test_grade_labels(ids, expected):
    assert grade_labels(ids) == expected


def _owners(folder):
    folder.mkdir()
    (folder / "owners.csv").write_text(
        "姓名,手机号码,城市\n"
        + "".join(f"{NAMES[i % len(NAMES)]},1381234{i:04d},北京\n" for i in range(30)),
        encoding="utf-8",
    )
    return folder


def test_scan_grades_after_decisions(tmp_path):
    lake = _owners(tmp_path / "lake")
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    options = ScanOptions(sources=[str(lake)], catalog_url=url)

    first = Scanner(options).run().results[0]
    assert (first.grade, first.personal) == ("general", "personal")
    dataset = report_dict(Scanner(options).run())["datasets"][0]
    assert (dataset["grade"], dataset["personal"]) == ("general", "personal")

    store = LocalCatalog(url)
    store.decide_label("owners.csv", "", "spi.location", "confirmed", "li.na")
    store.decide_label("owners.csv", "", "flag.core_candidate", "confirmed", "li.na")
    listed = store.list_datasets()[0]
    assert (listed.grade, listed.personal) == ("core_candidate", "sensitive")
    store.close()

    again = Scanner(options).run().results[0]
    assert (again.grade, again.personal) == ("core_candidate", "sensitive")

    store = LocalCatalog(url)
    store.decide_label("owners.csv", "", "flag.core_candidate", "rejected", "li.na")
    shown = store.show_dataset("owners.csv")
    assert (shown["grade"], shown["personal"]) == ("general", "sensitive")
    store.close()


def test_scan_without_catalog_is_graded(tmp_path):
    lake = _owners(tmp_path / "lake")
    options = ScanOptions(sources=[str(lake)], use_catalog=False)
    outcome = Scanner(options).run()
    result = outcome.results[0]
    assert (result.grade, result.personal) == ("general", "personal")

    stream = io.StringIO()
    print_summary(outcome, stream)
    # Rich folds the cell at 80 columns, so the words are checked one by one.
    text = stream.getvalue()
    assert "grade" in text
    assert "genera" in text
    assert "PI" in text


def _v1_catalog(url):
    """Write a catalog of schema version 1 with one labelled dataset."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        _create_v1(connection)
        connection.execute(
            sa.insert(meta_table).values(key="schema_version", value="1")
        )
        connection.execute(
            sa.text(
                "INSERT INTO datasets (uri, name, kind, first_seen_at) "
                "VALUES ('/lake/ids.csv', 'ids.csv', 'file', '2026-01-01')"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO labels (dataset_id, column_name, label_id, category, "
                "state, source, updated_at) VALUES "
                "(1, 'sfzh', 'spi.id_number', 'sensitive_personal', 'suggested', "
                "'scanner', '2026-01-01'), "
                "(1, '', 'imp.sensitive_area', 'important', 'suggested', "
                "'scanner', '2026-01-01'), "
                "(1, '', 'flag.core_candidate', 'flag', 'rejected', "
                "'li.na', '2026-01-01')"
            )
        )
        names = {c["name"] for c in sa.inspect(connection).get_columns("datasets")}
    engine.dispose()
    return names


def _check_migrated(url):
    store = LocalCatalog(url)
    listed = store.list_datasets()[0]
    assert (listed.grade, listed.personal) == ("important", "sensitive")
    assert store.show_dataset("ids.csv")["grade"] == "important"

    scan = store.begin_scan(["/lake"], "v1")
    label = Label("pi.phone", "personal", 0.9, Evidence("rule", "v1", 10, 10, 9))
    result = DatasetResult(
        uri="/lake/new.csv",
        name="new.csv",
        kind="file",
        columns=[ColumnResult("phone", "string", 10, 10, [label])],
    )
    store.record_dataset(scan, result)
    graded = {row.name: (row.grade, row.personal) for row in store.list_datasets()}
    assert graded["new.csv"] == ("general", "personal")
    store.close()

    engine = sa.create_engine(url)
    with engine.connect() as connection:
        version = connection.execute(sa.select(meta_table.c.value)).scalar_one()
        names = {c["name"] for c in sa.inspect(connection).get_columns("datasets")}
    engine.dispose()
    assert int(version) == SCHEMA_VERSION == 3
    assert {"grade", "personal"} <= names


def test_migration_from_version_1_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    assert "grade" not in _v1_catalog(url)
    _check_migrated(url)


@pytest.mark.postgres
def test_migration_from_version_1_on_postgres(postgres_url):
    server = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(sa.text("DROP DATABASE IF EXISTS cardex_grade_v1"))
        connection.execute(sa.text("CREATE DATABASE cardex_grade_v1"))
    url = make_url(postgres_url).set(database="cardex_grade_v1")
    text_url = url.render_as_string(hide_password=False)
    try:
        assert "grade" not in _v1_catalog(text_url)
        _check_migrated(text_url)
    finally:
        with server.connect() as connection:
            connection.execute(sa.text("DROP DATABASE cardex_grade_v1"))
        server.dispose()


def test_catalog_commands_show_grade(tmp_path):
    lake = _owners(tmp_path / "lake")
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    Scanner(ScanOptions(sources=[str(lake)], catalog_url=url)).run()

    def cli(*args):
        done = subprocess.run(
            [sys.executable, "-m", "scanner", *args, "--catalog", url],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    listed = json.loads(cli("catalog", "list", "--json"))[0]
    assert (listed["grade"], listed["personal"]) == ("general", "personal")
    assert "personal" in cli("catalog", "list")
    shown = json.loads(cli("catalog", "show", "owners.csv"))
    assert (shown["grade"], shown["personal"]) == ("general", "personal")
