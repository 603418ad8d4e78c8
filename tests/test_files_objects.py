"""Object files (images, video, point clouds, firmware, MCAP) as datasets.

Every file is generated here. Each is recognised by its content, described
by one row, and read only as far as its headers.
"""

import struct
import zlib
from pathlib import Path

import pytest

from connectors.files.detect import sniff_format
from connectors.files.handles import FileDataset
from scanner.errors import MissingExtraError, UnreadableFormatError

HEAD_BYTES = 64 * 1024


def _sample_row(path: Path) -> dict[str, object]:
    sample = FileDataset(str(path), timeout=30).sample(100)
    assert sample.table.num_rows == 1
    return sample.table.to_pylist()[0]


def jpeg_bytes(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00" + bytes(6)
    frame = struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00"
    sof0 = b"\xff\xc0" + struct.pack(">H", 2 + len(frame)) + frame
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xda\x00\x02" + bytes(32) + b"\xff\xd9"


def png_bytes(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + bytes(width) for _ in range(height)))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", pixels)
        + chunk(b"IEND", b"")
    )


def pcd_bytes(points: int, data: str = "ascii", cut: int = 0) -> bytes:
    header = (
        "# .PCD v0.7 - Point Cloud Data file format\n"
        "VERSION 0.7\nFIELDS x y z intensity\nSIZE 4 4 4 4\nTYPE F F F F\n"
        f"COUNT 1 1 1 1\nWIDTH {points}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\n"
        f"POINTS {points}\nDATA {data}\n"
    ).encode()
    if data == "ascii":
        body = "".join(f"{i}.5 {i}.25 0.1 7\n" for i in range(points)).encode()
    else:
        body = b"".join(struct.pack("<4f", i, i, 0.1, 7) for i in range(points))
    return header + body[: len(body) - cut]


def las_bytes(points: int, cut: int = 0) -> bytes:
    header = bytearray(227)
    header[0:4] = b"LASF"
    header[24:26] = bytes([1, 2])
    struct.pack_into("<H", header, 94, 227)
    struct.pack_into("<I", header, 96, 227)
    struct.pack_into("<BHI", header, 104, 1, 28, points)
    body = bytes(28 * points)
    return bytes(header) + body[: len(body) - cut]


def intel_hex_record(kind: int, address: int, data: bytes) -> str:
    record = bytes([len(data)]) + address.to_bytes(2, "big") + bytes([kind]) + data
    checksum = (-sum(record)) % 256
    return ":" + (record + bytes([checksum])).hex().upper()


def srec_record(kind: str, address: int, width: int, data: bytes) -> str:
    body = address.to_bytes(width, "big") + data
    record = bytes([len(body) + 1]) + body
    checksum = 0xFF - sum(record) % 256
    return f"S{kind}" + (record + bytes([checksum])).hex().upper()


def intel_hex_text(end: bool = True) -> str:
    lines = [
        intel_hex_record(4, 0, b"\x08\x00"),
        intel_hex_record(0, 0x0000, bytes(range(16))),
        intel_hex_record(0, 0x0010, bytes(range(16))),
        intel_hex_record(0, 0x0020, bytes(range(8))),
    ]
    if end:
        lines.append(intel_hex_record(1, 0, b""))
    return "\n".join(lines) + "\n"


def srec_text(end: bool = True) -> str:
    lines = [
        srec_record("0", 0, 2, b"ECU"),
        srec_record("1", 0x1000, 2, bytes(16)),
        srec_record("1", 0x1010, 2, bytes(16)),
        srec_record("5", 2, 2, b""),
    ]
    if end:
        lines.append(srec_record("9", 0x1000, 2, b""))
    return "\n".join(lines) + "\n"


def test_jpeg_dimensions(tmp_path: Path) -> None:
    path = tmp_path / "front_cam_0001.jpg"
    path.write_bytes(jpeg_bytes(1920, 1080))
    dataset = FileDataset(str(path), timeout=30)
    assert dataset.kind == "object"
    row = _sample_row(path)
    assert row["format"] == "jpeg"
    assert row["object_kind"] == "image"
    assert row["width"] == 1920
    assert row["height"] == 1080
    assert row["size_bytes"] == path.stat().st_size
    assert row["path"] == str(path)


def test_png_dimensions(tmp_path: Path) -> None:
    path = tmp_path / "image.bin"
    path.write_bytes(png_bytes(64, 48))
    row = _sample_row(path)
    assert row["format"] == "png"
    assert (row["width"], row["height"]) == (64, 48)


@pytest.mark.parametrize("data", ["ascii", "binary"])
def test_pcd_header(tmp_path: Path, data: str) -> None:
    path = tmp_path / "scan.pcd"
    path.write_bytes(pcd_bytes(50, data))
    row = _sample_row(path)
    assert row["format"] == "pcd"
    assert row["object_kind"] == "point_cloud"
    assert row["point_count"] == 50
    assert row["point_fields"] == "x,y,z,intensity"


def test_las_header(tmp_path: Path) -> None:
    path = tmp_path / "survey.las"
    path.write_bytes(las_bytes(40))
    row = _sample_row(path)
    assert row["format"] == "las"
    assert row["point_count"] == 40
    assert row["point_fields"] == "x,y,z,intensity,classification,gps_time"


def test_intel_hex_records(tmp_path: Path) -> None:
    path = tmp_path / "ecu.hex"
    path.write_text(intel_hex_text())
    row = _sample_row(path)
    assert row["format"] == "ihex"
    assert row["object_kind"] == "firmware"
    assert row["record_count"] == 5
    assert row["address_start"] == 0x08000000
    assert row["address_end"] == 0x08000027


