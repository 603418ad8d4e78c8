"""Count faces in an image file or in frames of a video file.

Detection uses the frontal-face Haar cascade that OpenCV 4.x ships in
``cv2.data.haarcascades``; OpenCV 5 no longer ships it. OpenCV is the
optional ``vision`` extra (``pip install 'cardex[vision]'``). A Haar cascade
finds frontal faces of about 24 pixels and larger and misses profiles, so a
count of zero does not prove that no one is shown.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

from scanner.errors import MissingExtraError

logger = logging.getLogger(__name__)

# Frames decoded from one video, spread over its length.
MAX_VIDEO_FRAMES = 8
# Image files larger than this are not decoded (64 MiB): a camera frame is a
# few MiB, and decoding reads the whole file.
MAX_IMAGE_BYTES = 64 * 1024 * 1024
# Frames are scaled down to this many pixels on the long side before
# detection, which bounds the time per frame.
MAX_SIDE = 1280
_CASCADE = "haarcascade_frontalface_default.xml"
# detectMultiScale settings: the usual published defaults for this cascade.
_SCALE_FACTOR = 1.1
_MIN_NEIGHBORS = 5
_MIN_FACE = (24, 24)


@dataclass(frozen=True)
class FaceCount:
    """Frames checked for faces and how many of them had at least one."""

    frames_checked: int
    frames_with_faces: int
    faces: int


def load_cv2() -> Any:
    """Import OpenCV; raise ``MissingExtraError`` without it."""
    try:
        import cv2
    except ImportError as exc:
        raise MissingExtraError(
            "opencv-python-headless", "vision", "Counting faces in camera images"
        ) from exc
    return cv2


# One detector per thread: a CascadeClassifier used from two threads at once
# miscounts or raises, and the scan classifies datasets in several threads.
_local = threading.local()


def _detector() -> Any:
    detector = getattr(_local, "detector", None)
    if detector is None:
        detector = _local.detector = _load_detector()
    return detector


def _load_detector() -> Any:
    cv2 = load_cv2()
    path = os.path.join(cv2.data.haarcascades, _CASCADE)
    detector = cv2.CascadeClassifier(path)
    if detector.empty():
        raise MissingExtraError(
            "opencv-python-headless<5", "vision", "The Haar face cascade of OpenCV 4"
        )
    return detector


def count_faces(path: str, object_kind: str) -> FaceCount:
    """Count faces in an image, or in up to ``MAX_VIDEO_FRAMES`` video frames.

    Raises ``MissingExtraError`` without OpenCV. A file that cannot be
    decoded gives ``frames_checked == 0``.
    """
    detector = _detector()
    video = object_kind == "video"
    frames = _video_frames(path) if video else _image_frames(path)
    counts = [_faces_in(detector, frame) for frame in frames]
    return FaceCount(
        frames_checked=len(counts),
        frames_with_faces=sum(1 for count in counts if count),
        faces=sum(counts),
    )


def _image_frames(path: str) -> list[Any]:
    try:
        if os.path.getsize(path) > MAX_IMAGE_BYTES:
            return []
    except OSError:
        return []
    frame = load_cv2().imread(path)
    return [] if frame is None else [frame]


def _video_frames(path: str) -> list[Any]:
    cv2 = load_cv2()
    capture = cv2.VideoCapture(path)
    try:
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        step = max(1, total // MAX_VIDEO_FRAMES) if total > 0 else 1
        frames: list[Any] = []
        for index in range(0, max(total, MAX_VIDEO_FRAMES), step):
            if len(frames) >= MAX_VIDEO_FRAMES:
                break
            capture.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(frame)
        return frames
    finally:
        capture.release()


def faces_in_frame(frame: Any) -> int:
    """Count faces in one decoded frame (an OpenCV BGR image array).

    Raises ``MissingExtraError`` without OpenCV.
    """
    return _faces_in(_detector(), frame)


def _faces_in(detector: Any, frame: Any) -> int:
    cv2 = load_cv2()
    height, width = frame.shape[:2]
    scale = MAX_SIDE / max(height, width)
    if scale < 1:
        frame = cv2.resize(frame, (int(width * scale), int(height * scale)))
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    found = detector.detectMultiScale(
        gray,
        scaleFactor=_SCALE_FACTOR,
        minNeighbors=_MIN_NEIGHBORS,
        minSize=_MIN_FACE,
    )
    return len(found)
