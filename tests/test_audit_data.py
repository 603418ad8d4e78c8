"""Generated transfers with known numbers of people, for the audit tests.

The helpers write real Parquet and CSV files; the tests in this file check
that the generated identifiers are what the other audit tests assume.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from stdnum.cn import ric

# GB 11643-1999 check character weights and values.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_CHINESE_NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄勇"]


def resident_id(index: int) -> str:
    """Return the ``index``-th valid resident ID number (GB 11643-1999).

    Birth dates run from 1960-01-01 on; the sequence number takes the rest,
    so the first 999 * 10,000 indexes give distinct numbers.
    """
    day = index % 10_000
    sequence = index // 10_000 + 1
    year = 1960 + day // 336
    month = (day // 28) % 12 + 1
    body = f"110105{year:04d}{month:02d}{day % 28 + 1:02d}{sequence:03d}"
    total = sum(
        int(digit) * weight for digit, weight in zip(body, _ID_WEIGHTS, strict=True)
    )
    return body + _ID_CHECK[total % 11]


def phones(start: int, count: int) -> list[str]:
    """Return ``count`` distinct mainland mobile numbers from offset ``start``."""
    return (13_800_000_000 + np.arange(start, start + count)).astype(str).tolist()


def names(count: int) -> list[str]:
    return [_CHINESE_NAMES[i % len(_CHINESE_NAMES)] for i in range(count)]


def write_phone_file(path: Path, start: int, count: int) -> Path:
    """Write owners with ``count`` distinct phone numbers (personal, not sensitive)."""
    table = pa.table(
        {
            "owner_name": names(count),
            "mobile": phones(start, count),
            "city": ["北京市"] * count,
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def write_id_file(path: Path, start: int, count: int) -> Path:
    """Write owners with ``count`` distinct resident ID numbers (sensitive)."""
    table = pa.table(
        {
            "owner_name": names(count),
            "id_card": [resident_id(i) for i in range(start, start + count)],
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def test_resident_ids_valid() -> None:
    numbers = [resident_id(i) for i in (0, 1, 9_999, 10_000, 123_456)]
    for number in numbers:
        assert ric.is_valid(number), number


def test_resident_ids_distinct() -> None:
    numbers = {resident_id(i) for i in range(30_000)}
    assert len(numbers) == 30_000


def test_phones_distinct() -> None:
    assert len(set(phones(0, 1000))) == 1000
    assert phones(5, 1) == ["13800000005"]
