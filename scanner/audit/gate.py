"""Run a cardex expectation suite over a later version of the data.

``cardex gate SUITE SOURCE...`` reads each dataset of the sources through the
connectors the scan uses (files and SQL tables alike), validates it against
its part of the suite with a Great Expectations checkpoint, and prints the
checks that failed. Every value GX quotes from the data is masked before it
is printed.

Rules the gate adds to the suite:

- A column the suite does not know, and every column of a dataset the suite
  does not name, gets the ``no_identifier`` checks, because data that no
  audit covered must contain no identifiers.
- A ``masked_or_absent`` column that is missing passes, because a dropped
  column is not exported.
- A dataset named in the suite but not found in the sources is an error.
- Column names are masked as the scan masks them (a JSON key that is a phone
  number becomes ``138******01``) before they are matched to the suite's
  names or printed.

Great Expectations runs in an ephemeral context with analytics and progress
bars off and stores nothing on disk.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
import sys
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from scanner.errors import CardexError, DatasetError, UsageError
from scanner.exits import fail as _fail
from scanner.masking import mask_value, public_url, redact_text

if TYPE_CHECKING:
    from connectors.base import DiscoveryOptions

logger = logging.getLogger(__name__)

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_ERROR = 3
EXIT_INTERRUPTED = 130

#: Rows read per dataset unless ``--rows`` sets another number.
DEFAULT_ROWS = 1_000_000
#: Unexpected values GX quotes per failed check; each is masked.
EXAMPLES_PER_CHECK = 3


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one expectation on one dataset."""

    dataset: str
    column: str
    check: str
    pattern: str
    success: bool
    non_null: int = 0
    unexpected_count: int = 0
    masked_examples: tuple[str, ...] = ()
    note: str = ""
    error: str = ""


@dataclass
class DatasetCheck:
    """The rows read from one dataset and the results of its checks."""

    uri: str
    name: str
    rows_checked: int = 0
    total_rows: int | None = None
    in_suite: bool = True
    readable: bool = True
    results: list[CheckResult] = field(default_factory=list)


@dataclass
class GateOutcome:
    """Everything one gate run found; ``exit_code`` turns it into a status."""

    datasets: list[DatasetCheck] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[CheckResult]:
        return [
            result
            for dataset in self.datasets
            for result in dataset.results
            if not result.success and not result.error
        ]

    @property
    def check_errors(self) -> list[CheckResult]:
        return [r for d in self.datasets for r in d.results if r.error]

    @property
    def exit_code(self) -> int:
        """Exit status: 1 when a check failed, else 3 when something could not
        be checked, else 0."""
        if self.failed:
            return EXIT_FAILED
        if self.errors or self.check_errors:
            return EXIT_ERROR
        return EXIT_PASSED


