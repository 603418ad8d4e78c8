"""Calendar dates, with an optional time of day."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from classifiers.validators._arrays import (
    BoolArray,
    is_calendar_date,
    scatter,
    to_mask,
)
from classifiers.validators.base import validator

# Year first, as in ISO 8601 and in Chinese usage. Years 1900-2099 only, so
# that 8-digit counters and sentinel dates such as 0001-01-01 do not pass.
_DATE = (
    "(?P<year>(?:19|20)[0-9]{2})"
    "(?P<sep1>[-/.年]?)(?P<month>[0-9]{1,2})"
    "(?P<sep2>[-/.月]?)(?P<day>[0-9]{1,2})(?P<day_mark>日?)"
)
_HOUR = "(?:[01][0-9]|2[0-3])"
_MINUTE = "[0-5][0-9]"
_SECOND = "(?:[0-5][0-9]|60)"
_UTC_OFFSET = rf"(?:\s*(?:Z|[+-]{_HOUR}(?::?{_MINUTE})?))?"
_CLOCK = rf"{_HOUR}:{_MINUTE}(?::{_SECOND}(?:[.,][0-9]{{1,9}})?)?{_UTC_OFFSET}"
_TIME = rf"(?P<time_sep>T|\s*)(?P<time>{_CLOCK})"
# 20210304153000: a compact date directly followed by HHMMSS.
_COMPACT_TIME = f"(?P<compact_time>{_HOUR}{_MINUTE}{_SECOND})"
_DATE_TIME = f"^{_DATE}(?:{_COMPACT_TIME}|{_TIME})?$"


def _equal(parts: pa.StructArray, field: str, text: str) -> BoolArray:
    return to_mask(pc.equal(parts.field(field), text))


def _char_count(parts: pa.StructArray, field: str) -> np.ndarray:
    return np.asarray(pc.utf8_length(parts.field(field)).to_numpy())


def _layout_valid(parts: pa.StructArray) -> BoolArray:
    """Check that the separators and field widths form one consistent layout."""
    compact = _equal(parts, "sep1", "")
    same_separator = to_mask(pc.equal(parts.field("sep1"), parts.field("sep2")))
    chinese = _equal(parts, "sep1", "年") & _equal(parts, "sep2", "月")
    two_digit_fields = (_char_count(parts, "month") == 2) & (
        _char_count(parts, "day") == 2
    )
    no_day_mark = _equal(parts, "day_mark", "")
    no_compact_time = _equal(parts, "compact_time", "")

    # 20210304: no separators, two-digit month and day.
    compact_ok = compact & _equal(parts, "sep2", "") & two_digit_fields & no_day_mark
    # 2021-3-4, 2021/03/04, 2021.3.4, 2021年3月4日: one separator used twice,
    # or 年 and 月 (with an optional 日).
    separated_ok = (
        ~compact & ((same_separator & no_day_mark) | chinese) & no_compact_time
    )
    # A time must be set off by T or whitespace, except after 日.
    time_joined = _equal(parts, "time_sep", "") & ~_equal(parts, "time", "")
    time_ok = ~time_joined | ~no_day_mark
    return (compact_ok | separated_ok) & time_ok


def _calendar_valid(parts: pa.StructArray) -> BoolArray:
    def number(field: str) -> np.ndarray:
        return np.asarray(pc.cast(parts.field(field), pa.int64()).to_numpy())

    return is_calendar_date(number("year"), number("month"), number("day"))


@validator("date")
def date(values: pa.Array) -> BoolArray:
    """Year-first calendar date that exists, with an optional time of day.

    Forms: ``2021-03-04``, ``2021/3/4``, ``2021.3.4``, ``20210304``,
    ``2021年3月4日``, followed by an optional time (``T12:34``,
    `` 12:34:56.789+08:00``, or ``153000`` after a compact date). The year
    must be 1900-2099 and the date must exist in the Gregorian calendar.
    Day-first and month-first forms are ambiguous and not accepted.
    """
    extracted = pc.extract_regex(values, _DATE_TIME)
    matched = to_mask(extracted.is_valid())
    if not matched.any():
        return matched
    parts = extracted.filter(pa.array(matched, type=pa.bool_()))
    return scatter(matched, _layout_valid(parts) & _calendar_valid(parts))
