"""Part files of one table are one dataset, in a local folder and in a bucket."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from s3server import ADMIN, S3Server

from connectors.base import DiscoveryOptions
from connectors.files import FileConnector
from connectors.files.discovery import group_part_files, part_pattern
from connectors.files.handles import PartitionedDataset
from scanner.engine import Scanner, ScanOptions
from scanner.model import DatasetFailure, DatasetHandle, DatasetResult

BUCKET = "grouping"
PHONES = ["13812345678", "13912345679", "13712345670", "15012345671"]
VINS = ["LSVAB4BR5KN123456", "LFV2A21K8D4012345", "LSGPC52U66F123456"]


def _groups(names: list[str]) -> list[list[str]]:
    return group_part_files(names, lambda name: name)


def test_part_pattern_digits_and_uuids() -> None:
    name = "part-00003-0f8e2b7c-1d2e-4f3a-9b8c-7d6e5f4a3b2c-c000.snappy.parquet"
    assert part_pattern(name) == "part-#-#-c#.snappy.parquet"
    assert part_pattern("owners_012.csv.gz") == "owners_#.csv.gz"


def test_group_part_files_cases() -> None:
    names = [
        "part-00000.parquet",
        "notes.csv",
        "part-00001.parquet",
        "owners_1.csv.gz",
        "owners_2.csv.gz",
        "part-00000",
        "part-00001",
        "report_2026.csv",
    ]
    assert _groups(names) == [
        ["part-00000.parquet", "part-00001.parquet"],
        ["notes.csv"],
        ["owners_1.csv.gz", "owners_2.csv.gz"],
        ["part-00000", "part-00001"],
        ["report_2026.csv"],
    ]


def test_group_part_files_keeps_objects_apart() -> None:
    names = ["frame_001.jpg", "frame_002.jpg", "sweep_1.pcd", "sweep_2.pcd"]
    assert _groups(names) == [[name] for name in names]


def test_group_part_files_extension_must_match() -> None:
    names = ["events_1.csv", "events_2.jsonl", "events_3.csv"]
    assert _groups(names) == [["events_1.csv", "events_3.csv"], ["events_2.jsonl"]]


def _csv(rows: list[tuple[str, str]]) -> bytes:
    lines = ["owner_phone,city"] + [f"{phone},{city}" for phone, city in rows]
    return ("\n".join(lines) + "\n").encode()


def _write_lake(root: Path) -> None:
    """Write a small lake with part files, partitions and single files."""
    events = root / "events"
    events.mkdir(parents=True)
    for index in range(3):
        rows = [(phone, "上海") for phone in PHONES]
        (events / f"part-0000{index}.csv").write_bytes(_csv(rows))
    (events / "part-00000.csv.crc").write_bytes(b"crc")

    exports = root / "exports"
    exports.mkdir()
    for index in (1, 2):
        lines = [f'{{"vin": "{vin}", "index": {index}}}' for vin in VINS]
        (exports / f"vehicles_{index}.jsonl").write_text("\n".join(lines) + "\n")
    (exports / "customers.csv").write_bytes(_csv([(PHONES[0], "北京")]))

    trips = root / "trips"
    for day in ("2026-01-01", "2026-01-02"):
        folder = trips / f"dt={day}"
        folder.mkdir(parents=True)
        table = pa.table({"vin": VINS, "speed_kmh": [12.5, 80.0, 64.2]})
        pq.write_table(table, folder / "part-0.parquet")
    for index in (1, 2):
        (trips / f"summary_{index}.csv").write_bytes(_csv([(PHONES[1], "广州")]))


def _discover(path: Path) -> list[DatasetHandle | DatasetFailure]:
    return list(FileConnector().discover(str(path), DiscoveryOptions()))


def test_local_folder_groups_part_files(tmp_path: Path) -> None:
    _write_lake(tmp_path)

    found = _discover(tmp_path)

    uris = sorted(os.path.relpath(item.uri, tmp_path) for item in found)
    assert uris == [
        "events/part-#.csv",
        "exports/customers.csv",
        "exports/vehicles_#.jsonl",
        "trips",
        "trips/summary_#.csv",
    ]
    events = next(item for item in found if item.uri.endswith("part-#.csv"))
    assert isinstance(events, PartitionedDataset)
    assert [Path(item.path).name for item in events.files] == [
        "part-00000.csv",
        "part-00001.csv",
        "part-00002.csv",
    ]


def test_local_part_files_sample_as_one(tmp_path: Path) -> None:
    _write_lake(tmp_path)
    (events,) = _discover(tmp_path / "events")
    assert isinstance(events, DatasetHandle)

    sample = events.sample(100)

    assert sample.table.num_rows == 3 * len(PHONES)
    assert sample.notes[0] == "set of 3 part files of one table, 3 sampled"


def test_local_grouping_skips_excluded_files(tmp_path: Path) -> None:
    _write_lake(tmp_path)
    options = DiscoveryOptions(exclude=("part-00001.csv",))

    found = list(FileConnector().discover(str(tmp_path / "events"), options))

    (events,) = found
    assert isinstance(events, PartitionedDataset)
    assert [Path(item.path).name for item in events.files] == [
        "part-00000.csv",
        "part-00002.csv",
    ]


def test_local_grouping_leaves_objects_and_databases(tmp_path: Path) -> None:
    for index in (1, 2):
        (tmp_path / f"frame_00{index}.png").write_bytes(b"\x89PNG\r\n\x1a\n")
        with sqlite3.connect(tmp_path / f"fleet_{index}.db") as connection:
            connection.execute("create table vehicles (vin text)")
        connection.close()

    found = _discover(tmp_path)

    uris = sorted(os.path.basename(item.uri) for item in found)
    assert "frame_001.png" in uris
    assert "frame_002.png" in uris
    assert not any("#" in uri for uri in uris)


def test_lone_numbered_file_stays_single(tmp_path: Path) -> None:
    (tmp_path / "report_2026.csv").write_bytes(_csv([(PHONES[0], "上海")]))
    (tmp_path / "report_final.csv").write_bytes(_csv([(PHONES[1], "上海")]))

    found = _discover(tmp_path)

    assert sorted(os.path.basename(item.uri) for item in found) == [
        "report_2026.csv",
        "report_final.csv",
    ]


def _use_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the AWS settings of this process at the test administrator only."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ADMIN.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", ADMIN.secret_key)


def _scan(source: str, endpoint: str | None) -> list[DatasetResult]:
    options = ScanOptions(
        sources=[source], use_catalog=False, endpoint_url=endpoint, concurrency=1
    )
    return Scanner(options).run().results


def _labels(result: DatasetResult) -> dict[str, list[str]]:
    found = {c.name: sorted(label.id for label in c.labels) for c in result.columns}
    found[""] = sorted(label.id for label in result.labels)
    return found


def test_bucket_and_folder_same_datasets(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _use_admin(monkeypatch)
    _write_lake(tmp_path / "lake")
    s3_server.create_bucket(BUCKET)
    s3_server.upload_folder(tmp_path / "lake", f"{BUCKET}/lake")

    local = _scan(str(tmp_path / "lake"), None)
    remote = _scan(f"s3://{BUCKET}/lake", s3_server.endpoint)

    local_by_key = {os.path.relpath(r.uri, tmp_path / "lake"): r for r in local}
    remote_by_key = {r.uri.removeprefix(f"s3://{BUCKET}/lake/"): r for r in remote}
    assert sorted(local_by_key) == sorted(remote_by_key)
    assert len(local_by_key) == 5
    for key, local_result in local_by_key.items():
        remote_result = remote_by_key[key]
        assert not local_result.errors, key
        assert not remote_result.errors, key
        assert local_result.sampled_rows == remote_result.sampled_rows, key
        assert _labels(local_result) == _labels(remote_result), key
    events = local_by_key["events/part-#.csv"]
    assert _labels(events)["owner_phone"] == ["pi.phone"]


def test_bucket_sqlite_says_download(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _use_admin(monkeypatch)
    database = tmp_path / "db" / "fleet.db"
    database.parent.mkdir()
    with sqlite3.connect(database) as connection:
        connection.execute("create table vehicles (vin text)")
    connection.close()
    s3_server.create_bucket(BUCKET)
    s3_server.upload_folder(database.parent, f"{BUCKET}/db")

    (result,) = _scan(f"s3://{BUCKET}/db", s3_server.endpoint)

    (error,) = result.errors
    assert error.reason == "unsupported"
    assert "download it" in error.message
    assert "sqlite:///s3://" not in error.message
