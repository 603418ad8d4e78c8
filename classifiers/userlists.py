"""Lists a user supplies for one scan: geofences, term lists and recipients.

cardex ships no real list of sensitive sites, national key projects or
export-controlled items. The user gives them as files with ``--geofences``,
``--terms`` and ``--recipients``, whose formats docs/user-lists.md describes.
Each loader checks its file whole and raises ``UserListError`` naming the file and the
problem, so that a scan never starts with a list it misread.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scanner.errors import UsageError

TERM_LISTS = ("national_key_projects", "export_control")


class UserListError(UsageError):
    """A geofence, term or recipient file is missing or malformed."""


@dataclass(frozen=True)
class Geofence:
    """One sensitive area: an id, a name and a (multi)polygon in WGS 84."""

    id: str
    name: str
    shape: Any  # shapely Polygon or MultiPolygon, prepared for fast tests


@dataclass(frozen=True)
class Recipient:
    """An overseas recipient of exported data."""

    name: str
    country: str


@dataclass(frozen=True)
class UserLists:
    """Everything the user supplied; empty lists switch the checks off."""

    geofences: tuple[Geofence, ...] = ()
    #: Terms by list name (``national_key_projects``, ``export_control``).
    terms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    recipients: tuple[Recipient, ...] = ()


def _read(path: Path, option: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UserListError(f"{option} {path}: cannot read the file: {reason}") from exc


def _yaml(path: Path, option: str) -> Any:
    try:
        return yaml.safe_load(_read(path, option))
    except yaml.YAMLError as exc:
        raise UserListError(f"{option} {path}: not valid YAML: {exc}") from exc


def load_geofences(path: str | Path) -> tuple[Geofence, ...]:
    """Read a GeoJSON FeatureCollection of Polygon and MultiPolygon features.

    Coordinates are longitude, latitude in WGS 84 (RFC 7946). A feature's id
    is its ``id`` or ``properties.id``; its name is ``properties.name``.
    """
    import shapely
    from shapely.geometry import shape

    path = Path(path)
    where = f"--geofences {path}"
    try:
        document = json.loads(_read(path, "--geofences"))
    except json.JSONDecodeError as exc:
        raise UserListError(f"{where}: not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise UserListError(f"{where}: must be a GeoJSON FeatureCollection")
    features = document.get("features")
    if not isinstance(features, list) or not features:
        raise UserListError(f"{where}: the FeatureCollection has no features")

    fences = []
    for number, feature in enumerate(features, start=1):
        geometry = (feature or {}).get("geometry") or {}
        kind = geometry.get("type")
        if kind not in ("Polygon", "MultiPolygon"):
            raise UserListError(
                f"{where}: feature {number} is a {kind or 'feature without geometry'}"
                "; only Polygon and MultiPolygon areas are supported"
            )
        try:
            area = shape(geometry)
        except (ValueError, TypeError, AttributeError, IndexError) as exc:
            raise UserListError(
                f"{where}: feature {number} has invalid coordinates: {exc}"
            ) from exc
        if area.is_empty or not area.is_valid:
            raise UserListError(
                f"{where}: feature {number} is not a valid area "
                f"({shapely.is_valid_reason(area)})"
            )
        properties = feature.get("properties") or {}
        fence_id = str(feature.get("id") or properties.get("id") or number)
        shapely.prepare(area)
        fences.append(Geofence(fence_id, str(properties.get("name") or ""), area))
    return tuple(fences)


def load_terms(path: str | Path) -> dict[str, tuple[str, ...]]:
    """Read term lists: a mapping of list name to a list of terms.

    The known lists are ``national_key_projects`` and ``export_control``; at
    least one must be present, and every term is a non-empty string.
    """
    path = Path(path)
    where = f"--terms {path}"
    data = _yaml(path, "--terms")
    if not isinstance(data, dict):
        raise UserListError(
            f"{where}: must be a mapping with {' and/or '.join(TERM_LISTS)}"
        )
    unknown = sorted(set(map(str, data)) - set(TERM_LISTS))
    if unknown:
        raise UserListError(
            f"{where}: unknown list {unknown[0]!r}; "
            f"valid lists: {', '.join(TERM_LISTS)}"
        )
    lists: dict[str, tuple[str, ...]] = {}
    for name in TERM_LISTS:
        terms = data.get(name) or []
        if not isinstance(terms, list) or not all(
            isinstance(term, str) and term.strip() for term in terms
        ):
            raise UserListError(f"{where}: {name} must be a list of non-empty strings")
        lists[name] = tuple(term.strip() for term in terms)
    if not any(lists.values()):
        raise UserListError(f"{where}: every term list is empty")
    return lists


def load_recipients(path: str | Path) -> tuple[Recipient, ...]:
    """Read overseas recipients: a list of mappings with ``name`` and ``country``.

    ``country`` is an ISO 3166-1 alpha-2 code such as ``DE``.
    """
    path = Path(path)
    where = f"--recipients {path}"
    data = _yaml(path, "--recipients")
    if isinstance(data, dict) and "recipients" in data:
        data = data["recipients"]
    if not isinstance(data, list) or not data:
        raise UserListError(f"{where}: must be a non-empty list of recipients")
    recipients = []
    for number, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise UserListError(f"{where}: recipient {number} is not a mapping")
        name = str(item.get("name") or "").strip()
        country = str(item.get("country") or "").strip()
        if not name:
            raise UserListError(f"{where}: recipient {number} has no name")
        if not (len(country) == 2 and country.isascii() and country.isalpha()):
            raise UserListError(
                f"{where}: recipient {number} ({name}) needs country as an "
                "ISO 3166-1 two-letter code such as DE"
            )
        if country.upper() == "CN":
            raise UserListError(
                f"{where}: recipient {number} ({name}) is in CN; list only "
                "recipients outside mainland China"
            )
        recipients.append(Recipient(name, country.upper()))
    return tuple(recipients)


def load_user_lists(
    geofences: str | Path | None = None,
    terms: str | Path | None = None,
    recipients: str | Path | None = None,
) -> UserLists:
    """Load the lists given; a list not given stays empty."""
    return UserLists(
        geofences=load_geofences(geofences) if geofences else (),
        terms=load_terms(terms) if terms else {},
        recipients=load_recipients(recipients) if recipients else (),
    )
