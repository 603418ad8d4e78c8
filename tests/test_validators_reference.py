"""Validators compared with reference implementations and public test vectors.

python-stdnum (a test-only dependency) is the reference for resident IDs,
the ISO 7064 MOD 11-2 check, Luhn, IMEI, IMSI and MAC addresses. The standard
library's ipaddress and datetime are the references for IP addresses and
dates. python-stdnum has no VIN module, so VINs are compared with a scalar
check written in this file.
"""

from __future__ import annotations

import csv
import datetime
import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import imei as stdnum_imei
from stdnum import imsi as stdnum_imsi
from stdnum import luhn as stdnum_luhn
from stdnum import mac as stdnum_mac
from stdnum.cn import ric
from stdnum.exceptions import ValidationError
from stdnum.iso7064 import mod_11_2

from classifiers.validators import VALIDATORS, is_valid
from scanner.masking import mask_value

REPO_ROOT = Path(__file__).resolve().parent.parent
DATASETS = Path(
    os.environ.get("CARDEX_DATASETS", REPO_ROOT.parent / "shared" / "datasets")
)
ID_VECTORS = DATASETS / "cn-id-number-vectors" / "cn_id_vectors.csv"

# Most examples are lists of up to 10 values checked in one call, so 150
# examples compare up to 1,500 values with the reference and keep the file
# fast.
REFERENCE = settings(max_examples=150, deadline=None)
# Generating e-mail addresses is slow, so that test draws fewer.
FEW = settings(max_examples=40, deadline=None)
DIGITS = "0123456789"
TODAY = datetime.date.today()

# GB/T 2260 province-level codes, plus 83 (Taiwan residents' residence permit).
PROVINCES = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43,
    44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83,
]  # fmt: skip


def run(name: str, values: Sequence[str | None]) -> list[bool]:
    """Call one validator on a batch, as the scanner does."""
    return list(VALIDATORS[name](pa.array(values, type=pa.string())).tolist())


def digit_strings(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    return st.text(DIGITS, min_size=min_size, max_size=max_size)


def with_luhn_digit(
    body: st.SearchStrategy[str],
) -> st.SearchStrategy[str]:
    """Half valid, half random: append the Luhn check digit or a random one."""
    return st.one_of(
        body.map(lambda b: b + stdnum_luhn.calc_check_digit(b)),
        st.tuples(body, st.sampled_from(DIGITS)).map("".join),
    )


# Resident ID numbers.


def reference_resident_id(number: str) -> bool:
    """Resident ID verdict built from python-stdnum's check character and date."""
    if len(number) == 15:
        if not all(c in DIGITS for c in number):
            return False
        try:
            datetime.date(
                1900 + int(number[6:8]), int(number[8:10]), int(number[10:12])
            )
        except ValueError:
            return False
        return int(number[:2]) in PROVINCES
    if len(number) != 18 or not all(c in DIGITS for c in number[:17]):
        return False
    if number[17].upper() != ric.calc_check_digit(number):
        return False
    try:
        birth = ric.get_birth_date(number)
    except ValidationError:
        return False
    return 1900 <= birth.year <= TODAY.year and int(number[:2]) in PROVINCES


@st.composite
def resident_ids(draw: st.DrawFn) -> str:
    province = draw(st.sampled_from(PROVINCES))
    county = draw(digit_strings(4, 4))
    birth = draw(st.dates(datetime.date(1900, 1, 1), TODAY))
    sequence = draw(digit_strings(3, 3))
    body = f"{province}{county}{birth:%Y%m%d}{sequence}"
    return body + ric.calc_check_digit(body + "0")


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[str], alphabet: str) -> str:
    """Replace one character of a valid value, which usually breaks it."""
    value = draw(base)
    position = draw(st.integers(0, len(value) - 1))
    return value[:position] + draw(st.sampled_from(alphabet)) + value[position + 1 :]


ID_CANDIDATES = st.one_of(
    resident_ids(),
    resident_ids().map(str.lower),
    mutated(resident_ids(), DIGITS + "Xx"),
    st.text(DIGITS + "X", min_size=18, max_size=18),
)


@REFERENCE
@given(st.lists(ID_CANDIDATES, min_size=1, max_size=10))
def test_resident_id_matches_stdnum_parts(numbers: list[str]) -> None:
    assert run("resident_id", numbers) == [reference_resident_id(n) for n in numbers]


