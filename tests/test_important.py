"""Important-data dataset labels from the rule pack's composite rules."""

import datetime as dt
import json
import random

import pyarrow as pa
import pytest

from classifiers.important import ImportantDataClassifier
from classifiers.pipeline import classify_sample
from classifiers.rulepack import load_rule_pack
from classifiers.shapes import cve_id, geometry_3d, point_array_json, wkt_geometry
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


def vehicle_condition(rng):
    return {
        "vin": [VIN] * ROWS,
        "ts": [START + dt.timedelta(seconds=i) for i in range(ROWS)],
        "speed_kmh": floats(rng, 0, 90, 1),
        "soc_pct": floats(rng, 20, 90, 1),
        "door_lock_state": [rng.choice(["locked", "unlocked"]) for _ in range(ROWS)],
        "tyre_pressure_kpa": [rng.randint(220, 250) for _ in range(ROWS)],
    }


def condition_with_two_signals(rng):
    columns = vehicle_condition(rng)
    del columns["soc_pct"]
    del columns["tyre_pressure_kpa"]
    return columns


def service_visits(rng):
    return {
        "vin": [VIN] * ROWS,
        "visit_date": times(),
        "odometer_km": [rng.randint(3000, 90000) for _ in range(ROWS)],
        "fault_code": [rng.choice(["P0A80", "U0100", ""]) for _ in range(ROWS)],
        "service_type": ["保养"] * ROWS,
    }


def linestring_z(rng, points=6):
    coordinates = ", ".join(
        f"{121.47 + rng.uniform(0, 0.01):.8f} {31.23 + rng.uniform(0, 0.01):.8f} "
        f"{rng.uniform(2, 9):.3f}"
        for _ in range(points)
    )
    return f"LINESTRING Z ({coordinates})"


def lane_wkt(rng):
    return {"lane_id": codes("L"), "geom": [linestring_z(rng) for _ in range(ROWS)]}


def lane_centerline_only(rng):
    return {"lane_centerline": [linestring_z(rng) for _ in range(ROWS)]}


def lane_wkb_hex(rng):
    # EWKB little-endian POINT Z with SRID 4326: type 0xA0000001, then x y z.
    import struct

    points = [
        (
            b"\x01"
            + struct.pack("<II", 0xA0000001, 4326)
            + struct.pack("<3d", rng.uniform(121, 122), rng.uniform(31, 32), 4.5)
        ).hex()
        for _ in range(ROWS)
    ]
    return {"road_id": codes("R"), "boundary_geom": points}


def poi_points_2d(rng):
    return {
        "poi_id": codes("POI", ROWS),
        "road_name": ["人民路"] * ROWS,
        "lane_count": [rng.randint(1, 4) for _ in range(ROWS)],
        "geom": [
            f"POINT ({rng.uniform(116, 117):.6f} {rng.uniform(39, 40):.6f})"
            for _ in range(ROWS)
        ],
    }


def trip_linestring_z(rng):
    return {"vin": [VIN] * ROWS, **lane_wkt(rng)}


def json_points(rng, count):
    return json.dumps(
        [[round(rng.uniform(-40, 40), 3) for _ in range(4)] for _ in range(count)]
    )


def json_sweeps(rng):
    return {
        "frame_id": codes("F"),
        "points": [json_points(rng, 20) for _ in range(ROWS)],
    }


def json_box_corners(rng):
    return {
        "frame_id": codes("F"),
        "corner_points": [json_points(rng, 8) for _ in range(ROWS)],
    }


def json_gps_track(rng):
    return {"trip_id": codes("T"), "track_points": [json_points(rng, 20)] * ROWS}


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
    (vehicle_condition, {REMOTE}),
    (condition_with_two_signals, set()),
    (service_visits, set()),
    (lane_wkt, {GEODATA, SURVEYING}),
    (lane_centerline_only, {GEODATA, SURVEYING}),
    (lane_wkb_hex, {GEODATA, SURVEYING}),
    (poi_points_2d, set()),
    (trip_linestring_z, set()),
    (json_sweeps, {POINT_CLOUD, SURVEYING}),
    (json_box_corners, set()),
    (json_gps_track, set()),
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


@pytest.mark.parametrize(
    ("value", "any_dimension", "three_dimensions"),
    [
        ("LINESTRING Z (121.47 31.23 4.2, 121.48 31.24 4.3)", True, True),
        ("POLYGON Z ((0 0 1, 1 0 1, 1 1 1, 0 0 1))", True, True),
        ("MULTILINESTRING ZM ((1 2 3 4, 5 6 7 8))", True, True),
        ("point z (1 2 3)", True, True),
        ("SRID=4326;POINT(121.5 31.2 4.5)", True, True),
        ("POINT (116.39 39.91)", True, False),
        ("LINESTRING(1 2, 3 4)", True, False),
        ("POINT M (1 2 3)", True, False),
        ("POINT Z", False, False),
        ("POINTS (1 2 3)", False, False),
        ("road 3 lanes", False, False),
        ("01010000a0e6100000" + "00" * 24, False, True),
        ("01e9030000" + "00" * 24, False, True),
        ("00000003e9" + "00" * 24, False, True),
        ("0101000000" + "00" * 16, False, False),
        ("01e9030000" + "00" * 4, False, False),
    ],
)
def test_geometry_validators(value, any_dimension, three_dimensions):
    values = pa.array([value])
    assert bool(wkt_geometry(values)[0]) is any_dimension
    assert bool(geometry_3d(values)[0]) is three_dimensions


@pytest.mark.parametrize(
    ("points", "hit"),
    [
        ([[1.5, 2, -0.3, 12]] * 16, True),
        ([[1, 2, 3]] * 40, True),
        ([[1, 2, 3, 4, 5]] * 16, True),
        ([[1, 2, 3]] * 15, False),
        ([[1, 2]] * 20, False),
        ([[1, 2, 3, 4, 5, 6]] * 20, False),
        ([["a", 2, 3]] * 20, False),
    ],
)
def test_point_array_validator(points, hit):
    values = pa.array([json.dumps(points)])
    assert bool(point_array_json(values)[0]) is hit


def test_validators_skip_nulls():
    values = pa.array([None, ""], pa.string())
    assert not wkt_geometry(values).any()
    assert not geometry_3d(values).any()
    assert not point_array_json(values).any()
