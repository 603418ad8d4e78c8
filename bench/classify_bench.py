"""Measure classification speed: cells per second and peak memory.

Generates a table of ROWS x 12 columns (default 100,000 rows: 1.2 million
cells) mixing personal and ordinary columns, then times

1. the classification step alone (profiles, validators, name hints, free
   text and table context over the whole table), and
2. a whole scan of the same table written as Parquet, through the CLI's scan
   engine with a sample as large as the table (read, classify, catalog).

Run on one core, as the benchmark page records it:

    taskset -c 0 .venv/bin/python bench/classify_bench.py [--rows N]
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from classifiers.pipeline import classify_sample  # noqa: E402
from classifiers.rulepack import load_rule_pack  # noqa: E402
from scanner.engine import Scanner, ScanOptions  # noqa: E402
from scanner.model import Sample  # noqa: E402
from scanner.plugins import CLASSIFIERS, load_plugins  # noqa: E402

_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"


def _resident_id(rng: random.Random) -> str:
    body = f"{rng.choice([110101, 310104, 440305, 510107])}{rng.randint(1960, 2005)}"
    body += f"{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    total = sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


def make_table(rows: int, seed: int = 7) -> pa.Table:
    """Return a table of ``rows`` rows and 12 columns with known content."""
    rng = random.Random(seed)
    columns = {
        "customer_name": [
            rng.choice(_SURNAMES) + rng.choice(_GIVEN) for _ in range(rows)
        ],
        "mobile": [
            f"1{rng.choice('3589')}{rng.randint(0, 999_999_999):09d}"
            for _ in range(rows)
        ],
        "id_card": [_resident_id(rng) for _ in range(rows)],
        "email": [f"user{rng.randint(0, 10**6)}@example.com" for _ in range(rows)],
        "order_no": [f"{rng.randint(10**17, 10**18 - 1)}" for _ in range(rows)],
        "amount": [round(rng.uniform(1, 5000), 2) for _ in range(rows)],
        "status": [rng.choice(["paid", "shipped", "refunded"]) for _ in range(rows)],
        "created_at": [
            f"2026-0{rng.randint(1, 9)}-1{rng.randint(0, 9)} 10:00:00"
            for _ in range(rows)
        ],
        "client_ip": [
            f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
            for _ in range(rows)
        ],
        "remark": [
            rng.choice(
                ["按时送达", "客户要求开发票", "已联系，稍后回电", "包装破损已换货"]
            )
            for _ in range(rows)
        ],
        "sku": [f"SKU-{rng.randint(0, 99999):05d}" for _ in range(rows)],
        "quantity": [rng.randint(1, 9) for _ in range(rows)],
    }
    return pa.table(columns)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_classification(table: pa.Table) -> float:
    rules = load_rule_pack()
    classifiers = [cls(rules) for cls in load_plugins(CLASSIFIERS).values()]
    sample = Sample(table=table, format="memory")
    classify_sample(Sample(table=table.slice(0, 100)), classifiers, rules)  # warm up
    started = time.perf_counter()
    classify_sample(sample, classifiers, rules)
    return time.perf_counter() - started


def bench_scan(table: pa.Table, folder: Path) -> float:
    path = folder / "bench.parquet"
    pq.write_table(table, path, row_group_size=10_000)
    options = ScanOptions(
        sources=[str(path)],
        sample_size=table.num_rows,
        catalog_url=f"sqlite:///{folder / 'catalog.db'}",
    )
    started = time.perf_counter()
    outcome = Scanner(options).run()
    elapsed = time.perf_counter() - started
    if outcome.status != "ok":
        raise SystemExit(f"benchmark scan failed: {outcome.results[0].errors}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows in the table")
    args = parser.parse_args()

    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    table = make_table(args.rows)
    cells = table.num_rows * table.num_columns
    print(
        f"table: {table.num_rows:,} rows x {table.num_columns} columns "
        f"= {cells:,} cells"
    )

    elapsed = bench_classification(table)
    print(f"classification step: {elapsed:.2f} s, {cells / elapsed:,.0f} cells/s")

    with tempfile.TemporaryDirectory() as folder:
        elapsed = bench_scan(table, Path(folder))
    print(
        f"whole scan (Parquet, sample = all rows): {elapsed:.2f} s, "
        f"{cells / elapsed:,.0f} cells/s"
    )
    print(f"peak memory (max RSS): {_peak_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
