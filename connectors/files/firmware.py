"""Recognise and describe firmware images in Intel HEX and Motorola S-record.

Both are text, one record per line, each with a checksum. A file is taken
for one of them only when its first lines are all records with valid
checksums, so a CSV whose lines start with ":" or "S1" stays a CSV.
Description counts the records and the address range of the data records
in at most ``FIRMWARE_READ_LIMIT`` bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from connectors.files.objects import ObjectFields, corrupt

if TYPE_CHECKING:
    from connectors.files.content import ByteSource, ReadContext

# Firmware images for one ECU are a few MiB; larger files are described from
# their first 16 MiB, with a note.
FIRMWARE_READ_LIMIT = 16 * 1024 * 1024
# Complete lines checked to recognise the format.
_LINES_CHECKED = 4

_HEX_DIGITS = r"[0-9A-Fa-f]"
_INTEL_HEX_LINE = re.compile(rf":(?:{_HEX_DIGITS}{{2}}){{5,}}")
_SREC_LINE = re.compile(rf"S[0-9](?:{_HEX_DIGITS}{{2}}){{3,}}")

# Intel HEX record types: data, end of file, extended segment address,
# extended linear address.
_IHEX_DATA, _IHEX_EOF, _IHEX_SEGMENT, _IHEX_LINEAR = 0, 1, 2, 4
# S-record data records and the bytes of their address field.
_SREC_ADDRESS_BYTES = {"1": 2, "2": 3, "3": 4}
_SREC_TERMINATION = frozenset({"7", "8", "9"})


@dataclass
class _Range:
    """Records counted and the address range of the data seen so far."""

    records: int = 0
    start: int | None = None
    end: int | None = None

    def add(self, address: int, length: int) -> None:
        if length == 0:
            return
        last = address + length - 1
        self.start = address if self.start is None else min(self.start, address)
        self.end = last if self.end is None else max(self.end, last)


def _record_bytes(line: str) -> bytes | None:
    try:
        return bytes.fromhex(line)
    except ValueError:
        return None


def _intel_hex_valid(line: str) -> bool:
    """Check the length byte and the two's-complement checksum of a record."""
    if not _INTEL_HEX_LINE.fullmatch(line):
        return False
    record = _record_bytes(line[1:])
    return (
        record is not None and len(record) == record[0] + 5 and sum(record) % 256 == 0
    )


def _srec_valid(line: str) -> bool:
    """Check the count byte and the ones'-complement checksum of a record."""
    if not _SREC_LINE.fullmatch(line):
        return False
    record = _record_bytes(line[2:])
    return (
        record is not None
        and len(record) == record[0] + 1
        and sum(record) % 256 == 0xFF
    )


def _first_lines(text: str) -> list[str]:
    lines = text.lstrip("\ufeff").split("\n")
    complete = lines[:-1] if len(lines) > 1 else lines
    return [line.strip() for line in complete if line.strip()][:_LINES_CHECKED]


def firmware_format(text: str) -> str | None:
    """Name the firmware text format of ``text``: ``ihex``, ``srec`` or none."""
    lines = _first_lines(text)
    if not lines:
        return None
    if all(_intel_hex_valid(line) for line in lines):
        return "ihex"
    if all(_srec_valid(line) for line in lines):
        return "srec"
    return None


def describe_intel_hex(source: ByteSource, context: ReadContext) -> ObjectFields:
    """Count the records of an Intel HEX file and the range of its addresses."""
    found = _Range()
    base = 0
    ended = False
    for line in _lines(source, context):
        if not _intel_hex_valid(line):
            raise corrupt(
                source, context, f"Intel HEX record {found.records + 1} is invalid"
            )
        record = bytes.fromhex(line[1:])
        found.records += 1
        kind = record[3]
        payload = record[4:-1]
        if kind == _IHEX_DATA:
            found.add(base + int.from_bytes(record[1:3], "big"), len(payload))
        elif kind == _IHEX_SEGMENT:
            base = int.from_bytes(payload, "big") * 16
        elif kind == _IHEX_LINEAR:
            base = int.from_bytes(payload, "big") << 16
        elif kind == _IHEX_EOF:
            ended = True
            break
    _check_end(source, context, ended, "Intel HEX end-of-file record")
    return _fields(found)


def describe_srec(source: ByteSource, context: ReadContext) -> ObjectFields:
    """Count the records of an S-record file and the range of its addresses."""
    found = _Range()
    ended = False
    for line in _lines(source, context):
        if not _srec_valid(line):
            raise corrupt(source, context, f"S-record {found.records + 1} is invalid")
        record = bytes.fromhex(line[2:])
        found.records += 1
        kind = line[1]
        width = _SREC_ADDRESS_BYTES.get(kind)
        if width is not None:
            address = int.from_bytes(record[1 : 1 + width], "big")
            found.add(address, len(record) - width - 2)
        elif kind in _SREC_TERMINATION:
            ended = True
            break
    _check_end(source, context, ended, "S-record termination record (S7, S8 or S9)")
    return _fields(found)


def _lines(source: ByteSource, context: ReadContext) -> list[str]:
    data = source.read_range(0, FIRMWARE_READ_LIMIT)
    if source.size > len(data):
        cut = data.rfind(b"\n") + 1
        data = data[:cut]
        context.note(
            f"firmware records counted in the first {cut} of {source.size} bytes"
        )
    text = data.decode("ascii", errors="replace").lstrip("\ufeff")
    return [line.strip() for line in text.splitlines() if line.strip()]


def _check_end(
    source: ByteSource, context: ReadContext, ended: bool, what: str
) -> None:
    if not ended and source.size <= FIRMWARE_READ_LIMIT:
        raise corrupt(source, context, f"the {what} is missing")


def _fields(found: _Range) -> ObjectFields:
    return {
        "record_count": found.records,
        "address_start": found.start,
        "address_end": found.end,
    }
