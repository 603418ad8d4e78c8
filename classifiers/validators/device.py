"""Device and SIM identifiers: IMEI, IMSI, ICCID and MAC addresses."""

from __future__ import annotations

import pyarrow as pa

from classifiers.validators._arrays import (
    BoolArray,
    byte_lengths,
    regex_mask,
    strip_chars,
)
from classifiers.validators.base import validator
from classifiers.validators.payment import DIGIT_GROUP_SEPARATORS, luhn_digits


@validator("imei")
def imei(values: pa.Array) -> BoolArray:
    """IMEI: 15 digits ending in a Luhn check digit, not all zeros.

    Spaces and dashes between digit groups are ignored. The 14-digit form
    without check digit and the 16-digit IMEISV carry no check, so any
    number of that length would pass. Neither form is accepted.
    """
    digits = strip_chars(values, DIGIT_GROUP_SEPARATORS)
    all_zero = regex_mask(digits, "^0+$")
    return luhn_digits(digits, "^[0-9]{15}$", 15) & ~all_zero


# Mobile network codes assigned under the mainland country code 460
# (ITU-T E.212), as listed in the MCC/MNC table of python-stdnum 2.2.
MAINLAND_MNCS = ("00", "01", "02", "03", "04", "05", "06", "07", "08", "09",
                 "11", "15", "20")  # fmt: skip
_IMSI = "^460(?:" + "|".join(MAINLAND_MNCS) + ")[0-9]{10}$"


@validator("imsi")
def imsi(values: pa.Array) -> BoolArray:
    """Mainland IMSI: 15 digits, country code 460 and an assigned network code.

    Spaces and dashes between digit groups are ignored.
    """
    return regex_mask(strip_chars(values, DIGIT_GROUP_SEPARATORS), _IMSI)


# ICCID (ITU-T E.118): 89, country and issuer digits, account digits and a
# Luhn check digit, 19 or 20 digits in all. A 19-digit ICCID read from a SIM
# may be padded with a trailing F. Mainland operators (prefix 8986) also
# issue ICCIDs with hexadecimal letters in the issuer part, where no Luhn
# check applies.
_ICCID_DIGITS = "^89[0-9]{17,18}$"
_ICCID_PADDED = "(?i)^89[0-9]{17}F$"
# A letter only in the last place is the F padding, handled above.
_ICCID_MAINLAND_HEX = "(?i)^8986[0-9A-F]*[A-F][0-9A-F]+$"
_ICCID_LENGTH = 20


@validator("iccid")
def iccid(values: pa.Array) -> BoolArray:
    """SIM card number (ICCID): 89 + 17 or 18 digits passing Luhn.

    Also accepts a 19-digit ICCID padded with F to 20 characters, and the
    20-character mainland ICCIDs (8986...) with hexadecimal letters, which
    are accepted without a checksum. Spaces and dashes are ignored.
    """
    compact = strip_chars(values, DIGIT_GROUP_SEPARATORS)
    digits = luhn_digits(compact, _ICCID_DIGITS, _ICCID_LENGTH)

    unpadded = strip_chars(compact, "Ff")
    padded = regex_mask(compact, _ICCID_PADDED) & luhn_digits(
        unpadded, _ICCID_DIGITS, _ICCID_LENGTH
    )

    mainland_hex = regex_mask(compact, _ICCID_MAINLAND_HEX) & (
        byte_lengths(compact) == _ICCID_LENGTH
    )
    return digits | padded | mainland_hex


# MAC-48 addresses: six hexadecimal octets separated by colons or dashes,
# the Cisco form of three dot-separated groups of four, or 12 bare hex digits.
_OCTET = "[0-9A-Fa-f]{2}"
_QUAD = "[0-9A-Fa-f]{4}"
_MAC_SEPARATED = (
    f"^(?:{_OCTET}(?::{_OCTET}){{5}}|{_OCTET}(?:-{_OCTET}){{5}}"
    f"|{_QUAD}\\.{_QUAD}\\.{_QUAD})$"
)
_MAC_BARE = "^[0-9A-Fa-f]{12}$"
# The all-zero address is a placeholder and the all-ones address is the
# broadcast address. Neither identifies a device.
_MAC_PLACEHOLDER = "^(?:[0:.-]+|[Ff:.-]+)$"


@validator("mac_address")
def mac_address(values: pa.Array) -> BoolArray:
    """MAC address: ``aa:bb:cc:dd:ee:ff``, ``aa-bb-...``, ``aabb.ccdd.eeff``.

    Twelve bare hex digits count only when at least one is a letter,
    because 12-digit decimal numbers such as a date and time
    (``202103041530``) are common in other columns. The all-zero and
    broadcast addresses are rejected.
    """
    bare = regex_mask(values, _MAC_BARE) & regex_mask(values, "[A-Fa-f]")
    shaped = regex_mask(values, _MAC_SEPARATED) | bare
    return shaped & ~regex_mask(values, _MAC_PLACEHOLDER)
