"""Build the presidio ``AnalyzerEngine`` that finds identifiers in free text.

The engine runs offline. Its NLP engine wraps blank spaCy pipelines
(``spacy.blank("zh")`` and ``spacy.blank("en")``), which need no trained
model, so presidio never loads or downloads one. Chinese text is segmented
and tagged by jieba (``cn_names.segment``), whose dictionary ships inside
the jieba package. The registry holds only cardex's recognizers, one per identifier
kind and language. Each pattern is built from named parts, and each match
must pass the validator of ``classifiers.validators`` before it counts.
``TextEngine.prevalidate`` runs those validators once per column on all
matches (they are vectorised), so presidio's per-match checks become
dictionary look-ups.

Building the engine takes about a second (jieba's dictionary), so it is built
once per process by ``get_text_engine``.
"""

from __future__ import annotations

import logging
import threading
import time
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar

import pyarrow as pa
import regex
import spacy
from presidio_analyzer import (
    AnalyzerEngine,
    EntityRecognizer,
    Pattern,
    PatternRecognizer,
    RecognizerRegistry,
    RecognizerResult,
)
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine
from spacy.lang.lex_attrs import is_punct
from spacy.language import Language
from spacy.tokens import Doc

from classifiers.cn_names import ChineseNameRecognizer, initialise_jieba, segment
from classifiers.validators import VALIDATORS, is_valid

logger = logging.getLogger(__name__)

LANGUAGES = ("zh", "en")
PRESIDIO_LOGGER = "presidio-analyzer"
# presidio's default flags for pattern recognizers, set explicitly so that
# ``prevalidate`` finds the same matches.
REGEX_FLAGS = regex.DOTALL | regex.MULTILINE | regex.IGNORECASE
# Validation results kept per process. The cache is emptied when full.
MAX_CACHED_VALIDATIONS = 100_000

# A blank pipeline's vocabulary keeps every token string it has seen, so a
# long scan would grow it without bound. The pipelines are replaced after
# this many texts (an estimate, not measured: about 10 new strings per text).
RENEW_AFTER_TEXTS = 20_000

# Named parts of the patterns. Full-width forms (U+FF10-FF19 digits,
# U+FF0B plus, U+FF0D hyphen) are common in Chinese text typed with an IME.
DIGIT = "[0-9\uff10-\uff19]"
ALNUM = "0-9A-Za-z\uff10-\uff19\uff21-\uff3a\uff41-\uff5a"
START = f"(?<![{ALNUM}])"
END = f"(?![{ALNUM}])"
SEPARATOR = "[ \u3000\\-\u2010-\u2015\uff0d]"
COUNTRY_CODE = (
    f"(?:\\(?(?:\\+|\uff0b|00|\uff10\uff10)(?:86|\uff18\uff16)\\)?{SEPARATOR}?)"
)
# Mainland mobile numbers: 1, then 3-9, then 9 digits, often grouped 3-4-4.
MOBILE_NUMBER = (
    f"[1\uff11][3-9\uff13-\uff19]{DIGIT}{SEPARATOR}?"
    f"{DIGIT}{{4}}{SEPARATOR}?{DIGIT}{{4}}"
)
# Area codes have 3 or 4 digits with the trunk prefix 0, which is dropped
# after +86. Subscriber numbers have 7 or 8 digits.
DOMESTIC_AREA_CODE = f"\\(?[0\uff10]{DIGIT}{{2,3}}\\)?"
INTERNATIONAL_AREA_CODE = f"{COUNTRY_CODE}[1-9\uff11-\uff19]{DIGIT}{{1,2}}"
AREA_CODE = f"(?:{DOMESTIC_AREA_CODE}|{INTERNATIONAL_AREA_CODE})"
LANDLINE_NUMBER = f"{AREA_CODE}{SEPARATOR}?{DIGIT}{{7,8}}"
# GB 11643 resident ID: 17 digits and a check character (0-9 or X). The
# legacy form has 15 digits and no check character.
ID_CHECK_CHARACTER = "[0-9Xx\uff10-\uff19\uff38\uff58]"
# Payment cards: 16 to 19 digits (ISO/IEC 7812) starting with 3-6, the
# major industry identifiers of card schemes (UnionPay cards start with 62).
# Numbers with other first digits are mostly order and serial numbers.
CARD_FIRST_DIGIT = "[3-6\uff13-\uff16]"
CARD_GROUPED = (
    f"{CARD_FIRST_DIGIT}{DIGIT}{{3}}(?:{SEPARATOR}{DIGIT}{{4}}){{3}}"
    f"(?:{SEPARATOR}?{DIGIT}{{1,3}})?"
)
# ISO 3779 VIN characters exclude I, O and Q. Requiring a letter, which the
# manufacturer code practically always has, keeps 17-digit order numbers out.
VIN_CHARACTER = "[A-HJ-NPR-Z0-9]"
VIN_HAS_LETTER = "(?=[0-9]{0,16}[A-HJ-NPR-Z])"
# GA 36: province abbreviation, issuing-authority letter, then 5 characters
# (6 for new-energy plates), or 4 and a use character (挂, 学, 警, 港, 澳).
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
PLATE_CHARACTER = "[A-HJ-NP-Z0-9]"
PLATE_SEPARATOR = "[·•・ \\-]?"
PLATE_SUFFIX = "[挂学警港澳]"
EMAIL_LOCAL = "[A-Za-z0-9._%+\\-]+"
EMAIL_DOMAIN = "(?:[A-Za-z0-9\\-]+\\.)+[A-Za-z]{2,24}"
IPV4_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
# A preceding 'v' or '.' marks a version number (v2.1.0.15), not an address.
IPV4_START = "(?<![0-9.vV])"
IPV4_END = "(?![0-9]|\\.[0-9])"
HEX_OR_COLON = "[0-9A-Fa-f:]"
IPV6_TWO_COLONS = "(?=(?:[0-9A-Fa-f]{0,4}:){2})"

