"""One run over a real lake and a real SQLite catalog, in this process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from scanner.catalog import open_catalog
from scanner.runs.config import load_config
from scanner.runs.lock import LockHeldError, RunLock
from scanner.runs.metrics import render_metrics
from scanner.runs.result import EXIT_FAILURE, EXIT_OK, EXIT_PARTIAL
from scanner.runs.runner import Run, default_lock_path
from scanner.runs.store import RunStore
from scanner.runs.summary import render_summary

OWNERS = "姓名,手机号码,城市\n张伟,13812340001,北京\n李娜,13912340002,上海\n"
ORDERS = "order_no,amount\nA1001,12.5\nA1002,7.25\n"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    lake = tmp_path / "lake"
    lake.mkdir()
    (lake / "owners.csv").write_text(OWNERS, encoding="utf-8")
    (lake / "orders.csv").write_text(ORDERS, encoding="utf-8")
    return tmp_path


def configure(workspace: Path, **sections: dict[str, Any]) -> Path:
    """Write a configuration of the lake; ``sections`` update its parts."""
    config: dict[str, Any] = {
        "sources": [{"name": "lake", "url": "lake"}],
        "catalog": {"url": f"sqlite:///{workspace}/catalog.db"},
        "outputs": {
            "metrics": "out/cardex.prom",
            "summary": "out/summary.md",
            "report": "out/report.json",
        },
        "run": {"concurrency": 1},
    }
    for name, values in sections.items():
        if isinstance(config.get(name), dict):
            config[name].update(values)
        else:
            config[name] = values
    path = workspace / "cardex.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def execute(config_path: Path):
    return Run(load_config(config_path), config_path).execute()


def test_first_run_scans_and_records(workspace):
    config_path = configure(workspace)
    result = execute(config_path)
    assert result.exit_code == EXIT_OK
    assert result.status == "ok"
    counts = result.counts()
    assert counts["datasets_scanned"] == 2
    assert counts["datasets_failed"] == 0
    assert counts["labels_added"] >= 2

    store = RunStore(f"sqlite:///{workspace}/catalog.db", create=False)
    records = store.list()
    store.close()
    assert [record.id for record in records] == [result.run_id]
    record = records[0]
    assert record.status == "ok"
    assert record.exit_code == 0
    assert record.finished_at
    assert record.counts == counts
    assert record.sources[0]["name"] == "lake"
    owners = next(c for c in record.changes if c["uri"].endswith("owners.csv"))
    assert "手机号码: pi.phone" in owners["added"]


def test_unchanged_second_run_skips(workspace):
    config_path = configure(workspace)
    execute(config_path)
    second = execute(config_path)
    counts = second.counts()
    assert counts["datasets_skipped"] == 2
    assert counts["datasets_scanned"] == 0
    assert second.changes == []
    assert second.exit_code == EXIT_OK


def test_full_run_when_incremental_off(workspace):
    config_path = configure(workspace, run={"incremental": False})
    execute(config_path)
    second = execute(config_path)
    assert second.counts()["datasets_scanned"] == 2
    assert second.counts()["datasets_skipped"] == 0


def test_changed_file_rescanned_and_label_removed(workspace):
    config_path = configure(workspace)
    execute(config_path)
    owners = workspace / "lake" / "owners.csv"
    owners.write_text("姓名,城市\n张伟,北京\n李娜,上海\n", encoding="utf-8")
    second = execute(config_path)
    assert second.counts()["datasets_scanned"] == 1
    assert second.counts()["datasets_skipped"] == 1
    change = next(c for c in second.changes if c.uri.endswith("owners.csv"))
    assert change.removed == ["手机号码: pi.phone"]
    assert change.added == []


def test_decision_between_runs_in_summary(workspace):
    config_path = configure(workspace)
    execute(config_path)
    catalog = open_catalog(f"sqlite:///{workspace}/catalog.db", create=False)
    catalog.decide_label("owners.csv", "姓名", "pi.name", "rejected", "reviewer")
    catalog.close()
    second = execute(config_path)
    change = next(c for c in second.changes if c.uri.endswith("owners.csv"))
    assert change.decided == ["姓名: pi.name rejected by reviewer"]
    summary = render_summary(second)
    assert "- decided: `姓名: pi.name rejected by reviewer`" in summary


def test_broken_dataset_gives_partial(workspace):
    (workspace / "lake" / "broken.parquet").write_bytes(b"PAR1 not really")
    result = execute(configure(workspace))
    assert result.exit_code == EXIT_PARTIAL
    assert result.status == "partial"
    assert result.counts()["datasets_failed"] == 1
    failure = result.sources[0].failures[0]
    assert failure.uri.endswith("broken.parquet")
    assert "## Failed datasets" in render_summary(result)


def test_dataset_timeout_fails_dataset(workspace):
    config_path = configure(workspace, run={"dataset_timeout": 0.000001})
    result = execute(config_path)
    assert result.exit_code == EXIT_FAILURE
    reasons = {failure.reason for failure in result.sources[0].failures}
    assert reasons == {"timeout"}
    message = result.sources[0].failures[0].message
    assert "raise run.dataset_timeout" in message


def test_unknown_source_fails_source_not_run(workspace):
    sources = [
        {"name": "gone", "url": "missing-folder"},
        {"name": "lake", "url": "lake"},
    ]
    config_path = configure(workspace, sources=sources)
    result = execute(config_path)
    assert result.exit_code == EXIT_PARTIAL
    gone, lake = result.sources
    assert gone.status == "failed"
    assert "no connector reads" in (gone.message or "")
    assert lake.status == "ok"
    assert 'cardex_source_up{source="gone"} 0' in render_metrics(result)


def test_push_without_writers_is_partial(workspace, monkeypatch):
    import scanner.runs.push as push

    monkeypatch.setattr(push, "_find_push", lambda: None)
    target = "datahub:http://127.0.0.1:1?token=abc-should-not-appear"
    config_path = configure(workspace, catalog={"push": [target]})
    result = execute(config_path)
    assert result.pushed == [
        {"target": "push.0", "status": "skipped", "message": "writers missing"}
    ]
    assert result.exit_code == EXIT_PARTIAL
    assert "abc-should-not-appear" not in render_summary(result)


def test_live_lock_stops_before_recording(workspace):
    config_path = configure(workspace)
    config = load_config(config_path)
    lock_path = default_lock_path(config.catalog.url or "")
    assert lock_path == workspace / "catalog.db.run.lock"
    with RunLock(lock_path), pytest.raises(LockHeldError):
        Run(config, config_path).execute()
    assert not (workspace / "catalog.db").exists()


def test_outputs_written(workspace):
    result = execute(configure(workspace))
    out = workspace / "out"
    metrics = (out / "cardex.prom").read_text(encoding="utf-8")
    assert 'cardex_run_datasets{outcome="scanned"} 2' in metrics
    assert 'cardex_run_status{status="ok"} 1' in metrics
    assert 'cardex_source_duration_seconds{source="lake"}' in metrics
    assert f"cardex_run_id {result.run_id}" in metrics
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith(f"# cardex run {result.run_id}: ok")
    assert "| lake | ok | 2 | 0 | 0 |" in summary
    assert (out / "report.json").stat().st_size > 0
    leftovers = [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_report_lists_spooled_datasets(workspace):
    # A run keeps no results in memory; the report's dataset entries come
    # from a spool written while the datasets were stored.
    config_path = configure(workspace)
    first = execute(config_path)
    assert first.sources[0].outcome.results == []
    execute(config_path)
    report = json.loads((workspace / "out" / "report.json").read_text("utf-8"))
    entries = report["sources"]["lake"]["datasets"]
    assert sorted(Path(entry["uri"]).name for entry in entries) == [
        "orders.csv",
        "owners.csv",
    ]
    assert {entry["skipped"]["reason"] for entry in entries} == {"unchanged"}
    owners = next(entry for entry in entries if entry["uri"].endswith("owners.csv"))
    assert any(column["labels"] for column in owners["columns"])
    assert report["run"]["counts"]["datasets_skipped"] == 2


def test_unwritable_output_makes_run_partial(workspace):
    blocker = workspace / "out"
    blocker.write_text("a file where a folder should be", encoding="utf-8")
    result = execute(configure(workspace))
    assert result.exit_code == EXIT_PARTIAL
    assert "failed to write" in (result.message or "")


def test_push_to_datahub_file_target(workspace):
    proposals = workspace / "proposals.json"
    config_path = configure(workspace, catalog={"push": [f"datahub-file:{proposals}"]})
    result = execute(config_path)
    assert result.pushed == [{"target": "push.0", "status": "ok", "message": ""}]
    assert result.exit_code == EXIT_OK
    assert proposals.stat().st_size > 0


def test_invalid_push_target_fails_push_only(workspace):
    config_path = configure(workspace, catalog={"push": ["nowhere:x?token=t0k3n"]})
    result = execute(config_path)
    (pushed,) = result.pushed
    assert pushed["status"] == "failed"
    assert "t0k3n" not in pushed["message"]
    assert result.exit_code == EXIT_PARTIAL
    assert result.counts()["datasets_scanned"] == 2


@pytest.mark.postgres
def test_postgres_catalog_records_runs(workspace, postgres_url, monkeypatch):
    import sqlalchemy as sa

    from scanner.runs.store import runs

    monkeypatch.setenv("XDG_STATE_HOME", str(workspace / "state"))
    engine = sa.create_engine(postgres_url)
    with engine.begin() as connection:
        runs.drop(connection, checkfirst=True)
    engine.dispose()
    config_path = configure(workspace, catalog={"url": postgres_url})
    config = load_config(config_path)
    lock_path = default_lock_path(postgres_url)
    assert lock_path.parent == workspace / "state" / "cardex"

    result = Run(config, config_path).execute()
    assert result.exit_code == EXIT_OK
    store = RunStore(postgres_url, create=False)
    records = store.list()
    store.close()
    assert [record.id for record in records] == [result.run_id]
    assert records[0].counts["datasets_scanned"] == 2
    assert not lock_path.exists()


def test_label_changes_listed_up_to_a_limit(workspace):
    from scanner.runs.changes import LabelSnapshot, diff_labels

    config_path = configure(workspace)
    catalog = f"sqlite:///{workspace}/catalog.db"
    with LabelSnapshot(catalog) as before:
        execute(config_path)
        with LabelSnapshot(catalog) as after:
            scanned = [
                str(workspace / "lake" / n) for n in ("orders.csv", "owners.csv")
            ]
            everything = diff_labels(before, after, scanned, None)
            limited = diff_labels(before, after, scanned, None, limit=0)
    assert len(everything.listed) >= 1
    assert everything.more == 0
    assert limited.listed == []
    assert limited.more == len(everything.listed)


class _FullDisk:
    """A spool file whose writes fail, as on a full temporary disk."""

    def write(self, text: str) -> int:
        raise OSError(28, "No space left on device")

    def close(self) -> None:
        pass


def test_failed_spool_write_keeps_the_run(workspace, monkeypatch):
    import scanner.runs.runner as runner

    monkeypatch.setattr(runner.tempfile, "TemporaryFile", lambda **_: _FullDisk())
    result = execute(configure(workspace))
    assert result.exit_code == EXIT_PARTIAL
    assert result.counts()["datasets_scanned"] == 2
    assert not (workspace / "out" / "report.json").exists()
    assert (workspace / "out" / "summary.md").exists()
    store = RunStore(f"sqlite:///{workspace}/catalog.db", create=False)
    records = store.list()
    store.close()
    assert records[0].status == "partial"