def stdnum_region_codes() -> list[str]:
    """Six-digit region codes that python-stdnum's table lists as current."""
    table = Path(ric.__file__).with_name("loc.dat").read_text(encoding="utf-8")
    codes = []
    province = ""
    for line in table.splitlines():
        if line[:2].isdigit():
            province = line[:2]
        elif line.startswith("  ") and 'county="' in line and "[" not in line:
            codes.append(province + line.split()[0])
    return [code for code in codes if not code.endswith("00")]


@REFERENCE
@given(
    st.lists(
        st.tuples(st.sampled_from(stdnum_region_codes()), resident_ids()),
        min_size=1,
        max_size=10,
    )
)
def test_resident_id_accepts_what_stdnum_accepts(pairs: list[tuple[str, str]]) -> None:
    numbers = []
    for region, generated in pairs:
        body = region + generated[6:17]
        numbers.append(body + ric.calc_check_digit(body + "0"))

    assert all(ric.is_valid(n) for n in numbers), "generator out of step with stdnum"
    assert all(run("resident_id", numbers))


def region_and_date_valid(number: str) -> bool:
    """Whether the number would be valid with the right check character."""
    body = number[:17]
    return body.isdigit() and reference_resident_id(body + ric.calc_check_digit(number))


@REFERENCE
@given(st.lists(mutated(resident_ids(), DIGITS + "X"), min_size=1, max_size=10))
def test_resident_id_check_matches_mod_11_2(numbers: list[str]) -> None:
    # Only numbers whose region and date are valid, so that the check
    # character is the only thing that can fail.
    plausible = [n for n in numbers if region_and_date_valid(n)]
    expected = [mod_11_2.is_valid(n) for n in plausible]
    assert run("resident_id", plausible) == expected


@st.composite
def legacy_resident_ids(draw: st.DrawFn) -> str:
    province = draw(st.sampled_from([*PROVINCES, 10, 99]))
    rest = draw(digit_strings(4, 4))
    year, month, day = (
        draw(st.integers(0, 99)),
        draw(st.integers(0, 13)),
        draw(st.integers(0, 32)),
    )
    return f"{province}{rest}{year:02d}{month:02d}{day:02d}" + draw(digit_strings(3, 3))


@REFERENCE
@given(st.lists(legacy_resident_ids(), min_size=1, max_size=10))
def test_legacy_resident_id_matches_calendar(numbers: list[str]) -> None:
    assert run("resident_id", numbers) == [reference_resident_id(n) for n in numbers]


# Luhn-checked numbers.


@REFERENCE
@given(st.lists(with_luhn_digit(digit_strings(1, 63)), min_size=1, max_size=10))
def test_luhn_matches_stdnum(numbers: list[str]) -> None:
    assert run("luhn", numbers) == [stdnum_luhn.is_valid(n) for n in numbers]


@REFERENCE
@given(st.lists(with_luhn_digit(digit_strings(14, 19)), min_size=1, max_size=10))
def test_bank_card_matches_stdnum(numbers: list[str]) -> None:
    expected = [
        16 <= len(n) <= 19 and n[0] != "0" and stdnum_luhn.is_valid(n) for n in numbers
    ]
    assert run("bank_card", numbers) == expected


@REFERENCE
@given(with_luhn_digit(digit_strings(15, 18)), st.sampled_from([" ", "-"]))
def test_bank_card_ignores_group_separators(number: str, separator: str) -> None:
    grouped = separator.join(number[i : i + 4] for i in range(0, len(number), 4))
    assert run("bank_card", [grouped]) == run("bank_card", [number])


@REFERENCE
@given(st.lists(with_luhn_digit(digit_strings(14, 14)), min_size=1, max_size=10))
def test_imei_matches_stdnum(numbers: list[str]) -> None:
    expected = [stdnum_imei.is_valid(n) and n != "0" * 15 for n in numbers]
    assert run("imei", numbers) == expected


@st.composite
def imsis(draw: st.DrawFn) -> str:
    country = draw(st.sampled_from(["460", "460", "460", "310", "454"]))
    return country + draw(digit_strings(12, 12))


@REFERENCE
@given(st.lists(imsis(), min_size=1, max_size=10))
def test_imsi_matches_stdnum_operators(numbers: list[str]) -> None:
    # python-stdnum names an operator only for the assigned network codes.
    expected = [
        n.startswith("460") and "operator" in stdnum_imsi.info(n) for n in numbers
    ]
    assert run("imsi", numbers) == expected


ICCID_BODIES = st.tuples(
    st.sampled_from(["8986", "8910", "8944"]), digit_strings(14, 15)
).map("".join)


