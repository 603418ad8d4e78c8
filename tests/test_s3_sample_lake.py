"""The whole sample lake, uploaded to a real S3 server, scans like the folder.

Every folder of ``sample_data/`` is uploaded except ``app/``: its SQLite
databases are read through ``sqlite:///`` URLs, not from a bucket. Each
dataset's labels from the bucket scan, on the dataset and on its columns,
must equal those of the local scan.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from s3server import ADMIN, S3Server

from scanner.engine import Scanner, ScanOptions
from scanner.model import DatasetResult

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
BUCKET = "whole-lake"
# Read through sqlite:/// URLs, not through the file or bucket connectors.
LOCAL_ONLY = frozenset({"app"})


def _folders() -> list[str]:
    return sorted(
        entry.name
        for entry in SAMPLE.iterdir()
        if entry.is_dir() and entry.name not in LOCAL_ONLY
    )


def _scan(
    source: str, endpoint: str, include: tuple[str, ...] = ()
) -> list[DatasetResult]:
    options = ScanOptions(
        sources=[source],
        use_catalog=False,
        endpoint_url=endpoint,
        include=include,
        concurrency=1,
    )
    return Scanner(options).run().results


def _labels(result: DatasetResult) -> dict[str, list[str]]:
    found = {c.name: sorted(label.id for label in c.labels) for c in result.columns}
    found[""] = sorted(label.id for label in result.labels)
    return found


@pytest.mark.slow
def test_whole_sample_lake_scans_alike_in_a_bucket(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ADMIN.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", ADMIN.secret_key)
    s3_server.create_bucket(BUCKET)
    folders = _folders()
    for folder in folders:
        s3_server.upload_folder(SAMPLE / folder, f"{BUCKET}/{folder}")

    remote = _scan(f"s3://{BUCKET}", s3_server.endpoint)
    local = _scan(
        str(SAMPLE), s3_server.endpoint, tuple(f"/{folder}" for folder in folders)
    )

    remote_by_path = {r.uri.removeprefix(f"s3://{BUCKET}/"): r for r in remote}
    local_by_path = {r.uri.removeprefix(str(SAMPLE) + "/"): r for r in local}
    assert len(local_by_path) >= 40
    assert sorted(remote_by_path) == sorted(local_by_path)
    differing = {
        path: (_labels(remote_by_path[path]), _labels(result))
        for path, result in local_by_path.items()
        if _labels(remote_by_path[path]) != _labels(result)
    }
    assert differing == {}
    failed = [path for path, result in remote_by_path.items() if result.errors]
    assert failed == [path for path, result in local_by_path.items() if result.errors]
