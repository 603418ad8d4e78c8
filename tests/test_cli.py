"""The cardex command line: options, exit codes and the review workflow."""

import json
import os
import stat
import subprocess
import sys
import threading
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

CARDEX = [sys.executable, "-m", "scanner"]
NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄强"]


def run(*args, env=None, **kwargs):
    return subprocess.run(
        [*CARDEX, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        **kwargs,
    )


@pytest.fixture
def lake(tmp_path):
    folder = tmp_path / "lake"
    folder.mkdir()
    (folder / "owners.csv").write_text(
        "姓名,手机号码,城市\n"
        + "".join(f"{NAMES[i % len(NAMES)]},1381234{i:04d},北京\n" for i in range(30)),
        encoding="utf-8",
    )
    return folder


@pytest.fixture
def catalog(tmp_path):
    return f"sqlite:///{tmp_path / 'catalog.db'}"


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["scan"],
        ["catalog"],
        ["catalog", "list"],
        ["catalog", "show"],
        ["label"],
        ["label", "confirm"],
        ["label", "reject"],
        ["labels"],
    ],
)
def test_help_is_fast_and_documents_options(command):
    started = time.perf_counter()
    completed = run(*command, "--help")
    elapsed = time.perf_counter() - started
    assert completed.returncode == 0
    assert elapsed < 1.0
    assert "Usage:" in completed.stdout


def test_scan_help_explains_every_option():
    text = run("scan", "--help").stdout
    for option in (
        "--sample-size",
        "--include",
        "--exclude",
        "--catalog",
        "--report",
        "--rules",
        "--on-error",
        "--timeout",
        "--verbose",
        "--quiet",
        "--no-catalog",
    ):
        assert option in text
    assert "Exit codes" in text


def test_scan_success_exit_zero(lake, catalog, tmp_path):
    report = tmp_path / "r.json"
    completed = run("scan", lake, "--catalog", catalog, "--report", report)
    assert completed.returncode == 0, completed.stderr
    data = json.loads(report.read_text())
    columns = {
        c["name"]: [label["id"] for label in c["labels"]]
        for c in data["datasets"][0]["columns"]
    }
    assert columns == {"姓名": ["pi.name"], "手机号码": ["pi.phone"], "城市": []}


def test_summary_table_without_report(lake, catalog):
    completed = run("scan", lake, "--catalog", catalog, env={"COLUMNS": "200"})
    assert completed.returncode == 0
    assert "pi.phone" in completed.stdout
    assert "138" in completed.stdout  # a masked example
    assert "13812340001" not in completed.stdout


def test_report_to_stdout(lake):
    completed = run("scan", lake, "--no-catalog", "--report", "-")
    assert json.loads(completed.stdout)["schema_version"] == 1


def test_bad_dataset_gives_partial_exit(lake, catalog, tmp_path):
    pq.write_table(pa.table({"a": list(range(1000))}), lake / "broken.parquet")
    data = (lake / "broken.parquet").read_bytes()
    (lake / "broken.parquet").write_bytes(data[: len(data) // 2])
    report = tmp_path / "r.json"
    completed = run("scan", lake, "--catalog", catalog, "--report", report)
    assert completed.returncode == 3
    data = json.loads(report.read_text())
    assert data["scan"]["status"] == "partial"
    broken = next(d for d in data["datasets"] if d["name"] == "broken.parquet")
    assert broken["errors"][0]["reason"] == "unreadable"
    owners = next(d for d in data["datasets"] if d["name"] == "owners.csv")
    assert owners["columns"]


def test_on_error_fail_stops(lake, catalog, tmp_path):
    (lake / "a_broken.parquet").write_bytes(b"")
    completed = run(
        "scan",
        lake,
        "--catalog",
        catalog,
        "--on-error",
        "fail",
        "--report",
        tmp_path / "r.json",
    )
    assert completed.returncode == 1
    assert json.loads((tmp_path / "r.json").read_text())["scan"]["status"] == "failed"


def test_on_error_skip_is_quiet(lake, catalog):
    (lake / "broken.parquet").write_bytes(b"")
    completed = run("scan", lake, "--catalog", catalog, "--on-error", "skip", "-q")
    assert completed.returncode == 3
    assert "WARNING" not in completed.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scan", "does/not/exist"], "no connector reads"),
        (["scan", "LAKE", "--sample-size", "0"], "Invalid value"),
        (["scan", "LAKE", "--on-error", "maybe"], "Invalid value"),
        (["scan", "LAKE", "--rules", "missing.yaml"], "cannot read rule pack"),
        (["scan", "LAKE", "--catalog", "nosuchdb://x"], "catalog"),
    ],
)
def test_usage_errors_exit_two(lake, args, message):
    args = [str(lake) if a == "LAKE" else a for a in args]
    completed = run(*args)
    assert completed.returncode == 2, completed.stderr
    assert message in completed.stderr
    assert "Traceback" not in completed.stderr


