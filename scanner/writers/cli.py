"""The ``cardex push`` command and the ``--push`` step of ``cardex scan``.

Exit codes of ``cardex push``:

    0  every dataset was pushed (or, with --dry-run, planned)
    1  failure: the local catalog or the remote catalog failed for every
       dataset, or the vocabulary could not be created
    2  usage error: invalid target, configuration or option
    3  partial: some datasets failed; run the push again to finish them
    130  interrupted (Ctrl-C)

``cardex scan --push`` pushes after a scan that did not fail outright, and
exits with 4 when a push failed or was partial.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import click

from scanner.exits import fail as _fail

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_PUSH_FAILED = 4
EXIT_INTERRUPTED = 130
STATUS_CODES = {"ok": EXIT_OK, "partial": EXIT_PARTIAL, "failed": EXIT_FAILURE}

PUSH_EPILOG = """\b
Targets:
  datahub+https://HOST[:PORT]         DataHub GMS (token from $DATAHUB_GMS_TOKEN)
  datahub-file:PATH                   a JSON file for 'datahub ingest'
  datahub-lite:PATH                   a DataHub Lite DuckDB store
  openmetadata+https://HOST[:PORT]    OpenMetadata (token from $OPENMETADATA_TOKEN)
Options go in the query: ?token_env=NAME&vocabulary=glossary&env=PROD&
platform_instance=NAME&service=NAME&config=PATH.