@REFERENCE
@given(st.lists(with_luhn_digit(ICCID_BODIES), min_size=1, max_size=10))
def test_iccid_digits_match_stdnum_luhn(numbers: list[str]) -> None:
    assert run("iccid", numbers) == [stdnum_luhn.is_valid(n) for n in numbers]


# MAC addresses.

MAC_FORMS = {
    "colon": lambda raw: ":".join(raw[i : i + 2] for i in range(0, 12, 2)),
    "dash": lambda raw: "-".join(raw[i : i + 2] for i in range(0, 12, 2)),
    "cisco": lambda raw: ".".join(raw[i : i + 4] for i in range(0, 12, 4)),
    "upper colon": lambda raw: ":".join(
        raw[i : i + 2] for i in range(0, 12, 2)
    ).upper(),
}


@REFERENCE
@given(st.binary(min_size=6, max_size=6), st.sampled_from(sorted(MAC_FORMS)))
def test_mac_address_matches_stdnum(raw: bytes, form: str) -> None:
    colon = MAC_FORMS["colon"](raw.hex())
    placeholder = raw in (bytes(6), b"\xff" * 6)
    expected = (
        stdnum_mac.is_valid(colon, validate_manufacturer=False) and not placeholder
    )
    assert run("mac_address", [MAC_FORMS[form](raw.hex())]) == [expected]


@REFERENCE
@given(st.binary(min_size=6, max_size=6))
def test_bare_mac_address_needs_a_letter(raw: bytes) -> None:
    bare = raw.hex()
    expected = any(c in "abcdef" for c in bare) and raw != b"\xff" * 6
    assert run("mac_address", [bare]) == [expected]


# VIN, against a scalar implementation of the ISO 3779 check digit.

VIN_ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
VIN_TRANSLITERATION = dict(
    zip("ABCDEFGHJKLMNPRSTUVWXYZ", [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2,
                                    3, 4, 5, 6, 7, 8, 9], strict=True)
)  # fmt: skip
VIN_WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]


def vin_check_digit(vin: str) -> str:
    total = 0
    for char, weight in zip(vin.upper(), VIN_WEIGHTS, strict=True):
        value = int(char) if char.isdigit() else VIN_TRANSLITERATION[char]
        total += value * weight
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def reference_vin(vin: str) -> bool:
    upper = vin.upper()
    if len(vin) != 17 or any(c not in VIN_ALPHABET for c in upper):
        return False
    if not any(c.isdigit() for c in vin) or all(c.isdigit() for c in vin):
        return False
    return upper[8] == vin_check_digit(vin)


def fix_check_digit(vin: str) -> str:
    return vin[:8] + vin_check_digit(vin) + vin[9:]


VIN_TEXT = st.text(VIN_ALPHABET, min_size=17, max_size=17)
VIN_CANDIDATES = st.one_of(
    VIN_TEXT,
    VIN_TEXT.map(fix_check_digit),
    VIN_TEXT.map(fix_check_digit).map(str.lower),
    mutated(VIN_TEXT.map(fix_check_digit), VIN_ALPHABET + "IOQ"),
    st.text(DIGITS, min_size=17, max_size=17).map(fix_check_digit),
)


@REFERENCE
@given(st.lists(VIN_CANDIDATES, min_size=1, max_size=10))
def test_vin_matches_scalar_reference(vins: list[str]) -> None:
    assert run("vin", vins) == [reference_vin(v) for v in vins]


# IP addresses, against the standard library.


def parses_as(
    version: type[ipaddress.IPv4Address | ipaddress.IPv6Address], text: str
) -> bool:
    try:
        version(text)
    except ValueError:
        return False
    return True


@REFERENCE
@given(st.lists(st.ip_addresses(v=4).map(str), min_size=1, max_size=10))
def test_ipv4_accepts_generated_addresses(addresses: list[str]) -> None:
    assert all(run("ipv4", addresses))


@REFERENCE
@given(st.lists(st.ip_addresses(v=6), min_size=1, max_size=10))
def test_ipv6_accepts_compressed_and_exploded(
    addresses: list[ipaddress.IPv6Address],
) -> None:
    texts = [str(a) for a in addresses] + [a.exploded for a in addresses]
    assert all(run("ipv6", texts))


@REFERENCE
@given(st.lists(st.text("0123456789.", max_size=16), min_size=1, max_size=10))
def test_ipv4_matches_ipaddress(texts: list[str]) -> None:
    assert run("ipv4", texts) == [parses_as(ipaddress.IPv4Address, t) for t in texts]


