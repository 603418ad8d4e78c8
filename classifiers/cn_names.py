"""Recognise Chinese person names in free text.

Names carry no checksum, so a name is accepted only when two kinds of
evidence agree. The word starts with a common surname
(``data/cn_surnames.txt``), and either jieba tags it as a person name
(``nr``) or a context word such as 客户 or 车主 is next to it. Ordinary
words that start with a surname character (王者, 高速, 周末, 方向盘) are in
jieba's dictionary under another part of speech and are never accepted.

The recognizer reads the tokens and jieba tags that ``presidio_engine``'s NLP
engine stores in the spaCy ``Doc`` (``token.tag_``), so the text is segmented
once per analysis.

NOTE: Names in traditional Chinese text are not found, because jieba's
dictionary, tagger and the context words are for simplified Chinese.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import jieba
import jieba.posseg
from presidio_analyzer import AnalysisExplanation, EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.tokens import Doc, Token

from classifiers.shapes import surnames

LABEL_ID = "pi.name"
RECOGNIZER_NAME = "cn_person_name"

# Words that mark the token beside them as a person's name.
CONTEXT_WORDS = frozenset(
    {"客户", "先生", "女士", "车主", "联系人", "来电", "姓名", "司机", "驾驶员"}
)
# A surname followed by one of these is a form of address (王师傅, 张总),
# which does not name the person.
TITLES = frozenset(
    {"先生", "女士", "小姐", "师傅", "老师", "经理", "总", "工", "姐", "哥"}
)
# Characters that end or follow place and organisation names (黄田街道,
# 魏塘镇, 陈庄村, 梅景路) and rarely end or follow a given name.
PLACE_CHARACTERS = frozenset(
    "省市县区镇乡村路街巷弄道庄苑厦店坊埠营寨岙桥塘湾港园城楼号庭府邸阁院"
)
# Words that follow a place or company name (金福小区, 卓锴科技).
PLACE_WORDS = frozenset({
    "小区", "花园", "大厦", "广场", "中心", "公司", "集团", "科技", "工业",
    "工业区", "工业园", "市场", "商城", "社区", "新村", "山庄", "公馆",
    "医院", "医疗", "中学", "小学", "大学", "学校", "贸易", "大道", "组",
})  # fmt: skip
# House numbers (长江路609号, 10栋1单元) mark a postal address, where most
# surname-initial words are estate and shop names (锦绣华庭), so a name in an
# address needs a context word.
HOUSE_NUMBER = re.compile(r"[路街道巷弄]\s*\d+\s*号|\d+\s*(?:栋|幢|单元|室)")
# Tokens before and after a candidate searched for context words.
CONTEXT_BEFORE = 3
CONTEXT_AFTER = 2
# jieba's dictionary tags some common words as names (高峰, 胡同, 黄金周).
# Their dictionary frequency is high, while the full names it lists
# (王建国, 李秀英) are rare, so such words need a context word right beside them.
COMMON_WORD_FREQUENCY = 100
PERSON_TAG = "nr"
# Tags jieba gives to the given-name part of a name split after its surname
# (欧阳/娜娜 is tagged ns/nrt).
GIVEN_NAME_TAGS = ("nr", "nrt", "nrfg")

# jieba's tag for words it does not know and that are not tagged.
UNKNOWN_TAG = "x"
# Unknown words whose tag is kept per process (names recur across rows).
TAG_CACHE_SIZE = 65_536

# Score of one accepted name, by evidence.
SCORE_UNKNOWN_PERSON = 0.6
SCORE_KNOWN_PERSON = 0.5
SCORE_CONTEXT_ONLY = 0.6
SCORE_WITH_CONTEXT = 0.9


def surname_of(word: str) -> str | None:
    """Return the surname ``word`` starts with, the two-character ones first."""
    single, double = surnames()
    if word[:2] in double:
        return word[:2]
    if word[:1] in single:
        return word[:1]
    return None


def is_han(word: str) -> bool:
    """Tell whether ``word`` is non-empty and all CJK unified ideographs."""
    return bool(word) and all("\u3400" <= char <= "\u9fff" for char in word)


def initialise_jieba() -> None:
    """Load jieba's dictionary (bundled with the package) without log noise."""
    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()


