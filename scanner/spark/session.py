"""Start a SparkSession for cardex, or join the one spark-submit created."""

from __future__ import annotations

import logging
import os
import shutil
import sys
import warnings
from typing import TYPE_CHECKING

from scanner.errors import CardexError, MissingExtraError, UsageError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)

# Master used when neither --spark-master nor spark-submit names one: every
# core of this machine, with the driver bound to the loopback address.
LOCAL_MASTER = "local[*]"
LOOPBACK = "127.0.0.1"
APP_NAME = "cardex"
# Set by spark-submit for the Python driver it starts (PySpark's
# java_gateway module connects to that port instead of launching a JVM).
SUBMIT_GATEWAY = "PYSPARK_GATEWAY_PORT"


class SparkJobError(CardexError):
    """A Spark job failed as a whole, not one dataset in it."""


def require_spark() -> None:
    """Raise ``MissingExtraError`` without PySpark, ``UsageError`` without Java."""
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError("pyspark", "spark", "--engine spark") from exc
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        raise UsageError(
            "--engine spark needs a Java runtime (tested with Java 17), but "
            "JAVA_HOME is not set and no java is on PATH; install Java or use "
            "--engine local"
        )


def start_session(master: str | None = None) -> SparkSession:
    """Return the active SparkSession, or start one on ``master``.

    Without ``master``, a driver started by spark-submit uses the master and
    settings spark-submit passed, and any other process runs ``local[*]``.
    A local master binds the driver to 127.0.0.1 and has no web UI, so a
    local run opens no port on other interfaces. Executors run this Python
    interpreter unless PYSPARK_PYTHON names another.
    """
    require_spark()
    # PySpark 4.x warns that pandas 3 is not fully supported. cardex sends
    # Arrow batches (mapInArrow) and never converts to pandas.
    warnings.filterwarnings(
        "ignore",
        message="PySpark does not yet fully support pandas",
        category=FutureWarning,
    )
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

    builder = SparkSession.builder
    if master is None and SUBMIT_GATEWAY in os.environ:
        # spark-submit set the master, the application name and the rest.
        chosen = "the master spark-submit set"
    else:
        chosen = master or LOCAL_MASTER
        builder = builder.appName(APP_NAME).master(chosen)
    builder = builder.config("spark.sql.execution.arrow.pyspark.enabled", "true")
    builder = builder.config("spark.ui.showConsoleProgress", "false")
    if chosen.startswith("local"):
        # Without SPARK_LOCAL_IP, Spark binds to the first non-loopback
        # interface when the host name resolves to 127.0.0.1.
        os.environ.setdefault("SPARK_LOCAL_IP", LOOPBACK)
        builder = builder.config("spark.driver.bindAddress", LOOPBACK)
        builder = builder.config("spark.driver.host", LOOPBACK)
        builder = builder.config("spark.ui.enabled", "false")
    from pyspark.errors import PySparkException

    try:
        session = builder.getOrCreate()
    except PySparkException as exc:
        raise SparkJobError(
            f"starting Spark on {chosen} failed: {exc}; check JAVA_HOME and "
            "--spark-master"
        ) from exc
    logger.info("Spark %s session on %s", session.version, chosen)
    return session
