"""Decide the export route from the route table, first matching row wins.

The table follows the 2026 automotive data export guideline and the 2024
Provisions on Promoting and Regulating Cross-Border Data Flows, whose
thresholds it adopts:

    row  condition                                        route
    0    exemption (b) claimed, its conditions met        exempt (that important data)
    1    free-trade-zone exemption, nothing on the
         zone's negative list                             exempt
    2    exemption (a) claimed, nothing domestic added    exempt
    3    trade/transport/academic exemption, no
         important data and no personal information       exempt
    4    important data present                           security assessment
    5    records covered by a contract, HR or
         emergency exemption                              dropped from the counts
    6    CIIO and any personal information                security assessment
    7    >= 1,000,000 non-sensitive or >= 10,000
         sensitive                                        security assessment
    8    >= 100,000 non-sensitive or >= 1 sensitive       contract or certification
    9    otherwise                                        exempt

Every row is evaluated and reported. Rows 0 and 5 change what later rows
see and let the evaluation go on. Row 0 sets the exempted important data
aside, and ends in ``exempt`` when no personal information is left to
decide. Row 5 is applied by the counting before this module runs.
Independently, ``flag.surveying`` adds the surveying approval and
``flag.core_candidate`` makes the route ``manual_review``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from scanner.audit.context import COVERING_CODES, TransferContext
from scanner.audit.model import Decision, ImportantItem, PeopleCount, Route, RouteRow

# Thresholds of the 2024 Provisions (arts. 7 and 8), counted per processor
# since 1 January of the current year.
PERSONAL_CONTRACT = 100_000
PERSONAL_ASSESSMENT = 1_000_000
SENSITIVE_ASSESSMENT = 10_000
THRESHOLDS = {
    "personal_contract": PERSONAL_CONTRACT,
    "personal_assessment": PERSONAL_ASSESSMENT,
    "sensitive_assessment": SENSITIVE_ASSESSMENT,
}
# The 2021 automotive provisions call personal information of more than
# 100,000 people important data; see ``_personal_volume_note``.
PERSONAL_VOLUME_2021 = 100_000

# Important data that exemption (b) may cover: vulnerabilities, security
# incidents and OTA software.
VULNERABILITY_LABELS = frozenset({"imp.software_upgrade.ota"})
SURVEYING_FLAG = "flag.surveying"
CORE_CANDIDATE_FLAG = "flag.core_candidate"
# PIPL art. 39 (inform and separate consent) and art. 55 (impact assessment)
# apply to every export of personal information, exempt or not.
PIPL_DUTIES = ("inform", "separate_consent", "impact_assessment")


@dataclass
class RouteInputs:
    """What the route depends on, after counting."""

    context: TransferContext
    important: Sequence[ImportantItem]
    flags: frozenset[str]
    #: Every label id in the transfer, on columns and datasets.
    label_ids: frozenset[str]
    #: Personal information anywhere in the transfer, before exemptions.
    has_personal: bool
    #: Personal information in datasets not covered by row 5's exemptions.
    has_uncovered_personal: bool
    year_total: PeopleCount
    dropped: PeopleCount = field(default_factory=PeopleCount)
    covered_datasets: int = 0


def _on_negative_list(label_ids: frozenset[str], listed: Sequence[str]) -> list[str]:
    """Return the label ids that an item of the negative list names.

    An item is a label id, or a prefix ending in a dot (``imp.``).
    """
    return sorted(
        label_id
        for label_id in label_ids
        if any(
            label_id == item or (item.endswith(".") and label_id.startswith(item))
            for item in listed
        )
    )


def evaluate_rows(inputs: RouteInputs) -> list[tuple[RouteRow, Route | None]]:
    """Evaluate every row; pair each with the route it gives when it fires."""
    context = inputs.context
    important_ids = sorted({item.label for item in inputs.important})
    outside_fix = [i for i in important_ids if i not in VULNERABILITY_LABELS]
    fix_claim = context.exemption("vulnerability_fix")
    fix_applies = fix_claim is not None and bool(important_ids) and not outside_fix
    remaining_important = [] if fix_applies else important_ids
    year = inputs.year_total

    zone = context.exemption("free_trade_zone")
    listed = (
        _on_negative_list(inputs.label_ids, zone.facts.negative_list) if zone else []
    )
    abroad = context.exemption("collected_abroad")
    trade = context.exemption("trade_transport_academic")
    covering = [code for code in COVERING_CODES if context.exemption(code)]

    rows: list[tuple[RouteRow, Route | None]] = [
        (
            RouteRow(
                0,
                "declared exemption (b) and its conditions are met",
                fix_applies,
                {
                    "claimed": fix_claim is not None,
                    "important_labels": important_ids,
                    "outside_exemption": outside_fix,
                },
            ),
            None if inputs.has_personal else "exempt",
        ),
        (
            RouteRow(
                1,
                "declared free-trade-zone exemption and no item is on the zone's "
                "negative list",
                zone is not None and not listed,
                {"claimed": zone is not None, "on_negative_list": listed},
            ),
            "exempt",
        ),
        (
            RouteRow(
                2,
                "declared exemption (a) and nothing domestic was added",
                abroad is not None and not abroad.facts.domestic_data_added,
                {
                    "claimed": abroad is not None,
                    "domestic_data_added": (
                        abroad.facts.domestic_data_added if abroad else None
                    ),
                },
            ),
            "exempt",
        ),
        (
            RouteRow(
                3,
                "declared trade/transport/academic exemption, no important data and "
                "no personal information",
                trade is not None
                and not remaining_important
                and not inputs.has_personal,
                {
                    "claimed": trade is not None,
                    "important_labels": len(remaining_important),
                    "personal_information": inputs.has_personal,
                },
            ),
            "exempt",
        ),
        (
            RouteRow(
                4,
                "important data present",
                bool(remaining_important),
                {
                    "important_labels": remaining_important,
                    "important_datasets": len(
                        {
                            i.dataset
                            for i in inputs.important
                            if i.label in remaining_important
                        }
                    ),
                },
            ),
            "security_assessment",
        ),
        (
            RouteRow(
                5,
                "records covered by a contract, HR or emergency exemption are "
                "dropped from the counts",
                bool(covering),
                {
                    "exemptions": covering,
                    "covered_datasets": inputs.covered_datasets,
                    "dropped_personal": inputs.dropped.personal,
                    "dropped_sensitive": inputs.dropped.sensitive,
                },
            ),
            None,
        ),
        (
            RouteRow(
                6,
                "CIIO and any personal information",
                context.ciio and inputs.has_uncovered_personal,
                {
                    "ciio": context.ciio,
                    "personal_information": inputs.has_uncovered_personal,
                },
            ),
            "security_assessment",
        ),
        (
            RouteRow(
                7,
                f"non-sensitive count >= {PERSONAL_ASSESSMENT:,} or sensitive count "
                f">= {SENSITIVE_ASSESSMENT:,}",
                year.personal >= PERSONAL_ASSESSMENT
                or year.sensitive >= SENSITIVE_ASSESSMENT,
                {"personal": year.personal, "sensitive": year.sensitive},
            ),
            "security_assessment",
        ),
        (
            RouteRow(
                8,
                f"non-sensitive count >= {PERSONAL_CONTRACT:,} or sensitive count >= 1",
                year.personal >= PERSONAL_CONTRACT or year.sensitive >= 1,
                {"personal": year.personal, "sensitive": year.sensitive},
            ),
            "contract_or_certification",
        ),
        (RouteRow(9, "otherwise", True, {}), "exempt"),
    ]
    return rows


def decide(inputs: RouteInputs) -> Decision:
    """Return the route: the first fired row that gives one, then the flags."""
    rows = evaluate_rows(inputs)
    route: Route = next(route for row, route in rows if row.fired and route)
    decision = Decision(route=route, rows=[row for row, _ in rows])
    if CORE_CANDIDATE_FLAG in inputs.flags:
        decision.route = "manual_review"
        decision.manual_review = True
        decision.notes.append(
            f"{CORE_CANDIDATE_FLAG} stops the audit: possible core data under "
            "GB/T 43697-2024 needs manual legal review whatever the table says"
        )
    decision.surveying_approval = SURVEYING_FLAG in inputs.flags
    if decision.surveying_approval:
        decision.notes.append(
            "surveying data needs the natural-resources surveying approval or map "
            "review before export, independent of the route"
        )
    if inputs.has_personal:
        decision.pipl_duties = list(PIPL_DUTIES)
    note = _personal_volume_note(inputs.year_total)
    if note:
        decision.notes.append(note)
    return decision


def _personal_volume_note(year: PeopleCount) -> str | None:
    # The 2024 Provisions and the 2026 guideline set the counted thresholds
    # of rows 7 and 8; treating every transfer over 100,000 people as
    # important data (2021 rule) would make row 8 unreachable. cardex
    # follows the newer rules and reports the older one as a note.
    people = year.personal + year.sensitive
    if people <= PERSONAL_VOLUME_2021:
        return None
    return (
        f"personal information of {people:,} people this year is more than "
        f"{PERSONAL_VOLUME_2021:,}, which the 2021 automotive provisions call "
        "important data (imp.personal_volume); cardex routes by the 2024 "
        "thresholds instead, so confirm with legal counsel"
    )
