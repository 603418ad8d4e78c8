"""The ``cardex`` command line.

Exit codes (also in ``cardex --help`` and docs/cli.md):

    0  success: every dataset was scanned
    1  failure: nothing could be scanned, the catalog failed, or --on-error fail
       stopped the scan
    2  usage error: invalid option, source or rule pack
    3  partial: some datasets failed and are listed in the report with their reasons

Heavy libraries are imported inside the commands so that ``--help`` stays fast.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
from typing import Any

import click

from scanner import __version__
from scanner.exits import fail as _fail
from scanner.spark.cli import engine_options

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_INTERRUPTED = 130
# A sample is held in memory; beyond this it is no longer a sample.
MAX_SAMPLE_SIZE = 10_000_000

EXIT_CODES_HELP = """\b
Exit codes:
  0  success: every dataset was scanned
  1  failure: nothing could be scanned, the catalog failed,
     or --on-error fail stopped the scan
  2  usage error: invalid option, source or rule pack
  3  partial: some datasets failed; the report lists them with reasons"""

logger = logging.getLogger("scanner")


def _configure_logging(verbose: int, quiet: bool, log_format: str = "text") -> None:
    """Log to standard error; ``log_format`` is text, json, or auto (JSON
    lines unless standard error is a terminal)."""
    level = logging.WARNING
    if quiet:
        level = logging.ERROR
    elif verbose == 1:
        level = logging.INFO
    elif verbose >= 2:
        level = logging.DEBUG
    if log_format == "json" or (log_format == "auto" and not sys.stderr.isatty()):
        from scanner.runs.logs import json_handler

        logging.basicConfig(level=level, handlers=[json_handler(sys.stderr)])
        return
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )


def _catalog_option(function: Any) -> Any:
    return click.option(
        "--catalog",
        "catalog_url",
        metavar="URL",
        envvar="CARDEX_CATALOG",
        help="SQLAlchemy URL of the catalog database [env CARDEX_CATALOG; default "
        "sqlite:///~/.local/share/cardex/catalog.db].",
    )(function)


# Commands defined in other modules, imported only when they run so that
# ``cardex --help`` stays fast: name -> (module, attribute, one-line help).
_LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "audit": (
        "scanner.audit.command",
        "audit",
        "Audit SOURCE... before export: people counted, route decided.",
    ),
    "ledger": (
        "scanner.audit.command",
        "ledger",
        "Read the yearly export ledger kept in the catalog.",
    ),
    "gate": (
        "scanner.audit.gate",
        "gate",
        "Check SOURCE... against SUITE, built by 'cardex audit --suite'.",
    ),
    "suite": (
        "scanner.audit.gate",
        "suite_command",
        "Build a gate suite from a scan or audit JSON report.",
    ),
    "push": (
        "scanner.writers.cli",
        "push",
        "Publish the labels of the local catalog to TARGET...",
    ),
    "run": (
        "scanner.runs.cli",
        "run",
        "Scan every source of the configuration once, under a lock.",
    ),
    "runs": (
        "scanner.runs.cli",
        "runs",
        "List past runs recorded in the catalog, newest first.",
    ),
}


class _CommandGroup(click.Group):
    """The ``cardex`` group, which imports the lazy commands on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None and name in _LAZY_COMMANDS:
            module, attribute, _ = _LAZY_COMMANDS[name]
            command = getattr(importlib.import_module(module), attribute)
            self.add_command(command, name)
        return command

    def format_commands(
        self, ctx: click.Context, formatter: click.HelpFormatter
    ) -> None:
        limit = formatter.width - 6 - max(len(name) for name in self.list_commands(ctx))
        rows: list[tuple[str, str]] = []
        for name in self.list_commands(ctx):
            if name in self.commands:
                if not self.commands[name].hidden:
                    rows.append((name, self.commands[name].get_short_help_str(limit)))
            else:
                rows.append((name, _LAZY_COMMANDS[name][2]))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=_CommandGroup,
    epilog=EXIT_CODES_HELP,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="cardex")
def main() -> None:
    """Find personal, sensitive personal and important data in files and
    databases, and label it in a catalog."""


