"""Build a Great Expectations suite that keeps a later export as clean as this one.

``build_suite`` turns an audit result or a scan report into the JSON of a GX
expectation suite, written with plain dicts so that building one does not
import Great Expectations. Each expectation's ``meta["cardex"]`` names the
dataset it belongs to and the check it makes, because one suite covers every
dataset of the transfer and the gate validates each dataset separately:

- ``masked_or_absent``: a column labelled sensitive personal information
  must hold only masked values or nulls, or be dropped.
- ``no_identifier``: a column with no personal label must hold no resident ID
  number, mainland mobile number or VIN.

The patterns are Python regular expressions derived from the classifiers'
validators. The gate matches them against values normalised the way the
validators normalise them (NFKC, Unicode dashes, trimmed).
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from classifiers.validators.contact import _MOBILE
from classifiers.validators.identity import PROVINCE_CODES
from classifiers.validators.redaction import _MASKED
from scanner.errors import UsageError

SUITE_NAME = "cardex-gate"
#: Version of the ``meta["cardex"]`` layout inside the suite.
SUITE_FORMAT = 2

MASKED_OR_ABSENT = "masked_or_absent"
NO_IDENTIFIER = "no_identifier"

# Labels whose column counts as personal. Sensitive ones need masking; the
# others may leave as they are, so they get no check.
_SENSITIVE = "sensitive_personal"
_PERSONAL = "personal"
_PREFIX_CATEGORIES = {"spi.": _SENSITIVE, "pi.": _PERSONAL}


def _python_regex(re2_pattern: str) -> str:
    """Rewrite RE2's ``\\x{HHHH}`` escapes as Python's ``\\UHHHHHHHH``."""
    return re.sub(
        r"\\x\{([0-9A-Fa-f]+)\}",
        lambda match: f"\\U{int(match.group(1), 16):08x}",
        re2_pattern,
    )


def _resident_id_pattern() -> str:
    # GB 11643: a province code, four more region digits, a birth date and a
    # sequence number; the 18-character form ends in a check character. The
    # check character and the exact calendar date are not tested here.
    province = "(?:" + "|".join(f"{code:02d}" for code in PROVINCE_CODES) + ")"
    month = "(?:0[1-9]|1[0-2])"
    day = "(?:0[1-9]|[12][0-9]|3[01])"
    long_form = f"{province}[0-9]{{4}}(?:19|20)[0-9]{{2}}{month}{day}[0-9]{{3}}[0-9Xx]"
    short_form = f"{province}[0-9]{{4}}[0-9]{{2}}{month}{day}[0-9]{{3}}"
    return f"^(?:{long_form}|{short_form})$"


# 17 characters of the VIN alphabet (no I, O or Q) with a digit and a letter,
# as in the ``vin_shape`` validator. The check digit is not tested, because
# European VINs often carry none.
_VIN = r"^(?=.*[0-9])(?=.*[A-Za-z])[0-9A-HJ-NPR-Za-hj-npr-z]{17}$"


@dataclass(frozen=True)
class IdentifierPattern:
    """A whole-value pattern for an identifier that must not appear."""

    name: str
    description: str
    regex: str


IDENTIFIER_PATTERNS: tuple[IdentifierPattern, ...] = (
    IdentifierPattern("resident_id", "resident ID number", _resident_id_pattern()),
    IdentifierPattern("mobile_phone", "mainland mobile number", _MOBILE),
    IdentifierPattern("vin", "vehicle identification number", _VIN),
)

#: Values that look masked or redacted, as the ``masked`` validator.
MASKED_PATTERN = _python_regex(_MASKED)


def _contained(whole_value: str, boundary: str) -> str:
    """Turn a whole-value pattern into one found anywhere in a value.

    ``boundary`` is the character class that must not touch the match, so
    that a run of 19 digits does not count as an 18-digit ID number.
    """
    inner = whole_value.removeprefix("^").removesuffix("$")
    return f"(?<!{boundary})(?:{inner})(?!{boundary})"


def _identifier_anywhere() -> str:
    resident_id, mobile = (pattern.regex for pattern in IDENTIFIER_PATTERNS[:2])
    # The VIN pattern's lookaheads scan to the end of the value, which inside
    # a longer text runs past the VIN. These stop at the first letter and the
    # first digit instead, and the boundary keeps both inside the 17 characters.
    vin = "(?=[0-9]*[A-Za-z])(?=[A-Za-z]*[0-9])[0-9A-HJ-NPR-Za-hj-npr-z]{17}"
    return "|".join(
        (
            _contained(resident_id, "[0-9]"),
            _contained(mobile, "[0-9]"),
            _contained(vin, "[0-9A-Za-z]"),
        )
    )


#: A whole resident ID number, mobile number or VIN anywhere inside a value.
IDENTIFIER_ANYWHERE_PATTERN = _identifier_anywhere()

#: The ``masked_or_absent`` check: the value has a masked shape and no whole
#: identifier is left in it, so ``110105196907210496 **`` fails.
MASKED_VALUE_PATTERN = (
    f"(?s)^(?!.*(?:{IDENTIFIER_ANYWHERE_PATTERN}))(?:.*?)(?:{MASKED_PATTERN})"
)


@dataclass(frozen=True)
class ColumnPlan:
    """The check one column gets, and the label ids that decided it."""

    name: str
    check: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class DatasetPlan:
    """One dataset of a suite: its checked columns and every column it knew."""

    uri: str
    name: str
    columns: tuple[ColumnPlan, ...]
    known_columns: tuple[str, ...]


def build_suite(
    result: dict[str, Any],
    *,
    mostly: float = 1.0,
    categories: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Build the JSON of a GX expectation suite from an audit result or scan report.

    ``result`` is the dict of ``cardex audit`` (``kind: cardex-audit``) or of
    ``cardex scan --report``. Only a scan report, or an audit result whose
    datasets carry a ``columns`` list, names the unlabelled columns. A suite
    from a plain audit result checks the labelled columns only, and the gate
    applies ``no_identifier`` to every column the suite does not list.
    ``mostly`` is the share of non-null values each ``no_identifier`` check
    requires to pass (1.0: every value). ``categories`` maps label ids to
    their category; by default the ``pi.``/``spi.`` prefixes decide.

    Raises UsageError when ``result`` is neither shape or ``mostly`` is not
    in (0, 1].
    """
    if not 0 < mostly <= 1:
        raise UsageError(f"mostly must be in (0, 1], got {mostly}")
    plans = plan_datasets(result, categories or {})
    expectations = [
        expectation
        for plan in plans
        for column in plan.columns
        for expectation in _expectations(plan, column, mostly)
    ]
    return {
        "name": SUITE_NAME,
        "id": None,
        "expectations": expectations,
        "meta": {"cardex": _suite_meta(result, plans, mostly)},
        "notes": None,
    }


