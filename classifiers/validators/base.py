"""The validator registry, input normalisation and the scalar wrapper."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from classifiers.validators._arrays import BoolArray, to_mask
from scanner.errors import UsageError

#: A check that takes an array already passed through ``prepare``.
Check = Callable[[pa.Array], BoolArray]

# Dashes that NFKC leaves alone but people type into phone numbers and dates:
# hyphen, non-breaking hyphen, figure dash, en dash, em dash, horizontal bar
# and minus sign.
_UNICODE_DASHES = "[\u2010\u2011\u2012\u2013\u2014\u2015\u2212]"


@dataclass(frozen=True)
class Validator:
    """A named, vectorised validator.

    Calling it with a string array (or chunked array) returns a numpy bool
    array with one entry per value, True where the value is a valid instance
    and False for nulls. The call normalises the values first. ``check`` is
    the same test on values that are already normalised, for validators built
    from others.
    """

    name: str
    check: Check

    def __call__(self, values: pa.Array | pa.ChunkedArray) -> BoolArray:
        return self.check(prepare(values))

    @property
    def description(self) -> str:
        """The first line of the check's docstring."""
        lines = (self.check.__doc__ or "").strip().splitlines()
        return lines[0] if lines else ""


VALIDATORS: dict[str, Validator] = {}


def validator(name: str) -> Callable[[Check], Validator]:
    """Register the decorated check under ``name`` and return its Validator."""

    def register(check: Check) -> Validator:
        if name in VALIDATORS:
            raise ValueError(f"validator {name!r} is registered twice")
        registered = Validator(name, check)
        VALIDATORS[name] = registered
        return registered

    return register


def as_string_array(values: pa.Array) -> pa.Array:
    """Return ``values`` as a ``string`` or ``large_string`` array.

    Raises TypeError for a type that Arrow cannot cast to a string.
    """
    value_type = values.type
    if pa.types.is_string(value_type) or pa.types.is_large_string(value_type):
        return values
    target = pa.large_string() if pa.types.is_string_view(value_type) else pa.string()
    try:
        return values.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise TypeError(
            f"validators take string values, and the {value_type} values could "
            f"not be cast to string ({type(exc).__name__}); decode or cast "
            "the column to UTF-8 strings first"
        ) from exc


def _replace_dashes(values: pa.Array) -> pa.Array:
    # Finding the few values with a dash is cheaper than rewriting them all.
    with_dash = to_mask(pc.match_substring_regex(values, _UNICODE_DASHES))
    if not with_dash.any():
        return values
    rows = pa.array(with_dash, type=pa.bool_())
    replaced = pc.replace_substring_regex(values.filter(rows), _UNICODE_DASHES, "-")
    return pc.replace_with_mask(values, rows, replaced)


def _normalise_array(values: pa.Array) -> pa.Array:
    values = as_string_array(values)
    non_ascii = to_mask(pc.invert(pc.string_is_ascii(values)))
    if non_ascii.any():
        # Only values with non-ASCII text need NFKC, which is the slow step.
        rows = pa.array(non_ascii, type=pa.bool_())
        folded = pc.utf8_normalize(values.filter(rows), "NFKC")
        folded = _replace_dashes(folded)
        values = pc.replace_with_mask(values, rows, folded.cast(values.type))
    return pc.utf8_trim_whitespace(values)


def normalise(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Fold full-width and other compatibility characters and trim whitespace.

    Applies Unicode NFKC (``１３８`` becomes ``138``, ``＋８６`` becomes
    ``+86``, the ideographic space a space), turns Unicode dashes and the
    minus sign into ``-``, and trims leading and trailing whitespace. Values
    of any type that Arrow can cast to string are accepted. The result has
    the same length and nulls as the input, and is chunked when it is.
    """
    if isinstance(values, pa.ChunkedArray):
        chunks = [_normalise_array(chunk) for chunk in values.chunks]
        if not chunks:
            return pa.chunked_array([], type=pa.string())
        return pa.chunked_array(chunks)
    return _normalise_array(values)


def prepare(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Normalise ``values`` into one contiguous string array."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return _normalise_array(values)


def is_valid(name: str, value: str) -> bool:
    """Check one value with the validator registered as ``name``.

    Meant for free-text recognizers that test a few candidates at a time.
    For columns, call the validator on the whole array instead. Raises
    UsageError for an unknown name.
    """
    try:
        registered = VALIDATORS[name]
    except KeyError:
        choices = ", ".join(sorted(VALIDATORS))
        raise UsageError(
            f"unknown validator {name!r}; valid names are: {choices}"
        ) from None
    return bool(registered(pa.array([value], type=pa.string()))[0])
