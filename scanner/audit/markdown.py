"""Summarise an audit result in Markdown, for a pull-request comment.

The summary gives the route, the people counted against the thresholds, the
important data and flags, the datasets with the most labels, and what to do
next. It quotes no sampled values. Names that come from the data (datasets,
columns, exemption facts) are escaped, because GitHub and GitLab render HTML
inside Markdown comments.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from scanner.audit.html import (
    CONTINUE_ROWS,
    PIPL_DUTIES,
    ROUTE_TITLES,
    format_value,
    label_name,
)
from scanner.masking import public_url, redact_text

#: Datasets listed in the summary; the HTML report lists all of them.
TOP_DATASETS = 5

NEXT_STEPS = {
    "exempt": "No CAC procedure is needed for this transfer; the PIPL duties "
    "below still apply.",
    "contract_or_certification": "Sign the CAC standard contract with the "
    "recipient and file it with the provincial CAC, or obtain personal "
    "information protection certification, before the transfer.",
    "security_assessment": "Declare a data export security assessment to the "
    "CAC through the provincial office, and export nothing until it is approved.",
    "manual_review": "Stop: the data may contain core data. Have legal counsel "
    "review it before any further step.",
}

# Characters that Markdown or the HTML inside it would interpret.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_PLAIN_ID = re.compile(r"^[A-Za-z0-9_.:/-]+$")


def escape(text: object) -> str:
    """Escape ``text`` so that Markdown shows it literally, on one line."""
    value = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = _MARKDOWN_SPECIAL.sub(r"\\\1", value)
    return " ".join(value.split())


def code(text: object) -> str:
    """Show an identifier as inline code, or escaped when it could break out."""
    value = str(text)
    return f"`{value}`" if _PLAIN_ID.match(value) else escape(value)


def _number(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return escape(value)
    return f"{value:,}"


def render_markdown(result: dict[str, Any]) -> str:
    """Render the audit ``result`` as a short Markdown summary."""
    sections = [
        _heading(result),
        _people(result),
        _decision_path(result),
        _important(result),
        _top_datasets(result),
        _next_steps(result),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def _heading(result: dict[str, Any]) -> str:
    decision = result.get("decision") or {}
    route = decision.get("route", "")
    title = ROUTE_TITLES.get(route, route)
    lines = [f"### cardex export audit: {escape(title)}"]
    details = [escape(decision.get("route_text", ""))]
    if result.get("exit_code") is not None:
        details.append(f"(exit code {_number(result['exit_code'])})")
    lines.append(" ".join(part for part in details if part))
    transfer = result.get("transfer") or {}
    lines.append(
        f"Processor {escape(transfer.get('processor') or '-')}, destination "
        f"{escape(transfer.get('destination') or '-')}, rule pack "
        f"{code(result.get('rule_pack_version') or '-')}."
    )
    return "\n\n".join(lines)


def _people(result: dict[str, Any]) -> str:
    counts = result.get("counts") or {}
    thresholds = result.get("thresholds") or {}
    this = counts.get("this_transfer") or {}
    year = counts.get("year_total") or {}
    method = escape(counts.get("method") or "unstated")
    if counts.get("error_bound") is not None:
        method += f", error bound {_number(counts['error_bound'])}"
    rows = [
        f"People in {escape(counts.get('year', '-'))} ({method} count):",
        "",
        "| | this transfer | year total | contract from | assessment from |",
        "|---|---:|---:|---:|---:|",
        _people_row(
            "personal (non-sensitive)",
            this.get("personal", 0),
            year.get("personal", 0),
            thresholds.get("personal_contract"),
            thresholds.get("personal_assessment"),
        ),
        _people_row(
            "sensitive",
            this.get("sensitive", 0),
            year.get("sensitive", 0),
            1,
            thresholds.get("sensitive_assessment"),
        ),
    ]
    return "\n".join(rows)


def _people_row(
    title: str, this: object, year: object, contract: object, assessment: object
) -> str:
    cells = [title, *(_number(v) if v is not None else "-" for v in (this, year))]
    cells += [_number(v) if v is not None else "-" for v in (contract, assessment)]
    return "| " + " | ".join(cells) + " |"


def _decision_path(result: dict[str, Any]) -> str:
    rows = (result.get("decision") or {}).get("rows") or []
    fired = [row for row in rows if row.get("fired")]
    if not fired:
        return ""
    deciding = next((r for r in fired if r.get("row") not in CONTINUE_ROWS), None)
    lines = ["Route table rows that fired:", ""]
    for row in fired:
        numbers = ", ".join(
            f"{escape(key)} = {escape(format_value(value))}"
            for key, value in (row.get("numbers") or {}).items()
        )
        suffix = f" ({numbers})" if numbers else ""
        mark = " **decides the route**" if row is deciding else ""
        lines.append(
            f"- row {_number(row.get('row', '?'))}: "
            f"{escape(row.get('condition', ''))}{suffix}{mark}"
        )
    return "\n".join(lines)


def _named(label_id: str) -> str:
    name = label_name(label_id)
    names = " / ".join(escape(n) for n in (name.zh, name.en) if n)
    return f"{code(label_id)} {names}"


def _important(result: dict[str, Any]) -> str:
    lines: list[str] = []
    for item in result.get("important") or []:
        dataset = public_url(str(item.get("dataset", "")))
        lines.append(
            f"- important: {_named(str(item.get('label')))} in {code(dataset)}"
        )
    for flag in result.get("flags") or []:
        lines.append(f"- flag: {_named(str(flag))}")
    if not lines:
        return "No important data and no flags."
    return "\n".join(["Important data and flags:", "", *lines])


def _top_datasets(result: dict[str, Any]) -> str:
    datasets = list(result.get("datasets") or [])
    if not datasets:
        return ""
    ranked = sorted(datasets, key=lambda d: -len(d.get("labels") or []))
    lines = [
        f"Datasets with the most labels ({min(TOP_DATASETS, len(ranked))} of "
        f"{len(ranked)}):",
        "",
        "| dataset | grade | personal data | people (sensitive) | labels |",
        "|---|---|---|---:|---|",
    ]
    for dataset in ranked[:TOP_DATASETS]:
        lines.append(_dataset_row(dataset))
    return "\n".join(lines)


def _dataset_row(dataset: dict[str, Any]) -> str:
    people = dataset.get("people") or {}
    label_ids = sorted({str(item.get("label")) for item in dataset.get("labels") or []})
    labels = ", ".join(code(label_id) for label_id in label_ids) or "-"
    cells = [
        escape(dataset.get("name") or public_url(str(dataset.get("uri", "")))),
        escape(dataset.get("grade") or "-"),
        escape(dataset.get("personal") or "-"),
        f"{_number(people.get('personal', 0))} ({_number(people.get('sensitive', 0))})",
        labels,
    ]
    return "| " + " | ".join(cells) + " |"


def _next_steps(result: dict[str, Any]) -> str:
    return "\n".join(["Next steps:", "", *(f"- {step}" for step in _steps(result))])


def _steps(result: dict[str, Any]) -> Iterable[str]:
    decision = result.get("decision") or {}
    route = decision.get("route", "")
    yield NEXT_STEPS.get(route) or f"Follow the route {escape(route)}."
    if decision.get("surveying_approval"):
        yield (
            "Obtain the natural-resources authority's approval or map review for "
            "the surveying and mapping data; the CAC route does not replace it."
        )
    failures = result.get("failures") or []
    if failures:
        reasons = ", ".join(
            sorted({escape(redact_text(str(f.get("reason", "")))) for f in failures})
        )
        noun, verb = ("dataset", "is") if len(failures) == 1 else ("datasets", "are")
        yield (
            f"{len(failures)} {noun} could not be read ({reasons}) and {verb} "
            "left out of the counts: fix and audit again."
        )
    for duty in decision.get("pipl_duties") or []:
        yield PIPL_DUTIES.get(duty) or escape(duty)
