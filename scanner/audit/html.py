"""Render an audit result as one self-contained HTML page.

The page needs no network: its CSS is inline and its charts are SVG drawn
here. Jinja2 autoescapes every value. The audit masks examples before they
enter the result. In case a caller built the result by hand, an example
without a mask character is masked again and failure messages pass through
``redact_text``.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from scanner.masking import MASK, mask_value, public_url, redact_text

TEMPLATES = Path(__file__).parent / "templates"

ROUTE_TITLES = {
    "exempt": "Exempt from the export procedures",
    "contract_or_certification": "Standard contract or certification",
    "security_assessment": "Security assessment",
    "manual_review": "Manual legal review",
}

# PIPL duties of a cross-border transfer, which apply even when the transfer
# is exempt from the CAC procedures.
PIPL_DUTIES = {
    "inform": "Inform the people concerned of the overseas recipient, the "
    "purpose and how to exercise their rights (PIPL art. 39).",
    "separate_consent": "Obtain the separate consent of the people concerned "
    "(PIPL art. 39).",
    "impact_assessment": "Carry out a personal information protection impact "
    "assessment and keep its report for at least three years (PIPL arts. 55-56).",
}

CATEGORIES = ("personal", "sensitive_personal", "important", "flag")
CATEGORY_TITLES = {
    "personal": "personal",
    "sensitive_personal": "sensitive personal",
    "important": "important",
    "flag": "flag",
    "other": "other",
}
_PREFIX_CATEGORIES = {
    "pi.": "personal",
    "spi.": "sensitive_personal",
    "imp.": "important",
    "flag.": "flag",
}

#: Datasets drawn in the labels chart; the table lists all of them.
MAX_CHART_DATASETS = 20

# Chart geometry in SVG user units (pixels at 100% zoom).
_CHART_WIDTH = 720
_LABEL_GUTTER = 170
_BAR_HEIGHT = 18
_BAR_GAP = 8


@dataclass(frozen=True)
class LabelName:
    """Display names and category of one label id."""

    zh: str
    en: str
    category: str


@lru_cache(maxsize=1)
def _shipped_label_names() -> dict[str, LabelName]:
    from classifiers.rulepack import load_rule_pack

    pack = load_rule_pack()
    return {
        rule.id: LabelName(rule.name_zh, rule.name_en, rule.category)
        for rule in pack.labels.values()
    }


def label_name(label_id: str) -> LabelName:
    """Return the names of ``label_id`` from the shipped rule pack.

    An id the pack does not define gets itself as its English name and a
    category from its prefix.
    """
    known = _shipped_label_names().get(label_id)
    if known is not None:
        return known
    category = next(
        (c for prefix, c in _PREFIX_CATEGORIES.items() if label_id.startswith(prefix)),
        "other",
    )
    return LabelName("", label_id, category)


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(result: dict[str, Any]) -> str:
    """Render the audit ``result`` (the dict of ``AuditResult.to_dict()``)."""
    template = _environment().get_template("audit_report.html.j2")
    return template.render(report=build_view(result))


def build_view(result: dict[str, Any]) -> dict[str, Any]:
    """Turn an audit result into the values the template prints."""
    decision = result.get("decision") or {}
    counts = result.get("counts") or {}
    thresholds = result.get("thresholds") or {}
    datasets = [_dataset_view(d) for d in result.get("datasets") or []]
    route = decision.get("route", "")
    return {
        "generated_at": result.get("generated_at", ""),
        "rule_pack_version": result.get("rule_pack_version", ""),
        "sources": [public_url(str(s)) for s in result.get("sources") or []],
        "exit_code": result.get("exit_code"),
        "route": route,
        "route_title": ROUTE_TITLES.get(route, route),
        "route_text": decision.get("route_text", ""),
        "surveying_approval": bool(decision.get("surveying_approval")),
        "manual_review": bool(decision.get("manual_review")),
        "decision_rows": _decision_rows(decision.get("rows") or []),
        "decision_notes": [str(note) for note in decision.get("notes") or []],
        "duties": [_duty(code) for code in decision.get("pipl_duties") or []],
        "transfer": _transfer_view(result.get("transfer") or {}),
        "counts": _counts_view(counts, thresholds),
        "people_chart": people_chart(counts, thresholds),
        "datasets": datasets,
        "labels_chart": labels_chart(datasets),
        "important": [_important_view(item) for item in result.get("important") or []],
        "flags": [_flag_view(flag) for flag in result.get("flags") or []],
        "failures": [_failure_view(item) for item in result.get("failures") or []],
    }


def _transfer_view(transfer: dict[str, Any]) -> dict[str, Any]:
    exemptions = [
        {
            "code": item.get("code", ""),
            "facts": [
                f"{key}: {value}" for key, value in (item.get("facts") or {}).items()
            ],
        }
        for item in transfer.get("exemptions") or []
    ]
    return {
        "rows": [
            ("Processor", transfer.get("processor") or "-"),
            ("Destination", transfer.get("destination") or "-"),
            ("Recipient", transfer.get("recipient") or "-"),
            ("Purpose", transfer.get("purpose") or "-"),
            ("CIIO", _yes_no(transfer.get("ciio"))),
            ("Remote access from abroad", _yes_no(transfer.get("remote_access"))),
        ],
        "exemptions": exemptions,
    }


def _yes_no(value: object) -> str:
    if value is None:
        return "-"
    return "yes" if value else "no"


# Route table rows that adjust the counts and let evaluation continue, so
# they never decide the route (row 5: records under a contract, HR or
# emergency exemption leave the counts).
CONTINUE_ROWS = frozenset({5})


def _decision_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    views = [_decision_row(row) for row in rows]
    deciding = next(
        (v for v in views if v["fired"] and v["row"] not in CONTINUE_ROWS), None
    )
    if deciding is not None:
        deciding["decides"] = True
    return views


def _decision_row(row: dict[str, Any]) -> dict[str, Any]:
    numbers = row.get("numbers") or {}
    return {
        "row": row.get("row", ""),
        "condition": row.get("condition", ""),
        "fired": bool(row.get("fired")),
        "decides": False,
        "numbers": [f"{key} = {format_value(value)}" for key, value in numbers.items()],
    }


def format_value(value: object) -> str:
    """Show a number of the route table the way a reader expects it."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "-"
    if isinstance(value, list | tuple | set):
        return ", ".join(format_value(item) for item in value) or "none"
    return _number(value)


