"""``cardex run`` and ``cardex runs`` as a scheduler starts them: real processes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from scanner.runs.result import EXIT_LOCKED, EXIT_OK, EXIT_USAGE

CARDEX = [sys.executable, "-m", "scanner"]
# Made-up values that must never leave the data files whole.
SEEDED = {
    "name": "欧阳明远",
    "phone": "13912345678",
    "id_number": "110101199003074514",
    "email": "ouyang.mingyuan@example.com",
    "secret": "pw-Zq81-never-logged",
}


def id_check_character(body: str) -> str:
    """Return the GB 11643 check character of a 17-digit body."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(
        int(digit) * weight for digit, weight in zip(body, weights, strict=True)
    )
    return "10X98765432"[total % 11]


def seeded_id() -> str:
    body = SEEDED["id_number"][:17]
    return body + id_check_character(body)


def cardex(*args: object, env: dict[str, str] | None = None, cwd: Path | None = None):
    return subprocess.run(
        [*CARDEX, *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=180,
    )


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    lake = tmp_path / "lake"
    lake.mkdir()
    rows = [
        "姓名,手机号码,身份证号,邮箱",
        f"{SEEDED['name']},{SEEDED['phone']},{seeded_id()},{SEEDED['email']}",
        f"张伟,13812340001,{seeded_id()[:-1]}0,zhang.wei@example.com",
    ]
    (lake / "owners.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    # A broken file whose content quotes seeded values, so the parser's
    # error message would leak them unless it is masked.
    (lake / "broken.json").write_text(
        f'{{"phone": "{SEEDED["phone"]}", "name": "{SEEDED["name"]}"', encoding="utf-8"
    )
    (tmp_path / "secret.txt").write_text(SEEDED["secret"] + "\n", encoding="utf-8")
    config: dict[str, Any] = {
        "sources": [
            {
                "name": "lake",
                "url": "lake",
                "credentials": {
                    "environment": {"CARDEX_TEST_TOKEN": {"file": "secret.txt"}}
                },
            }
        ],
        "catalog": {"url": f"sqlite:///{tmp_path}/catalog.db"},
        "schedule": "30 1 * * *",
        "outputs": {
            "metrics": "out/cardex.prom",
            "summary": "out/summary.md",
            "report": "out/report.json",
        },
    }
    (tmp_path / "cardex.yaml").write_text(
        yaml.safe_dump(config, allow_unicode=True), encoding="utf-8"
    )
    return tmp_path


@pytest.mark.slow
def test_run_writes_json_logs_records_and_outputs(workspace):
    completed = cardex("run", "--config", workspace / "cardex.yaml")
    assert completed.returncode == 3, completed.stderr
    assert completed.stdout.startswith("run 1 partial (exit 3): 1 scanned")
    log_lines = [json.loads(line) for line in completed.stderr.splitlines()]
    messages = [line["message"] for line in log_lines]
    assert any(m.startswith("run 1 started with") for m in messages)
    assert any(m.startswith("run 1 finished: partial (exit 3)") for m in messages)
    assert {"time", "level", "logger", "message"} <= set(log_lines[0])

    listed = cardex("runs", "--config", workspace / "cardex.yaml", "--json")
    assert listed.returncode == 0, listed.stderr
    (record,) = json.loads(listed.stdout)
    assert record["status"] == "partial"
    assert record["exit_code"] == 3
    assert record["counts"]["datasets_failed"] == 1
    assert record["sources"][0]["failures"][0]["uri"].endswith("broken.json")

    outputs = [workspace / "out" / name for name in ("cardex.prom", "summary.md")]
    texts = [path.read_text(encoding="utf-8") for path in outputs]
    texts.append((workspace / "out" / "report.json").read_text(encoding="utf-8"))
    texts += [completed.stdout, completed.stderr, listed.stdout]
    with sqlite3.connect(workspace / "catalog.db") as connection:
        rows = connection.execute("SELECT * FROM cardex_runs").fetchall()
    texts.append(repr(rows))
    for where, text in enumerate(texts):
        for kind, value in [*SEEDED.items(), ("id_number", seeded_id())]:
            assert value not in text, f"{kind} leaked into output {where}"

    second = cardex("run", "--config", workspace / "cardex.yaml")
    assert "1 skipped" in second.stdout
    table = cardex(
        "runs", "--catalog", f"sqlite:///{workspace}/catalog.db", env={"COLUMNS": "200"}
    )
    assert table.returncode == 0
    assert "partial" in table.stdout
    limited = cardex(
        "runs", "--config", workspace / "cardex.yaml", "--json", "--limit", "1"
    )
    assert [record["id"] for record in json.loads(limited.stdout)] == [2]


HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from scanner.runs.lock import RunLock

    RunLock(Path(sys.argv[1])).acquire()
    print("locked", flush=True)
    sys.stdin.readline()
    """
)


def hold_lock(path: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_live_lock_exits_already_running(workspace):
    holder = hold_lock(workspace / "catalog.db.run.lock")
    try:
        completed = cardex("run", "--config", workspace / "cardex.yaml")
    finally:
        holder.communicate("\n", timeout=10)
    assert completed.returncode == EXIT_LOCKED
    assert f"held by pid {holder.pid}" in completed.stderr
    assert not (workspace / "catalog.db").exists()
    assert not (workspace / "out").exists()


@pytest.mark.slow
def test_stale_lock_taken_over_with_warning(workspace):
    holder = hold_lock(workspace / "catalog.db.run.lock")
    holder.send_signal(signal.SIGKILL)
    holder.communicate(timeout=10)
    (workspace / "lake" / "broken.json").unlink()
    completed = cardex("run", "--config", workspace / "cardex.yaml")
    assert completed.returncode == EXIT_OK, completed.stderr
    warnings = [
        json.loads(line)
        for line in completed.stderr.splitlines()
        if '"WARNING"' in line
    ]
    assert any(f"pid {holder.pid}" in w["message"] for w in warnings)
    assert not (workspace / "catalog.db.run.lock").exists()


def test_invalid_config_exits_usage(workspace):
    config = workspace / "cardex.yaml"
    config.write_text("sources: [{name: lake, url: lake, colour: red}]\n")
    completed = cardex("run", "--config", config)
    assert completed.returncode == EXIT_USAGE
    assert "sources.0.colour: unknown key 'colour'" in completed.stderr


def test_check_prints_schedule(workspace):
    completed = cardex("run", "--config", workspace / "cardex.yaml", "--check")
    assert completed.returncode == 0, completed.stderr
    assert "configuration valid: 1 sources" in completed.stdout
    assert "schedule '30 1 * * *'; next (UTC): " in completed.stdout
    assert not (workspace / "catalog.db").exists()


@pytest.mark.slow
def test_text_logs_and_metrics_option(workspace):
    metrics = workspace / "elsewhere.prom"
    completed = cardex(
        "run",
        "--config",
        workspace / "cardex.yaml",
        "--log-format",
        "text",
        "--metrics",
        metrics,
    )
    assert "INFO scanner.runs.runner: run 1 started" in completed.stderr
    assert "cardex_run_exit_code 3" in metrics.read_text(encoding="utf-8")
    assert not (workspace / "out" / "cardex.prom").exists()


@pytest.mark.slow
def test_sigterm_records_interrupted_run(workspace):
    lake = workspace / "lake"
    (lake / "broken.json").unlink()
    owners = (lake / "owners.csv").read_text(encoding="utf-8")
    for number in range(300):
        # Letters, not digits: files named apart by digits are one dataset.
        name = "".join(chr(ord("a") + int(digit)) for digit in f"{number:03d}")
        (lake / f"copy-{name}.csv").write_text(owners, encoding="utf-8")
    config = workspace / "cardex.yaml"
    process = subprocess.Popen(
        [*CARDEX, "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    scanned_lines = 0
    for line in process.stderr:
        scanned_lines += '"scanned ' in line
        # Datasets are stored in order after they are scanned; wait for some.
        if scanned_lines == 10:
            break
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "the run is recorded as interrupted" in stderr
    assert not (workspace / "catalog.db.run.lock").exists()
    with sqlite3.connect(workspace / "catalog.db") as connection:
        status, code, counts, sources = connection.execute(
            "SELECT status, exit_code, counts, sources FROM cardex_runs"
        ).fetchone()
        stored = connection.execute("SELECT count(*) FROM datasets").fetchone()[0]
    assert status == "interrupted"
    assert code == 130
    # What was stored before the signal is in the record and the report.
    scanned = json.loads(counts)["datasets_scanned"]
    assert 1 <= scanned <= stored
    assert json.loads(sources)[0]["status"] == "interrupted"
    report = json.loads((workspace / "out" / "report.json").read_text("utf-8"))
    entries = report["sources"]["lake"]["datasets"]
    assert len(entries) == scanned
