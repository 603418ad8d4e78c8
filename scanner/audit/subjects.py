"""Choose the subject-key columns that identify people in each dataset.

A subject key is a column labelled with one of ``KEY_LABELS``. Each dataset
is counted by the strongest key type it contains, in the order of
``KEY_PREFERENCE``: resident ID number, phone, e-mail, account id, then
VIN. All columns of that type in a dataset count (an owner's and a driver's
phone are two people).

People are matched across datasets only by keys of the same type, so one
person known by an ID number in one dataset and by a phone number in
another counts twice. The count can only be too high, never too low, which
is the safe side for the thresholds.

A column whose values are masked (``138****5678``) is never a subject key,
because every masked value of one pattern would count as one person.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scanner.model import LIST_SUFFIX, DatasetResult, Label

# Label id -> key type.
KEY_LABELS = {
    "spi.id_number": "id_number",
    "pi.phone": "phone",
    "pi.email": "email",
    "pi.account": "account",
    "pi.vin": "vin",
}
# Strongest first. A resident ID number names one person for life. A phone
# number or e-mail address belongs to one person at a time, and an account
# id to one person per service. A VIN names a vehicle and is a proxy for its
# owner (one person per vehicle), so it is used only without a person key.
KEY_PREFERENCE = ("id_number", "phone", "email", "account", "vin")
# Share of a key column's examined values that may be masked before the
# column stops being a subject key.
# NOTE: a guessed limit. Masked values below it still merge into one key
# per mask pattern, so a column with a few masked values under-counts
# slightly.
MASKED_KEY_SHARE = 0.05
# The signal the classifier adds when a column is labelled by its name and
# its values are masked. Such labels carry no ``masked_values`` count.
_MASKED_SIGNAL = "values are masked"


@dataclass(frozen=True)
class ChosenKey:
    """The key type a dataset is counted by, and its columns."""

    key_type: str
    columns: tuple[str, ...]


def is_masked(label: Label) -> bool:
    """Tell whether the values behind a key label are masked or redacted."""
    evidence = label.evidence
    if any(signal.startswith(_MASKED_SIGNAL) for signal in evidence.signals):
        return True
    if not evidence.non_null:
        return False
    return evidence.masked_values / evidence.non_null >= MASKED_KEY_SHARE


def _key_columns(result: DatasetResult, masked: bool) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for column in result.columns:
        if LIST_SUFFIX in column.name:
            continue
        for label in column.labels:
            key_type = KEY_LABELS.get(label.id)
            if key_type is None or is_masked(label) is not masked:
                continue
            if column.name not in found.get(key_type, []):
                found.setdefault(key_type, []).append(column.name)
    return found


def candidate_keys(result: DatasetResult) -> dict[str, list[str]]:
    """Return the unmasked key columns of ``result`` by key type.

    Columns inside lists (``phones[]``) are left out: they cannot be read
    whole yet, and the dataset falls back to counting rows without them.
    """
    return _key_columns(result, masked=False)


def masked_keys(result: DatasetResult) -> list[str]:
    """Return the key columns of ``result`` whose values are masked."""
    columns = _key_columns(result, masked=True).values()
    return list(dict.fromkeys(name for names in columns for name in names))


def choose_key(result: DatasetResult) -> ChosenKey | None:
    """Return the strongest unmasked key of ``result``, or None."""
    found = candidate_keys(result)
    for key_type in KEY_PREFERENCE:
        if key_type in found:
            return ChosenKey(key_type, tuple(found[key_type]))
    return None


def choose_keys(results: Sequence[DatasetResult]) -> dict[str, ChosenKey]:
    """Choose one key type per dataset, by dataset URI; keyless ones are absent."""
    chosen: dict[str, ChosenKey] = {}
    for result in results:
        key = choose_key(result)
        if key is not None:
            chosen[result.uri] = key
    return chosen
