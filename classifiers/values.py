"""Value rules: validators run over whole columns at once.

For each column and each value rule of the rule pack, count the values that
pass the rule's validator. A column whose values mostly pass gets a finding;
so does a mostly-other column with a few validated hits when the rule allows
sparse evidence (three phone numbers in a remarks column). A column whose
values mostly have the rule's shape but fail its check (VIN-shaped part
numbers with wrong check digits) is a look-alike and gets no finding unless
its name says otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pyarrow as pa

from classifiers.base import ClassificationInput, Classifier, Finding
from classifiers.names import match_hint, tokenize
from classifiers.profile import ColumnProfile
from classifiers.rulepack import LabelRule, ValueRule
from classifiers.shapes import Validator, all_validators
from scanner.masking import mask_value

MAX_EXAMPLES = 3
# A column this numeric is an id or a measure, where a few values that happen
# to look like phone numbers are chance, not sparse evidence.
NUMERIC_COLUMN_SHARE = 0.9

# Value lengths, in characters, that each validator can accept. Values
# outside the range are not passed to it, which saves most of the work on
# columns of another kind. Validators not listed see every value.
_LENGTHS: dict[str, tuple[int, int]] = {
    "resident_id": (15, 22),
    "resident_id_shape": (15, 22),
    "vin": (17, 17),
    "vin_shape": (17, 17),
    "vin_european": (17, 17),
    "phone_shape": (7, 24),
    "iban_shape": (15, 42),
    "mobile_phone": (11, 24),
    "landline_phone": (7, 24),
    "licence_plate": (7, 10),
    "bank_card": (16, 23),
    "bank_card_cn": (16, 23),
    "digits16to19": (16, 23),
    "imei": (14, 17),
    "digits15": (15, 15),
    "imsi": (15, 15),
    "iccid": (19, 20),
    "mac_address": (12, 17),
    "email": (5, 254),
    "ip_address": (2, 45),
    "password_hash": (13, 300),
    "hex_digest": (32, 128),
    "passport": (8, 12),
    "hk_macau_permit": (9, 12),
    "us_ssn": (11, 11),
    "cn_person_name": (2, 4),
    "cn_gender_word": (1, 2),
    "cn_address": (6, 200),
}


class ValueClassifier(Classifier):
    """Run the rule pack's value rules over every text-like column."""

    name = "values"
    stage = 1

    def classify(self, data: ClassificationInput) -> Iterable[Finding]:
        validators = all_validators()
        for column, profile in data.profiles.items():
            if len(profile.text) == 0:
                continue
            masked = profile.count("masked")
            for label, rule in self.rules.value_rules:
                finding = self._apply(validators, label, rule, column, profile, masked)
                if finding is not None:
                    yield finding

    def _count(
        self, validator: Validator, profile: ColumnProfile, name: str
    ) -> tuple[int, np.ndarray | None, pa.Array | None]:
        """Return (hits, hit mask, values checked) of one validator on a column."""
        low, high = _LENGTHS.get(name, (0, math.inf))
        values = profile.text
        lengths = profile.lengths
        if len(lengths) and (lengths.min() < low or lengths.max() > high):
            in_range = (lengths >= low) & (lengths <= high)
            candidates = int(in_range.sum())
            if candidates < self._least_useful(len(lengths)):
                return 0, None, None
            values = values.filter(pa.array(in_range))
        hits = validator(values)
        return int(hits.sum()), hits, values

    def _least_useful(self, non_null: int) -> int:
        """Return the minimum number of candidates that could yield a finding."""
        thresholds = self.rules.thresholds
        by_share = math.ceil(non_null * min(thresholds.min_share, 0.5))
        return max(1, min(thresholds.min_sparse_matches, by_share))

    def _apply(
        self,
        validators: dict[str, Validator],
        label: LabelRule,
        rule: ValueRule,
        column: str,
        profile: ColumnProfile,
        masked: int,
    ) -> Finding | None:
        hint = match_hint(column, label)
        if rule.requires_name_hint and hint is None:
            return None
        if label.veto_names and set(label.veto_names) & set(tokenize(column)):
            return None
        matches, hits, checked = self._count(
            validators[rule.validator], profile, rule.validator
        )
        shaped = 0
        if rule.shape is not None:
            shaped = self._count(validators[rule.shape], profile, rule.shape)[0]
        if matches == 0:
            return None

        thresholds = self.rules.thresholds
        non_null = profile.non_null
        share = matches / non_null
        min_share = (
            rule.min_share if rule.min_share is not None else thresholds.min_share
        )
        look_alike = (
            shaped / non_null >= thresholds.look_alike_share and share < min_share
        )
        signals = [f"{matches} of {non_null} values pass {rule.validator}"]

        if share >= min_share:
            score = rule.confidence
        elif look_alike:
            if hint is None:
                return None
            score = min(rule.confidence, label.name_confidence) * 0.9
            signals.append(
                f"{shaped} values have the shape but {shaped - matches} fail the "
                f"{rule.validator} check; the column name carries the label"
            )
        elif (
            rule.sparse
            and matches >= thresholds.min_sparse_matches
            and profile.numeric_share < NUMERIC_COLUMN_SHARE
        ):
            score = rule.confidence * (0.9 if share >= 0.1 else 0.8)
            signals.append("sparse: counted by validated hits, not by share")
        else:
            return None

        assert hits is not None and checked is not None
        examples = checked.filter(pa.array(hits))[: MAX_EXAMPLES * 10].to_pylist()
        masked_examples = tuple(dict.fromkeys(mask_value(v) for v in examples))
        return Finding(
            column=column,
            label_id=label.id,
            source="value",
            score=score,
            rule_id=rule.id,
            matches=matches,
            examined=profile.examined,
            non_null=non_null,
            masked_values=masked,
            masked_examples=masked_examples[:MAX_EXAMPLES],
            signals=tuple(signals),
        )
