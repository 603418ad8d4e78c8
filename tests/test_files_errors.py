"""Library errors become ``scanner.errors`` with no sampled value in them."""

import csv
import gzip
import json
import logging
import lzma
import struct
import zlib
from pathlib import Path

import pyarrow as pa
import pytest
import zstandard

from connectors.files.errors import to_dataset_error, translate_errors
from connectors.files.flatten import MAX_COLUMNS, ColumnLimitError
from connectors.files.handles import FileDataset
from scanner.errors import (
    AccessDeniedError,
    DatasetError,
    EncodingError,
    UnreadableFormatError,
    UnsupportedError,
)

PHONE = "13800138000"
ID_NUMBER = "11010519491231002X"
QUOTED_ROW = f"row 7: '{PHONE}','{ID_NUMBER}','张三','li@example.com'"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (pa.ArrowInvalid(f"CSV parse error: {QUOTED_ROW}"), UnreadableFormatError),
        (
            pa.ArrowIOError(f"unexpected end of file {QUOTED_ROW}"),
            UnreadableFormatError,
        ),
        (pa.ArrowNotImplementedError(f"codec {QUOTED_ROW}"), UnsupportedError),
        (pa.ArrowTypeError(QUOTED_ROW), UnreadableFormatError),
        (pa.ArrowKeyError(QUOTED_ROW), UnreadableFormatError),
        (pa.ArrowMemoryError(QUOTED_ROW), UnsupportedError),
        (json.JSONDecodeError(QUOTED_ROW, QUOTED_ROW, 3), UnreadableFormatError),
        (csv.Error(QUOTED_ROW), UnreadableFormatError),
        (UnicodeDecodeError("utf-8", PHONE.encode(), 0, 1, QUOTED_ROW), EncodingError),
        (zlib.error(QUOTED_ROW), UnreadableFormatError),
        (gzip.BadGzipFile(QUOTED_ROW), UnreadableFormatError),
        (EOFError(QUOTED_ROW), UnreadableFormatError),
        (lzma.LZMAError(QUOTED_ROW), UnreadableFormatError),
        (zstandard.ZstdError(QUOTED_ROW), UnreadableFormatError),
        (struct.error(QUOTED_ROW), UnreadableFormatError),
        (KeyError(QUOTED_ROW), UnreadableFormatError),
        (IndexError(QUOTED_ROW), UnreadableFormatError),
        (TypeError(QUOTED_ROW), UnreadableFormatError),
        (ValueError(QUOTED_ROW), UnreadableFormatError),
        (RecursionError(QUOTED_ROW), UnsupportedError),
        (MemoryError(QUOTED_ROW), UnsupportedError),
        (PermissionError(13, "Permission denied"), AccessDeniedError),
        (FileNotFoundError(2, "No such file"), UnreadableFormatError),
        (IsADirectoryError(21, "Is a directory"), UnreadableFormatError),
        (OSError(5, f"Input/output error {QUOTED_ROW}"), UnreadableFormatError),
        (RuntimeError(QUOTED_ROW), UnreadableFormatError),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else "",
)
def test_foreign_errors_are_translated_and_masked(
    error: BaseException, expected: type[DatasetError], caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(expected) as caught, translate_errors("/lake/x.csv", "csv"):
        raise error
    message = str(caught.value)
    assert "/lake/x.csv" in message
    for value in (PHONE, ID_NUMBER, "张三", "li@example.com"):
        assert value not in message
        assert value not in caplog.text
    assert caught.value.__cause__ is error


def test_dataset_errors_pass_through() -> None:
    original = UnsupportedError("kept as it is")
    with pytest.raises(UnsupportedError) as caught, translate_errors("/x", "csv"):
        raise original
    assert caught.value is original
    assert to_dataset_error(original, "/x", "csv") is original


def test_messages_say_what_to_do() -> None:
    error = to_dataset_error(pa.ArrowInvalid("bad footer"), "/x.parquet", "parquet")
    assert "could not read /x.parquet as parquet" in str(error)
    assert "exclude it from the scan" in str(error)


def _sample_raising(path: Path) -> str:
    with pytest.raises(DatasetError) as caught:
        FileDataset(str(path), 30).sample(10)
    return str(caught.value)


def test_corrupt_files_never_quote_their_content(tmp_path: Path) -> None:
    broken_json = tmp_path / "broken.json"
    broken_json.write_text(f'{{"phone": "{PHONE}", "id": "{ID_NUMBER}" ,,}}')
    broken_lines = tmp_path / "broken.jsonl"
    broken_lines.write_text(f'{{"phone": {PHONE}\n' * 5)
    broken_parquet = tmp_path / "broken.parquet"
    broken_parquet.write_bytes(b"PAR1\x00" + f"{PHONE},{ID_NUMBER}".encode() * 20)
    broken_gzip = tmp_path / "broken.csv.gz"
    header = gzip.compress(b"")[:10]
    broken_gzip.write_bytes(header + f"{PHONE},{ID_NUMBER}\n".encode() * 50)

    for path in (broken_json, broken_lines, broken_parquet, broken_gzip):
        message = _sample_raising(path)
        assert str(path) in message
        assert PHONE not in message
        assert ID_NUMBER not in message


def test_sampling_logs_no_values(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "owners.csv"
    path.write_text(f"name,phone,id\n张三,{PHONE},{ID_NUMBER}\n", encoding="utf-8")
    with caplog.at_level(logging.DEBUG):
        result = FileDataset(str(path), 30).sample(10)
    assert result.table["phone"].to_pylist() == [PHONE]
    assert "sampled 1 rows" in caplog.text
    for value in (PHONE, ID_NUMBER, "张三"):
        assert value not in caplog.text
        assert all(value not in note for note in result.notes)


def test_symlink_loop_names_the_link(tmp_path: Path) -> None:
    link = tmp_path / "loop.csv"
    link.symlink_to(link)
    message = _sample_raising(link)
    assert f"{link} is a symbolic link loop" in message
    assert "check the storage" not in message


def test_column_limit_becomes_unsupported() -> None:
    error = to_dataset_error(ColumnLimitError("7,000 leaf columns"), "/x.json", "json")
    assert isinstance(error, UnsupportedError)
    assert "/x.json has 7,000 leaf columns" in str(error)
    assert f"at most {MAX_COLUMNS:,} columns" in str(error)
