"""Run an export audit: scan, count people, add the year, decide the route.

``run_audit`` first runs the normal scan, so labels, people's decisions and
the catalog are the same as for ``cardex scan``. Then it reads the
subject-key columns of every personal dataset in full and counts distinct
people in DuckDB. It adds the people this processor already exported this
calendar year, from the ledger, and applies the route table.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

import duckdb
import pyarrow as pa
import pyarrow.fs as pafs

from connectors.files.handles import FileDataset, PartitionedDataset
from connectors.sql import SqlTableHandle
from scanner.audit.context import COVERING_CODES, TransferContext
from scanner.audit.counting import KeySet, PeopleCounter, TransferCount
from scanner.audit.ledger import BATCH_ROWS, Ledger
from scanner.audit.model import (
    AuditedDataset,
    AuditResult,
    Counts,
    ImportantItem,
    LabelHit,
    PeopleCount,
    SubjectKey,
)
from scanner.audit.readers import (
    KeyColumns,
    SqlTable,
    count_file_rows,
    count_sql_rows,
    find_sql_source,
    open_file_keys,
    open_sql_keys,
    watched,
)
from scanner.audit.route import (
    PERSONAL_ASSESSMENT,
    PERSONAL_CONTRACT,
    SENSITIVE_ASSESSMENT,
    THRESHOLDS,
    RouteInputs,
    decide,
)
from scanner.audit.subjects import ChosenKey, choose_keys, masked_keys
from scanner.engine import Scanner, ScanOptions, ScanOutcome
from scanner.errors import CardexError, DatasetError, UsageError
from scanner.full import whole_files
from scanner.masking import mask_value, redact_text
from scanner.model import DatasetFailure, DatasetHandle, DatasetResult

logger = logging.getLogger(__name__)

# Exit codes of ``cardex audit``, one per route, plus the error codes.
EXIT_ROUTE = {
    "exempt": 0,
    "contract_or_certification": 10,
    "security_assessment": 11,
    "manual_review": 12,
}
EXIT_PARTIAL = 1
EXIT_USAGE = 2
EXIT_ERROR = 3

# Errors that make one dataset uncountable; anything else is a bug.
_READ_ERRORS = (DatasetError, OSError, pa.ArrowException, duckdb.Error, UnicodeError)


class AuditError(CardexError):
    """The audit could not finish: counting or the ledger failed."""


@dataclass
class AuditOptions:
    """The sources, transfer context and counting settings of one audit."""

    scan: ScanOptions
    context: TransferContext
    approximate: bool = False
    record: bool = False
    #: Today's date, which picks the calendar year; None for the real clock.
    today: dt.date | None = None
    #: Folder for DuckDB's spill files; None for the system temp folder.
    temp_dir: str | None = None
    memory_limit: str | None = None


class _HandleKeepingScanner(Scanner):
    """A scanner that keeps each dataset's handle, to read it whole later."""

    def __init__(self, options: ScanOptions) -> None:
        super().__init__(options)
        self.handles: dict[str, DatasetHandle] = {}

    def scan_dataset(self, handle: DatasetHandle) -> DatasetResult:
        result = super().scan_dataset(handle)
        self.handles[result.uri] = handle
        return result


@dataclass
class _Dataset:
    """A scanned dataset on its way through the audit."""

    result: DatasetResult
    handle: DatasetHandle | None
    audited: AuditedDataset
    key: ChosenKey | None = None
    covered: bool = False


@dataclass
class _Plan:
    datasets: list[_Dataset] = field(default_factory=list)
    failures: list[DatasetFailure] = field(default_factory=list)


