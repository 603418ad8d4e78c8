"""Recognise a file's format and text encoding from its content.

The extension is only a hint: ``sniff_format`` looks at magic bytes first,
then at whether the head is text and what the text starts with. The extension
decides only where the content cannot (an Arrow stream without its
continuation marker).

Content that starts with the magic number of Parquet, Arrow, Feather or Avro
is never read as text, even when it is short or truncated: the sampler for
the format reports it. The ORC, BMP, LAS, MDF, BLF and ROS bag magic numbers
("ORC", "BM", "LASF", "MDF", "LOGG", "#ROSBAG") can also start ordinary text
("ORCID,name", "BMW,X5", "LOGGED_AT,..."). Text that starts with one of them
therefore stays text, unless the content is the magic number alone or, for
ORC, ends with an ORC postscript.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass

import charset_normalizer
from charset_normalizer.utils import is_multi_byte_encoding

from connectors.files.can import is_asc_header
from connectors.files.firmware import firmware_format
from connectors.files.pointclouds import is_laz_header, is_pcd_header
from scanner.errors import EncodingError

# Magic numbers at offset 0, checked in order. Formats in ``_TEXT_LIKE_MAGIC``
# start with printable characters and also need a head that is not text, so a
# CSV whose header starts with "ORC" stays a CSV.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PAR1", "parquet"),
    (b"ORC", "orc"),
    (b"ARROW1", "arrow"),
    (b"FEA1", "feather"),
    (b"Obj\x01", "avro"),
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"BM", "bmp"),
    (b"%PDF-", "pdf"),
    (b"\x1aE\xdf\xa3", "matroska"),
    (b"ID3", "mp3"),
    (b"fLaC", "flac"),
    (b"OggS", "ogg"),
    (b"SQLite format 3\x00", "sqlite"),
    (b"\x89HDF\r\n\x1a\n", "hdf5"),
    (b"LASF", "las"),
    (b"\x7fELF", "elf"),
    (b"\x89MCAP0\r\n", "mcap"),
    (b"#ROSBAG V2.0\n", "rosbag1"),
    (b"MDF     ", "mdf"),
    (b"LOGG", "blf"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "rar"),
)
_TEXT_LIKE_MAGIC = frozenset({"orc", "bmp", "las", "rosbag1", "mdf", "blf"})

# The end of an ORC file: the postscript's last field, the magic "ORC" (field
# 8000, so the tag bytes 82 F4 03 and the length 3), then the postscript's
# length in one byte (Apache ORC, PostScript message in orc_proto.proto).
_ORC_POSTSCRIPT_END = b"\x82\xf4\x03\x03ORC"

# A CAN database (Vector DBC): an optional VERSION line, then the new-symbols,
# bit-timing or node section.
_DBC_START = re.compile(
    r'(VERSION[ \t]+"[^"\r\n]*"\s*)?(NS_[ \t]*:|BS_[ \t]*:|BU_[ \t]*:)'
)

# RIFF containers: the format is named at offset 8.
_RIFF_KINDS = {b"WAVE": "wav", b"AVI ": "avi", b"WEBP": "webp"}

# Arrow IPC stream: a continuation marker, then a message length.
_ARROW_STREAM_MARKER = b"\xff\xff\xff\xff"
_ARROW_STREAM_EXTENSIONS = frozenset({".arrows", ".arrow", ".ipc", ".stream"})

# Byte order marks, longest first (UTF-32 LE starts like UTF-16 LE).
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Control bytes that text files use as delimiters: Hive's default field,
# collection and map-key delimiters (\x01-\x03), and the usual whitespace.
_TEXT_CONTROL = frozenset(b"\x01\x02\x03\t\n\r\x0b\x0c\x1b")
_MAX_CONTROL_SHARE = 0.01
_SNIFF_BYTES = 8192

# Bytes given to charset-normalizer: enough for a few hundred rows.
_ENCODING_SAMPLE = 64 * 1024

# Simplified-Chinese code pages decoded with GB 18030, which is a superset
# of GB 2312 and GBK.
_GB_FAMILY = frozenset({"gb2312", "gbk", "gb18030", "hz", "cp936"})
# Extensions whose content is read as delimited text even when it starts
# with "<", if its first lines agree on a delimiter count.
_DELIMITED_EXTENSIONS = frozenset({".csv", ".tsv", ".txt"})
_DELIMITERS = (",", "\t", ";", "|")
_DELIMITED_LINES = 5
# Chinese characters needed before a single-byte guess yields to GB 18030.
_MIN_CHINESE_CHARS = 4


def sniff_format(head_bytes: bytes, extension: str, tail: bytes = b"") -> str:
    """Name the format of a file from the first bytes of its content.

    Returns one of the names in ``_MAGIC``, ``"arrow_stream"``, a RIFF or
    MP4 kind, ``"pcd"``, ``"laz"``, ``"empty"``, ``"json"``, ``"jsonl"``,
    ``"html"``, ``"xml"``, ``"dbc"``, ``"asc"`` (a Vector CAN log), ``"ihex"``
    or ``"srec"`` (firmware records with valid checksums), ``"csv"`` for any
    other text, or ``"binary"`` for unrecognised
    bytes. ``extension`` (lower case, with its dot) only settles formats
    without a reliable magic number. ``tail``, the last bytes of the content
    when the caller has them, distinguishes an ORC file from text that starts
    with "ORC".
    """
    if not head_bytes:
        return "empty"

    magic = _magic_format(head_bytes)
    if magic and _magic_wins(magic, head_bytes, tail):
        if magic == "las" and is_laz_header(head_bytes):
            return "laz"
        return magic
    if is_pcd_header(head_bytes):
        # A binary PCD file has a text header and binary points.
        return "pcd"
    if head_bytes.startswith(_ARROW_STREAM_MARKER) and len(head_bytes) >= 8:
        return "arrow_stream"

    if looks_like_text(head_bytes):
        return _text_format(head_bytes, extension)
    if extension in _ARROW_STREAM_EXTENSIONS:
        # Streams written before Arrow 0.15 have no continuation marker.
        return "arrow_stream"
    return "binary"


def _magic_wins(name: str, head: bytes, tail: bytes) -> bool:
    """Tell whether a magic number names the format over a text reading."""
    if name not in _TEXT_LIKE_MAGIC or not looks_like_text(head):
        return True
    if any(head == magic for magic, magic_name in _MAGIC if magic_name == name):
        return True  # the magic number alone: a truncated file, not text
    return name == "orc" and tail[-len(_ORC_POSTSCRIPT_END) - 1 : -1] == (
        _ORC_POSTSCRIPT_END
    )


def _magic_format(head: bytes) -> str | None:
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if head.startswith(b"RIFF") and head[8:12] in _RIFF_KINDS:
        return _RIFF_KINDS[head[8:12]]
    if head[4:8] == b"ftyp":
        return "mp4"
    if len(head) > 262 and head[257:262] == b"ustar":
        return "tar"
    return None


def looks_like_text(head: bytes) -> bool:
    """Tell whether ``head`` is text in some encoding rather than binary."""
    sample = head[:_SNIFF_BYTES]
    if bom_encoding(sample) is not None:
        return True
    if b"\x00" in sample:
        return guess_bomless_utf16_32(sample) is not None
    control = sum(1 for byte in sample if byte < 0x20 and byte not in _TEXT_CONTROL)
    control += sample.count(0x7F)
    return control <= _MAX_CONTROL_SHARE * len(sample)


def _text_format(head: bytes, extension: str = "") -> str:
    text = _structural_text(head).lstrip("\ufeff \t\r\n")
    if not text:
        return "csv"
    first = text[0]
    if first == "<" and extension in _DELIMITED_EXTENSIONS and _is_delimited(text):
        # A header cell may start with "<"; the rows below it settle the format.
        return "csv"
    if first == "<":
        lowered = text[:1024].lower()
        if "<!doctype html" in lowered or "<html" in lowered:
            return "html"
        return "xml"
    if first == "{":
        first_line = text.split("\n", 1)[0].strip()
        return "jsonl" if _is_json_value(first_line) else "json"
    if first == "[":
        return "json"
    if _DBC_START.match(text):
        return "dbc"
    if is_asc_header(text[:_SNIFF_BYTES]):
        return "asc"
    return firmware_format(text[:_SNIFF_BYTES]) or "csv"


def _is_delimited(text: str) -> bool:
    """Tell whether the first complete lines share one delimiter count.

    Needs at least two lines, and the second must not start with "<" as the
    next element of an XML document would.
    """
    lines = [line for line in text.splitlines()[:-1][:_DELIMITED_LINES] if line]
    if len(lines) < 2 or lines[1].lstrip().startswith("<"):
        return False
    for delimiter in _DELIMITERS:
        counts = {line.count(delimiter) for line in lines}
        if len(counts) == 1 and counts.pop() > 0:
            return True
    return False


def _structural_text(head: bytes) -> str:
    """Decode enough of ``head`` to see its first ASCII characters."""
    encoding = bom_encoding(head) or guess_bomless_utf16_32(head[:_SNIFF_BYTES])
    if encoding is not None:
        codec, bom_length = encoding
        return head[bom_length:].decode(codec, errors="replace")
    return head.decode("utf-8", errors="replace")


def _is_json_value(line: str) -> bool:
    try:
        json.loads(line)
    except (ValueError, RecursionError):
        return False
    return True


@dataclass(frozen=True)
class TextEncoding:
    """A detected text encoding: the codec and the length of its BOM."""

    codec: str
    bom_length: int = 0
    source: str = "bom"

    @property
    def unit(self) -> int:
        """Bytes per code unit, which chunk offsets must be aligned to."""
        if self.codec.startswith("utf-32"):
            return 4
        if self.codec.startswith("utf-16"):
            return 2
        return 1

    @property
    def newline(self) -> bytes:
        return "\n".encode(self.codec)


def bom_encoding(head: bytes) -> tuple[str, int] | None:
    """Return the codec and BOM length named by a byte order mark, if any."""
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return codec, len(bom)
    return None


def guess_bomless_utf16_32(sample: bytes) -> tuple[str, int] | None:
    """Guess UTF-16 or UTF-32 without a BOM from where the zero bytes fall.

    Text in Latin or CJK scripts encoded as UTF-16 has a zero byte in most
    code units (ASCII characters); its position gives the byte order.
    """
    for unit, codec_le, codec_be in (
        (4, "utf-32-le", "utf-32-be"),
        (2, "utf-16-le", "utf-16-be"),
    ):
        usable = len(sample) - len(sample) % unit
        if usable < unit * 4:
            continue
        units = [sample[i : i + unit] for i in range(0, usable, unit)]
        if unit == 4:
            le = sum(1 for u in units if u[2:] == b"\x00\x00" and u[0] != 0)
            be = sum(1 for u in units if u[:2] == b"\x00\x00" and u[3] != 0)
        else:
            le = sum(1 for u in units if u[1] == 0 and u[0] != 0)
            be = sum(1 for u in units if u[0] == 0 and u[1] != 0)
        if le >= 0.6 * len(units):
            return codec_le, 0
        if be >= 0.6 * len(units):
            return codec_be, 0
    return None


def detect_encoding(head: bytes, path: str) -> TextEncoding:
    """Detect the encoding of text whose first bytes are ``head``.

    Order: byte order mark, UTF-16/32 zero-byte pattern, valid UTF-8, then
    charset-normalizer. Raises ``EncodingError`` when nothing fits.
    """
    bom = bom_encoding(head)
    if bom is not None:
        return TextEncoding(bom[0], bom[1], "bom")
    bomless = guess_bomless_utf16_32(head[:_SNIFF_BYTES])
    if bomless is not None:
        return TextEncoding(bomless[0], 0, "byte pattern")
    if _is_utf8(head):
        return TextEncoding("utf-8", 0, "valid UTF-8")

    codec = _normalizer_codec(head[:_ENCODING_SAMPLE])
    if codec is None:
        raise EncodingError(
            f"could not detect the text encoding of {path}; convert the file to UTF-8"
        )
    return TextEncoding(codec, 0, "charset-normalizer")


def _is_utf8(head: bytes) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        # final=False accepts a character cut at the end of the head.
        decoder.decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _normalizer_codec(sample: bytes) -> str | None:
    """Ask charset-normalizer, preferring GB 18030 when it fits as well.

    Short Chinese text in GBK decodes without errors in several East Asian
    code pages, and cp949 often scores first. This product scans data kept in
    China, so a tie goes to GB 18030.
    """
    matches = list(charset_normalizer.from_bytes(sample))
    if not matches:
        return None
    best = matches[0]
    for match in matches:
        if match.encoding in _GB_FAMILY and match.chaos <= best.chaos + 0.01:
            return "gb18030"
    if best.encoding in _GB_FAMILY:
        return "gb18030"
    if not is_multi_byte_encoding(best.encoding) and _reads_as_chinese(sample):
        return "gb18030"
    return str(best.encoding)


def _reads_as_chinese(sample: bytes) -> bool:
    """Return True when ``sample`` is valid GB 18030 with Chinese text in it.

    Mostly-ASCII files with a few Chinese names often score better in a
    single-byte Cyrillic or Greek code page. Chinese text uses GB 2312
    characters (both bytes 0xA1 to 0xFE) almost only, while Latin accents
    read as GB 18030 pair with an ASCII byte, outside that range.
    """
    decoder = codecs.getincrementaldecoder("gb18030")()
    try:
        # final=False accepts a character cut at the end of the sample.
        text = decoder.decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    wide = [char.encode("gb18030") for char in text if ord(char) > 0x7F]
    gb2312 = sum(
        1
        for code in wide
        if len(code) == 2 and 0xA1 <= code[0] <= 0xF7 and 0xA1 <= code[1] <= 0xFE
    )
    # NOTE: Cyrillic in cp1251 where every word has an even letter count also
    # passes this test; such a file would be decoded as Chinese.
    return gb2312 >= _MIN_CHINESE_CHARS and gb2312 >= 0.9 * len(wide)


def decode_text(data: bytes, encoding: TextEncoding, path: str) -> tuple[str, int]:
    """Decode ``data``, replacing invalid bytes; return the text and their count.

    Raises ``EncodingError`` when more than a tenth of the characters are
    invalid, because the detected encoding is then wrong.
    """
    try:
        return data.decode(encoding.codec), 0
    except UnicodeDecodeError:
        text = data.decode(encoding.codec, errors="replace")
    invalid = text.count("\ufffd")
    if invalid > 0.1 * max(1, len(text)):
        raise EncodingError(
            f"{path} is not valid {encoding.codec} ({invalid} of {len(text)} "
            f"characters could not be decoded; encoding found by "
            f"{encoding.source}); convert the file to UTF-8"
        )
    return text, invalid
