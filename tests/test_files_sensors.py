"""Sensor and software objects: ROS bags, CAN files, LAZ, sidecar binaries.

Every input is written here with the library that reads it (rosbags,
cantools, python-can, asammdf, laspy). Each is recognised by its content,
described by one row plus its channel columns, and read only in part.
"""

import gzip
import json
import os
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
import zstandard
from test_files_objects import jpeg_bytes, pcd_bytes

from connectors.base import DiscoveryOptions
from connectors.files.connector import FileConnector
from connectors.files.detect import sniff_format
from connectors.files.handles import FileDataset
from connectors.files.rosbag import RosBag2Dataset
from scanner.errors import DatasetError, UnreadableFormatError, UnsupportedError
from scanner.model import Sample

# Nanoseconds of 2023-11-14 22:13:20 UTC, the start of every generated log.
START_NS = 1_700_000_000_000_000_000
VIN = "LSVAB4187KN123456"
HEAD_BYTES = 64 * 1024
SCAN_LIMIT = 1024 * 1024


def _sample(path: Path) -> Sample:
    return FileDataset(str(path), timeout=30).sample(100)


def _row(path: Path) -> dict[str, object]:
    sample = _sample(path)
    assert sample.table.num_rows == 1
    return sample.table.to_pylist()[0]


# Generators


def write_dbc(path: Path, comment: str = "latitude in degrees") -> None:
    from cantools.database.can import Database, Message, Signal
    from cantools.database.conversion import LinearConversion

    scale = LinearConversion(1e-7, 0, False)
    position = [
        Signal("GPS_Latitude", 0, 32, is_signed=True, conversion=scale, unit="deg",
               minimum=-90, maximum=90, comment=comment),
        Signal("GPS_Longitude", 32, 32, is_signed=True, conversion=scale,
               unit="deg", minimum=-180, maximum=180),
    ]  # fmt: skip
    vin = [Signal(f"VIN_Char_{i}", 8 * (i - 1), 8) for i in range(1, 9)]
    motion = [
        Signal("Lat_Accel", 0, 16, is_signed=True, unit="m/s2"),
        Signal("Long_Accel", 16, 16, is_signed=True, unit="m/s2"),
    ]
    database = Database(
        messages=[
            Message(0x123, "GPS_Position", 8, position),
            Message(0x300, "VehicleInfo", 8, vin),
            Message(0x200, "Chassis", 8, motion),
        ]
    )
    path.write_text(database.as_dbc_string())


def vin_frames(count: int) -> list[object]:
    import can

    frames = []
    for index in range(count):
        frame_id = 0x300 if index % 2 else 0x123
        payload = VIN.encode()[index % 10 : index % 10 + 8]
        frames.append(
            can.Message(
                timestamp=START_NS / 1e9 + index * 0.01,
                arbitration_id=frame_id,
                data=payload,
            )
        )
    return frames


def write_blf(path: Path, count: int = 100, compression_level: int = -1) -> None:
    import can

    with can.BLFWriter(str(path), compression_level=compression_level) as writer:
        for frame in vin_frames(count):
            writer.on_message_received(frame)


def write_asc(path: Path, count: int = 100) -> None:
    import can

    with can.ASCWriter(str(path)) as writer:
        for frame in vin_frames(count):
            writer.on_message_received(frame)


def write_mf4(path: Path) -> None:
    from asammdf import MDF, Signal

    times = np.arange(100) * 0.1
    mdf = MDF(version="4.10")
    mdf.append(
        [
            Signal(np.full(100, 31.2345678), times, name="GPS_Latitude", unit="deg"),
            Signal(np.full(100, 121.4567891), times, name="GPS_Longitude", unit="deg"),
            Signal(np.arange(100.0), times, name="VehicleSpeed", unit="km/h"),
        ]
    )
    mdf.save(str(path), overwrite=True)
    mdf.close()


def write_rosbag1(path: Path, topics: dict[str, str], messages: int = 10) -> None:
    from rosbags.rosbag1 import Writer
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS1_NOETIC)
    with Writer(path) as writer:
        connections = [
            writer.add_connection(topic, message_type, typestore=store)
            for topic, message_type in topics.items()
        ]
        for index in range(messages):
            for connection in connections:
                writer.write(connection, START_NS + index * 10**8, VIN.encode())


