"""The scan: find datasets, sample them, classify, store and report.

One dataset that cannot be read never stops the scan (unless the caller asks
for ``on_error="fail"``): it is recorded with its reason and the scan's
status becomes ``partial``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from classifiers.base import Classifier
from classifiers.pipeline import classify_sample
from classifiers.rulepack import RulePack, load_rule_pack
from classifiers.userlists import load_user_lists
from connectors.base import Connector, DiscoveryOptions
from scanner.catalog import CatalogStore, LabelChanges, open_catalog
from scanner.errors import DatasetError, UnknownSourceError
from scanner.grading import grade_result
from scanner.masking import public_url, redact_text
from scanner.model import (
    DatasetFailure,
    DatasetHandle,
    DatasetResult,
    Evidence,
    Label,
)
from scanner.plugins import CLASSIFIERS, CONNECTORS, load_plugins

logger = logging.getLogger(__name__)

OnError = Literal["fail", "skip", "warn"]
Status = Literal["ok", "partial", "failed"]
DEFAULT_SAMPLE_SIZE = 1000


@dataclass
class ScanOptions:
    """Sources and settings of one scan."""

    sources: Sequence[str]
    sample_size: int = DEFAULT_SAMPLE_SIZE
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    timeout: float = 60.0
    rules_path: str | None = None
    on_error: OnError = "warn"
    catalog_url: str | None = None
    use_catalog: bool = True
    #: User lists (docs/user-lists.md): GeoJSON geofences, term lists and
    #: overseas recipients; each None when not given.
    geofences_path: str | None = None
    terms_path: str | None = None
    recipients_path: str | None = None


@dataclass
class ScanOutcome:
    """Everything one scan found, in the order datasets were scanned."""

    sources: Sequence[str]
    rule_pack_version: str
    sample_size: int
    started_at: str
    finished_at: str = ""
    results: list[DatasetResult] = field(default_factory=list)
    changes: LabelChanges = field(default_factory=LabelChanges)
    scan_id: int | None = None
    stopped_early: bool = False

    @property
    def failed(self) -> list[DatasetResult]:
        return [result for result in self.results if result.errors]

    @property
    def status(self) -> Status:
        if self.stopped_early or (
            self.results and len(self.failed) == len(self.results)
        ):
            return "failed"
        return "partial" if self.failed else "ok"


ProgressCallback = Callable[[int, int, str], None]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def resolve_connector(source: str, connectors: Sequence[Connector]) -> Connector:
    """Return the first connector that accepts ``source``."""
    for connector in connectors:
        if connector.accepts(source):
            return connector
    names = ", ".join(connector.name for connector in connectors)
    raise UnknownSourceError(
        f"no connector reads {source!r}: it is not an existing path, a glob that "
        f"matches files, or a database URL such as sqlite:///app.db "
        f"(installed connectors: {names})"
    )


class Scanner:
    """Runs one scan with the installed connectors and classifiers."""

    def __init__(
        self, options: ScanOptions, progress: ProgressCallback | None = None
    ) -> None:
        self.options = options
        self.progress = progress
        self.rules: RulePack = load_rule_pack(options.rules_path)
        self.rules.lists = load_user_lists(
            options.geofences_path, options.terms_path, options.recipients_path
        )
        self.connectors: list[Connector] = [
            cls() for cls in load_plugins(CONNECTORS).values()
        ]
        self.classifiers: list[Classifier] = [
            cls(self.rules) for cls in load_plugins(CLASSIFIERS).values()
        ]
        # Resolve every source before reading anything, so a typo fails fast.
        self.plan = [
            (source, resolve_connector(source, self.connectors))
            for source in options.sources
        ]

    def run(self) -> ScanOutcome:
        options = self.options
        outcome = ScanOutcome(
            sources=options.sources,
            rule_pack_version=self.rules.version,
            sample_size=options.sample_size,
            started_at=_now(),
        )
        catalog = open_catalog(options.catalog_url) if options.use_catalog else None
        try:
            if catalog is not None:
                outcome.scan_id = catalog.begin_scan(
                    [display_source(s) for s in options.sources], self.rules.version
                )
            self._scan_all(outcome, catalog)
            outcome.finished_at = _now()
            if catalog is not None and outcome.scan_id is not None:
                catalog.finish_scan(
                    outcome.scan_id, outcome.status, scan_counts(outcome)
                )
        except KeyboardInterrupt:
            if catalog is not None and outcome.scan_id is not None:
                catalog.finish_scan(
                    outcome.scan_id, "interrupted", scan_counts(outcome)
                )
            raise
        finally:
            if catalog is not None:
                catalog.close()
        return outcome

    def _discover(self) -> Iterator[DatasetHandle | DatasetFailure]:
        discovery = DiscoveryOptions(
            include=self.options.include,
            exclude=self.options.exclude,
            timeout=self.options.timeout,
        )
        seen: set[str] = set()
        for source, connector in self.plan:
            found = 0
            for item in connector.discover(source, discovery):
                found += 1
                # A file named directly and through its folder is scanned once.
                if isinstance(item, DatasetHandle) and item.uri in seen:
                    continue
                seen.add(item.uri)
                yield item
            if found == 0:
                yield DatasetFailure(
                    display_source(source),
                    "empty",
                    f"{display_source(source)} holds no dataset that matches "
                    "--include, --exclude and .cardexignore",
                )

    def _scan_all(self, outcome: ScanOutcome, catalog: CatalogStore | None) -> None:
        found = list(self._discover())
        for done, item in enumerate(found, start=1):
            if isinstance(item, DatasetFailure):
                item = DatasetFailure(
                    printable(item.uri), item.reason, printable(item.message)
                )
                result = DatasetResult(
                    uri=item.uri, name=item.uri.rsplit("/", 1)[-1], kind="file"
                )
                result.errors.append(item)
            else:
                result = self.scan_dataset(item)
            if catalog is not None and outcome.scan_id is not None:
                self._store(catalog, outcome, result)
            # Graded last, so that people's decisions count.
            grade_result(result)
            outcome.results.append(result)
            if self.progress:
                self.progress(done, len(found), result.uri)
            if result.errors:
                self._report_failure(result)
                if self.options.on_error == "fail":
                    outcome.stopped_early = True
                    return

    def _report_failure(self, result: DatasetResult) -> None:
        for error in result.errors:
            if self.options.on_error == "skip":
                logger.info(
                    "skipped %s: %s: %s", error.uri, error.reason, error.message
                )
            else:
                logger.warning(
                    "failed %s: %s: %s", error.uri, error.reason, error.message
                )

    def scan_dataset(self, handle: DatasetHandle) -> DatasetResult:
        """Sample and classify one dataset; errors become part of the result."""
        result = DatasetResult(
            uri=printable(handle.uri), name=printable(handle.name), kind=handle.kind
        )
        started = time.perf_counter()
        try:
            result.fingerprint = handle.fingerprint()
            sample = handle.sample(self.options.sample_size)
            result.format = sample.format
            result.sampled_rows = sample.table.num_rows
            result.total_rows = sample.total_rows
            result.bytes_read = sample.bytes_read
            result.notes.extend(sample.notes)
            result.columns, result.labels = classify_sample(
                sample, self.classifiers, self.rules
            )
        except DatasetError as exc:
            result.errors.append(
                DatasetFailure(result.uri, exc.reason, printable(str(exc)))
            )
        except Exception as exc:  # noqa: BLE001 - one dataset must not stop the scan
            message = printable(redact_text(f"{type(exc).__name__}: {exc}"))
            logger.debug("unexpected error on %s", result.uri)
            result.errors.append(
                DatasetFailure(result.uri, "internal", f"unexpected error: {message}")
            )
        labelled = sum(bool(c.labels) for c in result.columns)
        logger.info(
            "scanned %s: %d rows sampled, %d of %d columns labelled, "
            "%d dataset labels in %.2f s",
            result.uri,
            result.sampled_rows,
            labelled,
            len(result.columns),
            len(result.labels),
            time.perf_counter() - started,
        )
        return result

    def _store(
        self, catalog: CatalogStore, outcome: ScanOutcome, result: DatasetResult
    ) -> None:
        assert outcome.scan_id is not None
        if result.errors:
            for error in result.errors:
                catalog.record_failure(outcome.scan_id, error)
            return
        changes = catalog.record_dataset(outcome.scan_id, result)
        outcome.changes.added += changes.added
        outcome.changes.updated += changes.updated
        outcome.changes.removed += changes.removed
        apply_decisions(result, changes)


def apply_decisions(result: DatasetResult, changes: LabelChanges) -> None:
    """Apply people's decisions to a result.

    Rejected labels are dropped (and named in the notes), confirmed ones are
    marked, and labels a person confirmed that this scan did not find are
    added with confidence 1.
    """
    versions = [label.evidence.rule_pack_version for label in result.labels] + [
        label.evidence.rule_pack_version
        for column in result.columns
        for label in column.labels
    ]
    version = versions[0] if versions else ""

    def merged(found: list[Label], column: str, notes: list[str]) -> list[Label]:
        kept = []
        for label in found:
            decision = changes.decisions.get((column, label.id))
            if decision is None:
                kept.append(label)
            elif decision[0] == "confirmed":
                confirmed = dataclasses.replace(
                    label, state="confirmed", decided_by=decision[1]
                )
                kept.append(confirmed)
            else:
                notes.append(f"{label.id} rejected by {decision[1]}")
        present = {label.id for label in kept}
        for (where, label_id), (state, who, category) in changes.decisions.items():
            if where != column or state != "confirmed" or label_id in present:
                continue
            evidence = Evidence(
                rule_id="person",
                rule_pack_version=version,
                signals=(f"confirmed by {who}",),
            )
            kept.append(
                Label(label_id, category, 1.0, evidence, "confirmed", who)  # type: ignore[arg-type]
            )
        return kept

    result.labels = merged(result.labels, "", result.notes)
    for column in result.columns:
        column.labels = merged(column.labels, column.name, column.notes)


def printable(text: str) -> str:
    """Return ``text`` as valid UTF-8, showing undecodable bytes as escapes.

    File names that are not valid UTF-8 (common in GBK archives unpacked on
    Linux) reach Python with surrogate escapes, which cannot be stored or
    written as UTF-8.
    """
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def scan_counts(outcome: ScanOutcome) -> dict[str, int]:
    return {
        "datasets": len(outcome.results),
        "failed": len(outcome.failed),
        "labels_added": outcome.changes.added,
        "labels_updated": outcome.changes.updated,
        "labels_removed": outcome.changes.removed,
    }


def display_source(source: str) -> str:
    """Return a source without password or secrets, for reports and the catalog."""
    return public_url(source)
