"""Count the distinct people of an audit as Spark jobs.

Each dataset to count becomes a work unit: its URI, how to open its key
columns, its key type and its flags. Spark runs one task per unit. The task
opens the key columns with the same readers as the local engine
(``scanner.audit.readers``) and normalises every key with the same DuckDB
SQL (``normalised_key_sql``), so a key is normalised identically on both
engines. Spark then groups the keys of all datasets, as ``PeopleCounter``
does in DuckDB: one person per (key type, normalised key). A person is
sensitive when their key is in a dataset that contains sensitive personal
information and is not covered by an exemption. A person is covered when only
covered datasets contain their key.

The ledger stays on the driver. ``hash_people`` computes each counted
person's HMAC in Spark and only the (hash, sensitive) rows come back to the
driver's DuckDB, where ``year_total`` and ``new_hashes`` of the local counter
run unchanged.
"""

from __future__ import annotations

import base64
import json
import logging
import pickle
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from scanner.audit.counting import (
    APPROXIMATE_ERROR,
    KeySet,
    PeopleCounter,
    TransferCount,
    normalised_key_sql,
)
from scanner.audit.model import PeopleCount
from scanner.audit.readers import KeyColumns, SqlTable, open_file_keys, open_sql_keys
from scanner.errors import DatasetError
from scanner.masking import redact_text

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

logger = logging.getLogger(__name__)

# Rows per Arrow batch a task sends back to Spark.
KEY_BATCH_ROWS = 50_000
# Spark's approx_count_distinct takes the maximum allowed relative standard
# deviation (PySpark 4.3 docstring). A quarter of the error bound that the
# report states puts that bound at four standard deviations. This margin is
# an assumption: it was not measured, unlike the local engine's.
SPARK_RSD = APPROXIMATE_ERROR / 4
# HMAC block size of SHA-256, in bytes (RFC 2104, FIPS 180-4).
_BLOCK_BYTES = 64

UNIT_SCHEMA = (
    "dataset INT, uri STRING, key_type STRING, sensitive BOOLEAN, "
    "covered BOOLEAN, source STRING"
)
KEY_SCHEMA = (
    "dataset INT, key_type STRING, key STRING, sensitive BOOLEAN, covered BOOLEAN"
)


@dataclass(frozen=True)
class KeySource:
    """The location of one dataset's key columns, for an executor to open.

    ``kind`` is ``file``, ``partitioned`` (a Hive-partitioned folder) or
    ``sql``. Files use ``path`` and ``file_format``, and files in an object
    store ``filesystem``: the store's pyarrow filesystem, pickled and
    base64-encoded. Database tables use ``sql_source`` (the source URL, with
    its password), ``sql_schema``, ``sql_name`` and ``timeout``.
    """

    kind: str
    columns: tuple[str, ...]
    path: str = ""
    file_format: str = ""
    sql_source: str = ""
    sql_schema: str = ""
    sql_name: str = ""
    timeout: float = 60.0
    filesystem: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> KeySource:
        data = json.loads(text)
        data["columns"] = tuple(data["columns"])
        return cls(**data)


def open_key_source(source: KeySource) -> list[KeyColumns]:
    """Open the key columns of ``source`` with the local engine's readers."""
    if source.kind in ("file", "partitioned"):
        partitioned = source.kind == "partitioned"
        filesystem = None
        if source.filesystem:
            filesystem = pickle.loads(base64.b64decode(source.filesystem))
        keys = open_file_keys(
            source.path, source.file_format, source.columns, partitioned, filesystem
        )
        return [keys]
    if source.kind == "sql":
        table = SqlTable(
            source.sql_source, source.sql_schema, source.sql_name, source.timeout
        )
        return open_sql_keys(table, source.columns)
    raise DatasetError(f"cannot read {source.kind} datasets whole to count people")


def _raw_select(keys: KeyColumns, name: str) -> str:
    """Select every key value of ``keys`` as one VARCHAR column ``raw``.

    The same SELECT as ``PeopleCounter`` builds for one registered source.
    """
    if len(keys.expressions) == 1:
        return f"SELECT {keys.expressions[0]} AS raw FROM {name}"
    listed = ", ".join(keys.expressions)
    return f"SELECT unnest([{listed}]) AS raw FROM {name}"


def _duckdb(temp_dir: str) -> duckdb.DuckDBPyConnection:
    # The same restrictions as PeopleCounter's DuckDB. One thread, because
    # Spark gives each task one core (spark.task.cpus defaults to 1).
    return duckdb.connect(
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "enable_external_access": False,
            "temp_directory": temp_dir,
            "threads": 1,
        }
    )


