"""The route table: every row, its boundaries, the flags and the duties."""

from __future__ import annotations

from typing import Any

import pytest

from scanner.audit.context import TransferContext, build_context, parse_facts
from scanner.audit.model import ImportantItem, PeopleCount
from scanner.audit.route import RouteInputs, decide

BASE = {"processor": "ACME", "destination": "DE", "recipient": "R", "purpose": "P"}

FACTS = {
    "vulnerability_fix": [
        "vulnerability_fix.report_reference=CNVD-2026-001",
        "vulnerability_fix.reported_to=MIIT",
    ],
    "free_trade_zone": [
        "free_trade_zone.zone=Lingang",
        "free_trade_zone.negative_list_version=2025-1",
        "free_trade_zone.negative_list=imp.driving_automation.geodata",
    ],
    "collected_abroad": [
        "collected_abroad.provenance=EU fleet logs",
        "collected_abroad.domestic_data_added=false",
    ],
    "trade_transport_academic": ["trade_transport_academic.category=academic"],
    "contract": ["contract.datasets=orders.csv", "contract.basis=hotel booking"],
}


def context(*codes: str, ciio: bool = False, **facts: list[str]) -> TransferContext:
    assignments = [fact for code in codes for fact in facts.get(code, FACTS[code])]
    return build_context(BASE, {"ciio": ciio}, codes, parse_facts(assignments))


def inputs(
    personal: int = 0,
    sensitive: int = 0,
    *,
    transfer: TransferContext | None = None,
    important: tuple[str, ...] = (),
    flags: tuple[str, ...] = (),
    has_personal: bool | None = None,
    **extra: Any,
) -> RouteInputs:
    items = [ImportantItem(label, "data.csv") for label in important]
    personal_present = (
        (personal + sensitive > 0) if has_personal is None else has_personal
    )
    return RouteInputs(
        context=transfer or context(),
        important=items,
        flags=frozenset(flags),
        label_ids=frozenset(important) | frozenset(flags),
        has_personal=personal_present,
        has_uncovered_personal=personal_present,
        year_total=PeopleCount(personal, sensitive),
        **extra,
    )


def fired(decision: Any) -> list[int]:
    return [row.row for row in decision.rows if row.fired]


@pytest.mark.parametrize(
    ("personal", "sensitive", "route"),
    [
        (0, 0, "exempt"),
        (99_999, 0, "exempt"),
        (100_000, 0, "contract_or_certification"),
        (999_999, 0, "contract_or_certification"),
        (1_000_000, 0, "security_assessment"),
        (0, 1, "contract_or_certification"),
        (99_999, 1, "contract_or_certification"),
        (0, 9_999, "contract_or_certification"),
        (0, 10_000, "security_assessment"),
        (999_999, 9_999, "contract_or_certification"),
    ],
)
def test_thresholds_pick_route(personal: int, sensitive: int, route: str) -> None:
    decision = decide(inputs(personal, sensitive))
    assert decision.route == route


def test_every_row_reported() -> None:
    decision = decide(inputs(5))
    assert [row.row for row in decision.rows] == list(range(10))
    assert fired(decision) == [9]


def test_row_numbers_carry_counts() -> None:
    decision = decide(inputs(150_000, 3))
    row_8 = decision.rows[8]
    assert row_8.fired
    assert row_8.numbers == {"personal": 150_000, "sensitive": 3}


def test_important_data_needs_assessment() -> None:
    decision = decide(inputs(important=("imp.connected_operation.charging_network",)))
    assert decision.route == "security_assessment"
    assert 4 in fired(decision)
    assert decision.rows[4].numbers["important_datasets"] == 1


def test_ciio_with_personal_information() -> None:
    decision = decide(inputs(10, transfer=context(ciio=True)))
    assert decision.route == "security_assessment"
    assert fired(decision)[0] == 6


def test_ciio_without_personal_information() -> None:
    decision = decide(inputs(0, transfer=context(ciio=True)))
    assert decision.route == "exempt"


def test_vulnerability_fix_exempts_ota_data() -> None:
    transfer = context("vulnerability_fix")
    decision = decide(
        inputs(transfer=transfer, important=("imp.software_upgrade.ota",))
    )
    assert decision.route == "exempt"
    assert fired(decision)[0] == 0