_SEPARATORS = str.maketrans("", "", " \u3000-\u2010\u2011\u2012\u2013\u2014\u2015()")
_PLATE_SEPARATORS = str.maketrans("", "", "·•・ -")


def _ascii(text: str) -> str:
    """Fold full-width characters to ASCII (NFKC) and trim the ends."""
    return unicodedata.normalize("NFKC", text).strip()


def _digits(text: str) -> str:
    """Return ``text`` in ASCII without separators or parentheses."""
    return _ascii(text).translate(_SEPARATORS)


class ValidationCache:
    """Validator results by (validator name, normalised value)."""

    def __init__(self, max_entries: int = MAX_CACHED_VALIDATIONS) -> None:
        self.max_entries = max_entries
        self._results: dict[tuple[str, str], bool] = {}

    def check(self, validator: str, value: str) -> bool:
        """Return whether ``value`` passes ``validator``, from the cache if known."""
        result = self._results.get((validator, value))
        if result is None:
            result = is_valid(validator, value)
            self._store(validator, value, result)
        return result

    def check_many(self, validator: str, values: Iterable[str]) -> None:
        """Validate the uncached ``values`` in one vectorised call and cache them."""
        missing = sorted({v for v in values if (validator, v) not in self._results})
        if not missing:
            return
        results = VALIDATORS[validator](pa.array(missing, pa.string()))
        for value, result in zip(missing, results.tolist(), strict=True):
            self._store(validator, value, bool(result))

    def _store(self, validator: str, value: str, result: bool) -> None:
        if len(self._results) >= self.max_entries:
            self._results.clear()
        self._results[(validator, value)] = result


VALIDATION_CACHE = ValidationCache()


@cache
def _compiled(pattern: str) -> regex.Pattern[str]:
    return regex.compile(pattern, REGEX_FLAGS)


