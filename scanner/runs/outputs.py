"""Files written at the end of a run: metrics, summary and JSON report."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import IO, Any

import scanner
from scanner.runs.config import Outputs
from scanner.runs.metrics import render_metrics, write_atomically
from scanner.runs.result import RunResult, SourceRun
from scanner.runs.summary import render_summary

logger = logging.getLogger(__name__)
REPORT_SCHEMA_VERSION = 1


def report_dict(result: RunResult) -> dict[str, Any]:
    """Return the run report: the run record plus each source's scan report.

    Each source's ``datasets`` is a placeholder string here, which
    ``write_report`` replaces with the entries spooled during the run.
    """
    from scanner.report import report_dict as scan_report

    sources: dict[str, Any] = {}
    for source in result.sources:
        if not _has_entries(source):
            sources[source.name] = None
            continue
        if source.outcome is not None:
            sources[source.name] = scan_report(source.outcome)
        else:
            # Interrupted: no scan summary, but the datasets stored so far.
            sources[source.name] = {"scan": None}
        sources[source.name]["datasets"] = _placeholder(source)
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "tool": {"name": "cardex", "version": scanner.__version__},
        "run": {
            "id": result.run_id,
            "started_at": result.started_at,
            "host": result.host,
            "config_path": result.config_path,
            **result.record(),
            "more_changes": result.more_changes,
            "pushed": result.pushed,
        },
        "sources": sources,
    }


def _has_entries(source: SourceRun) -> bool:
    """Tell whether the report lists datasets for ``source``.

    A source that finished has its scan report; an interrupted one lists
    the datasets stored before the interrupt; a failed source is null.
    """
    return source.outcome is not None or source.status == "interrupted"


def _placeholder(source: SourceRun) -> str:
    return f"\x00datasets of {id(source)}\x00"


def write_report(result: RunResult, handle: IO[str]) -> None:
    """Write the run report as JSON, copying dataset entries from the spools.

    The entries never all sit in memory: a lake of many datasets would
    otherwise hold its whole report until the run ends.
    """
    text = json.dumps(report_dict(result), ensure_ascii=False, indent=2)
    for source in result.sources:
        if not _has_entries(source):
            continue
        before, _, text = text.partition(json.dumps(_placeholder(source)))
        handle.write(before)
        handle.write("[")
        _copy_entries(source, handle)
        handle.write("]")
    handle.write(text + "\n")


def _copy_entries(source: SourceRun, handle: IO[str]) -> None:
    if source.spool is None:
        return
    source.spool.seek(0)
    separator = "\n"
    for line in source.spool:
        handle.write(separator + line.rstrip("\n"))
        separator = ",\n"
    if separator != "\n":
        handle.write("\n")


def write_outputs(result: RunResult, outputs: Outputs) -> list[str]:
    """Write every configured output; return the paths that failed."""
    renderers: list[tuple[Path | None, str | Callable[[IO[str]], None]]] = [
        (outputs.metrics, render_metrics(result)),
        (outputs.summary, render_summary(result)),
        (outputs.report, partial(write_report, result)),
    ]
    failed = []
    for path, content in renderers:
        if path is None:
            continue
        try:
            write_atomically(path, content)
        except OSError as exc:
            logger.error("cannot write %s: %s", path, exc.strerror or exc)
            failed.append(str(path))
    return failed
