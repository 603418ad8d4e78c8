"""Luhn-checked numbers: the bare Luhn check and payment card numbers."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from classifiers.validators._arrays import (
    BoolArray,
    byte_lengths,
    luhn_valid,
    regex_mask,
    right_aligned_digits,
    scatter,
    strip_chars,
    to_mask,
)
from classifiers.validators.base import validator

#: Characters people put between digit groups of card and device numbers.
DIGIT_GROUP_SEPARATORS = " -"

#: Maximum number of digits the bare Luhn validator accepts.
MAX_LUHN_DIGITS = 64


def luhn_digits(values: pa.Array, pattern: str, width: int) -> BoolArray:
    """Return where a value matching ``pattern`` (digits only) passes Luhn.

    ``width`` is the maximum number of digits that ``pattern`` allows.
    """
    rows = regex_mask(values, pattern)
    digits = right_aligned_digits(values, rows, byte_lengths(values), width)
    return scatter(rows, luhn_valid(digits))


@validator("luhn")
def luhn(values: pa.Array) -> BoolArray:
    """Digit string of 2 to 64 digits that passes the Luhn check (ISO/IEC 7812).

    Spaces and dashes between digits are ignored.
    """
    digits = strip_chars(values, DIGIT_GROUP_SEPARATORS)
    return luhn_digits(digits, rf"^[0-9]{{2,{MAX_LUHN_DIGITS}}}$", MAX_LUHN_DIGITS)


# ISO/IEC 7812 card numbers: 16 to 19 digits ending in a Luhn check digit.
# The first digit (major industry identifier) is never 0 on a payment card,
# which also rules out zero-padded placeholders.
_CARD_NUMBER = "^[1-9][0-9]{15,18}$"
_MAX_CARD_DIGITS = 19


@validator("bank_card")
def bank_card(values: pa.Array) -> BoolArray:
    """Payment card number: 16 to 19 digits passing Luhn, not starting with 0.

    Spaces and dashes between digit groups are ignored.
    """
    digits = strip_chars(values, DIGIT_GROUP_SEPARATORS)
    return luhn_digits(digits, _CARD_NUMBER, _MAX_CARD_DIGITS)


# Issuer identification numbers starting 62 belong to China UnionPay.
_MAINLAND_PREFIX = "62"


@validator("bank_card_cn")
def bank_card_cn(values: pa.Array) -> BoolArray:
    """Payment card number whose issuer number starts 62 (China UnionPay).

    NOTE: mainland cards on other networks (Visa, Mastercard co-branded)
    and older domestic issuer numbers are not recognised as mainland cards.
    """
    digits = strip_chars(values, DIGIT_GROUP_SEPARATORS)
    mainland = to_mask(pc.starts_with(digits, _MAINLAND_PREFIX))
    return mainland & luhn_digits(digits, _CARD_NUMBER, _MAX_CARD_DIGITS)
