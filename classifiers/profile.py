"""Profile one sampled column: counts and value shapes every classifier uses.

A profile is computed once per column with vectorised pyarrow compute calls,
so that classifiers do not each re-scan the values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scanner.model import LIST_SUFFIX

BOOLEAN_WORDS = frozenset(
    {
        "0",
        "1",
        "true",
        "false",
        "t",
        "f",
        "y",
        "n",
        "yes",
        "no",
        "是",
        "否",
        "on",
        "off",
    }
)
# Distinct values looked at to decide small-set shapes (booleans, genders).
SMALL_SET_LIMIT = 12


def flatten_lists(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Flatten nested list levels until the values are not lists."""
    while (
        pa.types.is_list(values.type)
        or pa.types.is_large_list(values.type)
        or (pa.types.is_fixed_size_list(values.type))
    ):
        values = pc.list_flatten(values)
    return values


def _is_number_vector(values: pa.ChunkedArray) -> bool:
    value_type = values.type
    if not (
        pa.types.is_list(value_type)
        or pa.types.is_large_list(value_type)
        or pa.types.is_fixed_size_list(value_type)
    ):
        return False
    item = value_type.value_type
    return pa.types.is_floating(item) or pa.types.is_integer(item)


@dataclass
class ColumnProfile:
    """Counts and shapes of one column's sampled values.

    ``text`` contains the non-null, non-blank values cast to strings (for lists,
    the flattened items), the input of every value validator.
    """

    name: str
    arrow_type: pa.DataType
    examined: int
    non_null: int
    text: pa.Array
    vector_lengths: tuple[int, ...] = ()
    notes: list[str] = field(default_factory=list)

    @property
    def is_binary(self) -> bool:
        return pa.types.is_binary(self.arrow_type) or pa.types.is_large_binary(
            self.arrow_type
        )

    @property
    def is_temporal(self) -> bool:
        return pa.types.is_temporal(self.arrow_type)

    @property
    def is_float(self) -> bool:
        return pa.types.is_floating(self.arrow_type) or pa.types.is_decimal(
            self.arrow_type
        )

    @property
    def is_numeric(self) -> bool:
        return self.is_float or pa.types.is_integer(self.arrow_type)

    @property
    def is_vector(self) -> bool:
        return bool(self.vector_lengths)

    _hits: dict[str, int] = field(default_factory=dict, repr=False)

    def count(self, validator: str) -> int:
        """Count the values that pass a named validator (computed once)."""
        if validator not in self._hits:
            from classifiers.shapes import all_validators

            hits = all_validators()[validator](self.text) if len(self.text) else None
            self._hits[validator] = int(hits.sum()) if hits is not None else 0
        return self._hits[validator]

    def share(self, validator: str) -> float:
        """Share of the non-blank values that pass a named validator."""
        return self.count(validator) / len(self.text) if len(self.text) else 0.0

    @cached_property
    def lengths(self) -> np.ndarray:
        if len(self.text) == 0:
            return np.zeros(0, dtype=np.int32)
        return pc.utf8_length(self.text).to_numpy(zero_copy_only=False)

    @cached_property
    def mean_length(self) -> float:
        return float(self.lengths.mean()) if len(self.lengths) else 0.0

    @cached_property
    def small_set(self) -> frozenset[str] | None:
        """The distinct values in lower case, when there are only a few."""
        if len(self.text) == 0:
            return None
        distinct = pc.unique(pc.utf8_lower(self.text))
        if len(distinct) > SMALL_SET_LIMIT:
            return None
        return frozenset(distinct.to_pylist())

    @cached_property
    def is_boolean_like(self) -> bool:
        values = self.small_set
        if pa.types.is_boolean(self.arrow_type):
            return True
        return values is not None and len(values) <= 2 and values <= BOOLEAN_WORDS

    @cached_property
    def numeric_share(self) -> float:
        """Share of values that parse as numbers."""
        if self.is_numeric:
            return 1.0
        if len(self.text) == 0:
            return 0.0
        hits = pc.match_substring_regex(self.text, r"^[-+]?\d+(\.\d+)?([eE][-+]?\d+)?$")
        return pc.sum(hits).as_py() / len(self.text)

    @cached_property
    def max_number(self) -> float | None:
        if self.numeric_share < 1.0 or len(self.text) == 0:
            return None
        return float(pc.max(pc.abs(pc.cast(self.text, pa.float64()))).as_py())

    @cached_property
    def decimals_median(self) -> float:
        """Median number of decimal places, for precision of coordinates."""
        if len(self.text) == 0:
            return 0.0
        fraction = pc.extract_regex(self.text, r"\.(?P<d>\d+)")
        digits = pc.utf8_length(pc.struct_field(fraction, [0]))
        counts = pc.fill_null(digits, 0).to_numpy(zero_copy_only=False)
        return float(np.median(counts))


def _as_text(values: pa.ChunkedArray) -> pa.Array:
    """Cast values to non-blank strings, dropping nulls."""
    value_type = values.type
    if pa.types.is_binary(value_type) or pa.types.is_large_binary(value_type):
        return pa.array([], pa.string())
    if pa.types.is_dictionary(value_type):
        values = values.cast(value_type.value_type)
        value_type = values.type
    if pa.types.is_floating(value_type):
        # Render floats without scientific notation surprises for validators
        # and keep their decimals for the precision check.
        values = pc.cast(values, pa.string())
    elif not (pa.types.is_string(value_type) or pa.types.is_large_string(value_type)):
        try:
            values = pc.cast(values, pa.string())
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
            return pa.array([], pa.string())
    values = pc.drop_null(values)
    if pa.types.is_large_string(values.type):
        values = values.cast(pa.string())
    values = pc.utf8_trim_whitespace(values)
    values = values.filter(pc.greater(pc.utf8_length(values), 0))
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def profile_column(name: str, values: pa.ChunkedArray) -> ColumnProfile:
    """Profile one column of a sample."""
    examined = len(values)
    vector_lengths: tuple[int, ...] = ()
    notes: list[str] = []

    if _is_number_vector(values):
        lengths = pc.drop_null(pc.list_value_length(values))
        vector_lengths = tuple(sorted(set(lengths.to_pylist())))
        text = pa.array([], pa.string())
        non_null = len(lengths)
    else:
        if name.endswith(LIST_SUFFIX) or pa.types.is_list(values.type):
            values = flatten_lists(values)
            examined = len(values)
        if pa.types.is_struct(values.type) or pa.types.is_map(values.type):
            notes.append("nested values not flattened; not examined")
            text = pa.array([], pa.string())
        else:
            text = _as_text(values)
        non_null = len(text)
        if pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type):
            non_null = examined - values.null_count
            notes.append("binary values: not examined as text")

    return ColumnProfile(
        name=name,
        arrow_type=values.type,
        examined=examined,
        non_null=non_null,
        text=text,
        vector_lengths=vector_lengths,
        notes=notes,
    )
