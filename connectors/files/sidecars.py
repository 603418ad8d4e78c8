"""Describe raw binary files that a sidecar file next to them explains.

A raw ``.bin`` file has no magic number, so its content alone never makes it
an object. Two kinds of sidecar do:

- a point cloud description, ``NAME.bin.json``, ``NAME.bin.yaml``,
  ``NAME.json`` or ``NAME.yaml``, with ``fields`` (a list of field names) and
  ``dtype`` (``float32`` or ``float64``), as KITTI-style lidar sweeps are
  stored: every point is the listed fields in that type, little-endian;
- a firmware manifest, ``NAME.manifest``, ``NAME.bin.manifest`` or
  ``NAME.manifest.json`` for one image, or ``manifest.json`` in the same
  folder listing several, that names the file and gives its version, ECU,
  hash or size.

Sidecars are JSON or YAML of at most ``SIDECAR_LIMIT`` bytes. The image
itself is read only for the checksum of its first ``FIRMWARE_HEAD_BYTES``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from connectors.files.objects import ObjectFields, corrupt

if TYPE_CHECKING:
    from connectors.files.content import ByteSource, ReadContext

SIDECAR_LIMIT = 256 * 1024
# Bytes of a firmware image hashed for ``head_sha256``.
FIRMWARE_HEAD_BYTES = 1024 * 1024
POINT_CLOUD_BIN = "point_cloud_bin"
FIRMWARE_BIN = "firmware_bin"

_POINT_DTYPES = {"float32": 4, "float64": 8, "f4": 4, "f8": 8}
_IMAGE_KEYS = ("file", "filename", "file_name", "image", "name", "path")
_LIST_KEYS = ("files", "images", "ecus", "components", "packages")
_VERSION_KEYS = ("version", "firmware_version", "sw_version", "software_version")
_ECU_KEYS = ("ecu", "ecu_name", "ecu_id", "target", "module")
_HASH_KEYS = ("sha256", "sha1", "md5", "hash", "checksum", "digest")


@dataclass(frozen=True)
class Sidecar:
    """A sidecar that explains a binary file: its format, path and content."""

    format_name: str
    path: str
    document: dict[str, Any]


def find_sidecar(path: str) -> Sidecar | None:
    """Return the sidecar that makes the binary file at ``path`` an object."""
    for candidate in _point_cloud_candidates(path):
        document = _load(candidate)
        if document is not None and _is_point_cloud_spec(document):
            return Sidecar(POINT_CLOUD_BIN, candidate, document)
    for candidate in _manifest_candidates(path):
        document = _load(candidate)
        entry = _manifest_entry(document, os.path.basename(path))
        if entry is not None:
            return Sidecar(FIRMWARE_BIN, candidate, entry)
    return None


def _point_cloud_candidates(path: str) -> list[str]:
    stem = os.path.splitext(path)[0]
    return [f"{path}.json", f"{path}.yaml", f"{stem}.json", f"{stem}.yaml"]


def _manifest_candidates(path: str) -> list[str]:
    stem = os.path.splitext(path)[0]
    folder = os.path.dirname(path)
    return [
        f"{stem}.manifest",
        f"{path}.manifest",
        f"{stem}.manifest.json",
        os.path.join(folder, "manifest.json"),
    ]


def _load(path: str) -> dict[str, Any] | None:
    """Parse a small JSON or YAML file, or return None if it is no mapping."""
    # Only regular files: opening a FIFO named like a sidecar would block.
    if not os.path.isfile(path):
        return None
    try:
        if os.path.getsize(path) > SIDECAR_LIMIT:
            return None
        with open(path, "rb") as handle:
            data = handle.read(SIDECAR_LIMIT)
    except OSError:
        return None
    try:
        document = json.loads(data) if path.endswith(".json") else yaml.safe_load(data)
    except (ValueError, yaml.YAMLError):
        return None
    return document if isinstance(document, dict) else None


def _is_point_cloud_spec(document: dict[str, Any]) -> bool:
    fields = document.get("fields")
    dtype = str(document.get("dtype", "")).lower()
    return (
        isinstance(fields, list)
        and bool(fields)
        and all(isinstance(name, str) for name in fields)
        and dtype in _POINT_DTYPES
    )


def _manifest_entry(
    document: dict[str, Any] | None, file_name: str
) -> dict[str, Any] | None:
    """Return the manifest entry that names ``file_name``, or None."""
    if document is None:
        return None
    entries = [document]
    for key in _LIST_KEYS:
        listed = document.get(key)
        if isinstance(listed, list):
            entries.extend(item for item in listed if isinstance(item, dict))
    for entry in entries:
        names = {os.path.basename(str(entry.get(key, ""))) for key in _IMAGE_KEYS}
        if file_name in names:
            return {**_shared_fields(document), **entry}
    return None


def _shared_fields(document: dict[str, Any]) -> dict[str, Any]:
    """Return the fields of a manifest's top level that its entries inherit."""
    keys = (*_VERSION_KEYS, *_ECU_KEYS)
    return {key: document[key] for key in keys if key in document}


def describe_point_cloud_bin(
    source: ByteSource, context: ReadContext, sidecar: Sidecar
) -> ObjectFields:
    """Count the points of a raw point cloud from its size and sidecar."""
    fields = [str(name) for name in sidecar.document["fields"]]
    dtype = str(sidecar.document["dtype"]).lower()
    record = len(fields) * _POINT_DTYPES[dtype]
    if source.size % record:
        raise corrupt(
            source,
            context,
            f"the size is not a multiple of the {record}-byte point that "
            f"{os.path.basename(sidecar.path)} describes",
        )
    context.note(f"point layout read from {sidecar.path}")
    return {
        "point_count": source.size // record,
        "point_fields": ",".join(fields),
        "point_dtype": dtype,
    }


def describe_firmware_bin(
    source: ByteSource, context: ReadContext, sidecar: Sidecar
) -> ObjectFields:
    """Describe a firmware image from its manifest entry and a hashed head."""
    entry = sidecar.document
    declared_size = entry.get("size")
    if isinstance(declared_size, int) and declared_size != source.size:
        raise corrupt(
            source,
            context,
            f"{os.path.basename(sidecar.path)} declares {declared_size} bytes",
        )
    head = source.read_range(0, FIRMWARE_HEAD_BYTES)
    head_hash = hashlib.sha256(head).hexdigest()
    declared_hash = _first(entry, _HASH_KEYS)
    whole = len(head) == source.size
    if whole and declared_hash and len(declared_hash) == 64:
        if declared_hash.lower() != head_hash:
            raise corrupt(
                source,
                context,
                f"its SHA-256 differs from the one {os.path.basename(sidecar.path)} "
                "declares",
            )
        context.note("SHA-256 matches the manifest")
    return {
        "firmware_version": _first(entry, _VERSION_KEYS),
        "ecu": _first(entry, _ECU_KEYS),
        "declared_hash": declared_hash,
        "head_sha256": head_hash,
        "head_bytes": len(head),
        "manifest": sidecar.path,
    }


def _first(entry: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = entry.get(key)
        if value is not None and not isinstance(value, dict | list):
            return str(value)
    return None
