"""Choose rows, row groups and files spread evenly over a dataset."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
import pyarrow as pa

# At least this many row groups (stripes, batches) are read when a file has
# them, so that a sample never comes from one end of the file only.
MIN_SPREAD_GROUPS = 4

# True while a file is sampled as one part of a multi-file dataset. The
# dataset then spreads its sample over its files, so each file only needs to
# give rows from one of its row groups.
_PART_OF_MANY: ContextVar[bool] = ContextVar("part_of_many", default=False)


@contextmanager
def sampling_part_of_many() -> Iterator[None]:
    """Sample the files read inside this block as parts of one dataset.

    Inside the block, ``choose_groups`` picks as few row groups as hold the
    requested rows, one at the least, and ``is_part_of_many`` is true. The
    setting is a context variable, so it applies to the current thread only.
    """
    token = _PART_OF_MANY.set(True)
    try:
        yield
    finally:
        _PART_OF_MANY.reset(token)


def is_part_of_many() -> bool:
    """Tell whether the file being sampled is one part of a multi-file dataset."""
    return _PART_OF_MANY.get()


def spread_indices(count: int, requested: int) -> list[int]:
    """Return up to ``requested`` indices in ``range(count)``, evenly spaced.

    The first and the last index are always included when ``requested >= 2``.
    """
    if count <= 0 or requested <= 0:
        return []
    if requested >= count:
        return list(range(count))
    if requested == 1:
        return [count // 2]
    positions = np.linspace(0, count - 1, requested).round().astype(np.int64)
    return sorted(set(positions.tolist()))


def take_spread(table: pa.Table, requested: int) -> pa.Table:
    """Return at most ``requested`` rows of ``table``, evenly spaced."""
    if table.num_rows <= requested:
        return table
    return table.take(pa.array(spread_indices(table.num_rows, requested)))


def choose_groups(row_counts: Sequence[int], requested: int) -> list[int]:
    """Pick evenly spaced groups (row groups, stripes) holding ``requested`` rows.

    At least ``MIN_SPREAD_GROUPS`` groups are chosen when there are that many,
    or one inside ``sampling_part_of_many``, and more until their rows add up
    to ``requested`` or every group is chosen.
    """
    groups = len(row_counts)
    if groups == 0:
        return []
    if sum(row_counts) <= requested:
        return list(range(groups))

    minimum = 1 if is_part_of_many() else MIN_SPREAD_GROUPS
    mean = max(1.0, sum(row_counts) / groups)
    size = min(groups, max(minimum, math.ceil(requested / mean)))
    while True:
        chosen = spread_indices(groups, size)
        if size >= groups or sum(row_counts[i] for i in chosen) >= requested:
            return chosen
        size = min(groups, size + max(1, size // 4))


def allocate_rows(row_counts: Sequence[int], requested: int) -> list[int]:
    """Split ``requested`` rows over groups in proportion to their sizes."""
    total = sum(row_counts)
    if total <= requested:
        return list(row_counts)
    return [min(count, math.ceil(requested * count / total)) for count in row_counts]


def refining_order(count: int) -> Iterator[int]:
    """Yield every index of ``range(count)``, coarsest spread first.

    The order visits 2, then 4, then 8... evenly spaced positions, so that any
    prefix of it is spread over the whole range.
    """
    seen: set[int] = set()
    requested = 2
    while len(seen) < count:
        for index in spread_indices(count, requested):
            if index not in seen:
                seen.add(index)
                yield index
        requested *= 2
