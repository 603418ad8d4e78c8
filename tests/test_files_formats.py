"""Sampling each file format with the file connector, on files made here."""

import bz2
import codecs
import csv
import gzip
import io
import json
import lzma
import os
import sqlite3
import warnings
from pathlib import Path

import fastavro
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.orc as orc
import pyarrow.parquet as pq
import pytest
import zstandard

from connectors.files.handles import FileDataset
from connectors.files.text import SPREAD_THRESHOLD
from scanner.errors import (
    DatasetTimeoutError,
    UnreadableFormatError,
    UnsupportedError,
    UsageError,
)
from scanner.model import Sample

PHONE = "13800138000"


def sample(path: Path, rows: int = 100, timeout: float = 30.0) -> Sample:
    return FileDataset(str(path), timeout).sample(rows)


def write_csv(path: Path, rows: list[list[str]], **options: str) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n", **options).writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


OWNERS = [
    ["姓名", "手机号", "身份证号", "地址"],
    ["张三", "13800138000", "11010519491231002X", "北京市朝阳区建国路88号"],
    ["李四", "013900139000", "440524188001010014", "上海市浦东新区世纪大道100号"],
    ["王五", "13700137000", "310101199001011234", "广州市天河区体育西路1号"],
]


def _owners_text(delimiter: str = ",") -> str:
    return "".join(delimiter.join(row) + "\r\n" for row in OWNERS)


# Delimited text


def test_gbk_csv_with_chinese_header(tmp_path: Path) -> None:
    path = tmp_path / "owners.csv"
    path.write_bytes(_owners_text().encode("gbk"))
    result = sample(path)
    assert result.table.column_names == OWNERS[0]
    assert result.table["姓名"].to_pylist() == ["张三", "李四", "王五"]
    assert any("gb18030" in note for note in result.notes)
    assert result.format == "csv"


@pytest.mark.parametrize(
    ("bom", "codec"),
    [
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),
    ],
)
def test_csv_with_byte_order_mark(tmp_path: Path, bom: bytes, codec: str) -> None:
    path = tmp_path / "owners.csv"
    path.write_bytes(bom + _owners_text().encode(codec))
    result = sample(path)
    assert result.table.column_names == OWNERS[0]
    assert result.table["地址"].to_pylist()[0] == "北京市朝阳区建国路88号"


def test_csv_keeps_leading_zeros_as_strings(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "ids.csv", [["id", "phone"], ["007", "013800138000"]])
    result = sample(path)
    assert result.table["id"].to_pylist() == ["007"]
    assert result.table["phone"].type == pa.string()
    assert result.source_types == {"id": "string", "phone": "string"}
    assert result.total_rows == 1


