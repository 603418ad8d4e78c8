"""Measure object scans: objects per second and bytes read per object.

Writes a folder per kind to a temporary directory. JPEG frames from a front
camera are drawn by the sample lake generator and scaled to 1920 x 1080, and
every other one shows a face. The other kinds are ASCII PCD point clouds,
MCAP logs with a camera and a GNSS topic, and sparse 2 GiB MP4 files. An MP4
file is an ``ftyp`` box and an ``mdat`` box header, and the rest is a hole
that costs no disk space. Each folder is scanned
with one dataset at a time and no catalog. JPEG frames are scanned twice:
with the face check of the shipped rule pack, and with a pack that switches
it off.

    .venv/bin/python bench/objects_bench.py [--count N]
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scanner.engine import Scanner, ScanOptions  # noqa: E402

SPARSE_MP4_BYTES = 2 * 1024**3
FRAME_SIZE = (1920, 1080)
# A rule pack that keeps the exterior-media rule but runs no face detector.
NO_FACES_PACK = """\
name: bench-no-faces
version: "1"
labels:
  - id: imp.driving_automation.exterior_media
    face_confidence: null
"""


def load_generator() -> ModuleType:
    path = ROOT / "sample_data" / "generate.py"
    spec = importlib.util.spec_from_file_location("bench_lake_generate", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load the sample lake generator at {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def camera_frames(lake: ModuleType, count: int) -> list[bytes]:
    import cv2

    generator = np.random.default_rng(11)
    frames = []
    for index in range(count):
        small = cv2.imdecode(
            np.frombuffer(lake.street_jpeg(generator, index % 2 == 0), np.uint8),
            cv2.IMREAD_COLOR,
        )
        frames.append(lake.jpeg_bytes(cv2.resize(small, FRAME_SIZE)))
    return frames


def sparse_mp4(path: Path) -> None:
    """Write an MP4 header whose ``mdat`` box spans a 2 GiB sparse file."""
    ftyp = struct.pack(">I4s4sI4s4s", 24, b"ftyp", b"isom", 0x200, b"isom", b"mp41")
    mdat = struct.pack(">I4sQ", 1, b"mdat", SPARSE_MP4_BYTES - len(ftyp))
    with path.open("wb") as handle:
        handle.write(ftyp + mdat)
        handle.truncate(SPARSE_MP4_BYTES)


def write_folder(folder: Path, suffix: str, contents: list[bytes]) -> None:
    folder.mkdir(parents=True)
    for index, content in enumerate(contents):
        (folder / f"{index:04d}{suffix}").write_bytes(content)


def scan_seconds(
    folder: Path, rules_path: str | None
) -> tuple[list[Any], float, float]:
    """Scan ``folder``; return the results, wall seconds and CPU seconds."""
    options = ScanOptions(
        sources=[str(folder)], use_catalog=False, concurrency=1, rules_path=rules_path
    )
    wall, cpu = time.perf_counter(), time.process_time()
    results = Scanner(options).run().results
    return results, time.perf_counter() - wall, time.process_time() - cpu


def measure(label: str, folder: Path, rules_path: str | None = None) -> None:
    """Scan ``folder`` and a copy of its first file alone; print one table row.

    The time per object is the difference of the two scans divided by the
    extra files, so the fixed cost of a scan (loading plugins and the rule
    pack) is left out.
    """
    files = sorted(folder.iterdir())
    single = folder.parent / f"{folder.name}_single"
    single.mkdir(exist_ok=True)
    shutil.copyfile(files[0], single / files[0].name)
    _, one_wall, one_cpu = scan_seconds(single, rules_path)
    results, wall, cpu = scan_seconds(folder, rules_path)
    extra = max(len(files) - 1, 1)
    wall_per_object = max(wall - one_wall, 1e-9) / extra
    cpu_per_object = max(cpu - one_cpu, 0.0) / extra

    failed = [result.uri for result in results if result.errors]
    read = [result.bytes_read or 0 for result in results]
    size = sum(path.stat().st_size for path in files)
    print(
        f"| {label} | {len(results)} | {size / len(files) / 1024:,.0f} KiB | "
        f"{sum(read) / len(read):,.0f} | {1 / wall_per_object:,.1f} | "
        f"{cpu_per_object * 1000:,.0f} | {len(failed)} |"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--count", type=int, default=20, help="files per kind (default: 20)"
    )
    args = parser.parse_args(argv)
    lake = load_generator()
    generator = np.random.default_rng(12)
    makers: dict[str, Callable[[], list[bytes]]] = {
        "front_cam": lambda: camera_frames(lake, args.count),
        "lidar": lambda: [lake.pcd_text(generator).encode() for _ in range(args.count)],
        "logs": lambda: [
            lake.mcap_bytes(lake.seeded(f"mcap{i}")) for i in range(args.count)
        ],
    }
    suffixes = {"front_cam": ".jpg", "lidar": ".pcd", "logs": ".mcap"}

    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        for name, make in makers.items():
            write_folder(root / name, suffixes[name], make())
        videos = root / "video"
        videos.mkdir()
        for index in range(max(1, args.count // 4)):
            sparse_mp4(videos / f"{index:04d}.mp4")
        no_faces = root / "no_faces.yaml"
        no_faces.write_text(NO_FACES_PACK, encoding="utf-8")

        print(
            "| files | objects | mean size | bytes read per object | objects/s |"
            " CPU ms per object | failed |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|")
        measure("JPEG 1920 x 1080, face check on", root / "front_cam")
        measure("JPEG 1920 x 1080, face check off", root / "front_cam", str(no_faces))
        measure("PCD, ASCII, 400 points", root / "lidar")
        measure("MCAP, 40 messages, 2 topics", root / "logs")
        measure("MP4, sparse 2 GiB", videos)


if __name__ == "__main__":
    main()
