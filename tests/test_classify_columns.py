"""Column and dataset decisions through the whole classifier pipeline."""

import random

import pyarrow as pa
import pytest

from classifiers.pipeline import classify_sample
from classifiers.rulepack import load_rule_pack
from scanner.model import Sample
from scanner.plugins import CLASSIFIERS, load_plugins

_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_VIN_VALUES = dict(
    zip("0123456789", range(10), strict=False),
    **dict(
        zip(
            "ABCDEFGHJKLMNPRSTUVWXYZ",
            [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9],
            strict=False,
        )
    ),
)
_VIN_WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]


def id_check(body):
    total = sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True))
    return "10X98765432"[total % 11]


def resident_id(rng):
    body = f"{rng.choice([110101, 310104, 440305])}{rng.randint(1960, 2000)}"
    body += f"{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    return (
        body
        + "10X98765432"[
            sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11
        ]
    )


def vin(rng, valid=True):
    chars = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
    body = "LSV" + "".join(rng.choice(chars) for _ in range(14))
    total = sum(_VIN_VALUES[c] * w for c, w in zip(body, _VIN_WEIGHTS, strict=False))
    check = "0123456789X"[total % 11]
    if not valid:
        check = next(c for c in "0123456789X" if c != check)
    return body[:8] + check + body[9:]


def phone(rng):
    return f"1{rng.choice('3589')}{rng.randint(0, 999_999_999):09d}"


@pytest.fixture(scope="module")
def classify():
    rules = load_rule_pack()
    classifiers = [cls(rules) for cls in load_plugins(CLASSIFIERS).values()]

    def run(columns):
        table = pa.table(columns)
        results, dataset = classify_sample(Sample(table=table), classifiers, rules)
        found = {c.name: {label.id for label in c.labels} for c in results}
        found[None] = {label.id for label in dataset}
        return found

    return run


def test_validated_values_label_column(classify):
    rng = random.Random(1)
    found = classify(
        {
            "col_a": [resident_id(rng) for _ in range(200)],
            "col_b": [vin(rng) for _ in range(200)],
            "col_c": [phone(rng) for _ in range(200)],
        }
    )
    assert found["col_a"] == {"spi.id_number"}
    assert found["col_b"] == {"pi.vin"}
    assert found["col_c"] == {"pi.phone"}


def test_look_alikes_get_no_label(classify):
    rng = random.Random(2)
    found = classify(
        {
            "part_no": [vin(rng, valid=False) for _ in range(200)],
            "order_no": [str(rng.randint(10**17, 10**18 - 1)) for _ in range(200)],
            "serial": [str(rng.randint(10**15, 10**16 - 1)) for _ in range(200)],
        }
    )
    assert found["part_no"] == set()
    assert found["order_no"] == set()
    assert found["serial"] == set()


def test_vin_name_keeps_label_without_check_digit(classify):
    rng = random.Random(3)
    found = classify({"vin": [vin(rng, valid=False) for _ in range(200)]})
    assert found["vin"] == {"pi.vin"}


def test_name_hint_needs_fitting_values(classify):
    found = classify(
        {
            "email_verified": [0, 1] * 100,
            "is_phone": ["Y", "N"] * 100,
            "mobile": ["1", "0"] * 100,
            "xb": ["男", "女"] * 100,
        }
    )
    assert found["email_verified"] == set()
    assert found["is_phone"] == set()
    assert found["mobile"] == set()
    assert found["xb"] == {"pi.gender"}


def test_masked_values_keep_label(classify):
    found = classify({"sjhm": ["138****5678", "139****0001", "186****2222"] * 50})
    assert found["sjhm"] == {"pi.phone"}


def test_sparse_free_text_counts(classify):
    rng = random.Random(4)
    remarks = ["空调异响，已更换滤芯"] * 997 + [
        f"客户来电{phone(rng)}反映异响" for _ in range(3)
    ]
    rng.shuffle(remarks)
    found = classify({"remark": remarks})
    assert "pi.phone" in found["remark"]


def test_track_context_labels_coordinates(classify):
    rng = random.Random(5)
    rows = 300
    found = classify(
        {
            "vin": [vin(rng) for _ in range(rows)],
            "ts": pa.array(
                [1_700_000_000_000 + i for i in range(rows)], pa.timestamp("ms")
            ),
            "lat": [round(rng.uniform(22, 40), 6) for _ in range(rows)],
            "lon": [round(rng.uniform(100, 120), 6) for _ in range(rows)],
        }
    )
    assert found["lat"] == {"spi.location"}
    assert found["lon"] == {"spi.location"}
    assert found[None] == {"spi.location"}


