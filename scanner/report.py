"""The scan report: versioned JSON for tools, a table for people.

The JSON shape is a contract documented in docs/report-format.md. Adding a
field keeps ``schema_version``; renaming or removing one raises it.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any

import scanner
from scanner.engine import ScanOutcome, display_source, scan_counts
from scanner.errors import UsageError
from scanner.model import DatasetResult

SCHEMA_VERSION = 1


def report_dict(outcome: ScanOutcome) -> dict[str, Any]:
    """Return the JSON-ready report of one scan."""
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "cardex", "version": scanner.__version__},
        "scan": {
            "id": outcome.scan_id,
            "started_at": outcome.started_at,
            "finished_at": outcome.finished_at,
            "status": outcome.status,
            "sources": [display_source(source) for source in outcome.sources],
            "rule_pack_version": outcome.rule_pack_version,
            "sample_size": outcome.sample_size,
            "counts": scan_counts(outcome),
            "resumed_from": outcome.resumed_from,
        },
        "datasets": [dataset_dict(outcome, result) for result in outcome.results],
    }


def dataset_dict(outcome: ScanOutcome, result: DatasetResult) -> dict[str, Any]:
    """Return one dataset of the report, with why it was skipped if it was."""
    data = result.to_dict()
    skipped = outcome.skipped.get(result.uri)
    data["skipped"] = skipped.to_dict() if skipped else None
    return data


def check_report_path(path: str | Path) -> None:
    """Check before a scan that the report can be written to ``path``.

    Raises ``UsageError`` naming the problem, so that a long scan does not
    end in a report that cannot be saved.
    """
    if str(path) == "-":
        return
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"--report {path} is a folder; give a file name")
    if target.exists() and not target.is_file():
        return  # a device or pipe, written through
    folder = target.parent
    if not folder.is_dir():
        raise UsageError(
            f"--report {path}: folder {folder} does not exist; create it first"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"--report {path}: folder {folder} is not writable")


def write_report(outcome: ScanOutcome, path: str | Path) -> None:
    """Write the JSON report to ``path`` (``-`` for standard output).

    A regular file is replaced atomically, so a reader never sees half a
    report.
    """
    text = json.dumps(report_dict(outcome), ensure_ascii=False, indent=2) + "\n"
    if str(path) == "-":
        import sys

        sys.stdout.write(text)
        return
    target = Path(path)
    if target.exists() and not target.is_file():
        # A device or pipe such as /dev/null: write through it, because
        # replacing it with a new file would destroy it.
        with target.open("w", encoding="utf-8") as stream:
            stream.write(text)
        return
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def grade_text(result: DatasetResult) -> str:
    """Return the grade and personal level of a dataset for the summary table."""
    return f"{result.grade}, PI: {result.personal}"


def print_summary(outcome: ScanOutcome, stream: IO[str]) -> None:
    """Print a table of the labels found, then failures, then totals."""
    from rich.console import Console
    from rich.table import Table

    console = Console(file=stream, soft_wrap=False)
    table = Table(title="cardex scan", show_lines=False)
    headings = ("dataset", "grade", "column", "label", "conf.", "evidence", "example")
    for heading in headings:
        if heading == "label":
            # Label ids are what people search for: never cut or fold them.
            table.add_column(heading, no_wrap=True, min_width=24)
        else:
            table.add_column(heading, overflow="fold")

    for result in outcome.results:
        rows = [("(dataset)", label) for label in result.labels] + [
            (column.name, label) for column in result.columns for label in column.labels
        ]
        skipped = outcome.skipped.get(result.uri)
        name = f"{result.name} ({skipped.message})" if skipped else result.name
        for column_name, label in rows:
            evidence = label.evidence
            if evidence.matches and column_name != "(dataset)":
                summary = f"{evidence.matches}/{evidence.non_null} matched"
            else:
                summary = evidence.signals[0] if evidence.signals else evidence.rule_id
            table.add_row(
                name,
                grade_text(result),
                column_name,
                label.id + (" ✔" if label.state == "confirmed" else ""),
                f"{label.confidence:.2f}",
                summary,
                ", ".join(evidence.masked_examples[:2]),
            )
    console.print(table)

    for result in outcome.failed:
        for error in result.errors:
            console.print(
                f"[red]failed[/red] {error.uri}: {error.reason}: {error.message}"
            )
    counts = scan_counts(outcome)
    skipped_text = f" ({counts['skipped']} skipped)" if counts["skipped"] else ""
    console.print(
        f"{counts['datasets']} datasets{skipped_text}, {counts['failed']} failed; "
        f"labels {counts['labels_added']} added, {counts['labels_updated']} updated, "
        f"{counts['labels_removed']} removed; status {outcome.status}"
    )
    if outcome.resumed_from:
        console.print(
            f"resumed scan {outcome.scan_id}, which had stopped {outcome.resumed_from}"
        )
