"""Measure cardex's labels on third-party data written outside the project.

Runs the scan engine (no catalog) over the test material in the datasets
folder and prints precision and recall per label id and overall, per source:

1. ``datahub-classify/``: DataHub's own tables, scored against its
   ``expected_infotypes_IDEAL.json`` through ``DATAHUB_TO_CARDEX``, printed
   beside the precision and recall that datahub-classify published.
2. ``cn-id-number-vectors/``: the ``resident_id`` validator against the
   recomputed checksum and birth-date verdicts, and the scan of the file.
3. ``renault-api/``: connected-car API responses, scored against
   ``RENAULT_TRUTH``.
4. ``trackintel/``: GPS tracks, scored against ``TRACKINTEL_TRUTH``.
5. ``piicatcher/`` and ``presidio/``: two small person tables.
6. ``neural-chinese-address-parsing/``: real Chinese addresses joined into
   one column, checked with the ``cn_address`` value shape and scanned.
7. ``opendbc/``: CAN database files, which are not tables; the script
   reports how cardex reads them and scores nothing.

Only labels of the ``personal`` and ``sensitive_personal`` categories are
scored. Truth tables list what the data contains, judged from the data itself;
a column a truth table does not list counts neither way. No sampled value is
printed: misses and false alarms are named by file and column only.

Run from the repository root:

    .venv/bin/python bench/external_accuracy.py [--datasets PATH] [--json PATH]

The folder defaults to ``$CARDEX_DATASETS``, else ``../shared/datasets``
next to the repository. When the folder is missing, the script prints
"skipped" with the path and exits 0.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import scanner  # noqa: E402
from classifiers.shapes import cn_address, cn_person_name  # noqa: E402
from classifiers.validators import VALIDATORS  # noqa: E402
from scanner.engine import Scanner, ScanOptions  # noqa: E402
from scanner.evaluation import LabelScore, format_scores, score  # noqa: E402
from scanner.model import DatasetResult  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATASETS_ENV = "CARDEX_DATASETS"
SCORED_CATEGORIES = frozenset({"personal", "sensitive_personal"})

Key = tuple[str, str | None]
Labels = frozenset[str]

NONE: Labels = frozenset()
NAME = frozenset({"pi.name"})
PHONE = frozenset({"pi.phone"})
EMAIL = frozenset({"pi.email"})
ADDRESS = frozenset({"pi.address"})
BIRTH_DATE = frozenset({"pi.birth_date"})
GENDER = frozenset({"pi.gender"})
VIN = frozenset({"pi.vin"})
PLATE = frozenset({"pi.licence_plate"})
ACCOUNT = frozenset({"pi.account"})
ID_NUMBER = frozenset({"spi.id_number"})
BANK_CARD = frozenset({"spi.bank_card"})
LOCATION = frozenset({"spi.location"})
CREDENTIAL = frozenset({"spi.credential"})


# ---------------------------------------------------------------------------
# 1. datahub-classify: DataHub info types mapped to label ids
# ---------------------------------------------------------------------------

#: DataHub info type -> cardex label id. ``None`` means cardex has no id for
#: the type, so its columns are left out of the score.
DATAHUB_TO_CARDEX: dict[str, str | None] = {
    "Email_Address": "pi.email",
    "Phone_Number": "pi.phone",
    "Full_Name": "pi.name",
    "Gender": "pi.gender",
    "Street_Address": "pi.address",
    "IP_Address_v4": "pi.ip_address",
    "IP_Address_v6": "pi.ip_address",
    "Credit_Debit_Card_Number": "spi.bank_card",
    # An IBAN is a bank account number: a financial account, which the rule
    # pack files under spi.bank_card ("bank card or payment account").
    "IBAN": "spi.bank_card",
    # A social security number and a driving licence number are identity
    # document numbers (GB/T 35273 Annex B).
    "US_Social_Security_Number": "spi.id_number",
    "US_Driving_License_Number": "spi.id_number",
    "Vehicle_Identification_Number": "pi.vin",
    # An age is not a date of birth, and the rule pack has no label for it.
    "Age": None,
    # A SWIFT/BIC code names a bank or a branch, not a person.
    "Swift_Code": None,
}

#: Tables whose every column is a true negative, with the reason.
DATAHUB_NEGATIVE_TABLES: dict[str, str] = {
    "catalog": "a catalogue of landslide events: places, dates, casualty counts "
    "and news sources, no person (IDEAL lists no column of it)",
}

#: Corrections to IDEAL, judged from the values: the labels a column has
#: instead of IDEAL's mapped info type.
DATAHUB_CORRECTIONS: dict[Key, Labels] = {
    # 145 of the 513 non-empty names are e-mail addresses, and a column with
    # sparse e-mail addresses still contains them.
    ("Persons", "Name"): NAME | EMAIL,
    # The sex of crabs in a fishery data set (F, M, I): no person.
    ("CrabAgePrediction", "Sex"): NONE,
    # Rows of degree counts per state for Male, Female and Total: statistics
    # about groups, no person.
    ("Bachelor_Degree_Majors", "Sex"): NONE,
}

DATAHUB_FOLDERS = ("datasets", "datasets_removed_later")


# ---------------------------------------------------------------------------
# 3. renault-api: truth for the connected-car API responses
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TruthEntry:
    """The truth for the files matching ``pattern`` (a glob on the key).

    ``columns`` maps a column path, as cardex flattens it, to its label ids.
    A pattern entry lists the union of its files' fields, so a listed column
    that a file lacks is skipped for that file. ``dataset`` is the set of
    dataset-level labels, or ``None`` to leave them unscored.
    """

    pattern: str
    columns: Mapping[str, Labels]
    dataset: Labels | None = NONE
    exclude: tuple[str, ...] = ()


# Fixture values are often placeholders ("firstName", "phoneValue") or
# redacted ("*PRIVATE*", "xxxx"): the truth follows what the field contains in a
# real response, because de-identified data is still personal information.
# An identifier whose only referent is one person (person id, account id,
# user id at the identity provider) is pi.account.
RENAULT_TRUTH: tuple[TruthEntry, ...] = (
    TruthEntry(
        "kamereon/person.json",
        {
            "personId": ACCOUNT,
            "partyId": ACCOUNT,  # the same person in the dealer system
            "mdmId": ACCOUNT,  # the same person in the master-data system
            "firstName": NAME,
            "lastName": NAME,
            "idp.idpId": ACCOUNT,  # the person's id at the identity provider
            "idp.login": EMAIL,  # the login is the e-mail address
            "idp.idpType": NONE,  # the provider's name
            "idp.lastLoginDate": NONE,
            "emails[].emailValue": EMAIL,
            "emails[].emailType": NONE,  # MAIN or OTHER
            "emails[].createdDate": NONE,  # when the record was made
            "emails[].lastModifiedDate": NONE,
            "phones[].phoneValue": PHONE,
            "phones[].phoneType": NONE,  # MOBILE or LANDLINE
            "phones[].createdDate": NONE,
            "phones[].lastModifiedDate": NONE,
            "accounts[].accountId": ACCOUNT,
            "accounts[].externalId": ACCOUNT,
            "accounts[].personId": ACCOUNT,
            "accounts[].accountType": NONE,  # an enumeration
            "accounts[].accountStatus": NONE,
            "accounts[].relationType": NONE,  # OWNER
            "locale": NONE,
        },
    ),
    TruthEntry(
        "kamereon/person/notifications.1.json",
        {
            "vin": VIN,  # redacted as *PRIVATE*
            "personId": ACCOUNT,
            "kmrUserId": ACCOUNT,
            "notificationId": NONE,  # a message id
            "notifDate": NONE,
            "actionType": NONE,
        },
    ),
    TruthEntry(
        "gigya/get_account_info.json",
        {
            "UID": ACCOUNT,  # the user id at the identity provider
            "data.personId": ACCOUNT,
            "profile.email": EMAIL,
            "emails.verified[]": EMAIL,
            "callId": NONE,  # the id of the API call
            "statusReason": NONE,
            "loginProvider": NONE,
        },
    ),
    TruthEntry(
        "gigya/login.json",
        {
            "UID": ACCOUNT,
            "profile.email": EMAIL,
            "callId": NONE,
            "sessionInfo.cookieName": NONE,  # the name of the cookie, a constant
            "sessionInfo.cookieValue": CREDENTIAL,  # a live session cookie
        },
    ),
    TruthEntry(
        "gigya/get_jwt.json",
        {
            "id_token": CREDENTIAL,  # a signed bearer token for the session
            "callId": NONE,
        },
    ),
    TruthEntry(
        "gigya/error/get_jwt.*.json",
        {"callId": NONE},  # 32 hex digits naming a request, not a password hash
    ),
    TruthEntry(
        "kamereon/vehicle_details/*.json",
        {
            "vin": VIN,
            "registrationNumber": PLATE,  # the registration number is the plate
            "registrationDate": NONE,
            "firstRegistrationDate": NONE,
            "registrationCountry.code": NONE,
            "engineType": NONE,
        },
    ),
    TruthEntry(
        "kamereon/vehicle_gateway/*.json",
        {
            # The id of a Car resource is its VIN, as the vehicle_data
            # responses show in clear. Here it is redacted and only the
            # resource type shows what it is, so this case is hard on purpose.
            "data.id": VIN,
            "data.attributes.vin": VIN,  # redacted as *PRIVATE*
            "data.attributes.registrationNumber": PLATE,  # redacted
            "data.attributes.versionName": NONE,  # a trim name, null here
            "data.attributes.modelName": NONE,
            "data.attributes.dealerId": NONE,
            "data.attributes.firstRegistrationDate": NONE,
            "data.attributes.deliveryDate": NONE,
        },
    ),
    TruthEntry(
        "kamereon/vehicles/*.json",
        {
            "accountId": ACCOUNT,
            # One file contains a malformed 16-character VIN.
            "vehicleLinks[].vin": VIN,
            "vehicleLinks[].vehicleDetails.vin": VIN,
            "vehicleLinks[].vehicleDetails.registrationNumber": PLATE,
            "vehicleLinks[].vehicleDetails.registrationDate": NONE,
            "vehicleLinks[].preferredDealer.dealerName": NONE,  # a company
            "vehicleLinks[].mileage": NONE,  # telemetry
            "vehicleLinks[].annualMileage": NONE,
            "vehicleLinks[].connectedDriver.role": NONE,
        },
    ),
    TruthEntry(
        "kamereon/vehicle_data/location*.json",
        {
            "data.id": VIN,
            # The response ties the coordinates to one vehicle (its VIN) and
            # a time (lastUpdateTime): that is the vehicle's whereabouts, a
            # track of one point, so both coordinates are spi.location.
            "data.attributes.gpsLatitude": LOCATION,
            "data.attributes.gpsLongitude": LOCATION,
            "data.attributes.lastUpdateTime": NONE,
        },
        dataset=LOCATION,
    ),
    TruthEntry(
        "kamereon/vehicle_data/*.json",
        {
            "data.id": VIN,  # the Car resource id is the VIN
            "data.attributes.totalMileage": NONE,  # telemetry
            "data.attributes.flPressure": NONE,  # tyre pressure, telemetry
            "data.attributes.frPressure": NONE,
            "data.attributes.rlPressure": NONE,
            "data.attributes.rrPressure": NONE,
            "data.attributes.batteryLevel": NONE,
            "data.attributes.batteryAutonomy": NONE,
            "data.attributes.doorStatusDriver": NONE,  # the driver's door lock
        },
        # no_data.json is a ChargeMode resource whose id is a 7-character
        # stub. The location files match the entry above first.
        exclude=("kamereon/vehicle_data/no_data.json",),
    ),
    TruthEntry(
        "kamereon/vehicle_info/alerts.json",
        {
            "vin": VIN,  # masked as a run of x
            "registrationNumber": PLATE,  # masked as a run of x
            "partyId": ACCOUNT,  # the customer, masked
            "partyPhone": NONE,  # 0/1: whether the customer may be phoned
            "notifMail": NONE,  # 0/1 flag
            "notifSMS": NONE,  # 0/1 flag
            "operationName": NONE,  # a maintenance operation, null here
            "criticityName": NONE,  # "Major alert"
            "mileage": NONE,  # telemetry
            "dealerNumber": NONE,
        },
    ),
)


# ---------------------------------------------------------------------------
# 4. trackintel: GPS tracks
# ---------------------------------------------------------------------------

#: Files with a user, a time and coordinates. A person's key, a time and
#: coordinates together form a track, so the dataset and its coordinate
#: columns are spi.location.
_TRACK_FILES: dict[str, tuple[str, ...]] = {
    "examples/data/geolife_trajectory.csv": ("latitude", "longitude"),
    "examples/data/google_trajectory.csv": ("latitude", "longitude"),
    "examples/data/gpsies_trajectory.csv": ("latitude", "longitude"),
    "examples/data/posmo_trajectory.csv": ("latitude", "longitude"),
    "examples/data/pfs.csv": ("latitude", "longitude"),
    "tests/data/positionfixes.csv": ("latitude", "longitude"),
    "tests/data/positionfixes_mod_columns.csv": ("lat", "lon"),
    "tests/data/sim1.csv": ("latitude", "longitude"),
    "tests/data/sim2.csv": ("latitude", "longitude"),
    # Staypoints, triplegs and trips hold their coordinates as WKT text
    # (POINT, LINESTRING, MULTIPOINT) beside the user and the times.
    "tests/data/geolife/geolife_staypoints.csv": ("geom",),
    "tests/data/geolife/geolife_staypoints_short.csv": ("geom",),
    "tests/data/staypoints.csv": ("geom",),
    "tests/data/staypoints_mod_columns.csv": ("geom",),
    "tests/data/triplegs.csv": ("geom",),
    "tests/data/triplegs_mod_columns.csv": ("tripleg",),
    "tests/data/triplegs_transport_mode_identification.csv": ("geom",),
    "tests/data/triplegs_with_too_many_points_test.csv": ("geom",),
    "tests/data/geolife_long/trips.csv": ("geom",),
    "tests/data/trips_mod_columns.csv": ("geom",),
    # GeoJSON features: the user and the time are properties, the
    # coordinates the geometry.
    "tests/data/positionfixes.geojson": ("features[].geometry.coordinates",),
    "tests/data/staypoints.geojson": ("features[].geometry.coordinates",),
    "tests/data/triplegs.geojson": ("features[].geometry.coordinates[]",),
    # A user's significant places (clusters of their staypoints: home,
    # work) reveal whereabouts without a time. This is stricter than the
    # composite rule, which requires a time as well.
    "tests/data/locations.csv": ("center", "extent"),
    "tests/data/locations_mod_columns.csv": ("geom", "extent"),
    "tests/data/locations.geojson": ("features[].geometry.coordinates",),
}

# Tables without coordinates (trips, tours, sp_tpls and the *_gaps files)
# are left out: they reach places only through staypoint ids.
TRACKINTEL_TRUTH: tuple[TruthEntry, ...] = (
    *(
        TruthEntry(path, dict.fromkeys(columns, LOCATION), dataset=LOCATION)
        for path, columns in _TRACK_FILES.items()
    ),
    # GPX files are recorded tracks (time and position per point) of one
    # device. cardex does not read GPX, so only the dataset is listed.
    TruthEntry("tests/data/gpx_data/*.gpx", {}, dataset=LOCATION),
    # The outline of a university campus: a polygon, no person.
    TruthEntry(
        "tests/data/area/tsinghua.geojson",
        {"features[].geometry.coordinates[][]": NONE},
    ),
)


# ---------------------------------------------------------------------------
# 5. piicatcher and presidio: two small person tables
# ---------------------------------------------------------------------------

# In a table about people, the city, state and zip columns are parts of each
# person's postal address, so they count as pi.address like the street.
PIICATCHER_TRUTH: tuple[TruthEntry, ...] = (
    TruthEntry(
        "sample-data.csv",
        {
            "id": ID_NUMBER,  # US social security numbers despite the name
            "gender": GENDER,
            "birthdate": BIRTH_DATE,
            "maiden_name": NAME,
            "lname": NAME,
            "fname": NAME,
            "address": ADDRESS,
            "city": ADDRESS,
            "state": ADDRESS,
            "zip": ADDRESS,
            "phone": PHONE,
            "email": EMAIL,
            "cc_type": NONE,  # a one-letter card brand
            "cc_number": BANK_CARD,
            # cc_cvc and cc_expiredate are card data that cardex has no
            # label for, so they are not listed.
        },
    ),
)

PRESIDIO_TRUTH: tuple[TruthEntry, ...] = (
    TruthEntry(
        "test_structured.csv",
        {
            "id": NONE,  # a row number
            "name": NAME,
            "email": EMAIL,
            "street": ADDRESS,
            "city": ADDRESS,
            "state": ADDRESS,
            "non_pii": NONE,
        },
    ),
)

#: Chunk tags of the address corpus that carry a house, road or room number.
_NUMBERED_CHUNKS = frozenset(
    {"roadno", "subroadno", "houseno", "cellno", "floorno", "roomno"}
)


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------


@dataclass
class SourceReport:
    """Figures measured on one source: label scores, other figures and notes."""

    name: str
    per_label: dict[str, LabelScore] = field(default_factory=dict)
    total: LabelScore | None = None
    figures: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    datasets: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "datasets": self.datasets,
            "failed": self.failures,
            "seconds": round(self.seconds, 2),
            "figures": self.figures,
            "notes": self.notes,
        }
        if self.total is not None:
            data["labels"] = {
                label: score_dict(entry)
                for label, entry in sorted(self.per_label.items())
            }
            data["micro"] = score_dict(self.total)
            data["misses"] = self.total.misses
            data["false_alarms"] = self.total.false_alarms
        return data


def score_dict(entry: LabelScore) -> dict[str, Any]:
    return {
        "tp": entry.true_positive,
        "fp": entry.false_positive,
        "fn": entry.false_negative,
        "precision": round(entry.precision, 4),
        "recall": round(entry.recall, 4),
        "f1": round(entry.f1, 4),
    }


# ---------------------------------------------------------------------------
# Scanning and truth helpers
# ---------------------------------------------------------------------------


def default_datasets_path() -> Path:
    """Return ``$CARDEX_DATASETS``, else ``../shared/datasets`` beside the repo."""
    configured = os.environ.get(DATASETS_ENV)
    if configured:
        return Path(configured)
    return ROOT.parent / "shared" / "datasets"


def scan(sources: Sequence[Path]) -> list[DatasetResult]:
    """Scan ``sources`` with the default rule pack and no catalog."""
    options = ScanOptions(
        sources=[str(source) for source in sources],
        use_catalog=False,
        on_error="skip",
    )
    return Scanner(options).run().results


def relative_key(base: Path) -> Callable[[DatasetResult], str]:
    """Return a function naming a file result by its path under ``base``."""
    prefixes = {str(base.resolve()) + os.sep, str(base.absolute()) + os.sep}

    def key_of(result: DatasetResult) -> str:
        for prefix in prefixes:
            if result.uri.startswith(prefix):
                return result.uri.removeprefix(prefix)
        return result.uri

    return key_of


def scored_ids(labels: Iterable[Any]) -> set[str]:
    return {label.id for label in labels if label.category in SCORED_CATEGORIES}


def predicted_labels(
    results: Iterable[DatasetResult], key_of: Callable[[DatasetResult], str]
) -> dict[Key, set[str]]:
    """Map (dataset, column) and (dataset, None) to the scored label ids found."""
    found: dict[Key, set[str]] = {}
    for result in results:
        key = key_of(result)
        found[(key, None)] = scored_ids(result.labels)
        for column in result.columns:
            found[(key, column.name)] = scored_ids(column.labels)
    return found


def failures(
    results: Iterable[DatasetResult], key_of: Callable[[DatasetResult], str]
) -> list[str]:
    return [
        f"{key_of(result)}: {error.reason}"
        for result in results
        for error in result.errors
    ]


def expand_truth(
    entries: Sequence[TruthEntry],
    results: Sequence[DatasetResult],
    key_of: Callable[[DatasetResult], str],
) -> tuple[dict[Key, set[str]], list[str]]:
    """Expand truth entries over the scanned files.

    The first entry whose pattern matches a file wins. Returns the truth and
    the listed columns that the scan did not report, as ``file:column``.
    """
    truth: dict[Key, set[str]] = {}
    absent: list[str] = []
    for result in results:
        key = key_of(result)
        entry = next((e for e in entries if _matches(e, key)), None)
        if entry is None:
            continue
        if entry.dataset is not None:
            truth[(key, None)] = set(entry.dataset)
        present = {column.name for column in result.columns}
        for column, labels in entry.columns.items():
            if column in present:
                truth[(key, column)] = set(labels)
            elif result.errors or "*" not in entry.pattern:
                # A file that could not be read, or a file named exactly,
                # still owes its listed columns.
                truth[(key, column)] = set(labels)
                absent.append(f"{key}:{column}")
    return truth, absent


def _matches(entry: TruthEntry, key: str) -> bool:
    if not fnmatchcase(key, entry.pattern):
        return False
    return not any(fnmatchcase(key, pattern) for pattern in entry.exclude)


def scored_report(name: str, base: Path, entries: Sequence[TruthEntry]) -> SourceReport:
    """Scan the folder ``base`` and score what it contains against ``entries``."""
    started = time.perf_counter()
    results = scan([base])
    key_of = relative_key(base)
    truth, absent = expand_truth(entries, results, key_of)
    per_label, total = score(truth, predicted_labels(results, key_of))

    report = SourceReport(name, per_label, total, datasets=len(results))
    report.failures = failures(results, key_of)
    report.figures["listed_keys"] = len(truth)
    if absent:
        report.notes.append(
            f"{len(absent)} listed columns were not reported by the scan: "
            + ", ".join(absent[:10])
        )
    report.seconds = time.perf_counter() - started
    return report


# ---------------------------------------------------------------------------
# 1. datahub-classify
# ---------------------------------------------------------------------------


def evaluate_datahub(root: Path) -> SourceReport:
    """Score DataHub's tables against its IDEAL info types, mapped to ids."""
    started = time.perf_counter()
    base = root / "datahub-classify"
    ideal = json.loads(
        (base / "expected_output" / "expected_infotypes_IDEAL.json").read_text("utf-8")
    )
    results = scan(
        [base / folder for folder in DATAHUB_FOLDERS if (base / folder).is_dir()]
    )
    key_of = _table_name
    predicted = predicted_labels(results, key_of)
    tables = {key_of(result): result for result in results}

    truth, skipped = datahub_truth(ideal, tables)
    per_label, total = score(truth, predicted)
    report = SourceReport("datahub-classify", per_label, total, datasets=len(results))
    report.failures = failures(results, key_of)
    report.figures = datahub_figures(base, ideal, tables, truth, predicted)
    report.figures["skipped_info_types"] = dict(skipped)
    report.notes.extend(
        f"{table}: every column is a known negative, {reason}"
        for table, reason in DATAHUB_NEGATIVE_TABLES.items()
        if table in tables
    )
    absent = [
        f"{table}:{column}"
        for table, column in truth
        if column is not None and tables[table].column(column) is None
    ]
    if absent:
        report.notes.append(f"IDEAL columns not reported by the scan: {absent}")
    report.seconds = time.perf_counter() - started
    return report