@main.command(epilog=EXIT_CODES_HELP)
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@click.option(
    "--sample-size",
    type=click.IntRange(min=1, max=MAX_SAMPLE_SIZE),
    default=1000,
    show_default=True,
    help="Rows sampled per dataset, spread over the dataset "
    f"(at most {MAX_SAMPLE_SIZE:,}).",
)
@click.option(
    "--include",
    multiple=True,
    metavar="GLOB",
    help="Scan only tables (schema.table or table) or files matching GLOB; for "
    "files a GLOB without '/' matches a name at any depth, with '/' the path "
    "relative to the source, as in .gitignore; repeatable.",
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="GLOB",
    help="Skip tables or files matching GLOB (same matching as --include); "
    "repeatable; wins over --include.",
)
@_catalog_option
@click.option(
    "--no-catalog",
    is_flag=True,
    help="Do not store results in a catalog (report only).",
)
@click.option(
    "--report",
    "report_path",
    metavar="PATH",
    help="Write the JSON report to PATH ('-' for standard output) instead of "
    "printing a summary table.",
)
@click.option(
    "--rules",
    "rules_path",
    metavar="PATH",
    type=click.Path(dir_okay=False),
    help="YAML rule pack merged over the shipped one (adds or overrides labels).",
)
@click.option(
    "--geofences",
    "geofences_path",
    metavar="PATH",
    type=click.Path(dir_okay=False),
    help="GeoJSON FeatureCollection of sensitive areas (Polygon, MultiPolygon): "
    "precise coordinates inside one make imp.sensitive_area.",
)
@click.option(
    "--terms",
    "terms_path",
    metavar="PATH",
    type=click.Path(dir_okay=False),
    help="YAML term lists (national_key_projects, export_control): names or "
    "values containing a term make imp.rd_design.controlled or "
    "flag.export_control.",
)
@click.option(
    "--recipients",
    "recipients_path",
    metavar="PATH",
    type=click.Path(dir_okay=False),
    help="YAML list of overseas recipients (name, country); checked now, for "
    "export audits.",
)
@click.option(
    "--on-error",
    type=click.Choice(["fail", "skip", "warn"]),
    default="warn",
    show_default=True,
    help="On a dataset that cannot be read: stop the scan (fail), record it "
    "quietly (skip) or record it and log a warning (warn).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="Limit for each database statement while listing and sampling.",
)
@click.option(
    "--changed-only",
    is_flag=True,
    help="Skip datasets unchanged since the catalog last classified them (same "
    "size, modified time, checksum or table statistics, and the same rule pack, "
    "user lists and sample size); they keep their labels.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the last scan of the same sources if it was killed or "
    "interrupted, without scanning again the datasets it finished; otherwise "
    "start a new scan.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1, max=256),
    default=4,
    show_default=True,
    metavar="N",
    help="Datasets sampled and classified at once, in threads (1: one after "
    "another, using less memory).",
)
@click.option(
    "--full",
    is_flag=True,
    help="Classify every row of Parquet, ORC and Arrow files, in chunks, instead "
    "of a sample; a label found in any chunk holds. Other datasets are "
    "classified from their sample, with a note. Slow on large lakes: use it for "
    "audits of a few datasets, or with --engine spark.",
)
@click.option(
    "--chunk-rows",
    type=click.IntRange(min=1, max=10_000_000),
    metavar="N",
    help="Rows classified at once in a --full scan [default: 50000].",
)
@click.option(
    "--endpoint-url",
    metavar="URL",
    help="S3 endpoint for s3:// sources, such as http://127.0.0.1:8333 for a "
    "local MinIO or SeaweedFS (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, "
    "the AWS profile, then AWS itself).",
)
@click.option(
    "--push",
    "push_targets",
    multiple=True,
    metavar="TARGET",
    help="After the scan, publish the catalog's labels to TARGET (see 'cardex "
    "push --help'); repeatable; exit 4 when a push fails.",
)
@click.option(
    "--push-config",
    metavar="PATH",
    type=click.Path(dir_okay=False),
    help="YAML push configuration for --push targets.",
)
@engine_options
@click.option(
    "-v", "--verbose", count=True, help="Log more: -v one line per dataset, -vv debug."
)
@click.option(
    "-q", "--quiet", is_flag=True, help="Log errors only and show no progress bar."
)
def scan(
    sources: tuple[str, ...],
    sample_size: int,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    catalog_url: str | None,
    no_catalog: bool,
    report_path: str | None,
    rules_path: str | None,
    geofences_path: str | None,
    terms_path: str | None,
    recipients_path: str | None,
    on_error: str,
    timeout: float,
    changed_only: bool,
    resume: bool,
    concurrency: int,
    full: bool,
    chunk_rows: int | None,
    endpoint_url: str | None,
    push_targets: tuple[str, ...],
    push_config: str | None,
    engine: str,
    spark_master: str | None,
    verbose: int,
    quiet: bool,
) -> None:
    """Scan SOURCE... and label every column.

    A SOURCE is a file, a folder (scanned recursively), a glob such as
    'exports/*.csv', a SQLAlchemy database URL such as sqlite:///app.db or
    postgresql://user@host/db, a bucket or prefix such as s3://lake/raw, or
    an Iceberg table such as iceberg://sqlite:///catalog.db#ns.table.
    Results go to the catalog, and to a JSON report with --report.
    """
    _configure_logging(verbose, quiet)
    from scanner.engine import ScanOptions
    from scanner.errors import CatalogError, MissingExtraError, PluginError, UsageError
    from scanner.full import DEFAULT_CHUNK_ROWS
    from scanner.report import check_report_path, print_summary, write_report
    from scanner.spark.cli import make_scanner
    from scanner.spark.session import SparkJobError

    if chunk_rows is not None and not full:
        raise click.UsageError(
            "--chunk-rows sets the chunks of a --full scan; add --full"
        )
    options = ScanOptions(
        sources=sources,
        sample_size=sample_size,
        include=include,
        exclude=exclude,
        timeout=timeout,
        rules_path=rules_path,
        on_error=on_error,  # type: ignore[arg-type]
        catalog_url=catalog_url,
        use_catalog=not no_catalog,
        geofences_path=geofences_path,
        terms_path=terms_path,
        recipients_path=recipients_path,
        changed_only=changed_only,
        resume=resume,
        concurrency=concurrency,
        full=full,
        chunk_rows=chunk_rows or DEFAULT_CHUNK_ROWS,
        endpoint_url=endpoint_url,
    )
    try:
        if push_targets and no_catalog:
            raise UsageError("--push publishes the catalog; drop --no-catalog")
        if push_targets:
            from scanner.writers.cli import check_targets

            check_targets(push_targets, push_config)
        if report_path:
            check_report_path(report_path)
        with _progress(enabled=not quiet and sys.stderr.isatty()) as progress:
            scanner = make_scanner(engine, spark_master, options, progress)
            outcome = scanner.run()
    except (UsageError, MissingExtraError) as exc:
        _fail(str(exc), EXIT_USAGE)
    except KeyboardInterrupt:
        _fail(
            "interrupted; the catalog keeps the datasets scanned so far",
            EXIT_INTERRUPTED,
        )
    except (CatalogError, PluginError, SparkJobError) as exc:
        _fail(str(exc), EXIT_FAILURE)

    if report_path:
        try:
            write_report(outcome, report_path)
        except OSError as exc:
            _fail(f"cannot write report {report_path}: {exc.strerror}", EXIT_FAILURE)
    else:
        print_summary(outcome, sys.stdout)

    codes = {"ok": EXIT_OK, "partial": EXIT_PARTIAL, "failed": EXIT_FAILURE}
    if push_targets and outcome.status != "failed":
        from scanner.writers.cli import push_after_scan

        pushed = push_after_scan(push_targets, catalog_url, push_config, rules_path)
        sys.exit(pushed or codes[outcome.status])
    sys.exit(codes[outcome.status])


