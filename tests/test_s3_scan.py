"""Scan buckets on a real S3 server (SeaweedFS on loopback).

The sample lake is uploaded once per session; each test scans it, or a small
prefix of its own, through the object-store connector.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from s3server import ADMIN, READER, Identity, S3Server, find_weed

from connectors.base import DiscoveryOptions
from connectors.objectstore import ObjectStoreConnector
from connectors.objectstore.store import StoreUnavailableError
from scanner.cli import main
from scanner.engine import Scanner, ScanOptions
from scanner.model import DatasetHandle, DatasetResult

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
BUCKET = "lake"
PHONES = ["13812345678", "13912345679", "13712345670", "15012345671"]


def _use_identity(monkeypatch: pytest.MonkeyPatch, identity: Identity) -> None:
    """Point the AWS settings of this process at ``identity`` and nothing else."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", identity.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", identity.secret_key)


# Folders of the sample lake uploaded: every tabular format it has (CSV in
# GBK and UTF-16, TSV, gzip JSON Lines, JSON, Avro, Parquet, a partitioned
# folder), few enough to classify in seconds.
SAMPLE_FOLDERS = ("connected", "crm", "dms", "exports", "fleet", "telemetry")


@pytest.fixture(scope="module")
def lake(s3_server: S3Server) -> S3Server:
    """The S3 server with part of the sample lake under ``lake/sample``."""
    s3_server.create_bucket(BUCKET)
    for folder in SAMPLE_FOLDERS:
        s3_server.upload_folder(SAMPLE / folder, f"{BUCKET}/sample/{folder}")
    return s3_server


def _scan(source: str, endpoint: str, **settings: object) -> list[DatasetResult]:
    options = ScanOptions(
        sources=[source],
        use_catalog=False,
        endpoint_url=endpoint,
        concurrency=1,
        **settings,  # type: ignore[arg-type]
    )
    return Scanner(options).run().results


def _labels(result: DatasetResult) -> dict[str, list[str]]:
    found = {c.name: sorted(label.id for label in c.labels) for c in result.columns}
    found[""] = sorted(label.id for label in result.labels)
    return found


def _write_parquet(s3_server: S3Server, key: str, rows: int, groups: int) -> int:
    table = pa.table(
        {
            "owner_phone": [PHONES[i % len(PHONES)] for i in range(rows)],
            "odometer_km": list(range(rows)),
            "note": ["x" * 40] * rows,
        }
    )
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, row_group_size=rows // groups)
    data = sink.getvalue().to_pybytes()
    with s3_server.filesystem().open_output_stream(key, compression=None) as stream:
        stream.write(data)
    return len(data)


def _put(s3_server: S3Server, key: str, data: bytes) -> None:
    with s3_server.filesystem().open_output_stream(key, compression=None) as stream:
        stream.write(data)


