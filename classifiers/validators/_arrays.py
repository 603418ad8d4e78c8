"""Arrow and numpy building blocks shared by the validators.

The helpers take one string array (``string`` or ``large_string``) that
``normalise`` has already cleaned, and return numpy arrays with one entry per
value, so that each validator reads as a few masks combined with ``&`` and
``|``. Fixed-width identifiers are checked on a ``(count, width)`` matrix of
their UTF-8 bytes, in which column ``i`` is byte ``i`` of every candidate, so
a checksum is a short loop over the columns.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
ByteMatrix = npt.NDArray[np.uint8]

ASCII_ZERO = ord("0")


def to_mask(values: pa.Array | pa.ChunkedArray) -> BoolArray:
    """Convert an Arrow boolean array to numpy, with nulls as False."""
    filled = pc.fill_null(values, False)
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=np.bool_)


def regex_mask(values: pa.Array, pattern: str) -> BoolArray:
    """Return where the RE2 ``pattern`` matches (anchor it for whole values)."""
    return to_mask(pc.match_substring_regex(values, pattern))


def byte_lengths(values: pa.Array) -> IntArray:
    """Return the UTF-8 length of every value in bytes, -1 for nulls."""
    lengths = pc.fill_null(pc.binary_length(values), -1)
    return np.asarray(lengths.to_numpy(), dtype=np.int64)


def strip_chars(values: pa.Array, chars: str) -> pa.Array:
    """Remove every occurrence of each character in ``chars``."""
    for char in chars:
        values = pc.replace_substring(values, char, "")
    return values


def scatter(rows: BoolArray, results: BoolArray) -> BoolArray:
    """Spread the results computed for the selected rows over all rows."""
    out = np.zeros(len(rows), dtype=np.bool_)
    out[rows] = results
    return out


def fixed_width_matrix(values: pa.Array, rows: BoolArray, width: int) -> ByteMatrix:
    """Return the bytes of the selected values as a ``(count, width)`` matrix.

    Every selected value must be exactly ``width`` bytes long and not null.
    Arrow stores the values of a string array back to back, so the bytes of
    the filtered array form the matrix without a further copy.
    """
    selected = values.filter(pa.array(rows, type=pa.bool_()))
    count = len(selected)
    if count == 0:
        return np.zeros((0, width), dtype=np.uint8)

    offset_type = np.int64 if pa.types.is_large_string(selected.type) else np.int32
    offsets = np.frombuffer(selected.buffers()[1], dtype=offset_type)
    first = int(offsets[selected.offset])
    data = np.frombuffer(selected.buffers()[2], dtype=np.uint8)
    return data[first : first + count * width].reshape(count, width)


def digit_matrix(matrix: ByteMatrix) -> npt.NDArray[np.int16]:
    """Return the digit value of every byte (meaningless where not a digit)."""
    return matrix.astype(np.int16) - ASCII_ZERO


def all_digits(matrix: ByteMatrix) -> BoolArray:
    """Return, per row, whether every byte of the matrix is an ASCII digit."""
    return np.all((matrix >= ord("0")) & (matrix <= ord("9")), axis=1)


def column_number(digits: npt.NDArray[np.int16], start: int, width: int) -> IntArray:
    """Read the decimal number written in columns ``start`` to ``start + width``."""
    number = np.zeros(len(digits), dtype=np.int64)
    for column in range(start, start + width):
        number = number * 10 + digits[:, column]
    return number


def right_aligned_digits(
    values: pa.Array, rows: BoolArray, lengths: IntArray, width: int
) -> npt.NDArray[np.int16]:
    """Return the selected digit strings as digit values, right-aligned.

    Shorter values are padded with zeros on the left, which changes neither
    a Luhn sum nor the value of a number. The loop runs once per distinct
    length, at most ``width`` times.
    """
    selected_lengths = lengths[rows]
    out = np.zeros((len(selected_lengths), width), dtype=np.int16)
    for length in np.unique(selected_lengths):
        in_group = selected_lengths == length
        group = fixed_width_matrix(values, rows & (lengths == length), int(length))
        out[in_group, width - int(length) :] = digit_matrix(group)
    return out


# Luhn: every second digit from the right is doubled and its digits summed.
_LUHN_DOUBLED = np.array([0, 2, 4, 6, 8, 1, 3, 5, 7, 9], dtype=np.int16)


def luhn_valid(digits: npt.NDArray[np.int16]) -> BoolArray:
    """Return, per row of right-aligned digit values, whether Luhn holds."""
    from_right = digits[:, ::-1]
    kept = from_right[:, 0::2].sum(axis=1, dtype=np.int64)
    doubled = _LUHN_DOUBLED[from_right[:, 1::2]].sum(axis=1, dtype=np.int64)
    return np.asarray((kept + doubled) % 10 == 0, dtype=np.bool_)


_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def is_calendar_date(year: IntArray, month: IntArray, day: IntArray) -> BoolArray:
    """Return where (year, month, day) is a real Gregorian calendar date."""
    month_ok = (month >= 1) & (month <= 12)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    last_day = _DAYS_IN_MONTH[np.where(month_ok, month, 0)] + (leap & (month == 2))
    return np.asarray(month_ok & (day >= 1) & (day <= last_day), dtype=np.bool_)