def load_suite(path: str | Path) -> dict[str, Any]:
    """Read a suite written by ``cardex audit --suite``.

    Raises UsageError when the file is missing, is not JSON, or was not
    built by cardex.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read suite {path}: {exc.strerror}") from exc
    try:
        suite = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"suite {path} is not valid JSON: {exc}") from exc
    meta = suite.get("meta", {}).get("cardex") if isinstance(suite, dict) else None
    if not isinstance(meta, dict) or not isinstance(suite.get("expectations"), list):
        raise UsageError(
            f"suite {path} was not built by cardex (no meta.cardex section); "
            "build one with 'cardex audit ... --suite FILE'"
        )
    return suite


def run_gate(
    suite: dict[str, Any],
    sources: Sequence[str],
    rows: int = DEFAULT_ROWS,
    options: DiscoveryOptions | None = None,
) -> GateOutcome:
    """Validate every dataset in ``sources`` against its part of ``suite``.

    ``options`` narrows the datasets as for a scan (include and exclude
    globs, statement timeout). Raises UsageError when a source is not
    readable by any connector.
    """
    from connectors.base import DiscoveryOptions

    options = options or DiscoveryOptions()
    handles, outcome = _discover(sources, options)
    meta = suite["meta"]["cardex"]
    known = {entry["uri"]: entry for entry in meta.get("datasets", [])}
    matched = _match(handles, known, outcome, options)
    context = _gx_context()
    for handle, entry in matched:
        outcome.datasets.append(_check_dataset(context, handle, entry, suite, rows))
    return outcome


def _filtered_out(entry: dict[str, Any], options: DiscoveryOptions) -> bool:
    """Tell whether ``--include``/``--exclude`` leave a suite dataset out.

    A glob is matched against the dataset's name and against the end of its
    URI, so that a dataset the user filtered out of the sources is not
    reported as missing.
    """
    # NOTE: this approximates the connectors' own matching (``.gitignore``
    # rules for files, ``schema.table`` for tables) from the suite's name and
    # URI alone.
    candidates = [str(entry.get("name", "")), str(entry.get("uri", ""))]

    def matches(patterns: tuple[str, ...]) -> bool:
        return any(
            fnmatch.fnmatchcase(candidate, pattern)
            or fnmatch.fnmatchcase(candidate, f"*/{pattern}")
            for candidate in candidates
            for pattern in patterns
        )

    if options.exclude and matches(options.exclude):
        return True
    return bool(options.include) and not matches(options.include)


def _discover(
    sources: Sequence[str], options: DiscoveryOptions
) -> tuple[list[Any], GateOutcome]:
    from scanner.engine import resolve_connector
    from scanner.model import DatasetHandle
    from scanner.plugins import CONNECTORS, load_plugins

    connectors = [cls() for cls in load_plugins(CONNECTORS).values()]
    plan = [(source, resolve_connector(source, connectors)) for source in sources]
    outcome = GateOutcome()
    handles: dict[str, DatasetHandle] = {}
    for source, connector in plan:
        for item in connector.discover(source, options):
            if isinstance(item, DatasetHandle):
                handles.setdefault(item.uri, item)
            else:
                outcome.errors.append(f"{item.uri}: {redact_text(item.message)}")
    return list(handles.values()), outcome


def _match(
    handles: list[Any],
    known: dict[str, dict[str, Any]],
    outcome: GateOutcome,
    options: DiscoveryOptions,
) -> list[tuple[Any, dict[str, Any] | None]]:
    """Pair each handle with its suite entry, by URI, else by a unique name.

    Exact URIs are paired first, so that a folder holding the audited file
    and a copy of it pairs the audited one. A suite entry left unpaired is an
    error unless the include and exclude globs filter it out.
    """
    entries: dict[str, dict[str, Any]] = {}
    for handle in handles:
        if handle.uri in known:
            entries[handle.uri] = known[handle.uri]

    used = {entry["uri"] for entry in entries.values()}
    by_name: dict[str, list[dict[str, Any]]] = {}
    for entry in known.values():
        by_name.setdefault(entry.get("name", ""), []).append(entry)
    for handle in handles:
        candidates = by_name.get(handle.name, [])
        if handle.uri in entries or len(candidates) != 1:
            continue
        if candidates[0]["uri"] not in used:
            entries[handle.uri] = candidates[0]
            used.add(candidates[0]["uri"])

    for uri, entry in known.items():
        if uri not in used and not _filtered_out(entry, options):
            outcome.errors.append(
                f"dataset {public_url(uri)} of the suite was not found in the "
                f"sources (no dataset with that URI or the name {entry.get('name')})"
            )
    return [(handle, entries.get(handle.uri)) for handle in handles]


def _gx_context() -> Any:
    # GX reads this variable when it is imported, so set it first.
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    gx = _import_gx()
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _import_gx() -> Any:
    try:
        with warnings.catch_warnings():
            # GX imports PySpark, which warns that it does not support
            # pandas 3 yet (the gate never uses Spark), and the deprecated
            # sre_constants module. Neither concerns a gate run.
            warnings.filterwarnings("ignore", category=FutureWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            import great_expectations as gx
    except ImportError as exc:
        from scanner.errors import MissingExtraError

        raise MissingExtraError("great-expectations", "gate", "cardex gate") from exc
    return gx


def _check_dataset(
    context: Any,
    handle: Any,
    entry: dict[str, Any] | None,
    suite: dict[str, Any],
    rows: int,
) -> DatasetCheck:
    check = DatasetCheck(uri=handle.uri, name=handle.name, in_suite=entry is not None)
    try:
        sample = handle.sample(rows)
    except DatasetError as exc:
        error = f"cannot read: {redact_text(str(exc))}"
        check.results.append(_error_result(handle.uri, "", error))
        check.readable = False
        return check
    check.rows_checked = sample.table.num_rows
    check.total_rows = sample.total_rows
    logger.info("read %d rows from %s", check.rows_checked, handle.uri)

    table, masked_names = _with_masked_names(sample.table)
    expectations, skipped = _expectations_for(entry, suite, masked_names)
    check.results.extend(skipped)
    if expectations:
        frame = _to_frame(table)
        check.results.extend(_validate(context, handle.uri, expectations, frame))
    return check


def _with_masked_names(table: Any) -> tuple[Any, dict[str, str]]:
    """Rename the columns to the names a scan report shows.

    A name segment that is a phone number, ID number, e-mail address, card
    number or VIN is masked as ``classifiers.pipeline.safe_column_names``
    masks it, so that the names match the suite's and no value is printed.
    Two names that mask alike get `` #2``, `` #3``... appended. Returns the
    renamed table and a map from each new name to its masked name.
    """
    from classifiers.pipeline import safe_column_names

    raw = list(table.column_names)
    masked = safe_column_names(raw)
    masked_names: dict[str, str] = {}
    for name in raw:
        base = masked[name]
        unique, number = base, 1
        while unique in masked_names or (unique != base and unique in masked.values()):
            number += 1
            unique = f"{base} #{number}"
        masked_names[unique] = base
    return table.rename_columns(list(masked_names)), masked_names


def _expectations_for(
    entry: dict[str, Any] | None, suite: dict[str, Any], columns: dict[str, str]
) -> tuple[list[dict[str, Any]], list[CheckResult]]:
    """Select the suite's expectations for one dataset and add the gate's own.

    ``columns`` maps each column of the data to its masked name, which is the
    name the suite uses.
    """
    from scanner.audit.suite import identifier_expectations

    meta = suite["meta"]["cardex"]
    uri = entry["uri"] if entry else ""
    name = entry.get("name", "") if entry else ""
    selected: list[dict[str, Any]] = []
    skipped: list[CheckResult] = []
    for expectation in suite["expectations"]:
        cardex = expectation.get("meta", {}).get("cardex", {})
        if not entry or cardex.get("dataset") != uri:
            continue
        column = expectation["kwargs"].get("column", "")
        matches = [name for name, masked in columns.items() if masked == column]
        if not matches:
            skipped.append(_absent_result(uri, column, cardex))
        for match in matches:
            selected.append(_upgraded(expectation, match, meta))

    known = set(entry.get("columns", [])) if entry else set()
    mostly = float(meta.get("mostly", 1.0))
    for column, masked in columns.items():
        if masked not in known:
            selected.extend(identifier_expectations(uri, name, column, mostly))
    return selected, skipped


def _upgraded(
    expectation: dict[str, Any], column: str, meta: dict[str, Any]
) -> dict[str, Any]:
    """Copy ``expectation`` for ``column``, with the current masked check.

    Suites of format 1 accepted a masked-looking value that still contained a
    whole ID number (``110105196907210496 **``), so their masked pattern is
    replaced by the one that rejects it.
    """
    from scanner.audit.suite import MASKED_OR_ABSENT, MASKED_VALUE_PATTERN

    kwargs = {**expectation["kwargs"], "column": column}
    cardex = expectation.get("meta", {}).get("cardex", {})
    old_format = int(meta.get("format", 1)) < 2
    if old_format and cardex.get("check") == MASKED_OR_ABSENT:
        kwargs["regex"] = MASKED_VALUE_PATTERN
    return {**expectation, "kwargs": kwargs}


def _absent_result(uri: str, column: str, cardex: dict[str, Any]) -> CheckResult:
    return CheckResult(
        dataset=uri,
        column=column,
        check=cardex.get("check", ""),
        pattern=cardex.get("pattern", ""),
        success=True,
        note="column absent",
    )


def _error_result(uri: str, column: str, error: str) -> CheckResult:
    return CheckResult(
        dataset=uri, column=column, check="", pattern="", success=False, error=error
    )


def _to_frame(table: Any) -> Any:
    """Turn a sample into a frame of normalised strings, blanks as nulls."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from classifiers.validators import normalise

    columns: dict[str, Any] = {}
    for name in table.column_names:
        values = table.column(name)
        try:
            text = normalise(values)
        except TypeError:
            # Nested or binary values: their string form still shows an
            # identifier that was pasted in whole.
            text = pa.chunked_array(
                [pa.array([_as_text(v) for v in values.to_pylist()], pa.string())]
            )
        blank = pc.equal(text, "")
        columns[name] = pc.if_else(blank, pa.scalar(None, pa.string()), text)
    return pa.table(columns).to_pandas()


