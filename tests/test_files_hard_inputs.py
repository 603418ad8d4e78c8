"""Hard inputs for the file connector: very wide, very deep, cut off or mistaken.

Each file is generated in ``tmp_path``. A file cardex cannot sample must fail
with a ``DatasetError`` that gives the reason, and never be read as something
else.
"""

import json
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.orc as orc
import pyarrow.parquet as pq
import pytest

from connectors.files.flatten import MAX_COLUMNS
from connectors.files.handles import FileDataset
from scanner.errors import UnreadableFormatError, UnsupportedError
from scanner.model import Sample

PHONE = "13800138000"


def sample(path: Path, rows: int = 100) -> Sample:
    return FileDataset(str(path), 30.0).sample(rows)


# Duplicate column names


def test_duplicate_csv_header_is_a_header(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text(f"phone,phone,id\n{PHONE},13900139000,1\n13700137000,,2\n")
    result = sample(path)
    assert result.table.column_names == ["phone", "phone_2", "id"]
    assert result.table["phone_2"].to_pylist() == ["13900139000", None]
    assert not any("no header row" in note for note in result.notes)


def test_taken_suffix_moves_to_next_number(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text("phone,phone_2,phone,,\n1,2,3,4,5\n6,7,8,9,0\n")
    result = sample(path)
    assert result.table.column_names == [
        "phone",
        "phone_2",
        "phone_3",
        "column_4",
        "column_5",
    ]


def test_parquet_duplicate_names_use_csv_suffix(tmp_path: Path) -> None:
    table = pa.Table.from_arrays(
        [pa.array([PHONE]), pa.array(["13900139000"])], names=["phone", "phone"]
    )
    path = tmp_path / "contacts.parquet"
    pq.write_table(table, path)
    assert sample(path).table.column_names == ["phone", "phone_2"]


# Column limits


def test_csv_wider_than_limit_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    header = ",".join(f"c{i}" for i in range(MAX_COLUMNS + 1))
    path.write_text(header + "\n" + ",".join(["1"] * (MAX_COLUMNS + 1)) + "\n")
    with pytest.raises(UnsupportedError) as caught:
        sample(path)
    message = str(caught.value)
    assert str(path) in message
    assert f"{MAX_COLUMNS + 1:,} fields" in message
    assert f"at most {MAX_COLUMNS:,} columns" in message


def test_csv_at_limit_is_sampled(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    header = ",".join(f"c{i}" for i in range(MAX_COLUMNS))
    path.write_text(header + "\n" + ",".join(["1"] * MAX_COLUMNS) + "\n")
    assert sample(path).table.num_columns == MAX_COLUMNS


@pytest.mark.parametrize("lines", [1, 2], ids=["header only", "header and row"])
def test_five_megabyte_line_fails_fast(tmp_path: Path, lines: int) -> None:
    # One line of 2.5 million fields took minutes when naming the columns
    # was quadratic.
    path = tmp_path / "line.csv"
    line = ",".join(["a"] * 2_500_000) + "\n"
    path.write_text(line * lines)
    started = time.monotonic()
    with pytest.raises(UnsupportedError, match="fields"):
        sample(path)
    assert time.monotonic() - started < 10


def test_json_wider_than_limit_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "wide.json"
    record = {f"col{i}": PHONE for i in range(MAX_COLUMNS + 1)}
    path.write_text(json.dumps([record] * 5))
    with pytest.raises(UnsupportedError) as caught:
        sample(path)
    message = str(caught.value)
    assert f"{MAX_COLUMNS + 1:,} leaf columns" in message
    assert PHONE not in message


def test_json_keys_as_values_fail_fast(tmp_path: Path) -> None:
    # Each record adds new keys, so the columns grow with the rows.
    path = tmp_path / "by_phone.jsonl"
    lines = (
        json.dumps({f"1380013{row:04d}{key}": key for key in range(10)})
        for row in range(1000)
    )
    path.write_text("\n".join(lines) + "\n")
    started = time.monotonic()
    with pytest.raises(UnsupportedError, match="leaf columns"):
        sample(path, rows=1000)
    assert time.monotonic() - started < 10


def test_arrow_table_wider_than_limit_is_unsupported(tmp_path: Path) -> None:
    table = pa.table({f"c{i}": [i] for i in range(MAX_COLUMNS + 1)})
    path = tmp_path / "wide.parquet"
    pq.write_table(table, path)
    with pytest.raises(UnsupportedError, match="leaf columns"):
        sample(path)


# Deep nesting


def _nested_object(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize(
    "text",
    [_nested_object(100_000), "[" * 100_000 + "]" * 100_000],
    ids=["objects", "arrays"],
)
def test_too_deep_json_is_unsupported(tmp_path: Path, text: str) -> None:
    path = tmp_path / "deep.json"
    path.write_text(text)
    with pytest.raises(UnsupportedError) as caught:
        sample(path)
    message = str(caught.value)
    assert "nested deeper than" in message
    assert "not valid" not in message


def test_depth_1000_json_is_never_invalid(tmp_path: Path) -> None:
    # Whether 1,000 levels parse depends on the Python version's limit.
    path = tmp_path / "deep.json"
    path.write_text(_nested_object(1000))
    try:
        result = sample(path)
    except UnsupportedError as error:
        assert "nested deeper than" in str(error)
    else:
        assert result.table.num_rows == 1


def test_too_deep_json_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    good = json.dumps({"phone": PHONE})
    path.write_text(f"{good}\n{_nested_object(100_000)}\n{good}\n")
    result = sample(path)
    assert result.table["phone"].to_pylist() == [PHONE, PHONE]
    assert any("1 JSON line nested deeper than" in note for note in result.notes)


def test_only_too_deep_json_lines_are_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(_nested_object(100_000) + "\n" + _nested_object(100_000) + "\n")
    with pytest.raises(UnsupportedError, match="nested deeper than"):
        sample(path)


# Magic numbers of binary formats


def _orc_bytes() -> bytes:
    sink = pa.BufferOutputStream()
    orc.write_table(pa.table({"phone": [PHONE]}), sink)
    return sink.getvalue().to_pybytes()


@pytest.mark.parametrize(
    ("content", "label"),
    [
        (b"PAR1", "Parquet"),
        (b"PAR1,PAR2\n1,2\n", "Parquet"),
        (b"ARROW1", "Arrow IPC"),
        (b"ARROW1\x00\x00" + b"x" * 40, "Arrow IPC"),
        (b"FEA1", "Feather"),
        (b"ORC", "ORC"),
        (_orc_bytes()[:-20], "ORC"),
    ],
    ids=["parquet", "parquet text", "arrow", "arrow cut", "feather", "orc", "orc cut"],
)
def test_magic_without_footer_is_truncated(
    tmp_path: Path, content: bytes, label: str
) -> None:
    path = tmp_path / "cut.bin"
    path.write_bytes(content)
    with pytest.raises(UnreadableFormatError) as caught:
        sample(path)
    assert f"truncated {label} file" in str(caught.value)
    assert str(path) in str(caught.value)


def test_parquet_cut_before_footer_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "cut.parquet"
    pq.write_table(pa.table({"phone": [PHONE] * 100}), path)
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(UnreadableFormatError, match="does not end with the Parquet"):
        sample(path)


def test_text_starting_like_orc_stays_text(tmp_path: Path) -> None:
    path = tmp_path / "researchers.csv"
    path.write_text("ORCID,name\n0000-0001,Li\n0000-0002,Wang\n")
    result = sample(path)
    assert result.format == "csv"
    assert result.table.column_names == ["ORCID", "name"]


# Formats cardex lists without sampling

DBC = """VERSION ""


NS_ :
\tNS_DESC_
\tCM_

BS_:

BU_: ECU GATEWAY

BO_ 256 VehicleSpeed: 8 ECU
 SG_ Speed : 0|16@1+ (0.01,0) [0|655.35] "km/h" GATEWAY
"""


@pytest.mark.parametrize(
    "text",
    [DBC, DBC.replace("NS_ :\n\tNS_DESC_\n\tCM_\n\nBS_:\n\n", "")],
    ids=["with new symbols", "nodes first"],
)
def test_can_database_is_described(tmp_path: Path, text: str) -> None:
    path = tmp_path / "vehicle.dbc"
    path.write_text(text)
    result = sample(path)
    assert result.format == "dbc"
    assert result.table.column("object_kind")[0].as_py() == "can_database"
    assert "VehicleSpeed.Speed" in result.table.column_names


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("track.gpx", '<?xml version="1.0"?>\n<gpx><trk><trkpt lat="30"/></trk></gpx>'),
        ("places.kml", '<?xml version="1.0"?>\n<kml><Placemark/></kml>'),
    ],
)
def test_gpx_and_kml_are_unsupported(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(UnsupportedError, match="XML document"):
        sample(path)
