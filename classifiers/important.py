"""Important data: dataset labels given by the rule pack's composite rules.

A composite rule names column roles (a charging-pile key, an energy reading,
a time) and is satisfied when the table has a column for every role it
requires and none for a role it forbids. The rules are data in the rule pack
(``composite`` under a label), so a replacement pack changes them without code.
Every finding names the columns that filled each role.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from classifiers.base import ClassificationInput, Classifier, Finding
from classifiers.names import match_name_hints
from classifiers.profile import ColumnProfile
from classifiers.rulepack import CompositeRule, LabelRule, RoleRule

# A numeric role needs this share of values that parse as numbers.
NUMERIC_SHARE = 0.9
# A temporal role needs this share of date values in a text column.
DATE_SHARE = 0.8
# Composite evidence never reaches certainty: the item-level annex that would
# confirm these rules is not loaded.
MAX_SCORE = 0.95
# Columns listed per role in a finding's signals.
SHOWN_COLUMNS = 3


def _values_fit(role: RoleRule, profile: ColumnProfile) -> bool:
    """Tell whether a column's values pass every value check the role sets."""
    if profile.non_null == 0:
        return False
    if role.vector_lengths:
        lengths = set(profile.vector_lengths)
        if not lengths or not lengths <= set(role.vector_lengths):
            return False
    if role.numeric and profile.numeric_share < NUMERIC_SHARE:
        return False
    if role.temporal and not (
        profile.is_temporal or profile.share("date") >= DATE_SHARE
    ):
        return False
    if role.min_decimals is not None and profile.decimals_median < role.min_decimals:
        return False
    if role.value_range is not None and not _within(profile, *role.value_range):
        return False
    if role.min_span is not None and _span(profile) < role.min_span:
        return False
    if role.min_distinct is not None and _distinct(profile, role) < role.min_distinct:
        return False
    return not (role.validator and profile.share(role.validator) < role.min_share)


def _numbers(profile: ColumnProfile) -> pa.Array | None:
    if profile.numeric_share < 1.0 or len(profile.text) == 0:
        return None
    try:
        return pc.cast(profile.text, pa.float64())
    except pa.ArrowInvalid:
        return None


def _span(profile: ColumnProfile) -> float:
    """Largest minus smallest value of a numeric column, 0 for other columns."""
    numbers = _numbers(profile)
    if numbers is None:
        return 0.0
    bounds = pc.min_max(numbers).as_py()
    return float(bounds["max"] - bounds["min"])


def _distinct(profile: ColumnProfile, role: RoleRule) -> int:
    """Distinct values of a column; only those passing the role's validator."""
    values = profile.text
    if role.validator:
        from classifiers.shapes import all_validators

        passing = all_validators()[role.validator](values)
        values = values.filter(pa.array(passing, pa.bool_()))
    return len(pc.unique(values))


def _within(profile: ColumnProfile, low: float, high: float) -> bool:
    numbers = _numbers(profile)
    if numbers is None:
        return False
    bounds = pc.min_max(numbers).as_py()
    return low <= bounds["min"] and bounds["max"] <= high


def fills_role(
    role: RoleRule, column: str, profile: ColumnProfile, labels: set[str]
) -> bool:
    """Tell whether ``column`` fills ``role``, by name, decided labels and values."""
    conditions: list[bool] = []
    hints = role.name_hints
    if hints.en or hints.zh or hints.pinyin:
        conditions.append(match_name_hints(column, hints) is not None)
    if role.labels:
        conditions.append(bool(labels & set(role.labels)))
    if role.has_value_checks:
        conditions.append(_values_fit(role, profile))
    if not conditions:
        return False
    return all(conditions) if role.match == "all" else any(conditions)


def _candidates(
    roles: Sequence[RoleRule], data: ClassificationInput
) -> dict[str, list[str]]:
    return {
        role.role: [
            column
            for column, profile in data.profiles.items()
            if fills_role(role, column, profile, data.decided.get(column, set()))
        ]
        for role in roles
    }


def _assign(
    roles: Sequence[str], candidates: Mapping[str, list[str]], taken: frozenset[str]
) -> dict[str, str] | None:
    """Give each role a column of its own, or return None if that is impossible."""
    if not roles:
        return {}
    first, rest = roles[0], roles[1:]
    for column in candidates[first]:
        if column in taken:
            continue
        others = _assign(rest, candidates, taken | {column})
        if others is not None:
            return {first: column, **others}
    return None


def _role_signal(role: str, chosen: str | None, columns: list[str]) -> str:
    ordered = [chosen] if chosen else []
    ordered += [c for c in columns if c != chosen]
    shown = ", ".join(ordered[:SHOWN_COLUMNS])
    more = len(ordered) - SHOWN_COLUMNS
    return f"role {role}: {shown}" + (f" (+{more} more)" if more > 0 else "")


def evaluate(rule: CompositeRule, data: ClassificationInput) -> Finding | None:
    """Return the finding of one composite rule, or None when it does not hold.

    The finding's ``label_id`` is empty; the caller sets it.
    """
    required = _candidates(rule.all_of, data)
    if not all(required.values()):
        return None
    names = [role.role for role in rule.all_of]
    if rule.distinct_columns:
        chosen = _assign(names, required, frozenset())
        if chosen is None:
            return None
    else:
        chosen = {name: required[name][0] for name in names}
    forbidden = _candidates(rule.none_of, data)
    if any(forbidden.values()):
        return None

    optional = _candidates(rule.any_of, data)
    boosts = sum(role.boost for role in rule.any_of if optional[role.role])
    signals = [_role_signal(n, chosen[n], required[n]) for n in names]
    signals += [_role_signal(n, None, c) for n, c in optional.items() if c]
    signals.append(f"rule source: {rule.source}")
    if rule.provisional:
        signals.append("provisional rule: not yet checked against the official annex")

    rows = data.sample.table.num_rows
    return Finding(
        column=None,
        label_id="",
        source="context",
        score=min(MAX_SCORE, rule.confidence + boosts),
        rule_id=rule.id,
        matches=rows,
        examined=rows,
        non_null=rows,
        signals=tuple(signals),
    )


class ImportantDataClassifier(Classifier):
    """Dataset labels from the composite rules of the rule pack."""

    name = "important"
    stage = 2

    def classify(self, data: ClassificationInput) -> Iterable[Finding]:
        # Dataset labels so far: stage 1's, then those of rules that held with
        # enough confidence, for rules that build on them (core candidates).
        given = set(data.decided.get(None, set()))
        for label, rule in self.rules.composite_rules:
            if not set(rule.requires_labels) <= given:
                continue
            for finding in self._findings(label, rule, data):
                if finding.score >= self.rules.thresholds.min_confidence:
                    given.add(finding.label_id)
                yield finding

    def _findings(
        self, label: LabelRule, rule: CompositeRule, data: ClassificationInput
    ) -> Iterator[Finding]:
        finding = evaluate(rule, data)
        if finding is None:
            return
        if rule.requires_labels:
            finding = dataclasses.replace(
                finding,
                signals=(
                    f"builds on dataset labels: {', '.join(rule.requires_labels)}",
                    *finding.signals,
                ),
            )
        for label_id in (label.id, *rule.also_labels):
            yield dataclasses.replace(finding, label_id=label_id)
