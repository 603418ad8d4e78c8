"""Labels of sensor logs, CAN files and firmware images, from a real scan.

Every file is generated in a temporary folder and scanned by the engine. The
leak tests check that no signal or message value from those files reaches
the report or the logs.
"""

import gzip
import hashlib
import json
import logging
import re
from pathlib import Path

import pytest
from test_files_objects import jpeg_bytes
from test_files_sensors import (
    CAMERA_GPS,
    VIN,
    write_asc,
    write_blf,
    write_dbc,
    write_laz,
    write_mf4,
    write_rosbag1,
    write_rosbag2,
)

from classifiers.objects import find_streams
from scanner.engine import Scanner, ScanOptions
from scanner.model import DatasetResult
from scanner.report import report_dict

EXTERIOR = "imp.driving_automation.exterior_media"
CABIN = "spi.cabin_media"
POINT_CLOUD = "imp.driving_automation.point_cloud"
LOCATION = "spi.location"
OTA = "imp.software_upgrade.ota"
VIN_LABEL = "pi.vin"
# Values written into the generated logs: MDF samples, the VIN that ROS
# messages carry, and the first CAN payload as an ASC line writes it.
ASC_PAYLOAD = VIN.encode()[:8].hex(" ").upper()
RAW_VALUES = ("31.2345678", "121.4567891", VIN, ASC_PAYLOAD, VIN[:8])


def _labels(result: DatasetResult) -> dict[str, float]:
    return {label.id: label.confidence for label in result.labels}


def _column_labels(result: DatasetResult, column: str) -> set[str]:
    found = [c for c in result.columns if c.name == column]
    assert found, f"no column {column} in {result.uri}"
    return {label.id for label in found[0].labels}


def _write_lake(root: Path) -> None:
    (root / "can").mkdir()
    (root / "bags").mkdir()
    (root / "ecu").mkdir()
    write_dbc(root / "can" / "vehicle.dbc")
    write_mf4(root / "can" / "drive.mf4")
    write_blf(root / "can" / "drive.blf")
    write_asc(root / "can" / "drive.asc")
    write_rosbag1(root / "bags" / "exterior.bag", CAMERA_GPS)
    write_rosbag1(
        root / "bags" / "cabin.bag",
        {"/dms/camera/image": "sensor_msgs/msg/CompressedImage"},
    )
    write_rosbag1(root / "bags" / "imu.bag", {"/imu": "sensor_msgs/msg/Imu"})
    write_rosbag2(
        root / "bags" / "lidar_run",
        {"/lidar/top/points": "sensor_msgs/msg/PointCloud2"},
    )
    write_laz(root / "block.laz")
    image = bytes(range(256)) * 8
    (root / "ecu" / "bcm.bin").write_bytes(image)
    manifest = {"file": "bcm.bin", "ecu": "BCM", "version": "1.2.0"}
    (root / "ecu" / "bcm.manifest").write_text(json.dumps(manifest))
    (root / "front_cam_0001.jpg.gz").write_bytes(gzip.compress(jpeg_bytes(64, 48)))


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("sensors")
    _write_lake(root)
    handler = _ListHandler()
    logging.getLogger().addHandler(handler)
    try:
        options = ScanOptions(sources=[str(root)], use_catalog=False, sample_size=50)
        outcome = Scanner(options).run()
    finally:
        logging.getLogger().removeHandler(handler)
    results = {
        Path(result.uri).relative_to(root).as_posix(): result
        for result in outcome.results
    }
    return {
        "results": results,
        "report": json.dumps(report_dict(outcome), ensure_ascii=False, default=str),
        "log": "\n".join(handler.lines),
    }


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _result(scan: dict[str, object], name: str) -> DatasetResult:
    results = scan["results"]
    assert isinstance(results, dict)
    return results[name]


def test_all_scanned_as_objects(scan: dict[str, object]) -> None:
    results = scan["results"]
    assert isinstance(results, dict)
    objects = {name for name, result in results.items() if result.kind == "object"}
    assert {
        "can/vehicle.dbc",
        "can/drive.mf4",
        "can/drive.blf",
        "can/drive.asc",
        "bags/exterior.bag",
        "bags/lidar_run",
        "block.laz",
        "ecu/bcm.bin",
        "front_cam_0001.jpg.gz",
    } <= objects
    for name in objects:
        assert not results[name].errors, name


def test_dbc_location_signals(scan: dict[str, object]) -> None:
    result = _result(scan, "can/vehicle.dbc")
    assert LOCATION in _labels(result)
    assert LOCATION in _column_labels(result, "GPS_Position.GPS_Latitude")
    assert LOCATION in _column_labels(result, "GPS_Position.GPS_Longitude")


def test_dbc_vin_signals(scan: dict[str, object]) -> None:
    result = _result(scan, "can/vehicle.dbc")
    for index in range(1, 9):
        assert VIN_LABEL in _column_labels(result, f"VehicleInfo.VIN_Char_{index}")


