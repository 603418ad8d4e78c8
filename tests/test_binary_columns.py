"""Object labels for binary table columns: Parquet, SQLite BLOB, PostgreSQL BYTEA."""

from __future__ import annotations

import base64
import importlib.util
import json
import sqlite3
import sys
from contextlib import closing
from pathlib import Path
from types import ModuleType

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import make_url

from classifiers.binary_columns import (
    MAX_SNIFFED_VALUES,
    SNIFF_HEAD_BYTES,
    BinaryColumnClassifier,
    recognise_objects,
    value_heads,
)
from scanner.engine import Scanner, ScanOptions
from scanner.model import DatasetResult
from scanner.plugins import CLASSIFIERS, load_plugins

GENERATOR = Path(__file__).resolve().parents[1] / "sample_data" / "generate.py"
EXTERIOR = "imp.driving_automation.exterior_media"
CABIN = "spi.cabin_media"
POINT_CLOUD = "imp.driving_automation.point_cloud"
SURVEYING = "flag.surveying"
OTA = "imp.software_upgrade.ota"
PG_DATABASE = "cardex_binary_columns"


@pytest.fixture(scope="module")
def lake_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("binary_lake_generate", GENERATOR)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def images(lake_generator: ModuleType) -> dict[str, list[bytes]]:
    pytest.importorskip("cv2")
    generator = np.random.default_rng(3)
    return {
        "face": [lake_generator.street_jpeg(generator, True) for _ in range(3)],
        "street": [lake_generator.street_jpeg(generator, False) for _ in range(3)],
        "cabin": [lake_generator.cabin_jpeg(generator) for _ in range(3)],
    }


@pytest.fixture(scope="module")
def pcd(lake_generator: ModuleType) -> bytes:
    text: str = lake_generator.pcd_text(np.random.default_rng(4))
    return text.encode()


@pytest.fixture(scope="module")
def firmware(lake_generator: ModuleType) -> bytes:
    text: str = lake_generator.intel_hex_text(np.random.default_rng(5))
    return text.encode()


def scan(source: str) -> list[DatasetResult]:
    options = ScanOptions(sources=[source], use_catalog=False, sample_size=50)
    return Scanner(options).run().results


def labels(result: DatasetResult) -> dict[str, float]:
    return {label.id: label.confidence for label in result.labels}


def only(results: list[DatasetResult]) -> DatasetResult:
    assert len(results) == 1, [r.uri for r in results]
    assert results[0].errors == []
    return results[0]


# ---------------------------------------------------------------------------
# Parquet
# ---------------------------------------------------------------------------


def write_frames(path: Path, column: str, values: list[bytes], binary_type) -> Path:
    table = pa.table(
        {
            "frame_id": pa.array(range(len(values)), pa.int32()),
            column: pa.array(values, binary_type),
        }
    )
    pq.write_table(table, path)
    return path


@pytest.mark.parametrize("binary_type", [pa.binary(), pa.large_binary()])
def test_parquet_front_camera_faces(tmp_path, images, binary_type):
    values = images["face"] + images["street"]
    path = write_frames(tmp_path / "f.parquet", "front_cam_jpeg", values, binary_type)
    result = only(scan(str(path)))
    assert labels(result)[EXTERIOR] == pytest.approx(0.85)
    label = result.labels[0]
    assert label.evidence.rule_id == f"{EXTERIOR}.binary_column"
    assert any("6 images: 3 had faces" in s for s in label.evidence.signals)
    notes = result.column("front_cam_jpeg").notes
    assert any("6 of 6 sniffed are image objects (jpeg 6)" in n for n in notes)


def test_parquet_camera_without_faces(tmp_path, images):
    path = write_frames(tmp_path / "r.parquet", "rear_cam", images["street"], None)
    assert labels(only(scan(str(path)))) == {EXTERIOR: pytest.approx(0.55)}


def test_parquet_images_without_camera_name(tmp_path, images):
    path = write_frames(tmp_path / "p.parquet", "photo", images["face"], None)
    result = only(scan(str(path)))
    assert labels(result) == {}
    assert any("image objects" in n for n in result.column("photo").notes)


def test_parquet_cabin_images_label_column(tmp_path, images):
    path = write_frames(tmp_path / "c.parquet", "dms_image", images["cabin"], None)
    result = only(scan(str(path)))
    assert labels(result) == {}
    column = result.column("dms_image")
    assert CABIN in {label.id for label in column.labels}


def test_truncated_images_not_decoded(tmp_path, images):
    values = [value[:60] for value in images["face"]] + [b""]
    path = write_frames(tmp_path / "t.parquet", "front_cam", values, None)
    result = only(scan(str(path)))
    assert labels(result) == {EXTERIOR: pytest.approx(0.55)}
    signals = result.labels[0].evidence.signals
    assert any("no image value could be decoded" in s for s in signals)