def test_coarse_coordinates_are_not_a_track(classify):
    rng = random.Random(6)
    rows = 50
    found = classify(
        {
            "city_code": [str(110000 + i) for i in range(rows)],
            "updated_at": ["2026-01-01"] * rows,
            "lat": [round(rng.uniform(22, 40), 2) for _ in range(rows)],
            "lon": [round(rng.uniform(100, 120), 2) for _ in range(rows)],
        }
    )
    assert found["lat"] == set()
    assert found[None] == set()


def test_face_vectors_are_biometric(classify):
    rng = random.Random(7)
    vectors = [[rng.random() for _ in range(128)] for _ in range(20)]
    found = classify(
        {
            "face_feature": pa.array(vectors, pa.list_(pa.float32())),
            "speed_vector": pa.array([v[:3] for v in vectors], pa.list_(pa.float32())),
        }
    )
    assert found["face_feature"] == {"spi.biometric"}
    assert found["speed_vector"] == set()


def test_children_under_14_mark_dataset(classify):
    rng = random.Random(8)
    ids = []
    for _ in range(40):
        born = f"{rng.randint(2016, 2020)}0{rng.randint(1, 9)}1{rng.randint(0, 9)}"
        body = f"110101{born}{rng.randint(0, 999):03d}"
        ids.append(
            body
            + "10X98765432"[
                sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11
            ]
        )
    found = classify({"sfzh": ids})
    assert found["sfzh"] == {"spi.id_number"}
    assert found[None] == {"spi.minor"}


def test_plain_columns_stay_unlabelled(classify):
    found = classify(
        {
            "amount": [12.5, 99.0, 7.25] * 30,
            "status": ["paid", "shipped", "refunded"] * 30,
            "city_name": ["北京", "上海", "广州"] * 30,
            "model_year_code": ["123", "456", "789"] * 30,
        }
    )
    assert all(
        found[name] == set()
        for name in ("amount", "status", "city_name", "model_year_code")
    )


def test_binary_and_empty_columns_do_not_crash(classify):
    found = classify(
        {
            "blob": pa.array([b"\x00\x01", None, b"\xff"], pa.binary()),
            "empty_phone": pa.array([None, None, None], pa.string()),
        }
    )
    assert found["blob"] == set()
    # A name alone on a column with no values stays under the label bar.
    assert found["empty_phone"] == set()


def test_wkt_track_is_location_not_card(classify):
    rng = random.Random(9)
    rows = 100
    found = classify(
        {
            "user_id": [str(rng.randint(1, 20)) for _ in range(rows)],
            "started_at": ["2026-03-01 10:00:00"] * rows,
            "geom": [
                f"LINESTRING ({rng.uniform(8, 9):.10f} {rng.uniform(47, 48):.10f}, "
                f"{rng.uniform(8, 9):.10f} {rng.uniform(47, 48):.10f})"
                for _ in range(rows)
            ],
        }
    )
    assert found["geom"] == {"spi.location"}
    assert found[None] == {"spi.location"}


def test_numeric_ids_are_not_sparse_phones(classify):
    rng = random.Random(10)
    ids = [rng.randint(1, 10**8) for _ in range(950)]
    ids += [int(phone(rng)) for _ in range(50)]
    found = classify({"host_id": ids})
    assert found["host_id"] == set()


def test_european_vin_without_check_digit(classify):
    rng = random.Random(11)
    chars = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
    vins = [
        "VF1"
        + "".join(rng.choice(chars) for _ in range(6))
        + "K"
        + "".join(rng.choice(chars) for _ in range(7))
        for _ in range(100)
    ]
    found = classify({"data.id": vins})
    assert found["data.id"] == {"pi.vin"}


@pytest.mark.parametrize(
    "column",
    [
        "emails[].createdDate",
        "versionName",
        "doorStatusDriver",
        "accounts[].accountType",
    ],
)
def test_hint_words_inside_other_names_do_not_label(classify, column):
    found = classify({column: ["2026-01-01", "ZOE", "closed", "MYRENAULT"] * 10})
    assert found[column] == set()


def test_personal_values_used_as_keys_are_masked():
    rules = load_rule_pack()
    classifiers = [cls(rules) for cls in load_plugins(CLASSIFIERS).values()]
    table = pa.table(
        {
            "13912340000.name": ["a", "b"],
            "owners.zhang.wei@example.org": ["c", "d"],
            "plain.name": ["e", "f"],
        }
    )
    results, _ = classify_sample(Sample(table=table), classifiers, rules)
    names = [column.name for column in results]
    assert "13912340000" not in " ".join(names)
    assert "zhang.wei@example.org" not in " ".join(names)
    assert "plain.name" in names