@REFERENCE
@given(st.lists(st.text("0123abcdef:.", max_size=40), min_size=1, max_size=10))
def test_ipv6_matches_ipaddress(texts: list[str]) -> None:
    assert run("ipv6", texts) == [parses_as(ipaddress.IPv6Address, t) for t in texts]


# Dates, against datetime.

DATE_FORMATS = ["{y:04d}-{m:02d}-{d:02d}", "{y}/{m}/{d}", "{y}.{m:02d}.{d:02d}",
                "{y:04d}{m:02d}{d:02d}", "{y}年{m}月{d}日"]  # fmt: skip


@REFERENCE
@given(
    st.integers(1890, 2110),
    st.integers(0, 13),
    st.integers(0, 32),
    st.sampled_from(DATE_FORMATS),
)
def test_date_matches_datetime(year: int, month: int, day: int, form: str) -> None:
    try:
        datetime.date(year, month, day)
        exists = 1900 <= year <= 2099
    except ValueError:
        exists = False
    assert run("date", [form.format(y=year, m=month, d=day)]) == [exists]


# Phone numbers in their usual spellings.

PREFIXES = ["", "+86", "+86 ", "0086", "0086-", "86", "(+86)", "(+86) "]
FULL_WIDTH = str.maketrans("0123456789+()", "０１２３４５６７８９＋（）")


@REFERENCE
@given(
    st.sampled_from("3456789"),
    digit_strings(9, 9),
    st.sampled_from(PREFIXES),
    st.sampled_from(["", " ", "-", "."]),
    st.booleans(),
)
def test_mobile_phone_spellings(
    second: str, rest: str, prefix: str, separator: str, full_width: bool
) -> None:
    number = "1" + second + rest
    text = prefix + separator.join((number[:3], number[3:7], number[7:]))
    if full_width:
        text = text.translate(FULL_WIDTH)
    assert run("mobile_phone", [text, text[:-1], text + "0"]) == [True, False, False]


@FEW
@given(st.lists(st.emails(), min_size=1, max_size=5))
def test_email_accepts_generated_addresses(addresses: list[str]) -> None:
    assert all(run("email", addresses))


# Batches return the same results as single values.

MIXED_VALUES = st.one_of(
    resident_ids(),
    VIN_TEXT.map(fix_check_digit),
    with_luhn_digit(digit_strings(15, 18)),
    st.text(DIGITS + "Xx -:.*@年月日", max_size=22),
    st.text(max_size=12),
    st.none(),
)


@settings(max_examples=30, deadline=None)
@given(values=st.lists(MIXED_VALUES, min_size=1, max_size=12))
def test_batch_agrees_with_single_values(values: list[str | None]) -> None:
    for name in sorted(VALIDATORS):
        expected = [value is not None and is_valid(name, value) for value in values]
        assert run(name, values) == expected, name


# Public test vectors of resident ID numbers.


def _vector_rows() -> list[dict[str, str]]:
    if not ID_VECTORS.exists():
        pytest.skip(f"test material not found at {ID_VECTORS}; set CARDEX_DATASETS")
    with ID_VECTORS.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def _vector_verdict(row: dict[str, str]) -> bool:
    """The dataset's verdict: check character (or 15-digit form) and birth date."""
    checksum = row["checksum_ok_recomputed"]
    birth_date = row["birthdate_ok_recomputed"]
    return birth_date == "True" and checksum in ("True", "n/a(15-digit)")


def _birth_year(value: str) -> int:
    return 1900 + int(value[6:8]) if len(value) == 15 else int(value[6:10])


@pytest.mark.datasets
def test_resident_id_vectors_agree() -> None:
    rows = _vector_rows()
    values = [row["value"] for row in rows]

    # The dataset checks calendar dates only; cardex also requires a birth
    # year of 1900 or later.
    expected = [
        _vector_verdict(row) and _birth_year(row["value"]) >= 1900 for row in rows
    ]
    result = run("resident_id", values)

    disagreements = [
        mask_value(v)
        for v, e, r in zip(values, expected, result, strict=True)
        if e != r
    ]
    assert len(rows) == 37
    assert disagreements == []


@pytest.mark.datasets
def test_resident_id_vectors_differ_only_before_1900() -> None:
    rows = _vector_rows()
    result = run("resident_id", [row["value"] for row in rows])

    differing = [
        row
        for row, valid in zip(rows, result, strict=True)
        if valid != _vector_verdict(row)
    ]
    assert [_birth_year(row["value"]) for row in differing] == [1880]
