"""Dataset labels for object files, from a real scan of generated files."""

import sys
import threading
from pathlib import Path

import pytest
from test_files_objects import (
    intel_hex_text,
    jpeg_bytes,
    las_bytes,
    pcd_bytes,
    srec_text,
)

from classifiers.objects import ObjectClassifier, path_words
from scanner.engine import Scanner, ScanOptions
from scanner.model import DatasetResult
from scanner.plugins import CLASSIFIERS, load_plugins

EXTERIOR = "imp.driving_automation.exterior_media"
CABIN = "spi.cabin_media"
POINT_CLOUD = "imp.driving_automation.point_cloud"
OTA = "imp.software_upgrade.ota"


def _scan(root: Path) -> dict[str, DatasetResult]:
    options = ScanOptions(sources=[str(root)], use_catalog=False, sample_size=50)
    outcome = Scanner(options).run()
    return {
        Path(result.uri).relative_to(root).as_posix(): result
        for result in outcome.results
    }


def _labels(result: DatasetResult) -> dict[str, float]:
    return {label.id: label.confidence for label in result.labels}


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, DatasetResult]:
    root = tmp_path_factory.mktemp("lake")
    files = {
        "adas/front_cam/0001.jpg": jpeg_bytes(1920, 1080),
        "cameras/环视/0002.jpg": jpeg_bytes(1280, 720),
        "dms/cabin/0003.jpg": jpeg_bytes(640, 480),
        "photos/team_event.jpg": jpeg_bytes(800, 600),
        "lidar/scan_0001.pcd": pcd_bytes(30, "binary"),
        "survey/block.las": las_bytes(20),
        "ecu/bcm_v2.hex": intel_hex_text().encode(),
        "ecu/gateway.s19": srec_text().encode(),
    }
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return _scan(root)


def test_objects_scanned_as_objects(scanned: dict[str, DatasetResult]) -> None:
    assert len(scanned) == 8
    for name, result in scanned.items():
        assert result.kind == "object", name
        assert not result.errors, name


def test_exterior_camera_path(scanned: dict[str, DatasetResult]) -> None:
    labels = _labels(scanned["adas/front_cam/0001.jpg"])
    assert EXTERIOR in labels
    assert labels[EXTERIOR] < 0.7
    assert CABIN not in labels


def test_exterior_chinese_path(scanned: dict[str, DatasetResult]) -> None:
    assert EXTERIOR in _labels(scanned["cameras/环视/0002.jpg"])


def test_exterior_evidence_names_hint(
    scanned: dict[str, DatasetResult],
) -> None:
    label = next(
        label
        for label in scanned["adas/front_cam/0001.jpg"].labels
        if label.id == EXTERIOR
    )
    assert label.evidence.rule_id == f"{EXTERIOR}.object"
    assert any("path hint 'front'" in signal for signal in label.evidence.signals)


def test_cabin_path(scanned: dict[str, DatasetResult]) -> None:
    labels = _labels(scanned["dms/cabin/0003.jpg"])
    assert CABIN in labels
    assert EXTERIOR not in labels


def test_image_without_hint_unlabelled(scanned: dict[str, DatasetResult]) -> None:
    assert _labels(scanned["photos/team_event.jpg"]) == {}


@pytest.mark.parametrize("name", ["lidar/scan_0001.pcd", "survey/block.las"])
def test_point_cloud_labels(scanned: dict[str, DatasetResult], name: str) -> None:
    labels = _labels(scanned[name])
    assert POINT_CLOUD in labels
    assert "flag.surveying" in labels


@pytest.mark.parametrize("name", ["ecu/bcm_v2.hex", "ecu/gateway.s19"])
def test_firmware_labels(scanned: dict[str, DatasetResult], name: str) -> None:
    assert set(_labels(scanned[name])) == {OTA}


def test_object_columns_unlabelled(scanned: dict[str, DatasetResult]) -> None:
    for name, result in scanned.items():
        for column in result.columns:
            assert column.labels == [], (name, column.name)


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/mnt/lake/adas/front_cam/0001.jpg", "lake_adas_front_cam_0001"),
        ("/x/a.b/clip.tar.mp4", "x_a_b_clip_tar"),
        ("0001.jpg", "0001"),
    ],
)
def test_path_words(path: str, words: str) -> None:
    assert path_words(path) == words


def test_objects_classifier_registered() -> None:
    assert load_plugins(CLASSIFIERS)["objects"] is ObjectClassifier


# Face detection on generated images and video


def _write_media(root: Path, faces: bool) -> None:
    cv2 = pytest.importorskip("cv2")
    numpy = pytest.importorskip("numpy")
    if faces:
        skimage_data = pytest.importorskip(
            "skimage.data", reason="scikit-image provides the astronaut test image"
        )
        frame = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)
    else:
        frame = numpy.random.default_rng(7).integers(0, 255, (480, 640, 3), "uint8")
    folder = root / "adas" / "front"
    folder.mkdir(parents=True)
    assert cv2.imwrite(str(folder / "frame.jpg"), frame)
    height, width = frame.shape[:2]
    fourcc = cv2.VideoWriter_fourcc(*"mp4v")
    writer = cv2.VideoWriter(str(folder / "clip.mp4"), fourcc, 5, (width, height))
    for _ in range(20):
        writer.write(frame)
    writer.release()


def _exterior(result: DatasetResult):
    return next(label for label in result.labels if label.id == EXTERIOR)


@pytest.fixture(scope="module")
def with_faces(tmp_path_factory: pytest.TempPathFactory) -> dict[str, DatasetResult]:
    root = tmp_path_factory.mktemp("faces")
    _write_media(root, faces=True)
    return _scan(root)


def test_face_in_image_raises_confidence(
    with_faces: dict[str, DatasetResult],
) -> None:
    label = _exterior(with_faces["adas/front/frame.jpg"])
    assert label.confidence >= 0.85
    assert label.evidence.examined == 1
    assert label.evidence.matches == 1
    assert any("1 had faces" in signal for signal in label.evidence.signals)


def test_face_in_video_frames(with_faces: dict[str, DatasetResult]) -> None:
    result = with_faces["adas/front/clip.mp4"]
    assert result.format == "mp4"
    label = _exterior(result)
    assert label.confidence >= 0.85
    assert 1 <= label.evidence.examined <= 8
    assert label.evidence.matches == label.evidence.examined


def test_no_face_keeps_low_confidence(tmp_path: Path) -> None:
    _write_media(tmp_path, faces=False)
    label = _exterior(_scan(tmp_path)["adas/front/frame.jpg"])
    assert label.confidence < 0.7
    assert label.evidence.examined == 1
    assert label.evidence.matches == 0


def test_without_opencv_says_no_detection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from classifiers import faces

    path = tmp_path / "adas" / "front" / "0001.jpg"
    path.parent.mkdir(parents=True)
    path.write_bytes(jpeg_bytes(64, 64))
    monkeypatch.setitem(sys.modules, "cv2", None)
    # Forget the detectors loaded by earlier tests, in every thread.
    monkeypatch.setattr(faces, "_local", threading.local())
    label = _exterior(_scan(tmp_path)["adas/front/0001.jpg"])
    signals = " ".join(label.evidence.signals)
    assert "no face or licence plate detection was run" in signals
    assert "cardex[vision]" in signals
    assert label.confidence < 0.7