def write_rosbag2(folder: Path, topics: dict[str, str], messages: int = 5) -> None:
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_HUMBLE)
    with Writer(folder, version=8) as writer:
        connections = [
            writer.add_connection(topic, message_type, typestore=store)
            for topic, message_type in topics.items()
        ]
        for index in range(messages):
            for connection in connections:
                writer.write(connection, START_NS + index, VIN.encode())


def write_laz(path: Path, points: int = 2000) -> None:
    import laspy

    header = laspy.LasHeader(point_format=3, version="1.2")
    header.offsets = [0, 0, 0]
    header.scales = [0.01, 0.01, 0.01]
    data = laspy.LasData(header)
    rng = np.random.default_rng(7)
    data.x = rng.random(points) * 100
    data.y = rng.random(points) * 100
    data.z = rng.random(points)
    data.write(str(path))


CAMERA_GPS = {
    "/camera/front/image_raw": "sensor_msgs/msg/Image",
    "/gps/fix": "sensor_msgs/msg/NavSatFix",
}


# DBC


def test_dbc_signals_as_columns(tmp_path: Path) -> None:
    path = tmp_path / "vehicle.dbc"
    write_dbc(path)
    dataset = FileDataset(str(path), timeout=30)
    assert dataset.kind == "object"
    sample = dataset.sample(10)
    row = sample.table.to_pylist()[0]
    assert row["format"] == "dbc"
    assert row["object_kind"] == "can_database"
    assert row["message_count"] == 3
    assert row["channel_count"] == 12
    assert row["can_ids"] == "0x123,0x300,0x200"
    assert "GPS_Position.GPS_Latitude" in sample.table.column_names
    assert "VehicleInfo.VIN_Char_8" in sample.table.column_names
    assert row["GPS_Position.GPS_Latitude"] is None


def test_dbc_signal_source_type(tmp_path: Path) -> None:
    path = tmp_path / "vehicle.dbc"
    write_dbc(path)
    source_type = _sample(path).source_types["GPS_Position.GPS_Latitude"]
    assert source_type.startswith("can signal: frame 0x123 GPS_Position")
    assert "unit deg" in source_type
    assert "range -90..90" in source_type
    assert "comment latitude in degrees" in source_type


def test_dbc_comment_redacted(tmp_path: Path) -> None:
    path = tmp_path / "vehicle.dbc"
    write_dbc(path, comment="test car of 13812345678")
    source_type = _sample(path).source_types["GPS_Position.GPS_Latitude"]
    assert "13812345678" not in source_type


def test_dbc_gbk_comment(tmp_path: Path) -> None:
    text = (
        'VERSION ""\n\nBU_: ECU\nBO_ 291 GPS_Position: 8 ECU\n'
        ' SG_ GPS_Latitude : 0|32@1- (1E-007,0) [-90|90] "deg" ECU\n\n'
        'CM_ SG_ 291 GPS_Latitude "纬度信号";\n'
    )
    path = tmp_path / "gbk.dbc"
    path.write_bytes(text.encode("gbk"))
    sample = _sample(path)
    source_type = sample.source_types["GPS_Position.GPS_Latitude"]
    assert "unit deg" in source_type
    assert "comment" in source_type
    assert "\ufffd" not in source_type


def test_dbc_invalid_raises(tmp_path: Path) -> None:
    path = tmp_path / "broken.dbc"
    path.write_text('VERSION ""\nBU_: ECU\nBO_ 123 Msg: 8 ECU\n SG_ Speed : x|y@1+\n')
    with pytest.raises(UnreadableFormatError, match="DBC text does not parse"):
        _sample(path)


# CAN logs


@pytest.mark.parametrize(
    ("name", "writer"), [("drive.blf", write_blf), ("drive.asc", write_asc)]
)
def test_can_log_frames(tmp_path: Path, name: str, writer) -> None:
    path = tmp_path / name
    writer(path)
    assert FileDataset(str(path), timeout=30).kind == "object"
    row = _row(path)
    assert row["format"] == name.split(".")[1]
    assert row["object_kind"] == "can_log"
    assert row["message_count"] == 100
    assert row["channel_count"] == 2
    assert row["can_ids"] == "0x123,0x300"
    assert row["duration_seconds"] == pytest.approx(0.99)


