"""Tests for the sample lake generator and its ground truth.

The generator runs twice (once in process, once through its command line) and
both outputs must match byte for byte. The truth file must name only label ids
of the product's vocabulary and exactly the datasets and columns that the
generated files contain. Values meant as positives must pass their checks and
look-alike negatives must fail them.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import importlib.util
import io
import json
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from types import ModuleType
from typing import Any

import fastavro
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from stdnum import luhn
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

SAMPLE_DATA = Path(__file__).resolve().parents[1] / "sample_data"
GENERATOR = SAMPLE_DATA / "generate.py"
SQLITE_MARKER = ".db/main/"
TEXT_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json")
# Files that cardex describes as one object each (images, point clouds...).
OBJECT_SUFFIXES = (".jpg", ".pcd", ".mcap", ".hex")

# The label ids of the product's vocabulary: personal, sensitive personal,
# important and flag labels.
LABEL_IDS = frozenset(
    {
        "pi.name", "pi.phone", "pi.email", "pi.address", "pi.birth_date",
        "pi.gender", "pi.ip_address", "pi.device_id", "pi.vin",
        "pi.licence_plate", "pi.account",
        "spi.id_number", "spi.bank_card", "spi.location", "spi.biometric",
        "spi.cabin_media", "spi.health", "spi.credential", "spi.religion",
        "spi.minor",
        "imp.driving_automation.exterior_media",
        "imp.driving_automation.point_cloud", "imp.driving_automation.geodata",
        "imp.connected_operation.vehicle_flow",
        "imp.connected_operation.charging_network",
        "imp.connected_operation.remote_control", "imp.software_upgrade.ota",
        "imp.rd_design.controlled", "imp.production.capacity",
        "imp.sensitive_area", "imp.personal_volume",
        "flag.surveying", "flag.core_candidate", "flag.export_control",
        "flag.anonymised",
    }
)  # fmt: skip


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sample_generate", GENERATOR)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the class is built.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory, generator: ModuleType) -> Path:
    outdir = tmp_path_factory.mktemp("lake")
    generator.generate(outdir)
    return outdir


@pytest.fixture(scope="module")
def truth(lake: Path) -> list[dict[str, Any]]:
    data: dict[str, list[dict[str, Any]]] = json.loads(
        (lake / "truth.json").read_text(encoding="utf-8")
    )
    return data["datasets"]


def files_under(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


# ---------------------------------------------------------------------------
# Reading the generated files back
# ---------------------------------------------------------------------------


def decode_text(raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw.decode("utf-8-sig")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("gbk")


def read_csv(path: Path) -> list[dict[str, str]]:
    delimiter = "\t" if path.suffix == ".tsv" else ","
    text = decode_text(path.read_bytes())
    return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))


def read_json_records(path: Path) -> list[dict[str, Any]]:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    text = raw.decode("utf-8")
    if path.name.endswith((".jsonl", ".jsonl.gz")):
        return [json.loads(line) for line in text.splitlines() if line]
    records: list[dict[str, Any]] = json.loads(text)
    return records


def column_paths(value: Any, prefix: str) -> Iterator[str]:
    """Yield the dotted column paths of one nested JSON value."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield from column_paths(child, f"{prefix}.{key}" if prefix else key)
    elif isinstance(value, list):
        if value and all(isinstance(v, int | float) for v in value):
            yield prefix  # a vector of numbers stays one column
        else:
            for child in value:
                yield from column_paths(child, prefix + "[]")
    else:
        yield prefix


def sqlite_table(lake: Path, key: str) -> tuple[Path, str]:
    database, _, table = key.partition(SQLITE_MARKER)
    return lake / (database + ".db"), table


def dataset_columns(lake: Path, key: str) -> list[str]:
    """Return the column names of one dataset named by its truth key."""
    if SQLITE_MARKER in key:
        database, table = sqlite_table(lake, key)
        with closing(sqlite3.connect(database)) as connection:
            info = connection.execute(f"PRAGMA table_info({table})").fetchall()
        return [row[1] for row in info]
    path = lake / key
    if path.is_dir():
        return list(pads.dataset(path, partitioning="hive").schema.names)
    if path.suffix == ".parquet":
        return list(pq.read_schema(path).names)
    if path.suffix == ".avro":
        return [field["name"] for field in avro_schema(path)["fields"]]
    if path.suffix in (".csv", ".tsv"):
        return list(read_csv(path)[0])
    if path.suffix in OBJECT_SUFFIXES:
        return object_columns(path)
    paths: dict[str, None] = {}
    for record in read_json_records(path):
        paths.update(dict.fromkeys(column_paths(record, "")))
    return list(paths)


