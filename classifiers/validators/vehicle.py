"""Vehicle identifiers: VIN and Chinese licence plates."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from classifiers.validators._arrays import (
    BoolArray,
    ByteMatrix,
    byte_lengths,
    fixed_width_matrix,
    regex_mask,
    scatter,
)
from classifiers.validators.base import validator

VIN_LENGTH = 17

# ISO 3779 / GB 16735 transliteration of VIN characters to numbers for the
# check digit. I, O and Q are not part of the VIN alphabet (-1 here).
_VIN_LETTER_VALUES = {
    "A": 1, "B": 2, "C": 3, "D": 4, "E": 5, "F": 6, "G": 7, "H": 8,
    "J": 1, "K": 2, "L": 3, "M": 4, "N": 5, "P": 7, "R": 9,
    "S": 2, "T": 3, "U": 4, "V": 5, "W": 6, "X": 7, "Y": 8, "Z": 9,
}  # fmt: skip
_VIN_VALUES = np.full(256, -1, dtype=np.int16)
_VIN_VALUES[ord("0") : ord("9") + 1] = np.arange(10)
for _letter, _value in _VIN_LETTER_VALUES.items():
    _VIN_VALUES[ord(_letter)] = _value
    _VIN_VALUES[ord(_letter.lower())] = _value

# Weights of the 17 positions. Position 9 is the check digit, with weight 0.
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_CHECK_POSITION = 8


def _vin_candidates(values: pa.Array) -> tuple[BoolArray, ByteMatrix, BoolArray]:
    """Return the 17-byte rows, their matrix, and which are VIN-shaped."""
    rows = byte_lengths(values) == VIN_LENGTH
    matrix = fixed_width_matrix(values, rows, VIN_LENGTH)
    in_alphabet = np.all(_VIN_VALUES[matrix] >= 0, axis=1)
    is_digit = (matrix >= ord("0")) & (matrix <= ord("9"))
    shaped = in_alphabet & is_digit.any(axis=1) & ~is_digit.all(axis=1)
    return rows, matrix, shaped


def _check_digit_valid(matrix: ByteMatrix) -> BoolArray:
    numbers = _VIN_VALUES[matrix]
    total = np.zeros(len(matrix), dtype=np.int64)
    for position, weight in enumerate(_VIN_WEIGHTS):
        total += numbers[:, position] * weight
    remainder = total % 11
    expected = np.where(remainder == 10, ord("X"), ord("0") + remainder)
    actual = matrix[:, _CHECK_POSITION]
    actual = np.where(actual == ord("x"), ord("X"), actual)
    return np.asarray(actual == expected, dtype=np.bool_)


@validator("vin")
def vin(values: pa.Array) -> BoolArray:
    """Vehicle identification number with a valid check digit in position 9.

    17 characters of the VIN alphabet (digits and letters other than I, O
    and Q, in either case), at least one digit and one letter, and the
    ISO 3779 / GB 16735 check digit (remainder 10 written X). Every WMI
    contains a letter, so 17-digit numbers such as millisecond timestamps
    are rejected even when their digit 9 happens to fit.
    """
    rows, matrix, shaped = _vin_candidates(values)
    return scatter(rows, shaped & _check_digit_valid(matrix))


@validator("vin_shape")
def vin_shape(values: pa.Array) -> BoolArray:
    """VIN-shaped value: 17 VIN-alphabet characters with a digit and a letter.

    The check digit is not tested, because VINs built to the European rules
    often carry none.
    """
    rows, _, shaped = _vin_candidates(values)
    return scatter(rows, shaped)


# Province abbreviations on GA 36 licence plates.
_PROVINCE = "[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼]"
_AUTHORITY = "[A-HJ-NP-Z]"
_SEPARATOR = "[·\\- ]?"
_SERIAL_CHAR = "[A-HJ-NP-Z0-9]"
# Trailer, driving school, police, Hong Kong and Macau cross-border plates
# end in a character instead of the fifth serial character.
_SPECIAL_SUFFIX = "[挂学警港澳]"
_ORDINARY_SERIAL = f"{_SERIAL_CHAR}{{4}}(?:{_SERIAL_CHAR}|{_SPECIAL_SUFFIX})"
# GA 36-2018 new-energy plates have six serial characters. On small vehicles
# D (battery electric) or F (other new energy) comes first, then a letter or
# digit and four digits. On large vehicles five digits come before D or F.
_NEW_ENERGY_SERIAL = f"(?:[DF]{_SERIAL_CHAR}[0-9]{{4}}|[0-9]{{5}}[DF])"
_LICENCE_PLATE = (
    f"(?i)^{_PROVINCE}{_AUTHORITY}{_SEPARATOR}"
    f"(?:{_ORDINARY_SERIAL}|{_NEW_ENERGY_SERIAL})$"
)


@validator("licence_plate")
def licence_plate(values: pa.Array) -> BoolArray:
    """Chinese licence plate number, ordinary or new-energy (GA 36-2018).

    Province character, issuing-authority letter (not I or O), an optional
    ``·``, ``-`` or space, then five serial characters (the last may be
    挂, 学, 警, 港 or 澳) or the six of a new-energy plate. Latin letters may
    be in either case.
    """
    # NOTE: only the D and F new-energy prefixes of GA 36-2018 are accepted,
    # and embassy, consulate and military plates are not recognised.
    return regex_mask(values, _LICENCE_PLATE)
