"""Table context: labels visible only from several columns together.

- A person or vehicle key, a time and precise coordinates form a track:
  ``spi.location`` on the coordinate columns and on the dataset.
- A fixed-length float vector named like a face feature is ``spi.biometric``.
- An account-like name counts as ``pi.account`` only in a table about people.
- Birth dates or ID numbers that put people under 14 make ``spi.minor``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from classifiers.base import ClassificationInput, Classifier, Finding
from classifiers.names import match_hint, tokenize
from classifiers.profile import ColumnProfile

# Labels whose column identifies a person or a vehicle.
SUBJECT_LABELS = frozenset(
    {
        "pi.vin",
        "spi.id_number",
        "pi.phone",
        "pi.account",
        "pi.email",
        "pi.licence_plate",
        "pi.name",
        "pi.device_id",
    }
)
_SUBJECT_WORDS = frozenset(
    {
        "user",
        "driver",
        "customer",
        "owner",
        "member",
        "passenger",
        "person",
        "vehicle",
        "car",
        "account",
        "uid",
        "vin",
        "imei",
        "device",
        "tbox",
        "client",
        "用户",
        "司机",
        "车辆",
        "客户",
    }
)
_KEY_WORDS = frozenset({"id", "no", "code", "key", "number", "num", "sn"})
_TIME_WORDS = frozenset(
    {
        "ts",
        "time",
        "timestamp",
        "datetime",
        "date",
        "at",
        "gps_time",
        "时间",
        "日期",
        "epoch",
        "utc",
    }
)
_LAT_WORDS = frozenset({"lat", "latitude", "wd", "纬度"})
_LON_WORDS = frozenset({"lon", "lng", "long", "longitude", "jd", "经度"})
_PAIR_WORDS = frozenset(
    {
        "gps",
        "location",
        "coord",
        "coordinate",
        "position",
        "loc",
        "坐标",
        "位置",
        "track",
        "轨迹",
    }
)
_PAIR_PATTERN = r"^\s*-?\d{1,3}\.\d+\s*[,; ]\s*-?\d{1,3}\.\d+\s*$"
# WKT points and lines whose first coordinate has enough decimals to be precise.
_WKT_PATTERN = (
    r"(?i)^\s*(SRID=\d+;\s*)?(POINT|LINESTRING|MULTIPOINT|MULTILINESTRING)"
    r"\s*[ZM]*\s*\(+\s*-?\d{1,3}\.\d{4,}"
)
_BIOMETRIC_LENGTHS = frozenset({128, 256, 512})
_MINOR_AGE = 14  # PIPL art. 28 and 31: children under 14


def _last_tokens(column: str) -> tuple[str, ...]:
    return tokenize(column.rsplit(".", 1)[-1])


def _is_subject_key(column: str, labels: set[str]) -> bool:
    if labels & SUBJECT_LABELS:
        return True
    tokens = set(tokenize(column))
    return bool(tokens & _SUBJECT_WORDS) and bool(
        tokens & _KEY_WORDS | {"vin"} & tokens
    )


def _is_time(column: str, profile: ColumnProfile) -> bool:
    if profile.is_temporal:
        return True
    tokens = set(_last_tokens(column))
    if tokens & _TIME_WORDS or any(t.endswith("时间") for t in tokens):
        return True
    return profile.share("date") >= 0.8


def _coordinate_kind(column: str, profile: ColumnProfile) -> str | None:
    tokens = set(_last_tokens(column))
    if tokens & _LAT_WORDS:
        return "lat"
    if tokens & _LON_WORDS:
        return "lon"
    if not len(profile.text):
        return None
    if tokens & _PAIR_WORDS:
        pairs = pc.match_substring_regex(profile.text, _PAIR_PATTERN)
        if pc.mean(pairs.cast("int8")).as_py() >= 0.6:
            return "pair"
    geometries = pc.match_substring_regex(profile.text, _WKT_PATTERN)
    if pc.mean(geometries.cast("int8")).as_py() >= 0.6:
        return "pair"
    return None


def _precise(profile: ColumnProfile, kind: str, decimals: int) -> bool:
    if kind == "pair":
        return True
    if profile.numeric_share < 0.9 or profile.max_number is None:
        return False
    limit = 90 if kind == "lat" else 180
    return profile.max_number <= limit and profile.decimals_median >= decimals


class TableContextClassifier(Classifier):
    """Composite rules over the columns of one table."""

    name = "context"
    stage = 2

    def classify(self, data: ClassificationInput) -> Iterable[Finding]:
        yield from self._tracks(data)
        yield from self._biometrics(data)
        yield from self._accounts(data)
        yield from self._minors(data)

    def _tracks(self, data: ClassificationInput) -> Iterator[Finding]:
        decimals = self.rules.thresholds.coordinate_decimals
        coordinates: dict[str, list[str]] = {"lat": [], "lon": [], "pair": []}
        for column, profile in data.profiles.items():
            kind = _coordinate_kind(column, profile)
            if kind and _precise(profile, kind, decimals):
                coordinates[kind].append(column)
        coordinate_columns = coordinates["pair"]
        if coordinates["lat"] and coordinates["lon"]:
            coordinate_columns += coordinates["lat"] + coordinates["lon"]
        if not coordinate_columns:
            return

        keys = [
            c
            for c in data.profiles
            if c not in coordinate_columns
            and _is_subject_key(c, data.decided.get(c, set()))
        ]
        times = [
            c
            for c, p in data.profiles.items()
            if c not in coordinate_columns and c not in keys and _is_time(c, p)
        ]
        if not keys or not times:
            return

        signals = (
            f"subject key: {', '.join(keys[:3])}",
            f"time: {', '.join(times[:3])}",
            f"precise coordinates: {', '.join(coordinate_columns)}",
        )
        rows = data.sample.table.num_rows
        targets: list[str | None] = [*coordinate_columns, None]
        for target in targets:
            found = data.profiles.get(target) if target else None
            yield Finding(
                column=target,
                label_id="spi.location",
                source="context",
                score=0.85,
                rule_id="spi.location.track",
                examined=found.examined if found else rows,
                non_null=found.non_null if found else rows,
                matches=found.non_null if found else rows,
                signals=signals,
            )

    def _biometrics(self, data: ClassificationInput) -> Iterator[Finding]:
        for column, profile in data.profiles.items():
            if len(profile.vector_lengths) != 1:
                continue
            if profile.vector_lengths[0] not in _BIOMETRIC_LENGTHS:
                continue
            tokens = set(tokenize(column))
            if not tokens & {
                "face",
                "facial",
                "voiceprint",
                "fingerprint",
                "iris",
                "feature",
                "embedding",
                "人脸",
                "声纹",
            }:
                continue
            yield Finding(
                column=column,
                label_id="spi.biometric",
                source="context",
                score=0.85,
                rule_id="spi.biometric.face_vector",
                examined=profile.examined,
                non_null=profile.non_null,
                matches=profile.non_null,
                signals=(
                    f"fixed-length vectors of {profile.vector_lengths[0]} numbers",
                ),
            )

    def _accounts(self, data: ClassificationInput) -> Iterator[Finding]:
        account = self.rules.labels.get("pi.account")
        if account is None:
            return
        personal = sorted(
            column
            for column, labels in data.decided.items()
            if column is not None and labels - {"pi.account"}
        )
        if not personal:
            return
        for column in data.profiles:
            if column in personal or match_hint(column, account) is None:
                continue
            yield Finding(
                column=column,
                label_id="pi.account",
                source="context",
                score=0.4,
                rule_id="pi.account.person_table",
                signals=(f"table holds personal columns: {', '.join(personal[:3])}",),
            )

    def _minors(self, data: ClassificationInput) -> Iterator[Finding]:
        today = dt.date.today()
        for column, labels in data.decided.items():
            if column is None or not labels & {"spi.id_number", "pi.birth_date"}:
                continue
            births = _birth_dates(data.profiles[column])
            if births.size == 0:
                continue
            cutoff = np.datetime64(today.replace(year=today.year - _MINOR_AGE))
            minors = int((births > cutoff).sum())
            if minors < self.rules.thresholds.min_sparse_matches:
                continue
            yield Finding(
                column=None,
                label_id="spi.minor",
                source="context",
                score=0.8,
                rule_id="spi.minor.age_under_14",
                matches=minors,
                examined=len(births),
                non_null=len(births),
                signals=(f"{minors} of {len(births)} people in {column} are under 14",),
            )


def _birth_dates(profile: ColumnProfile) -> np.ndarray:
    """Birth dates from ID numbers (characters 7-14) or date columns."""
    text = profile.text
    if len(text) == 0:
        return np.array([], dtype="datetime64[D]")
    ids = pc.extract_regex(
        text, r"^\d{6}(?P<y>(?:19|20)\d{2})(?P<m>\d{2})(?P<d>\d{2})\d{3}[\dXx]$"
    )
    if ids.null_count < len(ids):
        parts = ids.drop_null()
        joined = pc.binary_join_element_wise(
            pc.struct_field(parts, [0]),
            pc.struct_field(parts, [1]),
            pc.struct_field(parts, [2]),
            "-",
        )
    else:
        joined = pc.utf8_slice_codeunits(text, 0, 10)
    dates = pc.strptime(joined, format="%Y-%m-%d", unit="s", error_is_null=True)
    return (
        dates.drop_null()
        .cast(pa.date32())
        .to_numpy(zero_copy_only=False)
        .astype("datetime64[D]")
    )
