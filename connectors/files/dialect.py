"""Sniff the layout of delimited text: delimiter, quote, preamble and header.

``csv.Sniffer`` picks a delimiter from character frequencies and often
chooses a character inside the values (a colon in times, a space in names).
Here every candidate delimiter parses the head with the ``csv`` module, and
the one under which the most rows share one field count wins, earlier
candidates winning ties.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

# Candidates in order of preference. The space comes last because prose also
# splits into words; the colon is left out because times contain it.
DELIMITERS = (",", "\t", ";", "|", "@", "^", "~", "\x01", " ")
_QUOTES = ('"', "'")

_SNIFF_ROWS = 200
# Share of rows, from the first table row on, that must have the modal field
# count for a delimiter to be accepted (higher for the space).
_MIN_CONSISTENCY = 0.8
_MIN_SPACE_CONSISTENCY = 0.95
# Rows after a candidate start that must agree before it counts as the start
# of the table rather than a preamble line.
_START_AGREEMENT = 3
# A preamble (title, author, export date) is a few lines at most.
_MAX_PREAMBLE_ROWS = 10

_NUMERIC = re.compile(r"[-+]?(\d[\d,_ ]*)?\.?\d+([eE][-+]?\d+)?%?")
_DATE_LIKE = re.compile(r"\d{1,4}[-/.:]\d{1,2}([-/.:]\d{1,4})?([ T].*)?")
_MAX_HEADER_LENGTH = 64
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class TextLayout:
    """Layout of a delimited text.

    ``delimiter`` is ``None`` for one value per line. ``preamble_rows`` counts
    the non-empty rows before the header or the first table row.
    """

    delimiter: str | None
    quotechar: str = '"'
    skipinitialspace: bool = False
    header: bool = True
    preamble_rows: int = 0
    width: int = 1

    def rows(self, text: str) -> Iterator[list[str] | None]:
        """Parse ``text`` into rows; yield ``None`` for a row that fails."""
        if self.delimiter is None:
            for line in _LINE_BREAK.split(text):
                yield [line]
            return
        reader = csv.reader(
            io.StringIO(text, newline=""),
            delimiter=self.delimiter,
            quotechar=self.quotechar,
            skipinitialspace=self.skipinitialspace,
            strict=False,
        )
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error:
                # The reader has consumed the bad line, so the loop moves on.
                yield None
                continue
            yield row


def sniff_layout(text: str) -> TextLayout:
    """Find the layout of the delimited text that starts with ``text``."""
    best: tuple[float, TextLayout] | None = None
    for delimiter in DELIMITERS:
        if delimiter not in text:
            continue
        candidate = _try_delimiter(text, delimiter)
        if candidate is None:
            continue
        if best is None or candidate[0] > best[0]:
            best = candidate

    if best is None:
        rows = _parse_rows(TextLayout(delimiter=None), text)
        return TextLayout(delimiter=None, header=_single_column_header(rows))
    return best[1]


def _try_delimiter(text: str, delimiter: str) -> tuple[float, TextLayout] | None:
    quotechar = _sniff_quote(text, delimiter)
    skip_space = delimiter == " " or _sniff_initial_space(text, delimiter, quotechar)
    layout = TextLayout(delimiter, quotechar, skip_space)
    rows = _parse_rows(layout, text)
    if not rows:
        return None

    counts = [len(row) for row in rows]
    width = Counter(counts).most_common(1)[0][0]
    if width < 2:
        return None
    start = _table_start(counts, width)
    if start > _MAX_PREAMBLE_ROWS or (delimiter == " " and start):
        # A long run of lines before the table, or prose before a run of
        # two-word lines, means the text is not one table.
        return None
    body = counts[start:]
    consistency = sum(1 for count in body if count == width) / len(body)
    needed = _MIN_SPACE_CONSISTENCY if delimiter == " " else _MIN_CONSISTENCY
    if consistency < needed:
        return None

    header = has_header(rows[start:])
    found = TextLayout(delimiter, quotechar, skip_space, header, start, width)
    # Rank by the share of all rows, preamble included, that fit the width:
    # a comma inside quoted text fits fewer rows than the real delimiter.
    return counts.count(width) / len(counts), found


def _parse_rows(layout: TextLayout, text: str) -> list[list[str]]:
    """Parse the first rows of ``text``, dropping empty rows.

    The last line is dropped when ``text`` was cut in the middle of it.
    """
    lines = text.splitlines(keepends=True)[: _SNIFF_ROWS * 2]
    if len(lines) > 1 and not lines[-1].endswith(("\n", "\r")):
        lines = lines[:-1]
    rows: list[list[str]] = []
    for row in layout.rows("".join(lines)):
        if row is not None and any(cell.strip() for cell in row):
            rows.append(row)
        if len(rows) >= _SNIFF_ROWS:
            break
    return rows


def _sniff_quote(text: str, delimiter: str) -> str:
    """Pick ``'`` when more fields open with it than with ``"``."""
    opened: Counter[str] = Counter()
    for line in text.splitlines()[:_SNIFF_ROWS]:
        for cell in line.split(delimiter):
            stripped = cell.lstrip()
            if stripped[:1] in _QUOTES:
                opened[stripped[0]] += 1
    return "'" if opened["'"] > opened['"'] else '"'


