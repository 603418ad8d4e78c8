"""The yearly ledger: split transfers, the calendar year, hashes only."""

from __future__ import annotations

import datetime as dt
import secrets
import sqlite3
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from test_audit_data import phones, write_id_file, write_phone_file

from scanner.audit.context import build_context
from scanner.audit.ledger import HASH_SCHEMA, Ledger, subjects, transfers
from scanner.audit.model import AuditResult, PeopleCount
from scanner.audit.run import AuditOptions, run_audit
from scanner.cli import main
from scanner.engine import ScanOptions
from scanner.errors import UsageError

BASE = {"processor": "ACME", "destination": "DE", "recipient": "R", "purpose": "P"}
DAY = dt.date(2026, 6, 1)


def audit(
    catalog: str,
    *sources: Path,
    record: bool = False,
    today: dt.date = DAY,
    processor: str = "ACME",
    approximate: bool = False,
) -> AuditResult:
    context = build_context({**BASE, "processor": processor}, {})
    scan = ScanOptions(sources=[str(s) for s in sources], catalog_url=catalog)
    options = AuditOptions(
        scan, context, approximate=approximate, record=record, today=today
    )
    return run_audit(options)


@pytest.fixture
def catalog(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'catalog.db'}"


@pytest.fixture(scope="module")
def halves(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    # 600 people in all: 0-399 with phones in the first half, 200-599 in the
    # second, and 50 ID holders (sensitive) in each half, 25 shared.
    root = tmp_path_factory.mktemp("halves")
    first = root / "first"
    second = root / "second"
    write_phone_file(first / "owners.parquet", 0, 400)
    write_phone_file(second / "owners.parquet", 200, 400)
    write_id_file(first / "ids.parquet", 0, 50)
    write_id_file(second / "ids.parquet", 25, 50)
    return first, second


@pytest.fixture(scope="module")
def recorded(
    halves: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path]:
    """A catalog in which the first half is recorded on 2026-06-01."""
    path = tmp_path_factory.mktemp("recorded") / "catalog.db"
    audit(f"sqlite:///{path}", halves[0], record=True)
    return f"sqlite:///{path}", path


def test_split_transfer_reaches_whole(
    recorded: tuple[str, Path], halves: tuple[Path, Path], catalog: str
) -> None:
    whole = audit(catalog, *halves)
    second = audit(recorded[0], halves[1])
    assert whole.counts.year_total == PeopleCount(600, 75)
    assert second.counts.year_total == whole.counts.year_total
    assert second.counts.already_this_year == PeopleCount(400, 50)
    assert second.counts.this_transfer == PeopleCount(400, 50)


def test_year_resets_on_january_first(
    recorded: tuple[str, Path], halves: tuple[Path, Path]
) -> None:
    same_year = audit(recorded[0], halves[1], today=dt.date(2026, 12, 31))
    next_year = audit(recorded[0], halves[1], today=dt.date(2027, 1, 1))
    assert same_year.counts.already_this_year == PeopleCount(400, 50)
    assert next_year.counts.already_this_year == PeopleCount(0, 0)
    assert next_year.counts.year == 2027
    assert next_year.counts.year_total == PeopleCount(400, 50)


def test_processors_kept_apart(
    recorded: tuple[str, Path], halves: tuple[Path, Path]
) -> None:
    other = audit(recorded[0], halves[1], processor="Other Motors")
    assert other.counts.already_this_year == PeopleCount(0, 0)


def test_approximate_uses_ledger(
    recorded: tuple[str, Path], halves: tuple[Path, Path]
) -> None:
    result = audit(recorded[0], halves[0], approximate=True)
    assert result.counts.method == "approximate"
    assert result.counts.error_bound is not None
    assert result.counts.already_this_year == PeopleCount(400, 50)


def test_ledger_stores_hashes_only(recorded: tuple[str, Path]) -> None:
    with sqlite3.connect(recorded[1]) as connection:
        hashes = connection.execute("SELECT key_hash FROM audit_subjects").fetchall()
        transfers = connection.execute("SELECT context FROM audit_transfers").fetchall()
    assert len(hashes) == 450
    assert all(len(row[0]) == 64 for row in hashes)
    raw = recorded[1].read_bytes()
    for phone in phones(0, 400)[::37]:
        assert phone.encode() not in raw
    assert "ACME" in transfers[0][0]


def test_recorded_halves_and_list(catalog: str, halves: tuple[Path, Path]) -> None:
    audit(catalog, halves[0], record=True)
    audit(catalog, halves[1], record=True)
    again = audit(catalog, *halves)
    runner = CliRunner()
    listed = runner.invoke(main, ["ledger", "list", "--catalog", catalog])
    other_year = runner.invoke(
        main, ["ledger", "list", "--catalog", catalog, "--year", "2027", "--json"]
    )
    assert again.counts.already_this_year == PeopleCount(600, 75)
    assert again.counts.year_total == PeopleCount(600, 75)
    assert listed.exit_code == 0
    assert listed.output.count("ACME") == 2
    assert other_year.exit_code == 0
    assert other_year.output.strip() == "[]"


def test_year_total_crosses_threshold(catalog: str, tmp_path: Path) -> None:
    write_phone_file(tmp_path / "a" / "owners.parquet", 0, 1_000)
    write_phone_file(tmp_path / "b" / "owners.parquet", 1_000, 99_000)
    first = audit(catalog, tmp_path / "a", record=True)
    second = audit(catalog, tmp_path / "b")
    assert first.decision.route == "exempt"
    assert second.counts.this_transfer == PeopleCount(99_000, 0)
    assert second.counts.year_total == PeopleCount(100_000, 0)
    assert second.decision.route == "contract_or_certification"
    assert second.decision.rows[8].fired


def test_salt_created_once(catalog: str) -> None:
    first = Ledger(catalog)
    salt = first.salt()
    first.close()
    second = Ledger(catalog)
    assert second.salt() == salt
    assert len(salt) == 32
    second.close()


def test_partial_audit_not_recorded(catalog: str, tmp_path: Path) -> None:
    write_phone_file(tmp_path / "data" / "owners.parquet", 0, 100)
    (tmp_path / "data" / "broken.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(UsageError, match="not recorded"):
        audit(catalog, tmp_path / "data", record=True)
    ledger = Ledger(catalog)
    assert ledger.list_transfers() == []
    ledger.close()


@pytest.mark.postgres
def test_postgres_ledger_round_trip(postgres_url: str) -> None:
    ledger = Ledger(postgres_url)
    processor = f"ACME {secrets.token_hex(3)}"
    hashes = pa.RecordBatchReader.from_batches(
        HASH_SCHEMA,
        [
            pa.record_batch(
                [pa.array(["a" * 64, "b" * 64]), pa.array([True, False])],
                schema=HASH_SCHEMA,
            )
        ],
    )
    context = {**BASE, "processor": processor}
    try:
        transfer_id = ledger.record(
            context, 2026, "exempt", PeopleCount(1, 1), PeopleCount(), hashes
        )
        stored = ledger.year_hashes(processor, 2026).read_all().to_pylist()
        assert ledger.has_year(processor, 2026)
        assert sorted(row["key_hash"][0] for row in stored) == ["a", "b"]
        assert any(r.id == transfer_id for r in ledger.list_transfers(2026))
    finally:
        with ledger.engine.begin() as connection:
            connection.execute(
                sa.delete(subjects).where(subjects.c.processor == processor)
            )
            connection.execute(
                sa.delete(transfers).where(transfers.c.processor == processor)
            )
        ledger.close()
