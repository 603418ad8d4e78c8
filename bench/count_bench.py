"""Benchmark counting distinct people against DuckDB's own COUNT(DISTINCT).

Generates a transfer of Parquet files (10 million rows and 1.5 million
distinct phone numbers by default) in a temporary folder, then, each in a
fresh child process so that peak memory is its own:

* cardex: ``PeopleCounter.count_exact`` over ``open_file_keys`` sources,
  which streams the key column through pyarrow.dataset into DuckDB, groups
  the raw values with a mask of their datasets, normalises the distinct
  values, merges spellings and splits people by sensitivity and dataset;
* DuckDB: ``SELECT COUNT(DISTINCT mobile) FROM read_parquet([...])`` on the
  same files, with no normalisation;
* DuckDB over Arrow: the same ``COUNT(DISTINCT)`` over the pyarrow readers
  cardex uses, which shows what reading through pyarrow costs by itself.

Prints rows per second, the speed ratios and peak resident memory. The
wall-time ratio compares the fastest run of each side and the CPU ratio the
run of each side with the least CPU time, which other load on the machine
disturbs less.

    python bench/count_bench.py [--rows N] [--people N] [--files N]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

# The repository root, so that the benchmark runs from a checkout.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FIRST_PHONE = 13_800_000_000
SEED = 20261204


def generate(folder: Path, rows: int, people: int, files: int) -> list[Path]:
    """Write ``files`` Parquet files of owners drawn from ``people`` phones.

    Every phone number occurs at least once, so the distinct count is
    exactly ``people``.
    """
    generator = np.random.default_rng(SEED)
    ids = generator.integers(0, people, size=rows, dtype=np.int64)
    ids[:people] = np.arange(people)
    generator.shuffle(ids)
    paths = []
    for index, chunk in enumerate(np.array_split(ids, files)):
        numbers = pc.cast(pa.array(chunk + FIRST_PHONE), pa.string())
        table = pa.table(
            {
                "mobile": numbers,
                "order_id": pa.array(np.arange(len(chunk))),
                "amount": pa.array(generator.random(len(chunk))),
            }
        )
        path = folder / f"orders_{index:02d}.parquet"
        pq.write_table(table, path, row_group_size=1_000_000)
        paths.append(path)
    return paths


def count_with_cardex(paths: list[str], sensitive_files: int) -> int:
    from scanner.audit.counting import KeySet, PeopleCounter
    from scanner.audit.readers import open_file_keys

    keysets = [
        KeySet(
            uri=path,
            key_type="phone",
            sources=[open_file_keys(path, "parquet", ["mobile"])],
            sensitive=index < sensitive_files,
        )
        for index, path in enumerate(paths)
    ]
    with PeopleCounter() as counter:
        # As in an audit with no transfer recorded this year: no hashes.
        count = counter.count_exact(keysets, keep_people=False)
    return count.counted.personal + count.counted.sensitive


def count_with_duckdb(paths: list[str], sensitive_files: int) -> int:
    import duckdb

    connection = duckdb.connect(
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
    )
    listed = ", ".join("'" + path.replace("'", "''") + "'" for path in paths)
    query = f"SELECT COUNT(DISTINCT mobile) FROM read_parquet([{listed}])"
    result = connection.execute(query).fetchall()
    return int(result[0][0])


def count_with_duckdb_over_arrow(paths: list[str], sensitive_files: int) -> int:
    import duckdb

    from scanner.audit.readers import open_file_keys

    connection = duckdb.connect(
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
    )
    selects = []
    for index, path in enumerate(paths):
        keys = open_file_keys(path, "parquet", ["mobile"])
        connection.register(f"source_{index}", keys.data)
        selects.append(f"SELECT {keys.expressions[0]} AS mobile FROM source_{index}")
    union = " UNION ALL ".join(selects)
    query = f"SELECT COUNT(DISTINCT mobile) FROM ({union})"
    return int(connection.execute(query).fetchall()[0][0])


COUNTERS = {
    "cardex": count_with_cardex,
    "duckdb": count_with_duckdb,
    "duckdb-arrow": count_with_duckdb_over_arrow,
}


def _child(name: str, paths: list[str], sensitive: int, queue: Any) -> None:
    function = COUNTERS[name]
    # Imports are not part of the count: load them before the clock starts.
    import duckdb  # noqa: F401

    import scanner.audit.counting  # noqa: F401
    import scanner.audit.readers  # noqa: F401

    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    people = function(paths, sensitive)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    # CPU seconds of all threads; less disturbed by other load than wall time.
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # ru_maxrss is in KiB on Linux.
    peak = after.ru_maxrss / 1024
    queue.put((people, seconds, cpu, peak))


Measurement = tuple[int, float, float, float]


def measure(name: str, paths: list[str], sensitive: int) -> Measurement:
    """Count in a fresh process; return people, wall s, CPU s and peak MiB."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(name, paths, sensitive, queue))
    process.start()
    outcome = queue.get()
    process.join()
    return outcome  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--people", type=int, default=1_500_000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--sensitive-files", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="Runs of each counter.")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cardex-count-bench-") as folder:
        started = time.perf_counter()
        paths = generate(
            Path(folder), arguments.rows, arguments.people, arguments.files
        )
        print(
            f"generated {arguments.rows:,} rows, {arguments.people:,} people in "
            f"{arguments.files} files in {time.perf_counter() - started:.1f} s"
        )
        names = [str(path) for path in paths]
        best: dict[str, Measurement] = {}
        least_cpu: dict[str, float] = {}
        for _ in range(arguments.repeat):
            for name in COUNTERS:
                outcome = measure(name, names, arguments.sensitive_files)
                people, seconds, cpu, peak = outcome
                print(
                    f"{name:12} {people:>10,} people  {seconds:6.2f} s  "
                    f"cpu {cpu:6.2f} s  {peak:7.0f} MiB"
                )
                if name not in best or seconds < best[name][1]:
                    best[name] = outcome
                least_cpu[name] = min(cpu, least_cpu.get(name, cpu))
        for name, (people, seconds, _cpu, peak) in best.items():
            print(
                f"best {name:12} {arguments.rows / seconds:>12,.0f} rows/s  "
                f"least cpu {least_cpu[name]:6.2f} s  peak {peak:,.0f} MiB  "
                f"({people:,} people)"
            )
        wall_ratio = best["duckdb"][1] / best["cardex"][1]
        cpu_ratio = least_cpu["duckdb"] / least_cpu["cardex"]
        print(
            f"cardex speed / DuckDB speed: {wall_ratio:.2f} wall, {cpu_ratio:.2f} CPU"
        )
        arrow_wall = best["duckdb-arrow"][1] / best["cardex"][1]
        arrow_cpu = least_cpu["duckdb-arrow"] / least_cpu["cardex"]
        reading_wall = best["duckdb"][1] / best["duckdb-arrow"][1]
        print(
            f"cardex speed / DuckDB over the same Arrow readers: {arrow_wall:.2f} "
            f"wall, {arrow_cpu:.2f} CPU (reading through pyarrow alone: "
            f"{reading_wall:.2f} of DuckDB's own reader)"
        )


if __name__ == "__main__":
    main()