def datahub_figures(
    base: Path,
    ideal: Mapping[str, Mapping[str, str]],
    tables: Mapping[str, DatasetResult],
    truth: Mapping[Key, set[str]],
    predicted: Mapping[Key, set[str]],
) -> dict[str, Any]:
    """Collect the other readings of IDEAL and datahub-classify's own figures."""
    uncorrected = score(datahub_truth(ideal, tables, corrected=False)[0], predicted)
    mapped = {label for label in DATAHUB_TO_CARDEX.values() if label}
    strict_truth = datahub_strict_truth(truth, set(ideal), tables)
    strict_labels, strict_total = score(strict_truth, predicted, label_filter=mapped)
    columns = [labels for key, labels in truth.items() if key[1] is not None]
    return {
        "positive_columns": sum(1 for labels in columns if labels),
        "negative_columns": sum(1 for labels in columns if not labels),
        "ideal_tables_present": sorted(set(ideal) & set(tables)),
        "ideal_tables_absent": len(set(ideal) - set(tables)),
        "corrections": [f"{table}:{column}" for table, column in DATAHUB_CORRECTIONS],
        "uncorrected_micro": score_dict(uncorrected[1]),
        "all_columns_reading": {
            "micro": score_dict(strict_total),
            "labels": {k: score_dict(v) for k, v in sorted(strict_labels.items())},
            "false_alarms": strict_total.false_alarms,
        },
        "published": published_datahub_figures(base / "expected_output"),
        "ours_by_info_type": recall_by_info_type(ideal, tables, predicted),
    }


