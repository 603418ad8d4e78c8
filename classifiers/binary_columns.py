"""Labels for table columns of binary objects: images, point clouds, firmware.

A Parquet ``binary`` column, a PostgreSQL ``BYTEA`` or a SQLite ``BLOB`` often
contains whole files: camera frames, PCD point clouds, Intel HEX images. The
value profile skips binary values, so this stage-2 classifier sniffs the first
KiB of up to ``MAX_SNIFFED_VALUES`` values with the file connector's format
detection. When most of them are objects of one kind, the column gets the
labels the rule pack gives object files of that kind, as object files do in
``classifiers.objects``:

- ``path_hints`` are matched against the column name (``front_cam_jpeg``),
  because a classifier is given no table or file name.
- Labels with ``face_confidence`` decode up to ``MAX_DECODED_IMAGES`` images
  and count frontal faces when OpenCV is installed.

Findings of dataset-scoped labels (exterior media, point clouds) are dataset
findings that name the column; others are column findings. Evidence
contains format names and counts only, never bytes. The recognised format is also
added to the column's notes.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from classifiers.base import ClassificationInput, Classifier, Finding
from classifiers.names import match_name_hints
from classifiers.objects import NO_DETECTION
from classifiers.profile import ColumnProfile
from classifiers.rulepack import LabelRule
from connectors.files.detect import sniff_format
from connectors.files.readers import OBJECT_FORMATS
from scanner.errors import MissingExtraError

logger = logging.getLogger(__name__)

# Values sniffed per column, and the bytes of each value given to
# ``sniff_format``: enough for every magic number and the PCD and Intel HEX
# header lines.
MAX_SNIFFED_VALUES = 32
SNIFF_HEAD_BYTES = 1024
# Share of the sniffed values that must be objects of one kind.
MIN_KIND_SHARE = 0.5
# Images decoded per column for face counts, and the largest value decoded
# (16 MiB): a camera frame is a few MiB.
MAX_DECODED_IMAGES = 8
MAX_DECODED_BYTES = 16 * 1024 * 1024
_IMAGE = "image"
_MEDIA_KINDS = frozenset({"image", "video"})


@dataclass(frozen=True)
class ColumnObjects:
    """Object kind and format recognised in the sniffed values of one column.

    ``kind`` and ``format`` are those of the most common object kind, or
    None when fewer than ``MIN_KIND_SHARE`` of the values are objects of one
    kind. ``formats`` counts every format name seen.
    """

    sniffed: int
    kind: str | None
    format: str | None
    matches: int
    formats: tuple[tuple[str, int], ...]


def is_binary_column(values: pa.ChunkedArray | pa.Array) -> bool:
    """Tell whether a column contains variable-length binary values."""
    return pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type)


def value_heads(values: pa.ChunkedArray | pa.Array) -> list[bytes]:
    """Return the first ``SNIFF_HEAD_BYTES`` of up to ``MAX_SNIFFED_VALUES`` values.

    Nulls and empty values are skipped. Only the heads are copied into Python.
    """
    present = pc.drop_null(values)
    present = present.filter(pc.greater(pc.binary_length(present), 0))
    first = present.slice(0, MAX_SNIFFED_VALUES)
    heads = pc.binary_slice(first, 0, SNIFF_HEAD_BYTES)
    return [head for head in heads.to_pylist() if head]


def recognise_objects(values: pa.ChunkedArray | pa.Array) -> ColumnObjects:
    """Sniff the heads of a binary column's values and name their object kind."""
    heads = value_heads(values)
    formats = Counter(sniff_format(head, "") for head in heads)
    kinds: Counter[str] = Counter()
    for name, count in formats.items():
        if name in OBJECT_FORMATS:
            kinds[OBJECT_FORMATS[name][0]] += count

    kind, format_name, matches = None, None, 0
    if kinds:
        top_kind, top_count = kinds.most_common(1)[0]
        if top_count >= MIN_KIND_SHARE * len(heads):
            kind, matches = top_kind, top_count
            format_name = _top_format(formats, top_kind)
    return ColumnObjects(
        sniffed=len(heads),
        kind=kind,
        format=format_name,
        matches=matches,
        formats=tuple(sorted(formats.items())),
    )


def _top_format(formats: Counter[str], kind: str) -> str:
    of_kind = [
        (count, name)
        for name, count in formats.items()
        if name in OBJECT_FORMATS and OBJECT_FORMATS[name][0] == kind
    ]
    return max(of_kind)[1]


