"""The outcome of one run: per-source counts, label changes and the status.

Exit codes of ``cardex run`` (also in docs/scheduling.md):

    0   success: every dataset was scanned or skipped as unchanged
    1   failure: nothing could be scanned, the catalog failed, or
        ``on_error: fail`` stopped the run
    2   usage error: the configuration is invalid
    3   partial: some datasets or sources failed, or a push or an output
        file failed
    75  another run holds the lock; nothing was scanned (EX_TEMPFAIL in
        sysexits.h, "try again later")
    130 interrupted
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scanner.engine import ScanOutcome
    from scanner.model import DatasetFailure
    from scanner.runs.changes import DatasetChanges

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_LOCKED = 75
EXIT_INTERRUPTED = 130


@dataclass
class SourceRun:
    """Counts and status of one source in a run."""

    name: str
    status: str = "ok"
    duration_seconds: float = 0.0
    scanned: int = 0
    skipped: int = 0
    failed: int = 0
    labels_added: int = 0
    labels_updated: int = 0
    labels_removed: int = 0
    scan_id: int | None = None
    message: str | None = None
    failures: list[DatasetFailure] = field(default_factory=list)
    outcome: ScanOutcome | None = None
    #: Datasets read (not skipped, not failed) in this run.
    read_uris: set[str] = field(default_factory=set)
    #: The report entries of the source's datasets, one JSON line each.
    spool: IO[str] | None = None
    #: Writing to the spool failed, so the report cannot be complete.
    spool_failed: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = {
            key: value
            for key, value in self.__dict__.items()
            if key not in ("failures", "outcome", "read_uris", "spool", "spool_failed")
        }
        data["failures"] = [failure.to_dict() for failure in self.failures]
        return data


@dataclass
class RunResult:
    """The outcome of one ``cardex run``."""

    run_id: int
    config_path: str
    host: str
    pid: int
    started_at: str
    finished_at: str = ""
    duration_seconds: float = 0.0
    status: str = "running"
    exit_code: int = EXIT_OK
    sources: list[SourceRun] = field(default_factory=list)
    changes: list[DatasetChanges] = field(default_factory=list)
    #: Datasets with label changes past those listed in ``changes``.
    more_changes: int = 0
    pushed: list[dict[str, str]] = field(default_factory=list)
    message: str | None = None

    def counts(self) -> dict[str, int]:
        totals = {
            "datasets_scanned": 0,
            "datasets_skipped": 0,
            "datasets_failed": 0,
            "labels_added": 0,
            "labels_updated": 0,
            "labels_removed": 0,
        }
        for source in self.sources:
            totals["datasets_scanned"] += source.scanned
            totals["datasets_skipped"] += source.skipped
            totals["datasets_failed"] += source.failed
            totals["labels_added"] += source.labels_added
            totals["labels_updated"] += source.labels_updated
            totals["labels_removed"] += source.labels_removed
        return totals

    def record(self) -> dict[str, Any]:
        """Return the columns of the run record written at the end."""
        return {
            "finished_at": self.finished_at,
            "status": self.status,
            "exit_code": self.exit_code,
            "duration_seconds": round(self.duration_seconds, 3),
            "counts": self.counts(),
            "sources": [source.to_dict() for source in self.sources],
            "changes": [change.to_dict() for change in self.changes],
            "message": self.message,
        }


def decide_status(result: RunResult, on_error: str) -> tuple[str, int]:
    """Return the run status and exit code from its sources and pushes."""
    sources = result.sources
    stopped = any(source.status == "stopped" for source in sources)
    failed_sources = [s for s in sources if s.status == "failed"]
    counts = result.counts()
    problems = counts["datasets_failed"] + len(failed_sources)
    push_failed = any(item["status"] != "ok" for item in result.pushed)
    if stopped and on_error == "fail":
        return "failed", EXIT_FAILURE
    done = counts["datasets_scanned"] + counts["datasets_skipped"]
    if problems and done == 0:
        return "failed", EXIT_FAILURE
    if problems or push_failed:
        return "partial", EXIT_PARTIAL
    return "ok", EXIT_OK
