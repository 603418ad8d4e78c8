"""Important-data dataset labels from the rule pack's composite rules."""

import datetime as dt
import random

import pyarrow as pa
import pytest

from classifiers.important import ImportantDataClassifier
from classifiers.pipeline import classify_sample
from classifiers.rulepack import load_rule_pack
from classifiers.shapes import cve_id
from scanner.errors import RulePackError
from scanner.model import Sample
from scanner.plugins import CLASSIFIERS, load_plugins

ROWS = 60
START = dt.datetime(2026, 1, 5, 8)
VIN = "LSVAU2180N2183294"


def times() -> list[dt.datetime]:
    return [START + dt.timedelta(minutes=7 * i) for i in range(ROWS)]


def floats(rng: random.Random, low: float, high: float, digits: int) -> list[float]:
    return [round(rng.uniform(low, high), digits) for _ in range(ROWS)]


def codes(prefix: str, count: int = 8) -> list[str]:
    return [f"{prefix}{i % count:03d}" for i in range(ROWS)]


def charging_sessions(rng):
    return {
        "pile_no": codes("P"),
        "start_time": times(),
        "energy_kwh": floats(rng, 5, 70, 2),
    }


def charging_prices(rng):
    return {
        "station_id": codes("CS"),
        "price_per_kwh": floats(rng, 0.5, 1.5, 2),
        "valid_from": times(),
    }


def traffic(rng):
    return {
        "segment_id": codes("SEG-"),
        "hour": times(),
        "vehicle_count": [rng.randint(10, 900) for _ in range(ROWS)],
    }


def trips_with_speed(rng):
    return {
        "vin": [VIN] * ROWS,
        "segment_id": codes("SEG-"),
        "ts": times(),
        "speed_kmh": floats(rng, 0, 90, 1),
    }


def waybills(rng):
    return {
        "waybill_no": codes("WB", ROWS),
        "origin_city": ["上海"] * ROWS,
        "destination_city": ["合肥"] * ROWS,
        "weight_kg": floats(rng, 100, 9000, 1),
        "dispatched_at": times(),
    }


def remote_commands(rng):
    return {
        "vin": [VIN] * ROWS,
        "cmd_type": [rng.choice(["unlock", "lock", "ac_on"]) for _ in range(ROWS)],
        "issued_at": times(),
        "result": [rng.choice(["success", "timeout"]) for _ in range(ROWS)],
    }


def commands_without_result(rng):
    columns = remote_commands(rng)
    del columns["result"]
    return columns


def lanes(rng):
    return {
        "lane_id": codes("L"),
        "lat": floats(rng, 31.2, 31.3, 6),
        "lon": floats(rng, 121.4, 121.5, 6),
        "alt_m": floats(rng, 2, 9, 2),
    }


def survey_points(rng):
    return {
        "point_id": codes("GCP", ROWS),
        "latitude": floats(rng, 39.9, 40.0, 9),
        "longitude": floats(rng, 116.3, 116.4, 9),
    }


def tracks_at_survey_precision(rng):
    return {"vin": [VIN] * ROWS, "ts": times(), **survey_points(rng)}


def centroids(rng):
    return {
        "city": codes("C"),
        "lat": floats(rng, 20, 45, 2),
        "lon": floats(rng, 100, 125, 2),
    }


def xyz_points(rng):
    return {
        "x": floats(rng, -50, 50, 3),
        "y": floats(rng, -50, 50, 3),
        "z": floats(rng, -2, 5, 3),
        "intensity": floats(rng, 0, 1, 3),
    }


def point_vectors(rng):
    points = [[rng.uniform(-9, 9) for _ in range(4)] for _ in range(ROWS)]
    return {"frame_id": codes("F"), "xyzi": pa.array(points, pa.list_(pa.float32()))}


def imu(rng):
    return {f"acc_{axis}": floats(rng, -2, 2, 3) for axis in "xyz"}


def ota_packages(rng):
    return {
        "ecu_name": codes("ECU"),
        "firmware_version": [f"1.{i % 9}.0" for i in range(ROWS)],
        "sha256": ["ab" * 32] * ROWS,
    }


def app_releases(rng):
    return {"app_version": [f"5.{i % 9}.0" for i in range(ROWS)], "notes": ["ok"] * 60}


def cve_reports(rng):
    return {
        "report_id": codes("VR", ROWS),
        "reference": [f"CVE-2024-{1000 + i}" for i in range(ROWS)],
    }


def line_output(rng):
    return {
        "line_id": codes("LINE"),
        "shift_date": times(),
        "takt_time_s": floats(rng, 50, 60, 1),
        "actual_output": [rng.randint(300, 420) for _ in range(ROWS)],
    }


def parts_bins(rng):
    return {
        "part_no": codes("PN", ROWS),
        "lane": codes("A"),
        "qty": [rng.randint(0, 90) for _ in range(ROWS)],
        "updated_on": times(),
    }


