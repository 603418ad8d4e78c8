"""``cardex scan --push`` end to end, and no sampled value in what is pushed.

The real scanner reads a CSV seeded with full phone numbers, ID numbers,
names and e-mail addresses. The labels go to a DataHub proposals file, a
DataHub Lite store and the loopback OpenMetadata server. None of the seeded
values may appear in any of them, nor in the command's output.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from omserver import OpenMetadataServer

os.environ["DATAHUB_TELEMETRY_ENABLED"] = "false"
pytest.importorskip("datahub.lite.lite_util")

from datahub.lite.lite_util import get_datahub_lite  # noqa: E402

from scanner.cli import main  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore:Call to deprecated method:DeprecationWarning"
)
TOKEN = "om-test-token"
NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静"]


def seeded_rows() -> list[tuple[str, str, str, str]]:
    return [
        (
            NAMES[i % len(NAMES)],
            f"1381234{i:04d}",
            "11010519491231002X" if i % 2 else "110105194912310021",
            f"driver{i}@example.com",
        )
        for i in range(60)
    ]


def write_csv(path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("owner_name", "mobile", "id_card", "email"))
        writer.writerows(seeded_rows())


def raw_values() -> set[str]:
    values = {value for row in seeded_rows() for value in row}
    # Full values and their long tails: masking keeps at most 4 end characters.
    values |= {row[1][-7:] for row in seeded_rows()}
    values |= {row[2][-8:] for row in seeded_rows()}
    return values


def assert_no_raw_value(text: str, where: str) -> None:
    leaked = sorted(value for value in raw_values() if value in text)
    assert leaked == [], f"sampled values in {where}"


def lite_dump(path: Path) -> str:
    config = {"file": str(path), "read_only": True}
    lite = get_datahub_lite({"type": "duckdb", "config": config})
    try:
        aspects = [mcp.to_obj() for mcp in lite.get_all_aspects()]
    finally:
        lite.close()
    return json.dumps(aspects, ensure_ascii=False)


def test_scan_push_leaks_no_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENMETADATA_TOKEN", TOKEN)
    data = tmp_path / "owners.csv"
    write_csv(data)
    catalog = f"sqlite:///{tmp_path / 'catalog.db'}"
    proposals = tmp_path / "proposals.json"
    lite = tmp_path / "lite.duckdb"
    config = tmp_path / "push.yaml"
    config.write_text(
        f"mappings:\n  - prefix: {tmp_path}/\n    service: lake\n    schema: drop\n",
        encoding="utf-8",
    )
    server = OpenMetadataServer(TOKEN).start()
    server.add_table(
        'lake.default.drop."owners.csv"',
        [
            {"name": n, "dataType": "VARCHAR"}
            for n in ("owner_name", "mobile", "id_card", "email")
        ],
    )
    try:
        result = CliRunner().invoke(
            main,
            [
                "scan",
                str(data),
                "--catalog",
                catalog,
                "--push",
                f"datahub-file:{proposals}",
                "--push",
                f"datahub-lite:{lite}",
                "--push",
                f"openmetadata+{server.url}",
                "--push-config",
                str(config),
                "-q",
            ],
        )
    finally:
        server.stop()

    assert result.exit_code == 0, result.output
    assert server.problems == []
    tags = server.table('lake.default.drop."owners.csv"')["columns"][1].get("tags")
    assert [tag["tagFQN"] for tag in tags] == ['cardex."pi.phone"']
    file_text = proposals.read_text(encoding="utf-8")
    assert "urn:li:tag:cardex.pi.phone" in file_text
    lite_text = lite_dump(lite)
    assert "urn:li:tag:cardex.spi.id_number" in lite_text
    assert_no_raw_value(file_text, "the proposals file")
    assert_no_raw_value(lite_text, "the DataHub Lite store")
    assert_no_raw_value(json.dumps(server.requests, ensure_ascii=False), "requests")
    assert_no_raw_value(result.output, "the command output")


def test_scan_push_needs_a_catalog(tmp_path: Path) -> None:
    data = tmp_path / "owners.csv"
    write_csv(data)
    result = CliRunner().invoke(
        main, ["scan", str(data), "--no-catalog", "--push", "datahub-file:x.json"]
    )

    assert result.exit_code == 2
    assert "--no-catalog" in result.output


def test_scan_rejects_bad_target_before_scanning(tmp_path: Path) -> None:
    data = tmp_path / "owners.csv"
    write_csv(data)
    catalog = tmp_path / "catalog.db"
    result = CliRunner().invoke(
        main,
        ["scan", str(data), "--catalog", f"sqlite:///{catalog}", "--push", "datahub:x"],
    )

    assert result.exit_code == 2
    assert "invalid push target" in result.output
    assert not catalog.exists()


def test_scan_push_failure_exits_4(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENMETADATA_TOKEN", TOKEN)
    data = tmp_path / "owners.csv"
    write_csv(data)
    server = OpenMetadataServer(TOKEN).start()
    try:
        result = CliRunner().invoke(
            main,
            [
                "scan",
                str(data),
                "--catalog",
                f"sqlite:///{tmp_path / 'catalog.db'}",
                "--push",
                f"openmetadata+{server.url}?service=lake",
                "-q",
            ],
        )
    finally:
        server.stop()

    assert result.exit_code == 4, result.output
    assert "not found in OpenMetadata" in result.output
