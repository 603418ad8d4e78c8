"""The ``--engine`` and ``--spark-master`` options of ``cardex scan`` and ``audit``.

This module imports neither PySpark nor the engines at import time, so that
``--help`` stays fast and ``--engine local`` works without PySpark.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from scanner.audit.model import AuditResult
    from scanner.audit.run import AuditOptions
    from scanner.engine import ProgressCallback, Scanner, ScanOptions

ENGINES = ("local", "spark")
Command = TypeVar("Command", bound=Callable[..., Any])


def engine_options(command: Command) -> Command:
    """Add ``--engine`` and ``--spark-master`` to a click command."""
    command = click.option(
        "--spark-master",
        metavar="URL",
        envvar="CARDEX_SPARK_MASTER",
        help="Spark master for --engine spark, e.g. local[4] or "
        "spark://host:7077 [env CARDEX_SPARK_MASTER; default: the one "
        "spark-submit set, else local[*] bound to 127.0.0.1].",
    )(command)
    return click.option(
        "--engine",
        type=click.Choice(ENGINES),
        default="local",
        show_default=True,
        help="Where datasets are classified and people counted: in this "
        "process, or as Apache Spark jobs (needs pyspark and Java; see "
        "docs/spark.md).",
    )(command)


def make_scanner(
    engine: str,
    spark_master: str | None,
    options: ScanOptions,
    progress: ProgressCallback | None = None,
) -> Scanner:
    """Build the scanner of ``engine``, starting or joining Spark for ``spark``."""
    if engine == "spark":
        from scanner.spark.scan import SparkScanner
        from scanner.spark.session import start_session

        return SparkScanner(options, start_session(spark_master), progress)
    from scanner.engine import Scanner

    return Scanner(options, progress)


def run_audit_on(
    engine: str, spark_master: str | None, options: AuditOptions
) -> AuditResult:
    """Run the audit of ``options`` on ``engine``.

    A failed Spark job becomes ``AuditError``, so the command exits with
    the counting-error code.
    """
    from scanner.audit.run import AuditError, run_audit

    if engine != "spark":
        return run_audit(options)
    from scanner.spark.audit import run_spark_audit
    from scanner.spark.session import SparkJobError, start_session

    try:
        return run_spark_audit(options, start_session(spark_master))
    except SparkJobError as exc:
        raise AuditError(str(exc)) from exc
