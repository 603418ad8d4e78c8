"""The interface every classifier implements.

Classifiers are registered under the ``cardex.classifiers`` entry-point group.
Each one looks at a sampled table and returns ``Finding`` objects: pieces of
evidence that a label applies to a column (or, with ``column=None``, to the
whole dataset). ``classifiers.decide`` weighs the findings of all classifiers
into the final labels, so a classifier never has to know about the others.

Classifiers run in two stages. Stage 1 sees the sample only. Stage 2 (table
context) also sees the labels decided from stage 1, because rules such as
"a person key, a timestamp and coordinates form a track" depend on them.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Literal

import pyarrow as pa

if TYPE_CHECKING:
    from classifiers.profile import ColumnProfile
    from classifiers.rulepack import RulePack
    from scanner.model import Sample

FindingSource = Literal["value", "name", "text", "context", "contradiction"]


@dataclass(frozen=True)
class Finding:
    """One piece of evidence that ``label_id`` applies to ``column``.

    ``score`` is how sure this evidence alone makes the classifier, from 0 to
    1. ``source`` says what kind of evidence it is: ``name`` hints are weighed
    against ``contradiction`` findings (values that rule a label out).
    ``masked_examples`` must already be masked.
    """

    column: str | None
    label_id: str
    source: FindingSource
    score: float
    rule_id: str
    matches: int = 0
    examined: int = 0
    non_null: int = 0
    masked_values: int = 0
    masked_examples: tuple[str, ...] = ()
    signals: tuple[str, ...] = ()


@dataclass
class ClassificationInput:
    """What a classifier sees: the sample, its columns and their profiles.

    ``decided`` maps a column name (or ``None`` for the dataset) to the label
    ids decided after stage 1; it is empty during stage 1.
    """

    sample: Sample
    columns: Mapping[str, pa.ChunkedArray]
    profiles: Mapping[str, ColumnProfile]
    decided: dict[str | None, set[str]] = field(default_factory=dict)


class Classifier(abc.ABC):
    """Turns a sampled table into findings."""

    #: Short name used in messages and entry points.
    name: ClassVar[str] = ""
    #: 1 for classifiers that need only the sample, 2 for table context.
    stage: ClassVar[int] = 1

    def __init__(self, rules: RulePack) -> None:
        self.rules = rules

    @abc.abstractmethod
    def classify(self, data: ClassificationInput) -> Iterable[Finding]:
        """Return the findings for ``data``.

        Odd values must not raise. If a classifier raises anyway, the engine
        records the dataset as failed with reason ``internal``.
        """