def normalised_keys(keys: KeyColumns, key_type: str) -> Iterator[pa.RecordBatch]:
    """Yield the distinct non-null normalised keys of ``keys`` as ``key`` batches."""
    spill = tempfile.TemporaryDirectory(prefix="cardex-spark-keys-")
    connection = _duckdb(spill.name)
    try:
        connection.register("source", keys.data)
        key = normalised_key_sql(key_type, "raw")
        query = (
            f"SELECT DISTINCT key FROM (SELECT {key} AS key FROM "
            f"({_raw_select(keys, 'source')})) WHERE key IS NOT NULL"
        )
        reader = connection.sql(query).to_arrow_reader(KEY_BATCH_ROWS)
        yield from reader
    finally:
        connection.close()
        spill.cleanup()


def read_unit_keys(units: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Turn batches of work units into batches of their normalised keys.

    Runs in the executors (``DataFrame.mapInArrow``): input rows follow
    ``UNIT_SCHEMA`` and output rows ``KEY_SCHEMA``.
    """
    for batch in units:
        for unit in batch.to_pylist():
            yield from _unit_keys(unit)


def _unit_keys(unit: dict[str, Any]) -> Iterator[pa.RecordBatch]:
    source = KeySource.from_json(unit["source"])
    for keys in open_key_source(source):
        for found in normalised_keys(keys, unit["key_type"]):
            rows = found.num_rows
            yield pa.record_batch(
                [
                    pa.array([unit["dataset"]] * rows, pa.int32()),
                    pa.array([unit["key_type"]] * rows, pa.string()),
                    found.column(0).cast(pa.string()),
                    pa.array([unit["sensitive"]] * rows, pa.bool_()),
                    pa.array([unit["covered"]] * rows, pa.bool_()),
                ],
                names=["dataset", "key_type", "key", "sensitive", "covered"],
            )


def hmac_column(salt: bytes, message: Column) -> Column:
    """Return a Spark column of hex HMAC-SHA256 with key ``salt`` of ``message``.

    Spark SQL has SHA-256 but no HMAC, so HMAC (RFC 2104) is built from two
    SHA-256 calls over the padded key, as ``scanner.audit.counting.hmac_sql``
    does in DuckDB. Both return lower-case hex.
    """
    from pyspark.sql import functions as F

    if len(salt) > _BLOCK_BYTES:
        raise ValueError("HMAC keys longer than 64 bytes must be hashed first")
    padded = salt.ljust(_BLOCK_BYTES, b"\0")
    inner = F.unhex(F.lit(bytes(byte ^ 0x36 for byte in padded).hex()))
    outer = F.unhex(F.lit(bytes(byte ^ 0x5C for byte in padded).hex()))
    message_bytes = F.encode(message, "UTF-8")
    inner_hash = F.unhex(F.sha2(F.concat(inner, message_bytes), 256))
    return F.sha2(F.concat(outer, inner_hash), 256)


class SparkPeopleCounter(PeopleCounter):
    """A ``PeopleCounter`` whose counting runs in Spark.

    ``sources`` maps each dataset URI to the parts executors read its keys
    from, one task per part. The
    ``KeySet`` objects passed to the counting methods still give the key
    type and flags, but their opened Arrow sources are not read: the driver
    opened them only to find unreadable datasets, as the local engine does.
    The ledger, the year's total and the new hashes stay in the driver's
    DuckDB database.
    """

    def __init__(
        self,
        spark: SparkSession,
        sources: dict[str, list[KeySource]],
        temp_dir: str | None = None,
        memory_limit: str | None = None,
    ) -> None:
        super().__init__(temp_dir, memory_limit)
        self.spark = spark
        self.sources = sources
        self._people: DataFrame | None = None

    def close(self) -> None:
        if self._people is not None:
            self._people.unpersist()
        super().close()

    def _keys(self, keysets: Sequence[KeySet]) -> DataFrame:
        """Return the DataFrame of every dataset's distinct normalised keys."""
        rows = [
            (
                index,
                keyset.uri,
                keyset.key_type,
                keyset.sensitive,
                keyset.covered,
                source.to_json(),
            )
            for index, keyset in enumerate(keysets)
            for source in self.sources[keyset.uri]
        ]
        # One partition per unit, so each unit is read by its own task.
        units = self.spark.sparkContext.parallelize(rows, max(len(rows), 1))
        frame = self.spark.createDataFrame(units, UNIT_SCHEMA)
        return frame.mapInArrow(read_unit_keys, KEY_SCHEMA)

    def count_exact(
        self, keysets: Sequence[KeySet], keep_people: bool = True
    ) -> TransferCount:
        """Count distinct people exactly, in Spark.

        With ``keep_people`` the people DataFrame (key_type, key, sensitive,
        covered, sensitive_any, as ``PeopleCounter`` defines them) stays
        cached in Spark for ``hash_people``.
        """
        from pyspark.sql import functions as F

        people = (
            self._keys(keysets)
            .groupBy("key_type", "key")
            .agg(
                F.bool_or(F.col("sensitive") & ~F.col("covered")).alias("sensitive"),
                F.bool_and("covered").alias("covered"),
                F.bool_or("sensitive").alias("sensitive_any"),
                F.collect_set("dataset").alias("datasets"),
            )
        )
        if self._people is not None:
            self._people.unpersist()
            self._people = None
        if keep_people:
            people = people.persist()
            self._people = people

        # One job: each person counts once in each of their datasets and
        # once in the transfer-wide row, whose dataset index is -1.
        everyone = F.array(F.lit(-1))
        per_group = people.select(
            F.explode(F.array_union("datasets", everyone)).alias("dataset"),
            "sensitive",
            "covered",
            "sensitive_any",
        )
        rows = _run(
            lambda: (
                per_group.groupBy("dataset")
                .agg(
                    F.count("*").alias("people"),
                    F.count_if(~F.col("covered") & ~F.col("sensitive")),
                    F.count_if(~F.col("covered") & F.col("sensitive")),
                    F.count_if(F.col("covered") & ~F.col("sensitive_any")),
                    F.count_if(F.col("covered") & F.col("sensitive_any")),
                )
                .collect()
            )
        )
        totals = next((row for row in rows if row["dataset"] == -1), None)
        totals = totals or [-1, 0, 0, 0, 0, 0]
        self.has_people = True
        return TransferCount(
            per_dataset=_by_uri(keysets, rows),
            counted=PeopleCount(int(totals[2]), int(totals[3])),
            dropped=PeopleCount(int(totals[4]), int(totals[5])),
        )

    def count_approximate(self, keysets: Sequence[KeySet]) -> TransferCount:
        """Estimate distinct people with Spark's approx_count_distinct.

        As with ``PeopleCounter``, ``personal`` is the estimate of all
        counted people minus the estimate of sensitive people.
        """
        from pyspark.sql import functions as F

        keys = self._keys(keysets).withColumn(
            "person", F.concat_ws(":", "key_type", "key")
        )

        def estimate(condition: Column | None = None) -> Column:
            person = F.col("person")
            if condition is not None:
                person = F.when(condition, person)
            return F.approx_count_distinct(person, SPARK_RSD)

        not_covered = ~F.col("covered")
        totals = _run(
            lambda: keys.agg(
                estimate(),
                estimate(not_covered),
                estimate(F.col("sensitive") & not_covered),
            ).collect()[0]
        )
        per_dataset = _run(
            lambda: keys.groupBy("dataset").agg(estimate().alias("people")).collect()
        )
        sensitive = int(totals[2])
        return TransferCount(
            per_dataset=_by_uri(keysets, per_dataset),
            counted=PeopleCount(max(int(totals[1]) - sensitive, 0), sensitive),
            dropped=PeopleCount(max(int(totals[0]) - int(totals[1]), 0), 0),
            method="approximate",
            error_bound=APPROXIMATE_ERROR,
        )

    def hash_people(self, salt: bytes) -> None:
        """Hash the counted people in Spark and load the hashes into DuckDB.

        Only (key_hash, sensitive) rows reach the driver; the keys stay in
        Spark.
        """
        from pyspark.sql import functions as F

        if self._people is None:
            raise RuntimeError("hash_people needs count_exact with keep_people")
        message = F.concat_ws(":", "key_type", "key")
        hashes = self._people.where(~F.col("covered")).select(
            hmac_column(salt, message).alias("key_hash"), "sensitive"
        )
        # NOTE: toArrow collects every hash in the driver's memory, an
        # estimated 70 bytes per person (64 hex characters and a flag).
        table = _run(hashes.toArrow)
        self.connection.register("spark_hashes", table)
        self.connection.execute(
            "CREATE OR REPLACE TEMP TABLE transfer_hashes AS "
            "SELECT key_hash, sensitive FROM spark_hashes"
        )
        self.connection.unregister("spark_hashes")


def _by_uri(keysets: Sequence[KeySet], rows: Sequence[Any]) -> dict[str, int]:
    found = {int(row["dataset"]): int(row["people"]) for row in rows}
    return {keyset.uri: found.get(index, 0) for index, keyset in enumerate(keysets)}


def _run(job: Any) -> Any:
    """Run a Spark action, raising ``SparkCountError`` when it fails."""
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    try:
        return job()
    except (PySparkException, Py4JJavaError) as exc:
        raise SparkCountError(_last_line(str(exc))) from exc


def _last_line(message: str) -> str:
    """Return the redacted last line of a Spark error, which usually names the cause."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return redact_text(lines[-1] if lines else message)


class SparkCountError(DatasetError):
    """A Spark task failed while reading or counting keys."""

    reason = "spark"
