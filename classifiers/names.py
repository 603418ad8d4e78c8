"""Column-name hints: ``sjhm``, ``ownerPhone``, ``联系电话`` all hint at a phone.

Names are split on separators, dots and camel case into lower-case tokens.
Hints look at the last segment of a nested path only (``createdDate`` in
``emails[].createdDate``). English and pinyin hints match whole tokens (or a
run of tokens for a hint such as ``owner_name``); a hint written ``=name``
matches only a segment that is exactly that word; Chinese hints match
anywhere in the segment. A token anywhere in the path that is in a label's
``exclude`` list cancels its English and pinyin hints, so ``city_name`` is not
a person's name and ``email_verified`` is no address.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache, lru_cache

from classifiers.base import ClassificationInput, Classifier, Finding
from classifiers.rulepack import LabelRule, NameHints

_SEPARATORS = re.compile(r"[\s_\-.:/\\\[\]{}()#$]+")
_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+|[^\x00-\x7f]+")
# Pinyin initials of two letters are too common as abbreviations to match
# inside long names (``zh`` is also "Chinese"); they count only in short names.
_SHORT_PINYIN_MAX_TOKENS = 2
# Prefix of a hint that must match the whole last segment of a name.
EXACT = "="


@cache
def tokenize(name: str) -> tuple[str, ...]:
    """Split a column name into lower-case word tokens.

    Plural English tokens are reduced to the singular (``phones`` ->
    ``phone``) so hints need only one spelling.
    """
    tokens: list[str] = []
    for part in _SEPARATORS.split(name):
        for word in _WORDS.findall(part):
            token = word.lower()
            if len(token) > 3 and token.endswith("s") and token.isascii():
                token = token[:-1]
            tokens.append(token)
    return tuple(tokens)


def _contains_run(tokens: tuple[str, ...], run: tuple[str, ...]) -> bool:
    width = len(run)
    return any(tokens[i : i + width] == run for i in range(len(tokens) - width + 1))


def last_segment(name: str) -> str:
    """Return the last field of a nested column path, without list markers."""
    return name.rsplit(".", 1)[-1].replace("[]", "").replace("{}", "")


def match_hint(name: str, label: LabelRule) -> str | None:
    """Return the hint of ``label`` that ``name`` matches, or None."""
    return match_name_hints(name, label.name_hints)


# Names repeat across the tables of a lake and every rule checks each, so the
# results are cached. The bound limits memory on a lake of many distinct names.
@lru_cache(maxsize=1 << 16)
def match_name_hints(name: str, hints: NameHints) -> str | None:
    """Return the hint in ``hints`` that ``name`` matches, or None."""
    segment = last_segment(name)
    for hint in hints.zh:
        if hint in segment:
            return hint

    tokens = tokenize(segment)
    if not tokens:
        return None
    excluded = set(hints.exclude) & set(tokenize(name))
    joined = "".join(tokens)

    for hint in hints.en:
        exact = hint.startswith(EXACT)
        run = tokenize(hint.removeprefix(EXACT))
        if excluded - set(run):
            continue
        if exact:
            if tokens == run:
                return hint.removeprefix(EXACT)
        elif _contains_run(tokens, run) or joined == "".join(run):
            return hint
    for hint in hints.pinyin:
        if excluded:
            break
        if len(hint) <= 2 and len(tokens) > _SHORT_PINYIN_MAX_TOKENS:
            continue
        if hint in tokens:
            return hint
    return None


class NameClassifier(Classifier):
    """Give a ``name`` finding for every label whose hints a column name matches."""

    name = "names"
    stage = 1

    def classify(self, data: ClassificationInput) -> Iterable[Finding]:
        for column in data.columns:
            for label in self.rules.labels.values():
                if label.scope == "dataset":
                    continue
                hint = match_hint(column, label)
                if hint is None:
                    continue
                yield Finding(
                    column=column,
                    label_id=label.id,
                    source="name",
                    score=label.name_confidence,
                    rule_id=f"{label.id}.name",
                    signals=(f"column name matches hint '{hint}'",),
                )
