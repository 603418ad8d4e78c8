"""The transfer being audited: who exports what to whom, and which exemptions
the exporter claims, with the facts each claim needs.

Context enters from outside (a YAML file or command-line options), so it is
validated with pydantic: unknown keys and missing facts are rejected with a
``UsageError`` that names them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from scanner.audit.codes import COVERING_CODES, EXEMPTION_CODES
from scanner.errors import UsageError

__all__ = ["COVERING_CODES", "EXEMPTION_CODES", "TransferContext", "build_context"]


class _Facts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _NonEmptyText(_Facts):
    @field_validator("*", mode="after")
    @classmethod
    def _not_blank(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError("must not be blank")
        if isinstance(value, tuple) and not value and cls._lists_need_items():
            raise ValueError("must list at least one item")
        return value

    @classmethod
    def _lists_need_items(cls) -> bool:
        return True


class CollectedAbroadFacts(_NonEmptyText):
    """Scenario (a): data collected and generated abroad, sent back out."""

    provenance: str
    domestic_data_added: bool


class VulnerabilityFixFacts(_NonEmptyText):
    """Scenario (b): vulnerability, incident or OTA data exported to fix them."""

    report_reference: str
    reported_to: str


class FreeTradeZoneFacts(_NonEmptyText):
    """Data outside a free-trade zone's negative list."""

    zone: str
    negative_list_version: str
    #: Label ids (or id prefixes such as ``imp.``) that the zone's negative
    #: list covers; may be empty when the list names none of them.
    negative_list: tuple[str, ...]

    @classmethod
    def _lists_need_items(cls) -> bool:
        return False


class TradeTransportAcademicFacts(_NonEmptyText):
    """Trade, transport, academic, manufacturing or marketing data."""

    category: Literal["trade", "transport", "academic", "manufacturing", "marketing"]


class CoveredRecordsFacts(_NonEmptyText):
    """Contract, HR or emergency: which datasets the exemption covers."""

    #: Dataset URIs, names or globs (``crm/*.csv``) whose records are covered.
    datasets: tuple[str, ...]
    basis: str


