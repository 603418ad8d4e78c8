"""Mask sampled values before they reach a report, log, error or catalog.

Masking keeps just enough of a value for a person to recognise its shape
(``138****5678``, ``张*``, ``l***@example.com``) and never the whole value.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit

MASK = "*"
MAX_EXAMPLE_CHARS = 40

_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
# Runs of four or more digits or identifier characters in free text (an
# error message from a driver may quote a row).
_IDENTIFIER_RUN = re.compile(r"[0-9A-Za-z\uff10-\uff19]{4,}")
# Digits grouped by separators, as phone and card numbers are written
# (186-7654-0077, 6222 0212 3456 7890).
_GROUPED_DIGITS = re.compile(
    r"[+0-9\uff10-\uff19][0-9\uff10-\uff19\- .()]{5,}[0-9\uff10-\uff19]"
)
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


def _mask_grouped(match: re.Match[str]) -> str:
    run = match.group(0)
    digits = sum(character.isdigit() for character in run)
    if digits < 7:
        return run
    return MASK * len(run)


def redact_text(message: str, limit: int = 500) -> str:
    """Mask anything in a free-text message that could be a sampled value.

    Used on messages from drivers and libraries, which may quote a row: e-mail
    addresses, runs of digits or identifier characters that contain a digit,
    and Chinese text are masked, and the message is cut to ``limit``
    characters.
    """
    redacted = _EMAIL.sub(lambda m: mask_value(m.group(0)), message)
    redacted = _GROUPED_DIGITS.sub(_mask_grouped, redacted)
    redacted = _IDENTIFIER_RUN.sub(_mask_run, redacted)
    redacted = _CJK_RUN.sub(lambda m: mask_value(m.group(0)), redacted)
    if len(redacted) > limit:
        redacted = redacted[: limit - 3] + "..."
    return redacted


# Query parameters that carry secrets in database and object-store URLs
# (SQLAlchemy ``?password=``, S3 pre-signed ``X-Amz-Signature``...).
_SECRET_PARAMETER = re.compile(
    r"pass|pwd|secret|token|signature|sig$|credential|key", re.IGNORECASE
)


def public_url(source: str) -> str:
    """Return ``source`` without a password or secret query parameters.

    Plain paths come back unchanged. URLs lose the password of their user
    part and every query parameter whose name suggests a secret.
    """
    if "://" not in source:
        return source
    try:
        parts = urlsplit(source)
    except ValueError:
        return redact_text(source)
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.split(':', 1)[0]}@{host}"
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if not _SECRET_PARAMETER.search(k)]
    if netloc == parts.netloc and len(kept) == len(pairs):
        return source
    query = f"?{urlencode(kept, safe='/:')}" if kept else ""
    return f"{parts.scheme}://{netloc}{parts.path}{query}"
