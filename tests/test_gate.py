"""The gate suite and ``cardex gate``: a clean export passes, regressions fail.

The suites are built from audit and scan results written here, and checked
against CSV files and a SQLite table generated in tmp_path, through a real
Great Expectations checkpoint.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import random
import re
import socket
import sqlite3
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from click.testing import CliRunner

from classifiers.validators import VALIDATORS
from scanner.audit.suite import (
    IDENTIFIER_PATTERNS,
    MASKED_OR_ABSENT,
    MASKED_PATTERN,
    MASKED_VALUE_PATTERN,
    NO_IDENTIFIER,
    build_suite,
    write_suite,
)
from scanner.cli import main
from scanner.errors import UsageError

needs_gx = pytest.mark.skipif(
    importlib.util.find_spec("great_expectations") is None,
    reason="great-expectations is not installed (pip install 'cardex[gate]')",
)

# GB 11643 check characters by weighted sum mod 11.
_ID_CHECK = "10X98765432"
_ID_WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]


def resident_id(rng: random.Random) -> str:
    body = (
        f"{rng.choice(['110105', '310101', '440305'])}"
        f"{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        f"{rng.randint(0, 999):03d}"
    )
    total = sum(
        int(digit) * weight for digit, weight in zip(body, _ID_WEIGHTS, strict=True)
    )
    return body + _ID_CHECK[total % 11]


def mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}"


def masked(value: str) -> str:
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def clean_rows(count: int = 120, seed: int = 7) -> list[dict[str, str]]:
    rng = random.Random(seed)
    return [
        {
            "order_id": f"O{index:06d}",
            "phone": mobile(rng),
            "id_number": masked(resident_id(rng)),
            "amount": f"{rng.random() * 100:.2f}",
            "remark": rng.choice(["ok", "late", "paid", ""]),
        }
        for index in range(count)
    ]


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def audit_result(uri: str, name: str = "orders.csv") -> dict[str, Any]:
    """An audit result in the documented shape: labelled columns only."""
    return {
        "schema_version": 1,
        "kind": "cardex-audit",
        "rule_pack_version": "test",
        "datasets": [
            {
                "uri": uri,
                "name": name,
                "labels": [
                    {"label": "pi.phone", "column": "phone", "example": "138****5678"},
                    {"label": "spi.id_number", "column": "id_number", "example": ""},
                    {"label": "imp.personal_volume", "column": None},
                ],
            }
        ],
    }


def scan_report(uri: str, name: str = "orders.csv") -> dict[str, Any]:
    """A scan report in the documented shape: every column, labels nested."""
    labels = {"phone": "pi.phone", "id_number": "spi.id_number"}
    columns = []
    for column in ("order_id", "phone", "id_number", "amount", "remark"):
        label_id = labels.get(column)
        columns.append(
            {"name": column, "labels": [{"id": label_id}] if label_id else []}
        )
    return {
        "schema_version": 1,
        "scan": {"rule_pack_version": "test"},
        "datasets": [{"uri": uri, "name": name, "columns": columns, "labels": []}],
    }


def checks_of(suite: dict[str, Any], column: str) -> list[str]:
    return [
        e["meta"]["cardex"]["pattern"]
        for e in suite["expectations"]
        if e["kwargs"]["column"] == column
    ]


# Building the suite.


def test_suite_masks_sensitive_columns() -> None:
    suite = build_suite(audit_result("/data/orders.csv"))
    masked_checks = [
        e
        for e in suite["expectations"]
        if e["meta"]["cardex"]["check"] == MASKED_OR_ABSENT
    ]
    assert [e["kwargs"]["column"] for e in masked_checks] == ["id_number"]
    assert masked_checks[0]["type"] == "expect_column_values_to_match_regex"
    assert checks_of(suite, "phone") == []
    assert suite["meta"]["cardex"]["datasets"][0]["columns"] == ["phone", "id_number"]


def test_suite_checks_unlabelled_columns() -> None:
    suite = build_suite(scan_report("/data/orders.csv"))
    expected = [pattern.name for pattern in IDENTIFIER_PATTERNS]
    for column in ("order_id", "amount", "remark"):
        assert checks_of(suite, column) == expected
    assert checks_of(suite, "id_number") == ["masked"]
    assert checks_of(suite, "phone") == []
    assert suite["meta"]["cardex"]["rule_pack_version"] == "test"


def test_suite_sets_mostly_on_checks() -> None:
    suite = build_suite(scan_report("/d/o.csv"), mostly=0.99)
    identifier_checks = [
        e
        for e in suite["expectations"]
        if e["meta"]["cardex"]["check"] == NO_IDENTIFIER
    ]
    assert identifier_checks
    assert {e["kwargs"]["mostly"] for e in identifier_checks} == {0.99}


@pytest.mark.parametrize("mostly", [0.0, -1.0, 1.5])
def test_suite_rejects_invalid_mostly(mostly: float) -> None:
    with pytest.raises(UsageError, match="mostly"):
        build_suite(scan_report("/d/o.csv"), mostly=mostly)


def test_suite_rejects_result_without_datasets() -> None:
    with pytest.raises(UsageError, match="datasets"):
        build_suite({"kind": "cardex-audit"})


@needs_gx
def test_suite_loads_as_gx_suite() -> None:
    from scanner.audit.gate import _import_gx

    _import_gx()
    from great_expectations.core import ExpectationSuite

    suite = build_suite(scan_report("/data/orders.csv"))
    loaded = ExpectationSuite(**json.loads(json.dumps(suite)))
    assert len(loaded.expectations) == len(suite["expectations"])


# The patterns against the validators they are derived from.

PATTERN_CASES = {
    "resident_id": (
        ["11010519491231002X", "110105194912310021", "44030520000101123X"],
        ["123456789012345678", "11010519491331002X", "1101051949123100", "O1234"],
    ),
    "mobile_phone": (
        ["13812345678", "+86 138 1234 5678", "0086-139-0000-1111", "(86)15900001111"],
        ["12812345678", "1381234567", "138123456789", "010-88888888"],
    ),
    "vin": (
        ["LSVAU2180N2183294", "WVWZZZ1JZXW000001", "1HGCM82633A004352"],
        [
            "12345678901234567",
            "ABCDEFGHJKLMNPRST",
            "LSVAU2180N218329",
            "LSVAU2180N21832I",
        ],
    ),
}
VALIDATOR_OF = {"resident_id": "resident_id", "mobile_phone": "mobile_phone"}


@pytest.mark.parametrize("pattern", IDENTIFIER_PATTERNS, ids=lambda p: p.name)
def test_identifier_pattern_table(pattern: Any) -> None:
    positives, negatives = PATTERN_CASES[pattern.name]
    for value in positives:
        assert re.search(pattern.regex, value), value
    for value in negatives:
        assert not re.search(pattern.regex, value), value


def test_identifier_patterns_cover_validators() -> None:
    rng = random.Random(3)
    ids = [resident_id(rng) for _ in range(300)]
    phones = [mobile(rng) for _ in range(300)]
    for name, values in (("resident_id", ids), ("mobile_phone", phones)):
        pattern = next(p for p in IDENTIFIER_PATTERNS if p.name == name)
        accepted = VALIDATORS[VALIDATOR_OF[name]](pa.array(values))
        for value, valid in zip(values, accepted, strict=True):
            assert valid, value
            assert re.search(pattern.regex, value), value


def test_masked_pattern_agrees_with_validator() -> None:
    values = [
        "138****5678",
        "张*",
        "***",
        "[REDACTED]",
        "l***@example.com",
        "6222-****-****-1234",
        "13812345678",
        "11010519491231002X",
        "plain text",
        "Exxon",
    ]
    expected = VALIDATORS["masked"](pa.array(values))
    for value, want in zip(values, expected, strict=True):
        assert bool(re.search(MASKED_PATTERN, value)) == bool(want), value


# Running the gate on files and tables.


@pytest.fixture
def clean_export(tmp_path: Path) -> tuple[Path, Path]:
    """A clean CSV export and the suite built from its audit result."""
    data = write_csv(tmp_path / "v1" / "orders.csv", clean_rows())
    suite_path = tmp_path / "suite.json"
    write_suite(build_suite(audit_result(str(data))), suite_path)
    return data, suite_path


def run(arguments: list[str]) -> Any:
    return CliRunner().invoke(main, arguments, catch_exceptions=False)


@needs_gx
def test_gate_passes_clean_data(clean_export: tuple[Path, Path]) -> None:
    data, suite_path = clean_export
    result = run(["gate", str(suite_path), str(data.parent)])
    assert result.exit_code == 0, result.output
    assert "gate passed" in result.output


@needs_gx
def test_gate_fails_phone_regression(
    clean_export: tuple[Path, Path], tmp_path: Path
) -> None:
    _, suite_path = clean_export
    rows = clean_rows()
    rng = random.Random(11)
    seeded = [mobile(rng) for _ in range(4)]
    for row, phone in zip(rows, seeded, strict=False):
        row["remark"] = phone
    later = write_csv(tmp_path / "v2" / "orders.csv", rows)

    result = run(["gate", str(suite_path), str(later)])
    assert result.exit_code == 1, result.output
    assert "column remark: 4 of" in result.output
    assert "mainland mobile number" in result.output
    for phone in seeded:
        assert phone not in result.output


@needs_gx
def test_gate_fails_resident_id_regression(
    clean_export: tuple[Path, Path], tmp_path: Path
) -> None:
    _, suite_path = clean_export
    rows = clean_rows()
    rng = random.Random(12)
    seeded = resident_id(rng)
    rows[50]["order_id"] = seeded
    later = write_csv(tmp_path / "v2" / "orders.csv", rows)

    result = run(["gate", str(suite_path), str(later)])
    assert result.exit_code == 1, result.output
    assert "column order_id: 1 of" in result.output
    assert "resident ID number" in result.output
    assert seeded not in result.output


@needs_gx
def test_gate_fails_unmasked_sensitive_column(
    clean_export: tuple[Path, Path], tmp_path: Path
) -> None:
    _, suite_path = clean_export
    rows = clean_rows()
    rng = random.Random(13)
    seeded = [resident_id(rng) for _ in range(3)]
    for row, value in zip(rows[10:], seeded, strict=False):
        row["id_number"] = value
    later = write_csv(tmp_path / "v2" / "orders.csv", rows)

    result = run(["gate", str(suite_path), str(later)])
    assert result.exit_code == 1, result.output
    assert "column id_number: 3 of 120 non-null values are not masked" in result.output
    for value in seeded:
        assert value not in result.output


@needs_gx
def test_gate_passes_dropped_sensitive_column(
    clean_export: tuple[Path, Path], tmp_path: Path
) -> None:
    _, suite_path = clean_export
    rows = [{k: v for k, v in row.items() if k != "id_number"} for row in clean_rows()]
    later = write_csv(tmp_path / "v2" / "orders.csv", rows)

    result = run(["gate", str(suite_path), str(later)])
    assert result.exit_code == 0, result.output


@needs_gx
def test_gate_checks_new_column(
    clean_export: tuple[Path, Path], tmp_path: Path
) -> None:
    _, suite_path = clean_export
    rows = clean_rows()
    for row in rows:
        row["frame"] = "LSVAU2180N2183294" if row["order_id"] == "O000003" else "-"
    later = write_csv(tmp_path / "v2" / "orders.csv", rows)

    result = run(["gate", str(suite_path), str(later)])
    assert result.exit_code == 1, result.output
    assert "column frame: 1 of" in result.output
    assert "LSVAU2180N2183294" not in result.output


@needs_gx
def test_gate_missing_dataset_is_error(
    clean_export: tuple[Path, Path], tmp_path: Path
) -> None:
    _, suite_path = clean_export
    other = write_csv(tmp_path / "v2" / "customers.csv", [{"note": "hello"}])

    result = run(["gate", str(suite_path), str(other)])
    assert result.exit_code == 3, result.output
    assert "was not found in the sources" in result.output
    assert "not in the suite" in result.output


@needs_gx
def test_gate_checks_sqlite_table(tmp_path: Path) -> None:
    database = tmp_path / "app.db"
    rows = clean_rows(60)
    rows[5]["remark"] = "+86 139-0000-1111"
    with sqlite3.connect(database) as connection:
        connection.execute(
            "CREATE TABLE orders (order_id TEXT, phone TEXT, id_number TEXT, "
            "amount REAL, remark TEXT)"
        )
        connection.executemany(
            "INSERT INTO orders VALUES "
            "(:order_id, :phone, :id_number, :amount, :remark)",
            rows,
        )
    suite_path = tmp_path / "suite.json"
    write_suite(
        build_suite(scan_report("sqlite:///elsewhere/orders", "orders")), suite_path
    )

    result = run(["gate", str(suite_path), f"sqlite:///{database}"])
    assert result.exit_code == 1, result.output
    assert "column remark: 1 of" in result.output
    assert "139-0000-1111" not in result.output


def test_gate_rejects_suite_not_from_cardex(tmp_path: Path) -> None:
    suite_path = tmp_path / "suite.json"
    suite_path.write_text(json.dumps({"name": "x", "expectations": []}))
    result = run(["gate", str(suite_path), str(tmp_path)])
    assert result.exit_code == 2
    assert "not built by cardex" in result.output


def test_gate_rejects_invalid_json(tmp_path: Path) -> None:
    suite_path = tmp_path / "suite.json"
    suite_path.write_text("{")
    result = run(["gate", str(suite_path), str(tmp_path)])
    assert result.exit_code == 2
    assert "not valid JSON" in result.output


def test_gate_rejects_unknown_source(tmp_path: Path) -> None:
    suite_path = tmp_path / "suite.json"
    write_suite(build_suite(audit_result("/d/orders.csv")), suite_path)
    result = run(["gate", str(suite_path), str(tmp_path / "missing")])
    assert result.exit_code == 2
    assert "no connector reads" in result.output


def test_suite_command_writes_suite(tmp_path: Path) -> None:
    report = tmp_path / "scan.json"
    report.write_text(json.dumps(scan_report("/d/orders.csv")), encoding="utf-8")
    output = tmp_path / "suite.json"
    result = run(["suite", str(report), "-o", str(output)])
    assert result.exit_code == 0, result.output
    written = json.loads(output.read_text(encoding="utf-8"))
    assert written["meta"]["cardex"]["built_from"] == "scan"


def test_suite_command_rejects_other_json(tmp_path: Path) -> None:
    report = tmp_path / "scan.json"
    report.write_text("[]", encoding="utf-8")
    result = run(["suite", str(report), "-o", str(tmp_path / "suite.json")])
    assert result.exit_code == 2


@needs_gx
def test_gate_opens_no_network_connection(
    clean_export: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[object] = []

    def reject_connection(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("network blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", reject_connection)
    monkeypatch.setattr(socket.socket, "connect_ex", reject_connection)
    data, suite_path = clean_export

    result = run(["gate", str(suite_path), str(data)])
    assert result.exit_code == 0, result.output
    assert attempts == []


@needs_gx
def test_gate_pairs_exact_uri_before_name(
    clean_export: tuple[Path, Path], tmp_path: Path
) -> None:
    data, suite_path = clean_export
    copy = write_csv(tmp_path / "v0" / "orders.csv", clean_rows(seed=8))

    result = run(["gate", str(suite_path), str(copy.parent), str(data.parent)])
    # The copy is not in the suite, so its raw phone column fails the
    # identifier checks; the audited file passes its own checks.
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    audited = next(line for line in lines if line.startswith(f"checked {data}"))
    other = next(line for line in lines if line.startswith(f"checked {copy}"))
    assert "10/10 checks passed" in audited
    assert "not in the suite" not in audited
    assert "not in the suite" in other
    assert f"FAIL  {copy} column phone" in result.output


@needs_gx
@pytest.mark.postgres
def test_gate_checks_postgres_table(postgres_url: str, tmp_path: Path) -> None:
    import secrets

    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    schema = f"gate_{secrets.token_hex(3)}"
    rows = clean_rows(40)
    rng = random.Random(21)
    seeded = resident_id(rng)
    rows[3]["id_number"] = seeded
    engine = sa.create_engine(postgres_url, poolclass=NullPool)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
        connection.exec_driver_sql(
            f"CREATE TABLE {schema}.orders (order_id text, phone text, "
            "id_number text, amount numeric, remark text)"
        )
        connection.execute(
            sa.text(
                f"INSERT INTO {schema}.orders VALUES "
                "(:order_id, :phone, :id_number, :amount, :remark)"
            ),
            rows,
        )
    suite_path = tmp_path / "suite.json"
    write_suite(
        build_suite(scan_report("postgresql://x/y/orders", "orders")), suite_path
    )
    try:
        arguments = ["gate", str(suite_path), postgres_url, "--include", f"{schema}.*"]
        result = run(arguments)
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        engine.dispose()
    assert result.exit_code == 1, result.output
    assert "column id_number: 1 of 40 non-null values are not masked" in result.output
    assert seeded not in result.output


@needs_gx
def test_gate_escapes_control_characters(
    clean_export: tuple[Path, Path], tmp_path: Path
) -> None:
    _, suite_path = clean_export
    rows = clean_rows()
    rows[0]["id_number"] = "\x1b]0;title\x07 11010519491231002X"
    later = write_csv(tmp_path / "v2" / "orders.csv", rows)

    result = run(["gate", str(suite_path), str(later)])
    assert result.exit_code == 1, result.output
    assert "\x1b" not in result.output
    assert "\\x1b" in result.output


# Masked values that still hold an identifier, and names made from values.


@pytest.mark.parametrize(
    ("value", "passes"),
    [
        ("138****5678", True),
        ("110105********0496", True),
        ("LSV***********A92", True),
        ("张*", True),
        ("[REDACTED]", True),
        ("110105196907210496 **", False),
        ("** 13812345678", False),
        ("tel 138-1234-5678 ** x", False),
        ("LSVRXX01UEKDS4A92", False),
        ("LSVRXX01UEKDS4A92 **", False),
        ("plain text", False),
    ],
)
def test_masked_value_pattern_table(value: str, passes: bool) -> None:
    assert bool(re.search(MASKED_VALUE_PATTERN, value)) == passes


@needs_gx
def test_gate_fails_identifier_beside_mask(
    clean_export: tuple[Path, Path], tmp_path: Path
) -> None:
    _, suite_path = clean_export
    rows = clean_rows()
    rng = random.Random(31)
    seeded = resident_id(rng)
    rows[7]["id_number"] = f"{seeded} **"
    later = write_csv(tmp_path / "v2" / "orders.csv", rows)

    result = run(["gate", str(suite_path), str(later)])
    assert result.exit_code == 1, result.output
    assert "column id_number: 1 of 120 non-null values are not masked" in result.output
    assert seeded not in result.output


@needs_gx
def test_gate_upgrades_format_one_masked_check(
    clean_export: tuple[Path, Path], tmp_path: Path
) -> None:
    _, suite_path = clean_export
    suite = json.loads(suite_path.read_text(encoding="utf-8"))
    suite["meta"]["cardex"]["format"] = 1
    for expectation in suite["expectations"]:
        if expectation["meta"]["cardex"]["check"] == MASKED_OR_ABSENT:
            expectation["kwargs"]["regex"] = MASKED_PATTERN
    old_suite = tmp_path / "old_suite.json"
    write_suite(suite, old_suite)
    rows = clean_rows()
    rows[7]["id_number"] = f"{resident_id(random.Random(32))} **"
    later = write_csv(tmp_path / "v2" / "orders.csv", rows)

    result = run(["gate", str(old_suite), str(later)])
    assert result.exit_code == 1, result.output
    assert "column id_number: 1 of 120" in result.output


def phone_keyed_rows(rng: random.Random, ids: list[str]) -> list[dict[str, Any]]:
    """JSON Lines rows whose nested objects are keyed by mobile number."""
    phones = [mobile(rng) for _ in range(3)]
    return [
        {"batch": index, "owners": {phone: {"id_number": ids[index]}}}
        for index, phone in enumerate(phones)
    ]


@needs_gx
def test_gate_masks_phone_key_columns(tmp_path: Path) -> None:
    from classifiers.pipeline import safe_column_names

    rng = random.Random(33)
    ids = [resident_id(rng) for _ in range(3)]
    rows = phone_keyed_rows(rng, [masked(value) for value in ids])
    data = tmp_path / "v1" / "owners.jsonl"
    data.parent.mkdir()
    data.write_text("\n".join(json.dumps(row) for row in rows), encoding="utf-8")
    raw_names = ["batch"] + [
        f"owners.{phone}.id_number" for row in rows for phone in row["owners"]
    ]
    masked_names = safe_column_names(raw_names)
    report = {
        "datasets": [
            {
                "uri": str(data),
                "name": data.name,
                "columns": [
                    {
                        "name": masked_names[name],
                        "labels": [{"id": "spi.id_number"}] if "." in name else [],
                    }
                    for name in raw_names
                ],
            }
        ]
    }
    suite_path = tmp_path / "suite.json"
    write_suite(build_suite(report), suite_path)
    clean = run(["gate", str(suite_path), str(data)])
    assert clean.exit_code == 0, clean.output

    later = tmp_path / "v2" / "owners.jsonl"
    later.parent.mkdir()
    rows[1]["owners"] = {phone: {"id_number": ids[1]} for phone in rows[1]["owners"]}
    later.write_text("\n".join(json.dumps(row) for row in rows), encoding="utf-8")
    result = run(["gate", str(suite_path), str(later)])
    assert result.exit_code == 1, result.output
    assert "are not masked" in result.output
    assert "not in the suite" not in result.output
    regressed = masked_names[f"owners.{next(iter(rows[1]['owners']))}.id_number"]
    assert f"column {regressed}: 1 of 1 non-null values" in result.output
    for name in raw_names[1:]:
        assert name.split(".")[1] not in result.output
    assert ids[1] not in result.output


@needs_gx
def test_gate_reports_unreadable_dataset(tmp_path: Path) -> None:
    broken = tmp_path / "v1" / "broken.parquet"
    broken.parent.mkdir()
    broken.write_bytes(b"PAR1 this is not a parquet file PAR1")
    suite_path = tmp_path / "suite.json"
    write_suite(build_suite(scan_report(str(broken), broken.name)), suite_path)

    result = run(["gate", str(suite_path), str(broken)])
    assert result.exit_code == 3, result.output
    assert f"ERROR {broken}: cannot read" in result.output
    assert f"not checked {broken}: cannot read" in result.output
    assert "spread sample" not in result.output


def test_gate_interrupt_exits_130(
    clean_export: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import scanner.audit.gate as gate_module

    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(gate_module, "run_gate", interrupt)
    data, suite_path = clean_export
    result = CliRunner().invoke(main, ["gate", str(suite_path), str(data)])
    assert result.exit_code == 130, result.output
    assert "interrupted" in result.output
    assert "Aborted" not in result.output


@needs_gx
@pytest.mark.parametrize("option", [["--include", "orders.csv"], ["--exclude", "c*"]])
def test_gate_filters_narrow_suite(tmp_path: Path, option: list[str]) -> None:
    data = write_csv(tmp_path / "v1" / "orders.csv", clean_rows())
    other = tmp_path / "v1" / "customers.csv"
    report = scan_report(str(data))
    report["datasets"].append({"uri": str(other), "name": other.name, "columns": []})
    suite_path = tmp_path / "suite.json"
    write_suite(build_suite(report), suite_path)

    result = run(["gate", str(suite_path), str(data.parent), *option])
    assert result.exit_code == 0, result.output
    assert "was not found" not in result.output
