"""Lake tables: a scan never writes to a catalog or reads outside a table's store."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from s3server import ADMIN, S3Server

from connectors.base import DiscoveryOptions
from connectors.tables import TableConnector
from scanner.engine import Scanner, ScanOptions
from scanner.errors import UsageError
from scanner.model import DatasetResult

pytest.importorskip("pyiceberg")

PHONES = ["13812345678", "13912345679", "13712345670", "15012345671"]


def _table(rows: int = 40) -> pa.Table:
    return pa.table({"owner_phone": [PHONES[i % len(PHONES)] for i in range(rows)]})


def _scan(source: str, endpoint: str | None = None) -> list[DatasetResult]:
    options = ScanOptions(
        sources=[source], use_catalog=False, concurrency=1, endpoint_url=endpoint
    )
    return Scanner(options).run().results


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_iceberg(folder: Path) -> Path:
    from pyiceberg.catalog.sql import SqlCatalog

    database = folder / "catalog.db"
    catalog = SqlCatalog(
        "default",
        uri=f"sqlite:///{database}",
        warehouse=f"file://{folder / 'warehouse'}",
    )
    catalog.create_namespace("fleet")
    catalog.create_table("fleet.owners", schema=_table().schema).append(_table())
    catalog.engine.dispose()
    return database


def _clean_s3_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ADMIN.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", ADMIN.secret_key)


def test_iceberg_scheme_on_other_database(tmp_path: Path) -> None:
    database = tmp_path / "app.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE owners (name TEXT)")
    before = _digest(database)

    with pytest.raises(UsageError, match="not an Iceberg SQL catalog") as caught:
        _scan(f"iceberg://sqlite:///{database}")

    assert "iceberg_tables" in str(caught.value)
    assert _digest(database) == before
    with sqlite3.connect(database) as connection:
        names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert names == {"owners"}


@pytest.mark.postgres
def test_iceberg_scheme_on_postgres(postgres_url: str) -> None:
    from sqlalchemy import create_engine, inspect

    # NOTE: the table connector is called directly, because the SQL connector
    # also accepts iceberg://postgresql... sources and comes first.
    connector = TableConnector()
    with pytest.raises(UsageError, match="not an Iceberg SQL catalog"):
        list(connector.discover(f"iceberg://{postgres_url}", DiscoveryOptions()))

    engine = create_engine(postgres_url)
    try:
        names = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert "iceberg_tables" not in names
    assert "iceberg_namespace_properties" not in names


def test_iceberg_missing_catalog_file(tmp_path: Path) -> None:
    database = tmp_path / "nosuch.db"

    with pytest.raises(UsageError, match="was not found"):
        _scan(f"iceberg://sqlite:///{database}#fleet.owners")

    assert not database.exists()


def test_iceberg_catalog_left_unchanged(tmp_path: Path) -> None:
    database = _write_iceberg(tmp_path)
    before = _digest(database)

    results = _scan(f"iceberg://sqlite:///{database}#fleet.owners")

    assert len(results) == 1
    assert not results[0].errors
    assert _digest(database) == before


def test_bucket_table_with_local_files(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _clean_s3_environment(monkeypatch)
    _write_iceberg(tmp_path)
    local_table = tmp_path / "warehouse" / "fleet" / "owners"
    s3_server.create_bucket("icelocal")
    # Only the metadata goes to the bucket: its manifests still name local files.
    s3_server.upload_folder(local_table / "metadata", "icelocal/owners/metadata")

    results = _scan("s3://icelocal/", s3_server.endpoint)

    assert [r.uri for r in results] == ["s3://icelocal/owners"]
    result = results[0]
    assert result.sampled_rows == 0
    assert [error.reason for error in result.errors] == ["unsupported"]
    assert "outside the table's store" in result.errors[0].message


def test_delta_without_extra_fails_one_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deltalake = pytest.importorskip("deltalake")
    table_folder = tmp_path / "lake" / "owners_delta"
    deltalake.write_deltalake(str(table_folder), _table())
    (tmp_path / "lake" / "owners.csv").write_text(
        "owner_phone\n" + "\n".join(PHONES * 5) + "\n", encoding="utf-8"
    )
    # A None entry makes ``import deltalake`` raise ImportError, as without the extra.
    monkeypatch.setitem(sys.modules, "deltalake", None)

    results = {r.uri: r for r in _scan(str(tmp_path / "lake"))}

    delta = results[str(table_folder)]
    assert [error.reason for error in delta.errors] == ["unsupported"]
    assert "pip install 'cardex[delta]'" in delta.errors[0].message
    csv = results[str(tmp_path / "lake" / "owners.csv")]
    assert not csv.errors
    assert csv.sampled_rows == 20


def test_corrupt_delta_log_one_line(tmp_path: Path) -> None:
    deltalake = pytest.importorskip("deltalake")
    table_folder = tmp_path / "owners"
    deltalake.write_deltalake(str(table_folder), _table())
    log = table_folder / "_delta_log" / "00000000000000000001.json"
    log.write_text("{not json\n", encoding="utf-8")

    results = _scan(str(tmp_path))

    assert len(results) == 1
    errors = results[0].errors
    assert [error.reason for error in errors] == ["unreadable"]
    assert "\n" not in errors[0].message
