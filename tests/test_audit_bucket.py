"""An audit of a bucket counts the same people as an audit of its local copy.

The files sit on a real S3 server (SeaweedFS on loopback); the endpoint comes
from ``AWS_ENDPOINT_URL``, as for any S3 client.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from s3server import ADMIN, S3Server

from scanner.cli import main

BUCKET = "transfer"
CONTEXT = [
    "--processor",
    "Example Motors",
    "--destination",
    "DE",
    "--recipient",
    "Example GmbH",
    "--purpose",
    "after-sales analysis",
]


def _phone(number: int) -> str:
    return f"139{number:08d}"


def _write_transfer(folder: Path) -> None:
    folder.mkdir()
    lines = ["name,phone"] + [f"u{i},{_phone(i)}" for i in range(300)]
    (folder / "owners.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for part in range(3):
        table = pa.table(
            {
                "phone": [_phone(200 + part * 100 + i) for i in range(100)],
                "mileage_km": list(range(100)),
            }
        )
        pq.write_table(table, folder / f"part-{part:05d}.parquet")


def _audit(source: str, tmp_path: Path, name: str, *options: str) -> dict:
    report = tmp_path / f"{name}.json"
    result = CliRunner().invoke(
        main,
        [
            "audit",
            source,
            *CONTEXT,
            "--catalog",
            f"sqlite:///{tmp_path}/{name}.db",
            "--report",
            str(report),
            *options,
        ],
    )
    assert result.exit_code in (0, 10), result.output
    return json.loads(report.read_text(encoding="utf-8"))


def _people(data: dict) -> dict[str, dict[str, int]]:
    return {item["uri"].rsplit("/", 1)[-1]: item["people"] for item in data["datasets"]}


def upload_transfer(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Path:
    """Write the transfer locally and to the bucket; point S3 clients at it."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ADMIN.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", ADMIN.secret_key)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)
    local = tmp_path / "export"
    _write_transfer(local)
    s3_server.create_bucket(BUCKET)
    s3_server.upload_folder(local, f"{BUCKET}/export")
    return local


def audit_both(tmp_path: Path, local: Path, *options: str) -> tuple[dict, dict]:
    """Audit the bucket and the local copy; check the counts agree."""
    remote_data = _audit(f"s3://{BUCKET}/export", tmp_path, "remote", *options)
    local_data = _audit(str(local), tmp_path, "local")

    # 300 owners, 300 phones in the part files, 100 of them shared.
    assert local_data["counts"]["this_transfer"] == {"personal": 500, "sensitive": 0}
    assert (
        remote_data["counts"]["this_transfer"] == local_data["counts"]["this_transfer"]
    )
    assert _people(remote_data) == _people(local_data)
    assert remote_data["failures"] == []
    return remote_data, local_data


@pytest.mark.slow
def test_bucket_audit_counts_like_local(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    local = upload_transfer(s3_server, monkeypatch, tmp_path)
    audit_both(tmp_path, local)
