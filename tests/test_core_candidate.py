"""flag.core_candidate: important data at a national scale."""

import datetime as dt
import random

import pyarrow as pa
import pytest

from classifiers.pipeline import classify_sample
from classifiers.rulepack import load_rule_pack
from classifiers.shapes import cn_region
from scanner.model import Sample
from scanner.plugins import CLASSIFIERS, load_plugins

ROWS = 60
CORE = "flag.core_candidate"
GEODATA = "imp.driving_automation.geodata"
FLOW = "imp.connected_operation.vehicle_flow"
START = dt.datetime(2026, 1, 5, 8)
PROVINCES = [
    "北京市",
    "天津市",
    "河北省",
    "山西省",
    "辽宁省",
    "吉林省",
    "黑龙江省",
    "上海市",
    "江苏省",
    "浙江省",
    "安徽省",
    "福建省",
    "江西省",
    "山东省",
    "河南省",
    "湖北省",
    "湖南省",
    "广东省",
    "海南省",
    "四川省",
    "贵州省",
    "云南省",
    "陕西省",
    "甘肃省",
]


def classify(columns):
    rules = load_rule_pack()
    classifiers = [cls(rules) for cls in load_plugins(CLASSIFIERS).values()]
    _, labels = classify_sample(Sample(table=pa.table(columns)), classifiers, rules)
    return {label.id: label for label in labels}


def survey(lat: tuple[float, float], lon: tuple[float, float]):
    rng = random.Random(3)
    # Corners first, so that the span does not depend on the draw.
    lats = [lat[0], lat[1]] + [rng.uniform(*lat) for _ in range(ROWS - 2)]
    lons = [lon[0], lon[1]] + [rng.uniform(*lon) for _ in range(ROWS - 2)]
    return {
        "point_id": [f"GCP{i:03d}" for i in range(ROWS)],
        "latitude": [round(v, 9) for v in lats],
        "longitude": [round(v, 9) for v in lons],
    }


def flow(regions: list[str]):
    rng = random.Random(5)
    return {
        "segment_id": [f"SEG-{i % 8:03d}" for i in range(ROWS)],
        "area_code": [regions[i % len(regions)] for i in range(ROWS)],
        "hour": [START + dt.timedelta(hours=i) for i in range(ROWS)],
        "vehicle_count": [rng.randint(10, 900) for _ in range(ROWS)],
    }


CASES = [
    ("national survey", survey((22.0, 41.0), (100.0, 121.0)), {GEODATA, CORE}),
    ("city survey", survey((39.8, 40.1), (116.2, 116.6)), {GEODATA}),
    ("wide in longitude only", survey((39.0, 41.0), (100.0, 121.0)), {GEODATA}),
    ("24 provinces", flow(PROVINCES), {FLOW, CORE}),
    (
        "30 region codes",
        flow([f"{code}0100" for code in range(11, 66) if code % 10 <= 5][:30]),
        {FLOW, CORE},
    ),
    ("5 provinces", flow(PROVINCES[:5]), {FLOW}),
    ("40 made-up codes", flow([f"99{i:04d}" for i in range(40)]), {FLOW}),
]


@pytest.mark.parametrize(
    ("_name", "columns", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_core_candidate(_name, columns, expected):
    labels = classify(columns)
    assert set(labels) & {GEODATA, FLOW, CORE} == expected


def test_core_candidate_evidence():
    label = classify(flow(PROVINCES))[CORE]
    signals = label.evidence.signals
    assert label.evidence.rule_id == "core.nationwide_vehicle_flow"
    assert f"builds on dataset labels: {FLOW}" in signals
    assert "rule source: GB/T 43697-2024; provisional threshold" in signals


def test_core_candidate_without_base_label():
    # Wide coordinates with a vehicle key are a track, not geodata.
    columns = survey((22.0, 41.0), (100.0, 121.0))
    columns["vin"] = ["LSVAU2180N2183294"] * ROWS
    columns["ts"] = [START + dt.timedelta(minutes=i) for i in range(ROWS)]
    assert CORE not in classify(columns)


@pytest.mark.parametrize(
    ("value", "hit"),
    [
        ("110105", True),
        ("440300", True),
        ("991234", False),
        ("11010", False),
        ("北京市", True),
        ("广东", True),
        ("海淀区", True),
        ("Guangdong", True),
        ("hong kong", True),
        ("hello", False),
        ("北京路88号", False),
        ("内蒙古自治区", True),
        ("A12", False),
    ],
)
def test_cn_region(value, hit):
    assert bool(cn_region(pa.array([value]))[0]) is hit
