"""Dataset labels for object files: images, video, point clouds, firmware, logs.

An object dataset's sample is one row describing the file (see
``connectors.files.objects``). The dataset gets every label of the rule pack
that lists the row's ``object_kind`` under ``object_kinds``. When the label
also has ``path_hints``, one of them must match the folder or file names.

Robotics and CAN logs contain streams, which the sample lists as channel
columns. A topic of a camera, point cloud or GNSS message type, or a pair of
latitude and longitude signals, is a stream of kind ``camera_stream``,
``point_cloud_stream`` or ``gnss_stream``. A label that lists such a kind
under ``object_kinds`` applies to the log, and its path hints are matched
against the folder and file names together with the stream's name.

Path hints are metadata only: they say where a camera file came from, not
that it shows a face or a plate. For a label with ``face_confidence``, the
image or a few video frames are decoded and searched for faces when OpenCV
is installed (``cardex[vision]``); a face raises the confidence, and the
evidence says how many frames were checked. Without OpenCV the evidence says
that no detection ran.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from classifiers.base import ClassificationInput, Classifier, Finding
from classifiers.faces import FaceCount, count_faces
from classifiers.names import last_segment, match_name_hints, tokenize
from classifiers.rulepack import LabelRule
from scanner.errors import MissingExtraError

logger = logging.getLogger(__name__)

# Source type the file connector gives the columns of an object row, so that
# a table that happens to have an ``object_kind`` column is not taken for one.
OBJECT_METADATA = "object metadata"
# Folder levels above the file matched against path hints. Higher folders are
# mount points and scan roots, which tell nothing about one file.
PATH_LEVELS = 3
NO_DETECTION = "no face or licence plate detection was run on the content"
_MEDIA_KINDS = frozenset({"image", "video"})

# The first words of a channel column's source type, as the file connector
# writes them: ``ros topic: sensor_msgs/msg/Image, 120 messages``.
TOPIC_CHANNEL = "ros topic"
SIGNAL_CHANNEL = "can signal"
MDF_CHANNEL = "mdf channel"
CAMERA_STREAM = "camera_stream"
POINT_CLOUD_STREAM = "point_cloud_stream"
GNSS_STREAM = "gnss_stream"
# Message types by their last name part, from ROS 1 and ROS 2 sensor_msgs,
# gps_msgs, nmea_msgs and the Foxglove schemas.
_STREAM_TYPES = {
    "Image": CAMERA_STREAM,
    "CompressedImage": CAMERA_STREAM,
    "RawImage": CAMERA_STREAM,
    "CompressedVideo": CAMERA_STREAM,
    "PointCloud2": POINT_CLOUD_STREAM,
    "PointCloud": POINT_CLOUD_STREAM,
    "LaserScan": POINT_CLOUD_STREAM,
    "NavSatFix": GNSS_STREAM,
    "GPSFix": GNSS_STREAM,
    "LocationFix": GNSS_STREAM,
    "Sentence": GNSS_STREAM,
}
_LATITUDE_WORDS = frozenset({"lat", "latitude", "纬度"})
_LONGITUDE_WORDS = frozenset({"lon", "lng", "long", "longitude", "经度"})
# Signals named for lateral and longitudinal motion (``Lat_Accel``,
# ``LongSpeed``) are not coordinates.
_MOTION_WORDS = frozenset(
    {
        "acc",
        "accel",
        "acceleration",
        "vel",
        "velocity",
        "speed",
        "jerk",
        "force",
        "dist",
        "distance",
        "offset",
        "ctrl",
        "control",
        "err",
        "error",
        "slip",
    }
)


@dataclass(frozen=True)
class Stream:
    """A camera, point cloud or GNSS stream found among a log's channels."""

    kind: str
    columns: tuple[str, ...]
    description: str


def object_row(data: ClassificationInput) -> tuple[str, str] | None:
    """Return the object kind and path of an object sample, or None."""
    sample = data.sample
    if sample.source_types.get("object_kind") != OBJECT_METADATA:
        return None
    if sample.table.num_rows != 1 or "path" not in sample.table.column_names:
        return None
    kind = sample.table.column("object_kind")[0].as_py()
    path = sample.table.column("path")[0].as_py()
    if not isinstance(kind, str) or not isinstance(path, str):
        return None
    return kind, path


def path_words(path: str) -> str:
    """Join the file stem and its nearest folders into one name for hints.

    ``/mnt/lake/adas/front_cam/0001.jpg`` becomes ``lake_adas_front_cam_0001``.
    """
    parts = path.replace("\\", "/").split("/")
    parts[-1] = os.path.splitext(parts[-1])[0]
    kept = [part for part in parts[-(PATH_LEVELS + 1) :] if part]
    return "_".join(part.replace(".", "_") for part in kept)


