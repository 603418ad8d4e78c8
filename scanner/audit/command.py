"""The ``cardex audit`` and ``cardex ledger`` commands.

Heavy libraries are imported inside the commands so that ``--help`` stays
fast.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

import click

from scanner.audit.codes import EXEMPTION_CODES
from scanner.exits import fail as _fail
from scanner.spark.cli import engine_options

AUDIT_EXIT_CODES_HELP = """\b
Exit codes:
  0   exempt from the CAC export procedures
  10  standard contract or certification needed
  11  security assessment needed
  12  manual legal review (possible core data)
  1   partial: some datasets could not be read or counted; the
      route in the report covers only the rest
  2   usage error: invalid option, source or transfer context
  3   catalog, ledger or counting error
  130 interrupted"""

EXIT_USAGE = 2
EXIT_ERROR = 3
EXIT_INTERRUPTED = 130


def _path_option(name: str, help_text: str) -> Any:
    return click.option(
        name,
        f"{name.lstrip('-').replace('-', '_')}_path",
        metavar="PATH",
        type=click.Path(dir_okay=False),
        help=help_text,
    )


@click.command(epilog=AUDIT_EXIT_CODES_HELP)
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@_path_option(
    "--context",
    "YAML file with the transfer context (processor, destination, recipient, "
    "purpose, ciio, remote_access, exemptions); options override it.",
)
@click.option("--processor", help="The exporting data processor (ledger key).")
@click.option("--destination", help="Destination country or region, e.g. DE.")
@click.option("--recipient", help="The overseas recipient.")
@click.option("--purpose", help="Purpose of the transfer.")
@click.option(
    "--ciio/--no-ciio",
    default=None,
    help="The exporter is a critical information infrastructure operator "
    "[default: no].",
)
@click.option(
    "--remote-access/--no-remote-access",
    default=None,
    help="The export is remote access from abroad to data stored in China "
    "[default: no].",
)
@click.option(
    "--exemption",
    "exemptions",
    multiple=True,
    type=click.Choice(EXEMPTION_CODES),
    help="Claim an exemption; give its facts with --fact; repeatable.",
)
@click.option(
    "--fact",
    "facts",
    multiple=True,
    metavar="CODE.KEY=VALUE",
    help="A fact of a claimed exemption, e.g. contract.datasets=crm/*.csv "
    "(datasets and negative_list take comma-separated lists); repeatable.",
)
@click.option(
    "--approximate",
    is_flag=True,
    help="Count people with HyperLogLog (faster; error bound printed); counts "
    "near a threshold are redone exactly.",
)
@click.option(
    "--record",
    is_flag=True,
    help="Record this transfer in the catalog's yearly ledger (once it is "
    "approved), so later audits this year add to it.",
)
@click.option(
    "--report",
    "report_path",
    metavar="PATH",
    help="Write the JSON audit result to PATH ('-' for standard output).",
)
@click.option("--html", "html_path", metavar="PATH", help="Write an HTML report.")
@click.option(
    "--markdown", "markdown_path", metavar="PATH", help="Write a Markdown report."
)
@click.option(
    "--suite",
    "suite_path",
    metavar="PATH",
    help="Write a Great Expectations suite for 'cardex gate' (JSON).",
)
@click.option(
    "--sample-size",
    type=click.IntRange(min=1, max=10_000_000),
    default=1000,
    show_default=True,
    help="Rows sampled per dataset for classification (counting reads all rows).",
)
@click.option(
    "--full",
    is_flag=True,
    help="Classify every row of Parquet, ORC and Arrow files, in chunks, as "
    "'cardex scan --full' does, instead of a sample.",
)
@click.option(
    "--chunk-rows",
    type=click.IntRange(min=1, max=10_000_000),
    metavar="N",
    help="Rows classified at once with --full [default: 50000].",
)
@click.option("--include", multiple=True, metavar="GLOB", help="As for scan.")
@click.option("--exclude", multiple=True, metavar="GLOB", help="As for scan.")
@click.option(
    "--catalog",
    "catalog_url",
    metavar="URL",
    envvar="CARDEX_CATALOG",
    help="SQLAlchemy URL of the catalog database, which also keeps the ledger "
    "[env CARDEX_CATALOG].",
)
@_path_option("--rules", "YAML rule pack merged over the shipped one.")
@_path_option("--geofences", "GeoJSON of sensitive areas, as for scan.")
@_path_option("--terms", "YAML term lists, as for scan.")
@_path_option("--recipients", "YAML list of overseas recipients, as for scan.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="Limit for each database statement while listing and sampling.",
)
@click.option(
    "--temp-dir",
    type=click.Path(exists=True, file_okay=False, writable=True),
    help="Folder for counting's spill files [default: the system temp folder].",
)
@click.option(
    "--memory-limit",
    metavar="SIZE",
    help="Memory DuckDB may use for counting before it spills, e.g. 2GB "
    "[default: DuckDB's, 80% of RAM].",
)
@engine_options
@click.option("-v", "--verbose", count=True, help="Log more: -v info, -vv debug.")
@click.option("-q", "--quiet", is_flag=True, help="Log errors only.")
def audit(**options: Any) -> None:
    """Audit SOURCE... before export: what it contains, how many distinct
    people it covers this year, and which route the transfer needs.

    SOURCE is a file, folder, glob or database URL, as for scan.
    """
    from scanner.cli import _configure_logging

    _configure_logging(options["verbose"], options["quiet"])
    renderers = _renderers(options)
    _check_output_paths(options)
    audit_options = _audit_options(options)
    result = _run(audit_options, options["engine"], options["spark_master"])
    data = result.to_dict()
    _write_outputs(data, options, renderers)
    if options["report_path"] != "-":
        print_audit_summary(data, sys.stdout)
    sys.exit(result.exit_code)


def _renderers(options: dict[str, Any]) -> dict[str, Any]:
    """Import the HTML and Markdown renderers the options ask for, or fail."""
    renderers = {}
    expected = {
        "html_path": ("html", "render_html"),
        "markdown_path": ("markdown", "render_markdown"),
    }
    for option, (module, function) in expected.items():
        if not options[option]:
            continue
        try:
            imported = __import__(f"scanner.audit.{module}", fromlist=[function])
            renderers[option] = getattr(imported, function)
        except (ImportError, AttributeError):
            flag = "--" + module
            _fail(
                f"{flag} needs scanner.audit.{module}.{function}, which this "
                f"installation lacks; leave out {flag} or update cardex",
                EXIT_USAGE,
            )
    return renderers


def _chunk_rows(full: bool, chunk_rows: int | None) -> int:
    from scanner.full import DEFAULT_CHUNK_ROWS

    if chunk_rows is not None and not full:
        _fail("--chunk-rows sets the chunks of a --full scan; add --full", EXIT_USAGE)
    return chunk_rows or DEFAULT_CHUNK_ROWS


def _audit_options(options: dict[str, Any]) -> Any:
    from scanner.audit.context import build_context, load_context_file, parse_facts
    from scanner.audit.run import AuditOptions
    from scanner.engine import ScanOptions
    from scanner.errors import UsageError

    try:
        file_data = (
            load_context_file(options["context_path"])
            if options["context_path"]
            else {}
        )
        context = build_context(
            file_data,
            {
                key: options[key]
                for key in (
                    "processor",
                    "destination",
                    "recipient",
                    "purpose",
                    "ciio",
                    "remote_access",
                )
            },
            options["exemptions"],
            parse_facts(options["facts"]),
        )
    except UsageError as exc:
        _fail(str(exc), EXIT_USAGE)
    scan = ScanOptions(
        sources=options["sources"],
        sample_size=options["sample_size"],
        include=options["include"],
        exclude=options["exclude"],
        timeout=options["timeout"],
        rules_path=options["rules_path"],
        catalog_url=options["catalog_url"],
        geofences_path=options["geofences_path"],
        terms_path=options["terms_path"],
        recipients_path=options["recipients_path"],
        full=options["full"],
        chunk_rows=_chunk_rows(options["full"], options["chunk_rows"]),
    )
    return AuditOptions(
        scan=scan,
        context=context,
        approximate=options["approximate"],
        record=options["record"],
        temp_dir=options["temp_dir"],
        memory_limit=options["memory_limit"],
    )


def _run(audit_options: Any, engine: str, spark_master: str | None) -> Any:
    from scanner.audit.run import AuditError
    from scanner.errors import CatalogError, MissingExtraError, PluginError, UsageError
    from scanner.spark.cli import run_audit_on

    try:
        return run_audit_on(engine, spark_master, audit_options)
    except (UsageError, MissingExtraError) as exc:
        _fail(str(exc), EXIT_USAGE)
    except (CatalogError, PluginError, AuditError) as exc:
        _fail(str(exc), EXIT_ERROR)
    except KeyboardInterrupt:
        _fail("interrupted; nothing was recorded in the ledger", EXIT_INTERRUPTED)


#: Output options and their flags, in the order they are checked and written.
OUTPUT_OPTIONS = {
    "report_path": "--report",
    "html_path": "--html",
    "markdown_path": "--markdown",
    "suite_path": "--suite",
}


def _check_output_paths(options: dict[str, Any]) -> None:
    """Fail with exit 2 before the audit when an output cannot be written."""
    for option, flag in OUTPUT_OPTIONS.items():
        path = options[option]
        if not path or (option == "report_path" and path == "-"):
            continue
        problem = _output_problem(Path(path))
        if problem:
            _fail(f"cannot write {flag} {path}: {problem}", EXIT_USAGE)


def _output_problem(target: Path) -> str | None:
    """Return why ``target`` cannot be written, or None.

    Creates and removes a probe file in the folder, because permission bits
    do not show every reason a write fails (an immutable folder, a read-only
    mount).
    """
    if target.is_dir():
        return "it is a folder; give a file name"
    if target.exists() and not target.is_file():
        return None  # a device or pipe, written through
    folder = target.parent
    if not folder.is_dir():
        return f"folder {folder} does not exist; create it first"
    try:
        handle, probe = tempfile.mkstemp(prefix=".cardex-probe-", dir=folder)
    except OSError as exc:
        return f"folder {folder} is not writable ({exc.strerror})"
    os.close(handle)
    os.unlink(probe)
    if target.exists() and not os.access(target, os.W_OK):
        return "the file is not writable"
    return None


def _write_outputs(
    data: dict[str, Any], options: dict[str, Any], renderers: dict[str, Any]
) -> None:
    """Write every requested output, each whole or not at all.

    Each file is written next to its target first and renamed into place once
    all of them were written, so a failure leaves the earlier outputs as they
    were.
    """
    if options["report_path"] == "-":
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    texts: dict[str, str] = {}
    if options["report_path"] and options["report_path"] != "-":
        texts[options["report_path"]] = json.dumps(data, ensure_ascii=False, indent=2)
    for option, render in renderers.items():
        texts[options[option]] = render(data)
    if options["suite_path"]:
        from scanner.audit.suite import build_suite

        suite = build_suite(data)
        texts[options["suite_path"]] = json.dumps(suite, ensure_ascii=False, indent=2)
    _write_all(texts, data.get("recorded_transfer_id"))


def _write_all(texts: dict[str, str], recorded_transfer_id: int | None) -> None:
    staged: list[tuple[str, str]] = []
    path = ""
    try:
        for path, text in texts.items():
            temporary = _stage(path, text)
            if temporary:
                staged.append((temporary, path))
        for temporary, path in staged:
            os.replace(temporary, path)
    except OSError as exc:
        for temporary, _ in staged:
            Path(temporary).unlink(missing_ok=True)
        recorded = (
            f"; the transfer is already recorded in the ledger as transfer "
            f"{recorded_transfer_id}, so rerun without --record"
            if recorded_transfer_id is not None
            else ""
        )
        _fail(f"cannot write {path}: {exc.strerror}{recorded}", EXIT_ERROR)


def _stage(path: str, text: str) -> str | None:
    """Write ``text`` to a new file beside ``path`` and return its name.

    A device or pipe is written directly, and None is returned for it.
    """
    target = Path(path)
    body = text + ("" if text.endswith("\n") else "\n")
    if target.exists() and not target.is_file():
        target.write_text(body, "utf-8")
        return None
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(body)
    # mkstemp creates the file readable by its owner only; give it the mode
    # a plain write would have.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)
    return temporary


def print_audit_summary(data: dict[str, Any], out: IO[str]) -> None:
    """Print the route, the counts and the rows that fired, as plain text."""
    decision = data["decision"]
    route = f"route: {decision['route']} ({decision['route_text']})"
    if data["failures"]:
        # An unread dataset can only add people, important data or flags.
        route = (
            f"route, as a lower bound: {decision['route']} "
            f"({decision['route_text']}); {len(data['failures'])} dataset(s) "
            "not read or counted, listed below"
        )
    lines = [
        route,
        f"exit code: {data['exit_code']}",
        *_count_lines(data["counts"]),
        "route table:",
    ]
    for row in decision["rows"]:
        mark = "fired" if row["fired"] else "     "
        lines.append(f"  {row['row']}  {mark}  {row['condition']}")

    if data["important"]:
        found = sorted({item["label"] for item in data["important"]})
        lines.append("important data: " + ", ".join(found))
    if data["flags"]:
        lines.append("flags: " + ", ".join(data["flags"]))
    if decision["pipl_duties"]:
        lines.append("PIPL duties: " + ", ".join(decision["pipl_duties"]))
    lines += [f"note: {note}" for note in decision["notes"]]
    lines += [
        f"failed: {failure['uri']}: {failure['reason']}: {failure['message']}"
        for failure in data["failures"]
    ]
    if data.get("recorded_transfer_id") is not None:
        lines.append(
            f"recorded in the ledger as transfer {data['recorded_transfer_id']}"
        )
    out.write("\n".join(lines) + "\n")


def _count_lines(counts: dict[str, Any]) -> list[str]:
    method = counts["method"]
    if counts["error_bound"] is not None:
        method += f", error bound ±{counts['error_bound']:.0%}"
    lines = [f"counts ({method}, year {counts['year']}):"]
    for key in (
        "this_transfer",
        "already_this_year",
        "year_total",
        "dropped_by_exemption",
    ):
        people = counts[key]
        lines.append(
            f"  {key.replace('_', ' '):22} personal {people['personal']:>12,}  "
            f"sensitive {people['sensitive']:>12,}"
        )
    return lines


@click.group()
def ledger() -> None:
    """Read the yearly export ledger kept in the catalog."""


@ledger.command("list")
@click.option("--year", type=int, help="Show only transfers of this calendar year.")
@click.option(
    "--catalog",
    "catalog_url",
    metavar="URL",
    envvar="CARDEX_CATALOG",
    help="SQLAlchemy URL of the catalog database [env CARDEX_CATALOG].",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def ledger_list(year: int | None, catalog_url: str | None, as_json: bool) -> None:
    """List recorded transfers with the people each added."""
    from scanner.audit.ledger import Ledger
    from scanner.errors import CatalogError, UsageError

    try:
        store = Ledger(catalog_url)
        try:
            records = store.list_transfers(year)
        finally:
            store.close()
    except UsageError as exc:
        _fail(str(exc), EXIT_USAGE)
    except CatalogError as exc:
        _fail(str(exc), EXIT_ERROR)
    if as_json:
        click.echo(
            json.dumps([r.to_dict() for r in records], ensure_ascii=False, indent=2)
        )
        return
    click.echo(
        f"{'id':>4}  {'year':4}  {'recorded at':25}  {'processor':20}  "
        f"{'destination':11}  {'route':25}  {'personal':>10}  {'sensitive':>10}"
    )
    for record in records:
        click.echo(
            f"{record.id:>4}  {record.year:4}  {record.recorded_at:25}  "
            f"{record.processor[:20]:20}  {record.destination[:11]:11}  "
            f"{record.route:25}  {record.personal:>10,}  {record.sensitive:>10,}"
        )