@pytest.mark.parametrize("delimiter", ["\t", ";", "|", "@"])
def test_delimiters(tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "owners.txt"
    path.write_text(_owners_text(delimiter), encoding="utf-8")
    result = sample(path)
    assert result.table.column_names == OWNERS[0]
    assert result.table.num_rows == 3


def test_single_quoted_values(tmp_path: Path) -> None:
    path = tmp_path / "quoted.csv"
    path.write_text("time@items\n06:00@'Books, Songs'\n07:00@'Food, Drinks'\n")
    result = sample(path)
    assert result.table["items"].to_pylist() == ["Books, Songs", "Food, Drinks"]


def test_headerless_csv_gets_numbered_columns(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "plain.csv", [[str(i), f"1380013800{i}"] for i in range(5)]
    )
    result = sample(path)
    assert result.table.column_names == ["column_1", "column_2"]
    assert result.table.num_rows == 5


def test_preamble_and_empty_rows_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    path.write_text(
        "\n\nExported by fleet portal\nname,phone\nLi,13800138000\n,\n\nWang,1\n",
        encoding="utf-8",
    )
    result = sample(path)
    assert result.table.column_names == ["name", "phone"]
    assert result.table["name"].to_pylist() == ["Li", "Wang"]
    assert any("before the table" in note for note in result.notes)


def test_ragged_rows_are_skipped_and_counted(tmp_path: Path) -> None:
    rows = [["a", "b"]] + [[str(i), "x"] for i in range(20)]
    rows[3] = ["2", "x", "extra"]
    rows[6] = ["5"]
    rows.append(["20", "x", ""])  # a trailing delimiter is not ragged
    path = write_csv(tmp_path / "ragged.csv", rows)
    result = sample(path)
    values = result.table["a"].to_pylist()
    assert values[:4] == ["0", "1", "3", "4"]
    assert values[-1] == "20"
    assert len(values) == 19
    assert any("skipped 2 rows" in note for note in result.notes)


def test_header_only_csv_has_columns_and_no_rows(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "empty_table.csv", [["vin", "plate"]])
    result = sample(path)
    assert result.table.column_names == ["vin", "plate"]
    assert result.table.num_rows == 0


def test_whitespace_only_text_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_text("\n  \n\n")
    with pytest.raises(UnreadableFormatError, match="no text rows"):
        sample(path)


def _big_csv(path: Path, encoding: str = "utf-8", bom: bytes = b"") -> int:
    """Write a CSV over the spread threshold; return its number of rows."""
    row_count = SPREAD_THRESHOLD // 20
    lines = ["id,phone,note\n"]
    lines += [f"{i:07d},1{i:010d},row {i}\n" for i in range(row_count)]
    path.write_bytes(bom + "".join(lines).encode(encoding))
    return row_count


def test_big_csv_reads_spread_byte_ranges(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    row_count = _big_csv(path)
    size = path.stat().st_size

    result = sample(path, rows=500)
    ids = [int(value) for value in result.table["id"].to_pylist()]
    assert result.bytes_read is not None
    assert result.bytes_read < size / 2
    assert result.table.num_rows == 500
    assert min(ids) < row_count * 0.1
    assert max(ids) > row_count * 0.9
    assert any(row_count * 0.4 < i < row_count * 0.6 for i in ids)
    assert result.total_rows is None
    assert result.table["phone"].to_pylist()[0].startswith("1")


def test_big_utf16_csv_keeps_characters_aligned(tmp_path: Path) -> None:
    path = tmp_path / "big16.csv"
    _big_csv(path, "utf-16-le", codecs.BOM_UTF16_LE)
    result = sample(path, rows=300)
    assert result.table.column_names == ["id", "phone", "note"]
    assert all(len(value) == 7 for value in result.table["id"].to_pylist())
    assert not any("skipped" in note for note in result.notes)


# JSON


def test_json_array_of_nested_records(tmp_path: Path) -> None:
    records = [
        {"owner": {"name": "Li", "phones": [PHONE]}, "vin": "LSVAU2180N2183294"},
        {"owner": {"name": "Wang", "phones": []}, "trips": [{"lat": 30.5}]},
    ]
    path = tmp_path / "owners.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    result = sample(path)
    assert result.format == "json"
    assert result.table["owner.name"].to_pylist() == ["Li", "Wang"]
    assert result.table["owner.phones[]"].to_pylist() == [[PHONE], None]
    assert result.table["trips[].lat"].to_pylist() == [None, [30.5]]
    assert result.total_rows == 2


def test_json_single_object_is_one_record(tmp_path: Path) -> None:
    path = tmp_path / "vehicle.json"
    path.write_text(json.dumps({"data": {"vin": "X", "gps": [30.1, 114.2]}}, indent=2))
    result = sample(path)
    assert result.table.num_rows == 1
    assert result.table.column_names == ["data.vin", "data.gps"]


def test_json_lines_with_mixed_types_and_bad_lines(tmp_path: Path) -> None:
    lines = [json.dumps({"id": i, "tel": PHONE if i % 2 else 138}) for i in range(9)]
    lines.insert(4, "{not json")
    path = tmp_path / "contacts.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = sample(path)
    assert result.format == "jsonl"
    assert result.table["tel"].type == pa.string()
    assert result.table["tel"].to_pylist()[:2] == ["138", PHONE]
    assert "skipped 1 invalid JSON line" in result.notes


def test_invalid_json_is_unreadable_and_redacted(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('[{"phone": "13800138000", ]')
    with pytest.raises(UnreadableFormatError) as caught:
        sample(path)
    assert PHONE not in str(caught.value)
    assert "not valid JSON" in str(caught.value)


# Compressed text


def _jsonl_bytes(count: int) -> bytes:
    return "".join(
        json.dumps({"n": i, "tel": PHONE}) + "\n" for i in range(count)
    ).encode()


@pytest.mark.parametrize(
    ("suffix", "compress", "name"),
    [
        (".gz", gzip.compress, "gzip"),
        (".zst", lambda data: zstandard.ZstdCompressor().compress(data), "zstd"),
        (".bz2", bz2.compress, "bzip2"),
        (".xz", lzma.compress, "xz"),
    ],
)
def test_compressed_json_lines(
    tmp_path: Path, suffix: str, compress, name: str
) -> None:
    path = tmp_path / f"contacts.jsonl{suffix}"
    path.write_bytes(compress(_jsonl_bytes(200)))
    result = sample(path, rows=50)
    assert result.format == f"jsonl+{name}"
    assert result.table.num_rows == 50
    assert result.table["tel"].to_pylist()[0] == PHONE
    assert result.bytes_read == path.stat().st_size


def test_big_compressed_csv_uses_start(
    tmp_path: Path,
) -> None:
    path = tmp_path / "big.csv.gz"
    row = "0000001,13800138000,some padding text to make rows longer\n"
    data = ("id,phone,note\n" + row * 400_000).encode()
    path.write_bytes(gzip.compress(data, compresslevel=1))
    result = sample(path, rows=100)
    assert result.format == "csv+gzip"
    assert result.table.num_rows == 100
    assert any("first 16 MiB" in note for note in result.notes)


def test_compressed_parquet_is_read_when_small(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"vin": ["LSVAU2180N2183294"]}), buffer)
    path = tmp_path / "table.parquet.gz"
    path.write_bytes(gzip.compress(buffer.getvalue()))
    result = sample(path)
    assert result.format == "parquet+gzip"
    assert result.table["vin"].to_pylist() == ["LSVAU2180N2183294"]


def test_corrupt_gzip_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv.gz"
    path.write_bytes(gzip.compress(b"a,b\n1,2\n" * 1000)[:40])
    with pytest.raises(UnreadableFormatError, match="as gzip"):
        sample(path)


# Columnar formats


def _owners_table(rows: int) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "owner": pa.array(
                [{"name": f"n{i}", "phones": [PHONE]} for i in range(rows)]
            ),
            "city": pa.array(["Wuhan", "Xi'an"] * (rows // 2)).dictionary_encode(),
        }
    )


def test_parquet_reads_spread_row_groups(tmp_path: Path) -> None:
    path = tmp_path / "owners.parquet"
    pq.write_table(_owners_table(100_000), path, row_group_size=5_000)
    result = sample(path, rows=200)
    ids = result.table["id"].to_pylist()
    assert result.table.num_rows == 200
    assert result.total_rows == 100_000
    assert min(ids) < 5_000
    assert max(ids) >= 95_000
    assert result.bytes_read is not None
    assert result.bytes_read < path.stat().st_size
    assert result.table.column_names == ["id", "owner.name", "owner.phones[]", "city"]
    assert result.table["city"].type == pa.string()
    assert result.source_types["owner.phones[]"] == "string"
    assert any("row groups" in note for note in result.notes)


def test_parquet_one_row_group_spread(tmp_path: Path) -> None:
    path = tmp_path / "one_group.parquet"
    pq.write_table(_owners_table(10_000), path)
    ids = sample(path, rows=10).table["id"].to_pylist()
    assert ids[0] == 0
    assert ids[-1] == 9_999
    assert len(ids) == 10


def test_parquet_named_csv_is_read_as_parquet(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    pq.write_table(_owners_table(10), path)
    result = sample(path)
    assert result.format == "parquet"
    assert "read by content as parquet although the extension says .csv" in result.notes


def test_text_named_parquet_is_read_as_text(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "owners.parquet", [["name"], ["Li"], ["Wang"]])
    result = sample(path)
    assert result.format == "csv"
    assert "read by content as csv although the extension says .parquet" in result.notes


def test_truncated_parquet_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "cut.parquet"
    pq.write_table(_owners_table(1000), path)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(UnreadableFormatError, match="truncated Parquet file"):
        sample(path)


def test_empty_file_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "empty.parquet"
    path.touch()
    with pytest.raises(UnreadableFormatError, match="empty file"):
        sample(path)


def test_orc_reads_stripes(tmp_path: Path) -> None:
    path = tmp_path / "owners.orc"
    table = _owners_table(1000).drop(["city"])
    orc.write_table(table, str(path))
    result = sample(path, rows=20)
    assert result.format == "orc"
    assert result.total_rows == 1000
    assert result.table.num_rows == 20
    assert result.table["owner.phones[]"].to_pylist()[0] == [PHONE]


def test_arrow_file_and_feather(tmp_path: Path) -> None:
    path = tmp_path / "owners.feather"
    feather.write_feather(_owners_table(1000), path, chunksize=100)
    result = sample(path, rows=20)
    assert result.format == "arrow"
    assert result.total_rows == 1000
    assert result.table.num_rows == 20
    assert max(result.table["id"].to_pylist()) >= 900


def test_feather_version_1(tmp_path: Path) -> None:
    path = tmp_path / "old.feather"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        feather.write_feather(pa.table({"plate": ["京A12345"]}), path, version=1)
    result = sample(path)
    assert result.format == "feather"
    assert result.table["plate"].to_pylist() == ["京A12345"]


def test_arrow_stream(tmp_path: Path) -> None:
    path = tmp_path / "owners.arrows"
    table = _owners_table(100)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as w:
        for batch in table.to_batches(max_chunksize=10):
            w.write_batch(batch)
    result = sample(path, rows=10)
    assert result.format == "arrow_stream"
    assert result.table.num_rows == 10
    assert result.table["id"].to_pylist()[-1] == 99


AVRO_SCHEMA = {
    "type": "record",
    "name": "Driver",
    "namespace": "fleet",
    "fields": [
        {"name": "name", "type": "string"},
        {"name": "phone", "type": ["null", "string"]},
        {"name": "id_or_code", "type": ["null", "long", "string"]},
        {
            "name": "address",
            "type": {
                "type": "record",
                "name": "Address",
                "fields": [{"name": "city", "type": "string"}],
            },
        },
        {"name": "previous", "type": ["null", "Address"]},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "face", "type": {"type": "array", "items": "float"}},
        {"name": "extra", "type": {"type": "map", "values": "long"}},
        {"name": "hired", "type": {"type": "int", "logicalType": "date"}},
        {"name": "seen", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {
            "name": "kind",
            "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B"]},
        },
    ],
}