def run_audit(options: AuditOptions) -> AuditResult:
    """Audit the sources of ``options`` and return the result.

    Raises ``UsageError`` for invalid options and ``AuditError`` (or
    ``CatalogError``) when counting or the ledger fails.
    """
    scanner = _HandleKeepingScanner(options.scan)
    outcome = scanner.run()
    plan = _plan(outcome, scanner.handles, options.context)
    today = options.today or dt.datetime.now(dt.UTC).date()

    ledger = Ledger(options.scan.catalog_url)
    try:
        with PeopleCounter(options.temp_dir, options.memory_limit) as counter:
            counts, unkeyed = _count(plan, options, counter, ledger, today.year)
            result = _result(outcome, plan, options.context, counts)
            if options.record:
                result.recorded_transfer_id = _record(
                    result, options, counter, ledger, unkeyed
                )
    finally:
        ledger.close()
    return result


# -- planning -----------------------------------------------------------------


def _plan(
    outcome: ScanOutcome,
    handles: dict[str, DatasetHandle],
    context: TransferContext,
) -> _Plan:
    plan = _Plan()
    readable = [result for result in outcome.results if not result.errors]
    keys = choose_keys(readable)
    for result in outcome.results:
        for error in result.errors:
            plan.failures.append(DatasetFailure(error.uri, error.reason, error.message))
        if result.errors:
            continue
        audited = _audited(result)
        dataset = _Dataset(
            result, handles.get(result.uri), audited, keys.get(result.uri)
        )
        exemption = _covering_exemption(result, context)
        if exemption:
            dataset.covered = True
            audited.exempted_by = exemption
        if dataset.key and result.personal != "none":
            audited.subject_keys = [
                SubjectKey(column, dataset.key.key_type, result.personal == "sensitive")
                for column in dataset.key.columns
            ]
        plan.datasets.append(dataset)
    return plan


def _audited(result: DatasetResult) -> AuditedDataset:
    hits = [
        LabelHit(
            label.id,
            column.name,
            label.confidence,
            mask_value(label.evidence.masked_examples[0])
            if label.evidence.masked_examples
            else "",
        )
        for column in result.columns
        for label in column.labels
        if label.category in ("personal", "sensitive_personal")
    ]
    return AuditedDataset(
        uri=result.uri,
        name=result.name,
        kind=result.kind,
        grade=result.grade,
        personal=result.personal,
        rows=result.total_rows,
        labels=hits,
    )


def _covering_exemption(result: DatasetResult, context: TransferContext) -> str | None:
    """Return the contract, HR or emergency claim covering the dataset, if any."""
    for code in COVERING_CODES:
        claim = context.exemption(code)
        if claim and any(_matches(result, pattern) for pattern in claim.facts.datasets):
            return code
    return None


def _matches(result: DatasetResult, pattern: str) -> bool:
    return (
        result.uri == pattern
        or result.name == pattern
        or fnmatch.fnmatchcase(result.uri, pattern)
        or fnmatch.fnmatchcase(result.uri, "*/" + pattern.lstrip("/"))
    )


# -- counting -----------------------------------------------------------------


def _count(
    plan: _Plan,
    options: AuditOptions,
    counter: PeopleCounter,
    ledger: Ledger,
    year: int,
) -> tuple[Counts, tuple[PeopleCount, PeopleCount]]:
    """Count this transfer and the year; return the counts and the unkeyed people.

    The unkeyed pair is (counted, dropped by exemption).
    """
    unkeyed, unkeyed_dropped = _count_unkeyed(plan, options.scan.sources)
    processor = options.context.processor
    recorded_unkeyed = ledger.year_unkeyed(processor, year)
    recorded = counter.load_ledger(ledger.year_hashes(processor, year))
    already = recorded + recorded_unkeyed

    # Hashes are needed only to match people against the ledger.
    hashing = options.record or ledger.has_year(processor, year)
    transfer = None
    if options.approximate and not options.record:
        transfer = _counted(plan, options, counter, approximate=True)
        if _straddles(transfer.counted + unkeyed, already, transfer.error_bound or 0):
            logger.info("approximate count is near a threshold; counting exactly")
            transfer = None
    if transfer is None:
        transfer = _counted(plan, options, counter, keep_people=hashing)

    this_transfer = transfer.counted + unkeyed
    if transfer.method == "approximate":
        # Without hashes the overlap with the ledger is unknown; the sum is
        # the upper end, and _straddles made sure no threshold lies between.
        year_total = this_transfer + already
    elif hashing:
        counter.hash_people(ledger.salt())
        year_total = counter.year_total() + recorded_unkeyed + unkeyed
    else:
        year_total = this_transfer

    for dataset in plan.datasets:
        people = transfer.per_dataset.get(dataset.result.uri)
        if people is not None:
            dataset.audited.people_method = "subject_key"
            dataset.audited.people = _by_sensitivity(dataset, people)
    counts = Counts(
        method=transfer.method,  # type: ignore[arg-type]
        error_bound=transfer.error_bound,
        this_transfer=this_transfer,
        already_this_year=already,
        year_total=year_total,
        dropped_by_exemption=transfer.dropped + unkeyed_dropped,
        year=year,
    )
    return counts, (unkeyed, unkeyed_dropped)


