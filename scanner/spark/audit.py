"""Run an export audit whose scan and people count are Spark jobs.

The steps are those of ``scanner.audit.run.run_audit``, which this module
reuses: plan the datasets, count the people, add the ledger's year, decide
the route, record. Only the engine differs: datasets are classified by
``SparkScanner`` and people are counted by ``SparkPeopleCounter``, so the
report, the route and the exit code are built by the same code as for the
local engine.
"""

from __future__ import annotations

import base64
import datetime as dt
import pickle
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.dataset as ds

from connectors.files.handles import FileDataset, PartitionedDataset
from connectors.sql import SqlTableHandle
from scanner.audit import run
from scanner.audit.ledger import Ledger
from scanner.audit.model import AuditResult
from scanner.audit.readers import DATASET_FORMATS
from scanner.engine import ScanOptions
from scanner.errors import DatasetError
from scanner.model import PATH_SEPARATOR, DatasetHandle, DatasetResult
from scanner.spark.counting import KeySource, SparkPeopleCounter
from scanner.spark.scan import SparkScanner

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class _HandleKeepingSparkScanner(SparkScanner):
    """A Spark scanner that keeps each dataset's handle, to count it later."""

    def __init__(self, options: ScanOptions, spark: SparkSession) -> None:
        super().__init__(options, spark)
        self.handles: dict[str, DatasetHandle] = {}

    def scan_dataset(self, handle: DatasetHandle) -> DatasetResult:
        result = super().scan_dataset(handle)
        self.handles[result.uri] = handle
        return result


def run_spark_audit(options: run.AuditOptions, spark: SparkSession) -> AuditResult:
    """Audit the sources of ``options`` with Spark and return the result.

    Raises what ``run_audit`` raises: ``UsageError`` for invalid options and
    ``AuditError`` (or ``CatalogError``) when counting or the ledger fails.
    """
    # NOTE: these are run_audit's steps, through its private helpers, with
    # the Spark scanner and counter. A change to run_audit needs the same
    # change here.
    scanner = _HandleKeepingSparkScanner(options.scan, spark)
    outcome = scanner.run()
    plan = run._plan(outcome, scanner.handles, options.context)
    sources = key_sources(plan, options.scan)
    today = options.today or dt.datetime.now(dt.UTC).date()

    ledger = Ledger(options.scan.catalog_url)
    try:
        with SparkPeopleCounter(
            spark, sources, options.temp_dir, options.memory_limit
        ) as counter:
            counts, unkeyed = run._count(plan, options, counter, ledger, today.year)
            result = run._result(outcome, plan, options.context, counts)
            if options.record:
                result.recorded_transfer_id = run._record(
                    result, options, counter, ledger, unkeyed
                )
    finally:
        ledger.close()
    return result


def key_sources(plan: run._Plan, scan: ScanOptions) -> dict[str, list[KeySource]]:
    """Describe where executors read each keyed dataset's key columns, by URI.

    Each dataset is one part, read by one task, except partitioned folders
    of local columnar files and files in object stores, which are read one
    file per task. Datasets of
    other kinds are left out. The local engine's planning marks them as not
    countable before they reach the counter.
    """
    sources: dict[str, list[KeySource]] = {}
    for dataset in plan.datasets:
        if dataset.key is None:
            continue
        handle = dataset.handle
        columns = dataset.key.columns
        file_format = dataset.result.format
        uri = dataset.result.uri
        stored = run._store_files(handle)
        if stored is not None:
            filesystem, paths = stored
            # NOTE: the store's filesystem, with its keys, travels to the
            # executors in the task data, like a database password.
            pickled = base64.b64encode(pickle.dumps(filesystem)).decode("ascii")
            sources[uri] = [
                KeySource("file", columns, path, file_format, filesystem=pickled)
                for path in paths
            ]
        elif isinstance(handle, FileDataset):
            sources[uri] = [KeySource("file", columns, handle.uri, file_format)]
        elif isinstance(handle, PartitionedDataset) and run.is_part_file_set(handle):
            sources[uri] = [
                KeySource("file", columns, item.path, file_format)
                for item in handle.files
            ]
        elif isinstance(handle, PartitionedDataset):
            sources[uri] = _folder_sources(handle.uri, file_format, columns)
        elif isinstance(handle, SqlTableHandle):
            sources[uri] = [_sql_source(handle, columns, scan)]
    return sources


def _folder_sources(
    path: str, file_format: str, columns: tuple[str, ...]
) -> list[KeySource]:
    """Split a partitioned folder into its files when every key is in them.

    A key that is a partition column (``phone=.../part-0.parquet``) is only
    in the folder names, so such folders stay one part, as do folders on
    object stores, whose file paths pyarrow lists without their scheme.
    """
    whole = [KeySource("partitioned", columns, path, file_format)]
    if "://" in path or file_format not in DATASET_FORMATS:
        return whole
    try:
        folder = ds.dataset(
            path, format=DATASET_FORMATS[file_format], partitioning="hive"
        )
        fragments = list(folder.get_fragments())
    except (OSError, pa.ArrowException):
        return whole
    roots = {column.split(PATH_SEPARATOR)[0] for column in columns}
    for fragment in fragments:
        if not roots <= set(fragment.physical_schema.names):
            return whole
    return [
        KeySource("file", columns, fragment.path, file_format) for fragment in fragments
    ]


def _sql_source(
    handle: SqlTableHandle, columns: tuple[str, ...], scan: ScanOptions
) -> KeySource:
    # NOTE: the source URL, password included, travels to the executors in
    # the task data, because they connect to the database themselves.
    try:
        table = run._sql_table(handle, scan)
    except DatasetError:
        # Counting reports this table as not countable when it opens it.
        return KeySource("sql", columns)
    return KeySource(
        "sql",
        columns,
        sql_source=table.source,
        sql_schema=table.schema,
        sql_name=table.name,
        timeout=table.timeout,
    )
