"""User lists: geofences, term lists and recipients, from file to label."""

import json
import random
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from classifiers.lists import UserListClassifier, _contains_any
from classifiers.pipeline import classify_sample
from classifiers.rulepack import load_rule_pack
from classifiers.userlists import (
    UserListError,
    load_geofences,
    load_recipients,
    load_terms,
    load_user_lists,
)
from scanner.model import Sample
from scanner.plugins import CLASSIFIERS, load_plugins

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
AREA = "imp.sensitive_area"
CONTROLLED = "imp.rd_design.controlled"
EXPORT = "flag.export_control"
ROWS = 40
# A made-up square of 0.1 degree around 39.9 N, 116.4 E.
SQUARE = [[116.35, 39.85], [116.45, 39.85], [116.45, 39.95], [116.35, 39.95]]
TERMS = "national_key_projects: [XK-2099-001, 示例专项]\nexport_control: [EX-9Z999]\n"


def geojson(tmp_path, features=None):
    ring = [*SQUARE, SQUARE[0]]
    features = features or [
        {
            "type": "Feature",
            "id": "fence-1",
            "properties": {"name": "test square"},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }
    ]
    path = tmp_path / "fences.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def classify(columns, geofences=None, terms=None, pack=None):
    rules = load_rule_pack(pack)
    rules.lists = load_user_lists(geofences, terms)
    classifiers = [cls(rules) for cls in load_plugins(CLASSIFIERS).values()]
    results, labels = classify_sample(
        Sample(table=pa.table(columns)), classifiers, rules
    )
    by_column = {c.name: {label.id for label in c.labels} for c in results}
    return {label.id: label for label in labels}, by_column


def coordinates(inside: int, seed: int = 4):
    rng = random.Random(seed)
    lat = [round(rng.uniform(39.86, 39.94), 6) for _ in range(inside)]
    lon = [round(rng.uniform(116.36, 116.44), 6) for _ in range(inside)]
    lat += [round(rng.uniform(30.0, 31.0), 6) for _ in range(ROWS - inside)]
    lon += [round(rng.uniform(120.0, 121.0), 6) for _ in range(ROWS - inside)]
    return {"trip_id": [f"T{i}" for i in range(ROWS)], "lat": lat, "lon": lon}


def test_points_inside_geofence(tmp_path):
    columns = coordinates(inside=3)
    labels, by_column = classify(columns, geofences=geojson(tmp_path))
    label = labels[AREA]
    assert "geofence fence-1 (test square): 3 of 40 sampled points inside" in (
        label.evidence.signals
    )
    assert label.evidence.matches == 3
    assert AREA in by_column["lat"]
    assert AREA in by_column["lon"]
    assert AREA not in by_column["trip_id"]

    # The evidence never contains a coordinate.
    text = json.dumps(label.to_dict(), ensure_ascii=False)
    for value in columns["lat"] + columns["lon"]:
        assert str(value) not in text


def test_points_outside_or_imprecise(tmp_path):
    fences = geojson(tmp_path)
    assert AREA not in classify(coordinates(inside=0), geofences=fences)[0]

    coarse = coordinates(inside=ROWS)
    coarse["lat"] = [round(v, 1) for v in coarse["lat"]]
    coarse["lon"] = [round(v, 1) for v in coarse["lon"]]
    assert AREA not in classify(coarse, geofences=fences)[0]

    assert AREA not in classify(coordinates(inside=ROWS))[0]


def test_min_points_in_area_threshold(tmp_path):
    pack = write(
        tmp_path,
        "pack.yaml",
        "name: t\nversion: '1'\nthresholds:\n  min_points_in_area: 5\nlabels: []\n",
    )
    fences = geojson(tmp_path)
    assert AREA not in classify(coordinates(4), fences, pack=pack)[0]
    assert AREA in classify(coordinates(5), fences, pack=pack)[0]


@pytest.mark.parametrize(
    "values",
    [
        ["39.901234,116.401234"] * 5,
        ["116.401234, 39.901234"] * 5,
        ["POINT (116.401234 39.901234)"] * 5,
    ],
    ids=["lat-lon pair", "lon-lat pair", "wkt"],
)
def test_pair_columns(tmp_path, values):
    labels, by_column = classify({"gps": values}, geofences=geojson(tmp_path))
    assert labels[AREA].evidence.matches == 5
    assert AREA in by_column["gps"]


def test_multipolygon_and_several_fences(tmp_path):
    labels, _ = classify(
        coordinates(inside=2),
        geofences=EXAMPLES / "geofences.example.geojson",
    )
    assert any(
        s.startswith("geofence example-area-1") for s in labels[AREA].evidence.signals
    )


def test_terms_in_values_and_names(tmp_path):
    terms = write(tmp_path, "terms.yaml", TERMS)
    columns = {
        "project": ["课题 XK-2099-001 第三阶段"] * 3 + ["其他"] * 7,
        "remark": ["普通"] * 9 + ["含示例专项数据"],
        "ex-9z999_limit": ["1"] * 10,
    }
    labels, _ = classify(columns, terms=terms)

    controlled = labels[CONTROLLED].evidence
    assert controlled.rule_id == f"{CONTROLLED}.national_key_projects"
    assert "national_key_projects terms in column project: 3 values" in (
        controlled.signals
    )
    assert "national_key_projects terms in column remark: 1 values" in (
        controlled.signals
    )
    text = json.dumps(labels[CONTROLLED].to_dict(), ensure_ascii=False)
    assert "XK-2099-001" not in text
    assert "示例专项" not in text
    assert controlled.masked_examples

    exported = labels[EXPORT].evidence
    assert "column name ex-9z999_limit contains a export_control term" in (
        exported.signals
    )