def segment(text: str) -> list[tuple[str, str]]:
    """Split ``text`` into (word, jieba part-of-speech tag) pairs.

    ``jieba.posseg.cut`` over a whole text is slow on characters its HMM has
    no states for: 30 rare characters in a row take about 0.1 s and 120 take
    0.4 s (measured on a 2-core VM). Traditional Chinese and mojibake are
    full of them. So the text is split by ``jieba.cut``, whose HMM is linear,
    and only unknown words that may be names are tagged by ``jieba.posseg``.
    """
    pairs: list[tuple[str, str]] = []
    for word in jieba.cut(text):
        tag = jieba.posseg.dt.word_tag_tab.get(word)
        if tag is None:
            tag = _tag_unknown_word(word) if _may_be_name(word) else UNKNOWN_TAG
        pairs.append((word, tag))
    return pairs


def _may_be_name(word: str) -> bool:
    """Tell whether an unknown word is worth tagging: a surname and 1-3 more."""
    states = jieba.posseg.char_state_tab.P
    return (
        2 <= len(word) <= 4
        and is_han(word)
        and surname_of(word) is not None
        and all(char in states for char in word)
    )


@lru_cache(maxsize=TAG_CACHE_SIZE)
def _tag_unknown_word(word: str) -> str:
    """Return jieba's tag for an unknown word, or ``x`` when jieba splits it."""
    pairs = list(jieba.posseg.cut(word))
    return pairs[0].flag if len(pairs) == 1 else UNKNOWN_TAG


@dataclass(frozen=True)
class NameCandidate:
    """A word that may be a name: its token range, text and jieba tag."""

    start: int
    end: int
    text: str
    tag: str


def _is_filler(token: Token) -> bool:
    return token.is_space or token.is_punct or not token.text.strip()


def _words(tokens: Iterable[Token], limit: int) -> list[str]:
    """Return the texts of up to ``limit`` tokens, skipping punctuation."""
    words: list[str] = []
    for token in tokens:
        if len(words) == limit:
            break
        if not _is_filler(token):
            words.append(token.text)
    return words


def _neighbours(doc: Doc, start: int, end: int) -> tuple[list[str], list[str]]:
    """Return the nearest words before (nearest first) and after a token span."""
    before = _words(reversed(doc[:start]), CONTEXT_BEFORE)
    after = _words(doc[end:], CONTEXT_AFTER)
    return before, after


def _candidates(doc: Doc) -> list[NameCandidate]:
    """List the words of ``doc`` that start with a surname and could be names.

    A lone surname token followed by a one- or two-character token tagged as
    a name is joined with it, because jieba splits some names (欧阳/娜娜).
    """
    found: list[NameCandidate] = []
    index = 0
    while index < len(doc):
        token = doc[index]
        word = token.text
        following = doc[index + 1] if index + 1 < len(doc) else None
        if (
            following is not None
            and surname_of(word) == word
            and following.tag_ in GIVEN_NAME_TAGS
            and is_han(following.text)
            and len(following.text) <= 2
        ):
            name = word + following.text
            found.append(NameCandidate(index, index + 2, name, PERSON_TAG))
            index += 2
            continue
        if is_han(word) and 2 <= len(word) <= 4 and surname_of(word):
            found.append(NameCandidate(index, index + 1, word, token.tag_))
        index += 1
    return found


def _is_common_word(word: str) -> bool:
    """Tell whether a dictionary word tagged as a name is mostly something else.

    jieba's dictionary tags many ordinary two-character words as names (王爷,
    胡子, 石狮), while real two-character names are mostly absent from it.
    Frequent longer entries are places and famous people (王府井, 诸葛亮).
    """
    return len(word) == 2 or (jieba.dt.FREQ.get(word) or 0) >= COMMON_WORD_FREQUENCY