def _number(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,}"


def _duty(code: str) -> dict[str, str]:
    return {"code": code, "text": PIPL_DUTIES.get(code, code)}


def _counts_view(counts: dict[str, Any], thresholds: dict[str, Any]) -> dict[str, Any]:
    periods = (
        ("This transfer", "this_transfer"),
        ("Already exported this year", "already_this_year"),
        ("Year total", "year_total"),
        ("Dropped by exemption", "dropped_by_exemption"),
    )
    rows = []
    for title, key in periods:
        values = counts.get(key) or {}
        rows.append(
            (
                title,
                _number(values.get("personal", 0)),
                _number(values.get("sensitive", 0)),
            )
        )
    return {
        "method": counts.get("method", ""),
        "error_bound": counts.get("error_bound"),
        "year": counts.get("year", ""),
        "rows": rows,
        "thresholds": [
            (key.replace("_", " "), _number(value)) for key, value in thresholds.items()
        ],
    }


def _masked_example(example: object) -> str:
    text = "" if example is None else str(example)
    if not text or MASK in text:
        return text
    return mask_value(text)


def _dataset_view(dataset: dict[str, Any]) -> dict[str, Any]:
    labels = []
    for item in dataset.get("labels") or []:
        label_id = str(item.get("label") or item.get("id") or "")
        name = label_name(label_id)
        labels.append(
            {
                "id": label_id,
                "zh": name.zh,
                "en": name.en,
                "category": name.category,
                "column": item.get("column") or "(dataset)",
                "confidence": f"{float(item.get('confidence') or 0):.2f}",
                "example": _masked_example(item.get("example")),
            }
        )
    people = dataset.get("people") or {}
    rows = dataset.get("rows")
    return {
        "name": dataset.get("name") or "",
        "uri": public_url(str(dataset.get("uri") or "")),
        "kind": dataset.get("kind") or "",
        "grade": dataset.get("grade") or "",
        "personal": dataset.get("personal") or "",
        "rows": "-" if rows is None else _number(rows),
        "people_personal": _number(people.get("personal", 0)),
        "people_sensitive": _number(people.get("sensitive", 0)),
        "labels": labels,
        "category_counts": Counter(label["category"] for label in labels),
    }


def _important_view(item: dict[str, Any]) -> dict[str, str]:
    label_id = str(item.get("label", ""))
    name = label_name(label_id)
    return {
        "id": label_id,
        "zh": name.zh,
        "en": name.en,
        "dataset": public_url(str(item.get("dataset", ""))),
    }


def _flag_view(flag: object) -> dict[str, str]:
    label_id = str(flag)
    name = label_name(label_id)
    return {"id": label_id, "zh": name.zh, "en": name.en}


def _failure_view(item: dict[str, Any]) -> dict[str, str]:
    return {
        "uri": public_url(str(item.get("uri", ""))),
        "reason": str(item.get("reason", "")),
        "message": redact_text(str(item.get("message", ""))),
    }


# Charts.


def _log_position(value: float, maximum: float, width: float) -> float:
    """Place ``value`` on a log10(1 + v) axis from 0 to ``maximum``."""
    if value <= 0:
        return 0.0
    return width * math.log10(1 + value) / math.log10(1 + maximum)


def _short_number(value: float) -> str:
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if value >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


_PERIODS = (
    ("this transfer", "this_transfer"),
    ("already this year", "already_this_year"),
    ("year total", "year_total"),
)


