"""Transfer context: required keys, exemption facts and clear rejections."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.audit.context import (
    build_context,
    load_context_file,
    parse_facts,
)
from scanner.errors import UsageError

BASE = {"processor": "ACME", "destination": "DE", "recipient": "R", "purpose": "P"}


@pytest.mark.parametrize(
    ("code", "missing"),
    [
        ("collected_abroad", ["provenance", "domestic_data_added"]),
        ("vulnerability_fix", ["report_reference", "reported_to"]),
        ("free_trade_zone", ["zone", "negative_list_version", "negative_list"]),
        ("trade_transport_academic", ["category"]),
        ("contract", ["datasets", "basis"]),
        ("hr", ["datasets", "basis"]),
        ("emergency", ["datasets", "basis"]),
    ],
)
def test_exemption_names_missing_facts(code: str, missing: list[str]) -> None:
    with pytest.raises(UsageError) as raised:
        build_context(BASE, {}, [code])
    for fact in missing:
        assert f"exemption {code}.facts.{fact} is missing" in str(raised.value)


def test_unknown_exemption_code() -> None:
    with pytest.raises(UsageError, match="unknown exemption code 'research'"):
        build_context({**BASE, "exemptions": [{"code": "research", "facts": {}}]}, {})


def test_unknown_fact_rejected() -> None:
    facts = parse_facts(
        ["hr.datasets=staff.csv", "hr.basis=HR policy 2026", "hr.approved=yes"]
    )
    with pytest.raises(UsageError, match="exemption hr.facts.approved is not a known"):
        build_context(BASE, {}, ["hr"], facts)


def test_blank_fact_rejected() -> None:
    facts = parse_facts(["hr.datasets=staff.csv", "hr.basis=  "])
    with pytest.raises(UsageError, match="must not be blank"):
        build_context(BASE, {}, ["hr"], facts)


def test_empty_dataset_list_rejected() -> None:
    facts = parse_facts(["emergency.datasets=,", "emergency.basis=flood rescue"])
    with pytest.raises(UsageError, match="must list at least one item"):
        build_context(BASE, {}, ["emergency"], facts)


def test_empty_negative_list_allowed() -> None:
    facts = parse_facts(
        [
            "free_trade_zone.zone=Lingang",
            "free_trade_zone.negative_list_version=2025-1",
            "free_trade_zone.negative_list=",
        ]
    )
    context = build_context(BASE, {}, ["free_trade_zone"], facts)
    claim = context.exemption("free_trade_zone")
    assert claim is not None
    assert claim.facts.negative_list == ()


def test_invalid_category_rejected() -> None:
    facts = parse_facts(["trade_transport_academic.category=tourism"])
    with pytest.raises(UsageError, match="category"):
        build_context(BASE, {}, ["trade_transport_academic"], facts)


def test_duplicate_claim_rejected() -> None:
    claim = {"code": "hr", "facts": {"datasets": ["a"], "basis": "b"}}
    with pytest.raises(UsageError, match="more than once"):
        build_context({**BASE, "exemptions": [claim, claim]}, {})


def test_fact_without_claim_rejected() -> None:
    with pytest.raises(UsageError, match="not claimed with --exemption"):
        build_context(BASE, {}, [], parse_facts(["hr.basis=x"]))


@pytest.mark.parametrize("assignment", ["hr.basis", "basis=x", ".basis=x", "hr.=x"])
def test_malformed_fact_rejected(assignment: str) -> None:
    with pytest.raises(UsageError, match="CODE.KEY=VALUE"):
        parse_facts([assignment])


def test_missing_required_keys() -> None:
    with pytest.raises(UsageError) as raised:
        build_context({"processor": "ACME"}, {})
    message = str(raised.value)
    assert "destination is missing" in message
    assert "recipient is missing" in message
    assert "purpose is missing" in message


def test_options_override_file() -> None:
    context = build_context(BASE, {"destination": "SG", "ciio": True, "purpose": None})
    assert context.destination == "SG"
    assert context.ciio
    assert context.purpose == "P"


def test_context_round_trip() -> None:
    facts = parse_facts(["contract.datasets=a.csv,b/*.csv", "contract.basis=booking"])
    context = build_context(BASE, {}, ["contract"], facts)
    data = context.to_dict()
    assert data["exemptions"] == [
        {
            "code": "contract",
            "facts": {"datasets": ["a.csv", "b/*.csv"], "basis": "booking"},
        }
    ]
    assert build_context(data, {}).to_dict() == data


def test_context_file_not_mapping(tmp_path: Path) -> None:
    path = tmp_path / "context.yaml"
    path.write_text("- processor: ACME\n", "utf-8")
    with pytest.raises(UsageError, match="must contain a mapping"):
        load_context_file(str(path))


def test_context_file_invalid_yaml(tmp_path: Path) -> None:
    path = tmp_path / "context.yaml"
    path.write_text("processor: [ACME\n", "utf-8")
    with pytest.raises(UsageError, match="not valid YAML"):
        load_context_file(str(path))


def test_context_file_missing(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read context file"):
        load_context_file(str(tmp_path / "absent.yaml"))