\b
Exit codes:
  0  every dataset was pushed (or planned, with --dry-run)
  1  failure: nothing could be pushed
  2  usage error: invalid target, configuration or option
  3  partial: some datasets failed; run the push again to finish them
  130  interrupted (Ctrl-C); run the push again to finish it"""


def check_targets(targets: Sequence[str], config_path: str | None) -> list[Any]:
    """Validate push targets and import their writers before any work starts.

    Checks the syntax of each target, that its writer plugin imports (only
    the writers the targets name), and what the writer checks without a
    connection, such as a DataHub Lite path being a DuckDB database. Raises
    ``UsageError``, ``MissingExtraError`` or ``PluginError``.
    """
    from scanner.writers.base import check_writer
    from scanner.writers.config import parse_target

    configs = [parse_target(target, config_path) for target in targets]
    for config in configs:
        check_writer(config)
    return configs


def _echo_report(report: Any, verbose: bool, err: bool = False) -> None:
    click.echo(f"{report.target}: {_summary(report)}", err=err)
    written = report.dry_run or not report.error
    if report.vocabulary_created and written:
        created = "would create" if report.dry_run else "created"
        if report.target.startswith("datahub-file:"):
            # A proposals file cannot be read back, so it proposes every tag.
            created = "would propose" if report.dry_run else "proposed"
        click.echo(
            f"  {created} {len(report.vocabulary_created)} tags or terms", err=err
        )
    if report.error:
        click.echo(f"  error: {report.error}", err=err)
    for dataset in report.datasets:
        if dataset.error:
            click.echo(f"  failed {dataset.uri}: {dataset.error}", err=err)
        listed = [c for c in dataset.changes if verbose or c.action != "skip"]
        if not (report.dry_run or verbose) or not listed:
            continue
        click.echo(f"  {dataset.uri} -> {dataset.remote_id}", err=err)
        for change in listed:
            where = f"column {change.column}" if change.column else "dataset"
            click.echo(
                f"    {change.action:6} {change.label_id} on {where}: {change.reason}",
                err=err,
            )


def _summary(report: Any) -> str:
    """Return the one-line count of a push; datasets pushed exclude failed ones."""
    total = len(report.datasets)
    if report.error and not report.dry_run:
        # The writer failed as a whole (the file was not written, or the
        # vocabulary could not be created): no dataset reached the target.
        return f"pushed 0 of {total} datasets; {total} failed"
    verb = "would push" if report.dry_run else "pushed"
    failed = len(report.failed)
    return (
        f"{verb} {total - failed} of {total} datasets: "
        f"{report.count('add')} added, {report.count('update')} updated, "
        f"{report.count('remove')} removed, {report.count('skip')} left alone, "
        f"{failed} failed"
    )


def run_push(
    targets: Sequence[str],
    catalog_url: str | None,
    config_path: str | None = None,
    rules_path: str | None = None,
    datasets: Sequence[str] = (),
    dry_run: bool = False,
    as_json: bool = False,
    verbose: bool = False,
    err: bool = False,
) -> int:
    """Push to every target, print what happened and return the exit code.

    Exits with 130 on Ctrl-C; the push records then hold every label written
    so far, so running the push again finishes it.
    """
    try:
        return _push_and_report(
            targets,
            catalog_url,
            config_path,
            rules_path,
            datasets,
            dry_run,
            as_json,
            verbose,
            err,
        )
    except KeyboardInterrupt:
        _fail("interrupted; run the push again to finish it", EXIT_INTERRUPTED)


def _push_and_report(
    targets: Sequence[str],
    catalog_url: str | None,
    config_path: str | None,
    rules_path: str | None,
    datasets: Sequence[str],
    dry_run: bool,
    as_json: bool,
    verbose: bool,
    err: bool,
) -> int:
    from scanner.catalog import open_catalog
    from scanner.errors import CatalogError, MissingExtraError, PluginError, UsageError
    from scanner.writers.push import push_catalog

    try:
        configs = check_targets(targets, config_path)
        from classifiers.rulepack import load_rule_pack

        rules = load_rule_pack(rules_path)
        store = open_catalog(catalog_url, create=False)
    except (UsageError, MissingExtraError) as exc:
        _fail(str(exc), EXIT_USAGE)
    except (CatalogError, PluginError) as exc:
        _fail(str(exc), EXIT_FAILURE)
    reports = []
    try:
        for config in configs:
            reports.append(
                push_catalog(store, config, dry_run, list(datasets) or None, rules)
            )
    except (UsageError, MissingExtraError) as exc:
        _fail(str(exc), EXIT_USAGE)
    except (CatalogError, PluginError) as exc:
        _fail(str(exc), EXIT_FAILURE)
    finally:
        store.close()
    if as_json:
        payload = [report.to_dict() for report in reports]
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        for report in reports:
            _echo_report(report, verbose, err)
    return max(STATUS_CODES[report.status] for report in reports)


@click.command("push", epilog=PUSH_EPILOG)
@click.argument("targets", nargs=-1, required=True, metavar="TARGET...")
@click.option(
    "--catalog",
    "catalog_url",
    metavar="URL",
    envvar="CARDEX_CATALOG",
    help="SQLAlchemy URL of the local catalog to publish [env CARDEX_CATALOG].",
)
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    type=click.Path(dir_okay=False),
    help="YAML push configuration: server, token_env, vocabulary and per-source "
    "mappings (platform, platform_instance, env, service, database, schema).",
)
@click.option(
    "--dataset",
    "datasets",
    multiple=True,
    metavar="DATASET",
    help="Push only this dataset (URI, or name when unique); repeatable.",
)
@click.option(
    "--rules",
    "rules_path",
    metavar="PATH",
    help="Rule pack merged over the shipped one, for label names and grounds.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Read the remote catalog and print the changes without making them.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.option(
    "-v", "--verbose", is_flag=True, help="Also list labels left alone, with why."
)
def push(
    targets: tuple[str, ...],
    catalog_url: str | None,
    config_path: str | None,
    datasets: tuple[str, ...],
    rules_path: str | None,
    dry_run: bool,
    as_json: bool,
    verbose: bool,
) -> None:
    """Publish the labels of the local catalog to TARGET... (DataHub, OpenMetadata).

    Labels a person confirmed are never removed, labels a person rejected are
    never added, and tags a person set in the remote catalog are left alone.
    A failed push can be run again: it finishes what is missing.
    """
    code = run_push(
        targets,
        catalog_url,
        config_path,
        rules_path,
        datasets,
        dry_run,
        as_json,
        verbose,
    )
    sys.exit(code)


def push_after_scan(
    targets: Sequence[str],
    catalog_url: str | None,
    config_path: str | None,
    rules_path: str | None,
) -> int:
    """Push after ``cardex scan`` and return 0, or 4 when a push was not complete."""
    # Standard output may carry the scan's JSON report, so the push reports
    # on standard error.
    reports_code = run_push(targets, catalog_url, config_path, rules_path, err=True)
    return EXIT_OK if reports_code == EXIT_OK else EXIT_PUSH_FAILED