def _by_sensitivity(dataset: _Dataset, people: int) -> PeopleCount:
    if dataset.result.personal == "sensitive":
        return PeopleCount(0, people)
    return PeopleCount(people, 0)


def _counted(
    plan: _Plan,
    options: AuditOptions,
    counter: PeopleCounter,
    approximate: bool = False,
    keep_people: bool = True,
) -> TransferCount:
    # A dataset that fails while DuckDB reads it is set aside and the count
    # runs again without it: DuckDB reads every dataset in one query, and
    # the readers are spent.
    failed: dict[str, BaseException] = {}
    while True:
        keysets = _keysets(plan, options.scan, failed)
        try:
            if approximate:
                return counter.count_approximate(keysets)
            return counter.count_exact(keysets, keep_people)
        except _READ_ERRORS as exc:
            if not failed:
                raise AuditError(
                    f"counting people failed: {redact_text(str(exc))}; exclude "
                    "the dataset with --exclude or repair it, then audit again"
                ) from exc
        for dataset in plan.datasets:
            if dataset.result.uri in failed:
                _uncountable(plan, dataset, failed[dataset.result.uri])
        failed.clear()


def _keysets(
    plan: _Plan, scan: ScanOptions, failed: dict[str, BaseException]
) -> list[KeySet]:
    """Open the keys of every countable dataset.

    A read error while counting is recorded in ``failed`` by dataset URI.
    """
    keysets = []
    for dataset in plan.datasets:
        if dataset.key is None or dataset.result.personal == "none":
            continue
        if dataset.audited.people_method == "failed":
            continue
        try:
            sources = _open_keys(dataset, dataset.key.columns, scan)
        except _READ_ERRORS as exc:
            _uncountable(plan, dataset, exc)
            continue
        uri = dataset.result.uri
        keysets.append(
            KeySet(
                uri=uri,
                key_type=dataset.key.key_type,
                sources=[
                    watched(source, partial(failed.setdefault, uri))
                    for source in sources
                ],
                sensitive=dataset.result.personal == "sensitive",
                covered=dataset.covered,
            )
        )
    return keysets


def _uncountable(plan: _Plan, dataset: _Dataset, exc: BaseException) -> None:
    message = redact_text(str(exc))
    dataset.audited.people_method = "failed"
    if not any(f.uri == dataset.result.uri for f in plan.failures):
        plan.failures.append(
            DatasetFailure(
                dataset.result.uri, "uncounted", f"people not counted: {message}"
            )
        )
    logger.warning("could not count people in %s: %s", dataset.result.uri, message)


def _open_keys(
    dataset: _Dataset, columns: Sequence[str], scan: ScanOptions
) -> list[KeyColumns]:
    handle = dataset.handle
    result = dataset.result
    stored = _store_files(handle)
    if stored is not None:
        filesystem, paths = stored
        return [
            open_file_keys(path, result.format, columns, filesystem=filesystem)
            for path in paths
        ]
    if isinstance(handle, FileDataset):
        return [open_file_keys(handle.uri, result.format, columns)]
    if isinstance(handle, PartitionedDataset):
        if is_part_file_set(handle):
            return [
                open_file_keys(item.path, result.format, columns)
                for item in handle.files
            ]
        return [open_file_keys(handle.uri, result.format, columns, partitioned=True)]
    if isinstance(handle, SqlTableHandle):
        return open_sql_keys(_sql_table(handle, scan), columns)
    raise DatasetError(f"cannot read {result.kind} datasets whole to count people")