class _Claim(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CollectedAbroad(_Claim):
    code: Literal["collected_abroad"]
    facts: CollectedAbroadFacts


class VulnerabilityFix(_Claim):
    code: Literal["vulnerability_fix"]
    facts: VulnerabilityFixFacts


class FreeTradeZone(_Claim):
    code: Literal["free_trade_zone"]
    facts: FreeTradeZoneFacts


class TradeTransportAcademic(_Claim):
    code: Literal["trade_transport_academic"]
    facts: TradeTransportAcademicFacts


class Contract(_Claim):
    code: Literal["contract"]
    facts: CoveredRecordsFacts


class HumanResources(_Claim):
    code: Literal["hr"]
    facts: CoveredRecordsFacts


class Emergency(_Claim):
    code: Literal["emergency"]
    facts: CoveredRecordsFacts


Exemption = Annotated[
    CollectedAbroad
    | VulnerabilityFix
    | FreeTradeZone
    | TradeTransportAcademic
    | Contract
    | HumanResources
    | Emergency,
    Field(discriminator="code"),
]

# Facts given as comma-separated lists on the command line.
LIST_FACTS = ("datasets", "negative_list")


class TransferContext(BaseModel):
    """The exporter, destination, recipient, purpose and claimed exemptions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    processor: str = Field(min_length=1)
    destination: str = Field(min_length=1)
    recipient: str = Field(min_length=1)
    purpose: str = Field(min_length=1)
    #: Critical information infrastructure operator.
    ciio: bool = False
    #: Remote access from abroad to data stored in China counts as export.
    remote_access: bool = False
    exemptions: tuple[Exemption, ...] = ()

    @field_validator("exemptions", mode="after")
    @classmethod
    def _unique_codes(cls, value: tuple[Any, ...]) -> tuple[Any, ...]:
        codes = [claim.code for claim in value]
        repeated = sorted({code for code in codes if codes.count(code) > 1})
        if repeated:
            raise ValueError(f"exemption claimed more than once: {repeated}")
        return value

    def exemption(self, code: str) -> Any | None:
        """Return the claim with ``code``, or None when it is not claimed."""
        return next((claim for claim in self.exemptions if claim.code == code), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "processor": self.processor,
            "destination": self.destination,
            "recipient": self.recipient,
            "purpose": self.purpose,
            "ciio": self.ciio,
            "remote_access": self.remote_access,
            "exemptions": [
                {"code": claim.code, "facts": claim.facts.model_dump(mode="json")}
                for claim in self.exemptions
            ],
        }


def load_context_file(path: str) -> dict[str, Any]:
    """Read a context YAML file into a mapping, without validating it yet."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"cannot read context file {path}: {exc.strerror}; check --context"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"context file {path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(
            f"context file {path} must contain a mapping of keys such as "
            "processor, destination, recipient, purpose and exemptions"
        )
    return data


def parse_facts(assignments: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Parse ``CODE.KEY=VALUE`` assignments into facts per exemption code.

    ``datasets`` and ``negative_list`` are split on commas.
    """
    facts: dict[str, dict[str, Any]] = {}
    for assignment in assignments:
        target, equals, value = assignment.partition("=")
        code, dot, key = target.partition(".")
        if not equals or not dot or not code or not key:
            raise UsageError(
                f"invalid --fact {assignment!r}; write CODE.KEY=VALUE, for example "
                "contract.datasets=crm/orders.csv"
            )
        if key in LIST_FACTS:
            items = tuple(item.strip() for item in value.split(","))
            facts.setdefault(code, {})[key] = tuple(item for item in items if item)
        else:
            facts.setdefault(code, {})[key] = value
    return facts


def build_context(
    file_data: Mapping[str, Any],
    options: Mapping[str, Any],
    exemption_codes: Iterable[str] = (),
    facts: Mapping[str, Mapping[str, Any]] | None = None,
) -> TransferContext:
    """Merge the context file with command-line values and validate the result.

    Options that are None leave the file's value in place. Exemptions named
    on the command line are added to the file's, with their facts.
    """
    data = dict(file_data)
    data.update({key: value for key, value in options.items() if value is not None})
    claims = list(data.get("exemptions") or [])
    claimed = {claim.get("code") for claim in claims if isinstance(claim, dict)}
    facts = facts or {}
    for code in exemption_codes:
        if code not in claimed:
            claims.append({"code": code, "facts": dict(facts.get(code, {}))})
            claimed.add(code)
    stray = sorted(set(facts) - set(exemption_codes))
    if stray:
        raise UsageError(
            f"--fact given for exemptions not claimed with --exemption: {stray}"
        )
    data["exemptions"] = claims
    _check_codes(claims)
    try:
        return TransferContext.model_validate(data)
    except ValidationError as exc:
        raise UsageError(describe_errors(exc)) from None


def _check_codes(claims: list[Any]) -> None:
    for claim in claims:
        code = claim.get("code") if isinstance(claim, dict) else None
        if code not in EXEMPTION_CODES:
            raise UsageError(
                f"unknown exemption code {code!r}; valid codes: "
                f"{', '.join(EXEMPTION_CODES)}"
            )


def describe_errors(exc: ValidationError) -> str:
    """Render pydantic errors as one message naming each invalid or missing key."""
    parts = []
    for error in exc.errors():
        location = _location(error["loc"])
        if error["type"] == "missing":
            parts.append(f"{location} is missing")
        elif error["type"] == "extra_forbidden":
            parts.append(f"{location} is not a known key")
        else:
            parts.append(f"{location}: {error['msg']}")
    return "invalid transfer context: " + "; ".join(parts)


def _location(location: tuple[Any, ...]) -> str:
    # Tagged unions add the tag to the path (exemptions.0.contract.facts...);
    # the tag reads better as the name of the exemption.
    words = [str(part) for part in location]
    if len(words) >= 3 and words[0] == "exemptions" and words[1].isdigit():
        words = [f"exemption {words[2]}", *words[3:]]
    return ".".join(words) or "context"