def _as_text(value: object) -> str | None:
    return None if value is None else str(value)


def _validate(
    context: Any, uri: str, expectations: list[dict[str, Any]], frame: Any
) -> list[CheckResult]:
    import great_expectations as gx
    from great_expectations.core import ExpectationSuite

    index = len(context.suites.all())
    source = context.data_sources.add_pandas(f"cardex-{index}")
    batch = source.add_dataframe_asset("dataset").add_batch_definition_whole_dataframe(
        "whole"
    )
    suite = context.suites.add(
        ExpectationSuite(name=f"cardex-{index}", expectations=expectations)
    )
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"cardex-{index}", data=batch, suite=suite)
    )
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name=f"cardex-{index}",
            validation_definitions=[definition],
            result_format={
                "result_format": "SUMMARY",
                "partial_unexpected_count": EXAMPLES_PER_CHECK,
            },
        )
    )
    run = checkpoint.run(batch_parameters={"dataframe": frame})
    return [
        _check_result(uri, result)
        for validation in run.run_results.values()
        for result in validation.results
    ]


def _check_result(uri: str, result: Any) -> CheckResult:
    config = result.expectation_config
    cardex = (config.meta or {}).get("cardex", {})
    column = config.kwargs.get("column", "")
    if result.exception_info and result.exception_info.get("raised_exception"):
        message = redact_text(str(result.exception_info.get("exception_message")))
        return _error_result(uri, column, f"check failed to run: {message}")
    details = result.result or {}
    examples = tuple(
        mask_value(value)
        for value in details.get("partial_unexpected_list") or []
        if value is not None
    )
    return CheckResult(
        dataset=uri,
        column=column,
        check=cardex.get("check", ""),
        pattern=cardex.get("pattern", ""),
        success=bool(result.success),
        non_null=int(details.get("element_count") or 0)
        - int(details.get("missing_count") or 0),
        unexpected_count=int(details.get("unexpected_count") or 0),
        masked_examples=examples,
    )


