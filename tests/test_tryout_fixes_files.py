"""Text files: GBK detection over single-byte guesses, CSV headers starting with "<"."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from connectors.files.detect import detect_encoding, sniff_format
from scanner.engine import Scanner, ScanOptions
from scanner.model import DatasetResult

NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨帆", "赵磊", "黄敏"]
HEADER = ["姓名", "手机号码", "vin", "remark", "amount"]


def _phone(rng: random.Random) -> str:
    return (
        "1" + rng.choice("3589") + "".join(rng.choice("0123456789") for _ in range(9))
    )


def _owner_rows(count: int) -> list[list[str]]:
    """Rows that are mostly digits and ASCII, with Chinese names only."""
    rng = random.Random(7)
    return [
        [
            rng.choice(NAMES),
            _phone(rng),
            "LSV"
            + "".join(
                rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(14)
            ),
            "ok" if index % 7 else "call back",
            str(rng.randint(1, 999)),
        ]
        for index in range(count)
    ]


def _csv_bytes(header: list[str], rows: list[list[str]], encoding: str) -> bytes:
    lines = [",".join(header)] + [",".join(row) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def _scan(path: Path) -> DatasetResult:
    options = ScanOptions(sources=[str(path)], use_catalog=False, concurrency=1)
    results = Scanner(options).run().results
    assert len(results) == 1
    return results[0]


def test_small_gbk_csv_is_gb18030(tmp_path: Path) -> None:
    data = _csv_bytes(HEADER, _owner_rows(150), "gbk")
    path = tmp_path / "owners_gbk.csv"
    path.write_bytes(data)

    encoding = detect_encoding(data, str(path))
    result = _scan(path)

    assert encoding.codec == "gb18030"
    assert not result.errors
    assert result.column("姓名") is not None
    assert result.column("手机号码") is not None


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        ("élève,naïve,café,Zürich\n" * 20, "cp1252"),
        ("Привет,мир,город,улица\n" * 20, "cp1251"),
        ("Καλημέρα,κόσμε,οδός\n" * 20, "cp1253"),
    ],
)
def test_single_byte_text_not_gb18030(text: str, codec: str) -> None:
    encoding = detect_encoding(text.encode(codec), "sample.csv")

    assert encoding.codec != "gb18030"


def test_csv_header_starting_with_markup(tmp_path: Path) -> None:
    header = ["<b>手机</b>"] + HEADER[2:]
    rows = [row[1:] for row in _owner_rows(49)]
    path = tmp_path / "owners.csv"
    path.write_bytes(_csv_bytes(header, rows, "utf-8"))

    result = _scan(path)

    assert sniff_format(path.read_bytes(), ".csv") == "csv"
    assert not result.errors
    phone = result.column("<b>手机</b>")
    assert phone is not None
    assert "pi.phone" in [label.id for label in phone.labels]


@pytest.mark.parametrize(
    ("content", "extension"),
    [
        (b'<?xml version="1.0"?>\n<owners>\n<owner>1,2</owner>\n</owners>\n', ".csv"),
        (b"<owner>1,2</owner>\n<owner>3,4</owner>\n", ".csv"),
        (b"<id>,name\n1,x\n2,y\n", ".xml"),
    ],
)
def test_markup_stays_xml(content: bytes, extension: str) -> None:
    assert sniff_format(content, extension) == "xml"