def supply_plan(rng):
    return {
        "supplier": codes("SUP"),
        "part_no": codes("PN", ROWS),
        "monthly_capacity": [rng.randint(1000, 9000) for _ in range(ROWS)],
        "plan_month": times(),
    }


CHARGING = "imp.connected_operation.charging_network"
FLOW = "imp.connected_operation.vehicle_flow"
REMOTE = "imp.connected_operation.remote_control"
GEODATA = "imp.driving_automation.geodata"
POINT_CLOUD = "imp.driving_automation.point_cloud"
OTA = "imp.software_upgrade.ota"
PRODUCTION = "imp.production.capacity"
SURVEYING = "flag.surveying"

CASES = [
    (charging_sessions, {CHARGING}),
    (charging_prices, set()),
    (traffic, {FLOW}),
    (trips_with_speed, set()),
    (waybills, {FLOW}),
    (remote_commands, {REMOTE}),
    (commands_without_result, set()),
    (lanes, {GEODATA, SURVEYING}),
    (survey_points, {GEODATA, SURVEYING}),
    (tracks_at_survey_precision, set()),
    (centroids, set()),
    (xyz_points, {POINT_CLOUD, SURVEYING}),
    (point_vectors, {POINT_CLOUD, SURVEYING}),
    (imu, set()),
    (ota_packages, {OTA}),
    (app_releases, set()),
    (cve_reports, {OTA}),
    (line_output, {PRODUCTION}),
    (parts_bins, set()),
    (supply_plan, {PRODUCTION}),
]
IMPORTANT_IDS = {CHARGING, FLOW, REMOTE, GEODATA, POINT_CLOUD, OTA, PRODUCTION}


def classify(columns, rules=None):
    rules = rules or load_rule_pack()
    classifiers = [cls(rules) for cls in load_plugins(CLASSIFIERS).values()]
    sample = Sample(table=pa.table(columns))
    _, labels = classify_sample(sample, classifiers, rules)
    return {label.id: label for label in labels}


@pytest.mark.parametrize(
    ("build", "expected"), CASES, ids=[c[0].__name__ for c in CASES]
)
def test_dataset_labels(build, expected):
    labels = classify(build(random.Random(7)))
    found = set(labels) & (IMPORTANT_IDS | {SURVEYING})
    assert found == expected


def test_evidence_names_role_columns():
    label = classify(charging_sessions(random.Random(1)))[CHARGING]
    signals = label.evidence.signals
    assert label.evidence.rule_id == "imp.charging_network.sessions"
    assert "role station, pile or connector: pile_no" in signals
    assert "role energy or power: energy_kwh" in signals
    assert "role time: start_time" in signals
    assert any(s.startswith("rule source: 2021 automotive") for s in signals)
    assert any(s.startswith("provisional rule") for s in signals)


def test_important_classifier_registered():
    assert load_plugins(CLASSIFIERS)["important"] is ImportantDataClassifier


def test_replacement_pack_changes_rules(tmp_path):
    pack = tmp_path / "rules.yaml"
    pack.write_text(
        """
name: acme
version: "1"
labels:
  - id: imp.connected_operation.charging_network
    composite: []
  - id: imp.production.capacity
    composite:
      - id: acme.parts_bins
        confidence: 0.8
        source: acme internal classification
        all_of:
          - role: warehouse lane
            name_hints: {en: [lane]}
          - role: stock
            name_hints: {en: [qty]}
            numeric: true
""",
        encoding="utf-8",
    )
    rules = load_rule_pack(pack)
    assert CHARGING not in classify(charging_sessions(random.Random(2)), rules)
    label = classify(parts_bins(random.Random(2)), rules)[PRODUCTION]
    assert label.evidence.rule_id == "acme.parts_bins"
    assert "role warehouse lane: lane" in label.evidence.signals


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("also_labels", "[flag.nope]", "unknown label id 'flag.nope'"),
        ("all_of", "[{role: a, validator: nope}]", "unknown validator 'nope'"),
    ],
)
def test_replacement_pack_checked(tmp_path, field, value, message):
    pack = tmp_path / "rules.yaml"
    pack.write_text(
        "name: acme\nversion: '1'\nlabels:\n"
        "  - id: imp.production.capacity\n    composite:\n"
        "      - id: acme.rule\n        confidence: 0.7\n        source: acme\n"
        "        all_of: [{role: line, name_hints: {en: [line]}}]\n"
        f"        {field}: {value}\n",
        encoding="utf-8",
    )
    with pytest.raises(RulePackError, match=message):
        load_rule_pack(pack)


@pytest.mark.parametrize(
    ("value", "hit"),
    [
        ("CVE-2024-12345", True),
        ("见 cve-2021-44228 公告", True),
        ("CVE-2024-123", False),
        ("CVE-24-12345", False),
        ("XCVE-2024-12345", False),
    ],
)
def test_cve_id_validator(value, hit):
    assert bool(cve_id(pa.array([value]))[0]) is hit
