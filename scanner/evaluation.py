"""Score labels against ground truth: precision, recall and F1 per label id.

Truth and predictions map a key (dataset key and column name, or dataset key
and ``None`` for dataset labels) to a set of label ids. A key present in the
truth with an empty set is a true negative; predictions on keys the truth
does not list are ignored when ``only_listed`` is true, because partial truth
(such as a third party's) cannot call them wrong.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

Key = tuple[str, str | None]


@dataclass
class LabelScore:
    """Counts for one label id."""

    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0
    misses: list[str] = field(default_factory=list)
    false_alarms: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        found = self.true_positive + self.false_positive
        return self.true_positive / found if found else 1.0

    @property
    def recall(self) -> float:
        expected = self.true_positive + self.false_negative
        return self.true_positive / expected if expected else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score(
    truth: Mapping[Key, set[str]],
    predicted: Mapping[Key, set[str]],
    only_listed: bool = True,
    label_filter: Iterable[str] | None = None,
) -> tuple[dict[str, LabelScore], LabelScore]:
    """Return the score per label id and the micro-averaged total."""
    wanted = set(label_filter) if label_filter is not None else None
    per_label: dict[str, LabelScore] = defaultdict(LabelScore)
    keys = set(truth) if only_listed else set(truth) | set(predicted)
    for key in sorted(keys, key=lambda k: (k[0], k[1] or "")):
        expected = truth.get(key, set())
        found = predicted.get(key, set())
        where = f"{key[0]}:{key[1] or '(dataset)'}"
        for label_id in expected | found:
            if wanted is not None and label_id not in wanted:
                continue
            entry = per_label[label_id]
            if label_id in expected and label_id in found:
                entry.true_positive += 1
            elif label_id in found:
                entry.false_positive += 1
                entry.false_alarms.append(where)
            else:
                entry.false_negative += 1
                entry.misses.append(where)

    total = LabelScore()
    for entry in per_label.values():
        total.true_positive += entry.true_positive
        total.false_positive += entry.false_positive
        total.false_negative += entry.false_negative
        total.misses.extend(entry.misses)
        total.false_alarms.extend(entry.false_alarms)
    return dict(per_label), total


def _row(name: str, entry: LabelScore) -> str:
    counts = (
        f"{entry.true_positive:4} {entry.false_positive:4} {entry.false_negative:4}"
    )
    rates = f"{entry.precision:6.3f} {entry.recall:6.3f} {entry.f1:6.3f}"
    return f"{name:34} {counts} {rates}"


def format_scores(per_label: Mapping[str, LabelScore], total: LabelScore) -> str:
    """Render scores as a fixed-width table."""
    header = f"{'label':34} {'tp':>4} {'fp':>4} {'fn':>4} {'prec':>6} {'recall':>6}"
    lines = [header + f" {'f1':>6}"]
    lines.extend(_row(label_id, per_label[label_id]) for label_id in sorted(per_label))
    lines.append(_row("micro", total))
    return "\n".join(lines)