class ValidatedPatternRecognizer(PatternRecognizer):
    """A pattern recognizer whose matches must pass a cardex validator.

    Subclasses set the label, the validator name and the named patterns.
    ``HIT_CONFIDENCE`` is the score of one validated match: 1.0 where a check
    digit or number plan rules out look-alikes, less where the validator can
    only check the shape.
    """

    LABEL: ClassVar[str]
    VALIDATOR: ClassVar[str]
    NAME: ClassVar[str]
    PATTERNS: ClassVar[tuple[tuple[str, str], ...]]
    HIT_CONFIDENCE: ClassVar[float] = 1.0

    def __init__(self, supported_language: str) -> None:
        super().__init__(
            supported_entity=self.LABEL,
            name=self.NAME,
            supported_language=supported_language,
            patterns=[Pattern(name, text, 0.5) for name, text in self.PATTERNS],
            global_regex_flags=REGEX_FLAGS,
        )

    def normalise(self, match: str) -> str:
        """Return the form of ``match`` that the validator checks."""
        return _ascii(match)

    def confidence(self, normalised: str) -> float:
        """Return the score of one validated match."""
        return self.HIT_CONFIDENCE

    def validate_result(self, pattern_text: str) -> bool:
        return VALIDATION_CACHE.check(self.VALIDATOR, self.normalise(pattern_text))

    def candidates(self, text: str) -> Iterator[str]:
        """Yield the normalised form of every pattern match in ``text``."""
        for _, pattern in self.PATTERNS:
            for match in _compiled(pattern).finditer(text):
                yield self.normalise(match.group())

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        """Return the validated matches, scored by ``confidence``."""
        results = super().analyze(text, entities, nlp_artifacts, regex_flags)
        for result in results:
            result.score = self.confidence(
                self.normalise(text[result.start : result.end])
            )
        return results


class MobilePhoneRecognizer(ValidatedPatternRecognizer):
    LABEL = "pi.phone"
    VALIDATOR = "mobile_phone"
    NAME = "cn_mobile_phone"
    PATTERNS = (("mobile", f"{START}{COUNTRY_CODE}?{MOBILE_NUMBER}{END}"),)

    def normalise(self, match: str) -> str:
        digits = _digits(match).lstrip("+")
        for prefix in ("0086", "86"):
            if len(digits) == 11 + len(prefix) and digits.startswith(prefix):
                return digits[len(prefix) :]
        return digits


class LandlinePhoneRecognizer(ValidatedPatternRecognizer):
    LABEL = "pi.phone"
    VALIDATOR = "landline_phone"
    NAME = "cn_landline_phone"
    PATTERNS = (("landline", f"{START}{LANDLINE_NUMBER}{END}"),)
    # An area code and a plausible length are all a landline shows.
    HIT_CONFIDENCE = 0.9


class ResidentIdRecognizer(ValidatedPatternRecognizer):
    LABEL = "spi.id_number"
    VALIDATOR = "resident_id"
    NAME = "cn_resident_id"
    PATTERNS = (
        ("resident_id_18", f"{START}{DIGIT}{{17}}{ID_CHECK_CHARACTER}{END}"),
        ("resident_id_15", f"{START}{DIGIT}{{15}}{END}"),
    )
    # The 15-digit form has no check character, and its region code and
    # birth date also fit a few percent of IMEIs and other 15-digit serials.
    LEGACY_CONFIDENCE = 0.6
    LEGACY_LENGTH = 15

    def normalise(self, match: str) -> str:
        return _ascii(match).upper()

    def confidence(self, normalised: str) -> float:
        if len(normalised) == self.LEGACY_LENGTH:
            return self.LEGACY_CONFIDENCE
        return self.HIT_CONFIDENCE


class BankCardRecognizer(ValidatedPatternRecognizer):
    LABEL = "spi.bank_card"
    VALIDATOR = "bank_card"
    NAME = "bank_card"
    PATTERNS = (
        ("card_digits", f"{START}{CARD_FIRST_DIGIT}{DIGIT}{{15,18}}{END}"),
        ("card_grouped", f"{START}{CARD_GROUPED}{END}"),
    )
    # The Luhn check passes one random number in ten, so cards outside the
    # UnionPay range (62) keep a lower score.
    OTHER_SCHEME_CONFIDENCE = 0.85

    def normalise(self, match: str) -> str:
        return _digits(match)

    def confidence(self, normalised: str) -> float:
        if normalised.startswith("62"):
            return self.HIT_CONFIDENCE
        return self.OTHER_SCHEME_CONFIDENCE


class VinRecognizer(ValidatedPatternRecognizer):
    LABEL = "pi.vin"
    VALIDATOR = "vin"
    NAME = "vin"
    PATTERNS = (("vin", f"{START}{VIN_HAS_LETTER}{VIN_CHARACTER}{{17}}{END}"),)

    def normalise(self, match: str) -> str:
        return _ascii(match).upper()


