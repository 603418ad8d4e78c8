"""Sample and classify datasets as Spark tasks, one task per dataset.

With ``--full`` a second job classifies every file of the columnar
datasets whole, one task a file (``scanner.full``), and the driver merges
each dataset's files in order.

The driver lists the datasets, decides which to skip (``--changed-only``,
``--resume``) as the local engine does, and sends the rest to Spark. Each
task unpickles a dataset handle, samples and classifies it with
``Scanner.scan_dataset`` and the driver's rule pack and classifiers, and
returns the result as JSON. The driver then stores the results in the
catalog through the local engine's code, in the order the datasets were
found, so labels, catalog rows and reports are the same on both engines.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from classifiers.base import Classifier
from classifiers.rulepack import RulePack
from scanner.catalog import CatalogStore
from scanner.engine import (
    ProgressCallback,
    Scanner,
    ScanOptions,
    ScanOutcome,
    is_unchanged,
    printable,
    read_fingerprint,
)
from scanner.full import classify_file, finish_full_scan, full_files, whole_files
from scanner.masking import redact_text
from scanner.model import DatasetFailure, DatasetHandle, DatasetResult
from scanner.spark.results import result_from_json, result_to_json
from scanner.spark.session import SparkJobError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)

TASK_SCHEMA = "handle BINARY"
RESULT_SCHEMA = "result STRING"
FILE_TASK_SCHEMA = "handle BINARY, uri STRING, part INT, format STRING"
FILE_RESULT_SCHEMA = "uri STRING, part INT, result STRING"


class _ExecutorScanner(Scanner):
    """The parts of a ``Scanner`` that ``scan_dataset`` uses, in an executor.

    It lists no sources and opens no catalog: ``scan_dataset`` reads only
    ``options.sample_size``, ``classifiers`` and ``rules``.
    """

    def __init__(
        self,
        sample_size: int,
        rules: RulePack,
        classifier_types: Sequence[type[Classifier]],
    ) -> None:
        self.options = ScanOptions(sources=(), sample_size=sample_size)
        self.rules = rules
        self.classifiers = [cls(rules) for cls in classifier_types]


# Executor scanners by settings hash, so that a reused Python worker builds
# the classifiers once per scan, not once per dataset.
_EXECUTOR_SCANNERS: dict[str, _ExecutorScanner] = {}


def _classify_task(
    settings: str,
    sample_size: int,
    rules: RulePack,
    classifier_types: Sequence[type[Classifier]],
) -> Any:
    """Return the function that ``mapInArrow`` runs on batches of handles."""

    def classify(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        worker = _EXECUTOR_SCANNERS.get(settings)
        if worker is None:
            worker = _ExecutorScanner(sample_size, rules, classifier_types)
            _EXECUTOR_SCANNERS[settings] = worker
        for batch in batches:
            for task in batch.to_pylist():
                handle: DatasetHandle = pickle.loads(task["handle"])
                result = worker.scan_dataset(handle)
                yield pa.record_batch(
                    [pa.array([result_to_json(result)], pa.string())],
                    names=["result"],
                )

    return classify


def _full_scan_task(
    settings: str,
    chunk_rows: int,
    rules: RulePack,
    classifier_types: Sequence[type[Classifier]],
) -> Any:
    """Return the function that classifies whole files of datasets in tasks."""

    # Keyed apart from the sampling job's scanner, which has a sample size.
    key = f"{settings}:full"

    def classify(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        worker = _EXECUTOR_SCANNERS.get(key)
        if worker is None:
            worker = _ExecutorScanner(1, rules, classifier_types)
            _EXECUTOR_SCANNERS[key] = worker
        for batch in batches:
            for task in batch.to_pylist():
                handle: DatasetHandle = pickle.loads(task["handle"])
                files = whole_files(handle)
                assert files is not None, "only file datasets are sent"
                partial = classify_file(
                    files.files[task["part"]],
                    files,
                    task["format"],
                    chunk_rows,
                    worker.classifiers,
                    worker.rules,
                )
                yield pa.record_batch(
                    [
                        pa.array([task["uri"]], pa.string()),
                        pa.array([task["part"]], pa.int32()),
                        pa.array([result_to_json(partial)], pa.string()),
                    ],
                    names=["uri", "part", "result"],
                )

    return classify


class SparkScanner(Scanner):
    """A ``Scanner`` that samples and classifies datasets as Spark tasks.

    Handles that cannot be pickled (database tables, whose handles hold a
    connection pool) are sampled and classified on the driver instead.
    """

    def __init__(
        self,
        options: ScanOptions,
        spark: SparkSession,
        progress: ProgressCallback | None = None,
    ) -> None:
        super().__init__(options, progress)
        self.spark = spark
        self._listed: list[DatasetHandle | DatasetFailure] = []
        self._classified: dict[str, DatasetResult] = {}

    def _scan_all(self, outcome: ScanOutcome, catalog: CatalogStore | None) -> None:
        """List every dataset, classify them in Spark, then store as usual."""
        self._listed = list(super()._discover())
        handles = [
            item
            for item in self._listed
            if isinstance(item, DatasetHandle) and self._needs_scan(item)
        ]
        self._classified = self._classify(handles)
        super()._scan_all(outcome, catalog)

    def _discover(self) -> Iterator[DatasetHandle | DatasetFailure]:
        yield from self._listed

    def scan_dataset(self, handle: DatasetHandle) -> DatasetResult:
        """Return the result Spark computed, or scan the dataset here."""
        result = self._classified.pop(printable(handle.uri), None)
        if result is None:
            return super().scan_dataset(handle)
        logger.info(
            "scanned %s in Spark: %d rows sampled, %d columns, %d errors",
            result.uri,
            result.sampled_rows,
            len(result.columns),
            len(result.errors),
        )
        return result

    def _needs_scan(self, handle: DatasetHandle) -> bool:
        """Tell whether ``_process`` will scan ``handle`` rather than skip it."""
        uri = printable(handle.uri)
        if uri in self._done_before:
            return False
        stored = self._stored.get(uri) if self._stored is not None else None
        if not self.options.changed_only or stored is None:
            return True
        fingerprint = read_fingerprint(handle)
        return not is_unchanged(stored, fingerprint, self.settings_hash)

    def _classify(self, handles: Sequence[DatasetHandle]) -> dict[str, DatasetResult]:
        """Classify ``handles`` in Spark and return the results by URI."""
        tasks = []
        for handle in handles:
            try:
                tasks.append((pickle.dumps(handle),))
            except (pickle.PicklingError, TypeError, AttributeError):
                logger.info(
                    "classifying %s on the driver: its handle cannot be sent "
                    "to executors",
                    printable(handle.uri),
                )
                continue
        if not tasks:
            return {}
        rows = self._run_job(tasks)
        results = {}
        for row in rows:
            result = result_from_json(row["result"])
            results[result.uri] = result
        logger.info("classified %d datasets in Spark", len(results))
        if self.options.full:
            self._classify_whole(handles, results)
        return results

    def _classify_whole(
        self, handles: Sequence[DatasetHandle], results: dict[str, DatasetResult]
    ) -> None:
        """Classify every file of the sampled datasets in Spark, one task a file.

        The per-file results are merged in file order, as the local engine
        merges them, so both give the same labels.
        """
        tasks: list[tuple[bytes, str, int, str]] = []
        accepted: list[str] = []
        for handle in handles:
            uri = printable(handle.uri)
            result = results.get(uri)
            if result is None:
                continue
            files = full_files(handle, result)
            if files is None:
                continue
            accepted.append(uri)
            pickled = pickle.dumps(handle)
            tasks.extend(
                (pickled, uri, part, result.format) for part in range(len(files.files))
            )
        parts: dict[str, list[tuple[int, DatasetResult]]] = {
            uri: [] for uri in accepted
        }
        if tasks:
            self._run_file_tasks(tasks, parts)
        for uri, found in parts.items():
            ordered = sorted(found, key=lambda item: item[0])
            finish_full_scan(results[uri], [part for _, part in ordered])

    def _run_file_tasks(
        self,
        tasks: list[tuple[bytes, str, int, str]],
        parts: dict[str, list[tuple[int, DatasetResult]]],
    ) -> None:
        """Classify one file a task; add each result to ``parts`` by dataset."""
        function = _full_scan_task(
            self.settings_hash,
            self.options.chunk_rows,
            self.rules,
            [type(classifier) for classifier in self.classifiers],
        )
        rdd = self.spark.sparkContext.parallelize(tasks, len(tasks))
        frame = self.spark.createDataFrame(rdd, FILE_TASK_SCHEMA)
        rows = self._collect_rows(frame.mapInArrow(function, FILE_RESULT_SCHEMA))
        for row in rows:
            parts[row["uri"]].append((row["part"], result_from_json(row["result"])))
        logger.info(
            "classified %d files of %d datasets whole in Spark", len(rows), len(parts)
        )

    def _run_job(self, tasks: list[tuple[bytes]]) -> list[Any]:
        classify = _classify_task(
            self.settings_hash,
            self.options.sample_size,
            self.rules,
            [type(classifier) for classifier in self.classifiers],
        )
        # One partition per dataset, so each dataset is its own task.
        rdd = self.spark.sparkContext.parallelize(tasks, len(tasks))
        frame = self.spark.createDataFrame(rdd, TASK_SCHEMA)
        return self._collect_rows(frame.mapInArrow(classify, RESULT_SCHEMA))

    def _collect_rows(self, frame: Any) -> list[Any]:
        """Run the job of ``frame`` and return its rows, or raise SparkJobError."""
        from py4j.protocol import Py4JJavaError
        from pyspark.errors import PySparkException

        try:
            return frame.collect()  # type: ignore[no-any-return]
        except (PySparkException, Py4JJavaError) as exc:
            lines = [line for line in str(exc).splitlines() if line.strip()]
            cause = redact_text(lines[-1] if lines else type(exc).__name__)
            raise SparkJobError(
                f"the Spark classification job failed: {cause}; check that "
                "executors have cardex and its dependencies installed and can "
                "read the sources"
            ) from exc
