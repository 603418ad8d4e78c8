"""``cardex audit`` end to end: exit codes, the JSON result, usage errors."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result
from test_audit_data import (
    names,
    phones,
    resident_id,
    write_id_file,
    write_phone_file,
)

from scanner.cli import main

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"
TRANSFER = [
    "--processor",
    "ACME",
    "--destination",
    "DE",
    "--recipient",
    "ACME GmbH",
    "--purpose",
    "after-sales support",
]


def run(tmp_path: Path, *arguments: str) -> Result:
    catalog = f"sqlite:///{tmp_path / 'catalog.db'}"
    command = ["audit", *arguments, "--catalog", catalog, "-q"]
    return CliRunner().invoke(main, command)


@pytest.mark.parametrize(("people", "exit_code"), [(99_999, 0), (100_000, 10)])
def test_personal_threshold_exit_code(
    tmp_path: Path, people: int, exit_code: int
) -> None:
    write_phone_file(tmp_path / "data" / "owners.parquet", 0, people)
    result = run(tmp_path, str(tmp_path / "data"), *TRANSFER)
    assert result.exit_code == exit_code, result.output


@pytest.mark.parametrize(("people", "exit_code"), [(9_999, 10), (10_000, 11)])
def test_sensitive_threshold_exit_code(
    tmp_path: Path, people: int, exit_code: int
) -> None:
    write_id_file(tmp_path / "data" / "ids.parquet", 0, people)
    result = run(tmp_path, str(tmp_path / "data"), *TRANSFER)
    assert result.exit_code == exit_code, result.output


def test_important_data_exit_code(tmp_path: Path) -> None:
    source = SAMPLE_DATA / "important" / "charging_sessions.csv"
    if not source.exists():
        pytest.skip("sample_data/important/charging_sessions.csv is absent")
    shutil.copy(source, tmp_path / "charging_sessions.csv")
    report = tmp_path / "audit.json"
    result = run(
        tmp_path,
        str(tmp_path / "charging_sessions.csv"),
        *TRANSFER,
        "--report",
        str(report),
    )
    data = json.loads(report.read_text("utf-8"))
    assert result.exit_code == 11, result.output
    assert data["decision"]["route"] == "security_assessment"
    assert data["decision"]["rows"][4]["fired"]
    assert data["important"][0]["label"].startswith("imp.")


def test_report_shape_and_masking(tmp_path: Path) -> None:
    write_phone_file(tmp_path / "data" / "owners.parquet", 0, 500)
    write_id_file(tmp_path / "data" / "ids.parquet", 0, 20)
    report = tmp_path / "audit.json"
    result = run(tmp_path, str(tmp_path / "data"), *TRANSFER, "--report", str(report))
    text = report.read_text("utf-8")
    data = json.loads(text)
    assert result.exit_code == 10, result.output
    assert data["schema_version"] == 1
    assert data["kind"] == "cardex-audit"
    assert data["transfer"]["processor"] == "ACME"
    assert data["counts"]["this_transfer"] == {"personal": 500, "sensitive": 20}
    assert data["counts"]["method"] == "exact"
    assert data["thresholds"]["sensitive_assessment"] == 10_000
    assert data["exit_code"] == 10
    assert [row["row"] for row in data["decision"]["rows"]] == list(range(10))
    keys = {d["name"]: d["subject_keys"] for d in data["datasets"]}
    assert keys["ids.parquet"] == [
        {"column": "id_card", "key_type": "id_number", "sensitive": True}
    ]
    examples = [hit["example"] for d in data["datasets"] for hit in d["labels"]]
    assert any("*" in example for example in examples)
    for phone in phones(0, 500):
        assert phone not in text
    assert "route: contract_or_certification" in result.output


def test_contract_exemption_drops_dataset(tmp_path: Path) -> None:
    write_phone_file(tmp_path / "data" / "orders.parquet", 0, 150_000)
    write_phone_file(tmp_path / "data" / "owners.parquet", 0, 50)
    report = tmp_path / "audit.json"
    result = run(
        tmp_path,
        str(tmp_path / "data"),
        *TRANSFER,
        "--exemption",
        "contract",
        "--fact",
        "contract.datasets=orders.parquet",
        "--fact",
        "contract.basis=overseas hotel bookings",
        "--report",
        str(report),
    )
    data = json.loads(report.read_text("utf-8"))
    assert result.exit_code == 0, result.output
    assert data["counts"]["this_transfer"]["personal"] == 50
    assert data["counts"]["dropped_by_exemption"]["personal"] == 149_950
    assert data["decision"]["rows"][5]["fired"]


def test_exemption_without_facts(tmp_path: Path) -> None:
    result = run(tmp_path, str(tmp_path), *TRANSFER, "--exemption", "contract")
    assert result.exit_code == 2
    assert "exemption contract.facts.datasets is missing" in result.output
    assert "exemption contract.facts.basis is missing" in result.output


def test_context_file_unknown_key(tmp_path: Path) -> None:
    context = tmp_path / "transfer.yaml"
    context.write_text(
        "processor: ACME\ndestination: DE\nrecipient: R\npurpose: P\ncioo: true\n",
        "utf-8",
    )
    result = run(tmp_path, str(tmp_path), "--context", str(context))
    assert result.exit_code == 2
    assert "cioo is not a known key" in result.output


def test_context_file_exemption(tmp_path: Path) -> None:
    write_phone_file(tmp_path / "data" / "owners.parquet", 0, 10)
    context = tmp_path / "transfer.yaml"
    context.write_text(
        "processor: ACME\ndestination: DE\nrecipient: R\npurpose: P\n"
        "exemptions:\n"
        "  - code: collected_abroad\n"
        "    facts:\n"
        "      provenance: logs of the German test fleet\n"
        "      domestic_data_added: false\n",
        "utf-8",
    )
    report = tmp_path / "audit.json"
    result = run(
        tmp_path,
        str(tmp_path / "data"),
        "--context",
        str(context),
        "--report",
        str(report),
    )
    data = json.loads(report.read_text("utf-8"))
    assert result.exit_code == 0, result.output
    assert data["decision"]["rows"][2]["fired"]
    assert data["transfer"]["exemptions"][0]["code"] == "collected_abroad"


def test_partial_audit_exit_code(tmp_path: Path) -> None:
    write_phone_file(tmp_path / "data" / "owners.parquet", 0, 10)
    (tmp_path / "data" / "broken.parquet").write_bytes(b"PAR1 not really")
    report = tmp_path / "audit.json"
    result = run(tmp_path, str(tmp_path / "data"), *TRANSFER, "--report", str(report))
    data = json.loads(report.read_text("utf-8"))
    assert result.exit_code == 1, result.output
    assert data["exit_code"] == 1
    assert data["failures"][0]["uri"].endswith("broken.parquet")
    assert data["decision"]["route"] == "exempt"
    assert "route, as a lower bound: exempt" in result.output


def test_file_corrupt_past_the_sample_is_set_aside(tmp_path: Path) -> None:
    # The scan samples a few row groups; the count reads all of them,
    # including one in the middle, whose column data is overwritten here.
    write_phone_file(tmp_path / "data" / "owners.parquet", 0, 10)
    damaged = tmp_path / "data" / "orders.parquet"
    table = pa.table({"owner_name": names(40_000), "mobile": phones(1_000, 40_000)})
    pq.write_table(table, damaged, row_group_size=1_000, compression="snappy")
    chunk = pq.ParquetFile(damaged).metadata.row_group(23).column(1)
    start = chunk.data_page_offset + 64
    data = bytearray(damaged.read_bytes())
    data[start : start + 500] = b"\xff" * 500
    damaged.write_bytes(bytes(data))
    report = tmp_path / "audit.json"
    result = run(tmp_path, str(tmp_path / "data"), *TRANSFER, "--report", str(report))
    data_out = json.loads(report.read_text("utf-8"))
    assert result.exit_code == 1, result.output
    assert [f["uri"] for f in data_out["failures"]] == [str(damaged)]
    assert data_out["failures"][0]["reason"] == "uncounted"
    assert data_out["counts"]["this_transfer"]["personal"] == 10


def test_arrow_stream_people_counted(tmp_path: Path) -> None:
    table = pa.table({"owner_name": names(50), "mobile": phones(0, 50)})
    path = tmp_path / "data" / "owners.arrows"
    path.parent.mkdir()
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table, max_chunksize=20)
    report = tmp_path / "audit.json"
    result = run(tmp_path, str(tmp_path / "data"), *TRANSFER, "--report", str(report))
    assert result.exit_code == 0, result.output
    data = json.loads(report.read_text("utf-8"))
    assert data["counts"]["this_transfer"]["personal"] == 50
    assert data["failures"] == []


def test_missing_temp_dir_is_usage_error(tmp_path: Path) -> None:
    write_phone_file(tmp_path / "data" / "owners.parquet", 0, 10)
    missing = tmp_path / "no-such-folder"
    result = run(
        tmp_path, str(tmp_path / "data"), *TRANSFER, "--temp-dir", str(missing)
    )
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_missing_renderer_is_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "scanner.audit.markdown", None)
    result = run(
        tmp_path, str(tmp_path), *TRANSFER, "--markdown", str(tmp_path / "a.md")
    )
    assert result.exit_code == 2
    assert "--markdown needs scanner.audit.markdown.render_markdown" in result.output


def test_approximate_prints_bound(tmp_path: Path) -> None:
    write_phone_file(tmp_path / "data" / "owners.parquet", 0, 2_000)
    result = run(tmp_path, str(tmp_path / "data"), *TRANSFER, "--approximate")
    assert result.exit_code == 0, result.output
    assert "approximate, error bound ±12%" in result.output


def audit_report(tmp_path: Path) -> dict[str, Any]:
    report = tmp_path / "audit.json"
    result = run(tmp_path, str(tmp_path / "data"), *TRANSFER, "--report", str(report))
    assert result.exit_code in (0, 10, 11), result.output
    data: dict[str, Any] = json.loads(report.read_text("utf-8"))
    return data


def by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {dataset["name"]: dataset for dataset in data["datasets"]}


def masked(values: list[str]) -> list[str]:
    return [value[:3] + "*" * (len(value) - 7) + value[-4:] for value in values]


def test_masked_key_counts_rows(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    table = pa.table({"owner_name": names(200), "mobile": masked(phones(0, 200))})
    pq.write_table(table, tmp_path / "data" / "owners.parquet")
    data = audit_report(tmp_path)
    owners = by_name(data)["owners.parquet"]
    assert owners["subject_keys"] == []
    assert owners["people_method"] == "rows_masked_key"
    assert owners["people"] == {"personal": 200, "sensitive": 0}
    assert data["counts"]["this_transfer"] == {"personal": 200, "sensitive": 0}
    notes = data["decision"]["notes"]
    assert any("owners.parquet" in note and "masked" in note for note in notes)


def test_masked_stronger_key_skipped(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    ids = [resident_id(i) for i in range(300)]
    table = pa.table(
        {
            "owner_name": names(300),
            "id_card": masked(ids),
            "mobile": phones(0, 100) * 3,
        }
    )
    pq.write_table(table, tmp_path / "data" / "owners.parquet")
    owners = by_name(audit_report(tmp_path))["owners.parquet"]
    assert [key["key_type"] for key in owners["subject_keys"]] == ["phone"]
    assert owners["people_method"] == "subject_key"
    assert sum(owners["people"].values()) == 100


def test_strongest_key_wins_over_spread(tmp_path: Path) -> None:
    write_phone_file(tmp_path / "data" / "orders_a.parquet", 0, 50)
    write_phone_file(tmp_path / "data" / "orders_b.parquet", 50, 50)
    table = pa.table(
        {
            "owner_name": names(40),
            "mobile": phones(0, 20) * 2,
            "id_card": [resident_id(i) for i in range(40)],
        }
    )
    pq.write_table(table, tmp_path / "data" / "owners.parquet")
    data = audit_report(tmp_path)
    owners = by_name(data)["owners.parquet"]
    key_types = {key["key_type"] for key in owners["subject_keys"]}
    assert key_types == {"id_number"}
    assert owners["people"] == {"personal": 0, "sensitive": 40}
    # Phones and ID numbers are not linked: the 20 owners whose phones are
    # also in the orders count twice, an over-count.
    assert data["counts"]["this_transfer"] == {"personal": 100, "sensitive": 40}


def ledger_rows(tmp_path: Path) -> list[Any]:
    catalog = f"sqlite:///{tmp_path / 'catalog.db'}"
    arguments = ["ledger", "list", "--catalog", catalog, "--json"]
    listed = CliRunner().invoke(main, arguments)
    assert listed.exit_code == 0, listed.output
    rows: list[Any] = json.loads(listed.output)
    return rows


@pytest.mark.parametrize("flag", ["--report", "--html", "--markdown", "--suite"])
def test_output_path_checked_before_audit(tmp_path: Path, flag: str) -> None:
    write_phone_file(tmp_path / "data" / "owners.parquet", 0, 10)
    missing = tmp_path / "nodir" / "out.txt"
    result = run(tmp_path, str(tmp_path / "data"), *TRANSFER, flag, str(missing))
    assert result.exit_code == 2, result.output
    assert f"cannot write {flag} {missing}: folder" in result.output
    assert "route:" not in result.output


def test_record_after_outputs_checked(tmp_path: Path) -> None:
    write_phone_file(tmp_path / "data" / "owners.parquet", 0, 10)
    folder = tmp_path / "out"
    folder.mkdir()
    blocked = folder / "a.html"
    blocked.mkdir()
    arguments = [str(tmp_path / "data"), *TRANSFER, "--record"]
    failed = run(tmp_path, *arguments, "--html", str(blocked))
    assert failed.exit_code == 2, failed.output
    assert "is a folder" in failed.output

    blocked.rmdir()
    written = run(tmp_path, *arguments, "--html", str(blocked))
    assert written.exit_code == 0, written.output
    assert blocked.is_file()
    assert len(ledger_rows(tmp_path)) == 1
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]
