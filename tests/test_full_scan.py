"""``cardex scan --full``: every row of columnar files is classified in chunks."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from scanner.cli import main
from scanner.engine import Scanner, ScanOptions, settings_hash
from scanner.full import merge_into
from scanner.model import ColumnResult, DatasetResult, Evidence, Label

ROWS = 100_000
# Rows 41,000-41,029 hold phone numbers; the sample of 1,000 rows spread
# over 4 of the 50 row groups does not reach them.
PHONE_ROWS = range(41_000, 41_030)


def write_orders(path: Path) -> Path:
    remarks = [f"order {index} shipped" for index in range(ROWS)]
    for index in PHONE_ROWS:
        remarks[index] = f"1380013{index % 10_000:04d}"
    table = pa.table({"order_id": list(range(ROWS)), "remark": remarks})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=2_000)
    return path


def scan(*sources: Path, **settings: object) -> dict[str, DatasetResult]:
    options = ScanOptions(
        sources=[str(source) for source in sources], use_catalog=False, **settings
    )
    outcome = Scanner(options).run()
    return {Path(result.uri).name: result for result in outcome.results}


def labels(result: DatasetResult, column: str) -> list[str]:
    found = next(c for c in result.columns if c.name == column)
    return [label.id for label in found.labels]


def test_full_scan_finds_missed_rows(tmp_path: Path) -> None:
    path = write_orders(tmp_path / "orders.parquet")
    sampled = scan(path)["orders.parquet"]
    assert labels(sampled, "remark") == []

    full = scan(path, full=True, chunk_rows=1_000)["orders.parquet"]
    assert labels(full, "remark") == ["pi.phone"]
    assert full.sampled_rows == ROWS
    remark = next(c for c in full.columns if c.name == "remark")
    assert remark.examined == ROWS
    evidence = remark.labels[0].evidence
    assert evidence.matches == len(PHONE_ROWS)
    assert evidence.examined == ROWS
    assert not [note for note in full.notes if note.startswith("rows taken from")]
    assert all("*" in example for example in evidence.masked_examples)
    assert full.personal == "personal"
    assert any(note.startswith("full scan: 100,000 rows") for note in full.notes)


def test_partitioned_folder_keeps_partition_keys(tmp_path: Path) -> None:
    for city in ("beijing", "shanghai"):
        write_orders(tmp_path / "orders" / f"city={city}" / "part-0.parquet")
    result = scan(tmp_path / "orders", full=True, chunk_rows=1_000)["orders"]
    assert result.sampled_rows == 2 * ROWS
    assert {c.name for c in result.columns} == {"order_id", "remark", "city"}
    assert labels(result, "remark") == ["pi.phone"]


def test_arrow_stream_read_whole(tmp_path: Path) -> None:
    table = pq.read_table(write_orders(tmp_path / "orders.parquet"))
    path = tmp_path / "orders.arrows"
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as w:
        for batch in table.to_batches(max_chunksize=7_000):
            w.write_batch(batch)
    result = scan(path, full=True, chunk_rows=1_000)["orders.arrows"]
    assert result.format == "arrow_stream"
    assert result.sampled_rows == ROWS
    assert labels(result, "remark") == ["pi.phone"]


def test_other_formats_keep_their_sample(tmp_path: Path) -> None:
    path = tmp_path / "owners.csv"
    path.write_text("姓名,手机号码\n张伟,13812340001\n李娜,13912340002\n", "utf-8")
    result = scan(path, full=True)["owners.csv"]
    assert "pi.phone" in labels(result, "手机号码")
    assert any("classified from its sample" in note for note in result.notes)


def test_damaged_file_fails_dataset(tmp_path: Path) -> None:
    good = write_orders(tmp_path / "orders" / "part-0.parquet")
    bad = tmp_path / "orders" / "part-1.parquet"
    table = pq.read_table(good)
    pq.write_table(table, bad, row_group_size=2_000, compression="snappy")
    # Row group 23 contains no sampled row. Its column data is overwritten.
    chunk = pq.ParquetFile(bad).metadata.row_group(23).column(1)
    data = bytearray(bad.read_bytes())
    start = chunk.data_page_offset + 64
    data[start : start + 500] = b"\xff" * 500
    bad.write_bytes(bytes(data))
    assert not scan(tmp_path / "orders")["part-#.parquet"].errors

    result = scan(tmp_path / "orders", full=True)["part-#.parquet"]
    assert [error.reason for error in result.errors] == ["unreadable"]
    message = result.errors[0].message
    assert "could not read part-1.parquet whole after" in message
    assert "without --full" in message


def test_empty_file_keeps_its_sample(tmp_path: Path) -> None:
    path = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"mobile": pa.array([], pa.string())}), path)
    result = scan(path, full=True)["empty.parquet"]
    assert not result.errors
    assert "full scan: the files hold no rows" in result.notes


def test_full_and_sampled_hashes_differ() -> None:
    sampled = ScanOptions(sources=["x"])
    full = ScanOptions(sources=["x"], full=True)
    other_chunks = ScanOptions(sources=["x"], full=True, chunk_rows=10)
    hashes = {settings_hash(o, "v", []) for o in (sampled, full, other_chunks)}
    assert len(hashes) == 3


def label(matches: int, confidence: float, examples: tuple[str, ...]) -> Label:
    evidence = Evidence(
        rule_id="r",
        rule_pack_version="v",
        examined=100,
        non_null=100,
        matches=matches,
        masked_examples=examples,
    )
    return Label(id="pi.phone", category="pi", confidence=confidence, evidence=evidence)


def part(matches: int, confidence: float, examples: tuple[str, ...]) -> DatasetResult:
    column = ColumnResult(
        "remark", "string", 100, 100, [label(matches, confidence, examples)]
    )
    return DatasetResult("u", "u", "file", columns=[column], sampled_rows=100)


def test_merge_adds_counts_keeps_examples() -> None:
    parts = [part(3, 0.6, ("138***1",)), part(5, 0.9, ("139***2",)), part(1, 0.5, ())]
    in_order = DatasetResult("u", "u", "file")
    for item in parts:
        merge_into(in_order, item)
    grouped = DatasetResult("u", "u", "file")
    tail = DatasetResult("u", "u", "file")
    merge_into(tail, parts[1])
    merge_into(tail, parts[2])
    merge_into(grouped, parts[0])
    merge_into(grouped, tail)
    assert in_order.to_dict() == grouped.to_dict()
    merged = in_order.columns[0].labels[0]
    assert merged.evidence.matches == 9
    assert merged.evidence.examined == 300
    assert merged.confidence == 0.9
    assert merged.evidence.masked_examples == ("138***1",)
    assert in_order.columns[0].examined == 300


def test_cli_full_flag(tmp_path: Path) -> None:
    path = write_orders(tmp_path / "orders.parquet")
    report = tmp_path / "report.json"
    result = CliRunner().invoke(
        main,
        [
            "scan",
            str(path),
            "--no-catalog",
            "--full",
            "--chunk-rows",
            "1000",
            "--report",
            str(report),
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    dataset = json.loads(report.read_text("utf-8"))["datasets"][0]
    assert dataset["sampled_rows"] == ROWS
    text = report.read_text("utf-8")
    assert not [i for i in PHONE_ROWS if f"1380013{i % 10_000:04d}" in text]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--chunk-rows", "1000"], "add --full"),
        (["--full", "--chunk-rows", "2147483648"], "1<=x<=10000000"),
        (["--full", "--chunk-rows", "0"], "1<=x<=10000000"),
    ],
)
def test_cli_rejects_chunk_rows(
    tmp_path: Path, options: list[str], message: str
) -> None:
    path = write_orders(tmp_path / "orders.parquet")
    result = CliRunner().invoke(main, ["scan", str(path), "--no-catalog", *options])
    assert result.exit_code == 2
    assert message in result.output
