"""Turn a label of the local catalog into what a remote catalog shows.

The text names the rule, the rule pack version, the counts and up to three
masked examples; ``ExpectedLabel.description`` adds the scan time. It is built
only from the evidence the local catalog stores, whose examples the
classifiers mask. An example with no mask character in it is dropped here as
well, so that a classifier that broke that contract cannot push a raw value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from classifiers.rulepack import LabelRule
from scanner.masking import MASK, redact_text
from scanner.writers.base import ExpectedLabel, LabelKey

MAX_EXAMPLES = 3
MAX_EXAMPLE_CHARS = 40
IN_FORCE = ("suggested", "confirmed")


def label_title(label_id: str, rule: LabelRule | None) -> str:
    """Return ``id name_zh / name_en``, or the id alone for an unknown label."""
    if rule is None:
        return label_id
    return f"{label_id} {rule.name_zh} / {rule.name_en}"


def _safe_examples(examples: Iterable[Any]) -> list[str]:
    kept = []
    for example in examples:
        text = str(example)
        if MASK in text and len(text) <= MAX_EXAMPLE_CHARS:
            kept.append(text)
        if len(kept) == MAX_EXAMPLES:
            break
    return kept


def _counts(evidence: Mapping[str, Any]) -> str:
    matches = evidence.get("matches", 0)
    non_null = evidence.get("non_null", 0)
    text = f"{matches} of {non_null} non-null values matched"
    if non_null:
        text += f" ({matches / non_null:.0%})"
    if evidence.get("masked_values"):
        text += f", {evidence['masked_values']} already masked"
    return text


def evidence_text(view: Mapping[str, Any]) -> str:
    """Describe why a stored label was given, without any raw value.

    ``view`` is one label as ``CatalogStore.show_dataset`` returns it.
    """
    evidence = view.get("evidence") or {}
    if view["state"] == "confirmed":
        lead = f"confirmed by {view['source']} in cardex"
    else:
        lead = "suggested by the cardex scanner; confirm or reject it in cardex"
    parts = [lead]
    if evidence.get("rule_id"):
        version = evidence.get("rule_pack_version") or view.get("rule_pack_version")
        parts.append(f"rule {evidence['rule_id']} of rule pack {version}")
        parts.append(_counts(evidence))
    examples = _safe_examples(evidence.get("examples", ()))
    if examples:
        parts.append("masked examples " + ", ".join(examples))
    # Signals are free text from classifiers: mask anything value-like in them.
    signals = [redact_text(str(s), limit=200) for s in evidence.get("signals", ())]
    if signals[:3]:
        parts.append("signals " + "; ".join(signals[:3]))
    return "; ".join(parts)


def expected_labels(
    view: Mapping[str, Any],
) -> tuple[dict[LabelKey, ExpectedLabel], set[LabelKey]]:
    """Return the labels in force of a dataset view, and the rejected keys."""
    scanned_at = view.get("last_scanned_at")
    located: list[tuple[str, Mapping[str, Any]]] = [
        ("", label) for label in view.get("labels", [])
    ]
    for column in view.get("columns", []):
        located += [(column["name"], label) for label in column["labels"]]
    for column_name, labels in (view.get("other_labels") or {}).items():
        located += [(column_name, label) for label in labels]

    expected: dict[LabelKey, ExpectedLabel] = {}
    rejected: set[LabelKey] = set()
    for column_name, label in located:
        key = (column_name, label["id"])
        if label["state"] not in IN_FORCE:
            rejected.add(key)
            continue
        confirmed = label["state"] == "confirmed"
        expected[key] = ExpectedLabel(
            column=column_name,
            label_id=label["id"],
            category=label["category"],
            state=label["state"],
            evidence=evidence_text(label),
            confidence=label.get("confidence"),
            decided_by=label["source"] if confirmed else None,
            scanned_at=scanned_at,
        )
    return expected, rejected