def test_vulnerability_fix_keeps_counting_people() -> None:
    transfer = context("vulnerability_fix")
    decision = decide(
        inputs(200_000, transfer=transfer, important=("imp.software_upgrade.ota",))
    )
    assert decision.route == "contract_or_certification"
    assert decision.rows[0].fired
    assert not decision.rows[4].fired


def test_vulnerability_fix_other_important_data() -> None:
    transfer = context("vulnerability_fix")
    important = ("imp.software_upgrade.ota", "imp.driving_automation.point_cloud")
    decision = decide(inputs(transfer=transfer, important=important))
    assert decision.route == "security_assessment"
    assert not decision.rows[0].fired
    assert decision.rows[0].numbers["outside_exemption"] == [
        "imp.driving_automation.point_cloud"
    ]


def test_free_trade_zone_exempts() -> None:
    transfer = context("free_trade_zone")
    decision = decide(
        inputs(2_000_000, transfer=transfer, important=("imp.production.capacity",))
    )
    assert decision.route == "exempt"
    assert fired(decision)[0] == 1


def test_free_trade_zone_negative_list_hit() -> None:
    transfer = context("free_trade_zone")
    decision = decide(
        inputs(transfer=transfer, important=("imp.driving_automation.geodata",))
    )
    assert decision.route == "security_assessment"
    assert decision.rows[1].numbers["on_negative_list"] == [
        "imp.driving_automation.geodata"
    ]


def test_free_trade_zone_prefix_item() -> None:
    facts = FACTS["free_trade_zone"][:2] + ["free_trade_zone.negative_list=imp."]
    transfer = context("free_trade_zone", free_trade_zone=facts)
    decision = decide(inputs(transfer=transfer, important=("imp.production.capacity",)))
    assert not decision.rows[1].fired


def test_collected_abroad_exempts() -> None:
    decision = decide(inputs(5_000_000, 50_000, transfer=context("collected_abroad")))
    assert decision.route == "exempt"
    assert fired(decision)[0] == 2


def test_collected_abroad_domestic_added() -> None:
    facts = [FACTS["collected_abroad"][0], "collected_abroad.domestic_data_added=true"]
    transfer = context("collected_abroad", collected_abroad=facts)
    decision = decide(inputs(0, 5, transfer=transfer))
    assert decision.route == "contract_or_certification"
    assert not decision.rows[2].fired


def test_trade_exemption_without_personal_data() -> None:
    decision = decide(inputs(transfer=context("trade_transport_academic")))
    assert decision.route == "exempt"
    assert fired(decision)[0] == 3


def test_trade_exemption_with_personal_data() -> None:
    decision = decide(inputs(10, transfer=context("trade_transport_academic")))
    assert not decision.rows[3].fired
    assert decision.route == "exempt"
    assert fired(decision)[0] == 9


def test_covering_exemption_reports_drop() -> None:
    decision = decide(
        inputs(
            50,
            transfer=context("contract"),
            dropped=PeopleCount(120_000, 0),
            covered_datasets=1,
        )
    )
    assert decision.rows[5].fired
    assert decision.rows[5].numbers["dropped_personal"] == 120_000
    assert decision.route == "exempt"


def test_core_candidate_stops_audit() -> None:
    decision = decide(inputs(flags=("flag.core_candidate",)))
    assert decision.route == "manual_review"
    assert decision.manual_review


def test_surveying_needs_approval() -> None:
    decision = decide(inputs(flags=("flag.surveying",)))
    assert decision.surveying_approval
    assert decision.route == "exempt"


def test_pipl_duties_when_exempt() -> None:
    decision = decide(inputs(10))
    assert decision.route == "exempt"
    assert decision.pipl_duties == ["inform", "separate_consent", "impact_assessment"]


def test_no_duties_without_personal_data() -> None:
    assert decide(inputs()).pipl_duties == []


def test_personal_volume_note_above_limit() -> None:
    assert not decide(inputs(100_000)).notes
    notes = decide(inputs(100_001)).notes
    assert len(notes) == 1
    assert "imp.personal_volume" in notes[0]
