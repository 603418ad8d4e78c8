"""Masked and redacted values."""

from __future__ import annotations

import pyarrow as pa

from classifiers.validators._arrays import BoolArray, regex_mask
from classifiers.validators.base import validator

# Characters that stand in for hidden characters. Full-width ＊ and ＃ are
# folded to * and # by normalisation.
_MASK_CHAR = "[*#•●]"
# Chinese characters: the CJK Unified Ideographs and Extension A blocks.
_HAN = r"\x{3400}-\x{4DBF}\x{4E00}-\x{9FFF}"
# ASCII letters and digits, Latin letters with diacritics, and Chinese
# characters. Explicit ranges instead of \p{L}, which RE2 takes about a
# millisecond to compile.
_WORD_CHAR = rf"[0-9A-Za-z\x{{C0}}-\x{{24F}}{_HAN}]"
# A run may be set off from the visible part by one separator, as in
# 6222-****-****-1234 or ****@example.com.
_GAP = "[ .@_-]?"

_MASK_FORMS = (
    # 138****5678, l***@example.com, ****1234
    f"{_WORD_CHAR}{_GAP}{_MASK_CHAR}{{2,}}",
    f"{_MASK_CHAR}{{2,}}{_GAP}{_WORD_CHAR}",
    # 138xxxx5678, xxxx-1234: x is a mask character only next to digits, so
    # words such as "Exxon" stay unmasked.
    "[0-9][ .-]?[xX]{2,}",
    "[xX]{2,}[ .-]?[0-9]",
    # 张*, 张*三, *三: a single mask character is enough next to a Chinese name.
    f"[{_HAN}][*•●]",
    f"[*•●][{_HAN}]",
    # *PRIVATE*
    rf"^\*(?:{_WORD_CHAR}|[ _-])+\*$",
    # ***, ######
    f"^{_MASK_CHAR}{{2,}}$",
    # REDACTED, <redacted>, [REDACTED], (redacted)
    r"^(?i:[<\[(]?redacted[>\])]?)$",
)
_MASKED = "|".join(f"(?:{form})" for form in _MASK_FORMS)


@validator("masked")
def masked(values: pa.Array) -> BoolArray:
    """Value that looks masked or redacted (``138****5678``, ``张*``, ``***``).

    True for a value that matches any of these forms:

    - a run of two or more ``*``, ``#``, ``•`` or ``●`` touches a letter or
      digit (Latin or Chinese),
    - a run of two or more ``x`` touches a digit,
    - one mask character touches a Chinese character,
    - a word is wrapped in ``*``, or the whole value is mask characters,
    - the value is REDACTED in any case, optionally in brackets.
    """
    # NOTE: Markdown emphasis (**word**) and HTTP status classes (4xx) in a
    # value also match.
    return regex_mask(values, _MASKED)