def _sniff_initial_space(text: str, delimiter: str, quotechar: str) -> bool:
    """Tell whether most values after a delimiter start with a space."""
    after = Counter(
        cell[:1] == " "
        for line in text.splitlines()[:_SNIFF_ROWS]
        for cell in line.split(delimiter)[1:]
        if cell
    )
    return after[True] > after[False]


def _table_start(counts: Sequence[int], width: int) -> int:
    """Return the index of the first row that starts a run of ``width`` rows."""
    for index, count in enumerate(counts):
        if count != width:
            continue
        following = counts[index : index + _START_AGREEMENT]
        if all(other == width for other in following):
            return index
    return 0


def has_header(rows: Sequence[Sequence[str]]) -> bool:
    """Decide whether the first of ``rows`` names the columns.

    Each column votes. A numeric or date-like first cell votes against, and
    so does a first cell repeated among the values. A text first cell over
    numeric values votes for, and so does a first cell whose length differs
    from the values when these all have one length. Without votes, a first
    row of short, non-numeric cells is taken as a header. Repeated names
    (``phone,phone,id``) do not count against a header.
    """
    if not rows:
        return False
    first = [cell.strip() for cell in rows[0]]
    named = [cell for cell in first if cell]
    if not named:
        return False
    if len(rows) == 1:
        return all(_is_name_like(cell) for cell in named)

    votes = sum(
        _column_vote(index, cell, rows[1:51]) for index, cell in enumerate(first)
    )
    if votes != 0:
        return votes > 0
    return all(_is_name_like(cell) for cell in named)


def _column_vote(index: int, cell: str, rows: Sequence[Sequence[str]]) -> int:
    values = [row[index].strip() for row in rows if index < len(row)]
    values = [value for value in values if value]
    if not cell or not values:
        return 0
    if _is_numeric(cell):
        return -1
    if sum(1 for value in values if _is_numeric(value)) > 0.8 * len(values):
        return 1
    if cell in values:
        return -1
    lengths = {len(value) for value in values}
    if len(lengths) == 1 and len(cell) not in lengths:
        return 1
    return 0


def _single_column_header(rows: Sequence[Sequence[str]]) -> bool:
    """Decide whether a one-column text starts with a column name."""
    if len(rows) < 2 or not rows[0]:
        return False
    cell = rows[0][0].strip()
    values = [row[0].strip() for row in rows[1:51] if row]
    if not _is_name_like(cell) or cell in values:
        return False
    return not cell.endswith((".", "?", "!", ",", ";", ":"))


def _is_numeric(cell: str) -> bool:
    return bool(_NUMERIC.fullmatch(cell) or _DATE_LIKE.fullmatch(cell))


def _is_name_like(cell: str) -> bool:
    return len(cell) <= _MAX_HEADER_LENGTH and not _is_numeric(cell)