def test_unwritable_report_fails_before_scan(lake, catalog, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    completed = run("scan", lake, "--catalog", catalog, "--report", blocker / "r.json")
    assert completed.returncode == 2
    assert "does not exist" in completed.stderr
    assert not (tmp_path / "catalog.db").exists()


def test_review_workflow_survives_rescan(lake, catalog, tmp_path):
    assert run("scan", lake, "--catalog", catalog).returncode == 0

    assert (
        run(
            "label",
            "reject",
            "owners.csv",
            "姓名",
            "pi.name",
            "--by",
            "li.na",
            "--catalog",
            catalog,
        ).returncode
        == 0
    )
    assert (
        run(
            "label",
            "confirm",
            "owners.csv",
            "手机号码",
            "pi.phone",
            "--by",
            "li.na",
            "--catalog",
            catalog,
        ).returncode
        == 0
    )
    assert (
        run(
            "label", "confirm", "owners.csv", "-", "spi.location", "--catalog", catalog
        ).returncode
        == 0
    )

    report = tmp_path / "r.json"
    assert run("scan", lake, "--catalog", catalog, "--report", report).returncode == 0
    dataset = json.loads(report.read_text())["datasets"][0]
    columns = {c["name"]: c for c in dataset["columns"]}
    assert columns["姓名"]["labels"] == []
    assert "pi.name rejected by li.na" in columns["姓名"]["notes"]
    phone = columns["手机号码"]["labels"][0]
    assert (phone["state"], phone["decided_by"]) == ("confirmed", "li.na")

    shown = json.loads(
        run("catalog", "show", "owners.csv", "--catalog", catalog).stdout
    )
    states = {
        (c["name"], label["id"]): label["state"]
        for c in shown["columns"]
        for label in c["labels"]
    }
    assert states[("姓名", "pi.name")] == "rejected"
    assert shown["labels"][0]["id"] == "spi.location"

    listed = run("catalog", "list", "--json", "--catalog", catalog)
    assert json.loads(listed.stdout)[0]["label_ids"] == ["pi.phone", "spi.location"]


def test_label_errors_exit_two(lake, catalog):
    run("scan", lake, "--catalog", catalog)
    unknown = run(
        "label", "confirm", "owners.csv", "姓名", "pi.shoe_size", "--catalog", catalog
    )
    assert unknown.returncode == 2
    assert "cardex labels" in unknown.stderr
    missing = run("catalog", "show", "nothing.csv", "--catalog", catalog)
    assert missing.returncode == 2


def test_stale_suggestion_removed_on_rescan(lake, catalog, tmp_path):
    run("scan", lake, "--catalog", catalog)
    (lake / "owners.csv").write_text(
        "姓名,手机号码,城市\n"
        + "".join(f"{NAMES[i % len(NAMES)]},n/a,北京\n" for i in range(30)),
        encoding="utf-8",
    )
    run("scan", lake, "--catalog", catalog)
    shown = json.loads(
        run("catalog", "show", "owners.csv", "--catalog", catalog).stdout
    )
    labels = {
        c["name"]: [label["id"] for label in c["labels"]] for c in shown["columns"]
    }
    assert labels["手机号码"] == []


def test_labels_command_lists_vocabulary():
    completed = run("labels")
    assert completed.returncode == 0
    assert "spi.id_number" in completed.stdout
    assert "(provisional)" in completed.stdout


def test_report_into_pipe_keeps_pipe(lake, tmp_path):
    pipe = tmp_path / "report.pipe"
    os.mkfifo(pipe)
    received = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_text()))
    reader.start()
    completed = run("scan", lake, "--no-catalog", "--report", pipe)
    reader.join(timeout=60)
    assert completed.returncode == 0
    assert json.loads(received[0])["schema_version"] == 1
    assert stat.S_ISFIFO(pipe.stat().st_mode)


