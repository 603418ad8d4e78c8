"""End-to-end: scan sample_data/ with the CLI and check accuracy and masking."""

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from classifiers.rulepack import load_rule_pack
from scanner.evaluation import format_scores, score

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
MIN_MICRO_F1 = 0.95
PERSONAL = ("personal", "sensitive_personal")
IMPORTANT = ("important", "flag")


@pytest.fixture(scope="module")
def scan(tmp_path_factory):
    work = tmp_path_factory.mktemp("scan")
    report = work / "report.json"
    catalog = work / "catalog.db"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "scanner",
            "scan",
            str(SAMPLE),
            "--report",
            str(report),
            "--catalog",
            f"sqlite:///{catalog}",
            "-vv",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )
    return {
        "returncode": completed.returncode,
        "stderr": completed.stderr,
        "stdout": completed.stdout,
        "report": json.loads(report.read_text(encoding="utf-8")),
        "report_text": report.read_text(encoding="utf-8"),
        "catalog": catalog,
    }


def dataset_key(uri: str) -> str:
    path = uri.removeprefix("sqlite:///")
    return str(Path(path).relative_to(SAMPLE)) if path.startswith(str(SAMPLE)) else uri


def predicted_labels(report, categories):
    pack = load_rule_pack()
    wanted = {i for i, rule in pack.labels.items() if rule.category in categories}
    found = {}
    for dataset in report["datasets"]:
        key = dataset_key(dataset["uri"])
        found[(key, None)] = {label["id"] for label in dataset["labels"]} & wanted
        for column in dataset["columns"]:
            found[(key, column["name"])] = {
                label["id"] for label in column["labels"]
            } & wanted
    return found, wanted


def truth_labels(wanted):
    truth = json.loads((SAMPLE / "truth.json").read_text(encoding="utf-8"))
    expected = {}
    for dataset in truth["datasets"]:
        expected[(dataset["key"], None)] = set(dataset.get("labels", [])) & wanted
        for column, ids in dataset["columns"].items():
            expected[(dataset["key"], column)] = set(ids) & wanted
    return expected


def test_scan_succeeds(scan):
    assert scan["returncode"] == 0, scan["stderr"][-3000:]
    assert scan["report"]["scan"]["status"] == "ok"


def test_personal_labels_meet_f1_bar(scan):
    predicted, wanted = predicted_labels(scan["report"], PERSONAL)
    per_label, total = score(truth_labels(wanted), predicted)
    print(format_scores(per_label, total))
    assert total.f1 >= MIN_MICRO_F1, (total.misses, total.false_alarms)


def dataset_level(labels):
    return {key: ids for key, ids in labels.items() if key[1] is None}


def test_important_labels_meet_f1_bar(scan):
    predicted, wanted = predicted_labels(scan["report"], IMPORTANT)
    expected = dataset_level(truth_labels(wanted))
    per_label, total = score(expected, dataset_level(predicted))
    print(format_scores(per_label, total))
    assert total.true_positive >= 10
    assert total.f1 >= MIN_MICRO_F1, (total.misses, total.false_alarms)


def test_every_truth_dataset_is_scanned(scan):
    scanned = {dataset_key(d["uri"]) for d in scan["report"]["datasets"]}
    truth = json.loads((SAMPLE / "truth.json").read_text(encoding="utf-8"))
    assert {d["key"] for d in truth["datasets"]} <= scanned


def test_report_contract(scan):
    report = scan["report"]
    assert report["schema_version"] == 1
    for dataset in report["datasets"]:
        assert {"uri", "name", "labels", "columns", "errors"} <= dataset.keys()
        for column in dataset["columns"]:
            assert {"name", "labels", "examined", "non_null"} <= column.keys()
            for label in column["labels"]:
                assert {"id", "category", "confidence", "evidence"} <= label.keys()
                assert label["evidence"]["rule_pack_version"]


def test_sqlite_table_uri_and_name(scan):
    uris = {d["uri"]: d["name"] for d in scan["report"]["datasets"]}
    expected = f"sqlite:///{SAMPLE / 'app' / 'app.db'}/main/app_user"
    assert uris.get(expected) == "app_user"


def _raw_values(report):
    """Values of the sample lake's personal columns, read straight from the files."""
    sys.path.insert(0, str(ROOT))
    from connectors.base import DiscoveryOptions
    from connectors.files import FileConnector
    from connectors.sql import SqlConnector
    from scanner.model import DatasetFailure

    predicted, _ = predicted_labels(report, PERSONAL)
    labelled = {key for key, ids in predicted.items() if ids and key[1]}
    values = set()
    sources = [
        (FileConnector(), str(SAMPLE)),
        (SqlConnector(), f"sqlite:///{SAMPLE / 'app' / 'app.db'}"),
    ]
    for connector, source in sources:
        for handle in connector.discover(source, DiscoveryOptions()):
            if isinstance(handle, DatasetFailure):
                continue
            key = dataset_key(handle.uri)
            try:
                table = handle.sample(100_000).table
            except Exception:
                continue
            for name in table.column_names:
                if (key, name) not in labelled:
                    continue
                for value in table.column(name).to_pylist():
                    items = value if isinstance(value, list) else [value]
                    for item in items:
                        if isinstance(item, str):
                            # Digit runs inside free text are what a leak would show.
                            values.update(re.findall(r"\d{7,}", item))
                            if len(item) >= 6 and len(item) <= 40:
                                values.add(item)
    return values


def test_no_raw_value_leaks(scan):
    values = _raw_values(scan["report"])
    assert len(values) > 500
    connection = sqlite3.connect(scan["catalog"])
    catalog_text = "\n".join(
        str(row)
        for table in ("labels", "datasets", "columns", "scans")
        for row in connection.execute(f"select * from {table}")
    )
    connection.close()
    places = {
        "report": scan["report_text"],
        "log": scan["stderr"],
        "stdout": scan["stdout"],
        "catalog": catalog_text,
    }
    for place, text in places.items():
        leaked = sorted(v for v in values if v in text)
        assert not leaked, f"{len(leaked)} raw values in the {place}, e.g. {leaked[:3]}"


def _dataset_labels(report):
    return {
        dataset_key(dataset["uri"]): {label["id"]: label for label in dataset["labels"]}
        for dataset in report["datasets"]
    }


def test_object_files_labelled(scan):
    found = _dataset_labels(scan["report"])
    exterior = "imp.driving_automation.exterior_media"
    assert exterior in found["objects/adas/rear_cam/frame_0002.jpg"]
    assert "spi.cabin_media" in found["objects/dms/cabin/frame_0004.jpg"]
    assert found["objects/marketing/showroom_0003.jpg"] == {}
    assert "imp.software_upgrade.ota" in found["objects/ecu/bcm_v3.hex"]
    point_cloud = found["objects/lidar/sweep_0001.pcd"]
    assert {"imp.driving_automation.point_cloud", "flag.surveying"} <= set(point_cloud)


def test_faces_raise_exterior_confidence(scan):
    pytest.importorskip("cv2")
    found = _dataset_labels(scan["report"])
    exterior = "imp.driving_automation.exterior_media"
    without_face = found["objects/adas/rear_cam/frame_0002.jpg"][exterior]
    frames = found["objects/adas/camera_frames.parquet"][exterior]
    assert without_face["confidence"] == pytest.approx(0.55)
    assert frames["confidence"] == pytest.approx(0.85)
    assert any("had faces" in s for s in frames["evidence"]["signals"])