def _store_files(
    handle: DatasetHandle | None,
) -> tuple[pafs.FileSystem, list[str]] | None:
    """Return the object-store filesystem and file paths of ``handle``.

    ``None`` for datasets on the local disk or in databases. The files of a
    set are read one by one, so partition values in folder names are not
    read: a subject key that is a partition column is not found.
    """
    files = whole_files(handle) if handle is not None else None
    if files is None or files.filesystem is None:
        return None
    return files.filesystem, [item.path for item in files.files]


def is_part_file_set(handle: PartitionedDataset) -> bool:
    """Tell a set of part files of one table from a Hive-partitioned folder.

    A part-file set is named by a pattern such as ``/data/part-#.csv``, which
    is no folder, and its files carry no partition values.
    """
    return not os.path.isdir(handle.uri) and all(
        not item.partition for item in handle.files
    )


def _sql_table(handle: SqlTableHandle, scan: ScanOptions) -> SqlTable:
    source = find_sql_source(handle.uri, scan.sources, handle.relation)
    if source is None:
        raise DatasetError(f"no source URL found for {handle.uri}")
    return SqlTable(source, handle.relation.schema, handle.relation.name, scan.timeout)


def _count_unkeyed(
    plan: _Plan, sources: Sequence[str]
) -> tuple[PeopleCount, PeopleCount]:
    """Count rows as people in personal datasets that have no subject key."""
    counted = PeopleCount()
    dropped = PeopleCount()
    for dataset in plan.datasets:
        if dataset.key is not None or dataset.result.personal == "none":
            continue
        try:
            rows = _whole_rows(dataset, sources)
        except _READ_ERRORS as exc:
            _uncountable(plan, dataset, exc)
            continue
        people = _by_sensitivity(dataset, rows)
        dataset.audited.people = people
        dataset.audited.people_method = (
            "rows_masked_key" if masked_keys(dataset.result) else "rows"
        )
        if dataset.covered:
            dropped = dropped + people
        else:
            counted = counted + people
    return counted, dropped


def _whole_rows(dataset: _Dataset, sources: Sequence[str]) -> int:
    handle = dataset.handle
    result = dataset.result
    if result.kind == "object":
        # An image, video or log is one object; it counts as one person.
        # NOTE: a cabin video may show several people.
        return 1
    stored = _store_files(handle)
    if stored is not None:
        filesystem, paths = stored
        return sum(
            count_file_rows(path, result.format, filesystem=filesystem)
            for path in paths
        )
    if isinstance(handle, FileDataset):
        return count_file_rows(handle.uri, result.format)
    if isinstance(handle, PartitionedDataset):
        if is_part_file_set(handle):
            return sum(
                count_file_rows(item.path, result.format) for item in handle.files
            )
        return count_file_rows(handle.uri, result.format, partitioned=True)
    if isinstance(handle, SqlTableHandle):
        source = find_sql_source(handle.uri, sources, handle.relation)
        if source is None:
            raise DatasetError(f"no source URL found for {handle.uri}")
        table = SqlTable(source, handle.relation.schema, handle.relation.name, 60.0)
        return count_sql_rows(table)
    raise DatasetError(f"cannot count the rows of {result.kind} datasets")