def test_blf_read_bounded(tmp_path: Path) -> None:
    path = tmp_path / "long.blf"
    write_blf(path, count=40_000, compression_level=0)
    assert path.stat().st_size > SCAN_LIMIT
    sample = _sample(path)
    row = sample.table.to_pylist()[0]
    assert row["message_count"] == 40_000
    assert sample.bytes_read is not None
    assert sample.bytes_read <= SCAN_LIMIT + HEAD_BYTES + 64
    assert any(f"first {SCAN_LIMIT} bytes" in note for note in sample.notes)


def test_asc_read_bounded(tmp_path: Path) -> None:
    path = tmp_path / "long.asc"
    write_asc(path, count=30_000)
    assert path.stat().st_size > SCAN_LIMIT
    sample = _sample(path)
    row = sample.table.to_pylist()[0]
    assert row["message_count"] is None
    assert sample.bytes_read is not None
    assert sample.bytes_read <= SCAN_LIMIT + HEAD_BYTES + 64
    assert any("frame ids, count and time span" in note for note in sample.notes)


def test_asc_header_recognised() -> None:
    head = b"date Mon Nov 14 10:00:00.000 2023\nbase hex  timestamps absolute\n"
    assert sniff_format(head, ".asc") == "asc"
    assert sniff_format(b"date,base\n2023-01-01,hex\n", ".csv") == "csv"


def test_mf4_channels(tmp_path: Path) -> None:
    path = tmp_path / "drive.mf4"
    write_mf4(path)
    sample = _sample(path)
    row = sample.table.to_pylist()[0]
    assert row["format"] == "mdf"
    assert row["object_kind"] == "can_log"
    assert row["message_count"] == 100
    assert row["channel_count"] == 3
    assert row["duration_seconds"] == pytest.approx(9.9)
    assert "group0.GPS_Latitude" in sample.table.column_names
    assert "unit deg" in sample.source_types["group0.GPS_Latitude"]
    assert row["group0.GPS_Latitude"] is None


def test_mf4_bus_logging_ids(tmp_path: Path) -> None:
    from asammdf import MDF, Signal

    times = np.arange(1000) * 0.001
    ids = np.where(np.arange(1000) % 4 == 0, 0x123, 0x300).astype(np.uint32)
    ids[-1] = 0x80000000 | 0x18FEF100  # an extended frame
    mdf = MDF(version="4.10")
    frames = [
        Signal(ids, times, name="CAN_DataFrame.ID"),
        Signal(np.zeros(1000, dtype=np.uint8), times, name="CAN_DataFrame.DLC"),
    ]
    mdf.append(frames, acq_name="CAN1")
    path = tmp_path / "bus.mf4"
    mdf.save(str(path), overwrite=True)
    mdf.close()
    row = _row(path)
    assert row["can_ids"] == "0x300,0x123,0x18FEF100"
    assert row["message_count"] == 1000
    assert "CAN1.CAN_DataFrame.ID" in row


