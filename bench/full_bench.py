"""Measure a full scan against a sampled scan of the same Parquet file.

Writes one Parquet file of ROWS rows (order ids, remarks, amounts). The
remarks of one row group contain 30 phone numbers. Each scan runs with the
local engine in a fresh process: sampled, and with ``--full`` at two chunk
sizes. Prints wall time, CPU time, rows classified per second,
peak RSS and whether the hidden phone numbers were found.

    .venv/bin/python bench/full_bench.py [--rows N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
ROW_GROUP_ROWS = 100_000
HIDDEN = 30
# Runs the scan and prints its CPU seconds and peak RSS in KiB (Linux).
MEASURE = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(usage.ru_utime + usage.ru_stime, usage.ru_maxrss)
"""


def write_orders(path: Path, rows: int) -> None:
    """Write the orders; row group 3 contains the only phone numbers."""
    start = 3 * ROW_GROUP_ROWS + 500
    remarks = [f"order {index} shipped" for index in range(rows)]
    for index in range(start, min(start + HIDDEN, rows)):
        remarks[index] = f"1390013{index % 10_000:04d}"
    table = pa.table(
        {
            "order_id": pa.array(range(rows), pa.int64()),
            "remark": remarks,
            "amount": pa.array([index % 997 / 10 for index in range(rows)]),
        }
    )
    pq.write_table(table, path, row_group_size=ROW_GROUP_ROWS)


def scan(path: Path, report: Path, *options: str) -> dict[str, float | bool]:
    """Scan ``path`` in a child process; return its times and what it found."""
    command = [
        sys.executable,
        "-m",
        "scanner",
        "scan",
        str(path),
        "--no-catalog",
        "--report",
        str(report),
        "-q",
        *options,
    ]
    started = time.perf_counter()
    measured = subprocess.run(
        [sys.executable, "-c", MEASURE, *command],
        check=True,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    cpu, peak_kib = measured.stdout.split()
    dataset = json.loads(report.read_text("utf-8"))["datasets"][0]
    remark = next(c for c in dataset["columns"] if c["name"] == "remark")
    return {
        "seconds": seconds,
        "cpu": float(cpu),
        "rows": dataset["sampled_rows"],
        "peak_mib": int(peak_kib) / 1024,
        "found": any(label["id"] == "pi.phone" for label in remark["labels"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cardex-full-bench-") as folder:
        path = Path(folder) / "orders.parquet"
        write_orders(path, arguments.rows)
        size = path.stat().st_size / 2**20
        print(f"{arguments.rows:,} rows, {size:.1f} MiB of Parquet")
        print("| scan | wall | CPU | rows classified | rows/s | peak RSS | found |")
        print("|---|---:|---:|---:|---:|---:|---|")
        runs = {
            "sampled (1,000 rows)": (),
            "--full, 50,000-row chunks": ("--full",),
            "--full, 10,000-row chunks": ("--full", "--chunk-rows", "10000"),
        }
        for name, options in runs.items():
            row = scan(path, Path(folder) / "report.json", *options)
            print(
                f"| {name} | {row['seconds']:.1f} s | {row['cpu']:.1f} s | "
                f"{row['rows']:,} | {row['rows'] / row['seconds']:,.0f} | "
                f"{row['peak_mib']:.0f} MiB | {'yes' if row['found'] else 'no'} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