def object_columns(path: Path) -> list[str]:
    """Return the columns of the row that cardex writes for an object file."""
    from connectors.base import DiscoveryOptions
    from connectors.files import FileConnector

    (handle,) = FileConnector().discover(str(path), DiscoveryOptions())
    return list(handle.sample(1).table.column_names)


def avro_schema(path: Path) -> dict[str, Any]:
    with path.open("rb") as stream:
        schema = fastavro.reader(stream).writer_schema
    assert isinstance(schema, dict)
    return schema


def avro_records(path: Path) -> list[dict[str, Any]]:
    with path.open("rb") as stream:
        return [
            record for record in fastavro.reader(stream) if isinstance(record, dict)
        ]


def sqlite_values(lake: Path, key: str, column: str) -> list[Any]:
    database, table = sqlite_table(lake, key)
    with closing(sqlite3.connect(database)) as connection:
        rows = connection.execute(f"SELECT {column} FROM {table}").fetchall()
    return [row[0] for row in rows if row[0] is not None]


# ---------------------------------------------------------------------------
# Determinism and the truth file
# ---------------------------------------------------------------------------


def test_generate_twice_same_bytes(lake: Path, tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(GENERATOR), str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    first, second = files_under(lake), files_under(tmp_path)
    assert sorted(first) == sorted(second)
    changed = [name for name in first if first[name] != second[name]]
    assert changed == []


def test_committed_text_files_current(lake: Path) -> None:
    # Binary formats embed library versions, so only text files are compared.
    generated = {
        name: data
        for name, data in files_under(lake).items()
        if name.endswith(TEXT_SUFFIXES)
    }
    stale = [
        name
        for name, data in generated.items()
        if (SAMPLE_DATA / name).read_bytes() != data
    ]
    assert stale == [], "run: python sample_data/generate.py"


def test_lake_size_small(lake: Path) -> None:
    total = sum(len(data) for data in files_under(lake).values())
    assert total < 5 * 1024 * 1024


def test_truth_shape(truth: list[dict[str, Any]]) -> None:
    keys = [entry["key"] for entry in truth]
    assert len(keys) == len(set(keys))
    for entry in truth:
        assert set(entry) == {"key", "labels", "columns"}, entry["key"]
        assert isinstance(entry["labels"], list), entry["key"]
        assert entry["columns"], entry["key"]


def test_truth_label_ids_known(truth: list[dict[str, Any]]) -> None:
    unknown = set()
    for entry in truth:
        unknown |= set(entry["labels"]) - LABEL_IDS
        for labels in entry["columns"].values():
            unknown |= set(labels) - LABEL_IDS
    assert unknown == set()


def test_truth_lists_every_column(lake: Path, truth: list[dict[str, Any]]) -> None:
    for entry in truth:
        actual = dataset_columns(lake, entry["key"])
        assert sorted(actual) == sorted(entry["columns"]), entry["key"]


def test_truth_covers_every_file(lake: Path, truth: list[dict[str, Any]]) -> None:
    covered = set()
    for entry in truth:
        database, marker, _ = entry["key"].partition(SQLITE_MARKER)
        covered.add(database + ".db" if marker else entry["key"])
    for name in files_under(lake):
        if name == "truth.json":
            continue
        # A Hive dataset's key is the folder above its partition folders.
        candidates = {name} | {parent.as_posix() for parent in Path(name).parents}
        assert candidates & covered, name


# ---------------------------------------------------------------------------
# Positives pass their checks
# ---------------------------------------------------------------------------


def is_resident_id(value: str) -> bool:
    """Check an 18-character ID with python-stdnum: birth date, check character."""
    value = value.upper()
    if len(value) != 18:
        return False
    try:
        ric.get_birth_date(value)
    except ValidationError:
        return False
    return ric.calc_check_digit(value) == value[-1]


def test_resident_ids_valid(lake: Path) -> None:
    gbk = [row["身份证号"] for row in read_csv(lake / "crm/owners_gbk.csv")]
    pinyin = [row["sfzh"] for row in read_csv(lake / "crm/owners_pinyin.csv")]
    app = sqlite_values(lake, "app/app.db/main/app_user", "id_card")
    drivers = avro_records(lake / "fleet/drivers.avro")
    licences = [record["driver_license"] for record in drivers]
    full_length = [v for v in gbk + pinyin + app + licences if len(v) == 18]
    legacy = [v for v in pinyin if len(v) == 15]
    assert all(is_resident_id(v) for v in full_length)
    assert 0 < len(legacy) < 20
    assert any(v.endswith("x") for v in pinyin)


def test_gender_matches_resident_id(lake: Path) -> None:
    for row in read_csv(lake / "crm/owners_gbk.csv"):
        odd = int(row["身份证号"][16]) % 2 == 1
        assert odd == (row["性别"] == "男")


def test_vins_valid(lake: Path, generator: ModuleType) -> None:
    trips = pads.dataset(lake / "telemetry/trips", partitioning="hive").to_table()
    owners = [row["车架号"] for row in read_csv(lake / "crm/owners_gbk.csv")]
    tickets = [r["vin"] for r in read_json_records(lake / "service/tickets.jsonl")]
    vins = set(trips["vin"].to_pylist()) | set(owners) | set(tickets)
    assert all(generator.is_valid_vin(vin) for vin in vins)
    assert all(vin.startswith("L") for vin in vins)


def test_luhn_numbers_valid(lake: Path) -> None:
    cards = [row["yhkh"] for row in read_csv(lake / "crm/owners_pinyin.csv")]
    imeis = sqlite_values(lake, "app/app.db/main/app_device", "imei")
    iccids = sqlite_values(lake, "app/app.db/main/app_device", "iccid")
    assert all(card.startswith("62") and luhn.is_valid(card) for card in cards)
    assert all(len(imei) == 15 and luhn.is_valid(imei) for imei in imeis)
    assert all(iccid.startswith("8986") and luhn.is_valid(iccid) for iccid in iccids)


MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def compact_digits(text: str) -> str:
    """Fold full-width digits and drop +86, 0086, spaces and dashes."""
    text = text.translate(FULL_WIDTH_DIGITS).replace(" ", "").replace("-", "")
    return text.replace("+86", "").replace("0086", "")


def test_ticket_remarks_quote_callers(lake: Path) -> None:
    tickets = read_json_records(lake / "service/tickets.jsonl")
    remarks = [compact_digits(t["remark"]) for t in tickets]
    notes = [compact_digits(t["agent_note"]) for t in tickets]
    with_phone = [r for r in remarks if MOBILE.search(r)]
    assert len(with_phone) >= 5
    assert len(with_phone) <= len(tickets) // 30
    assert not any(MOBILE.search(note) for note in notes)


def test_children_under_fourteen(lake: Path) -> None:
    rows = read_csv(lake / "crm/child_passengers.csv")
    births = [dt.date.fromisoformat(row["出生日期"]) for row in rows]
    assert min(births) > dt.date(2012, 1, 1)


def test_trips_have_row_groups(lake: Path) -> None:
    parts = sorted((lake / "telemetry/trips").rglob("*.parquet"))
    assert len(parts) == 3
    for part in parts:
        assert pq.ParquetFile(part).metadata.num_row_groups >= 4, part.parent.name


def test_face_features_fixed_length(lake: Path) -> None:
    table = pq.read_table(lake / "dms/face_features.parquet")
    lengths = {len(vector) for vector in table["face_feature"].to_pylist()}
    assert lengths == {128}


# ---------------------------------------------------------------------------
# Look-alike negatives fail them
# ---------------------------------------------------------------------------


def test_order_numbers_not_resident_ids(lake: Path, generator: ModuleType) -> None:
    orders = sqlite_values(lake, "app/app.db/main/app_order", "order_no")
    assert all(len(order) == 18 and order.isdigit() for order in orders)
    assert not any(is_resident_id(order) for order in orders)
    assert not any(generator.is_valid_resident_id(order) for order in orders)


def test_part_numbers_not_vins(lake: Path, generator: ModuleType) -> None:
    parts = [row["part_no"] for row in read_csv(lake / "reference/parts_catalog.csv")]
    assert all(len(part) == 17 for part in parts)
    assert not any(generator.is_valid_vin(part) for part in parts)


def test_reference_coordinates_coarse(lake: Path) -> None:
    centroids = read_csv(lake / "reference/city_centroids.csv")
    city_ref = sqlite_values(lake, "app/app.db/main/city_ref", "lat")
    assert all(len(row["lat"].split(".")[1]) == 2 for row in centroids)
    assert all(round(lat, 2) == lat for lat in city_ref)


def test_flag_columns_hold_flags(lake: Path) -> None:
    rows = read_csv(lake / "crm/owners_pinyin.csv")
    assert {row["email_verified"] for row in rows} <= {"0", "1"}
    assert {row["phone_bound"] for row in rows} <= {"0", "1"}
    assert {row["has_id_card"] for row in rows} <= {"Y", "N"}
