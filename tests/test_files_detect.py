"""Format, encoding and layout detection of the file connector."""

import codecs
import io
import warnings

import fastavro
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.orc as orc
import pyarrow.parquet as pq
import pytest

from connectors.files import sniff_format
from connectors.files.detect import decode_text, detect_encoding, looks_like_text
from connectors.files.dialect import has_header, sniff_layout
from scanner.errors import EncodingError

TABLE = pa.table({"id": [1, 2, 3], "name": ["a", "b", "c"]})


def _parquet_bytes() -> bytes:
    sink = io.BytesIO()
    pq.write_table(TABLE, sink)
    return sink.getvalue()


def _orc_bytes() -> bytes:
    sink = pa.BufferOutputStream()
    orc.write_table(TABLE, sink)
    return sink.getvalue().to_pybytes()


def _feather_bytes(version: int) -> bytes:
    sink = pa.BufferOutputStream()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Feather v1
        feather.write_feather(TABLE, sink, version=version)
    return sink.getvalue().to_pybytes()


def _stream_bytes() -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, TABLE.schema) as writer:
        writer.write_table(TABLE)
    return sink.getvalue().to_pybytes()


def _avro_bytes() -> bytes:
    schema = {"type": "record", "name": "r", "fields": [{"name": "a", "type": "int"}]}
    sink = io.BytesIO()
    fastavro.writer(sink, schema, [{"a": 1}])
    return sink.getvalue()