class LicencePlateRecognizer(ValidatedPatternRecognizer):
    LABEL = "pi.licence_plate"
    VALIDATOR = "licence_plate"
    NAME = "cn_licence_plate"
    PATTERNS = (
        (
            "plate",
            f"[{PROVINCES}][A-HJ-NP-Z]{PLATE_SEPARATOR}"
            f"(?:{PLATE_CHARACTER}{{5,6}}|{PLATE_CHARACTER}{{4}}{PLATE_SUFFIX}){END}",
        ),
    )
    # A plate has no check character, so the validator checks the layout only.
    HIT_CONFIDENCE = 0.9

    def normalise(self, match: str) -> str:
        return _ascii(match).translate(_PLATE_SEPARATORS).upper()


class EmailRecognizer(ValidatedPatternRecognizer):
    LABEL = "pi.email"
    VALIDATOR = "email"
    NAME = "email"
    PATTERNS = (
        (
            "email",
            f"(?<![A-Za-z0-9._%+\\-]){EMAIL_LOCAL}[@\uff20]{EMAIL_DOMAIN}"
            "(?![A-Za-z0-9\\-])",
        ),
    )


class Ipv4Recognizer(ValidatedPatternRecognizer):
    LABEL = "pi.ip_address"
    VALIDATOR = "ipv4"
    NAME = "ipv4"
    PATTERNS = (
        ("ipv4", f"{IPV4_START}(?:{IPV4_OCTET}\\.){{3}}{IPV4_OCTET}{IPV4_END}"),
    )
    # Four dotted numbers are also firmware and part version numbers.
    HIT_CONFIDENCE = 0.8


class Ipv6Recognizer(ValidatedPatternRecognizer):
    LABEL = "pi.ip_address"
    VALIDATOR = "ipv6"
    NAME = "ipv6"
    PATTERNS = (
        (
            "ipv6",
            f"(?<!{HEX_OR_COLON}){IPV6_TWO_COLONS}{HEX_OR_COLON}{{6,39}}"
            f"(?!{HEX_OR_COLON})",
        ),
    )
    HIT_CONFIDENCE = 0.9


PATTERN_RECOGNIZERS: tuple[type[ValidatedPatternRecognizer], ...] = (
    MobilePhoneRecognizer,
    LandlinePhoneRecognizer,
    ResidentIdRecognizer,
    BankCardRecognizer,
    VinRecognizer,
    LicencePlateRecognizer,
    EmailRecognizer,
    Ipv4Recognizer,
    Ipv6Recognizer,
)


def build_recognizers() -> list[EntityRecognizer]:
    """Create cardex's recognizers, one instance per supported language."""
    recognizers: list[EntityRecognizer] = []
    for language in LANGUAGES:
        recognizers.extend(kind(language) for kind in PATTERN_RECOGNIZERS)
    # Chinese names only occur in text that contains Chinese characters.
    recognizers.append(ChineseNameRecognizer("zh"))
    return recognizers