@pytest.mark.parametrize(
    ("name", "writer"),
    [("cut.mf4", write_mf4), ("cut.blf", write_blf)],
)
def test_can_log_cut_short(tmp_path: Path, name: str, writer) -> None:
    path = tmp_path / name
    writer(path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(UnreadableFormatError, match=str(path)):
        _sample(path)


@pytest.mark.parametrize(
    "text",
    ["LOGGED_AT,value\n2023-01-01,1\n", "MDF     ,x\n1,2\n", "#ROSBAG V2.0\nx,y\n"],
)
def test_log_magic_lookalikes_stay_text(text: str) -> None:
    assert sniff_format(text.encode(), ".csv") == "csv"


# ROS bags


def test_rosbag1_topics(tmp_path: Path) -> None:
    path = tmp_path / "drive.bag"
    write_rosbag1(path, CAMERA_GPS)
    dataset = FileDataset(str(path), timeout=30)
    assert dataset.kind == "object"
    sample = dataset.sample(10)
    row = sample.table.to_pylist()[0]
    assert row["format"] == "rosbag1"
    assert row["object_kind"] == "robotics_log"
    assert row["topics"] == "/camera/front/image_raw,/gps/fix"
    assert row["message_types"] == "sensor_msgs/msg/Image,sensor_msgs/msg/NavSatFix"
    assert row["message_count"] == 20
    assert row["duration_seconds"] == pytest.approx(0.9)
    source_type = sample.source_types["topics./gps/fix"]
    assert source_type == "ros topic: sensor_msgs/msg/NavSatFix, 10 messages"


def test_rosbag1_reads_index_only(tmp_path: Path) -> None:
    path = tmp_path / "long.bag"
    write_rosbag1(path, CAMERA_GPS, messages=20_000)
    sample = _sample(path)
    assert sample.table.to_pylist()[0]["message_count"] == 40_000
    size = path.stat().st_size
    assert size > 1024 * 1024
    assert sample.bytes_read is not None
    assert sample.bytes_read < 64 * 1024 + 16 * 1024


def test_rosbag1_cut_short(tmp_path: Path) -> None:
    path = tmp_path / "cut.bag"
    write_rosbag1(path, CAMERA_GPS, messages=500)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(UnreadableFormatError, match="ROS bag header or index"):
        _sample(path)


def test_rosbag2_folder_one_dataset(tmp_path: Path) -> None:
    folder = tmp_path / "lake" / "run_01"
    folder.parent.mkdir()
    write_rosbag2(folder, {"/lidar/points": "sensor_msgs/msg/PointCloud2"})
    (tmp_path / "lake" / "notes.csv").write_text("a,b\n1,2\n")
    found = list(FileConnector().discover(str(tmp_path / "lake"), DiscoveryOptions()))
    bags = [handle for handle in found if isinstance(handle, RosBag2Dataset)]
    assert len(found) == 2
    assert len(bags) == 1
    assert bags[0].kind == "object"
    row = bags[0].sample(10).table.to_pylist()[0]
    assert row["format"] == "rosbag2"
    assert row["object_kind"] == "robotics_log"
    assert row["topics"] == "/lidar/points"
    assert row["message_count"] == 5


def test_rosbag2_missing_storage(tmp_path: Path) -> None:
    folder = tmp_path / "run_02"
    write_rosbag2(folder, {"/lidar/points": "sensor_msgs/msg/PointCloud2"})
    for storage in folder.glob("*.db3"):
        storage.unlink()
    with pytest.raises(UnreadableFormatError, match="missing or unreadable"):
        RosBag2Dataset(str(folder), timeout=30).sample(10)


def test_rosbag2_bad_metadata(tmp_path: Path) -> None:
    folder = tmp_path / "run_03"
    write_rosbag2(folder, {"/lidar/points": "sensor_msgs/msg/PointCloud2"})
    metadata = folder / "metadata.yaml"
    metadata.write_text("rosbag2_bagfile_information:\n  version: 8\n")
    with pytest.raises(UnreadableFormatError, match="could not read the ROS 2 bag"):
        RosBag2Dataset(str(folder), timeout=30).sample(10)


# Point clouds


def test_laz_header(tmp_path: Path) -> None:
    path = tmp_path / "block.laz"
    write_laz(path, points=50_000)
    assert sniff_format(path.read_bytes()[:4096], ".laz") == "laz"
    sample = _sample(path)
    row = sample.table.to_pylist()[0]
    assert row["format"] == "laz"
    assert row["object_kind"] == "point_cloud"
    assert row["point_count"] == 50_000
    assert row["has_bounds"] is True
    assert str(row["point_fields"]).startswith("X,Y,Z,intensity")
    assert sample.bytes_read is not None
    assert sample.bytes_read < path.stat().st_size


def test_laz_cut_short(tmp_path: Path) -> None:
    path = tmp_path / "cut.laz"
    write_laz(path)
    content = path.read_bytes()
    path.write_bytes(content[: len(content) * 2 // 3])
    with pytest.raises(UnreadableFormatError, match="LAZ chunk table offset"):
        _sample(path)


def test_laz_header_only(tmp_path: Path) -> None:
    path = tmp_path / "header.laz"
    write_laz(path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(UnreadableFormatError, match=str(path)):
        _sample(path)


def _kitti_points(count: int) -> bytes:
    return b"".join(struct.pack("<4f", i, -i, 0.5, 0.1) for i in range(count))


@pytest.mark.parametrize(
    ("sidecar", "text"),
    [
        (
            "000001.bin.json",
            json.dumps({"fields": ["x", "y", "z", "intensity"], "dtype": "float32"}),
        ),
        ("000001.yaml", "fields: [x, y, z, intensity]\ndtype: float32\n"),
    ],
)
def test_point_cloud_bin_with_sidecar(tmp_path: Path, sidecar: str, text: str) -> None:
    path = tmp_path / "000001.bin"
    path.write_bytes(_kitti_points(1000))
    (tmp_path / sidecar).write_text(text)
    assert FileDataset(str(path), timeout=30).kind == "object"
    row = _row(path)
    assert row["format"] == "point_cloud_bin"
    assert row["object_kind"] == "point_cloud"
    assert row["point_count"] == 1000
    assert row["point_fields"] == "x,y,z,intensity"
    assert row["point_dtype"] == "float32"


def test_bare_bin_stays_binary(tmp_path: Path) -> None:
    path = tmp_path / "000002.bin"
    path.write_bytes(_kitti_points(100))
    (tmp_path / "000002.json").write_text(json.dumps({"frame": 2}))
    assert FileDataset(str(path), timeout=30).kind == "file"
    with pytest.raises(DatasetError) as raised:
        _sample(path)
    assert "point" not in str(raised.value)


def test_point_cloud_bin_wrong_size(tmp_path: Path) -> None:
    path = tmp_path / "000003.bin"
    path.write_bytes(_kitti_points(100)[:-3])
    (tmp_path / "000003.bin.json").write_text(
        json.dumps({"fields": ["x", "y", "z", "intensity"], "dtype": "float32"})
    )
    with pytest.raises(UnreadableFormatError, match="not a multiple of the 16-byte"):
        _sample(path)


# Firmware images with a manifest


def _firmware(size: int) -> bytes:
    return bytes((index * 7) % 251 for index in range(size))


def test_firmware_bin_with_manifest(tmp_path: Path) -> None:
    import hashlib

    image = _firmware(3000)
    path = tmp_path / "bcm_app.bin"
    path.write_bytes(image)
    manifest = {
        "campaign": "2026Q4",
        "files": [
            {
                "file": "bcm_app.bin",
                "ecu": "BCM",
                "version": "2.4.1",
                "size": len(image),
                "sha256": hashlib.sha256(image).hexdigest(),
            }
        ],
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert FileDataset(str(path), timeout=30).kind == "object"
    sample = _sample(path)
    row = sample.table.to_pylist()[0]
    assert row["format"] == "firmware_bin"
    assert row["object_kind"] == "firmware"
    assert row["ecu"] == "BCM"
    assert row["firmware_version"] == "2.4.1"
    assert row["head_sha256"] == hashlib.sha256(image).hexdigest()
    assert row["head_bytes"] == 3000
    assert "SHA-256 matches the manifest" in sample.notes


def test_firmware_manifest_per_image(tmp_path: Path) -> None:
    path = tmp_path / "gateway.bin"
    path.write_bytes(_firmware(500))
    (tmp_path / "gateway.manifest").write_text(
        "file: gateway.bin\necu: GW\nsw_version: 1.0.0\n"
    )
    row = _row(path)
    assert row["ecu"] == "GW"
    assert row["firmware_version"] == "1.0.0"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("size", 4000, "declares 4000 bytes"),
        ("sha256", "0" * 64, "SHA-256 differs"),
    ],
)
def test_firmware_manifest_mismatch(
    tmp_path: Path, field: str, value: object, message: str
) -> None:
    path = tmp_path / "bcm_app.bin"
    path.write_bytes(_firmware(3000))
    manifest = {"file": "bcm_app.bin", field: value}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UnreadableFormatError, match=message):
        _sample(path)


def test_manifest_for_other_file(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(_firmware(300))
    (tmp_path / "manifest.json").write_text(json.dumps({"file": "other.bin"}))
    assert FileDataset(str(path), timeout=30).kind == "file"


# Compressed objects


@pytest.mark.parametrize(
    ("name", "compress", "kind"),
    [
        ("front.jpg.gz", gzip.compress, "image"),
        ("scan.pcd.zst", zstandard.ZstdCompressor().compress, "point_cloud"),
    ],
)
def test_compressed_object_inner_kind(
    tmp_path: Path, name: str, compress, kind: str
) -> None:
    content = jpeg_bytes(640, 480) if "jpg" in name else pcd_bytes(40, "binary")
    path = tmp_path / name
    path.write_bytes(compress(content))
    assert FileDataset(str(path), timeout=30).kind == "object"
    sample = _sample(path)
    row = sample.table.to_pylist()[0]
    assert row["object_kind"] == kind
    assert row["size_bytes"] == path.stat().st_size
    assert sample.format.endswith("+gzip") or sample.format.endswith("+zstd")


def test_compressed_object_cut_short(tmp_path: Path) -> None:
    path = tmp_path / "front.jpg.gz"
    path.write_bytes(gzip.compress(jpeg_bytes(64, 48)[:-2]))
    with pytest.raises(UnreadableFormatError, match="end-of-image"):
        _sample(path)


def test_compressed_table_stays_table(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv.gz"
    path.write_bytes(gzip.compress(b"a,b\n1,2\n"))
    assert FileDataset(str(path), timeout=30).kind == "file"


def test_large_dbc_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "huge.dbc"
    comment = 'CM_ BU_ ECU "' + "x" * 1000 + '";\n'
    path.write_text('VERSION ""\n\nNS_ :\n\nBU_: ECU\n' + comment * 4_200)
    with pytest.raises(UnsupportedError, match="DBC files up to"):
        _sample(path)


@pytest.mark.parametrize(
    ("module", "name", "writer", "extra"),
    [
        ("cantools", "vehicle.dbc", write_dbc, "can"),
        ("can", "drive.blf", write_blf, "can"),
        ("asammdf", "drive.mf4", write_mf4, "can"),
        ("laspy", "block.laz", write_laz, "lidar"),
        (
            "rosbags",
            "drive.bag",
            lambda path: write_rosbag1(path, CAMERA_GPS),
            "robotics",
        ),
    ],
)
def test_missing_extra_noted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module, name, writer, extra
) -> None:
    path = tmp_path / name
    writer(path)
    monkeypatch.setitem(sys.modules, module, None)
    sample = _sample(path)
    row = sample.table.to_pylist()[0]
    assert row["size_bytes"] == path.stat().st_size
    assert "channel_count" not in row
    assert "point_count" not in row
    assert any(f"cardex[{extra}]" in note for note in sample.notes)


# Hostile inputs


def test_fifo_sidecar_ignored(tmp_path: Path) -> None:
    path = tmp_path / "000009.bin"
    path.write_bytes(bytes(range(256)) * 4)
    os.mkfifo(tmp_path / "000009.bin.json")
    assert FileDataset(str(path), timeout=30).kind == "file"


def test_rosbag1_huge_counts(tmp_path: Path) -> None:
    path = tmp_path / "hostile.bag"
    write_rosbag1(path, CAMERA_GPS)
    content = bytearray(path.read_bytes())
    for field in (b"conn_count=", b"chunk_count="):
        start = content.index(field) + len(field)
        content[start : start + 4] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(content))
    with pytest.raises(UnreadableFormatError, match="ROS bag header or index"):
        _sample(path)


def test_mdf_block_cycle(tmp_path: Path) -> None:
    path = tmp_path / "loop.mf4"
    write_mf4(path)
    content = bytearray(path.read_bytes())
    (first_group,) = struct.unpack_from("<Q", content, 0x40 + 24)
    struct.pack_into("<Q", content, first_group + 24, first_group)
    path.write_bytes(bytes(content))
    with pytest.raises(UnreadableFormatError, match="loop back"):
        _sample(path)