def test_label_scope_is_checked(lake, catalog):
    run("scan", lake, "--catalog", catalog)
    on_column = run(
        "label", "confirm", "owners.csv", "姓名", "spi.minor", "--catalog", catalog
    )
    assert on_column.returncode == 2
    assert "use '-' as the column" in on_column.stderr
    on_dataset = run(
        "label", "confirm", "owners.csv", "-", "pi.phone", "--catalog", catalog
    )
    assert on_dataset.returncode == 2


def test_confirmed_label_without_suggestion_is_reported(lake, catalog, tmp_path):
    run("scan", lake, "--catalog", catalog)
    run(
        "label",
        "confirm",
        "owners.csv",
        "城市",
        "pi.address",
        "--by",
        "li.na",
        "--catalog",
        catalog,
    )
    report = tmp_path / "r.json"
    run("scan", lake, "--catalog", catalog, "--report", report)
    columns = {
        c["name"]: c for c in json.loads(report.read_text())["datasets"][0]["columns"]
    }
    label = columns["城市"]["labels"][0]
    assert (label["id"], label["state"], label["decided_by"]) == (
        "pi.address",
        "confirmed",
        "li.na",
    )


def test_undecodable_file_name_is_scanned(tmp_path, catalog):
    folder = tmp_path / "gbk"
    folder.mkdir()
    name = os.fsencode(folder) + b"/\xb3\xb5\xd6\xf7.csv"
    with open(name, "wb") as stream:
        stream.write(b"phone\n13912345678\n13912345679\n13912345670\n")
    report = tmp_path / "r.json"
    completed = run("scan", folder, "--catalog", catalog, "--report", report)
    assert completed.returncode == 0, completed.stderr
    dataset = json.loads(report.read_text(encoding="utf-8"))["datasets"][0]
    assert dataset["name"] == "\\xb3\\xb5\\xd6\\xf7.csv"


def test_glob_matching_nothing_fails(tmp_path):
    completed = run(
        "scan",
        str(tmp_path / "nothing" / "*.csv"),
        "--no-catalog",
        "--report",
        tmp_path / "r.json",
    )
    assert completed.returncode == 1
    error = json.loads((tmp_path / "r.json").read_text())["datasets"][0]["errors"][0]
    assert error["reason"] == "empty"


def test_same_file_twice_scanned_once(lake, tmp_path):
    report = tmp_path / "r.json"
    run("scan", lake, lake / "owners.csv", "--no-catalog", "--report", report)
    assert len(json.loads(report.read_text())["datasets"]) == 1


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_catalog_is_rejected(lake, url):
    completed = run("scan", lake, "--catalog", url)
    assert completed.returncode == 2
    assert "--no-catalog" in completed.stderr


def test_reading_missing_catalog_creates_nothing(tmp_path):
    missing = tmp_path / "typo.db"
    completed = run("catalog", "list", "--catalog", f"sqlite:///{missing}")
    assert completed.returncode == 2
    assert not missing.exists()


def test_sample_size_has_upper_bound(lake):
    completed = run("scan", lake, "--no-catalog", "--sample-size", str(2**63))
    assert completed.returncode == 2


def test_password_never_in_report_or_catalog(tmp_path, catalog):
    database = tmp_path / "app.db"
    import sqlite3

    with sqlite3.connect(database) as connection:
        connection.execute("create table t (phone text)")
    report = tmp_path / "r.json"
    url = f"sqlite:///{database}?password=hunter2"
    run("scan", url, "--catalog", catalog, "--report", report)
    assert "hunter2" not in report.read_text()
    assert b"hunter2" not in (tmp_path / "catalog.db").read_bytes()


def test_concurrent_scans_share_catalog(lake, catalog):
    scans = [
        subprocess.Popen(
            [*CARDEX, "scan", str(lake), "--catalog", catalog, "-q"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for scan in scans:
        _, errors = scan.communicate(timeout=120)
        assert scan.returncode == 0, errors
    listed = json.loads(run("catalog", "list", "--json", "--catalog", catalog).stdout)
    assert len(listed) == 1


def test_missing_driver_names_extra():
    try:
        import pymysql  # noqa: F401
    except ImportError:
        completed = run("scan", "mysql+pymysql://u@127.0.0.1:1/db", "--no-catalog")
        assert completed.returncode == 2
        assert "cardex[mysql]" in completed.stderr
        assert "Traceback" not in completed.stderr
    else:
        pytest.skip("pymysql is installed, so no extra is missing")
