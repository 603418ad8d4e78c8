"""Mask sampled values before they reach a report, log, error or catalog.

Masking keeps just enough of a value for a person to recognise its shape
(``138****5678``, ``张*``, ``l***@example.com``) and never the whole value.
"""

from __future__ import annotations

import re

MASK = "*"
MAX_EXAMPLE_CHARS = 40

_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
# Runs of four or more digits or identifier characters in free text (an
# error message from a driver may quote a row).
_IDENTIFIER_RUN = re.compile(r"[0-9A-Za-z\uff10-\uff19]{4,}")
_HAS_DIGIT = re.compile(r"[0-9\uff10-\uff19]")
_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")


def mask_value(value: object) -> str:
    """Return a masked rendering of one sampled value.

    Strings of up to 3 characters keep their first character; up to 6 keep
    the first and last; longer ones keep the first 3 and last 2 to 4 (about a
    third of the value at most). E-mail addresses keep the first character of
    the local part and the domain.
    """
    text = str(value).strip()
    if not text:
        return ""
    if "@" in text and _EMAIL.fullmatch(text):
        local, _, domain = text.partition("@")
        return local[0] + MASK * 3 + "@" + domain
    text = text[: MAX_EXAMPLE_CHARS * 4]
    length = len(text)
    if length <= 3:
        return text[0] + MASK * (length - 1 or 1)
    if length <= 6:
        return text[0] + MASK * (length - 2) + text[-1]
    tail = min(4, max(2, length // 6))
    head = 3
    masked = text[:head] + MASK * (length - head - tail) + text[-tail:]
    if len(masked) > MAX_EXAMPLE_CHARS:
        masked = masked[:head] + MASK * (MAX_EXAMPLE_CHARS - head - tail) + text[-tail:]
    return masked


def _mask_run(match: re.Match[str]) -> str:
    run = match.group(0)
    if not _HAS_DIGIT.search(run):
        return run  # plain words such as "Expected" stay readable
    return mask_value(run)


def redact_text(message: str, limit: int = 500) -> str:
    """Mask anything in a free-text message that could be a sampled value.

    Used on messages from drivers and libraries, which may quote a row: e-mail
    addresses, runs of digits or identifier characters that contain a digit,
    and Chinese text are masked, and the message is cut to ``limit``
    characters.
    """
    redacted = _EMAIL.sub(lambda m: mask_value(m.group(0)), message)
    redacted = _IDENTIFIER_RUN.sub(_mask_run, redacted)
    redacted = _CJK_RUN.sub(lambda m: mask_value(m.group(0)), redacted)
    if len(redacted) > limit:
        redacted = redacted[: limit - 3] + "..."
    return redacted