def _straddles(transfer: PeopleCount, already: PeopleCount, bound: float) -> bool:
    """Tell whether a threshold lies inside the error interval of the year.

    The year lies between max(already, transfer's low end) and already plus
    the transfer's high end. ``personal`` is all people minus sensitive
    people, so its interval takes both errors.
    """
    everyone = transfer.personal + transfer.sensitive
    sensitive_low = transfer.sensitive * (1 - bound)
    sensitive_high = transfer.sensitive * (1 + bound)
    personal_low = max(everyone * (1 - bound) - sensitive_high, 0)
    personal_high = everyone * (1 + bound) - sensitive_low
    checks = [
        (already.personal, personal_low, personal_high, PERSONAL_CONTRACT),
        (already.personal, personal_low, personal_high, PERSONAL_ASSESSMENT),
        (already.sensitive, sensitive_low, sensitive_high, SENSITIVE_ASSESSMENT),
    ]
    for recorded, low, high, threshold in checks:
        if max(recorded, low) < threshold <= recorded + high:
            return True
    return False


# -- result -------------------------------------------------------------------


def _result(
    outcome: ScanOutcome, plan: _Plan, context: TransferContext, counts: Counts
) -> AuditResult:
    important: list[ImportantItem] = []
    flags: set[str] = set()
    label_ids: set[str] = set()
    for dataset in plan.datasets:
        for label_id in _label_ids(dataset.result):
            label_ids.add(label_id)
            if label_id.startswith("imp."):
                important.append(ImportantItem(label_id, dataset.result.uri))
            elif label_id.startswith("flag."):
                flags.add(label_id)
    personal = [d for d in plan.datasets if d.result.personal != "none"]
    inputs = RouteInputs(
        context=context,
        important=important,
        flags=frozenset(flags),
        label_ids=frozenset(label_ids),
        has_personal=bool(personal),
        has_uncovered_personal=any(not d.covered for d in personal),
        year_total=counts.year_total,
        dropped=counts.dropped_by_exemption,
        covered_datasets=sum(d.covered for d in plan.datasets),
    )
    decision = decide(inputs)
    decision.notes.extend(_masked_key_notes(plan))
    exit_code = EXIT_PARTIAL if plan.failures else EXIT_ROUTE[decision.route]
    return AuditResult(
        generated_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        rule_pack_version=outcome.rule_pack_version,
        transfer=context.to_dict(),
        sources=[_display(source) for source in outcome.sources],
        datasets=[dataset.audited for dataset in plan.datasets],
        counts=counts,
        important=sorted(important, key=lambda item: (item.dataset, item.label)),
        flags=sorted(flags),
        thresholds=dict(THRESHOLDS),
        decision=decision,
        exit_code=exit_code,
        failures=plan.failures,
    )


def _masked_key_notes(plan: _Plan) -> list[str]:
    notes = []
    for dataset in plan.datasets:
        if dataset.audited.people_method != "rows_masked_key":
            continue
        columns = ", ".join(masked_keys(dataset.result))
        people = dataset.audited.people
        notes.append(
            f"{dataset.result.name}: the subject-key columns ({columns}) hold "
            f"masked values, so each of its {people.personal + people.sensitive:,} "
            "rows counts as one person, an upper bound"
        )
    return notes


def _label_ids(result: DatasetResult) -> list[str]:
    ids = [label.id for label in result.labels]
    ids += [label.id for column in result.columns for label in column.labels]
    return sorted(set(ids))


def _display(source: str) -> str:
    from scanner.engine import display_source

    return display_source(source)


# -- recording ----------------------------------------------------------------


def _record(
    result: AuditResult,
    options: AuditOptions,
    counter: PeopleCounter,
    ledger: Ledger,
    unkeyed: tuple[PeopleCount, PeopleCount],
) -> int:
    if result.failures:
        raise UsageError(
            f"not recorded: {len(result.failures)} datasets could not be read or "
            "counted, so the count is incomplete; fix or exclude them and audit "
            "again with --record"
        )
    return ledger.record(
        context=result.transfer,
        year=result.counts.year,
        route=result.decision.route,
        people=result.counts.this_transfer,
        unkeyed=unkeyed[0],
        new_hashes=counter.new_hashes(BATCH_ROWS),
    )
