"""The HTML and Markdown audit reports: complete, escaped, masked, offline."""

from __future__ import annotations

import copy
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from scanner.audit.html import build_view, people_chart, render_html
from scanner.audit.markdown import escape, render_markdown

# Raw values seeded where a careless caller could leave them: an unmasked
# example, and a driver message that quotes a row.
SEEDED_PHONE = "13812345678"
SEEDED_ID = "11010519491231002X"
SEEDED_NAME = "王小明"

ROUTES = ("exempt", "contract_or_certification", "security_assessment", "manual_review")


def audit_fixture() -> dict[str, Any]:
    """An audit result in the documented schema, with every route row."""
    rows = [
        {"row": row, "condition": f"condition of row {row}", "fired": False}
        for row in range(10)
    ]
    rows[4] = {
        "row": 4,
        "condition": "important data present",
        "fired": True,
        "numbers": {"important_datasets": 1},
    }
    rows[7] = {
        "row": 7,
        "condition": "non-sensitive >= 1,000,000 or sensitive >= 10,000",
        "fired": True,
        "numbers": {"personal": 180_000, "sensitive": 20_000},
    }
    return {
        "schema_version": 1,
        "kind": "cardex-audit",
        "generated_at": "2026-12-04T19:00:00+00:00",
        "rule_pack_version": "2026.12.2",
        "transfer": {
            "processor": "Example Motors <script>alert(1)</script>",
            "destination": "DE",
            "recipient": "Example GmbH",
            "purpose": "R&D",
            "ciio": False,
            "remote_access": False,
            "exemptions": [{"code": "contract", "facts": {"datasets": "owners.csv"}}],
        },
        "sources": ["sample_data/", "postgresql://audit:hunter2@127.0.0.1/fleet"],
        "datasets": [
            {
                "uri": "/data/owners.csv",
                "name": "owners.csv",
                "kind": "file",
                "grade": "important",
                "personal": "sensitive",
                "rows": 1234,
                "labels": [
                    {
                        "label": "pi.phone",
                        "column": "phone",
                        "confidence": 0.9,
                        "example": SEEDED_PHONE,
                    },
                    {
                        "label": "spi.id_number",
                        "column": "sfzh",
                        "confidence": 0.95,
                        "example": "110**********002X",
                    },
                    {
                        "label": "pi.name",
                        "column": "xm",
                        "confidence": 0.8,
                        "example": "王*",
                    },
                ],
                "subject_keys": [
                    {"column": "phone", "key_type": "phone", "sensitive": True}
                ],
                "people": {"personal": 1200, "sensitive": 800},
            },
            {
                "uri": "/data/charging.parquet",
                "name": "charging.parquet",
                "kind": "file",
                "grade": "important",
                "personal": "none",
                "rows": 50_000,
                "labels": [
                    {
                        "label": "imp.connected_operation.charging_network",
                        "column": None,
                        "confidence": 0.8,
                        "example": None,
                    }
                ],
                "subject_keys": [],
                "people": {"personal": 0, "sensitive": 0},
            },
        ],
        "counts": {
            "method": "exact",
            "error_bound": None,
            "this_transfer": {"personal": 150_000, "sensitive": 20_000},
            "already_this_year": {"personal": 30_000, "sensitive": 0},
            "year_total": {"personal": 180_000, "sensitive": 20_000},
            "dropped_by_exemption": {"personal": 0, "sensitive": 0},
            "year": 2026,
        },
        "important": [
            {
                "label": "imp.connected_operation.charging_network",
                "dataset": "/data/charging.parquet",
            }
        ],
        "flags": ["flag.surveying"],
        "thresholds": {
            "personal_contract": 100_000,
            "personal_assessment": 1_000_000,
            "sensitive_assessment": 10_000,
        },
        "decision": {
            "route": "security_assessment",
            "route_text": "Declare a security assessment",
            "rows": rows,
            "surveying_approval": True,
            "manual_review": False,
            "pipl_duties": ["inform", "separate_consent", "impact_assessment"],
        },
        "exit_code": 11,
        "failures": [
            {
                "uri": "/data/broken.csv",
                "reason": "unreadable",
                "message": f"row {SEEDED_PHONE},{SEEDED_ID},{SEEDED_NAME} is malformed",
            }
        ],
    }


