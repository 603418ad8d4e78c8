"""Find personal information inside free-text columns (remarks, notes, logs).

A string column counts as free text when its values are long enough and read
like sentences (see ``is_free_text``). Its values then go through a cheap
vectorised prefilter. Values that cannot hold a phone number, ID number,
card, VIN, plate, e-mail address, IP address or name are ruled out without
further work. Up to ``max_values`` of the rest go through presidio
(``classifiers.presidio_engine``), and every match must pass its validator.

Scoring. One finding per label, with ``matches`` = rows holding at least one
validated hit. Sparse hits count, because one phone number in a remark is
personal information, so the score rises with the absolute count first:

====================  ==========================================
rows with hits        base score
====================  ==========================================
1                     0.50
2                     0.60
3 to 20               0.70 rising linearly to 0.85
more than 20          0.85
====================  ==========================================

The share of examined rows with hits adds up to 0.10 (the full bonus at 20 %
of rows). The sum is multiplied by the mean confidence of the hits (1.0 for
check-digit identifiers and mobile numbers, 0.8-0.9 for landlines, plates and
IP addresses, 0.6-0.9 for names) and capped at 0.95. Three phone numbers in
1,000 remarks thus score 0.70, and twenty or more score at least 0.85.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from classifiers.base import ClassificationInput, Classifier, Finding
from classifiers.shapes import surnames
from scanner.errors import UsageError
from scanner.masking import mask_value

if TYPE_CHECKING:
    # presidio, spaCy and jieba take seconds to import; they load only when a
    # free-text column is found (see ``classify_texts``).
    from presidio_analyzer import RecognizerResult

    from classifiers.presidio_engine import TextEngine
    from classifiers.profile import ColumnProfile
    from classifiers.rulepack import RulePack

logger = logging.getLogger(__name__)

DEFAULT_MAX_VALUES = 500
WKT_GEOMETRY = (
    r"(?i)^\s*(SRID=\d+;\s*)?(POINT|LINESTRING|POLYGON|MULTIPOINT|MULTILINESTRING|"
    r"MULTIPOLYGON|GEOMETRYCOLLECTION)\s*[ZM]*\s*\("
)
# presidio's ``RecognizerResult.RECOGNIZER_NAME_KEY``, kept here so that this
# module imports without presidio.
RECOGNIZER_NAME_KEY = "recognizer_name"
# Longer values are cut before analysis so one large blob cannot take the
# time budget of a whole column.
MAX_TEXT_CHARS = 4_000
# Characters analysed per column at most. Ordinary Chinese remarks run at
# about 100,000 characters a second and random rare characters (mojibake) at
# about 17,000 (measured on a 2-core VM), so a column takes an estimated
# 2.5 to 15 s.
MAX_COLUMN_CHARS = 250_000
MAX_EXAMPLES = 3

# Free-text test: the median value has at least this many characters, and
# at least this share of values contain text markers.
MIN_MEDIAN_LENGTH = 8
MIN_TEXT_SHARE = 0.5
# RE2 syntax (pyarrow compute): whitespace between words, CJK punctuation,
# or two Chinese characters in a row.
TEXT_MARKERS = r"\S\s+\S|[，。；：！？、（）《》“”‘’…]|\p{Han}\p{Han}"

# Prefilter (RE2): a value that matches none of these cannot hold a hit.
DIGIT_RUN = r"[0-9０-９](?:[ \-－]?[0-9０-９]){6,}"
AT_SIGN = r"[@＠]"
DOTTED_QUAD = r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}"
TWO_COLONS = r"[0-9A-Fa-f]*:[0-9A-Fa-f]*:"
# Province abbreviations that open a licence plate (GA 36-2018).
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
PLATE_START = f"[{PROVINCES}][A-Za-z]"
VIN_RUN = r"[0-9A-Za-z]{17}"
IDENTIFIER_PREFILTER = "|".join(
    (DIGIT_RUN, AT_SIGN, DOTTED_QUAD, TWO_COLONS, PLATE_START, VIN_RUN)
)

_HAN = re.compile("[\u3400-\u9fff]")

# When hits of different labels overlap, the longer span wins, and for the
# same span the label earlier in this list (an 18-digit number passing both
# the ID and the Luhn check is an ID number).
LABEL_PRIORITY = (
    "spi.id_number",
    "spi.bank_card",
    "pi.vin",
    "pi.email",
    "pi.phone",
    "pi.ip_address",
    "pi.licence_plate",
    "pi.name",
)

# Finding scores; see the module docstring.
SCORE_BY_ROWS = {1: 0.5, 2: 0.6}
CONFIDENT_ROWS = 3
CONFIDENT_SCORE = 0.7
FULL_COUNT_ROWS = 20
FULL_COUNT_SCORE = 0.85
SHARE_BONUS = 0.1
FULL_SHARE = 0.2
MAX_SCORE = 0.95


def finding_score(rows: int, examined: int, confidence: float) -> float:
    """Score a label found in ``rows`` of ``examined`` values (module docstring)."""
    if rows <= 0 or examined <= 0:
        return 0.0
    if rows < CONFIDENT_ROWS:
        base = SCORE_BY_ROWS[rows]
    else:
        progress = min(
            1.0, (rows - CONFIDENT_ROWS) / (FULL_COUNT_ROWS - CONFIDENT_ROWS)
        )
        base = CONFIDENT_SCORE + (FULL_COUNT_SCORE - CONFIDENT_SCORE) * progress
    bonus = SHARE_BONUS * min(1.0, rows / examined / FULL_SHARE)
    return round(min(MAX_SCORE, (base + bonus) * confidence), 3)


def _is_string(data_type: pa.DataType) -> bool:
    return pa.types.is_string(data_type) or pa.types.is_large_string(data_type)


def string_values(values: pa.ChunkedArray | pa.Array) -> pa.Array | None:
    """Return the non-null, non-blank values of a string column, else None."""
    data_type = values.type
    if pa.types.is_dictionary(data_type) and _is_string(data_type.value_type):
        values = values.cast(data_type.value_type)
    elif not _is_string(data_type):
        return None
    values = pc.utf8_trim_whitespace(pc.drop_null(values).cast(pa.large_string()))
    values = values.filter(pc.greater(pc.utf8_length(values), 0))
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks()
    return values


def _share(values: pa.Array, pattern: str) -> float:
    matched = pc.match_substring_regex(values, pattern)
    return float(np.mean(matched.to_numpy(zero_copy_only=False)))


def is_free_text(values: pa.Array) -> bool:
    """Tell whether non-blank string values read like free text.

    Code-like columns (order numbers, VINs, status words, e-mail addresses)
    are short or have no word breaks, CJK punctuation or Chinese words.
    Geometries written as WKT are not text: their long decimals would pass
    for card numbers.
    """
    if len(values) == 0:
        return False
    lengths = pc.utf8_length(values).to_numpy(zero_copy_only=False)
    if float(np.median(lengths)) < MIN_MEDIAN_LENGTH:
        return False
    if _share(values, WKT_GEOMETRY) >= MIN_TEXT_SHARE:
        return False
    return _share(values, TEXT_MARKERS) >= MIN_TEXT_SHARE


def _surname_prefilter() -> str:
    single, double = surnames()
    characters = set(single) | {surname[0] for surname in double}
    return "[" + "".join(sorted(characters)) + "]"


@dataclass(frozen=True)
class AnalysisPlan:
    """The values of a column chosen for presidio, with their counts.

    ``examined`` counts the values ruled out by the prefilter plus those
    analysed. ``not_analysed`` counts the candidates over the limits.
    """

    texts: list[str]
    examined: int
    not_analysed: int


def plan_analysis(values: pa.Array, max_values: int) -> AnalysisPlan:
    """Pick up to ``max_values`` values that may hold personal information.

    The values picked have ``MAX_COLUMN_CHARS`` characters at most in all,
    each counted up to ``MAX_TEXT_CHARS``. Values with digit runs, ``@``,
    dotted quads, plates or VIN-length runs come first, so a few phone
    numbers in a long column are not crowded out unless such values alone
    exceed the limits. Values whose only clue is a surname character fill
    the rest.
    """
    identifiers = pc.match_substring_regex(values, IDENTIFIER_PREFILTER)
    names = pc.match_substring_regex(values, _surname_prefilter())
    strong = identifiers.to_numpy(zero_copy_only=False)
    weak = names.to_numpy(zero_copy_only=False) & ~strong

    candidates = np.concatenate([np.flatnonzero(strong), np.flatnonzero(weak)])
    lengths = pc.utf8_length(values).to_numpy(zero_copy_only=False)[candidates]
    within_budget = np.cumsum(np.minimum(lengths, MAX_TEXT_CHARS)) <= MAX_COLUMN_CHARS
    chosen = candidates[: min(max_values, int(within_budget.sum()))]
    not_analysed = len(candidates) - len(chosen)
    texts = values.take(pa.array(chosen, pa.int64())).to_pylist()
    return AnalysisPlan(texts, len(values) - not_analysed, not_analysed)


def _overlap(first: RecognizerResult, second: RecognizerResult) -> bool:
    return first.start < second.end and second.start < first.end


def resolve_overlaps(results: Iterable[RecognizerResult]) -> list[RecognizerResult]:
    """Keep one hit per stretch of text: the longest, then by label priority."""

    def rank(result: RecognizerResult) -> tuple[int, int, int]:
        priority = LABEL_PRIORITY.index(result.entity_type)
        return (result.start - result.end, priority, result.start)

    selected: list[RecognizerResult] = []
    for result in sorted(results, key=rank):
        if not any(_overlap(result, other) for other in selected):
            selected.append(result)
    return sorted(selected, key=lambda result: result.start)


@dataclass
class LabelTally:
    """Hits of one label in one column, counted per row."""

    rows: int = 0
    confidence_sum: float = 0.0
    examples: list[str] = field(default_factory=list)
    recognizers: Counter[str] = field(default_factory=Counter)

    def add_row(self, text: str, hits: list[RecognizerResult]) -> None:
        self.rows += 1
        self.confidence_sum += max(hit.score for hit in hits)
        for hit in hits:
            name = hit.recognition_metadata[RECOGNIZER_NAME_KEY]
            self.recognizers[name] += 1
            example = mask_value(text[hit.start : hit.end])
            if len(self.examples) < MAX_EXAMPLES and example not in self.examples:
                self.examples.append(example)


def _language(text: str) -> str:
    return "zh" if _HAN.search(text) else "en"


def tally_hits(engine: TextEngine, texts: Iterable[str]) -> dict[str, LabelTally]:
    """Analyse each text and count, per label, the rows with validated hits."""
    tallies: dict[str, LabelTally] = {}
    texts = [text[:MAX_TEXT_CHARS] for text in texts]
    engine.prevalidate(texts)
    for text in texts:
        hits = resolve_overlaps(engine.analyze(text, _language(text)))
        by_label: dict[str, list[RecognizerResult]] = {}
        for hit in hits:
            by_label.setdefault(hit.entity_type, []).append(hit)
        for label_id, label_hits in by_label.items():
            tallies.setdefault(label_id, LabelTally()).add_row(text, label_hits)
    return tallies


class FreeTextClassifier(Classifier):
    """Find phone, ID, card, VIN, plate, e-mail, IP and name hits in free text.

    ``max_values`` bounds the values analysed per column, because presidio
    takes about a millisecond per short Chinese text.
    """

    name = "text"
    stage = 1

    def __init__(self, rules: RulePack, max_values: int = DEFAULT_MAX_VALUES) -> None:
        super().__init__(rules)
        if max_values < 1:
            raise UsageError(
                f"max_values must be a positive number of values, not {max_values}"
            )
        self.max_values = max_values

    def classify(self, data: ClassificationInput) -> list[Finding]:
        findings: list[Finding] = []
        for column, values in data.columns.items():
            texts = self._texts(values, data.profiles.get(column))
            if texts is not None and is_free_text(texts):
                findings.extend(self.classify_texts(column, texts))
        return findings

    def classify_texts(self, column: str, texts: pa.Array) -> list[Finding]:
        """Return one finding per label found in the free-text values ``texts``."""
        started = time.perf_counter()
        plan = plan_analysis(texts, self.max_values)
        tallies = {}
        if plan.texts:
            from classifiers.presidio_engine import get_text_engine

            tallies = tally_hits(get_text_engine(), plan.texts)

        findings = [
            self._finding(column, label_id, tally, plan, len(texts))
            for label_id, tally in sorted(tallies.items())
        ]
        logger.debug(
            "text column %s: %d values, %d analysed, %d labels in %.3f s",
            column,
            len(texts),
            len(plan.texts),
            len(findings),
            time.perf_counter() - started,
        )
        return findings

    def _finding(
        self,
        column: str,
        label_id: str,
        tally: LabelTally,
        plan: AnalysisPlan,
        non_null: int,
    ) -> Finding:
        confidence = tally.confidence_sum / tally.rows
        signals = [
            f"{name}: {count} matches in free text"
            for name, count in sorted(tally.recognizers.items())
        ]
        if plan.not_analysed:
            signals.append(
                f"{plan.not_analysed} candidate values not analysed (limit "
                f"{self.max_values} values or {MAX_COLUMN_CHARS:,} characters "
                "per column)"
            )
        return Finding(
            column=column,
            label_id=label_id,
            source="text",
            score=finding_score(tally.rows, plan.examined, confidence),
            rule_id=f"text.{label_id}",
            matches=tally.rows,
            examined=plan.examined,
            non_null=non_null,
            masked_examples=tuple(tally.examples),
            signals=tuple(signals),
        )

    @staticmethod
    def _texts(
        values: pa.ChunkedArray, profile: ColumnProfile | None
    ) -> pa.Array | None:
        if profile is not None and _is_string(profile.arrow_type):
            return profile.text
        return string_values(values)