def describe(outcome: GateOutcome) -> Iterable[str]:
    """Yield the lines the command prints: failures first, then a summary.

    Control characters from the data (in values, column or file names) are
    escaped, so that they cannot drive the terminal or a CI log.
    """
    for line in _lines(outcome):
        yield _printable(line)


def _lines(outcome: GateOutcome) -> Iterable[str]:
    from scanner.audit.suite import IDENTIFIER_PATTERNS

    names = {pattern.name: pattern.description for pattern in IDENTIFIER_PATTERNS}
    for dataset in outcome.datasets:
        for result in dataset.results:
            if result.error:
                where = " ".join(filter(None, [public_url(dataset.uri), result.column]))
                yield f"ERROR {where}: {result.error}"
            elif not result.success:
                yield _describe_failure(dataset, result, names)
    for error in outcome.errors:
        yield f"ERROR {error}"
    yield from _summary(outcome)


def _describe_failure(
    dataset: DatasetCheck, result: CheckResult, names: dict[str, str]
) -> str:
    counted = f"{result.unexpected_count:,} of {result.non_null:,} non-null values"
    if result.check == "masked_or_absent":
        finding = (
            f"{counted} are not masked or still contain a whole identifier "
            "(sensitive personal information)"
        )
    else:
        kind = names.get(result.pattern, result.pattern)
        finding = f"{counted} look like a {kind}"
    examples = ", ".join(result.masked_examples)
    example_text = f" (e.g. {examples})" if examples else ""
    where = f"{public_url(dataset.uri)} column {result.column}"
    return f"FAIL  {where}: {finding}{example_text}"


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def _summary(outcome: GateOutcome) -> Iterable[str]:
    for dataset in outcome.datasets:
        if not dataset.readable:
            yield f"not checked {public_url(dataset.uri)}: cannot read"
            continue
        read = f"{dataset.rows_checked:,} rows"
        if dataset.total_rows is None or dataset.total_rows > dataset.rows_checked:
            total = (
                "unknown" if dataset.total_rows is None else f"{dataset.total_rows:,}"
            )
            read = f"{read} of {total} (a spread sample)"
        scope = "" if dataset.in_suite else ", not in the suite: identifier checks only"
        passed = sum(result.success for result in dataset.results)
        yield (
            f"checked {public_url(dataset.uri)}: {read}, "
            f"{passed}/{len(dataset.results)} checks passed{scope}"
        )
    verdict = {EXIT_PASSED: "passed", EXIT_FAILED: "failed", EXIT_ERROR: "error"}
    yield f"gate {verdict[outcome.exit_code]}"


