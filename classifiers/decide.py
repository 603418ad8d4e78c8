"""Weigh the findings of all classifiers into labels.

Per column and label id, the scores of value, text and context findings and
of a name hint are combined as independent evidence (noisy-or: 0.9 and 0.6
give 0.96). A name hint counts only when the column's values have the shape
the label expects: ``email_verified`` holding 0/1 keeps no e-mail label.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from classifiers.base import Finding
from classifiers.profile import ColumnProfile
from classifiers.rulepack import LabelRule, RulePack
from classifiers.shapes import GENDER_WORDS
from scanner.model import Evidence, Label

# Confidence kept by a name hint on a column with no values to check.
EMPTY_COLUMN_FACTOR = 0.8
MAX_CONFIDENCE = 0.99
# For labels with ``name_needs_values``: with at least this many values, a
# name hint needs this share of them to pass a check of the label, or this
# share of masked values.
MIN_VALUES_TO_CONTRADICT = 20
VALUE_SUPPORT_SHARE = 0.2
MASKED_SUPPORT_SHARE = 0.3
_MEDIA_SUFFIXES = (
    r"\.(mp4|h264|h265|mkv|avi|mov|jpg|jpeg|png|bmp|wav|mp3|aac|pcm|opus|amr)$"
)


def shape_fits(profile: ColumnProfile, label: LabelRule) -> bool:
    """Tell whether a column's values fit what ``label`` expects of them."""
    shape = label.name_shape
    if profile.non_null == 0:
        return True
    if shape == "vector":
        return profile.is_vector or profile.is_binary
    if shape == "media":
        if profile.is_binary:
            return True
        import pyarrow.compute as pc

        paths = pc.match_substring_regex(
            profile.text, _MEDIA_SUFFIXES, ignore_case=True
        )
        return pc.mean(paths.cast("int8")).as_py() >= 0.5
    if profile.is_vector or profile.is_binary:
        return False
    if profile.is_boolean_like and shape != "gender":
        return False
    masked_share = profile.share("masked")
    if shape == "identifier":
        small_numbers = profile.max_number is not None and profile.max_number < 1000
        return masked_share >= 0.3 or (profile.mean_length >= 4 and not small_numbers)
    if shape == "person_name":
        return (
            profile.numeric_share < 0.2
            and 1.5 <= profile.mean_length <= 40
            and (profile.share("has_digit") < 0.3)
        )
    if shape == "date":
        return profile.is_temporal or profile.share("date") >= 0.6
    if shape == "gender":
        values = profile.small_set
        return values is not None and values <= set(GENDER_WORDS)
    if shape == "number":
        return profile.numeric_share >= 0.9
    if shape == "text":
        return profile.numeric_share < 0.9 or masked_share >= 0.3
    return True


def _values_support_name(profile: ColumnProfile, label: LabelRule) -> bool:
    """Tell whether enough values back a name hint, for labels that need it."""
    if not label.name_needs_values or profile.non_null < MIN_VALUES_TO_CONTRADICT:
        return True
    if profile.share("masked") >= MASKED_SUPPORT_SHARE:
        return True
    for rule in label.value_rules:
        for validator in filter(None, (rule.validator, rule.shape)):
            if profile.share(validator) >= VALUE_SUPPORT_SHARE:
                return True
    return False


def _combine(scores: Iterable[float]) -> float:
    remaining = 1.0
    for score in scores:
        remaining *= 1.0 - score
    return min(MAX_CONFIDENCE, 1.0 - remaining)


def _decide_one(
    label: LabelRule,
    findings: list[Finding],
    profile: ColumnProfile | None,
    rules: RulePack,
) -> Label | None:
    strong = [f for f in findings if f.source in ("value", "text", "context")]
    names = [f for f in findings if f.source == "name"]
    contradicted = any(f.source == "contradiction" for f in findings)
    signals: list[str] = []
    scores = [f.score for f in strong]

    if names and not contradicted:
        if profile is not None and not _values_support_name(profile, label):
            signals.append(
                "column name hints at this label but none of its values pass "
                "the label's checks"
            )
        elif profile is None or shape_fits(profile, label):
            score = names[0].score
            if profile is not None and profile.non_null == 0:
                score *= EMPTY_COLUMN_FACTOR
                signals.append("no non-null values examined; the name alone decides")
            masked_share = profile.share("masked") if profile is not None else 0.0
            if masked_share >= rules.thresholds.masked_share:
                score = max(score, 0.75)
                signals.append("values are masked; masked data is still personal")
            scores.append(score)
            signals.extend(names[0].signals)
        else:
            signals.append("column name hints at this label but the values do not fit")

    confidence = _combine(scores)
    if not scores or confidence < rules.thresholds.min_confidence:
        return None

    best = max(strong, key=lambda f: f.score) if strong else names[0]
    for finding in strong:
        signals.extend(s for s in finding.signals if s not in signals)
    evidence = Evidence(
        rule_id=best.rule_id,
        rule_pack_version=rules.version,
        examined=profile.examined if profile else best.examined,
        non_null=profile.non_null if profile else best.non_null,
        matches=max((f.matches for f in strong), default=0),
        masked_examples=best.masked_examples,
        signals=tuple(signals),
        masked_values=max((f.masked_values for f in findings), default=0),
    )
    return Label(label.id, label.category, confidence, evidence)


def decide(
    findings: Iterable[Finding],
    profiles: Mapping[str, ColumnProfile],
    rules: RulePack,
) -> dict[str | None, list[Label]]:
    """Return the labels per column name, and per ``None`` for the dataset."""
    grouped: dict[tuple[str | None, str], list[Finding]] = defaultdict(list)
    for finding in findings:
        if finding.label_id in rules:
            grouped[(finding.column, finding.label_id)].append(finding)

    decided: dict[str | None, list[Label]] = defaultdict(list)
    for (column, label_id), group in grouped.items():
        profile = profiles.get(column) if column is not None else None
        label = _decide_one(rules[label_id], group, profile, rules)
        if label is not None:
            decided[column].append(label)
    for labels in decided.values():
        labels.sort(key=lambda label: (-label.confidence, label.id))
    return dict(decided)
