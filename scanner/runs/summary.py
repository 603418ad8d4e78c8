"""A label-change summary a team can mail out, in Markdown.

It lists, per dataset, the labels the run added and removed and the
decisions people made since the previous run, then the datasets that
failed with their reasons. It names datasets, columns and label ids only;
failure messages were masked where they arose.
"""

from __future__ import annotations

from scanner.runs.result import RunResult


def render_summary(result: RunResult) -> str:
    """Return the Markdown summary of ``result``."""
    counts = result.counts()
    lines = [
        f"# cardex run {result.run_id}: {result.status}",
        "",
        f"Started {result.started_at} on {result.host}, finished "
        f"{result.finished_at or '-'}, {result.duration_seconds:.1f} s, "
        f"exit code {result.exit_code}. Configuration: `{result.config_path}`.",
        "",
        f"Datasets scanned: {counts['datasets_scanned']}, skipped: "
        f"{counts['datasets_skipped']}, failed: {counts['datasets_failed']}. "
        f"Labels added: {counts['labels_added']}, updated: "
        f"{counts['labels_updated']}, removed: {counts['labels_removed']}.",
        "",
        *_source_table(result),
        "",
        "## Label changes",
        "",
        *_change_lines(result),
        *_failure_lines(result),
        *_push_lines(result),
    ]
    return "\n".join(lines).rstrip() + "\n"


def _source_table(result: RunResult) -> list[str]:
    lines = [
        "| source | status | scanned | skipped | failed | seconds |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for source in result.sources:
        lines.append(
            f"| {source.name} | {source.status} | {source.scanned} | "
            f"{source.skipped} | {source.failed} | {source.duration_seconds:.1f} |"
        )
    for source in result.sources:
        if source.message:
            lines.append(f"\n{source.name}: {source.message}")
    return lines


def _change_lines(result: RunResult) -> list[str]:
    if not result.changes:
        return ["No labels changed.", ""]
    lines = []
    for change in result.changes:
        lines.append(f"### `{change.uri}`")
        lines.append("")
        for title, items in (
            ("added", change.added),
            ("removed", change.removed),
            ("decided", change.decided),
        ):
            lines.extend(f"- {title}: `{item}`" for item in items)
        lines.append("")
    if result.more_changes:
        lines.append(
            f"... and {result.more_changes:,} more datasets with label changes; "
            "see `cardex catalog list`."
        )
        lines.append("")
    return lines


def _failure_lines(result: RunResult) -> list[str]:
    failures = [failure for source in result.sources for failure in source.failures]
    if not failures:
        return []
    lines = ["## Failed datasets", ""]
    for failure in failures:
        lines.append(f"- `{failure.uri}`: {failure.reason}: {failure.message}")
    return [*lines, ""]


def _push_lines(result: RunResult) -> list[str]:
    if not result.pushed:
        return []
    lines = ["## Catalog pushes", ""]
    for item in result.pushed:
        message = f": {item['message']}" if item.get("message") else ""
        lines.append(f"- {item['target']}: {item['status']}{message}")
    return [*lines, ""]