def test_dbc_motion_signals_unlabelled(scan: dict[str, object]) -> None:
    result = _result(scan, "can/vehicle.dbc")
    assert _column_labels(result, "Chassis.Lat_Accel") == set()
    assert _column_labels(result, "Chassis.Long_Accel") == set()


def test_mf4_location_channels(scan: dict[str, object]) -> None:
    result = _result(scan, "can/drive.mf4")
    assert LOCATION in _labels(result)
    assert LOCATION in _column_labels(result, "group0.GPS_Latitude")
    assert _column_labels(result, "group0.VehicleSpeed") == set()


@pytest.mark.parametrize("name", ["can/drive.blf", "can/drive.asc"])
def test_can_logs_without_signals_unlabelled(
    scan: dict[str, object], name: str
) -> None:
    assert _labels(_result(scan, name)) == {}


def test_rosbag_camera_and_gps(scan: dict[str, object]) -> None:
    result = _result(scan, "bags/exterior.bag")
    labels = _labels(result)
    assert EXTERIOR in labels
    assert LOCATION in labels
    assert CABIN not in labels
    assert LOCATION in _column_labels(result, "topics./gps/fix")


def test_rosbag_evidence_names_stream(scan: dict[str, object]) -> None:
    result = _result(scan, "bags/exterior.bag")
    label = next(label for label in result.labels if label.id == EXTERIOR)
    assert label.evidence.rule_id == f"{EXTERIOR}.stream"
    signals = " ".join(label.evidence.signals)
    assert "/camera/front/image_raw" in signals
    assert "path hint 'front'" in signals


def test_rosbag_cabin_camera(scan: dict[str, object]) -> None:
    labels = _labels(_result(scan, "bags/cabin.bag"))
    assert CABIN in labels
    assert EXTERIOR not in labels


def test_rosbag_imu_unlabelled(scan: dict[str, object]) -> None:
    assert _labels(_result(scan, "bags/imu.bag")) == {}


def test_rosbag2_point_cloud(scan: dict[str, object]) -> None:
    labels = _labels(_result(scan, "bags/lidar_run"))
    assert POINT_CLOUD in labels
    assert "flag.surveying" in labels


def test_laz_point_cloud(scan: dict[str, object]) -> None:
    assert POINT_CLOUD in _labels(_result(scan, "block.laz"))


def test_firmware_bin_ota(scan: dict[str, object]) -> None:
    assert set(_labels(_result(scan, "ecu/bcm.bin"))) == {OTA}


def test_compressed_image_exterior(scan: dict[str, object]) -> None:
    assert EXTERIOR in _labels(_result(scan, "front_cam_0001.jpg.gz"))


def test_generated_files_contain_values(tmp_path: Path) -> None:
    write_asc(tmp_path / "drive.asc")
    write_rosbag1(tmp_path / "drive.bag", CAMERA_GPS)
    assert ASC_PAYLOAD in (tmp_path / "drive.asc").read_text()
    assert VIN.encode() in (tmp_path / "drive.bag").read_bytes()


def test_no_value_leaks(scan: dict[str, object]) -> None:
    places = {"report": scan["report"], "log": scan["log"]}
    for place, text in places.items():
        assert isinstance(text, str)
        for value in RAW_VALUES:
            assert value not in text, f"{value!r} in the {place}"
        assert re.search(r"31\.23456", text) is None, place


@pytest.mark.parametrize(
    ("source_types", "kinds"),
    [
        ({"topics./cam": "ros topic: foxglove.CompressedImage"}, ["camera_stream"]),
        (
            {"topics./fix": "ros topic: gps_msgs/msg/GPSFix, 3 messages"},
            ["gnss_stream"],
        ),
        ({"topics./scan": "ros topic: sensor_msgs/LaserScan"}, ["point_cloud_stream"]),
        ({"topics./imu": "ros topic: sensor_msgs/msg/Imu"}, []),
        ({"a.GPS_Lat": "can signal: x", "a.GPS_Lon": "can signal: x"}, ["gnss_stream"]),
        ({"a.GPS_Lat": "can signal: x"}, []),
        ({"a.LatAccel": "can signal: x", "a.LongAccel": "can signal: x"}, []),
        ({"latitude": "object metadata", "longitude": "object metadata"}, []),
    ],
)
def test_find_streams(source_types: dict[str, str], kinds: list[str]) -> None:
    assert [stream.kind for stream in find_streams(source_types)] == kinds


def test_firmware_bytes_not_reported(tmp_path: Path) -> None:
    # The declared hash is metadata of the image, not a sampled value, so it
    # is kept as written; the image bytes themselves never appear.
    image = b"SECRET-IMAGE-BYTES" * 10
    (tmp_path / "x.bin").write_bytes(image)
    digest = hashlib.sha256(image).hexdigest()
    (tmp_path / "x.manifest").write_text(
        json.dumps({"file": "x.bin", "sha256": digest})
    )
    options = ScanOptions(sources=[str(tmp_path)], use_catalog=False, sample_size=10)
    outcome = Scanner(options).run()
    text = json.dumps(report_dict(outcome), default=str)
    assert "SECRET-IMAGE-BYTES" not in text
