"""Contact details: mainland phone numbers and e-mail addresses."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from classifiers.validators._arrays import BoolArray, regex_mask, to_mask
from classifiers.validators.base import validator

# Country code of the mainland written as +86, 0086 or 86, optionally in
# parentheses, then an optional separator.
_COUNTRY_CODE = r"\(?(?:\+|00)?86\)?"
_SEPARATOR = r"[\s.-]?"

# Mobile numbers are 11 digits starting 13 to 19, written 3-4-4 when grouped.
_MOBILE_NUMBER = rf"1[3-9][0-9]{_SEPARATOR}[0-9]{{4}}{_SEPARATOR}[0-9]{{4}}"
_MOBILE = rf"^(?:{_COUNTRY_CODE}{_SEPARATOR})?{_MOBILE_NUMBER}$"


@validator("mobile_phone")
def mobile_phone(values: pa.Array) -> BoolArray:
    """Mainland mobile number ``1[3-9]`` + 9 digits, in its usual spellings.

    Accepts a ``+86``, ``0086`` or ``86`` prefix (also in parentheses) and
    spaces, dashes or dots between the 3-4-4 digit groups. Normalisation
    folds full-width digits.
    """
    return regex_mask(values, _MOBILE)


# Landline area codes: 010 and 020-029 are followed by 8-digit local numbers,
# the 3-digit codes 03xx-09xx by 7 or 8 digits. Local numbers never start
# with 0 or 1.
_AREA_TWO_DIGITS = "(?:10|2[0-9])"
_AREA_THREE_DIGITS = "[3-9][0-9]{2}"
_LOCAL_8 = r"[2-9][0-9]{3}[\s-]?[0-9]{4}"
_LOCAL_7 = r"[2-9][0-9]{2}[\s-]?[0-9]{4}"
_EXTENSION = r"(?:\s*(?:-|转|ext\.?|x|#)\s*[0-9]{1,6})?"


def _landline_form(area: str, local: str) -> str:
    domestic = rf"(?:0{area}|\(0{area}\))"
    # After +86 the trunk prefix 0 may be dropped or kept, so it is optional.
    international = rf"(?:\+|00)86[\s-]?(?:\(0?{area}\)|0?{area})"
    return rf"(?:{domestic}|{international})[\s-]?{local}"


_LANDLINE = (
    "(?i)^(?:"
    + _landline_form(_AREA_TWO_DIGITS, _LOCAL_8)
    + "|"
    + _landline_form(_AREA_THREE_DIGITS, f"(?:{_LOCAL_8}|{_LOCAL_7})")
    + f"){_EXTENSION}$"
)


@validator("landline_phone")
def landline_phone(values: pa.Array) -> BoolArray:
    """Mainland landline number with area code, e.g. ``010-8888 8888``.

    Area code 0 + 2 or 3 digits (optionally in parentheses, or after +86
    without the 0), an optional dash or space, a 7- or 8-digit local number
    and an optional extension (``-123``, ``转123``, ``ext 123``).
    """
    return regex_mask(values, _LANDLINE)


@validator("phone")
def phone(values: pa.Array) -> BoolArray:
    """Mainland mobile or landline number."""
    return mobile_phone.check(values) | landline_phone.check(values)


# E-mail addresses: a dot-atom local part (RFC 5322, without quoted strings or
# comments) and a domain of letter-digit-hyphen labels with an alphabetic
# top-level label or a punycode one. Any non-ASCII character counts as a
# letter, for internationalised addresses (RFC 6531). Unicode classes such
# as \p{L} are avoided because RE2 takes about a millisecond to compile each.
_NON_ASCII = r"\x{80}-\x{10FFFF}"
_ATOM = rf"[A-Za-z0-9{_NON_ASCII}!#$%&'*+/=?^_`{{|}}~-]+"
_LOCAL_PART = rf"{_ATOM}(?:\.{_ATOM})*"
_LABEL_CHAR = rf"[A-Za-z0-9{_NON_ASCII}]"
_LABEL = rf"{_LABEL_CHAR}(?:[A-Za-z0-9{_NON_ASCII}-]*{_LABEL_CHAR})?"
_TOP_LABEL = rf"(?:[A-Za-z{_NON_ASCII}]{{2,}}|(?i:xn--)[A-Za-z0-9-]+)"
_EMAIL = rf"^{_LOCAL_PART}@(?:{_LABEL}\.)+{_TOP_LABEL}$"
# RFC 1035 limits a domain label to 63 octets. The limit is a separate test
# because a bounded repetition of a Unicode class makes RE2 many times slower.
_LONG_DOMAIN_LABEL = r"@(?:[^.]*\.)*[^.@]{64}"
# RFC 5321 limits: 64 octets before the @ and 254 in the whole address.
_MAX_LOCAL_BYTES = 64
_MAX_ADDRESS_BYTES = 254


@validator("email")
def email(values: pa.Array) -> BoolArray:
    """E-mail address ``local@domain.tld`` with no spaces or quoted parts."""
    shaped = regex_mask(values, _EMAIL) & ~regex_mask(values, _LONG_DOMAIN_LABEL)
    local_ok = to_mask(pc.less_equal(pc.find_substring(values, "@"), _MAX_LOCAL_BYTES))
    length_ok = to_mask(pc.less_equal(pc.binary_length(values), _MAX_ADDRESS_BYTES))
    return shaped & local_ok & length_ok