GATE_EXIT_CODES = """\b
Exit codes:
  0  the data passed every check
  1  a check failed: the failures are listed with masked examples
  2  usage error: invalid option, suite file or source
  3  other error: a dataset of the suite was not found or could not be read"""


@click.command("gate", epilog=GATE_EXIT_CODES)
@click.argument("suite_path", metavar="SUITE", type=click.Path(dir_okay=False))
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@click.option(
    "--rows",
    type=click.IntRange(min=1),
    default=DEFAULT_ROWS,
    show_default=True,
    help="Rows read per dataset; a larger dataset is checked on a spread sample.",
)
@click.option(
    "--include",
    multiple=True,
    metavar="GLOB",
    help="Check only tables or files matching GLOB, as for scan; repeatable.",
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="GLOB",
    help="Skip tables or files matching GLOB, as for scan; repeatable.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="Limit for each database statement while listing and reading.",
)
def gate(
    suite_path: str,
    sources: tuple[str, ...],
    rows: int,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    timeout: float,
) -> None:
    """Check SOURCE... against SUITE, built by 'cardex audit --suite'.

    Sensitive columns must be masked or dropped. Other columns, and columns
    or datasets the suite does not know, must contain no resident ID number,
    mobile number or VIN.
    """
    from connectors.base import DiscoveryOptions
    from scanner.errors import MissingExtraError

    try:
        suite = load_suite(suite_path)
        options = DiscoveryOptions(include=include, exclude=exclude, timeout=timeout)
        outcome = run_gate(suite, sources, rows=rows, options=options)
        for line in describe(outcome):
            click.echo(line)
    except (UsageError, MissingExtraError) as exc:
        _fail(str(exc), EXIT_USAGE)
    except CardexError as exc:
        _fail(redact_text(str(exc)), EXIT_ERROR)
    except KeyboardInterrupt:
        _fail("interrupted; the gate did not finish its checks", EXIT_INTERRUPTED)
    sys.exit(outcome.exit_code)


@click.command("suite")
@click.argument("report_path", metavar="REPORT", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    "output_path",
    required=True,
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Where to write the suite (JSON).",
)
@click.option(
    "--mostly",
    type=click.FloatRange(min=0, max=1, min_open=True),
    default=1.0,
    show_default=True,
    help="Share of non-null values each identifier check requires to pass.",
)
def suite_command(report_path: str, output_path: str, mostly: float) -> None:
    """Build a gate suite from REPORT, the JSON of 'cardex scan --report' or
    'cardex audit --report'."""
    from scanner.audit.suite import build_suite, write_suite

    try:
        result = json.loads(Path(report_path).read_text(encoding="utf-8"))
        suite = build_suite(result, mostly=mostly)
        write_suite(suite, output_path)
    except OSError as exc:
        _fail(f"cannot read {report_path} or write {output_path}: {exc}", EXIT_USAGE)
    except json.JSONDecodeError as exc:
        _fail(f"report {report_path} is not valid JSON: {exc}", EXIT_USAGE)
    except UsageError as exc:
        _fail(f"report {report_path}: {exc}", EXIT_USAGE)
    checks = len(suite["expectations"])
    datasets = len(suite["meta"]["cardex"]["datasets"])
    click.echo(f"wrote {output_path}: {checks} checks on {datasets} datasets")
