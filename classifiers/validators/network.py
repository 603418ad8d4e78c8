"""IP addresses."""

from __future__ import annotations

import pyarrow as pa

from classifiers.validators._arrays import BoolArray, regex_mask
from classifiers.validators.base import validator

# A decimal octet 0-255 without leading zeros (which some parsers read as
# octal).
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"


@validator("ipv4")
def ipv4(values: pa.Array) -> BoolArray:
    """IPv4 address in dotted-decimal form, octets 0-255 without leading zeros."""
    return regex_mask(values, f"^{_IPV4}$")


_GROUP = "[0-9A-Fa-f]{1,4}"


def _groups(count: int) -> str:
    """Return a pattern for exactly ``count`` colon-separated groups."""
    if count == 0:
        return ""
    return f"(?:{_GROUP}:){{{count - 1}}}{_GROUP}"


def _up_to_groups(count: int) -> str:
    """Return a pattern for 0 to ``count`` colon-separated groups."""
    if count == 0:
        return ""
    return f"(?:{_GROUP}(?::{_GROUP}){{0,{count - 1}}})?"


def _ipv6_forms() -> list[str]:
    """List the RFC 4291 text forms: 8 groups, or fewer around one ``::``.

    An IPv4 address in dotted form may stand for the last two groups.
    """
    forms = [_groups(8), f"(?:{_GROUP}:){{6}}{_IPV4}"]
    for before in range(8):
        # "::" stands for at least one zero group, so at most 7 are written.
        forms.append(f"{_groups(before)}::{_up_to_groups(7 - before)}")
    for before in range(6):
        after = f"(?:{_GROUP}:){{0,{5 - before}}}"
        forms.append(f"{_groups(before)}::{after}{_IPV4}")
    return forms


# A zone index (RFC 4007) such as %eth0 may follow a link-local address.
_ZONE = "(?:%[0-9A-Za-z._~-]+)?"
_IPV6 = "^(?:" + "|".join(_ipv6_forms()) + f"){_ZONE}$"


@validator("ipv6")
def ipv6(values: pa.Array) -> BoolArray:
    """IPv6 address in full, compressed (``::``) or IPv4-suffixed form."""
    return regex_mask(values, _IPV6)


@validator("ip_address")
def ip_address(values: pa.Array) -> BoolArray:
    """IPv4 or IPv6 address."""
    return ipv4.check(values) | ipv6.check(values)
