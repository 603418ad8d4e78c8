"""Run the classifiers over one sample and decide its labels."""

from __future__ import annotations

from collections.abc import Sequence

from classifiers.base import ClassificationInput, Classifier, Finding
from classifiers.decide import decide
from classifiers.profile import profile_column
from classifiers.rulepack import RulePack
from scanner.model import ColumnResult, Label, Sample


def classify_sample(
    sample: Sample, classifiers: Sequence[Classifier], rules: RulePack
) -> tuple[list[ColumnResult], list[Label]]:
    """Return the column results and dataset labels for one sample."""
    table = sample.table
    columns = {name: table.column(name) for name in table.column_names}
    profiles = {name: profile_column(name, values) for name, values in columns.items()}
    data = ClassificationInput(sample=sample, columns=columns, profiles=profiles)

    findings: list[Finding] = []
    for classifier in classifiers:
        if classifier.stage == 1:
            findings.extend(classifier.classify(data))
    first = decide(findings, profiles, rules)
    data.decided = {
        column: {label.id for label in labels} for column, labels in first.items()
    }

    for classifier in classifiers:
        if classifier.stage == 2:
            findings.extend(classifier.classify(data))
    labels = decide(findings, profiles, rules)

    results = []
    for name, profile in profiles.items():
        results.append(
            ColumnResult(
                name=name,
                data_type=sample.source_types.get(name) or str(columns[name].type),
                examined=profile.examined,
                non_null=profile.non_null,
                labels=labels.get(name, []),
                notes=list(profile.notes),
            )
        )
    return results, labels.get(None, [])
