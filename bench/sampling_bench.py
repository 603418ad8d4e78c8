"""Measure how many bytes sampling reads: large CSV and Parquet files.

Writes a CSV of ROWS rows and a Parquet file of the same rows in 20 row
groups to a temporary folder, samples each through the file connector with
the default sample size, and prints file size, bytes read and time.

    .venv/bin/python bench/sampling_bench.py [--rows N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.base import DiscoveryOptions  # noqa: E402
from connectors.files import FileConnector  # noqa: E402
from scanner.engine import DEFAULT_SAMPLE_SIZE  # noqa: E402
from scanner.model import DatasetHandle  # noqa: E402


def make_table(rows: int) -> pa.Table:
    """Return ``rows`` rows of five columns with distinct values."""
    numbers = pa.array(range(rows), pa.int64())
    return pa.table(
        {
            "id": numbers,
            "phone": pa.compute.add(numbers, 13_800_000_000).cast(pa.string()),
            "amount": pa.compute.multiply(numbers, 0.5),
            "city": pa.array(["北京", "上海", "广州", "深圳"] * (rows // 4)),
            "note": pa.array(["delivered on time"] * rows),
        }
    )


def sample(path: Path) -> tuple[int, int, float]:
    """Sample one file; return (rows, bytes read, seconds)."""
    handles = list(FileConnector().discover(str(path), DiscoveryOptions()))
    handle = handles[0]
    assert isinstance(handle, DatasetHandle), handle
    started = time.perf_counter()
    result = handle.sample(DEFAULT_SAMPLE_SIZE)
    elapsed = time.perf_counter() - started
    return result.table.num_rows, result.bytes_read or 0, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows per file")
    args = parser.parse_args()
    rows = args.rows - args.rows % 4
    table = make_table(rows)

    with tempfile.TemporaryDirectory() as folder:
        csv_path = Path(folder) / "big.csv"
        parquet_path = Path(folder) / "big.parquet"
        pacsv.write_csv(table, csv_path)
        pq.write_table(table, parquet_path, row_group_size=rows // 20)
        print(f"{rows:,} rows, sample size {DEFAULT_SAMPLE_SIZE:,}")
        for path in (csv_path, parquet_path):
            size = path.stat().st_size
            sampled, read, elapsed = sample(path)
            print(
                f"{path.suffix[1:]:8} size {size / 2**20:8.1f} MiB  "
                f"read {read / 2**20:6.2f} MiB ({read / size:6.1%})  "
                f"{sampled:,} rows in {elapsed:.2f} s"
            )


if __name__ == "__main__":
    main()
