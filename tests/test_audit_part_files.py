"""People in a set of part files of one table are counted over every file."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from scanner.cli import main

FILES = 4
ROWS = 50
# Phones repeat across files: 120 distinct people in 200 rows.
DISTINCT = 120


def _write_parts(folder: Path) -> None:
    folder.mkdir()
    for part in range(FILES):
        lines = ["name,phone"]
        for row in range(ROWS):
            number = (part * ROWS + row) % DISTINCT
            lines.append(f"u{row},138{number:08d}")
        (folder / f"part-{part:05d}.csv").write_text("\n".join(lines) + "\n")


def test_part_file_set_counts_every_file(tmp_path: Path) -> None:
    _write_parts(tmp_path / "data")
    report = tmp_path / "audit.json"
    result = CliRunner().invoke(
        main,
        [
            "audit",
            str(tmp_path / "data"),
            "--processor",
            "Example Motors",
            "--destination",
            "DE",
            "--recipient",
            "Example GmbH",
            "--purpose",
            "after-sales analysis",
            "--catalog",
            f"sqlite:///{tmp_path}/catalog.db",
            "--report",
            str(report),
        ],
    )
    assert result.exit_code in (0, 10), result.output
    data = json.loads(report.read_text(encoding="utf-8"))
    (dataset,) = data["datasets"]
    assert dataset["uri"].endswith("part-#.csv")
    assert dataset["people"] == {"personal": DISTINCT, "sensitive": 0}
    assert data["counts"]["this_transfer"]["personal"] == DISTINCT