def _table_name(result: DatasetResult) -> str:
    return Path(result.uri).stem


def datahub_truth(
    ideal: Mapping[str, Mapping[str, str]],
    tables: Mapping[str, DatasetResult],
    corrected: bool = True,
) -> tuple[dict[Key, set[str]], Counter[str]]:
    """Return the truth for the tables present, and the info types skipped.

    With ``corrected``, the known-negative tables and the corrections are
    applied. Without it, the truth is IDEAL mapped to label ids and no more.
    """
    truth: dict[Key, set[str]] = {}
    skipped: Counter[str] = Counter()
    for table, columns in ideal.items():
        if table not in tables:
            continue
        for column, info_type in columns.items():
            label = DATAHUB_TO_CARDEX.get(info_type)
            if label is None:
                skipped[info_type] += 1
                continue
            truth[(table, column)] = {label}

    if not corrected:
        return truth, skipped
    for table in DATAHUB_NEGATIVE_TABLES:
        if table in tables:
            truth[(table, None)] = set()
            for result in tables[table].columns:
                truth.setdefault((table, result.name), set())
    for key, labels in DATAHUB_CORRECTIONS.items():
        if key in truth:
            truth[key] = set(labels)
    return truth, skipped


def datahub_strict_truth(
    truth: Mapping[Key, set[str]],
    ideal_tables: Iterable[str],
    tables: Mapping[str, DatasetResult],
) -> dict[Key, set[str]]:
    """Read IDEAL as DataHub's own test does: an unlisted column is negative.

    Every column of every IDEAL table in the folder takes part, including
    the tables IDEAL lists with no column (Airbnb_Open_Data, Aliases).
    """
    strict = {key: set(labels) for key, labels in truth.items() if key[1] is not None}
    for table in set(ideal_tables) & set(tables):
        for column in tables[table].columns:
            strict.setdefault((table, column.name), set())
    return strict


