"""Grade a dataset under GB/T 43697-2024 and by the personal data it holds.

GB/T 43697-2024 sorts data into core, important and general data. cardex
cannot decide that data is core data; it grades a dataset ``core_candidate``
when a rule raised ``flag.core_candidate``, so that a person reviews it.
Separately, ``personal`` records whether the dataset holds sensitive personal
information (PIPL art. 28), other personal information, or none.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from scanner.model import DatasetResult

Grade = Literal["core_candidate", "important", "general"]
PersonalLevel = Literal["sensitive", "personal", "none"]

CORE_CANDIDATE_FLAG = "flag.core_candidate"


def grade_labels(label_ids: Iterable[str]) -> tuple[Grade, PersonalLevel]:
    """Return the grade and the personal level that ``label_ids`` make.

    ``label_ids`` are the labels in force on the dataset and on its columns,
    after people's decisions: rejected labels must be left out.
    """
    ids = set(label_ids)

    grade: Grade = "general"
    if CORE_CANDIDATE_FLAG in ids:
        grade = "core_candidate"
    elif any(label_id.startswith("imp.") for label_id in ids):
        grade = "important"

    personal: PersonalLevel = "none"
    if any(label_id.startswith("spi.") for label_id in ids):
        personal = "sensitive"
    elif any(label_id.startswith("pi.") for label_id in ids):
        personal = "personal"
    return grade, personal


def grade_result(result: DatasetResult) -> None:
    """Set ``result.grade`` and ``result.personal`` from its labels."""
    ids = [label.id for label in result.labels] + [
        label.id for column in result.columns for label in column.labels
    ]
    result.grade, result.personal = grade_labels(ids)