def _driver(i: int) -> dict:
    return {
        "name": f"driver {i}",
        "phone": PHONE if i % 2 else None,
        "id_or_code": i if i % 3 else f"C{i}",
        "address": {"city": "Wuhan"},
        "previous": {"city": "Xi'an"} if i % 2 else None,
        "tags": ["a", "b"],
        "face": [0.5, 0.25],
        "extra": {"k": i},
        "hired": 19_000 + i,
        "seen": 1_700_000_000_000 + i,
        "kind": "A",
    }


def test_avro_with_nested_types_and_blocks(tmp_path: Path) -> None:
    path = tmp_path / "drivers.avro"
    with path.open("wb") as handle:
        records = [_driver(i) for i in range(10_000)]
        fastavro.writer(
            handle, AVRO_SCHEMA, records, codec="deflate", sync_interval=4000
        )

    result = sample(path, rows=50)

    table = result.table
    assert result.format == "avro"
    assert result.total_rows == 10_000
    assert table.num_rows == 50
    assert table.column_names == [
        "name",
        "phone",
        "id_or_code",
        "address.city",
        "previous.city",
        "tags[]",
        "face",
        "extra{}.key",
        "extra{}.value",
        "hired",
        "seen",
        "kind",
    ]

    assert result.source_types["seen"] == "timestamp-millis"
    assert result.source_types["id_or_code"] == "union<null,long,string>"
    assert result.source_types["face"] == "array<float>"
    assert table["id_or_code"].type == pa.string()
    assert pa.types.is_timestamp(table["seen"].type)

    assert any("Avro blocks" in note for note in result.notes)
    assert result.bytes_read is not None
    assert result.bytes_read < path.stat().st_size


