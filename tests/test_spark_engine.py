"""``--engine spark``: labels and people counts equal the local engine's.

Every Spark test shares one local[2] SparkSession bound to 127.0.0.1, which
took 19 to 30 s to start on a shared two-core VM. The tests skip when PySpark or Java
is missing.
"""

from __future__ import annotations

import hmac
import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from test_audit_data import resident_id

from scanner.cli import main
from scanner.engine import Scanner, ScanOptions
from scanner.model import DatasetResult, Label
from scanner.spark.results import result_from_json, result_to_json

pyspark = pytest.importorskip("pyspark")
if shutil.which("java") is None:
    pytest.skip("--engine spark needs Java on PATH", allow_module_level=True)

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"
MASTER = "local[2]"
TRANSFER = [
    "--processor",
    "ACME",
    "--destination",
    "DE",
    "--recipient",
    "ACME GmbH",
    "--purpose",
    "after-sales support",
]
FULL_WIDTH_OFFSET = 0xFF10 - ord("0")


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    from scanner.spark.session import start_session

    session = start_session(MASTER)
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


# -- a transfer with known people -------------------------------------------


def phone(index: int) -> str:
    return str(13_900_000_000 + index)


def spelling(number: str, index: int) -> str:
    """Write ``number`` in one of the spellings people type."""
    variants = [
        number,
        f"+86 {number[:3]} {number[3:7]} {number[7:]}",
        f"{number[:3]}-{number[3:7]}-{number[7:]}",
        "".join(chr(ord(digit) + FULL_WIDTH_OFFSET) for digit in number),
        f"0086{number}",
        f"({number[:3]}) {number[3:]}",
    ]
    return variants[index % len(variants)]


def write_transfer(folder: Path) -> dict[str, set[str]]:
    """Write five phone-keyed datasets with overlapping people.

    Returns the normalised phone numbers of each dataset by file name.
    """
    folder.mkdir(parents=True, exist_ok=True)
    people = {
        "owners.csv": set(range(0, 400)),
        "service.parquet": set(range(300, 700)),
        "ids.parquet": set(range(650, 800)),
        "app.db": set(range(100, 200)) | set(range(780, 900)),
        "trips": set(range(850, 1000)),
    }
    owners = sorted(people["owners.csv"])
    lines = ["owner_name,phone,city"]
    lines += [f"张伟,{spelling(phone(i), i)},北京市" for i in owners]
    # The same people a second time, in another spelling.
    lines += [f"王芳,{spelling(phone(i), i + 1)},上海市" for i in owners[:50]]
    (folder / "owners.csv").write_text("\n".join(lines) + "\n", "utf-8")

    service = sorted(people["service.parquet"])
    pq.write_table(
        pa.table(
            {
                "customer_name": ["李娜"] * len(service),
                "mobile": [spelling(phone(i), i + 2) for i in service],
                "driver_mobile": [phone(i + 5000) for i in service],
            }
        ),
        folder / "service.parquet",
    )
    ids = sorted(people["ids.parquet"])
    pq.write_table(
        pa.table(
            {
                "owner_name": ["刘洋"] * len(ids),
                "id_card": [resident_id(i) for i in ids],
                "mobile": [spelling(phone(i), i + 3) for i in ids],
            }
        ),
        folder / "ids.parquet",
    )
    app = sorted(people["app.db"])
    with sqlite3.connect(folder / "app.db") as connection:
        connection.execute("CREATE TABLE app_user (nickname TEXT, phone TEXT)")
        connection.executemany(
            "INSERT INTO app_user VALUES (?, ?)",
            [(f"user{i}", spelling(phone(i), i + 4)) for i in app],
        )
    trips = sorted(people["trips"])
    for day, part in (("2026-01-01", trips[:80]), ("2026-01-02", trips[60:])):
        partition = folder / "trips" / f"dt={day}"
        partition.mkdir(parents=True)
        pq.write_table(
            pa.table(
                {
                    "driver_phone": [spelling(phone(i), i + 5) for i in part],
                    "speed_kmh": [float(i % 120) for i in part],
                }
            ),
            partition / "part-0.parquet",
        )
    people["service.parquet"] |= {i + 5000 for i in service}
    return {name: {phone(i) for i in found} for name, found in people.items()}