def test_evidence_contains_no_bytes(tmp_path, images):
    values = images["face"]
    path = write_frames(tmp_path / "f.parquet", "front_cam_jpeg", values, None)
    report = json.dumps(only(scan(str(path))).to_dict())
    for value in values:
        body = value[200:232]
        assert body.hex() not in report
        assert base64.b64encode(body).decode() not in report
        assert body.decode("latin-1") not in report


# ---------------------------------------------------------------------------
# SQLite BLOB
# ---------------------------------------------------------------------------


def sqlite_blobs(path: Path, rows: dict[str, list[bytes | None]]) -> str:
    with closing(sqlite3.connect(path)) as connection:
        for table, values in rows.items():
            connection.execute(f"CREATE TABLE {table} (id INTEGER, payload BLOB)")
            connection.executemany(
                f"INSERT INTO {table} VALUES (?, ?)", list(enumerate(values))
            )
        connection.commit()
    return f"sqlite:///{path}"


def test_sqlite_blob_objects(tmp_path, pcd, firmware):
    noise = np.random.default_rng(6).integers(0, 256, (10, 300), dtype=np.uint8)
    url = sqlite_blobs(
        tmp_path / "blobs.db",
        {
            "lidar_scans": [pcd] * 5 + [None],
            "ecu_images": [firmware] * 4,
            "opaque": [bytes(row) for row in noise],
        },
    )
    results = {r.name: r for r in scan(url)}
    assert set(labels(results["lidar_scans"])) == {POINT_CLOUD, SURVEYING}
    assert set(labels(results["ecu_images"])) == {OTA}
    assert labels(results["opaque"]) == {}
    notes = results["opaque"].column("payload").notes
    assert any("no object kind in the majority" in n for n in notes)


def test_sqlite_odd_blobs_do_not_fail(tmp_path, images):
    truncated = images["face"][0][:50]
    url = sqlite_blobs(
        tmp_path / "odd.db",
        {"front_cam": [b"", b"\xff", truncated, truncated, None, b"\x00" * 2000]},
    )
    result = only(scan(url))
    assert result.errors == []
    assert labels(result) == {}
    notes = result.column("payload").notes
    assert any("2 of 4 sniffed are image objects" in note for note in notes)


# ---------------------------------------------------------------------------
# Bounds and registration
# ---------------------------------------------------------------------------


def test_sniffing_is_bounded():
    values = pa.array([b"\xff\xd8\xff" + bytes(5000)] * 100, pa.large_binary())
    heads = value_heads(values)
    assert len(heads) == MAX_SNIFFED_VALUES
    assert {len(head) for head in heads} == {SNIFF_HEAD_BYTES}


def test_mixed_kinds_need_a_majority(images, pcd):
    values = pa.array([images["street"][0], pcd, b"plain text, not a file"])
    objects = recognise_objects(values)
    assert objects.kind is None
    assert objects.sniffed == 3


# Magic numbers and text headers that start the formats sniff_format detects,
# so that generated values reach the format-specific checks.
PREFIXES = [
    b"",
    b"\xff\xd8\xff",
    b"\x89PNG\r\n\x1a\n",
    b"VERSION 0.7\nFIELDS x y z\n",
    b":020000040800F2\n",
    b"S00600004844521B\n",
    b"\x89MCAP0\r\n",
    b"LASF",
    b"PAR1",
    b"\x00\x00\x00\x18ftypisom",
    b"RIFF\x00\x00\x00\x00WEBP",
]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(PREFIXES), st.binary(max_size=1500)), max_size=40
    )
)
def test_recognise_objects_never_raises(parts):
    values = pa.array([prefix + body for prefix, body in parts], pa.binary())
    objects = recognise_objects(values)
    assert objects.sniffed <= MAX_SNIFFED_VALUES
    assert objects.matches <= objects.sniffed


def test_binary_column_classifier_registered():
    assert load_plugins(CLASSIFIERS)["binary_columns"] is BinaryColumnClassifier


# ---------------------------------------------------------------------------
# PostgreSQL BYTEA
# ---------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_bytea_faces(postgres_url, images):
    server = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(sa.text(f"DROP DATABASE IF EXISTS {PG_DATABASE}"))
        connection.execute(sa.text(f"CREATE DATABASE {PG_DATABASE}"))
    url = make_url(postgres_url).set(database=PG_DATABASE)
    text_url = url.render_as_string(hide_password=False)
    engine = sa.create_engine(text_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text("CREATE TABLE adas_frames (id int, surround_image bytea)")
            )
            rows = [{"i": i, "b": v} for i, v in enumerate(images["face"])]
            connection.execute(sa.text("INSERT INTO adas_frames VALUES (:i, :b)"), rows)
        result = only(scan(text_url))
        assert labels(result) == {EXTERIOR: pytest.approx(0.85)}
        column = result.column("surround_image")
        assert any("jpeg 3" in note for note in column.notes)
    finally:
        engine.dispose()
        with server.connect() as connection:
            connection.execute(sa.text(f"DROP DATABASE {PG_DATABASE}"))
        server.dispose()