def write_suite(suite: dict[str, Any], path: str | Path) -> None:
    """Write ``suite`` as indented UTF-8 JSON to ``path``."""
    text = json.dumps(suite, ensure_ascii=False, indent=2) + "\n"
    Path(path).write_text(text, encoding="utf-8")


def plan_datasets(
    result: dict[str, Any], categories: dict[str, str]
) -> list[DatasetPlan]:
    """Decide the check of every known column of every dataset in ``result``."""
    datasets = result.get("datasets") if isinstance(result, dict) else None
    if not isinstance(datasets, list) or not all(isinstance(d, dict) for d in datasets):
        raise UsageError(
            "the result has no 'datasets' list of objects; pass the JSON of "
            "'cardex audit --report' or 'cardex scan --report'"
        )
    return [_plan_dataset(dataset, categories) for dataset in datasets]


def _plan_dataset(dataset: dict[str, Any], categories: dict[str, str]) -> DatasetPlan:
    labels_by_column: dict[str, set[str]] = {}
    for column, label_id in _column_labels(dataset):
        labels_by_column.setdefault(column, set()).add(label_id)

    names = _column_names(dataset, labels_by_column)
    columns: list[ColumnPlan] = []
    for column in names:
        label_ids = tuple(sorted(labels_by_column.get(column, ())))
        found = {_category(label_id, categories) for label_id in label_ids}
        if _SENSITIVE in found:
            columns.append(ColumnPlan(column, MASKED_OR_ABSENT, label_ids))
        elif _PERSONAL not in found:
            columns.append(ColumnPlan(column, NO_IDENTIFIER, label_ids))
    return DatasetPlan(
        uri=str(dataset.get("uri", "")),
        name=str(dataset.get("name", "")),
        columns=tuple(columns),
        known_columns=tuple(names),
    )


