"""Run the classifiers over one sample and decide its labels."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from classifiers.base import ClassificationInput, Classifier, Finding
from classifiers.decide import decide
from classifiers.profile import profile_column
from classifiers.rulepack import RulePack
from classifiers.shapes import all_validators
from scanner.masking import mask_value
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

    shown = safe_column_names(list(profiles))
    results = []
    for name, profile in profiles.items():
        results.append(
            ColumnResult(
                name=shown[name],
                data_type=sample.source_types.get(name) or str(columns[name].type),
                examined=profile.examined,
                non_null=profile.non_null,
                labels=labels.get(name, []),
                notes=list(profile.notes),
            )
        )
    return results, labels.get(None, [])


# Validators whose matches must not appear in a column name: JSON documents
# sometimes key objects by phone number or e-mail address.
_VALUE_VALIDATORS = ("mobile_phone", "resident_id", "bank_card", "vin")
_SEGMENT = re.compile(r"[^.\[\]{}]+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


def safe_column_names(names: list[str]) -> dict[str, str]:
    """Map each column name to a copy with personal values masked.

    A nested path segment that is itself a phone number, ID number, e-mail
    address, card number or VIN is replaced by its masked form, so that
    reports and catalogs never store it.
    """
    names_without_email = {name: _EMAIL.sub(_mask_match, name) for name in names}
    segments = sorted(
        {s for name in names_without_email.values() for s in _SEGMENT.findall(name)}
    )
    if not segments:
        return names_without_email
    array = pa.array(segments)
    validators = all_validators()
    hits = np.zeros(len(segments), dtype=bool)
    for validator in _VALUE_VALIDATORS:
        hits |= validators[validator](array)
    personal = {segment for segment, hit in zip(segments, hits, strict=True) if hit}
    if not personal:
        return names_without_email
    return {
        name: _SEGMENT.sub(
            lambda m: mask_value(m.group(0)) if m.group(0) in personal else m.group(0),
            shown,
        )
        for name, shown in names_without_email.items()
    }


def _mask_match(match: re.Match[str]) -> str:
    return mask_value(match.group(0))