def published_datahub_figures(folder: Path) -> dict[str, dict[str, float | int]]:
    """Read datahub-classify's published precision, recall and support.

    Support is the row sum of its confusion matrix: how many columns of its
    test tables had that info type.
    """
    figures: dict[str, dict[str, float | int]] = {}
    statistics = folder / "Prediction_statistics_0.6.csv"
    if not statistics.is_file():
        return figures
    with statistics.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            figures[row["Infotype"]] = {
                "precision": float(row["Precision"]),
                "recall": float(row["Recall"]),
            }
    matrix = folder / "confusion_matrix_0.6.csv"
    if matrix.is_file():
        with matrix.open(encoding="utf-8", newline="") as handle:
            for cells in csv.reader(handle):
                actual = cells[0].removesuffix("_actual")
                if actual in figures:
                    figures[actual]["support"] = sum(int(cell) for cell in cells[1:])
    return figures


def recall_by_info_type(
    ideal: Mapping[str, Mapping[str, str]],
    tables: Mapping[str, DatasetResult],
    predicted: Mapping[Key, set[str]],
) -> dict[str, dict[str, Any]]:
    """Count, per DataHub info type, its columns here and those given its id."""
    counts: dict[str, dict[str, Any]] = {}
    for table, columns in ideal.items():
        if table not in tables:
            continue
        for column, info_type in columns.items():
            label = DATAHUB_TO_CARDEX.get(info_type)
            entry = counts.setdefault(
                info_type, {"label": label, "columns": 0, "found": 0}
            )
            entry["columns"] += 1
            if label and label in predicted.get((table, column), set()):
                entry["found"] += 1
    return counts


