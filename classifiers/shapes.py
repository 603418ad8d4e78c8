"""Value shapes that complement the identifier validators.

These recognise things without a checksum: Chinese person names, Chinese
postal addresses, gender words, plain digit runs (the unvalidated form of a
card or IMEI number) and US social security numbers. They follow the same
contract as ``classifiers.validators``: a string array in, a boolean numpy
array out, nulls False.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import resources

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Validator = Callable[[pa.Array], np.ndarray]

# The CJK Unified Ideographs block, as literal characters because RE2 (used
# by pyarrow compute) does not read \u escapes.
_CJK = "\u4e00-\u9fa5"


def _regex(values: pa.Array, pattern: str) -> np.ndarray:
    matched = pc.match_substring_regex(values, pattern)
    return pc.fill_null(matched, False).to_numpy(zero_copy_only=False)


@cache
def surnames() -> tuple[frozenset[str], frozenset[str]]:
    """Common Chinese surnames: (single-character, two-character)."""
    text = resources.files("classifiers").joinpath("data/cn_surnames.txt")
    single: set[str] = set()
    double: set[str] = set()
    for line in text.read_text(encoding="utf-8").splitlines():
        word = line.split("#", 1)[0].strip()
        if len(word) == 1:
            single.add(word)
        elif len(word) == 2:
            double.add(word)
    return frozenset(single), frozenset(double)


def cn_person_name(values: pa.Array) -> np.ndarray:
    """Match 2-4 CJK characters that start with a common surname.

    A name with a masked given name (``张*``, ``李**``) also matches.
    """
    single, double = surnames()
    shaped = _regex(values, f"^[{_CJK}][{_CJK}*＊]{{1,3}}$")
    if not shaped.any():
        return shaped
    first = pc.utf8_slice_codeunits(values, 0, 1)
    first_two = pc.utf8_slice_codeunits(values, 0, 2)
    known = pc.or_(
        pc.is_in(first, value_set=pa.array(sorted(single))),
        pc.is_in(first_two, value_set=pa.array(sorted(double))),
    )
    return shaped & pc.fill_null(known, False).to_numpy(zero_copy_only=False)


# A Chinese address names an administrative area and a street-level place,
# usually with a house number: 广东省深圳市南山区科技园路18号.
_AREA = r"(省|市|自治区|区|县|州|盟|旗|镇|乡)"
_PLACE = r"(路|街|道|巷|弄|胡同|村|号|栋|幢|室|楼|小区|大厦|花园|苑)"


def cn_address(values: pa.Array) -> np.ndarray:
    """Match Chinese postal addresses: an area word, a place word and a digit."""
    has_area = _regex(values, _AREA)
    has_place = _regex(values, _PLACE)
    has_number = _regex(
        values, r"[0-9０-９一二三四五六七八九十]+\s*(号|栋|幢|室|楼|弄)"
    )
    long_enough = pc.fill_null(pc.greater_equal(pc.utf8_length(values), 6), False)
    return (
        has_area & has_place & has_number & long_enough.to_numpy(zero_copy_only=False)
    )


GENDER_WORDS = (
    "男",
    "女",
    "男性",
    "女性",
    "male",
    "female",
    "m",
    "f",
    "1",
    "2",
    "0",
    "未知",
    "unknown",
    "u",
)


def cn_gender_word(values: pa.Array) -> np.ndarray:
    """Match the unambiguous gender words 男/女/男性/女性."""
    return pc.fill_null(
        pc.is_in(values, value_set=pa.array(["男", "女", "男性", "女性"])), False
    ).to_numpy(zero_copy_only=False)


def digits15(values: pa.Array) -> np.ndarray:
    """Match runs of exactly 15 digits (the shape of an IMEI)."""
    return _regex(values, r"^\d{15}$")


def digits16to19(values: pa.Array) -> np.ndarray:
    """Match 16 to 19 digits, optionally grouped by spaces or dashes (a card)."""
    return _regex(values, r"^\d{4}([ -]?\d{4}){2}[ -]?\d{4,7}$")


def vin_european(values: pa.Array) -> np.ndarray:
    """Match VINs of European makers without requiring the check digit.

    ISO 3780 assigns Europe the first characters S to Z. Position 10 is the
    model year, never I, O, Q, U, Z or 0 (ISO 3779). Upper case only: VINs
    are written in capitals.
    """
    shaped = all_validators()["vin_shape"](values)
    if not shaped.any():
        return shaped
    structure = _regex(
        values, r"^[S-Z][A-HJ-NPR-Z0-9]{8}[A-HJ-NPR-TV-Y1-9][A-HJ-NPR-Z0-9]{7}$"
    )
    return shaped & structure


def phone_shape(values: pa.Array) -> np.ndarray:
    """Match phone numbers in any country's spelling: 7 to 15 digits (ITU-T
    E.164) with an optional ``+`` and spaces, dashes, dots or parentheses."""
    shaped = _regex(values, r"^\+?[0-9(][0-9 ().\-]{5,22}[0-9]$")
    digits = pc.utf8_length(pc.replace_substring_regex(values, r"[^0-9]", ""))
    in_range = pc.and_(pc.greater_equal(digits, 7), pc.less_equal(digits, 15))
    return shaped & pc.fill_null(in_range, False).to_numpy(zero_copy_only=False)


def iban_shape(values: pa.Array) -> np.ndarray:
    """Match the shape of an IBAN (ISO 13616): country, two check digits and
    11 to 30 letters or digits, optionally grouped by spaces. The mod-97
    check is not run."""
    return _regex(values, r"^[A-Z]{2}[0-9]{2}( ?[A-Z0-9]){11,30}$")


def us_ssn(values: pa.Array) -> np.ndarray:
    """Match US social security numbers ``AAA-GG-SSSS`` with valid groups.

    Area 000, 666 and 900-999, group 00 and serial 0000 are never issued
    (SSA, Social Security Number Randomization, 2011).
    """
    shaped = _regex(values, r"^\d{3}-\d{2}-\d{4}$")
    invalid = _regex(values, r"^(000|666|9\d\d)-|^\d{3}-00-|-0000$")
    return shaped & ~invalid


def has_digit(values: pa.Array) -> np.ndarray:
    """Match values that contain at least one digit."""
    return _regex(values, r"[0-9０-９]")


def cve_id(values: pa.Array) -> np.ndarray:
    """Match CVE identifiers: ``CVE-`` + year + a sequence of 4 or more digits
    (CVE ID syntax since 2014), alone or inside a longer text."""
    return _regex(values, r"(?i)\bCVE-\d{4}-\d{4,}\b")


# Well-known text (ISO 19125-1 / OGC Simple Features) geometries, optionally
# with a PostGIS EWKT ``SRID=n;`` prefix. A coordinate is 2 to 4 numbers.
_NUMBER = r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?"
_WKT_TYPES = (
    r"(MULTI)?(POINT|LINESTRING|POLYGON)|GEOMETRYCOLLECTION|"
    r"CIRCULARSTRING|COMPOUNDCURVE|CURVEPOLYGON|TRIANGLE|TIN|POLYHEDRALSURFACE"
)
_WKT_START = rf"(?i)^(SRID=\d+;)?\s*({_WKT_TYPES})\s*"
_WKT_BODY = rf"\(\s*\(*\s*{_NUMBER}(\s+{_NUMBER}){{1,3}}"
# A 3D geometry is tagged Z or ZM, or its first coordinate has three numbers
# (EWKT ``POINT(x y z)``). Without a tag, a fourth number could be M rather
# than Z, so an untagged 4-number coordinate is not counted.
_WKT_Z_TAGGED = rf"{_WKT_START}(Z|ZM)\s*\("
_XYZ = rf"{_NUMBER}\s+{_NUMBER}\s+{_NUMBER}"
_WKT_THREE_NUMBERS = rf"{_WKT_START}\(\s*\(*\s*{_XYZ}\s*[,)]"
# Hex-encoded WKB or PostGIS EWKB (ISO 19125-1 clause 8): a byte-order byte
# (00 big-endian, 01 little-endian), then the geometry type as a 32-bit
# integer. 3D types are ISO 1001-1007 (Z) and 3001-3007 (ZM), or EWKB types
# with the 0x80000000 Z flag, optionally with the 0x20000000 SRID flag.
_WKB_Z_LITTLE = r"01(e[9a-f]030000|b[9a-f]0b0000|0[1-7]0000[8ae]0)"
_WKB_Z_BIG = r"00(000003e[9a-f]|00000bb[9a-f]|[8ae]000000[1-7])"
_WKB_HEX_Z = rf"(?i)^({_WKB_Z_LITTLE}|{_WKB_Z_BIG})([0-9a-f]{{2}})+$"
# The shortest 3D WKB geometry, a point, is 29 bytes (58 hex digits).
_WKB_MIN_HEX_DIGITS = 58


def wkt_geometry(values: pa.Array) -> np.ndarray:
    """Match WKT or EWKT geometries of any dimension (``LINESTRING (1 2, 3 4)``)."""
    return _regex(values, _WKT_START + r"(Z|M|ZM)?\s*" + _WKT_BODY)


def geometry_3d(values: pa.Array) -> np.ndarray:
    """Match geometries with three-dimensional coordinates.

    Accepts WKT with a Z or ZM tag (``LINESTRING Z (x y z, ...)``), EWKT
    whose first coordinate has three numbers, and hex-encoded WKB or EWKB of
    a 3D type. The third number is an altitude for survey and map data.
    """
    tagged = _regex(values, _WKT_Z_TAGGED) & wkt_geometry(values)
    three = _regex(values, _WKT_THREE_NUMBERS)
    long_enough = pc.greater_equal(pc.binary_length(values), _WKB_MIN_HEX_DIGITS)
    wkb = _regex(values, _WKB_HEX_Z) & pc.fill_null(long_enough, False).to_numpy(
        zero_copy_only=False
    )
    return tagged | three | wkb


# A point array in JSON: a list of 3 to 5 numbers per point (x, y, z and
# intensity, ring or time), at least this many points. Fewer points are more
# often a box (8 corners) or a polygon than a sweep.
MIN_POINTS_IN_ARRAY = 16
_JSON_POINT = rf"\[\s*{_NUMBER}(\s*,\s*{_NUMBER}){{2,4}}\s*\]"
_JSON_POINT_ARRAY = (
    rf"^\[\s*{_JSON_POINT}(\s*,\s*{_JSON_POINT}){{{MIN_POINTS_IN_ARRAY - 1},}}\s*\]$"
)


def point_array_json(values: pa.Array) -> np.ndarray:
    """Match JSON arrays of points: ``[[x, y, z, i], ...]`` with 16 or more points."""
    return _regex(values, _JSON_POINT_ARRAY)


# Province-level divisions of GB/T 2260, by their short Chinese names and
# their pinyin, for region columns that hold names rather than codes.
_PROVINCES_ZH = [
    "北京",
    "天津",
    "河北",
    "山西",
    "内蒙古",
    "辽宁",
    "吉林",
    "黑龙江",
    "上海",
    "江苏",
    "浙江",
    "安徽",
    "福建",
    "江西",
    "山东",
    "河南",
    "湖北",
    "湖南",
    "广东",
    "广西",
    "海南",
    "重庆",
    "四川",
    "贵州",
    "云南",
    "西藏",
    "陕西",
    "甘肃",
    "青海",
    "宁夏",
    "新疆",
    "台湾",
    "香港",
    "澳门",
]
_PROVINCES_PINYIN = (
    "beijing",
    "tianjin",
    "hebei",
    "shanxi",
    "neimenggu",
    "liaoning",
    "jilin",
    "heilongjiang",
    "shanghai",
    "jiangsu",
    "zhejiang",
    "anhui",
    "fujian",
    "jiangxi",
    "shandong",
    "henan",
    "hubei",
    "hunan",
    "guangdong",
    "guangxi",
    "hainan",
    "chongqing",
    "sichuan",
    "guizhou",
    "yunnan",
    "xizang",
    "tibet",
    "shaanxi",
    "gansu",
    "qinghai",
    "ningxia",
    "xinjiang",
    "taiwan",
    "macau",
    "macao",
    "inner mongolia",
    "hong kong",
)
# A Chinese place name ends in the word for its kind of division.
_DIVISION_SUFFIX = "(省|市|自治区|特别行政区|自治州|地区|盟|区|县|旗)"


def cn_region(values: pa.Array) -> np.ndarray:
    """Match Chinese administrative regions: a GB/T 2260 six-digit region
    code with a valid province prefix, a province name (Chinese or pinyin),
    or a CJK place name ending in its division word (省, 市, 区, 县...)."""
    from classifiers.validators.identity import PROVINCE_CODES

    prefixes = "|".join(f"{code:02d}" for code in PROVINCE_CODES)
    codes = _regex(values, f"^({prefixes})\\d{{4}}$")
    provinces = "|".join(_PROVINCES_ZH)
    names = _regex(values, f"^({provinces}){_DIVISION_SUFFIX}?$")
    places = _regex(values, f"^[{_CJK}]{{1,8}}{_DIVISION_SUFFIX}$")
    lowered = pc.utf8_lower(pc.utf8_trim_whitespace(values))
    pinyin = pc.is_in(lowered, value_set=pa.array(_PROVINCES_PINYIN))
    pinyin_hits = pc.fill_null(pinyin, False).to_numpy(zero_copy_only=False)
    return codes | names | places | pinyin_hits


SHAPES: dict[str, Validator] = {
    "cn_region": cn_region,
    "cve_id": cve_id,
    "has_digit": has_digit,
    "cn_person_name": cn_person_name,
    "cn_address": cn_address,
    "cn_gender_word": cn_gender_word,
    "digits15": digits15,
    "digits16to19": digits16to19,
    "us_ssn": us_ssn,
    "vin_european": vin_european,
    "phone_shape": phone_shape,
    "iban_shape": iban_shape,
    "wkt_geometry": wkt_geometry,
    "geometry_3d": geometry_3d,
    "point_array_json": point_array_json,
}


@cache
def all_validators() -> dict[str, Validator]:
    """Return every validator a rule pack may name: identifiers and shapes."""
    from classifiers.validators import VALIDATORS

    return {**VALIDATORS, **SHAPES}
