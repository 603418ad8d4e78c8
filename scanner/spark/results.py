"""Serialise a ``DatasetResult`` to JSON and back, losing nothing.

``DatasetResult.to_dict`` is the report's format: it rounds confidences and
leaves out the fingerprint. Spark tasks send results to the driver with this
module instead, so that the driver stores exactly what the task computed.
"""

from __future__ import annotations

import json
from typing import Any

from scanner.model import (
    ColumnResult,
    DatasetFailure,
    DatasetResult,
    Evidence,
    Fingerprint,
    Label,
)


def _label(label: Label) -> dict[str, Any]:
    return {
        "id": label.id,
        "category": label.category,
        # json writes the shortest repr, which reads back as the same float.
        "confidence": label.confidence,
        "evidence": label.evidence.to_dict(),
        "state": label.state,
        "decided_by": label.decided_by,
    }


def _read_label(data: dict[str, Any]) -> Label:
    return Label(
        id=data["id"],
        category=data["category"],
        confidence=data["confidence"],
        evidence=Evidence.from_dict(data["evidence"]),
        state=data["state"],
        decided_by=data["decided_by"],
    )


def result_to_json(result: DatasetResult) -> str:
    """Return ``result`` as JSON text that ``result_from_json`` reads back."""
    data = {
        "uri": result.uri,
        "name": result.name,
        "kind": result.kind,
        "format": result.format,
        "columns": [
            {
                "name": column.name,
                "data_type": column.data_type,
                "examined": column.examined,
                "non_null": column.non_null,
                "labels": [_label(label) for label in column.labels],
                "notes": column.notes,
            }
            for column in result.columns
        ],
        "labels": [_label(label) for label in result.labels],
        "errors": [error.to_dict() for error in result.errors],
        "sampled_rows": result.sampled_rows,
        "total_rows": result.total_rows,
        "bytes_read": result.bytes_read,
        "fingerprint": result.fingerprint.to_dict(),
        "notes": result.notes,
        "grade": result.grade,
        "personal": result.personal,
    }
    return json.dumps(data, ensure_ascii=False)


def result_from_json(text: str) -> DatasetResult:
    """Rebuild the ``DatasetResult`` that ``result_to_json`` wrote."""
    data = json.loads(text)
    columns = [
        ColumnResult(
            name=column["name"],
            data_type=column["data_type"],
            examined=column["examined"],
            non_null=column["non_null"],
            labels=[_read_label(label) for label in column["labels"]],
            notes=column["notes"],
        )
        for column in data["columns"]
    ]
    return DatasetResult(
        uri=data["uri"],
        name=data["name"],
        kind=data["kind"],
        format=data["format"],
        columns=columns,
        labels=[_read_label(label) for label in data["labels"]],
        errors=[DatasetFailure(**error) for error in data["errors"]],
        sampled_rows=data["sampled_rows"],
        total_rows=data["total_rows"],
        bytes_read=data["bytes_read"],
        fingerprint=Fingerprint(**data["fingerprint"]),
        notes=data["notes"],
        grade=data["grade"],
        personal=data["personal"],
    )