class _progress:
    """A rich progress bar on standard error, or a no-op."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._bar = Progress(
            TextColumn("scanning"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            console=Console(stderr=True),
            transient=True,
        )
        self._bar.__enter__()
        self._task = self._bar.add_task("", total=None)
        return self._update

    def _update(self, done: int, total: int | None, uri: str) -> None:
        self._bar.update(self._task, completed=done, total=total, description=uri[-60:])

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc_info)


@main.group()
def catalog() -> None:
    """Read the local catalog."""


@catalog.command("list")
@_catalog_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def catalog_list(catalog_url: str | None, as_json: bool) -> None:
    """List the datasets in the catalog with their labels."""
    store = _open(catalog_url)
    rows = store.list_datasets()
    if as_json:
        click.echo(
            json.dumps([row.__dict__ for row in rows], ensure_ascii=False, indent=2)
        )
        return
    from rich.console import Console
    from rich.table import Table

    table = Table()
    headings = ("dataset", "kind", "grade", "PI", "last scanned", "labels", "uri")
    for heading in headings:
        table.add_column(heading, overflow="fold")
    for row in rows:
        labels = ", ".join(row.label_ids) or ("(error)" if row.last_error else "-")
        table.add_row(
            row.name,
            row.kind,
            row.grade or "-",
            row.personal or "-",
            row.last_scanned_at or "-",
            labels,
            row.uri,
        )
    Console().print(table)


@catalog.command("show")
@click.argument("dataset")
@_catalog_option
def catalog_show(dataset: str, catalog_url: str | None) -> None:
    """Show one DATASET (its URI, or its name when unique) as JSON: columns,
    labels with state and evidence."""
    store = _open(catalog_url)
    from scanner.errors import UsageError

    try:
        view = store.show_dataset(dataset)
    except UsageError as exc:
        _fail(str(exc), EXIT_USAGE)
    click.echo(json.dumps(view, ensure_ascii=False, indent=2))


@main.group()
def label() -> None:
    """Confirm or reject labels; scans never change a person's decision."""