class _Collector(HTMLParser):
    """Collect tags, URL-bearing attributes and text of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "action", "srcset", "poster"):
                self.urls.append(value or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> _Collector:
    collector = _Collector()
    collector.feed(page)
    return collector


# HTML.


def test_html_has_no_external_references() -> None:
    page = render_html(audit_fixture())
    parsed = parse(page)
    assert parsed.urls == []
    assert "script" not in parsed.tags
    assert "link" not in parsed.tags
    assert "url(" not in page
    assert "@import" not in page


def test_html_escapes_input() -> None:
    page = render_html(audit_fixture())
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>" not in page


def test_html_masks_seeded_values() -> None:
    page = render_html(audit_fixture())
    for value in (SEEDED_PHONE, SEEDED_ID, SEEDED_NAME, "hunter2"):
        assert value not in page


def test_html_keeps_masked_examples() -> None:
    page = render_html(audit_fixture())
    assert "110**********002X" in page
    assert "王*" in page


def test_html_lists_every_decision_row() -> None:
    view = build_view(audit_fixture())
    assert [row["row"] for row in view["decision_rows"]] == list(range(10))
    fired = [row["row"] for row in view["decision_rows"] if row["fired"]]
    assert fired == [4, 7]
    page = render_html(audit_fixture())
    assert page.count('class="fired decides"') == 1
    assert page.count('class="fired"') == 1
    assert page.count('class="not-fired"') == 8
    assert "yes, decides" in page
    assert "personal = 180,000" in page


def test_html_names_labels_in_both_languages() -> None:
    page = render_html(audit_fixture())
    assert "电话号码" in page
    assert "Phone number" in page
    assert "imp.connected_operation.charging_network" in page


def test_html_shows_duties_flags_and_failures() -> None:
    text = " ".join(parse(render_html(audit_fixture())).text)
    assert "PIPL art. 39" in text
    assert "flag.surveying" in text
    assert "natural-resources authority" in text
    assert "/data/broken.csv" in text


def test_html_decision_skips_continue_row() -> None:
    result = audit_fixture()
    result["decision"]["rows"][5].update(fired=True, numbers={"exemptions": []})
    rows = build_view(result)["decision_rows"]
    assert [row["row"] for row in rows if row["decides"]] == [4]
    assert rows[5]["numbers"] == ["exemptions = none"]


def test_html_spells_booleans_and_nulls() -> None:
    result = audit_fixture()
    result["decision"]["rows"][6]["numbers"] = {"ciio": False, "added": None}
    rows = build_view(result)["decision_rows"]
    assert rows[6]["numbers"] == ["ciio = no", "added = -"]


@pytest.mark.parametrize("route", ROUTES)
def test_html_renders_each_route(route: str) -> None:
    result = audit_fixture()
    result["decision"]["route"] = route
    page = render_html(result)
    assert f"route-{route}" in page


def test_html_renders_minimal_result() -> None:
    page = render_html({"decision": {"route": "exempt"}})
    assert "Every dataset was read." in page
    assert "No dataset has a label." in page


def test_html_renders_audit_model() -> None:
    model = pytest.importorskip("scanner.audit.model")
    result = model.AuditResult(
        generated_at="2026-12-04T19:00:00+00:00",
        rule_pack_version="test",
        transfer={"processor": "acme"},
        sources=["data/"],
        datasets=[],
        counts=model.Counts(year=2026),
        important=[],
        flags=[],
        thresholds={"personal_contract": 100_000},
        decision=model.Decision(route="exempt"),
        exit_code=0,
    )
    page = render_html(result.to_dict())
    assert "route-exempt" in page


def test_people_chart_orders_thresholds() -> None:
    fixture = audit_fixture()
    chart = people_chart(fixture["counts"], fixture["thresholds"])
    personal, sensitive = chart["panels"]
    contract, assessment = personal["lines"]
    assert contract["x"] < assessment["x"]
    assert sensitive["lines"][0]["x"] < sensitive["lines"][1]["x"]
    this_year, _, year_total = personal["bars"]
    assert this_year["width"] < year_total["width"]


def test_people_chart_axis_covers_maximum() -> None:
    counts = {"year_total": {"personal": 45_000_000, "sensitive": 0}}
    chart = people_chart(counts, {"personal_assessment": 1_000_000})
    plot_end = chart["width"] - 20
    bar = chart["panels"][0]["bars"][2]
    assert chart["gutter"] + bar["width"] <= plot_end
    assert chart["ticks"][-1]["label"] == "100M"


def test_people_chart_draws_zero_as_empty_bar() -> None:
    chart = people_chart({}, {})
    widths = [bar["width"] for panel in chart["panels"] for bar in panel["bars"]]
    assert widths == [0.0] * 6


# Markdown.


def test_markdown_summarises_route_and_counts() -> None:
    text = render_markdown(audit_fixture())
    assert text.startswith("### cardex export audit: Security assessment")
    assert "| personal (non-sensitive) | 150,000 | 180,000 | 100,000 | 1,000,000 |" in (
        text
    )
    assert "| sensitive | 20,000 | 20,000 | 1 | 10,000 |" in text
    assert "row 4: important data present (important\\_datasets = 1) **decides" in text
    assert "row 7: non-sensitive" in text
    assert "`flag.surveying`" in text


def test_markdown_escapes_names_from_data() -> None:
    result = audit_fixture()
    result["datasets"][0]["name"] = "<img src=http://example.invalid/x.png> | a"
    text = render_markdown(result)
    assert "<img" not in text
    assert "&lt;img src=http://example.invalid/x.png&gt; \\| a" in text


def test_markdown_masks_seeded_values() -> None:
    text = render_markdown(audit_fixture())
    for value in (SEEDED_PHONE, SEEDED_ID, SEEDED_NAME, "hunter2"):
        assert value not in text


def test_markdown_limits_dataset_table() -> None:
    result = audit_fixture()
    result["datasets"] = [
        copy.deepcopy(result["datasets"][0]) | {"name": f"d{index}.csv"}
        for index in range(8)
    ]
    text = render_markdown(result)
    assert "(5 of 8)" in text
    assert "d5.csv" not in text


@pytest.mark.parametrize(
    ("route", "step"),
    [
        ("exempt", "No CAC procedure is needed"),
        ("contract_or_certification", "standard contract"),
        ("security_assessment", "security assessment"),
        ("manual_review", "legal counsel"),
    ],
)
def test_markdown_next_step_per_route(route: str, step: str) -> None:
    result = audit_fixture()
    result["decision"]["route"] = route
    next_steps = render_markdown(result).split("Next steps:")[1]
    assert step in next_steps


def test_markdown_escape_keeps_one_line() -> None:
    assert escape("a\nb *c*") == "a b \\*c\\*"


# A real browser renders the page.

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--disable-domain-reliability",
    # Resolve no host name, so the browser cannot reach any server.
    "--host-resolver-rules=MAP * ~NOTFOUND",
)


@pytest.mark.slow
def test_html_screenshot_in_chromium(tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium binary on PATH (apt-get install chromium)")
    page = tmp_path / "audit.html"
    page.write_text(render_html(audit_fixture()), encoding="utf-8")
    screenshot = tmp_path / "audit.png"

    completed = subprocess.run(
        [
            browser,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={screenshot}",
            "--window-size=1100,1400",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=90,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode(errors="replace")[-2000:]

    image_module = pytest.importorskip("PIL.Image")
    with image_module.open(screenshot) as image:
        assert image.size == (1100, 1400)
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000) or []
    # A blank page has a handful of colours; text, tables and charts have
    # thousands once anti-aliased.
    assert len(colours) > 500
    # The security-assessment badge is drawn in #b83227.
    assert (0xB8, 0x32, 0x27) in {colour for _, colour in colours}