# ---------------------------------------------------------------------------
# 2. cn-id-number-vectors
# ---------------------------------------------------------------------------


def expected_resident_id(row: Mapping[str, str]) -> bool:
    """Decide whether a vector row is a valid resident ID from its recomputed columns.

    An 18-character ID needs a good check character and birth date. The
    15-character legacy form has no check character, only a birth date.
    Other lengths are invalid.
    """
    checksum = _column_starting(row, "checksum_ok")
    birth_date = _column_starting(row, "birthdate_ok")
    length = len(row["value"].strip())
    if length == 18:
        return checksum == "True" and birth_date == "True"
    if length == 15:
        return birth_date == "True"
    return False


def _column_starting(row: Mapping[str, str], prefix: str) -> str:
    return next(value for name, value in row.items() if name.startswith(prefix))


def evaluate_cn_ids(root: Path) -> SourceReport:
    """Check the resident_id validator on the vectors, then scan the file."""
    base = root / "cn-id-number-vectors"
    path = base / "cn_id_vectors.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    entries = (
        TruthEntry(
            path.name,
            {name: ID_NUMBER if name == "value" else NONE for name in rows[0]},
        ),
    )
    report = scored_report("cn-id-number-vectors", base, entries)
    report.figures.update(resident_id_agreement(rows))
    return report


