"""Files written at the end of a run: metrics, summary and JSON report."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import scanner
from scanner.runs.config import Outputs
from scanner.runs.metrics import render_metrics, write_atomically
from scanner.runs.result import RunResult
from scanner.runs.summary import render_summary

logger = logging.getLogger(__name__)
REPORT_SCHEMA_VERSION = 1


def report_dict(result: RunResult) -> dict[str, Any]:
    """Return the run report: the run record plus each source's scan report."""
    from scanner.report import report_dict as scan_report

    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "tool": {"name": "cardex", "version": scanner.__version__},
        "run": {
            "id": result.run_id,
            "started_at": result.started_at,
            "host": result.host,
            "config_path": result.config_path,
            **result.record(),
            "pushed": result.pushed,
        },
        "sources": {
            source.name: scan_report(source.outcome) if source.outcome else None
            for source in result.sources
        },
    }


def _render_report(result: RunResult) -> str:
    return json.dumps(report_dict(result), ensure_ascii=False, indent=2) + "\n"


def write_outputs(result: RunResult, outputs: Outputs) -> list[str]:
    """Write every configured output; return the paths that failed."""
    renderers: list[tuple[Path | None, Callable[[RunResult], str]]] = [
        (outputs.metrics, render_metrics),
        (outputs.summary, render_summary),
        (outputs.report, _render_report),
    ]
    failed = []
    for path, render in renderers:
        if path is None:
            continue
        try:
            write_atomically(path, render(result))
        except OSError as exc:
            logger.error("cannot write %s: %s", path, exc.strerror or exc)
            failed.append(str(path))
    return failed
