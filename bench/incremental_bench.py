"""Time full scans, unchanged rescans with --changed-only, and concurrency.

Generates a folder of small CSV files (personal data and plain rows), then
runs ``cardex scan`` as a subprocess against a fresh SQLite catalog:

1. a first full scan, then a second scan with ``--changed-only``;
2. full scans with ``--no-catalog`` at each ``--concurrency`` level.

Usage::

    .venv/bin/python bench/incremental_bench.py --files 2000
    .venv/bin/python bench/incremental_bench.py --source sample_data
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CARDEX = [sys.executable, "-m", "scanner"]
SURNAMES = "王李张刘陈杨黄赵吴周"
GIVEN = "伟芳娜敏静丽强磊军洋"


def write_folder(folder: Path, files: int, rows: int, seed: int = 7) -> None:
    """Write ``files`` CSV files of ``rows`` rows, every third without personal data."""
    generator = random.Random(seed)
    for index in range(files):
        # Names that differ only in digits would be grouped as part files of
        # one table, so each file gets letters of its own.
        path = folder / f"folder_{letters(index // 100)}" / f"{letters(index)}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        if index % 3 == 2:
            lines = ["sku,quantity,price"] + [
                f"SKU{generator.randrange(10**6):06d},{generator.randrange(50)},"
                f"{generator.randrange(100, 99999) / 100}"
                for _ in range(rows)
            ]
        else:
            lines = ["姓名,手机号码,city"] + [
                f"{generator.choice(SURNAMES)}{generator.choice(GIVEN)},"
                f"1{generator.choice('3589')}{generator.randrange(10**9):09d},"
                f"{generator.choice(['北京', '上海', '广州'])}"
                for _ in range(rows)
            ]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def letters(number: int) -> str:
    """Return ``number`` written in the letters a to z, as a name part."""
    text = ""
    while True:
        number, digit = divmod(number, 26)
        text = chr(ord("a") + digit) + text
        if number == 0:
            return "table_" + text


def run_scan(arguments: list[str]) -> tuple[float, dict[str, int]]:
    """Run one scan, and return its wall time in seconds and the report's counts."""
    with tempfile.NamedTemporaryFile(suffix=".json") as report:
        started = time.perf_counter()
        completed = subprocess.run(
            [*CARDEX, "scan", *arguments, "-q", "--report", report.name],
            check=False,
        )
        elapsed = time.perf_counter() - started
        if completed.returncode not in (0, 3):
            raise SystemExit(f"cardex scan failed with status {completed.returncode}")
        counts: dict[str, int] = json.loads(Path(report.name).read_text())["scan"][
            "counts"
        ]
    return elapsed, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=20)
    parser.add_argument("--source", help="scan this path instead of a new folder")
    parser.add_argument("--levels", default="1,2,4", help="concurrency levels")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory() as work:
        source = arguments.source
        if source is None:
            folder = Path(work) / "lake"
            write_folder(folder, arguments.files, arguments.rows)
            source = str(folder)
        catalog = f"sqlite:///{work}/catalog.db"
        base = [source, "--catalog", catalog]

        first, counts = run_scan(base)
        print(f"first scan: {first:.1f} s, {counts['datasets']} datasets")
        second, counts = run_scan([*base, "--changed-only"])
        print(
            f"unchanged rescan with --changed-only: {second:.1f} s, "
            f"{counts['skipped']} of {counts['datasets']} skipped"
        )
        for level in arguments.levels.split(","):
            elapsed, _ = run_scan([source, "--no-catalog", "--concurrency", level])
            print(f"--no-catalog --concurrency {level}: {elapsed:.1f} s")


if __name__ == "__main__":
    main()