def resident_id_agreement(rows: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    """Compare the validator's verdicts with the recomputed columns."""
    values = pa.array([row["value"] for row in rows], type=pa.string())
    verdicts = [bool(v) for v in VALIDATORS["resident_id"](values)]
    expected = [expected_resident_id(row) for row in rows]
    agree = sum(v == e for v, e in zip(verdicts, expected, strict=True))

    def rejected(prefix: str) -> tuple[int, int]:
        failed = [
            v
            for row, v in zip(rows, verdicts, strict=True)
            if _column_starting(row, prefix) == "False"
        ]
        return sum(not v for v in failed), len(failed)

    checksum_rejected, checksum_false = rejected("checksum_ok")
    date_rejected, date_false = rejected("birthdate_ok")
    disagreements = [
        f"line {number}: validator returns {'valid' if v else 'invalid'}, "
        f"expected {'valid' if e else 'invalid'} ({row['source_claim']})"
        for number, (row, v, e) in enumerate(
            zip(rows, verdicts, expected, strict=True), 2
        )
        if v != e
    ]
    return {
        "vectors": len(rows),
        "agreement": round(agree / len(rows), 4),
        "checksum_false_rejected": f"{checksum_rejected} of {checksum_false}",
        "birthdate_false_rejected": f"{date_rejected} of {date_false}",
        "disagreements": disagreements,
    }


# ---------------------------------------------------------------------------
# 3-5. renault-api, trackintel, piicatcher, presidio
# ---------------------------------------------------------------------------


def evaluate_renault(root: Path) -> SourceReport:
    base = root / "renault-api" / "fixtures"
    return scored_report("renault-api", base, RENAULT_TRUTH)


def evaluate_trackintel(root: Path) -> SourceReport:
    base = root / "trackintel"
    return scored_report("trackintel", base, TRACKINTEL_TRUTH)


def evaluate_piicatcher(root: Path) -> SourceReport:
    base = root / "piicatcher"
    return scored_report("piicatcher", base, PIICATCHER_TRUTH)


def evaluate_presidio(root: Path) -> SourceReport:
    base = root / "presidio"
    return scored_report("presidio", base, PRESIDIO_TRUTH)


# ---------------------------------------------------------------------------
# 6. neural-chinese-address-parsing
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Address:
    """One address of the corpus: its text and its tagged chunks."""

    text: str
    chunks: tuple[tuple[str, str], ...]  # (tag, text)


def read_addresses(path: Path) -> list[Address]:
    """Read one character and its BIO tag per line, one address per paragraph."""
    addresses: list[Address] = []
    characters: list[str] = []
    tags: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if characters:
                addresses.append(_address(characters, tags))
            characters, tags = [], []
            continue
        character, _, tag = line.rpartition(" ")
        characters.append(character or " ")
        tags.append(tag)
    if characters:
        addresses.append(_address(characters, tags))
    return addresses


def _address(characters: list[str], tags: list[str]) -> Address:
    chunks: list[tuple[str, str]] = []
    for character, tag in zip(characters, tags, strict=True):
        prefix, _, name = tag.partition("-")
        if prefix == "I" and chunks and chunks[-1][0] == name:
            chunks[-1] = (name, chunks[-1][1] + character)
        elif name:
            chunks.append((name, character))
    return Address("".join(characters), tuple(chunks))


def evaluate_addresses(root: Path) -> SourceReport:
    """Check the cn_address shape on every address, then scan them as a CSV."""
    base = root / "neural-chinese-address-parsing"
    addresses = [
        address
        for name in ("train.txt", "dev.txt")
        if (base / name).is_file()
        for address in read_addresses(base / name)
    ]
    with tempfile.TemporaryDirectory(prefix="cardex-addresses-") as folder:
        table = Path(folder) / "addresses.csv"
        with table.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["address"])
            writer.writerows([address.text] for address in addresses)
        entries = (TruthEntry("addresses.csv", {"address": ADDRESS}),)
        report = scored_report("neural-chinese-address-parsing", Path(folder), entries)

    report.figures.update(address_shape_figures(addresses))
    report.notes.append(
        "person chunks name 'a company or company representative' in the "
        "corpus guideline, so most are organisations, not people"
    )
    return report