@pytest.mark.slow
def test_bucket_scan_matches_local(
    lake: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_identity(monkeypatch, ADMIN)
    remote = _scan(f"s3://{BUCKET}/sample", lake.endpoint)
    include = tuple(f"/{folder}" for folder in SAMPLE_FOLDERS)
    local = _scan(str(SAMPLE), lake.endpoint, include=include)

    remote_by_path = {r.uri.removeprefix(f"s3://{BUCKET}/sample/"): r for r in remote}
    local_by_path = {r.uri.removeprefix(str(SAMPLE) + "/"): r for r in local}
    assert len(local_by_path) >= 8
    compared = 0
    for path, local_result in local_by_path.items():
        if local_result.errors:
            continue
        assert path in remote_by_path, f"{path} missing from the bucket scan"
        remote_result = remote_by_path[path]
        assert not remote_result.errors, remote_result.errors
        assert _labels(remote_result) == _labels(local_result), path
        compared += 1
    assert compared == len(local_by_path)


def test_bucket_scan_reads_little(
    lake: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_identity(monkeypatch, ADMIN)
    size = _write_parquet(lake, f"{BUCKET}/big/trips.parquet", 200_000, 40)

    results = _scan(f"s3://{BUCKET}/big", lake.endpoint)

    assert len(results) == 1
    result = results[0]
    assert not result.errors
    assert result.column("owner_phone") is not None
    assert result.bytes_read is not None
    assert result.bytes_read < size * 0.25
    assert result.fingerprint.etag
    assert result.fingerprint.size == size


def test_partitions_and_part_files(
    lake: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_identity(monkeypatch, ADMIN)
    csv = "owner_phone,city\n" + "".join(f"{p},上海\n" for p in PHONES)
    for day in ("2026-01-01", "2026-01-02"):
        _put(lake, f"{BUCKET}/layout/trips/dt={day}/part-0.csv", csv.encode())
        _put(lake, f"{BUCKET}/layout/trips/dt={day}/_SUCCESS", b"")
    for index in range(3):
        _put(lake, f"{BUCKET}/layout/events/part-0000{index}.csv", csv.encode())
    _put(lake, f"{BUCKET}/layout/events/part-00000.csv.crc", b"crc")
    _put(lake, f"{BUCKET}/layout/_temporary/0/part-9.csv", csv.encode())
    _put(lake, f"{BUCKET}/layout/.hidden.csv", csv.encode())

    results = _scan(f"s3://{BUCKET}/layout", lake.endpoint)

    uris = sorted(r.uri for r in results)
    assert uris == [
        f"s3://{BUCKET}/layout/events/part-#.csv",
        f"s3://{BUCKET}/layout/trips",
    ]
    trips = next(r for r in results if r.uri.endswith("trips"))
    assert trips.column("dt") is not None
    assert _labels(trips)["owner_phone"] == ["pi.phone"]
    events = next(r for r in results if "events" in r.uri)
    assert events.sampled_rows == 3 * len(PHONES)


def test_include_exclude_and_ignore_file(
    lake: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_identity(monkeypatch, ADMIN)
    csv = b"owner_phone\n13812345678\n"
    for name in ("keep.csv", "drop.csv", "skip.csv", "notes.txt"):
        _put(lake, f"{BUCKET}/globs/{name}", csv)
    _put(lake, f"{BUCKET}/globs/.cardexignore", b"# comment\nskip.csv\n")

    results = _scan(
        f"s3://{BUCKET}/globs", lake.endpoint, include=("*.csv",), exclude=("drop*",)
    )

    assert [r.uri for r in results] == [f"s3://{BUCKET}/globs/keep.csv"]


def test_deleted_object_fails_alone(
    lake: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_identity(monkeypatch, ADMIN)
    for name in ("a.csv", "b.csv"):
        _put(lake, f"{BUCKET}/vanish/{name}", b"owner_phone\n13812345678\n")
    connector = ObjectStoreConnector()
    options = DiscoveryOptions(endpoint_url=lake.endpoint)
    found = list(connector.discover(f"s3://{BUCKET}/vanish", options))
    lake.filesystem().delete_file(f"{BUCKET}/vanish/a.csv")

    scanner = Scanner(ScanOptions(sources=[], use_catalog=False))
    results = [
        scanner.scan_dataset(item) for item in found if isinstance(item, DatasetHandle)
    ]

    assert [r.uri.rsplit("/", 1)[-1] for r in results] == ["a.csv", "b.csv"]
    assert results[0].errors[0].reason == "unreadable"
    assert "deleted or renamed after it was listed" in results[0].errors[0].message
    assert not results[1].errors


def test_access_denied_prefix(lake: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    _use_identity(monkeypatch, ADMIN)
    _put(lake, f"{BUCKET}/public/open.csv", b"owner_phone\n13812345678\n")
    _put(lake, f"{BUCKET}/private/closed.csv", b"owner_phone\n13812345678\n")
    _use_identity(monkeypatch, READER)

    public = _scan(f"s3://{BUCKET}/public", lake.endpoint)
    private = _scan(f"s3://{BUCKET}/private", lake.endpoint)

    assert not public[0].errors
    assert private[0].errors[0].reason == "access_denied"
    assert READER.secret_key not in private[0].errors[0].message


def test_missing_bucket_is_a_failure(
    lake: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_identity(monkeypatch, ADMIN)

    results = _scan("s3://no-such-bucket/prefix", lake.endpoint)

    assert len(results) == 1
    assert results[0].errors[0].reason in ("not_found", "empty")


def test_secrets_stay_out_of_outputs(
    lake: S3Server,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _use_identity(monkeypatch, ADMIN)
    _put(lake, f"{BUCKET}/secret/owners.csv", b"owner_phone\n13812345678\n")
    catalog = tmp_path / "catalog.db"
    report = tmp_path / "report.json"
    common = ["--endpoint-url", lake.endpoint, "--catalog", f"sqlite:///{catalog}"]
    runner = CliRunner()
    caplog.set_level(logging.DEBUG)
    outputs: list[str] = []

    # Valid credentials: a readable prefix, a missing one and a deleted object.
    sources = [f"s3://{BUCKET}/secret", f"s3://{BUCKET}/no/such/prefix"]
    result = runner.invoke(
        main, ["scan", *sources, *common, "--report", str(report), "-vv"]
    )
    outputs += [result.output, report.read_text()]
    # A wrong secret key: every request is rejected, and the key must not leak.
    wrong = "cardex-wrong-secret-9a8b7c6d5e"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", wrong)
    result = runner.invoke(main, ["scan", f"s3://{BUCKET}/secret", *common, "-vv"])
    outputs += [result.output, caplog.text, catalog.read_bytes().decode("latin-1")]

    assert result.exit_code != 0
    for output in outputs:
        assert ADMIN.secret_key not in output
        assert wrong not in output
        assert "X-Amz-Signature" not in output
    assert "owners.csv" in outputs[1]


def test_server_killed_mid_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weed = find_weed()
    if weed is None:
        pytest.skip("the weed program was not found")
    server = S3Server(weed)
    server.start()
    try:
        _use_identity(monkeypatch, ADMIN)
        # Two attempts per request keep the failing reads short.
        monkeypatch.setenv("CARDEX_S3_MAX_ATTEMPTS", "2")
        server.create_bucket(BUCKET)
        # Names without digits, so that each object is a dataset of its own.
        for name in ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot"):
            _put(server, f"{BUCKET}/kill/{name}.csv", b"owner_phone\n13812345678\n")
        catalog = tmp_path / "catalog.db"

        def kill_after_two(done: int, total: int, uri: str) -> None:
            if done == 2:
                server.kill()

        options = ScanOptions(
            sources=[f"s3://{BUCKET}/kill"],
            catalog_url=f"sqlite:///{catalog}",
            endpoint_url=server.endpoint,
            concurrency=1,
            timeout=10,
        )
        outcome = Scanner(options, progress=kill_after_two).run()
    finally:
        server.stop()

    reasons = [r.errors[0].reason if r.errors else "ok" for r in outcome.results]
    assert reasons[:2] == ["ok", "ok"]
    assert set(reasons[2:]) == {StoreUnavailableError.reason}
    assert outcome.status == "partial"
    with sqlite3.connect(catalog) as connection:
        (integrity,) = connection.execute("PRAGMA integrity_check").fetchone()
    assert integrity == "ok"