def _column_labels(dataset: dict[str, Any]) -> Iterable[tuple[str, str]]:
    # Audit result: a flat label list, each with its column ("" or null for
    # a dataset label).
    for label in dataset.get("labels") or []:
        column = label.get("column")
        label_id = label.get("label") or label.get("id")
        if column and label_id:
            yield column, label_id
    # Scan report: labels nested in the column list.
    for column in dataset.get("columns") or []:
        if isinstance(column, dict):
            for label in column.get("labels") or []:
                yield column["name"], label["id"]


def _column_names(
    dataset: dict[str, Any], labels_by_column: dict[str, set[str]]
) -> list[str]:
    names: list[str] = []
    for column in dataset.get("columns") or []:
        names.append(column["name"] if isinstance(column, dict) else str(column))
    for name in labels_by_column:
        if name not in names:
            names.append(name)
    return names


def _category(label_id: str, categories: dict[str, str]) -> str:
    if label_id in categories:
        return categories[label_id]
    for prefix, category in _PREFIX_CATEGORIES.items():
        if label_id.startswith(prefix):
            return category
    return "other"


def _expectations(
    plan: DatasetPlan, column: ColumnPlan, mostly: float
) -> list[dict[str, Any]]:
    if column.check == MASKED_OR_ABSENT:
        return [
            _expectation(
                "expect_column_values_to_match_regex",
                {"column": column.name, "regex": MASKED_VALUE_PATTERN},
                _check_meta(plan, column, "masked"),
            )
        ]
    return [
        _expectation(
            "expect_column_values_to_not_match_regex",
            {"column": column.name, "regex": pattern.regex, "mostly": mostly},
            _check_meta(plan, column, pattern.name),
        )
        for pattern in IDENTIFIER_PATTERNS
    ]


def identifier_expectations(
    uri: str, name: str, column: str, mostly: float = 1.0
) -> list[dict[str, Any]]:
    """Return the ``no_identifier`` expectations for one column of a dataset."""
    plan = DatasetPlan(uri=uri, name=name, columns=(), known_columns=())
    return _expectations(plan, ColumnPlan(column, NO_IDENTIFIER, ()), mostly)


def _expectation(
    kind: str, kwargs: dict[str, Any], meta: dict[str, Any]
) -> dict[str, Any]:
    return {
        "type": kind,
        "kwargs": kwargs,
        "meta": {"cardex": meta},
        "severity": "critical",
    }


def _check_meta(plan: DatasetPlan, column: ColumnPlan, pattern: str) -> dict[str, Any]:
    return {
        "dataset": plan.uri,
        "dataset_name": plan.name,
        "check": column.check,
        "pattern": pattern,
        "labels": list(column.labels),
    }


def _suite_meta(
    result: dict[str, Any], plans: list[DatasetPlan], mostly: float
) -> dict[str, Any]:
    built_from = "audit" if result.get("kind") == "cardex-audit" else "scan"
    version = result.get("rule_pack_version") or (result.get("scan") or {}).get(
        "rule_pack_version"
    )
    return {
        "format": SUITE_FORMAT,
        "built_from": built_from,
        "generated_at": datetime.datetime.now(datetime.UTC).isoformat(
            timespec="seconds"
        ),
        "rule_pack_version": version,
        "mostly": mostly,
        "patterns": {pattern.name: pattern.regex for pattern in IDENTIFIER_PATTERNS},
        "datasets": [
            {
                "uri": plan.uri,
                "name": plan.name,
                "columns": list(plan.known_columns),
            }
            for plan in plans
        ],
    }
