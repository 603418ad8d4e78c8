"""The last run's metrics in the Prometheus text exposition format.

The file suits node_exporter's textfile collector: it is written to a
temporary file in the same folder and renamed over the old one, so a
scrape never reads half a file. Labels carry source names from the
configuration, never URLs or sampled values.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from scanner.runs.result import RunResult

STATUSES = ("ok", "partial", "failed", "interrupted")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    """Render a sample value without losing digits (timestamps need 13)."""
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _timestamp(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


class _Family:
    """One metric family: HELP, TYPE and its samples."""

    def __init__(self, name: str, help_text: str, kind: str = "gauge") -> None:
        self.lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        self.name = name

    def add(self, value: float, **labels: str) -> None:
        rendered = ",".join(f'{key}="{_escape(v)}"' for key, v in labels.items())
        selector = f"{{{rendered}}}" if rendered else ""
        self.lines.append(f"{self.name}{selector} {_number(value)}")


def render_metrics(result: RunResult) -> str:
    """Return the metrics of ``result`` as Prometheus text."""
    families = [
        _run_families(result),
        _count_families(result),
        _source_families(result),
    ]
    lines = [line for group in families for family in group for line in family.lines]
    return "\n".join(lines) + "\n"


def _run_families(result: RunResult) -> list[_Family]:
    duration = _Family("cardex_run_duration_seconds", "Duration of the last run.")
    duration.add(round(result.duration_seconds, 3))
    finished = _Family(
        "cardex_run_finished_timestamp_seconds",
        "Unix time at which the last run finished.",
    )
    finished.add(_timestamp(result.finished_at or result.started_at))
    status = _Family(
        "cardex_run_status", "1 for the status of the last run, 0 for the others."
    )
    for name in STATUSES:
        status.add(1 if result.status == name else 0, status=name)
    code = _Family("cardex_run_exit_code", "Exit code of the last run.")
    code.add(result.exit_code)
    run_id = _Family("cardex_run_id", "Id of the last run in the run records.")
    run_id.add(result.run_id)
    return [duration, finished, status, code, run_id]


def _count_families(result: RunResult) -> list[_Family]:
    counts = result.counts()
    datasets = _Family("cardex_run_datasets", "Datasets of the last run by outcome.")
    for state in ("scanned", "skipped", "failed"):
        datasets.add(counts[f"datasets_{state}"], outcome=state)
    labels = _Family(
        "cardex_run_label_changes", "Label changes the last run made, by kind."
    )
    for change in ("added", "updated", "removed"):
        labels.add(counts[f"labels_{change}"], change=change)
    return [datasets, labels]


def _source_families(result: RunResult) -> list[_Family]:
    duration = _Family(
        "cardex_source_duration_seconds", "Duration of each source in the last run."
    )
    datasets = _Family(
        "cardex_source_datasets", "Datasets of each source in the last run by outcome."
    )
    up = _Family(
        "cardex_source_up", "1 when the source could be scanned in the last run."
    )
    for source in result.sources:
        duration.add(source.duration_seconds, source=source.name)
        datasets.add(source.scanned, source=source.name, outcome="scanned")
        datasets.add(source.skipped, source=source.name, outcome="skipped")
        datasets.add(source.failed, source=source.name, outcome="failed")
        up.add(0 if source.status == "failed" else 1, source=source.name)
    return [duration, datasets, up]


def write_atomically(path: Path, text: str | Callable[[IO[str]], None]) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename.

    ``text`` may be a function that writes the content to the open file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            if isinstance(text, str):
                handle.write(text)
            else:
                text(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_metrics(result: RunResult, path: Path) -> None:
    """Write the metrics of ``result`` to ``path`` atomically."""
    write_atomically(path, render_metrics(result))