def address_shape_figures(addresses: Sequence[Address]) -> dict[str, Any]:
    """Measure the share of addresses (and person chunks) the value shapes accept."""
    matched = cn_address(pa.array([a.text for a in addresses], type=pa.string()))
    numbered = [any(tag in _NUMBERED_CHUNKS for tag, _ in a.chunks) for a in addresses]
    with_number = [m for m, n in zip(matched, numbered, strict=True) if n]
    without_number = [m for m, n in zip(matched, numbered, strict=True) if not n]

    people = [text for a in addresses for tag, text in a.chunks if tag == "person"]
    people_matched = cn_person_name(pa.array(people, type=pa.string()))
    return {
        "addresses": len(addresses),
        "cn_address_share": _share(sum(matched), len(addresses)),
        "with_number_chunk": len(with_number),
        "cn_address_share_with_number_chunk": _share(
            sum(with_number), len(with_number)
        ),
        "without_number_chunk": len(without_number),
        "cn_address_share_without_number_chunk": _share(
            sum(without_number), len(without_number)
        ),
        "person_chunks": len(people),
        "person_chunks_cn_person_name_share": _share(sum(people_matched), len(people)),
    }


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


# ---------------------------------------------------------------------------
# 7. opendbc
# ---------------------------------------------------------------------------


def evaluate_opendbc(root: Path) -> SourceReport:
    """Report how cardex reads DBC files, without scoring them."""
    started = time.perf_counter()
    base = root / "opendbc"
    results = scan([base])
    key_of = relative_key(base)
    report = SourceReport("opendbc", datasets=len(results))
    report.failures = failures(results, key_of)
    for result in results:
        if result.errors:
            continue
        labelled = sum(bool(column.labels) for column in result.columns)
        report.notes.append(
            f"{key_of(result)}: read as {result.format or 'a table'} with "
            f"{len(result.columns)} column(s), {labelled} labelled"
        )
    report.seconds = time.perf_counter() - started
    return report


# ---------------------------------------------------------------------------
# Running and printing
# ---------------------------------------------------------------------------

EVALUATIONS: dict[str, Callable[[Path], SourceReport]] = {
    "datahub-classify": evaluate_datahub,
    "cn-id-number-vectors": evaluate_cn_ids,
    "renault-api": evaluate_renault,
    "trackintel": evaluate_trackintel,
    "piicatcher": evaluate_piicatcher,
    "presidio": evaluate_presidio,
    "neural-chinese-address-parsing": evaluate_addresses,
    "opendbc": evaluate_opendbc,
}


