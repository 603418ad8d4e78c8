"""Password hashes and bare digests."""

from __future__ import annotations

import pyarrow as pa

from classifiers.validators._arrays import BoolArray, regex_mask
from classifiers.validators.base import validator

# The "crypt" alphabet of bcrypt, SHA-crypt and MD5-crypt hashes.
_CRYPT_CHARS = "[./A-Za-z0-9]"
_B64_CHARS = "[A-Za-z0-9+/]"
_B64 = f"{_B64_CHARS}+={{0,2}}"

# bcrypt: $2a$, $2b$, $2x$ or $2y$, a two-digit cost 04-31, then 22
# characters of salt and 31 of hash.
_BCRYPT = rf"\$2[abxy]\$(?:0[4-9]|[12][0-9]|3[01])\${_CRYPT_CHARS}{{53}}"
# SHA-crypt ($5$ SHA-256, $6$ SHA-512) has optional rounds, a salt of up to
# 16 characters, then 43 or 86 hash characters. MD5-crypt ($1$) has a salt of
# up to 8 and 22 hash characters.
_SALT = f"{_CRYPT_CHARS}{{0,16}}"
_SHA_CRYPT = (
    rf"\$5\$(?:rounds=[0-9]+\$)?{_SALT}\${_CRYPT_CHARS}{{43}}"
    rf"|\$6\$(?:rounds=[0-9]+\$)?{_SALT}\${_CRYPT_CHARS}{{86}}"
    rf"|\$1\${_CRYPT_CHARS}{{0,8}}\${_CRYPT_CHARS}{{22}}"
)
# yescrypt ($y$, $gy$) and scrypt ($7$) in crypt form end in a 43-character
# hash after their parameter and salt fields.
_YESCRYPT = rf"\$(?:y|gy|7)\$[./A-Za-z0-9$]+\${_CRYPT_CHARS}{{43}}"
# PHC string format: $argon2id$v=19$m=65536,t=3,p=4$salt$hash, and the same
# layout for scrypt ($scrypt$ln=...,r=...,p=...) and passlib's pbkdf2.
_PHC_PARAMS = "[a-z0-9]+=[^$,]+(?:,[a-z0-9]+=[^$,]+)*"
_PHC = (
    rf"\$(?:argon2(?:id|i|d)|scrypt)\$(?:v=[0-9]+\$)?{_PHC_PARAMS}\${_B64}\${_B64}"
    rf"|\$pbkdf2(?:-sha(?:1|256|512))?\$[0-9]+\$[./A-Za-z0-9+]+\$[./A-Za-z0-9+]+"
)
# Django's password field: algorithm$iterations$salt$hash, or a bcrypt or
# argon2 hash behind "bcrypt$", "bcrypt_sha256$" or "argon2".
_DJANGO = (
    rf"pbkdf2_sha(?:1|256)\$[0-9]+\$[^$\s]+\${_B64}"
    rf"|scrypt\$[0-9]+\$[^$\s]+\$[0-9]+\$[0-9]+\${_B64}"
    rf"|bcrypt(?:_sha256)?\${_BCRYPT}"
    rf"|argon2\$argon2(?:id|i|d)\$(?:v=[0-9]+\$)?{_PHC_PARAMS}\${_B64}\${_B64}"
)
# Werkzeug (Flask): method$salt$hex-hash, e.g. pbkdf2:sha256:600000$...
_WERKZEUG = (
    r"(?:pbkdf2:sha(?:1|256|512)(?::[0-9]+)?|scrypt:[0-9]+:[0-9]+:[0-9]+)"
    r"\$[^$\s]+\$[0-9a-f]+"
)
# LDAP userPassword: {SSHA}base64 and its relatives.
_LDAP = rf"\{{(?:SSHA|SHA|SSHA256|SSHA512|SMD5|MD5)\}}{_B64}"

_PASSWORD_HASH = (
    "^(?:"
    + "|".join((_BCRYPT, _SHA_CRYPT, _YESCRYPT, _PHC, _DJANGO, _WERKZEUG, _LDAP))
    + ")$"
)

# MD5, SHA-1, SHA-256 and SHA-512 digests in hex, in one letter case.
_HEX_LENGTHS = "32|40|64|128"
_HEX_DIGEST = (
    "^(?:"
    + "|".join(f"[0-9a-f]{{{n}}}|[0-9A-F]{{{n}}}" for n in _HEX_LENGTHS.split("|"))
    + ")$"
)


@validator("hex_digest")
def hex_digest(values: pa.Array) -> BoolArray:
    """Bare hex digest of 32, 40, 64 or 128 digits (MD5, SHA-1, SHA-256/512).

    All letters must be in the same case, as digest tools print them. A
    UUID written without dashes also has 32 hex digits, so this needs a
    column name hint.
    """
    return regex_mask(values, _HEX_DIGEST)


# Padded base64 of a 16-, 20-, 32- or 64-byte digest: 24, 28, 44 or 88
# characters, the last one or two of them "=".
_BASE64_DIGEST = (
    f"^(?:{_B64_CHARS}{{22}}==|{_B64_CHARS}{{27}}="
    f"|{_B64_CHARS}{{43}}=|{_B64_CHARS}{{86}}==)$"
)


@validator("base64_digest")
def base64_digest(values: pa.Array) -> BoolArray:
    """Padded base64 of a 16-, 20-, 32- or 64-byte digest or key."""
    return regex_mask(values, _BASE64_DIGEST)


@validator("password_hash")
def password_hash(values: pa.Array) -> BoolArray:
    """Password hash in a self-describing format.

    Formats: bcrypt, SHA-crypt and MD5-crypt, yescrypt, PHC strings
    (argon2, scrypt, passlib pbkdf2), Django and Werkzeug password fields and
    LDAP ``{SSHA}`` values. Bare digests are left to ``hex_digest``, because
    request ids and checksums have the same shape.
    """
    return regex_mask(values, _PASSWORD_HASH)
