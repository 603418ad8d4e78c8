"""The ``cardex run`` and ``cardex runs`` commands."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any

import click

from scanner.exits import fail as _fail
from scanner.runs.result import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_LOCKED,
    EXIT_USAGE,
)

CONFIG_ENV = "CARDEX_CONFIG"

RUN_EXIT_CODES = """\b
Exit codes:
  0   success: every dataset was scanned or skipped as unchanged
  1   failure: nothing could be scanned, the catalog failed,
      or on_error: fail stopped the run
  2   usage error: invalid configuration
  3   partial: some datasets or sources failed, or a push or an
      output file failed
  75  another run holds the lock; nothing was scanned
  130 interrupted (Ctrl-C or SIGTERM)"""


def _config_option(function: Any) -> Any:
    return click.option(
        "--config",
        "config_path",
        metavar="PATH",
        envvar=CONFIG_ENV,
        default="cardex.yaml",
        show_default=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help=f"Run configuration file [env {CONFIG_ENV}].",
    )(function)


def _load(config_path: Path) -> Any:
    from scanner.errors import UsageError
    from scanner.runs.config import load_config

    try:
        return load_config(config_path)
    except UsageError as exc:
        _fail(str(exc), EXIT_USAGE)


@click.command(epilog=RUN_EXIT_CODES)
@_config_option
@click.option(
    "--metrics",
    "metrics_path",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write Prometheus metrics of this run to FILE (overrides outputs.metrics).",
)
@click.option(
    "--summary",
    "summary_path",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the Markdown label-change summary to FILE (overrides outputs.summary).",
)
@click.option(
    "--check",
    is_flag=True,
    help="Check the configuration and print the next scheduled times; scan nothing.",
)
@click.option(
    "--log-format",
    type=click.Choice(["auto", "json", "text"]),
    default="auto",
    show_default=True,
    help="Log lines on standard error: JSON lines, text, or auto (JSON unless "
    "standard error is a terminal).",
)
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="Log debug output too (the default logs starts, stops, one line per "
    "dataset and every error).",
)
@click.option("-q", "--quiet", is_flag=True, help="Log errors only.")
def run(
    config_path: Path,
    metrics_path: Path | None,
    summary_path: Path | None,
    check: bool,
    log_format: str,
    verbose: int,
    quiet: bool,
) -> None:
    """Scan every source of the configuration once, under a lock.

    Unchanged datasets are skipped when the engine supports it. The run is
    recorded in the catalog ('cardex runs' lists the records). 'cardex run'
    does not wait for the schedule: cron, a systemd timer or Airflow starts
    it.
    """
    from scanner.cli import _configure_logging

    _configure_logging(verbose + 1, quiet, log_format)
    config = _load(config_path)
    if check:
        _print_check(config)
        return
    # systemd and Airflow stop a run with SIGTERM: end it as Ctrl-C would, so
    # the run is recorded as interrupted and the lock is released.
    signal.signal(signal.SIGTERM, _interrupt)
    result = _execute(config, config_path, metrics_path, summary_path)
    counts = result.counts()
    click.echo(
        f"run {result.run_id} {result.status} (exit {result.exit_code}): "
        f"{counts['datasets_scanned']} scanned, {counts['datasets_skipped']} "
        f"skipped, {counts['datasets_failed']} failed; labels "
        f"+{counts['labels_added']} -{counts['labels_removed']} in "
        f"{result.duration_seconds:.1f} s"
    )
    sys.exit(result.exit_code)


def _interrupt(signal_number: int, frame: object) -> None:
    raise KeyboardInterrupt


def _execute(
    config: Any,
    config_path: Path,
    metrics_path: Path | None,
    summary_path: Path | None,
) -> Any:
    from scanner.errors import CatalogError, UsageError
    from scanner.runs.lock import LockHeldError
    from scanner.runs.runner import Run

    overrides = {}
    if metrics_path is not None:
        overrides["metrics"] = metrics_path.resolve()
    if summary_path is not None:
        overrides["summary"] = summary_path.resolve()
    outputs = config.outputs.model_copy(update=overrides)
    try:
        return Run(config, config_path, outputs).execute()
    except LockHeldError as exc:
        _fail(str(exc), EXIT_LOCKED)
    except UsageError as exc:
        _fail(str(exc), EXIT_USAGE)
    except CatalogError as exc:
        _fail(str(exc), EXIT_FAILURE)
    except KeyboardInterrupt:
        _fail("interrupted; the run is recorded as interrupted", EXIT_INTERRUPTED)


def _print_check(config: Any) -> None:
    click.echo(f"configuration valid: {len(config.sources)} sources")
    if config.schedule is None:
        click.echo("no schedule set")
        return
    import datetime as dt

    from croniter import croniter

    times = croniter(config.schedule, dt.datetime.now(dt.UTC))
    upcoming = [times.get_next(dt.datetime).isoformat() for _ in range(3)]
    click.echo(f"schedule {config.schedule!r}; next (UTC): {', '.join(upcoming)}")


@click.command("runs")
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    envvar=CONFIG_ENV,
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Read the catalog URL from this run configuration [env {CONFIG_ENV}].",
)
@click.option(
    "--catalog",
    "catalog_url",
    metavar="URL",
    envvar="CARDEX_CATALOG",
    help="SQLAlchemy URL of the catalog database; wins over --config.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Show at most this many runs, newest first.",
)
def runs(
    config_path: Path | None, catalog_url: str | None, as_json: bool, limit: int
) -> None:
    """List past runs recorded in the catalog, newest first."""
    records = _read_runs(config_path, catalog_url, limit)
    if as_json:
        payload = [record.to_dict() for record in records]
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    _print_runs(records)


def _read_runs(config_path: Path | None, catalog_url: str | None, limit: int) -> Any:
    from scanner.catalog import default_catalog_url
    from scanner.errors import CatalogError, UsageError
    from scanner.runs.store import RunStore

    if catalog_url is None and config_path is not None:
        catalog_url = _load(config_path).catalog.url
    try:
        store = RunStore(catalog_url or default_catalog_url(), create=False)
        try:
            return store.list(limit)
        finally:
            store.close()
    except UsageError as exc:
        _fail(str(exc), EXIT_USAGE)
    except CatalogError as exc:
        _fail(str(exc), EXIT_FAILURE)


def _print_runs(records: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table()
    headings = (
        "run",
        "started",
        "status",
        "exit",
        "scanned",
        "skipped",
        "failed",
        "labels +/-",
        "seconds",
    )
    for heading in headings:
        table.add_column(heading)
    for record in records:
        counts = record.counts
        seconds = record.duration_seconds
        table.add_row(
            str(record.id),
            record.started_at,
            record.status,
            "-" if record.exit_code is None else str(record.exit_code),
            str(counts.get("datasets_scanned", "-")),
            str(counts.get("datasets_skipped", "-")),
            str(counts.get("datasets_failed", "-")),
            f"+{counts.get('labels_added', 0)} -{counts.get('labels_removed', 0)}",
            "-" if seconds is None else f"{seconds:.1f}",
        )
    Console().print(table)
