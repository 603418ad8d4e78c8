"""Delta and Iceberg tables: one dataset each, at their current snapshot."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pytest
from s3server import ADMIN, S3Server

from scanner.engine import Scanner, ScanOptions
from scanner.model import DatasetResult

deltalake = pytest.importorskip("deltalake")
pytest.importorskip("pyiceberg")

PHONES = ["13812345678", "13912345679", "13712345670", "15012345671"]


def _table(rows: int = 40) -> pa.Table:
    return pa.table(
        {
            "owner_phone": [PHONES[i % len(PHONES)] for i in range(rows)],
            "dt": ["2026-01-01" if i % 2 else "2026-01-02" for i in range(rows)],
        }
    )


def _scan(source: str, endpoint: str | None = None) -> list[DatasetResult]:
    options = ScanOptions(
        sources=[source], use_catalog=False, concurrency=1, endpoint_url=endpoint
    )
    return Scanner(options).run().results


def _write_iceberg(folder: Path, appends: int) -> tuple[str, int]:
    from pyiceberg.catalog.sql import SqlCatalog

    catalog = SqlCatalog(
        "default",
        uri=f"sqlite:///{folder / 'catalog.db'}",
        warehouse=f"file://{folder / 'warehouse'}",
    )
    catalog.create_namespace("fleet")
    table = catalog.create_table("fleet.owners", schema=_table().schema)
    for _ in range(appends):
        table.append(_table())
    snapshot = table.current_snapshot()
    assert snapshot is not None
    return f"sqlite:///{folder / 'catalog.db'}", snapshot.snapshot_id


def test_local_delta_is_one_dataset(tmp_path: Path) -> None:
    location = tmp_path / "lake" / "owners"
    deltalake.write_deltalake(str(location), _table(), partition_by=["dt"])
    deltalake.write_deltalake(str(location), _table(), mode="append")

    results = _scan(str(tmp_path / "lake"))

    assert [r.uri for r in results] == [str(location)]
    result = results[0]
    assert not result.errors
    assert result.fingerprint.snapshot == "delta-version:1"
    assert result.column("dt") is not None
    phone = result.column("owner_phone")
    assert phone is not None
    assert [label.id for label in phone.labels] == ["pi.phone"]
    assert result.sampled_rows == 80


def test_iceberg_catalog_source(tmp_path: Path) -> None:
    catalog_uri, snapshot_id = _write_iceberg(tmp_path, appends=2)

    results = _scan(f"iceberg://{catalog_uri}#fleet.owners")

    assert len(results) == 1
    result = results[0]
    assert not result.errors
    assert result.uri == f"iceberg://{catalog_uri}#fleet.owners"
    assert result.fingerprint.snapshot == f"iceberg-snapshot:{snapshot_id}"
    phone = result.column("owner_phone")
    assert phone is not None
    assert [label.id for label in phone.labels] == ["pi.phone"]


def test_iceberg_namespace_and_missing_table(tmp_path: Path) -> None:
    catalog_uri, _ = _write_iceberg(tmp_path, appends=1)

    whole = _scan(f"iceberg://{catalog_uri}#fleet")
    missing = _scan(f"iceberg://{catalog_uri}#fleet.nothing")

    assert [r.uri for r in whole] == [f"iceberg://{catalog_uri}#fleet.owners"]
    assert missing[0].errors[0].reason == "unreadable"


def test_local_iceberg_folder_is_one_dataset(tmp_path: Path) -> None:
    _, snapshot_id = _write_iceberg(tmp_path, appends=2)
    table_folder = tmp_path / "warehouse" / "fleet" / "owners"

    results = _scan(str(tmp_path / "warehouse"))

    assert [r.uri for r in results] == [str(table_folder)]
    assert results[0].fingerprint.snapshot == f"iceberg-snapshot:{snapshot_id}"
    assert not results[0].errors


def test_delta_in_bucket(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ADMIN.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", ADMIN.secret_key)
    s3_server.create_bucket("tables")
    location = tmp_path / "owners"
    deltalake.write_deltalake(str(location), _table(), partition_by=["dt"])
    deltalake.write_deltalake(str(location), _table(), mode="append")
    s3_server.upload_folder(location, "tables/warehouse/owners")

    results = _scan("s3://tables/warehouse", s3_server.endpoint)

    assert [r.uri for r in results] == ["s3://tables/warehouse/owners"]
    result = results[0]
    assert not result.errors, result.errors
    assert result.fingerprint.snapshot == "delta-version:1"
    assert result.sampled_rows == 80