def _decide(state: str) -> Any:
    @click.argument("dataset")
    @click.argument("column")
    @click.argument("label_id")
    @click.option(
        "--by",
        default=None,
        metavar="NAME",
        help="Who decides [default: the login name].",
    )
    @_catalog_option
    def command(
        dataset: str,
        column: str,
        label_id: str,
        by: str | None,
        catalog_url: str | None,
    ) -> None:
        import getpass

        from scanner.errors import CatalogError, UsageError

        store = _open(catalog_url)
        person = by or getpass.getuser()
        target = "" if column in ("-", "") else column
        try:
            store.decide_label(dataset, target, label_id, state, person)  # type: ignore[arg-type]
        except UsageError as exc:
            _fail(str(exc), EXIT_USAGE)
        except CatalogError as exc:
            _fail(str(exc), EXIT_FAILURE)
        where = f"column {target}" if target else "the dataset"
        click.echo(f"{label_id} on {where} of {dataset}: {state} by {person}")

    command.__doc__ = (
        f"Mark LABEL_ID on COLUMN of DATASET as {state}. Use '-' as COLUMN for a "
        "dataset-level label. DATASET is a URI or a unique name."
    )
    return command


label.command("confirm")(_decide("confirmed"))
label.command("reject")(_decide("rejected"))


@main.command("labels")
@click.option(
    "--rules",
    "rules_path",
    metavar="PATH",
    help="Rule pack merged over the shipped one.",
)
def list_labels(rules_path: str | None) -> None:
    """List the label ids of the rule pack with their names."""
    from classifiers.rulepack import load_rule_pack
    from scanner.errors import UsageError

    try:
        pack = load_rule_pack(rules_path)
    except UsageError as exc:
        _fail(str(exc), EXIT_USAGE)
    click.echo(f"rule pack {pack.version}")
    for rule in pack.labels.values():
        mark = " (provisional)" if rule.provisional else ""
        click.echo(
            f"{rule.id:45} {rule.category:20} {rule.name_en} / {rule.name_zh}{mark}"
        )


def _open(catalog_url: str | None) -> Any:
    from scanner.catalog import open_catalog
    from scanner.errors import CatalogError, UsageError

    try:
        return open_catalog(catalog_url, create=False)
    except UsageError as exc:
        _fail(str(exc), EXIT_USAGE)
    except CatalogError as exc:
        _fail(str(exc), EXIT_FAILURE)