def _is_place(word: str, after: Sequence[str]) -> bool:
    """Tell whether ``word`` reads as part of a place or company name."""
    if word[-1] in PLACE_CHARACTERS:
        return True
    if not after:
        return False
    following = after[0]
    # A short word ending in a place character continues the name (李渔东路).
    short_place = len(following) <= 2 and following[-1] in PLACE_CHARACTERS
    return following[0] in PLACE_CHARACTERS or following in PLACE_WORDS or short_place


def _score(
    candidate: NameCandidate,
    before: Sequence[str],
    after: Sequence[str],
    in_address: bool,
) -> float:
    """Return the score of a candidate name, or 0 when it is not accepted.

    Titles (张先生), place names and dictionary words of another part of
    speech are rejected. A word tagged ``nr`` that jieba's dictionary does not
    list is accepted (a higher score with a context word nearby), as is a
    rare dictionary name. A common word tagged ``nr`` needs a context word
    right beside it, and an untagged unknown word needs one nearby. In an
    address, every name needs a context word.
    """
    surname = surname_of(candidate.text) or ""
    given_name = candidate.text[len(surname) :]
    if not given_name or len(given_name) > 2 or given_name in TITLES:
        return 0.0
    if _is_place(candidate.text, after):
        return 0.0
    dictionary_tag = jieba.posseg.dt.word_tag_tab.get(candidate.text)
    if dictionary_tag is not None and dictionary_tag != PERSON_TAG:
        return 0.0  # an ordinary word: 王者, 周末, 方向盘

    near = any(word in CONTEXT_WORDS for word in (*before, *after))
    if (surname in PLACE_CHARACTERS or in_address) and not near:
        return 0.0  # 路 and 庄 also end road and village names (望云路宏嘉山庄)
    adjacent = bool(before[:1] and before[0] in CONTEXT_WORDS) or bool(
        after[:1] and after[0] in CONTEXT_WORDS
    )
    if candidate.tag != PERSON_TAG:
        return SCORE_CONTEXT_ONLY if dictionary_tag is None and near else 0.0
    if dictionary_tag is None:
        return SCORE_WITH_CONTEXT if near else SCORE_UNKNOWN_PERSON
    if _is_common_word(candidate.text):
        return SCORE_CONTEXT_ONLY if adjacent else 0.0
    return SCORE_WITH_CONTEXT if near else SCORE_KNOWN_PERSON


class ChineseNameRecognizer(EntityRecognizer):
    """Presidio recognizer for Chinese person names (label ``pi.name``)."""

    def __init__(self, supported_language: str = "zh") -> None:
        super().__init__(
            supported_entities=[LABEL_ID],
            name=RECOGNIZER_NAME,
            supported_language=supported_language,
        )

    def load(self) -> None:
        initialise_jieba()

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
    ) -> list[RecognizerResult]:
        """Return the names found in the tokens of ``nlp_artifacts``."""
        if nlp_artifacts is None or LABEL_ID not in entities:
            return []
        doc = nlp_artifacts.tokens
        in_address = HOUSE_NUMBER.search(text) is not None
        results: list[RecognizerResult] = []
        for candidate in _candidates(doc):
            before, after = _neighbours(doc, candidate.start, candidate.end)
            score = _score(candidate, before, after, in_address)
            if score > 0:
                results.append(self._result(doc, candidate, score, before + after))
        return results

    def _result(
        self, doc: Doc, candidate: NameCandidate, score: float, context: list[str]
    ) -> RecognizerResult:
        span = doc[candidate.start : candidate.end]
        supportive = next((w for w in context if w in CONTEXT_WORDS), "")
        explanation = AnalysisExplanation(
            recognizer=RECOGNIZER_NAME,
            original_score=score,
            textual_explanation=(
                f"surname with jieba tag {candidate.tag!r}"
                + (" and a context word" if supportive else "")
            ),
        )
        if supportive:
            explanation.set_supportive_context_word(supportive)
        return RecognizerResult(
            entity_type=LABEL_ID,
            start=span.start_char,
            end=span.end_char,
            score=score,
            analysis_explanation=explanation,
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: RECOGNIZER_NAME,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                # Context is already weighed here, so presidio must not add to it.
                RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY: True,
            },
        )