@pytest.mark.parametrize(
    ("content", "extension", "expected"),
    [
        (b"", ".csv", "empty"),
        (_parquet_bytes(), ".parquet", "parquet"),
        (_parquet_bytes(), ".csv", "parquet"),
        (_orc_bytes(), ".orc", "orc"),
        (_feather_bytes(2), ".feather", "arrow"),
        (_feather_bytes(1), ".feather", "feather"),
        (_stream_bytes(), ".bin", "arrow_stream"),
        (_avro_bytes(), ".avro", "avro"),
        (b"\x1f\x8b\x08\x00rest", ".gz", "gzip"),
        (b"\x28\xb5\x2f\xfdrest", ".zst", "zstd"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", ".jpg", "jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ".csv", "png"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", ".webp", "webp"),
        (b"\x00\x00\x00\x18ftypmp42", ".mp4", "mp4"),
        (b"SQLite format 3\x00\x10\x00", ".db", "sqlite"),
        (bytes(range(256)) * 4, ".parquet", "binary"),
        (b"a,b\n1,2\n", ".parquet", "csv"),
        (b"ORCID,name\n0000-0001,Li\n", ".csv", "csv"),
        (b'{"a": 1}\n{"a": 2}\n', ".json", "jsonl"),
        (b'{\n  "a": 1\n}\n', ".jsonl", "json"),
        (b'[{"a": 1}]', ".txt", "json"),
        (b"\n\n<!DOCTYPE html>\n<html>", ".csv", "html"),
        (b'<?xml version="1.0"?><gpx/>', ".gpx", "xml"),
        (codecs.BOM_UTF16_LE + "a,b\n1,2\n".encode("utf-16-le"), ".csv", "csv"),
        ("id,name\n1,x\n".encode("utf-16-le"), ".csv", "csv"),
        (b"a\x01b\x01c\n1\x012\x013\n", ".txt", "csv"),
        (b"PAR1", ".parquet", "parquet"),
        (b"PAR1,PAR2\n1,2\n", ".csv", "parquet"),
        (b"ARROW1", ".csv", "arrow"),
        (b"FEA1", ".feather", "feather"),
        (b"ORC", ".csv", "orc"),
        (b"BMW,X5\n1,2\n", ".csv", "csv"),
        (b'VERSION ""\n\n\nNS_ :\n\tNS_DESC_\n', ".dbc", "dbc"),
        (b'VERSION "1.0"\r\n\r\nBU_: ECU\r\n', ".txt", "dbc"),
        (b"NS_ :\n\tCM_\n", ".dbc", "dbc"),
        (b'VERSION,NOTE\n1,"x"\n', ".csv", "csv"),
    ],
)
def test_sniff_format(content: bytes, extension: str, expected: str) -> None:
    assert sniff_format(content, extension) == expected


def test_sniff_format_orc_by_its_postscript() -> None:
    # Uncompressed string data can make the start of an ORC file look like
    # text; the postscript at its end settles it.
    head = b"ORC" + b"name,phone\n" * 20
    tail = b"\x82\xf4\x03\x03ORC\x17"
    assert sniff_format(head, ".orc", tail) == "orc"
    assert sniff_format(head, ".orc", b"ORC\n") == "csv"


def test_sniff_format_arrow_stream_by_extension() -> None:
    # A stream written before Arrow 0.15 has no continuation marker.
    assert (
        sniff_format(b"\x10\x00\x00\x00\x0c\x00\x00\x00", ".arrows") == "arrow_stream"
    )


def test_binary_head_is_not_text() -> None:
    assert not looks_like_text(bytes(range(32)) * 100)


@pytest.mark.parametrize(
    ("content", "codec", "bom_length"),
    [
        ("id,名字\n1,张三\n".encode(), "utf-8", 0),
        (codecs.BOM_UTF8 + b"id\n1\n", "utf-8", 3),
        (codecs.BOM_UTF16_LE + "id\n".encode("utf-16-le"), "utf-16-le", 2),
        (codecs.BOM_UTF16_BE + "id\n".encode("utf-16-be"), "utf-16-be", 2),
        (codecs.BOM_UTF32_LE + "id\n".encode("utf-32-le"), "utf-32-le", 4),
        ("name,city\nLi,Wuhan\n".encode("utf-16-be"), "utf-16-be", 0),
        ("姓名,性别\n张三,男\n".encode("gbk"), "gb18030", 0),
        (
            "客户姓名,联系地址\n王小明,北京市朝阳区建国路88号\n".encode("gb2312"),
            "gb18030",
            0,
        ),
    ],
)
def test_detect_encoding(content: bytes, codec: str, bom_length: int) -> None:
    encoding = detect_encoding(content, "test.csv")
    assert encoding.codec == codec
    assert encoding.bom_length == bom_length


def test_gb18030_decodes_gbk_text() -> None:
    text = "车主,车牌号\n张伟,京A12345\n"
    encoding = detect_encoding(text.encode("gbk"), "owners.csv")
    decoded, invalid = decode_text(text.encode("gbk"), encoding, "owners.csv")
    assert decoded == text
    assert invalid == 0


def test_decode_text_rejects_wrong_encoding() -> None:
    encoding = detect_encoding(b"plain ascii", "x.csv")
    with pytest.raises(EncodingError, match="convert the file to UTF-8"):
        decode_text(bytes(range(128, 256)) * 10, encoding, "x.csv")


@pytest.mark.parametrize(
    ("text", "delimiter", "quotechar", "header", "preamble"),
    [
        ("a,b,c\n1,2,3\n4,5,6\n", ",", '"', True, 0),
        ("a\tb\n1\t2\n3\t4\n", "\t", '"', True, 0),
        ("a;b\n1;2\n3;4\n", ";", '"', True, 0),
        ("a|b\n1|2\n3|4\n", "|", '"', True, 0),
        ("Time@Note\n06:00@'x, y'\n07:00@'z, w'\n", "@", "'", True, 0),
        ("Sheet title\nTime@Note\n06:00@a\n07:00@b\n08:00@c\n", "@", '"', True, 1),
        (
            "1807, hayz, 1.2.3.4\n1367, storm, 5.6.7.8\n1008, gail, 9.9.9.9\n",
            ",",
            '"',
            False,
            0,
        ),
        ("a b c\n'd e f' 1 2\nh i j\n", " ", "'", True, 0),
    ],
)
def test_sniff_layout(
    text: str, delimiter: str, quotechar: str, header: bool, preamble: int
) -> None:
    layout = sniff_layout(text)
    assert layout.delimiter == delimiter
    assert layout.quotechar == quotechar
    assert layout.header is header
    assert layout.preamble_rows == preamble


def test_sniff_layout_single_column() -> None:
    layout = sniff_layout("NAMES\nGeorge Washington\nJohn Adams\nJames Madison\n")
    assert layout.delimiter is None
    assert layout.header is True


def test_sniff_layout_prose_has_no_header() -> None:
    layout = sniff_layout("This is a sentence.\nAnother one here.\nAnd a third.\n")
    assert layout.delimiter is None
    assert layout.header is False


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([["id", "phone"], ["1", "13800138000"], ["2", "13900139000"]], True),
        ([["1", "13800138000"], ["2", "13900139000"]], False),
        ([["", "name"], ["0", "Li"], ["1", "Wang"]], True),
        ([["x", "x"], ["1", "2"]], True),
        ([["phone", "phone", "id"], ["13800138000", "13900139000", "1"]], True),
        ([["7", "7"], ["1", "2"]], False),
        ([["姓名", "性别"], ["张三", "男"], ["李四", "女"]], True),
    ],
)
def test_has_header(rows: list[list[str]], expected: bool) -> None:
    assert has_header(rows) is expected
