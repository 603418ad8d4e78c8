"""The scan: find datasets, sample them, classify, store and report.

One dataset that cannot be read never stops the scan (unless the caller asks
for ``on_error="fail"``): it is recorded with its reason and the scan's
status becomes ``partial``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

import scanner
from classifiers.base import Classifier
from classifiers.pipeline import classify_sample
from classifiers.rulepack import DEFAULT_PACK, RulePack, load_rule_pack
from classifiers.userlists import load_user_lists
from connectors.base import Connector, DiscoveryOptions
from scanner.catalog import (
    CatalogStore,
    LabelChanges,
    StoredDataset,
    StoredDatasets,
    UnfinishedScan,
    open_catalog,
)
from scanner.errors import DatasetError, UnknownSourceError, UsageError
from scanner.full import (
    DEFAULT_CHUNK_ROWS,
    MAX_CHUNK_ROWS,
    classify_file,
    finish_full_scan,
    full_files,
)
from scanner.grading import grade_result
from scanner.masking import public_url, redact_text
from scanner.model import (
    DatasetFailure,
    DatasetHandle,
    DatasetResult,
    Evidence,
    Fingerprint,
    Label,
)
from scanner.pipeline import ReadAhead, ordered_map
from scanner.plugins import CLASSIFIERS, CONNECTORS, load_plugins

logger = logging.getLogger(__name__)

OnError = Literal["fail", "skip", "warn"]
Status = Literal["ok", "partial", "failed"]
SkipReason = Literal["unchanged", "resumed"]
DEFAULT_SAMPLE_SIZE = 1000
# Datasets sampled and classified at once. Threads overlap waiting for
# storage and databases, and pyarrow releases the GIL while it parses.
# NOTE: on local files and 2 cores, 4 threads measured no faster than 1
# (docs/benchmarks.md), because classification mostly holds the GIL.
DEFAULT_CONCURRENCY = 4
# Datasets listed ahead of the scan. Listing pauses beyond this many, and a
# listed dataset is a small handle, not a sample.
DISCOVERY_AHEAD = 100_000
# Skipped datasets are loaded from the catalog and marked seen in batches of
# up to this many.
SKIPPED_BATCH = 200


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
    #: Skip datasets whose fingerprint and settings hash match the catalog.
    changed_only: bool = False
    #: Continue the last scan of the same sources if it stopped unfinished.
    resume: bool = False
    #: Datasets sampled and classified at once (1: one after another).
    concurrency: int = DEFAULT_CONCURRENCY
    #: S3 endpoint for s3:// sources; None reads it from AWS_* settings.
    endpoint_url: str | None = None
    #: Keep every result in ``ScanOutcome.results``. Without, only failed
    #: ones are kept, so memory does not grow with the number of datasets.
    #: ``Scanner.on_result`` receives each result as it is stored.
    keep_results: bool = True
    #: Classify every row of columnar files in chunks instead of a sample.
    full: bool = False
    #: Rows per chunk in a full scan.
    chunk_rows: int = DEFAULT_CHUNK_ROWS

    def check(self) -> None:
        """Raise ``UsageError`` for settings that contradict each other."""
        if self.concurrency < 1:
            raise UsageError(f"concurrency must be at least 1, not {self.concurrency}")
        if not 1 <= self.chunk_rows <= MAX_CHUNK_ROWS:
            raise UsageError(
                f"chunk rows must be between 1 and {MAX_CHUNK_ROWS:,}, "
                f"not {self.chunk_rows}"
            )
        if not self.use_catalog and (self.changed_only or self.resume):
            option = "--changed-only" if self.changed_only else "--resume"
            raise UsageError(
                f"{option} compares with the catalog, so it cannot be combined "
                "with --no-catalog"
            )


@dataclass(frozen=True)
class Skipped:
    """The reason a dataset was not read again, and the scan that last read it."""

    reason: SkipReason
    since_scan: int | None

    @property
    def message(self) -> str:
        if self.reason == "unchanged":
            return f"skipped: unchanged since scan {self.since_scan}"
        return f"skipped: scanned by scan {self.since_scan} before it stopped"

    def to_dict(self) -> dict[str, object]:
        return {
            "reason": self.reason,
            "since_scan": self.since_scan,
            "message": self.message,
        }


@dataclass
class ScanOutcome:
    """Everything one scan found, in the order datasets were found.

    Skipped datasets are among ``results`` as the catalog stores them, and
    ``skipped`` maps their URIs to the reason. Without
    ``ScanOptions.keep_results``, ``results`` stays empty and ``done`` and
    ``failed`` tell how the scan went.
    """

    sources: Sequence[str]
    rule_pack_version: str
    sample_size: int
    started_at: str
    finished_at: str = ""
    results: list[DatasetResult] = field(default_factory=list)
    changes: LabelChanges = field(default_factory=LabelChanges)
    scan_id: int | None = None
    stopped_early: bool = False
    skipped: dict[str, Skipped] = field(default_factory=dict)
    #: The status the scan had when this run took it over, if it resumed one.
    resumed_from: str | None = None
    #: Datasets stored or skipped so far, failures included.
    done: int = 0
    #: The results with errors, skipped ones included.
    failed: list[DatasetResult] = field(default_factory=list)

    @property
    def status(self) -> Status:
        if self.stopped_early or (self.done and len(self.failed) == self.done):
            return "failed"
        return "partial" if self.failed else "ok"


# Called after each dataset with (datasets done, total or None while
# datasets are still being listed, URI).
ProgressCallback = Callable[[int, int | None, str], None]


@dataclass
class _Processed:
    """A dataset's result, or why it was skipped, from a worker thread."""

    uri: str
    result: DatasetResult | None = None
    skipped: Skipped | None = None


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
        options.check()
        self.options = options
        self.progress = progress
        #: Called with each result as it is stored or skipped, in order.
        self.on_result: Callable[[DatasetResult, Skipped | None], None] | None = None
        self.rules: RulePack = load_rule_pack(options.rules_path)
        self.rules.lists = load_user_lists(
            options.geofences_path, options.terms_path, options.recipients_path
        )
        self.connectors: list[Connector] = [
            cls() for cls in load_plugins(CONNECTORS).values()
        ]
        classifier_plugins = load_plugins(CLASSIFIERS)
        self.classifiers: list[Classifier] = [
            cls(self.rules) for cls in classifier_plugins.values()
        ]
        self.settings_hash = settings_hash(
            options, self.rules.version, sorted(classifier_plugins)
        )
        # Resolve every source before reading anything, so a typo fails fast.
        self.plan = [
            (source, resolve_connector(source, self.connectors))
            for source in options.sources
        ]
        self._stored: StoredDatasets | None = None
        self._done_before: dict[str, int] = {}

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
                self._begin(catalog, outcome)
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
            if self._stored is not None:
                self._stored.close()
                self._stored = None
        return outcome

    def _begin(self, catalog: CatalogStore, outcome: ScanOutcome) -> None:
        """Begin a scan, or take over an unfinished one with ``--resume``."""
        sources = [display_source(s) for s in self.options.sources]
        resumed: UnfinishedScan | None = None
        if self.options.resume:
            resumed = catalog.resume_scan(sources, self.settings_hash)
            if resumed is None:
                logger.info("no unfinished scan of these sources; starting a new one")
        if resumed is None:
            outcome.scan_id = catalog.begin_scan(
                sources, self.rules.version, self.settings_hash
            )
        else:
            outcome.scan_id = resumed.id
            outcome.resumed_from = resumed.status

        if self.options.changed_only or resumed is not None:
            self._stored = catalog.stored_datasets()
        if resumed is not None and self._stored is not None:
            self._done_before = dict.fromkeys(
                self._stored.seen_in(resumed.id), resumed.id
            )

    def _discover(self) -> Iterator[DatasetHandle | DatasetFailure]:
        discovery = DiscoveryOptions(
            include=self.options.include,
            exclude=self.options.exclude,
            timeout=self.options.timeout,
            endpoint_url=self.options.endpoint_url,
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
        """Scan every dataset found, storing results in the order found.

        Workers sample and classify, and this thread alone writes the
        catalog. Skipped datasets are collected in batches, each ending
        before the next dataset that was read.
        """
        listing = ReadAhead(self._discover(), DISCOVERY_AHEAD)
        processed = ordered_map(self._process, listing, self.options.concurrency)
        batch: list[_Processed] = []
        try:
            for item in processed:
                batch.append(item)
                if item.skipped is None or len(batch) >= SKIPPED_BATCH:
                    if not self._collect_batch(outcome, catalog, batch, listing):
                        return
                    batch = []
            self._collect_batch(outcome, catalog, batch, listing)
        finally:
            processed.close()
            listing.close()

    def _collect_batch(
        self,
        outcome: ScanOutcome,
        catalog: CatalogStore | None,
        batch: list[_Processed],
        listing: ReadAhead[DatasetHandle | DatasetFailure],
    ) -> bool:
        """Store a batch of processed datasets in order.

        Returns False when ``--on-error fail`` stops the scan.
        """
        reasons = {item.uri: item.skipped.reason for item in batch if item.skipped}
        stored: dict[str, DatasetResult] = {}
        if reasons:
            assert catalog is not None and outcome.scan_id is not None
            stored = catalog.load_results(list(reasons))
            unchanged = [uri for uri, why in reasons.items() if why == "unchanged"]
            catalog.mark_seen(outcome.scan_id, unchanged)

        for item in batch:
            result = self._collect(outcome, catalog, item, stored)
            if self.progress:
                self.progress(outcome.done, listing.total, result.uri)
            if result.errors and item.skipped is None:
                self._report_failure(result)
                if self.options.on_error == "fail":
                    outcome.stopped_early = True
                    return False
        return True

    def _process(self, item: DatasetHandle | DatasetFailure) -> _Processed:
        """Scan one dataset, or decide to skip it, in a worker thread."""
        if isinstance(item, DatasetFailure):
            return _Processed(printable(item.uri), result=failure_result(item))

        uri = printable(item.uri)
        if uri in self._done_before:
            return _Processed(uri, skipped=Skipped("resumed", self._done_before[uri]))
        stored = self._stored.get(uri) if self._stored is not None else None
        if not self.options.changed_only or stored is None:
            return _Processed(uri, result=self.scan_dataset(item))

        fingerprint = read_fingerprint(item)
        if is_unchanged(stored, fingerprint, self.settings_hash):
            logger.info("skipped %s: unchanged since scan %s", uri, stored.last_scan_id)
            return _Processed(uri, skipped=Skipped("unchanged", stored.last_scan_id))
        # The fingerprint is read again before sampling, as in a full scan.
        return _Processed(uri, result=self.scan_dataset(item))

    def _collect(
        self,
        outcome: ScanOutcome,
        catalog: CatalogStore | None,
        item: _Processed,
        stored: dict[str, DatasetResult],
    ) -> DatasetResult:
        """Store one processed dataset and add it to the outcome.

        ``stored`` contains the catalog's results of the skipped datasets.
        """
        if item.skipped is not None:
            if item.uri not in stored:
                raise AssertionError(f"{item.uri} was skipped but is not stored")
            result = stored[item.uri]
            outcome.skipped[item.uri] = item.skipped
        else:
            assert item.result is not None
            result = item.result
            if catalog is not None and outcome.scan_id is not None:
                self._store(catalog, outcome, result)
        # Graded last, so that people's decisions count.
        grade_result(result)
        outcome.done += 1
        if result.errors:
            outcome.failed.append(result)
        if self.options.keep_results:
            outcome.results.append(result)
        if self.on_result is not None:
            self.on_result(result, item.skipped)
        return result

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
            if self.options.full:
                self.scan_whole(handle, result)
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

    def scan_whole(self, handle: DatasetHandle, result: DatasetResult) -> None:
        """Classify every row of ``handle``'s files, replacing the sample's labels.

        ``result`` contains the sampled classification, whose format decides
        whether the files can be read whole.
        """
        files = full_files(handle, result)
        if files is None:
            return
        parts = [
            classify_file(
                item,
                files,
                result.format,
                self.options.chunk_rows,
                self.classifiers,
                self.rules,
            )
            for item in files.files
        ]
        finish_full_scan(result, parts)

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


def failure_result(failure: DatasetFailure) -> DatasetResult:
    """Return the result of a dataset or source that discovery could not list."""
    failure = DatasetFailure(
        printable(failure.uri), failure.reason, printable(failure.message)
    )
    result = DatasetResult(
        uri=failure.uri, name=failure.uri.rsplit("/", 1)[-1], kind="file"
    )
    result.errors.append(failure)
    return result


def settings_hash(
    options: ScanOptions, rule_pack_version: str, classifiers: Sequence[str]
) -> str:
    """Return a hash of everything besides the data that decides the labels.

    It covers the cardex version, the installed classifiers, the sample size,
    and the bytes of the shipped rule pack, the ``--rules`` file and the user
    lists. A changed hash makes ``--changed-only`` classify every dataset again.
    """
    digest = hashlib.sha256()
    settings = {
        "cardex": scanner.__version__,
        "rule_pack_version": rule_pack_version,
        "classifiers": list(classifiers),
        "sample_size": options.sample_size,
    }
    if options.full:
        # Only full scans carry these, so sampled scans keep their old hash.
        settings["full_chunk_rows"] = options.chunk_rows
    digest.update(json.dumps(settings, sort_keys=True).encode())
    shipped = resources.files("classifiers.rules").joinpath(DEFAULT_PACK)
    digest.update(b"\0pack\0" + shipped.read_bytes())
    user_files = {
        "rules": options.rules_path,
        "geofences": options.geofences_path,
        "terms": options.terms_path,
        "recipients": options.recipients_path,
    }
    for name, path in user_files.items():
        digest.update(f"\0{name}\0".encode())
        if path is not None:
            digest.update(Path(path).read_bytes())
    return digest.hexdigest()


def read_fingerprint(handle: DatasetHandle) -> Fingerprint:
    """Return the handle's fingerprint, or an empty one if it cannot be read."""
    try:
        return handle.fingerprint()
    except Exception as exc:  # noqa: BLE001 - the dataset is then scanned again
        logger.debug(
            "fingerprint of %s failed: %s", printable(handle.uri), type(exc).__name__
        )
        return Fingerprint()


def is_unchanged(
    stored: StoredDataset, fingerprint: Fingerprint, settings: str
) -> bool:
    """Tell whether a dataset may keep the labels the catalog has for it.

    It may when its last scan succeeded with the same settings hash and its
    fingerprint is equal and describes the content. A fingerprint
    with only a schema hash (as a view has) never does, so such datasets are
    always classified again.
    """
    content = (
        fingerprint.size,
        fingerprint.modified,
        fingerprint.etag,
        fingerprint.snapshot,
    )
    if all(value is None for value in content):
        return False
    # A JSON round trip, so that floats and tuples compare as the catalog stores them.
    current = json.loads(json.dumps(fingerprint.to_dict()))
    return (
        not stored.failed
        and stored.last_scan_id is not None
        and stored.settings_hash == settings
        and stored.fingerprint == current
    )


def printable(text: str) -> str:
    """Return ``text`` as valid UTF-8, showing undecodable bytes as escapes.

    File names that are not valid UTF-8 (common in GBK archives unpacked on
    Linux) reach Python with surrogate escapes, which cannot be stored or
    written as UTF-8.
    """
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def scan_counts(outcome: ScanOutcome) -> dict[str, int]:
    return {
        "datasets": outcome.done,
        "failed": len(outcome.failed),
        "labels_added": outcome.changes.added,
        "labels_updated": outcome.changes.updated,
        "labels_removed": outcome.changes.removed,
        "skipped": len(outcome.skipped),
    }


def display_source(source: str) -> str:
    """Return a source without password or secrets, for reports and the catalog."""
    return public_url(source)