def test_srec_records(tmp_path: Path) -> None:
    path = tmp_path / "ecu.s19"
    path.write_text(srec_text())
    row = _sample_row(path)
    assert row["format"] == "srec"
    assert row["record_count"] == 5
    assert row["address_start"] == 0x1000
    assert row["address_end"] == 0x101F


@pytest.mark.parametrize(
    "text",
    [
        ":note,value\n:a,1\n",
        "S1,S2\nS100,S200\n",
        ":100000000102030405060708090A0B0C0D0E0F00\n",  # bad checksum
    ],
)
def test_firmware_lookalikes_stay_text(text: str) -> None:
    assert sniff_format(text.encode(), ".hex") == "csv"


def test_mcap_topics(tmp_path: Path) -> None:
    writer_module = pytest.importorskip("mcap.writer")
    path = tmp_path / "drive.mcap"
    with path.open("wb") as stream:
        writer = writer_module.Writer(stream)
        writer.start()
        schema = writer.register_schema("sensor_msgs/PointCloud2", "ros1msg", b"")
        lidar = writer.register_channel("/lidar/top", "ros1", schema)
        camera = writer.register_channel("/camera/front", "ros1", 0)
        writer.add_message(lidar, log_time=1, data=b"x", publish_time=1)
        writer.add_message(camera, log_time=2, data=b"y", publish_time=2)
        writer.finish()
    row = _sample_row(path)
    assert row["format"] == "mcap"
    assert row["object_kind"] == "robotics_log"
    assert row["topics"] == "/camera/front,/lidar/top"
    assert row["message_types"] == "sensor_msgs/PointCloud2"


def test_mcap_without_summary(tmp_path: Path) -> None:
    writer_module = pytest.importorskip("mcap.writer")
    path = tmp_path / "drive.mcap"
    with path.open("wb") as stream:
        writer = writer_module.Writer(
            stream,
            index_types=writer_module.IndexType.NONE,
            repeat_channels=False,
            repeat_schemas=False,
            use_statistics=False,
            use_summary_offsets=False,
            use_chunking=False,
        )
        writer.start()
        schema = writer.register_schema("sensor_msgs/Image", "ros1msg", b"")
        channel = writer.register_channel("/camera/front", "ros1", schema)
        writer.add_message(channel, log_time=1, data=b"x", publish_time=1)
        writer.finish()
    sample = FileDataset(str(path), timeout=30).sample(10)
    row = sample.table.to_pylist()[0]
    assert row["topics"] == "/camera/front"
    assert row["message_types"] == "sensor_msgs/Image"
    assert any("without a summary section" in note for note in sample.notes)


def test_mcap_cut_short(tmp_path: Path) -> None:
    writer_module = pytest.importorskip("mcap.writer")
    path = tmp_path / "drive.mcap"
    with path.open("wb") as stream:
        writer = writer_module.Writer(stream)
        writer.start()
        channel = writer.register_channel("/camera/front", "ros1", 0)
        for index in range(500):
            writer.add_message(channel, log_time=index, data=bytes(100), publish_time=0)
        writer.finish()
    content = path.read_bytes()
    path.write_bytes(content[: len(content) * 2 // 3])
    with pytest.raises(UnreadableFormatError, match="MCAP footer or summary"):
        FileDataset(str(path), timeout=30).sample(10)


def test_mcap_without_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from connectors.files.robotics import require_mcap

    monkeypatch.setitem(__import__("sys").modules, "mcap.reader", None)
    with pytest.raises(MissingExtraError, match=r"cardex\[robotics\]"):
        require_mcap()
    path = tmp_path / "drive.mcap"
    path.write_bytes(b"\x89MCAP0\r\n" + bytes(64))
    sample = FileDataset(str(path), timeout=30).sample(10)
    assert sample.table.to_pylist()[0]["format"] == "mcap"
    assert any("cardex[robotics]" in note for note in sample.notes)


def test_sparse_video_read_bounded(tmp_path: Path) -> None:
    size = 2 * 1024**3
    ftyp = struct.pack(">I", 24) + b"ftypisom" + bytes(4) + b"isomavc1"
    mdat = struct.pack(">I", 1) + b"mdat" + struct.pack(">Q", size - len(ftyp))
    path = tmp_path / "dashcam_front.mp4"
    with path.open("wb") as handle:
        handle.write(ftyp + mdat)
        handle.truncate(size)
    sample = FileDataset(str(path), timeout=30).sample(100)
    row = sample.table.to_pylist()[0]
    assert row["format"] == "mp4"
    assert row["object_kind"] == "video"
    assert row["size_bytes"] == size
    assert sample.bytes_read is not None
    assert sample.bytes_read <= HEAD_BYTES + 64


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("cut.jpg", jpeg_bytes(10, 10)[:30]),
        ("no_end.jpg", jpeg_bytes(10, 10)[:-2]),
        ("cut.png", png_bytes(8, 8)[:-12]),
        ("cut.pcd", pcd_bytes(20, "binary", cut=5)),
        ("no_data.pcd", b"VERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\n"),
        ("cut.las", las_bytes(10, cut=1)),
        ("header.las", b"LASF" + bytes(100)),
        ("no_end.hex", intel_hex_text(end=False).encode()),
        ("no_end.s19", srec_text(end=False).encode()),
        ("cut.mp4", struct.pack(">I", 4096) + b"ftypisom" + bytes(20)),
        ("cut.mcap", b"\x89MCAP0\r\n" + bytes(64)),
    ],
)
def test_corrupt_objects_raise(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UnreadableFormatError, match=str(path)):
        FileDataset(str(path), timeout=30).sample(10)


def test_table_kind_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "plain.csv"
    path.write_text("a,b\n1,2\n")
    assert FileDataset(str(path), timeout=30).kind == "file"