def test_truncated_avro_keeps_whole_blocks(tmp_path: Path) -> None:
    path = tmp_path / "drivers.avro"
    with path.open("wb") as handle:
        records = [_driver(i) for i in range(500)]
        fastavro.writer(handle, AVRO_SCHEMA, records, sync_interval=1000)
    path.write_bytes(path.read_bytes()[:-50])
    result = sample(path, rows=1000)
    assert 0 < result.table.num_rows < 500
    assert any("truncated" in note for note in result.notes)


# Not tabular, limits and fingerprints


def test_pdf_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "manual.pdf"
    path.write_bytes(b"%PDF-1.7\n" + bytes(200))
    with pytest.raises(UnsupportedError, match="PDF document"):
        sample(path)


def test_sqlite_file_names_its_url(tmp_path: Path) -> None:
    path = tmp_path / "app.data"
    connection = sqlite3.connect(path)
    connection.execute("create table t (a text)")
    connection.commit()
    connection.close()
    with pytest.raises(UnsupportedError, match=f"sqlite:///{path}"):
        sample(path)


def test_unknown_binary_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "firmware.bin"
    path.write_bytes(bytes(range(256)) * 16)
    with pytest.raises(UnreadableFormatError, match="no format cardex reads"):
        sample(path)


def test_html_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "page.csv"
    path.write_text("<!DOCTYPE html><html><body>a,b</body></html>")
    with pytest.raises(UnsupportedError, match="HTML document"):
        sample(path)


def test_fifo_is_not_opened(tmp_path: Path) -> None:
    path = tmp_path / "pipe.csv"
    os.mkfifo(path)
    with pytest.raises(UnsupportedError, match="not a regular file"):
        sample(path)


def test_sample_size_must_be_positive(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", [["a"], ["1"]])
    with pytest.raises(UsageError):
        sample(path, rows=0)


def test_timeout_stops_sampling(tmp_path: Path) -> None:
    path = tmp_path / "owners.parquet"
    pq.write_table(_owners_table(1000), path, row_group_size=100)
    with pytest.raises(DatasetTimeoutError, match="took longer than"):
        sample(path, timeout=0.0)


def test_fingerprint_has_size_and_time(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", [["a"], ["1"]])
    fingerprint = FileDataset(str(path), 30).fingerprint()
    assert fingerprint.size == path.stat().st_size
    assert fingerprint.modified == path.stat().st_mtime