class ObjectClassifier(Classifier):
    """Give dataset labels to object files by their kind and path."""

    name = "objects"
    stage = 2

    def classify(self, data: ClassificationInput) -> Iterable[Finding]:
        row = object_row(data)
        if row is None:
            return
        kind, path = row
        words = path_words(path)
        streams = find_streams(data.sample.source_types)
        for label in self.rules.labels.values():
            if kind in label.object_kinds:
                finding = self._finding(label, kind, path, words)
                if finding is not None:
                    yield finding
            for stream in streams:
                if stream.kind in label.object_kinds:
                    yield from self._stream_findings(label, stream, words)

    def _stream_findings(
        self, label: LabelRule, stream: Stream, words: str
    ) -> Iterator[Finding]:
        signals = [
            f"log contains a {stream.kind.replace('_', ' ')}: {stream.description}"
        ]
        hints = label.path_hints
        if hints.en or hints.zh or hints.pinyin:
            names = "_".join(_stream_words(column) for column in stream.columns)
            hint = match_name_hints(f"{words}_{names}", hints)
            if hint is None:
                return
            signals.append(f"path or stream name matches path hint '{hint}'")
        if stream.kind == CAMERA_STREAM:
            signals.append(NO_DETECTION)
        targets: list[str | None] = [None]
        if label.scope != "dataset":
            targets.extend(stream.columns)
        for target in targets:
            yield Finding(
                column=target,
                label_id=label.id,
                source="context",
                score=label.object_confidence,
                rule_id=f"{label.id}.stream",
                matches=1,
                examined=1,
                non_null=1,
                signals=tuple(signals),
            )

    def _finding(
        self, label: LabelRule, kind: str, path: str, words: str
    ) -> Finding | None:
        signals = [f"file content recognised as {kind.replace('_', ' ')}"]
        hints = label.path_hints
        if hints.en or hints.zh or hints.pinyin:
            hint = match_name_hints(words, hints)
            if hint is None:
                return None
            signals.append(f"folder or file name matches path hint '{hint}'")
        finding = Finding(
            column=None,
            label_id=label.id,
            source="context",
            score=label.object_confidence,
            rule_id=f"{label.id}.object",
            matches=1,
            examined=1,
            non_null=1,
            signals=tuple(signals),
        )
        if kind in _MEDIA_KINDS and label.face_confidence is not None:
            return _with_faces(finding, label.face_confidence, path, kind)
        if kind in _MEDIA_KINDS:
            return replace(finding, signals=(*finding.signals, NO_DETECTION))
        return finding


def _with_faces(finding: Finding, confidence: float, path: str, kind: str) -> Finding:
    """Count faces in the file and record the result in the finding."""
    try:
        faces = count_faces(path, kind)
    except MissingExtraError as exc:
        return replace(finding, signals=(*finding.signals, f"{NO_DETECTION}: {exc}"))
    logger.info(
        "checked %d frames of %s for faces, %d had faces",
        faces.frames_checked,
        path,
        faces.frames_with_faces,
    )
    signal = _face_signal(faces)
    score = max(finding.score, confidence) if faces.frames_with_faces else finding.score
    return replace(
        finding,
        score=score,
        examined=faces.frames_checked,
        non_null=faces.frames_checked,
        matches=faces.frames_with_faces,
        signals=(*finding.signals, signal),
    )


def _face_signal(faces: FaceCount) -> str:
    if faces.frames_checked == 0:
        return "face detection ran but no frame could be decoded"
    return (
        f"face detection (OpenCV Haar cascade) checked {faces.frames_checked} "
        f"frames: {faces.frames_with_faces} had faces ({faces.faces} faces); "
        "no licence plate detection was run"
    )


def find_streams(source_types: dict[str, str]) -> list[Stream]:
    """Find camera, point cloud and GNSS streams among the channel columns."""
    streams: list[Stream] = []
    signals: list[str] = []
    for column, source_type in source_types.items():
        channel, _, detail = source_type.partition(": ")
        if channel == TOPIC_CHANNEL:
            message_type = detail.split(",", 1)[0].strip()
            kind = _STREAM_TYPES.get(_type_name(message_type))
            if kind is not None:
                topic = column.removeprefix("topics.")
                streams.append(Stream(kind, (column,), f"{topic} ({message_type})"))
        elif channel in (SIGNAL_CHANNEL, MDF_CHANNEL):
            signals.append(column)
    gnss = _coordinate_signals(signals)
    if gnss:
        names = ", ".join(last_segment(column) for column in gnss)
        streams.append(Stream(GNSS_STREAM, tuple(gnss), f"signals {names}"))
    return streams


def _type_name(message_type: str) -> str:
    """Return the last part of ``sensor_msgs/msg/Image`` or ``foxglove.RawImage``."""
    return message_type.replace(".", "/").rsplit("/", 1)[-1]


def _coordinate_signals(columns: list[str]) -> list[str]:
    """Return latitude and longitude signals, if both are present."""
    latitudes: list[str] = []
    longitudes: list[str] = []
    for column in columns:
        tokens = set(tokenize(last_segment(column)))
        if tokens & _MOTION_WORDS:
            continue
        if tokens & _LATITUDE_WORDS:
            latitudes.append(column)
        elif tokens & _LONGITUDE_WORDS:
            longitudes.append(column)
    if latitudes and longitudes:
        return latitudes + longitudes
    return []


def _stream_words(column: str) -> str:
    return "_".join(tokenize(column.removeprefix("topics.")))