def describe(objects: ColumnObjects) -> str:
    """Say in one line what the sniffed values were, for notes and evidence."""
    seen = ", ".join(f"{name} {count}" for name, count in objects.formats)
    if objects.sniffed == 0:
        return "binary values: none sniffed, every value is null or empty"
    if objects.kind is None:
        return (
            f"binary values: {objects.sniffed} sniffed, no object kind in the "
            f"majority ({seen})"
        )
    return (
        f"binary values: {objects.matches} of {objects.sniffed} sniffed are "
        f"{objects.kind.replace('_', ' ')} objects ({seen})"
    )


class BinaryColumnClassifier(Classifier):
    """Give object labels to binary columns whose values are files."""

    name = "binary_columns"
    stage = 2

    def classify(self, data: ClassificationInput) -> Iterable[Finding]:
        for column, values in data.columns.items():
            if not is_binary_column(values):
                continue
            objects = recognise_objects(values)
            _add_note(data.profiles.get(column), describe(objects))
            if objects.kind is None:
                continue
            logger.debug("column %s contains %s objects", column, objects.format)
            yield from self._findings(column, values, objects)

    def _findings(
        self, column: str, values: pa.ChunkedArray, objects: ColumnObjects
    ) -> Iterator[Finding]:
        for label in self.rules.labels.values():
            if objects.kind not in label.object_kinds:
                continue
            finding = _column_finding(label, column, objects)
            if finding is None:
                continue
            if objects.kind == _IMAGE and label.face_confidence is not None:
                finding = _with_faces(finding, label.face_confidence, values)
            elif objects.kind in _MEDIA_KINDS:
                finding = replace(finding, signals=(*finding.signals, NO_DETECTION))
            yield finding


def _add_note(profile: ColumnProfile | None, note: str) -> None:
    # The report's column notes are the profile's notes, read after stage 2.
    if profile is not None and note not in profile.notes:
        profile.notes.append(note)


def _column_finding(
    label: LabelRule, column: str, objects: ColumnObjects
) -> Finding | None:
    signals = [f"column {column}: {describe(objects)}"]
    hints = label.path_hints
    if hints.en or hints.zh or hints.pinyin:
        hint = match_name_hints(column, hints)
        if hint is None:
            return None
        signals.append(f"column name matches path hint '{hint}'")
    return Finding(
        column=None if label.scope == "dataset" else column,
        label_id=label.id,
        source="context",
        score=label.object_confidence,
        rule_id=f"{label.id}.binary_column",
        matches=objects.matches,
        examined=objects.sniffed,
        non_null=objects.sniffed,
        signals=tuple(signals),
    )


def _with_faces(
    finding: Finding, confidence: float, values: pa.ChunkedArray
) -> Finding:
    """Count faces in a few decoded images and record the result."""
    try:
        checked, with_faces, faces = count_faces_in_values(values)
    except MissingExtraError as exc:
        return replace(finding, signals=(*finding.signals, f"{NO_DETECTION}: {exc}"))
    if checked == 0:
        signal = "face detection ran but no image value could be decoded"
    else:
        signal = (
            f"face detection (OpenCV Haar cascade) checked {checked} images: "
            f"{with_faces} had faces ({faces} faces); no licence plate detection "
            "was run"
        )
    score = max(finding.score, confidence) if with_faces else finding.score
    signals = (*finding.signals, signal)
    return replace(finding, score=score, signals=signals)


def count_faces_in_values(values: pa.ChunkedArray) -> tuple[int, int, int]:
    """Decode up to ``MAX_DECODED_IMAGES`` image values and count faces.

    Returns the images decoded, those with at least one face, and the faces.
    Raises ``MissingExtraError`` without OpenCV.
    """
    from classifiers.faces import faces_in_frame

    counts = [faces_in_frame(frame) for frame in _decoded_images(values)]
    with_faces = sum(1 for count in counts if count)
    return len(counts), with_faces, sum(counts)


def _decoded_images(values: pa.ChunkedArray) -> Iterator[Any]:
    import numpy as np

    from classifiers.faces import load_cv2

    cv2 = load_cv2()
    present = pc.drop_null(values)
    small = present.filter(pc.less_equal(pc.binary_length(present), MAX_DECODED_BYTES))
    decoded = 0
    # Values are copied into Python one at a time, so a column of large
    # images costs at most one image of memory beyond the sample.
    for index in range(min(len(small), MAX_SNIFFED_VALUES)):
        if decoded >= MAX_DECODED_IMAGES:
            return
        value = small[index].as_py()
        if not value:
            continue
        try:
            frame = cv2.imdecode(np.frombuffer(value, np.uint8), cv2.IMREAD_COLOR)
        except cv2.error as exc:
            logger.debug("image value %d could not be decoded: %s", index, exc)
            continue
        if frame is not None:
            decoded += 1
            yield frame
