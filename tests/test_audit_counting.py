"""Counting people in DuckDB: normalisation, unions, sensitivity, hashes."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import secrets
import sqlite3
from pathlib import Path

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool
from test_audit_data import phones

from scanner.audit.counting import (
    APPROXIMATE_ERROR,
    KeySet,
    PeopleCounter,
    hmac_sql,
    normalised_key_sql,
)
from scanner.audit.model import PeopleCount
from scanner.audit.readers import (
    SqlTable,
    count_file_rows,
    open_file_keys,
    open_sql_keys,
)
from scanner.audit.run import _straddles
from scanner.errors import UnsupportedError


def normalise(key_type: str, values: list[str | None]) -> list[str | None]:
    connection = __import__("duckdb").connect()
    connection.register("t", pa.table({"raw": pa.array(values, pa.string())}))
    rows = connection.execute(
        f"SELECT {normalised_key_sql(key_type, 'raw')} FROM t"
    ).fetchall()
    return [row[0] for row in rows]


@pytest.mark.parametrize(
    "spelling",
    [
        "13812345678",
        "138 1234 5678",
        "138-1234-5678",
        "+86 138 1234 5678",
        "+8613812345678",
        "0086-138-1234-5678",
        "8613812345678",
        "(138) 1234.5678",
        "１３８１２３４５６７８",
        "＋８６ １３８－１２３４－５６７８",
    ],
)
def test_phone_spellings_normalise(spelling: str) -> None:
    assert normalise("phone", [spelling]) == ["13812345678"]


def test_landline_keeps_area_code() -> None:
    assert normalise("phone", ["010-8888 6666"]) == ["01088886666"]


def test_id_check_character_case() -> None:
    values = [
        "11010519491231002x",
        "11010519491231002X",
        "１１０１０５１９４９１２３１００２ｘ",
    ]
    assert normalise("id_number", values) == ["11010519491231002X"] * 3


def test_email_case_and_spaces() -> None:
    values = [" Li.Na@Example.COM ", "li.na@example.com"]
    assert normalise("email", values) == ["li.na@example.com"] * 2


def test_vin_upper_case() -> None:
    assert normalise("vin", ["lsvaa4180e2123456 "]) == ["LSVAA4180E2123456"]


def test_blank_values_are_null() -> None:
    assert normalise("phone", ["", "  ", None]) == [None, None, None]


def test_malformed_keys_count_no_one() -> None:
    assert normalise("phone", ["order 5 shipped", "138 1234 5678", "n/a"]) == [
        None,
        "13812345678",
        None,
    ]
    assert normalise("id_number", ["1101051949", "unknown"]) == [None, None]
    assert normalise("vin", ["LSVAA4180E212345"]) == [None]
    assert normalise("email", ["no address", " A@B.cn"]) == [None, "a@b.cn"]
    assert normalise("account", [" u-1 "]) == ["u-1"]


def write(path: Path, columns: dict[str, list[object]]) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


def keyset(path: Path, column: str, key_type: str = "phone", **flags: bool) -> KeySet:
    return KeySet(
        uri=str(path),
        key_type=key_type,
        sources=[open_file_keys(str(path), "parquet", [column])],
        sensitive=flags.get("sensitive", False),
        covered=flags.get("covered", False),
    )


def test_union_across_datasets(tmp_path: Path) -> None:
    a = write(tmp_path / "a.parquet", {"mobile": phones(0, 100)})
    b = write(tmp_path / "b.parquet", {"tel": ["+86 " + p for p in phones(50, 100)]})
    with PeopleCounter() as counter:
        count = counter.count_exact([keyset(a, "mobile"), keyset(b, "tel")])
    assert count.counted == PeopleCount(150, 0)
    assert count.per_dataset == {str(a): 100, str(b): 100}


def test_one_spelling_merges_into_clean_keys(tmp_path: Path) -> None:
    clean = phones(0, 100)
    a = write(tmp_path / "a.parquet", {"mobile": clean})
    number = clean[5]
    spelled = f"{number[:3]}-{number[3:7]}-{number[7:]}"
    b = write(tmp_path / "b.parquet", {"mobile": [spelled]})
    with PeopleCounter() as counter:
        count = counter.count_exact(
            [keyset(a, "mobile"), keyset(b, "mobile", sensitive=True)]
        )
    assert count.counted == PeopleCount(99, 1)
    assert count.per_dataset == {str(a): 100, str(b): 1}


def test_keys_are_read_when_counting_starts(tmp_path: Path) -> None:
    # Opening a dataset must not start decoding it: a transfer of thousands
    # of files would otherwise hold read-ahead batches of each in memory.
    path = write(tmp_path / "a.parquet", {"mobile": phones(0, 10)})
    keys = keyset(path, "mobile")
    write(path, {"mobile": phones(100, 3)})
    with PeopleCounter() as counter:
        count = counter.count_exact([keys])
    assert count.counted == PeopleCount(3, 0)


def test_remark_column_counts_only_its_phones(tmp_path: Path) -> None:
    # A column labelled by a share of its values contains other text too.
    remarks = [f"order {index} shipped" for index in range(500)] + phones(0, 30)
    path = write(tmp_path / "orders.parquet", {"remark": remarks})
    with PeopleCounter() as counter:
        count = counter.count_exact([keyset(path, "remark")])
    assert count.counted == PeopleCount(30, 0)


def test_sensitive_dataset_marks_people(tmp_path: Path) -> None:
    a = write(tmp_path / "a.parquet", {"mobile": phones(0, 100)})
    b = write(tmp_path / "b.parquet", {"mobile": phones(90, 20)})
    with PeopleCounter() as counter:
        count = counter.count_exact(
            [keyset(a, "mobile"), keyset(b, "mobile", sensitive=True)]
        )
    assert count.counted == PeopleCount(90, 20)


def test_covered_dataset_dropped(tmp_path: Path) -> None:
    a = write(tmp_path / "a.parquet", {"mobile": phones(0, 100)})
    b = write(tmp_path / "b.parquet", {"mobile": phones(80, 50)})
    with PeopleCounter() as counter:
        count = counter.count_exact(
            [keyset(a, "mobile"), keyset(b, "mobile", sensitive=True, covered=True)]
        )
    # People 80-99 are also in the uncovered file, so only 100-129 drop.
    assert count.counted == PeopleCount(100, 0)
    assert count.dropped == PeopleCount(0, 30)


def test_masks_past_64_datasets(tmp_path: Path) -> None:
    keysets = []
    for index in range(69):
        path = write(tmp_path / f"d{index}.parquet", {"mobile": phones(index, 2)})
        keysets.append(keyset(path, "mobile", sensitive=index == 68))
    covered = write(tmp_path / "covered.parquet", {"mobile": phones(1000, 3)})
    keysets.append(keyset(covered, "mobile", sensitive=True, covered=True))
    with PeopleCounter() as counter:
        count = counter.count_exact(keysets)
        flags = counter.connection.execute(
            "SELECT count(*) FILTER (sensitive), count(*) FILTER (covered), "
            "count(*) FILTER (sensitive_any) FROM people"
        ).fetchall()[0]
    assert count.counted == PeopleCount(68, 2)
    assert count.dropped == PeopleCount(0, 3)
    assert count.per_dataset[str(tmp_path / "d0.parquet")] == 2
    assert count.per_dataset[str(tmp_path / "d68.parquet")] == 2
    assert count.per_dataset[str(covered)] == 3
    assert flags == (2, 3, 5)


@pytest.mark.parametrize("datasets", [8, 9, 16, 17, 32, 33, 64, 65])
def test_mask_widths_count_alike(tmp_path: Path, datasets: int) -> None:
    keysets = [
        keyset(write(tmp_path / f"d{i}.parquet", {"mobile": phones(i, 2)}), "mobile")
        for i in range(datasets)
    ]
    with PeopleCounter() as counter:
        count = counter.count_exact(keysets, keep_people=False)
    assert count.counted == PeopleCount(datasets + 1, 0)
    assert set(count.per_dataset.values()) == {2}


def test_no_keysets_count_nobody() -> None:
    with PeopleCounter() as counter:
        count = counter.count_exact([])
    assert count.counted == PeopleCount()
    assert count.per_dataset == {}


def test_key_types_kept_apart(tmp_path: Path) -> None:
    a = write(tmp_path / "a.parquet", {"k": ["12345"]})
    b = write(tmp_path / "b.parquet", {"k": ["12345"]})
    with PeopleCounter() as counter:
        count = counter.count_exact(
            [keyset(a, "k", "account"), keyset(b, "k", "phone")]
        )
    assert count.counted == PeopleCount(2, 0)


def test_several_key_columns(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.parquet",
        {"owner_phone": phones(0, 10), "driver_phone": phones(5, 10)},
    )
    keys = KeySet(
        str(path),
        "phone",
        [open_file_keys(str(path), "parquet", ["owner_phone", "driver_phone"])],
        sensitive=False,
    )
    with PeopleCounter() as counter:
        assert counter.count_exact([keys]).counted == PeopleCount(15, 0)


def test_numeric_phone_column(tmp_path: Path) -> None:
    values = [13812345678.0, 13812345678.0, 13900000000.0]
    path = write(tmp_path / "a.parquet", {"mobile": values})
    with PeopleCounter() as counter:
        count = counter.count_exact([keyset(path, "mobile")])
        rows = counter.connection.execute("SELECT key FROM people ORDER BY key")
        keys = [row[0] for row in rows.fetchall()]
    assert count.counted == PeopleCount(2, 0)
    assert keys == ["13812345678", "13900000000"]


def test_nested_struct_column(tmp_path: Path) -> None:
    owners = [{"phone": p} for p in phones(0, 7)]
    path = write(tmp_path / "a.parquet", {"owner": owners})
    with PeopleCounter() as counter:
        count = counter.count_exact([keyset(path, "owner.phone")])
    assert count.counted == PeopleCount(7, 0)


def test_list_column_unsupported(tmp_path: Path) -> None:
    path = write(tmp_path / "a.parquet", {"phones": [phones(0, 2)]})
    with pytest.raises(UnsupportedError, match="inside a list"):
        open_file_keys(str(path), "parquet", ["phones[]"])


def test_gbk_csv_with_preamble(tmp_path: Path) -> None:
    lines = ["车主信息导出", "姓名,手机号码"]
    lines += [f"张三,{p[:3]}-{p[3:7]}-{p[7:]}" for p in phones(0, 40)]
    lines += [f"李四,{p}" for p in phones(0, 40)]
    path = tmp_path / "owners.csv"
    path.write_bytes("\n".join(lines).encode("gbk"))
    keys = KeySet(
        str(path), "phone", [open_file_keys(str(path), "csv", ["手机号码"])], False
    )
    with PeopleCounter() as counter:
        assert counter.count_exact([keys]).counted == PeopleCount(40, 0)
    assert count_file_rows(str(path), "csv") == 80


def test_gzipped_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "contacts.jsonl.gz"
    rows = [{"email": f"User{i % 30}@Example.com"} for i in range(90)]
    path.write_bytes(gzip.compress("\n".join(map(json.dumps, rows)).encode()))
    keys = KeySet(
        str(path),
        "email",
        [open_file_keys(str(path), "jsonl+gzip", ["email"])],
        False,
    )
    with PeopleCounter() as counter:
        assert counter.count_exact([keys]).counted == PeopleCount(30, 0)


def test_json_lines_key_null_in_first_block(tmp_path: Path) -> None:
    # Over 1 MB of rows without a phone, then phones: the first block alone
    # would type the column as null.
    path = tmp_path / "events.jsonl"
    rows = [{"event": f"boot {i}", "phone": None} for i in range(40_000)]
    rows += [{"event": "call", "phone": phone} for phone in phones(0, 1_000)]
    path.write_text("\n".join(map(json.dumps, rows)) + "\n", "utf-8")
    keys = KeySet(
        str(path), "phone", [open_file_keys(str(path), "jsonl", ["phone"])], False
    )
    with PeopleCounter() as counter:
        assert counter.count_exact([keys]).counted == PeopleCount(1_000, 0)


@pytest.mark.parametrize("file_format", ["json", "jsonl"])
def test_rows_of_json_files_counted(tmp_path: Path, file_format: str) -> None:
    path = tmp_path / f"trips.{file_format}"
    rows = [{"trip": i} for i in range(7)]
    if file_format == "json":
        path.write_text(json.dumps(rows), "utf-8")
    else:
        path.write_text("\n".join(map(json.dumps, rows)) + "\n", "utf-8")
    assert count_file_rows(str(path), file_format) == 7


def test_avro_nested_keys(tmp_path: Path) -> None:
    schema = {
        "type": "record",
        "name": "Driver",
        "fields": [
            {
                "name": "owner",
                "type": {
                    "type": "record",
                    "name": "Owner",
                    "fields": [{"name": "phone", "type": ["null", "string"]}],
                },
            }
        ],
    }
    records = [{"owner": {"phone": p}} for p in phones(0, 25) * 2]
    records.append({"owner": {"phone": None}})
    path = tmp_path / "drivers.avro"
    with path.open("wb") as handle:
        fastavro.writer(handle, schema, records)
    keys = KeySet(
        str(path), "phone", [open_file_keys(str(path), "avro", ["owner.phone"])], False
    )
    with PeopleCounter() as counter:
        assert counter.count_exact([keys]).counted == PeopleCount(25, 0)


def test_json_document_keys(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    rows = [{"vin": f"lsvaa4180e212345{i % 9}", "speed": i} for i in range(40)]
    path.write_text(json.dumps(rows), "utf-8")
    keys = KeySet(str(path), "vin", [open_file_keys(str(path), "json", ["vin"])], False)
    with PeopleCounter() as counter:
        assert counter.count_exact([keys]).counted == PeopleCount(9, 0)


def test_sqlite_distinct_keys(tmp_path: Path) -> None:
    database = tmp_path / "app.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE app_user (id INTEGER, mobile TEXT)")
        rows = [(i, p) for i, p in enumerate(phones(0, 300) * 2)]
        connection.executemany("INSERT INTO app_user VALUES (?, ?)", rows)
        connection.execute("INSERT INTO app_user VALUES (999, NULL)")
    table = SqlTable(f"sqlite:///{database}", "main", "app_user", 10.0)
    keys = KeySet("app_user", "phone", open_sql_keys(table, ["mobile"]), True)
    with PeopleCounter() as counter:
        assert counter.count_exact([keys]).counted == PeopleCount(0, 300)


@pytest.mark.postgres
def test_postgres_distinct_keys(postgres_url: str) -> None:
    schema = f"audit_{secrets.token_hex(3)}"
    admin = sa.create_engine(postgres_url, poolclass=NullPool)
    values = ", ".join(f"('{phone}')" for phone in phones(0, 400) * 2)
    with admin.begin() as connection:
        connection.exec_driver_sql(
            f"CREATE SCHEMA {schema}; CREATE TABLE {schema}.owners (mobile text); "
            f"INSERT INTO {schema}.owners VALUES {values}, (NULL), ('+86 13800000001')"
        )
    try:
        table = SqlTable(postgres_url, schema, "owners", 10.0)
        keys = KeySet("owners", "phone", open_sql_keys(table, ["mobile"]), False)
        with PeopleCounter() as counter:
            assert counter.count_exact([keys]).counted == PeopleCount(400, 0)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def test_hmac_matches_python() -> None:
    salt = bytes(range(32))
    connection = __import__("duckdb").connect()
    expression = hmac_sql(salt, "'phone:13812345678'")
    computed = connection.execute(f"SELECT {expression}").fetchall()[0][0]
    expected = hmac.new(salt, b"phone:13812345678", hashlib.sha256).hexdigest()
    assert computed == expected


def test_hmac_of_unicode_key() -> None:
    salt = b"s" * 32
    connection = __import__("duckdb").connect()
    expression = hmac_sql(salt, "'account:张伟'")
    computed = connection.execute(f"SELECT {expression}").fetchall()[0][0]
    expected = hmac.new(salt, "account:张伟".encode(), hashlib.sha256).hexdigest()
    assert computed == expected


def test_approximate_within_bound(tmp_path: Path) -> None:
    path = write(tmp_path / "a.parquet", {"mobile": phones(0, 50_000) * 2})
    with PeopleCounter() as counter:
        count = counter.count_approximate([keyset(path, "mobile")])
    assert count.method == "approximate"
    assert count.error_bound == APPROXIMATE_ERROR
    assert abs(count.counted.personal - 50_000) <= 50_000 * APPROXIMATE_ERROR


@pytest.mark.parametrize(
    ("transfer", "already", "straddles"),
    [
        (PeopleCount(50_000, 0), PeopleCount(), False),
        (PeopleCount(95_000, 0), PeopleCount(), True),
        (PeopleCount(150_000, 0), PeopleCount(), False),
        (PeopleCount(50_000, 0), PeopleCount(60_000, 0), True),
        (PeopleCount(0, 9_500), PeopleCount(), True),
        (PeopleCount(0, 5_000), PeopleCount(), False),
        (PeopleCount(960_000, 0), PeopleCount(), True),
    ],
)
def test_straddle_detection(
    transfer: PeopleCount, already: PeopleCount, straddles: bool
) -> None:
    assert _straddles(transfer, already, APPROXIMATE_ERROR) is straddles


def test_counter_keeps_no_files(tmp_path: Path) -> None:
    counter = PeopleCounter(temp_dir=str(tmp_path))
    counter.close()
    assert list(tmp_path.iterdir()) == []