def people_chart(counts: dict[str, Any], thresholds: dict[str, Any]) -> dict[str, Any]:
    """Lay out the bars of people per category against the thresholds.

    One panel per category (non-sensitive personal, sensitive), one bar per
    period, and a line per threshold. The axis is logarithmic, because the
    thresholds are 1 to 1,000,000 people apart.
    """
    panel_specs = (
        (
            "Personal information (non-sensitive)",
            "personal",
            {
                "contract": thresholds.get("personal_contract"),
                "assessment": thresholds.get("personal_assessment"),
            },
        ),
        (
            "Sensitive personal information",
            "sensitive",
            # Any sensitive personal information needs at least a contract.
            {"contract": 1, "assessment": thresholds.get("sensitive_assessment")},
        ),
    )
    values = [
        float((counts.get(key) or {}).get(kind) or 0)
        for _, kind, _ in panel_specs
        for _, key in _PERIODS
    ]
    limits = [float(v) for _, _, spec in panel_specs for v in spec.values() if v]
    # One decade of headroom past the largest number, rounded up to a power
    # of ten so that the ticks land on 1, 10, 100...
    maximum = 10 ** math.ceil(math.log10(max([10.0, *values, *limits]) * 1.5))
    panel_height = len(_PERIODS) * (_BAR_HEIGHT + _BAR_GAP) + 46

    panels = [
        _people_panel(counts, spec, index * panel_height, panel_height, maximum)
        for index, spec in enumerate(panel_specs)
    ]
    return {
        "width": _CHART_WIDTH,
        "height": len(panels) * panel_height + 24,
        "gutter": _LABEL_GUTTER,
        "bar_height": _BAR_HEIGHT,
        "panels": panels,
        "ticks": _log_ticks(maximum),
        "axis_y": len(panels) * panel_height,
    }


def _plot_width() -> int:
    return _CHART_WIDTH - _LABEL_GUTTER - 20


def _people_panel(
    counts: dict[str, Any],
    spec: tuple[str, str, dict[str, Any]],
    top: int,
    height: int,
    maximum: float,
) -> dict[str, Any]:
    title, kind, limits = spec
    bars = []
    for row, (period_title, key) in enumerate(_PERIODS):
        value = float((counts.get(key) or {}).get(kind) or 0)
        bars.append(
            {
                "label": period_title,
                "y": top + 24 + row * (_BAR_HEIGHT + _BAR_GAP),
                "width": round(_log_position(value, maximum, _plot_width()), 1),
                "value": _number(int(value)),
            }
        )
    lines = []
    for name, threshold in limits.items():
        if not threshold:
            continue
        offset = _log_position(float(threshold), maximum, _plot_width())
        lines.append(
            {
                "x": round(_LABEL_GUTTER + offset, 1),
                "label": f"{name} {_number(int(threshold))}",
                "kind": name,
            }
        )
    return {
        "title": title,
        "kind": kind,
        "top": top,
        "bars": bars,
        "lines": lines,
        "bottom": top + height - 16,
    }


def _log_ticks(maximum: float) -> list[dict[str, Any]]:
    ticks = []
    for power in range(round(math.log10(maximum)) + 1):
        offset = _log_position(10**power, maximum, _plot_width())
        ticks.append(
            {"x": round(_LABEL_GUTTER + offset, 1), "label": _short_number(10**power)}
        )
    return ticks


def labels_chart(datasets: list[dict[str, Any]]) -> dict[str, Any]:
    """Lay out stacked bars of label counts per category for each dataset."""
    ranked = sorted(datasets, key=lambda d: -sum(d["category_counts"].values()))
    charted = [d for d in ranked[:MAX_CHART_DATASETS] if d["category_counts"]]
    largest = max((sum(d["category_counts"].values()) for d in charted), default=1)
    plot_width = _CHART_WIDTH - _LABEL_GUTTER - 60
    unit = plot_width / largest

    rows = []
    for index, dataset in enumerate(charted):
        y = 10 + index * (_BAR_HEIGHT + _BAR_GAP)
        x = float(_LABEL_GUTTER)
        segments = []
        for category in (*CATEGORIES, "other"):
            count = dataset["category_counts"].get(category, 0)
            if not count:
                continue
            segments.append(
                {
                    "x": round(x, 1),
                    "width": round(count * unit, 1),
                    "category": category,
                    "count": count,
                }
            )
            x += count * unit
        rows.append(
            {
                "name": _shorten(dataset["name"], 26),
                "y": y,
                "segments": segments,
                "total": sum(dataset["category_counts"].values()),
                "end": round(x + 6, 1),
            }
        )
    return {
        "width": _CHART_WIDTH,
        "height": 20 + len(rows) * (_BAR_HEIGHT + _BAR_GAP) + 24,
        "bar_height": _BAR_HEIGHT,
        "rows": rows,
        "hidden": max(
            0, len([d for d in datasets if d["category_counts"]]) - len(rows)
        ),
        "legend": [(c, CATEGORY_TITLES[c]) for c in CATEGORIES],
    }


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
