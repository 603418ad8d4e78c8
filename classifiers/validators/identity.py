"""Identity document numbers: resident ID, passports and travel permits."""

from __future__ import annotations

import datetime

import numpy as np
import pyarrow as pa

from classifiers.validators._arrays import (
    BoolArray,
    ByteMatrix,
    all_digits,
    byte_lengths,
    column_number,
    digit_matrix,
    fixed_width_matrix,
    is_calendar_date,
    regex_mask,
    scatter,
)
from classifiers.validators.base import validator

# Province-level codes of GB/T 2260 (first two digits of the region code),
# plus 71 (Taiwan), 81 (Hong Kong) and 82 (Macau). 83 is the prefix of the
# residence permits for Taiwan residents, which share the resident ID layout.
PROVINCE_CODES = (
    *range(11, 16),
    *range(21, 24),
    *range(31, 38),
    *range(41, 47),
    *range(50, 55),
    *range(61, 66),
    71,
    81,
    82,
    83,
)
_PROVINCE_TABLE = np.zeros(100, dtype=np.bool_)
_PROVINCE_TABLE[list(PROVINCE_CODES)] = True

#: Oldest birth year accepted in an 18-character resident ID.
MIN_BIRTH_YEAR = 1900

# GB 11643-1999 check character: position i (1 = leftmost) has weight
# 2**(18 - i) mod 11, and the weighted sum of all 18 characters, with X as 10,
# is 1 mod 11.
_ID_WEIGHTS = tuple(2 ** (17 - i) % 11 for i in range(17))


def _region_and_date_valid(
    digits: np.ndarray, year: np.ndarray, date_start: int, max_year: int
) -> BoolArray:
    # Clipped because rows containing non-digits have meaningless values
    # here. The digit check rejects those rows.
    province = np.clip(digits[:, 0] * 10 + digits[:, 1], 0, 99)
    date_ok = is_calendar_date(
        year,
        column_number(digits, date_start, 2),
        column_number(digits, date_start + 2, 2),
    )
    year_ok = (year >= MIN_BIRTH_YEAR) & (year <= max_year)
    return np.asarray(_PROVINCE_TABLE[province] & date_ok & year_ok, dtype=np.bool_)


def _check_character_valid(matrix: ByteMatrix, digits: np.ndarray) -> BoolArray:
    total = np.zeros(len(matrix), dtype=np.int64)
    for position, weight in enumerate(_ID_WEIGHTS):
        total += digits[:, position] * weight
    expected = (12 - total % 11) % 11

    last = matrix[:, 17]
    is_x = (last == ord("X")) | (last == ord("x"))
    last_value = np.where(is_x, 10, last.astype(np.int64) - ord("0"))
    last_ok = is_x | ((last >= ord("0")) & (last <= ord("9")))
    return np.asarray(last_ok & (last_value == expected), dtype=np.bool_)


def _valid_18(matrix: ByteMatrix) -> BoolArray:
    digits = digit_matrix(matrix)
    year = column_number(digits, 6, 4)
    current_year = datetime.date.today().year
    return (
        all_digits(matrix[:, :17])
        & _check_character_valid(matrix, digits)
        & _region_and_date_valid(digits, year, 10, current_year)
    )


def _valid_15(matrix: ByteMatrix) -> BoolArray:
    # The 15-digit form, older than GB 11643-1999, has a two-digit year in
    # 19YY and no check character.
    digits = digit_matrix(matrix)
    year = 1900 + column_number(digits, 6, 2)
    return all_digits(matrix) & _region_and_date_valid(digits, year, 8, 1999)


@validator("resident_id")
def resident_id(values: pa.Array) -> BoolArray:
    """Chinese resident ID number (GB 11643), 18-character or 15-digit form.

    The 18-character form has a region code whose first two digits are a
    GB/T 2260 province code, and a birth date YYYYMMDD. The date must exist
    and its year must be 1900 to the current year. A 3-digit sequence number
    and the check character (0-9, or X in either case) follow. The 15-digit
    form has the region code, a birth date YYMMDD read as 19YY and the
    sequence number, with no check character.
    """
    lengths = byte_lengths(values)
    result = np.zeros(len(values), dtype=np.bool_)
    for length, check in ((18, _valid_18), (15, _valid_15)):
        rows = lengths == length
        if rows.any():
            result |= scatter(rows, check(fixed_width_matrix(values, rows, length)))
    return result


@validator("resident_id_shape")
def resident_id_shape(values: pa.Array) -> BoolArray:
    """Any value shaped like a resident ID: 17 digits + digit or X, or 15 digits.

    Nothing is validated, so the share of shaped values that fail
    ``resident_id`` measures near misses (test data, typing errors).
    """
    return regex_mask(values, r"^(?:[0-9]{17}[0-9Xx]|[0-9]{15})$")


# Chinese passport numbers, from public summaries of the numbering rules of
# the PRC exit and entry administration, because no official specification
# was available. Ordinary e-passports: E + 8 digits until April 2017, then
# E + a letter other than I or O + 7 digits. Older ordinary passports:
# G + 8 digits. Official passports: PE, SE or DE + 7 digits. Service
# passports: S + 8 digits. Hong Kong SAR passports: K + 8 digits. Macau SAR
# passports: MA + 7 digits.
_LETTER_NO_I_O = "[A-HJ-NP-Z]"
_PASSPORT_FORMS = (
    "E[0-9]{8}",
    f"E{_LETTER_NO_I_O}[0-9]{{7}}",
    "G[0-9]{8}",
    "[PSD]E[0-9]{7}",
    "S[0-9]{8}",
    "K[0-9]{8}",
    "MA[0-9]{7}",
)
_PASSPORT = "(?i)^(?:" + "|".join(_PASSPORT_FORMS) + ")$"


@validator("passport")
def passport(values: pa.Array) -> BoolArray:
    """Chinese passport number (PRC, Hong Kong SAR and Macau SAR passports).

    Letters may be in either case. The format carries no check digit, so
    any code with the same shape passes; weigh it with a column name hint.
    """
    return regex_mask(values, _PASSPORT)


# Exit-entry permits for Hong Kong and Macau. The Home Return Permit of Hong
# Kong (H) and Macau (M) residents has 8 digits, followed by a 2-digit issue
# count that is often left out. The card permit of mainland residents
# travelling to Hong Kong and Macau is C + 8 digits.
_HK_MACAU_PERMIT = "(?i)^(?:[HM][0-9]{8}(?:[0-9]{2})?|C[0-9]{8})$"


@validator("hk_macau_permit")
def hk_macau_permit(values: pa.Array) -> BoolArray:
    """Hong Kong and Macau travel permit number: H/M + 8 or 10 digits, C + 8.

    Letters may be in either case. There is no check digit.
    """
    return regex_mask(values, _HK_MACAU_PERMIT)


@validator("tw_permit")
def tw_permit(values: pa.Array) -> BoolArray:
    """Taiwan residents' mainland travel permit number (card form): 8 digits.

    The card permit issued since 2015 carries a bare 8-digit number, so any
    8-digit value passes: use this only together with a column name hint.
    """
    return regex_mask(values, r"^[0-9]{8}$")