@pytest.mark.parametrize(
    ("term", "value", "hit"),
    [
        ("(A+B)", "x (a+b) y", True),
        ("a.b", "a-b", False),
        ("项目7", "第项目7号", True),
        ("C:\\X", "path c:\\x", True),
    ],
)
def test_terms_match_literally(term, value, hit):
    assert bool(_contains_any(pa.array([value]), [term])[0]) is hit


def test_no_terms_no_labels(tmp_path):
    terms = write(tmp_path, "terms.yaml", TERMS)
    labels, _ = classify({"note": ["nothing to see"] * 5}, terms=terms)
    assert not {CONTROLLED, EXPORT} & set(labels)


def test_classifier_registered():
    assert load_plugins(CLASSIFIERS)["lists"] is UserListClassifier


@pytest.mark.parametrize(
    ("loader", "name", "text", "message"),
    [
        (load_geofences, "f.geojson", "{", "not valid JSON"),
        (load_geofences, "f.geojson", '{"type": "Feature"}', "FeatureCollection"),
        (
            load_geofences,
            "f.geojson",
            '{"type": "FeatureCollection", "features": []}',
            "no features",
        ),
        (
            load_geofences,
            "f.geojson",
            '{"type": "FeatureCollection", "features": [{"type": "Feature", '
            '"geometry": {"type": "Point", "coordinates": [116.4, 39.9]}}]}',
            "feature 1 is a Point",
        ),
        (
            load_geofences,
            "f.geojson",
            '{"type": "FeatureCollection", "features": [{"type": "Feature", '
            '"geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], '
            "[1, 0], [0, 1], [0, 0]]]}}]}",
            "not a valid area",
        ),
        (load_terms, "t.yaml", "- a\n", "must be a mapping"),
        (load_terms, "t.yaml", "projects: [a]\n", "unknown list 'projects'"),
        (load_terms, "t.yaml", "export_control: [a, 3]\n", "non-empty strings"),
        (load_terms, "t.yaml", "export_control: []\n", "every term list is empty"),
        (load_terms, "t.yaml", "export_control: [a\n", "not valid YAML"),
        (load_recipients, "r.yaml", "[]\n", "non-empty list"),
        (load_recipients, "r.yaml", "- country: DE\n", "recipient 1 has no name"),
        (load_recipients, "r.yaml", "- name: A\n  country: Germany\n", "two-letter"),
        (load_recipients, "r.yaml", "- name: A\n  country: CN\n", "outside"),
    ],
)
def test_invalid_files(tmp_path, loader, name, text, message):
    path = write(tmp_path, name, text)
    with pytest.raises(UserListError, match=message) as caught:
        loader(path)
    assert str(path) in str(caught.value)


def test_missing_file(tmp_path):
    with pytest.raises(UserListError, match="cannot read"):
        load_terms(tmp_path / "absent.yaml")


def test_examples_are_marked_and_load():
    geofences = EXAMPLES / "geofences.example.geojson"
    assert "Made-up example" in json.loads(geofences.read_text())["note"]
    for name in ("terms.example.yaml", "recipients.example.yaml"):
        assert (EXAMPLES / name).read_text().startswith("# Made-up example")
    lists = load_user_lists(
        geofences,
        EXAMPLES / "terms.example.yaml",
        EXAMPLES / "recipients.example.yaml",
    )
    assert len(lists.geofences) == 2
    assert [r.country for r in lists.recipients] == ["DE", "US"]


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "scanner", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_scan_with_lists(tmp_path):
    lake = tmp_path / "lake"
    lake.mkdir()
    columns = coordinates(inside=3)
    rows = zip(columns["trip_id"], columns["lat"], columns["lon"], strict=True)
    (lake / "trips.csv").write_text(
        "trip_id,lat,lon,project\n"
        + "".join(f"{t},{a},{o},XK-2099-001\n" for t, a, o in rows),
        encoding="utf-8",
    )
    report = tmp_path / "r.json"
    done = run(
        "scan",
        lake,
        "--no-catalog",
        "--report",
        report,
        "--geofences",
        geojson(tmp_path),
        "--terms",
        write(tmp_path, "terms.yaml", TERMS),
        "--recipients",
        EXAMPLES / "recipients.example.yaml",
    )
    assert done.returncode == 0, done.stderr
    dataset = json.loads(report.read_text())["datasets"][0]
    assert {AREA, CONTROLLED} <= {label["id"] for label in dataset["labels"]}
    assert dataset["grade"] == "important"


@pytest.mark.parametrize(
    ("option", "name", "text"),
    [
        ("--geofences", "bad.geojson", "[]"),
        ("--terms", "bad.yaml", "projects: [a]\n"),
        ("--recipients", "bad.yaml", "- name: A\n"),
    ],
)
def test_cli_invalid_list_exits_two(tmp_path, option, name, text):
    path = write(tmp_path, name, text)
    (tmp_path / "a.csv").write_text("a\n1\n")
    done = run("scan", tmp_path / "a.csv", "--no-catalog", option, path)
    assert done.returncode == 2
    assert f"{option} {path}" in done.stderr