class BlankSpacyNlpEngine(NlpEngine):
    """A presidio NLP engine over blank spaCy pipelines: tokens, no model.

    Chinese text is segmented by jieba with part-of-speech tags (see
    ``cn_names.segment``), which are stored as ``token.tag_`` for the name
    recognizer. Other languages use the blank pipeline's rule-based
    tokenizer. There is no named-entity recognition, so
    ``get_supported_entities`` is empty.
    """

    engine_name = "blank_spacy"
    is_available = True

    def __init__(self, languages: Iterable[str] = LANGUAGES) -> None:
        self.languages = tuple(languages)
        self._pipelines: dict[str, Language] = {}
        self._texts_since_renewal = 0

    def load(self) -> None:
        self._pipelines = {
            language: spacy.blank(language) for language in self.languages
        }
        self._texts_since_renewal = 0
        if "zh" in self.languages:
            initialise_jieba()

    def is_loaded(self) -> bool:
        return bool(self._pipelines)

    @property
    def pipelines(self) -> dict[str, Language]:
        """The blank spaCy pipeline of each loaded language."""
        return dict(self._pipelines)

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        """Tokenise ``text`` and return presidio's artifacts for it."""
        self._texts_since_renewal += 1
        if self._texts_since_renewal > RENEW_AFTER_TEXTS:
            self.load()
        doc = self._make_doc(text, self._pipeline(language))
        return NlpArtifacts(
            entities=[],
            tokens=doc,
            tokens_indices=[token.idx for token in doc],
            lemmas=[token.text for token in doc],
            nlp_engine=self,
            language=language,
            scores=[],
        )

    def process_batch(
        self,
        texts: Iterable[str],
        language: str,
        batch_size: int = 1,
        n_process: int = 1,
        **kwargs: Any,
    ) -> Iterator[tuple[str, NlpArtifacts]]:
        for text in texts:
            yield text, self.process_text(text, language)

    def is_stopword(self, word: str, language: str) -> bool:
        stop_words = self._pipeline(language).Defaults.stop_words
        return word.lower() in stop_words

    def is_punct(self, word: str, language: str) -> bool:
        return bool(is_punct(word))

    def get_supported_entities(self) -> list[str]:
        return []

    def get_supported_languages(self) -> list[str]:
        return list(self.languages)

    def _pipeline(self, language: str) -> Language:
        try:
            return self._pipelines[language]
        except KeyError:
            choices = ", ".join(self.languages)
            raise ValueError(
                f"language {language!r} is not loaded; valid languages: {choices}"
            ) from None

    @staticmethod
    def _make_doc(text: str, pipeline: Language) -> Doc:
        if pipeline.lang != "zh":
            return pipeline.make_doc(text)
        words, tags = zip(*segment(text), strict=True) if text else ((), ())
        if "".join(words) != text:
            # Offsets must match the text exactly. The blank pipeline's
            # character segmenter guarantees that but gives no tags.
            return pipeline.make_doc(text)
        return Doc(
            pipeline.vocab,
            words=list(words),
            spaces=[False] * len(words),
            tags=list(tags),
        )


@dataclass(frozen=True)
class TextEngine:
    """The analyzer, the entity ids it detects per language, and its start time."""

    analyzer: AnalyzerEngine
    entities: dict[str, list[str]]
    start_seconds: float

    def prevalidate(self, texts: Sequence[str]) -> None:
        """Validate every pattern match in ``texts``, one call per validator."""
        matches: dict[str, set[str]] = defaultdict(set)
        for recognizer in self.analyzer.registry.recognizers:
            # Both languages use the same patterns, so one set suffices.
            if (
                isinstance(recognizer, ValidatedPatternRecognizer)
                and recognizer.supported_language == LANGUAGES[0]
            ):
                for text in texts:
                    matches[recognizer.VALIDATOR].update(recognizer.candidates(text))
        for validator, values in matches.items():
            VALIDATION_CACHE.check_many(validator, values)

    def analyze(self, text: str, language: str) -> list[RecognizerResult]:
        """Return the validated identifiers and names found in ``text``."""
        return self.analyzer.analyze(
            text=text, language=language, entities=self.entities[language]
        )


def build_text_engine() -> TextEngine:
    """Build a new analyzer with cardex's recognizers and the blank NLP engine."""
    started = time.perf_counter()
    # presidio logs the timing of every pattern at DEBUG, several lines per
    # analysed text, which would bury a verbose scan log.
    logging.getLogger(PRESIDIO_LOGGER).setLevel(logging.WARNING)
    registry = RecognizerRegistry(
        recognizers=build_recognizers(), supported_languages=list(LANGUAGES)
    )
    analyzer = AnalyzerEngine(
        registry=registry,
        nlp_engine=BlankSpacyNlpEngine(),
        supported_languages=list(LANGUAGES),
    )
    entities = {
        language: sorted(
            {
                entity
                for recognizer in registry.recognizers
                if recognizer.supported_language == language
                for entity in recognizer.supported_entities
            }
        )
        for language in LANGUAGES
    }
    elapsed = time.perf_counter() - started
    logger.info("free-text analyzer started in %.2f s", elapsed)
    return TextEngine(analyzer, entities, elapsed)


_engine: TextEngine | None = None
_engine_lock = threading.Lock()


def get_text_engine() -> TextEngine:
    """Return this process's analyzer, building it on first use."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = build_text_engine()
        return _engine