def evaluate_all(root: Path) -> list[SourceReport]:
    """Run every evaluation whose folder exists under ``root``."""
    reports = []
    for folder, evaluate in EVALUATIONS.items():
        if (root / folder).is_dir():
            reports.append(evaluate(root))
    return reports


def overall(reports: Iterable[SourceReport]) -> LabelScore:
    """Micro-average over every scored source."""
    total = LabelScore()
    for report in reports:
        if report.total is None:
            continue
        total.true_positive += report.total.true_positive
        total.false_positive += report.total.false_positive
        total.false_negative += report.total.false_negative
    return total


def print_report(report: SourceReport) -> None:
    print(f"\n## {report.name}: {report.datasets} datasets in {report.seconds:.1f} s")
    if report.total is not None:
        print(format_scores(report.per_label, report.total))
        _print_list("misses", report.total.misses)
        _print_list("false alarms", report.total.false_alarms)
    if report.name == "datahub-classify":
        print_datahub_figures(report.figures)
    else:
        for name, value in report.figures.items():
            if isinstance(value, list):
                _print_list(name, value)
            else:
                print(f"{name}: {value}")
    _print_list("unreadable", report.failures)
    for note in report.notes:
        print(f"note: {note}")


def _print_list(title: str, items: Sequence[str]) -> None:
    if items:
        print(f"{title} ({len(items)}):")
        for item in items:
            print(f"  {item}")


def print_datahub_figures(figures: Mapping[str, Any]) -> None:
    skipped = ", ".join(f"{k} ({v})" for k, v in figures["skipped_info_types"].items())
    print(
        f"IDEAL columns scored: {figures['positive_columns']}, plus "
        f"{figures['negative_columns']} known negatives; skipped types: {skipped}"
    )
    print(f"IDEAL tables not in this folder: {figures['ideal_tables_absent']}")
    print(f"corrections to IDEAL: {', '.join(figures['corrections'])}")
    print(
        "IDEAL mapped, no corrections or known negatives: "
        + _micro_text(figures["uncorrected_micro"])
    )
    strict = figures["all_columns_reading"]
    print(
        "all columns, unlisted = negative (DataHub's reading, mapped ids only): "
        + _micro_text(strict["micro"])
    )
    _print_list("  its false alarms", strict["false_alarms"])
    print_published_beside_ours(figures)


def _micro_text(micro: Mapping[str, float]) -> str:
    return (
        f"precision {micro['precision']:.3f} recall {micro['recall']:.3f} "
        f"f1 {micro['f1']:.3f}"
    )


def print_published_beside_ours(figures: Mapping[str, Any]) -> None:
    """Print datahub-classify's published figures beside cardex's recall here."""
    print(
        f"\n{'info type':32} {'theirs P':>8} {'R':>5} {'n':>4}   "
        f"{'cardex id':16} {'found':>9}"
    )
    published = figures["published"]
    ours = figures["ours_by_info_type"]
    for info_type in published:
        theirs = published[info_type]
        mine = ours.get(info_type)
        found = f"{mine['found']}/{mine['columns']}" if mine else "-"
        label = (
            (mine or {}).get("label") or DATAHUB_TO_CARDEX.get(info_type) or "(none)"
        )
        print(
            f"{info_type:32} {theirs['precision']:8.2f} {theirs['recall']:5.2f} "
            f"{theirs.get('support', 0):4}   {label:16} {found:>9}"
        )


def print_summary(reports: Sequence[SourceReport]) -> LabelScore:
    print(
        f"\n## summary\n{'source':32} {'tp':>4} {'fp':>4} {'fn':>4} "
        f"{'prec':>6} {'recall':>6} {'f1':>6}"
    )
    for report in reports:
        if report.total is None:
            print(f"{report.name:32} (not scored)")
            continue
        t = report.total
        print(
            f"{report.name:32} {t.true_positive:4} {t.false_positive:4} "
            f"{t.false_negative:4} {t.precision:6.3f} {t.recall:6.3f} {t.f1:6.3f}"
        )
    total = overall(reports)
    print(
        f"{'overall (micro)':32} {total.true_positive:4} {total.false_positive:4} "
        f"{total.false_negative:4} {total.precision:6.3f} {total.recall:6.3f} "
        f"{total.f1:6.3f}"
    )
    return total


def write_json(path: Path, reports: Sequence[SourceReport], root: Path) -> None:
    document = {
        "tool": {"name": "cardex", "version": scanner.__version__},
        "machine": {
            "system": platform.system(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "datasets": str(root),
        "sources": {report.name: report.to_dict() for report in reports},
        "overall": score_dict(overall(reports)),
    }
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", "utf-8")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets",
        type=Path,
        default=None,
        help=f"folder of third-party test material (default: ${DATASETS_ENV}, "
        "else ../shared/datasets beside the repository)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    root = args.datasets or default_datasets_path()
    if not root.is_dir():
        print(f"skipped: datasets folder {root} not found (set {DATASETS_ENV})")
        return 0

    logging.basicConfig(level=logging.ERROR)
    reports = evaluate_all(root)
    for report in reports:
        print_report(report)
    print_summary(reports)
    if args.json:
        write_json(args.json, reports, root)
        print(f"\nfigures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