def audit(folder: Path, catalog: Path, *arguments: str) -> dict[str, Any]:
    report = catalog.parent / f"audit-{catalog.stem}.json"
    command = [
        "audit",
        str(folder),
        *TRANSFER,
        *arguments,
        "--catalog",
        f"sqlite:///{catalog}",
        "--report",
        str(report),
        "-q",
    ]
    result = CliRunner().invoke(main, command)
    assert result.exit_code in (0, 10, 11, 12), result.output
    return json.loads(report.read_text("utf-8"))


def people_by_dataset(report: dict[str, Any]) -> dict[str, Any]:
    return {
        Path(dataset["uri"]).name: (dataset["people"], dataset["people_method"])
        for dataset in report["datasets"]
    }


@pytest.fixture(scope="module")
def transfer(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("transfer")
    expected = write_transfer(folder / "data")
    return {"data": folder / "data", "work": folder, "expected": expected}


@pytest.fixture(scope="module")
def local_report(transfer: dict[str, Any]) -> dict[str, Any]:
    return audit(transfer["data"], transfer["work"] / "local.db")


@pytest.fixture(scope="module")
def spark_report(spark: Any, transfer: dict[str, Any]) -> dict[str, Any]:
    catalog = transfer["work"] / "spark.db"
    return audit(transfer["data"], catalog, "--engine", "spark")


def label_view(result: DatasetResult) -> dict[str, Any]:
    """Return the labels of a result by column ("" for the dataset's own)."""

    def ids(labels: list[Label]) -> list[tuple[str, str, float]]:
        return sorted((label.id, label.category, label.confidence) for label in labels)

    view = {column.name: ids(column.labels) for column in result.columns}
    view[""] = ids(result.labels)
    return view


# -- tests ------------------------------------------------------------------


def test_results_json_round_trip() -> None:
    source = SAMPLE_DATA / "crm"
    if not source.exists():
        pytest.skip("sample_data/crm is absent")
    outcome = Scanner(ScanOptions(sources=[str(source)], use_catalog=False)).run()
    assert outcome.results
    for result in outcome.results:
        assert result_from_json(result_to_json(result)) == result


@pytest.mark.slow
def test_hmac_matches_python(spark: Any) -> None:
    from pyspark.sql import functions as F

    from scanner.spark.counting import hmac_column

    salt = b"a salt of 32 bytes for the test!"
    messages = ["phone:13900000000", "id_number:11010519600101001X", "", "邮箱:a@b.cn"]
    frame = spark.createDataFrame([(message,) for message in messages], "m STRING")
    rows = frame.select("m", hmac_column(salt, F.col("m")).alias("h")).collect()
    for row in rows:
        expected = hmac.new(salt, row["m"].encode(), "sha256").hexdigest()
        assert row["h"] == expected, row["m"]


@pytest.mark.slow
def test_audit_counts_match_local(
    local_report: dict[str, Any], spark_report: dict[str, Any]
) -> None:
    assert spark_report["counts"] == local_report["counts"]
    assert people_by_dataset(spark_report) == people_by_dataset(local_report)
    assert spark_report["decision"] == local_report["decision"]
    assert spark_report["exit_code"] == local_report["exit_code"]
    assert spark_report["failures"] == local_report["failures"]


@pytest.mark.slow
def test_audit_counts_known_people(
    transfer: dict[str, Any], spark_report: dict[str, Any]
) -> None:
    expected = transfer["expected"]
    sensitive = expected["ids.parquet"]
    # ids.parquet is counted by its ID numbers, the strongest key it holds, and
    # people known by different key types are not linked: its people count
    # again, as non-sensitive, in the files that know them by phone.
    by_phone = set().union(
        *(people for name, people in expected.items() if name != "ids.parquet")
    )
    counted = spark_report["counts"]["this_transfer"]
    assert counted["sensitive"] == len(sensitive)
    assert counted["personal"] == len(by_phone)
    by_dataset = people_by_dataset(spark_report)
    assert by_dataset["owners.csv"][0]["personal"] == len(expected["owners.csv"])
    assert by_dataset["service.parquet"][0]["personal"] == len(
        expected["service.parquet"]
    )
    assert by_dataset["ids.parquet"][0]["sensitive"] == len(sensitive)
    assert by_dataset["app_user"][0]["personal"] == len(expected["app.db"])
    assert by_dataset["trips"][0]["personal"] == len(expected["trips"])


@pytest.mark.slow
def test_contract_exemption_matches_local(spark: Any, transfer: dict[str, Any]) -> None:
    claim = [
        "--exemption",
        "contract",
        "--fact",
        "contract.datasets=service.parquet",
        "--fact",
        "contract.basis=repair orders",
    ]
    work = transfer["work"]
    local = audit(transfer["data"], work / "local-claim.db", *claim)
    spark_run = audit(
        transfer["data"], work / "spark-claim.db", *claim, "--engine", "spark"
    )
    assert spark_run["counts"] == local["counts"]
    assert spark_run["counts"]["dropped_by_exemption"]["personal"] > 0
    assert spark_run["decision"] == local["decision"]


@pytest.mark.slow
def test_ledger_shared_between_engines(spark: Any, transfer: dict[str, Any]) -> None:
    catalog = transfer["work"] / "ledger.db"
    first = audit(transfer["data"], catalog, "--record")
    second = audit(transfer["data"], catalog, "--engine", "spark", "--record")
    third = audit(transfer["data"], catalog)
    people = first["counts"]["this_transfer"]
    # The same people again: the Spark engine's hashes match the ledger's.
    assert second["counts"]["already_this_year"] == people
    assert second["counts"]["year_total"] == people
    assert third["counts"]["year_total"] == people


@pytest.mark.slow
def test_approximate_count_within_bound(
    spark: Any, transfer: dict[str, Any], local_report: dict[str, Any]
) -> None:
    from scanner.audit.counting import APPROXIMATE_ERROR

    report = audit(
        transfer["data"],
        transfer["work"] / "approx.db",
        "--engine",
        "spark",
        "--approximate",
    )
    exact = local_report["counts"]["this_transfer"]
    estimate = report["counts"]["this_transfer"]
    assert report["counts"]["method"] == "approximate"
    for kind in ("personal", "sensitive"):
        assert abs(estimate[kind] - exact[kind]) <= APPROXIMATE_ERROR * exact[kind]


@pytest.mark.slow
def test_unreadable_unit_raises_redacted(spark: Any, tmp_path: Path) -> None:
    from scanner.audit.counting import KeySet
    from scanner.spark.counting import (
        KeySource,
        SparkCountError,
        SparkPeopleCounter,
    )

    missing = tmp_path / "13912345678.parquet"
    source = KeySource("file", ("mobile",), str(missing), "parquet")
    keyset = KeySet(str(missing), "phone", [], sensitive=False)
    with (
        SparkPeopleCounter(spark, {str(missing): [source]}) as counter,
        pytest.raises(SparkCountError) as raised,
    ):
        counter.count_exact([keyset])
    assert "13912345678" not in str(raised.value)


@pytest.mark.slow
def test_sample_lake_labels_match_local(spark: Any, tmp_path: Path) -> None:
    if not (SAMPLE_DATA / "crm").exists():
        pytest.skip("sample_data/ is absent; generate it with its script")
    from scanner.spark.scan import SparkScanner

    def options(name: str) -> ScanOptions:
        catalog = f"sqlite:///{tmp_path / name}"
        return ScanOptions(sources=[str(SAMPLE_DATA)], catalog_url=catalog)

    local = Scanner(options("local.db")).run()
    spark_outcome = SparkScanner(options("spark.db"), spark).run()
    local_results = {result.uri: result for result in local.results}
    spark_results = {result.uri: result for result in spark_outcome.results}
    assert list(spark_results) == list(local_results)
    for uri, result in local_results.items():
        assert label_view(spark_results[uri]) == label_view(result), uri
        assert spark_results[uri].personal == result.personal, uri
        assert spark_results[uri].grade == result.grade, uri
        assert spark_results[uri].errors == result.errors, uri
        assert spark_results[uri].fingerprint == result.fingerprint, uri
        # Database tables are sampled at random, so their evidence (counts,
        # masked examples) varies between runs of either engine.
        if result.kind != "table":
            assert spark_results[uri].to_dict() == result.to_dict(), uri
    assert spark_outcome.status == local.status
    assert spark_outcome.changes == local.changes


def test_full_scan_matches_local(spark: Any, tmp_path: Path) -> None:
    from scanner.spark.scan import SparkScanner

    lake = tmp_path / "lake"
    remarks = [f"order {index} shipped" for index in range(20_000)]
    for index in range(7_000, 7_040):
        remarks[index] = f"1390013{index:04d}"
    table = pa.table({"order_id": list(range(20_000)), "remark": remarks})
    (lake / "parts").mkdir(parents=True)
    pq.write_table(table, lake / "orders.parquet", row_group_size=1_000)
    for number in range(3):
        pq.write_table(
            table.slice(number * 5_000, 5_000),
            lake / "parts" / f"part-{number}.parquet",
        )
    (lake / "owners.csv").write_text("姓名,手机号码\n张伟,13812340001\n", "utf-8")

    def options(name: str) -> ScanOptions:
        catalog = f"sqlite:///{tmp_path / name}"
        return ScanOptions(
            sources=[str(lake)], catalog_url=catalog, full=True, chunk_rows=2_000
        )

    local = Scanner(options("local.db")).run()
    spark_outcome = SparkScanner(options("spark.db"), spark).run()
    local_results = {result.uri: result.to_dict() for result in local.results}
    spark_results = {result.uri: result.to_dict() for result in spark_outcome.results}
    assert spark_results == local_results
    orders = next(r for r in local.results if r.name == "orders.parquet")
    assert orders.sampled_rows == 20_000
    assert "pi.phone" in [item[0] for item in label_view(orders)["remark"]]


@pytest.mark.slow
def test_scan_cli_engine_spark(spark: Any, transfer: dict[str, Any]) -> None:
    reports = {}
    for engine in ("local", "spark"):
        report = transfer["work"] / f"scan-{engine}.json"
        command = [
            "scan",
            str(transfer["data"]),
            "--engine",
            engine,
            "--no-catalog",
            "--report",
            str(report),
            "-q",
        ]
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 0, result.output
        reports[engine] = json.loads(report.read_text("utf-8"))
    local = {item["uri"]: item for item in reports["local"]["datasets"]}
    spark_datasets = {item["uri"]: item for item in reports["spark"]["datasets"]}
    assert spark_datasets.keys() == local.keys()
    for uri, dataset in local.items():
        if dataset["kind"] != "table":
            assert spark_datasets[uri] == dataset, uri


@pytest.mark.slow
def test_bucket_audit_matches_local(
    spark: Any, s3_server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from test_audit_bucket import audit_both, upload_transfer

    local = upload_transfer(s3_server, monkeypatch, tmp_path)
    remote, _ = audit_both(tmp_path, local, "--engine", "spark")
    assert {item["people_method"] for item in remote["datasets"]} == {"subject_key"}


def test_folder_split_keeps_partition_keys(tmp_path: Path) -> None:
    from scanner.spark.audit import _folder_sources

    for day in ("2026-01-01", "2026-01-02"):
        partition = tmp_path / "by_day" / f"dt={day}"
        partition.mkdir(parents=True)
        table = pa.table({"mobile": [phone(1)], "speed": [1.0]})
        pq.write_table(table, partition / "part-0.parquet")
        keyed = tmp_path / "by_phone" / f"mobile={phone(2)}" / f"dt={day}"
        keyed.mkdir(parents=True)
        pq.write_table(pa.table({"speed": [1.0]}), keyed / "part-0.parquet")

    split = _folder_sources(str(tmp_path / "by_day"), "parquet", ("mobile",))
    whole = _folder_sources(str(tmp_path / "by_phone"), "parquet", ("mobile",))
    assert [source.kind for source in split] == ["file", "file"]
    assert [source.kind for source in whole] == ["partitioned"]
    assert whole[0].path == str(tmp_path / "by_phone")
