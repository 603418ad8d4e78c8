"""Tests for the free-text classifier and its presidio engine."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pyarrow as pa
import pytest

from classifiers.base import ClassificationInput, Finding
from classifiers.presidio_engine import (
    PATTERN_RECOGNIZERS,
    BlankSpacyNlpEngine,
    ValidatedPatternRecognizer,
    ValidationCache,
    get_text_engine,
)
from classifiers.profile import profile_column
from classifiers.text import (
    MAX_COLUMN_CHARS,
    MAX_TEXT_CHARS,
    FreeTextClassifier,
    finding_score,
    is_free_text,
    plan_analysis,
    string_values,
)
from classifiers.validators import VALIDATORS, is_valid
from scanner.model import Sample

REPO_ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path(
    os.environ.get("CARDEX_DATASETS", REPO_ROOT.parent / "shared" / "datasets")
)

# GB 11643 weights of the first 17 digits and the check characters by remainder.
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
VIN_VALUES = {
    **{str(digit): digit for digit in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)

# Remarks without personal information, mixed into every test column.
FILLER = (
    "客户反映刹车异响，已检查",
    "周末保养，更换机油滤芯",
    "高速行驶时方向盘抖动",
    "车机应用闪退，已升级固件",
    "订单已发货，预计三天到达",
    "空调制冷效果差，补充冷媒",
    "左前轮胎压偏低，已充气",
    "洗车后交车，客户满意",
)


def resident_id(first17: str) -> str:
    total = sum(
        int(digit) * weight for digit, weight in zip(first17, ID_WEIGHTS, strict=True)
    )
    return first17 + ID_CHECK[total % 11]


def luhn_complete(digits: str) -> str:
    for check in "0123456789":
        candidate = digits + check
        total = 0
        for position, char in enumerate(reversed(candidate)):
            value = int(char) * (2 if position % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable: one check digit always fits")


def with_vin_check(vin: str) -> str:
    total = sum(
        VIN_VALUES[char] * weight for char, weight in zip(vin, VIN_WEIGHTS, strict=True)
    )
    check = "X" if total % 11 == 10 else str(total % 11)
    return vin[:8] + check + vin[9:]


ID_NUMBER = resident_id("11010519900307123")
CARD = luhn_complete("622202123456789012")
VIN = with_vin_check("LSVAU2180N2183294")


def classify(
    columns: dict[str, list[str | None]], max_values: int = 500
) -> list[Finding]:
    table = pa.table(columns)
    data = ClassificationInput(
        sample=Sample(table),
        columns={name: table.column(name) for name in table.column_names},
        profiles={
            name: profile_column(name, table.column(name))
            for name in table.column_names
        },
    )
    return list(FreeTextClassifier(None, max_values=max_values).classify(data))


def labels_in(remark: str) -> set[str]:
    findings = classify({"remark": [remark, *FILLER]})
    return {finding.label_id for finding in findings}


POSITIVE_REMARKS = [
    ("客户张伟来电，电话13812345678，反映刹车异响", {"pi.name", "pi.phone"}),
    ("联系人：王芳，手机 139-0000-1111，周六到店", {"pi.name", "pi.phone"}),
    ("回访电话 +86 139 0000 1111，已预约保养", {"pi.phone"}),
    ("来电号码１５０１２３４５６７８，要求回电", {"pi.phone"}),
    ("国际来电 0086-13912345678 咨询召回", {"pi.phone"}),
    ("门店座机 (0755)86001234 转 8001", {"pi.phone"}),
    (f"核验身份证{ID_NUMBER}后交车", {"spi.id_number"}),
    ("发票已发送至 zhang.wei@example.com 请查收", {"pi.email"}),
    (
        f"退款至银行卡 {CARD[:4]} {CARD[4:8]} {CARD[8:12]} {CARD[12:16]} {CARD[16:]}",
        {"spi.bank_card"},
    ),
    (f"车牌京A12345，车架号{VIN}进店检查", {"pi.licence_plate", "pi.vin"}),
    ("新能源车粤B·D12345到店充电", {"pi.licence_plate"}),
    ("车机上报IP 192.168.10.25 后离线", {"pi.ip_address"}),
    ("T-Box address 2001:db8::8a2e:370:7334 lost", {"pi.ip_address"}),
    ("Customer called from 0086-13912345678 about the recall", {"pi.phone"}),
    ("车主李秀英女士预约周末保养", {"pi.name"}),
    ("客户欧阳娜娜到店提车", {"pi.name"}),
]

NEGATIVE_REMARKS = [
    "订单号 202405010001234567 已发货",
    "工单 110105199003071230 已关闭",
    "流水号 6222021234567890 对账完成",
    "配件号 5QD-819-031-A 缺货，预计下周到",
    "零件号 8K0698151A 已更换",
    "价格 12800.00 元，工时费 350 元",
    "2024-05-01 10:30 到店检查，2024-05-03 交车",
    "固件版本 v2.1.0.15 已推送",
    "王者荣耀车机应用闪退",
    "高速公路行驶时方向盘抖动",
    "周末保养，更换机油滤芯",
    "黄金会员，金额500元，马上到店",
    "客户周末保养",
    "张先生来电咨询保养",
]


@pytest.mark.parametrize(("remark", "expected"), POSITIVE_REMARKS)
def test_remark_labels_found(remark: str, expected: set[str]) -> None:
    assert labels_in(remark) == expected


@pytest.mark.parametrize("remark", NEGATIVE_REMARKS)
def test_remark_without_personal_information(remark: str) -> None:
    assert labels_in(remark) == set()


def test_negative_numbers_fail_their_checks() -> None:
    # The look-alike numbers above must really fail, or the negatives prove nothing.
    assert not is_valid("resident_id", "110105199003071230")
    assert not is_valid("resident_id", "202405010001234567")
    assert not is_valid("bank_card", "6222021234567890")
    assert is_valid("resident_id", ID_NUMBER)
    assert is_valid("bank_card", CARD)
    assert is_valid("vin", VIN)


def sparse_remarks(phones: dict[int, str], rows: int = 1_000) -> list[str | None]:
    generator = random.Random(7)
    remarks: list[str | None] = [generator.choice(FILLER) for _ in range(rows)]
    for index, phone in phones.items():
        remarks[index] = f"客户来电 {phone} 要求回访"
    return remarks


SPARSE_PHONES = {
    10: "13812345678",
    500: "+86 139 0000 1111",
    990: "１５０１２３４５６７８",
}


def test_three_phones_in_thousand_remarks() -> None:
    findings = classify({"remark": sparse_remarks(SPARSE_PHONES)})

    assert [finding.label_id for finding in findings] == ["pi.phone"]
    phone = findings[0]
    assert phone.matches == 3
    assert phone.non_null == 1_000
    assert 0.7 <= phone.score <= 0.85
    assert phone.source == "text"
    assert phone.rule_id == "text.pi.phone"


def test_phones_found_beyond_value_limit() -> None:
    # Values with digit runs are analysed before values with only a surname.
    findings = classify({"remark": sparse_remarks(SPARSE_PHONES)}, max_values=10)

    phone = next(finding for finding in findings if finding.label_id == "pi.phone")
    assert phone.matches == 3
    assert phone.examined < phone.non_null
    assert any("not analysed" in signal for signal in phone.signals)


def test_examples_mask_phone_numbers() -> None:
    findings = classify({"remark": sparse_remarks(SPARSE_PHONES)})
    examples = [example for finding in findings for example in finding.masked_examples]
    raw_digits = {
        re.sub(r"\D", "", unicodedata.normalize("NFKC", phone))[-11:]
        for phone in SPARSE_PHONES.values()
    }

    assert len(examples) == 3
    for example in examples:
        assert "*" in example
        assert example not in SPARSE_PHONES.values()
        digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", example))
        assert all(number not in digits for number in raw_digits)
        assert "客户" not in example  # the masked span, not the whole remark


RAW_IDENTIFIERS = (
    "13812345678",
    "13900001111",
    "12345678",
    "86001234",
    ID_NUMBER,
    CARD,
    VIN,
    "zhang.wei@example.com",
    "京A12345",
    "D12345",
    "192.168.10.25",
    "2001:db8::8a2e:370:7334",
    "张伟",
    "王芳",
    "李秀英",
    "欧阳娜娜",
)


def test_examples_mask_each_label() -> None:
    remarks = [remark for remark, _ in POSITIVE_REMARKS]
    findings = classify({"remark": remarks})
    examples = [example for finding in findings for example in finding.masked_examples]

    assert len(findings) == 8
    for example in examples:
        assert "*" in example
        folded = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", example))
        for identifier in RAW_IDENTIFIERS:
            assert identifier not in folded, example


def test_short_code_column_not_free_text() -> None:
    codes = [f"ORD-{index:08d}" for index in range(300)]
    phones = [f"1381234{index:04d}" for index in range(300)]

    assert classify({"code": codes, "phone": phones}) == []
    assert not is_free_text(string_values(pa.chunked_array([codes])))
    assert not is_free_text(string_values(pa.chunked_array([phones])))


def test_remarks_are_free_text() -> None:
    assert is_free_text(string_values(pa.chunked_array([list(FILLER)])))
    english = ["brake noise when turning left", "customer asked for a call back"]
    assert is_free_text(string_values(pa.chunked_array([english])))


def test_non_string_columns_ignored() -> None:
    table_columns = {"mileage": pa.array([13812345678] * 20, pa.int64())}
    table = pa.table(table_columns)
    data = ClassificationInput(Sample(table), {"mileage": table.column("mileage")}, {})
    assert list(FreeTextClassifier(None).classify(data)) == []


def test_nulls_and_blanks_not_counted() -> None:
    remarks = ["客户张伟来电，电话13812345678", None, "   ", *FILLER]
    phone = next(f for f in classify({"remark": remarks}) if f.label_id == "pi.phone")
    assert phone.non_null == len(FILLER) + 1
    assert phone.matches == 1


def test_prefilter_skips_plain_text() -> None:
    values = pa.array(["brake noise checked", "tyres rotated", "客户来电 13812345678"])
    plan = plan_analysis(values, max_values=500)
    assert plan.texts == ["客户来电 13812345678"]
    assert plan.examined == 3
    assert plan.not_analysed == 0


def test_prefilter_bounds_characters() -> None:
    long_remark = "客户来电 13812345678 " + "反映刹车异响，" * 300
    values = pa.array([long_remark] * 300)
    plan = plan_analysis(values, max_values=500)
    total = sum(min(len(text), MAX_TEXT_CHARS) for text in plan.texts)
    assert total <= MAX_COLUMN_CHARS
    assert len(plan.texts) + plan.not_analysed == 300
    assert plan.not_analysed > 0


def test_score_rises_with_count_and_share() -> None:
    assert finding_score(1, 1_000, 1.0) == pytest.approx(0.5, abs=0.01)
    assert finding_score(2, 1_000, 1.0) == pytest.approx(0.6, abs=0.01)
    assert finding_score(3, 1_000, 1.0) == pytest.approx(0.7, abs=0.01)
    assert finding_score(20, 1_000, 1.0) == pytest.approx(0.86, abs=0.01)
    assert finding_score(500, 500, 1.0) == 0.95
    assert finding_score(0, 1_000, 1.0) == 0.0
    scores = [finding_score(rows, 1_000, 1.0) for rows in range(1, 300)]
    assert scores == sorted(scores)


def test_max_values_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_values"):
        FreeTextClassifier(None, max_values=0)


def test_recognizer_validators_registered() -> None:
    for kind in PATTERN_RECOGNIZERS:
        assert kind.VALIDATOR in VALIDATORS, kind.__name__


def test_bulk_validation_agrees_with_single() -> None:
    values = ["13812345678", "12345678901", "1381234567", "19912345678"]
    cache = ValidationCache()
    cache.check_many("mobile_phone", values)
    for value in values:
        assert cache.check("mobile_phone", value) == is_valid("mobile_phone", value)


def test_validation_cache_bounded() -> None:
    cache = ValidationCache(max_entries=3)
    cache.check_many("email", [f"user{index}@example.com" for index in range(10)])
    assert cache.check("email", "user9@example.com")
    assert len(cache._results) <= 3


def test_engine_built_once_with_own_recognizers() -> None:
    engine = get_text_engine()
    assert get_text_engine() is engine

    recognizers = engine.analyzer.registry.recognizers
    assert all(type(r).__module__.startswith("classifiers.") for r in recognizers)
    assert any(isinstance(r, ValidatedPatternRecognizer) for r in recognizers)


def test_engine_uses_blank_pipelines() -> None:
    nlp_engine = get_text_engine().analyzer.nlp_engine
    assert isinstance(nlp_engine, BlankSpacyNlpEngine)
    assert sorted(nlp_engine.pipelines) == ["en", "zh"]
    for pipeline in nlp_engine.pipelines.values():
        assert pipeline.pipe_names == []
    assert nlp_engine.get_supported_entities() == []


def test_chinese_tokens_match_text() -> None:
    nlp_engine = get_text_engine().analyzer.nlp_engine
    text = "客户 张伟\n电话：138-1234-5678，邮箱a@b.cn 😀"
    artifacts = nlp_engine.process_text(text, "zh")
    assert artifacts.tokens.text == text
    assert "张伟" in [token.text for token in artifacts.tokens]


# Run in a fresh interpreter so the engine is built from scratch, with every
# way of loading a spaCy model or opening a connection turned into an error.
OFFLINE_BUILD = """
import json, socket
import spacy, spacy.util

def fail_on_call(*args, **kwargs):
    raise AssertionError("unexpected call while building the engine")

spacy.load = fail_on_call
spacy.util.load_model = fail_on_call
spacy.util.get_installed_models = fail_on_call
spacy.util.is_package = fail_on_call
socket.socket.connect = fail_on_call
socket.create_connection = fail_on_call
socket.getaddrinfo = fail_on_call

from classifiers.presidio_engine import get_text_engine

engine = get_text_engine()
results = engine.analyze("客户张伟电话13812345678", "zh")
pipelines = engine.analyzer.nlp_engine.pipelines
print(json.dumps({
    "entities": sorted(r.entity_type for r in results),
    "components": {lang: p.pipe_names for lang, p in pipelines.items()},
    "start_seconds": engine.start_seconds,
}))
"""


def test_engine_builds_offline_without_model() -> None:
    environment = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONPATH": str(REPO_ROOT),
    }
    completed = subprocess.run(
        [sys.executable, "-c", OFFLINE_BUILD],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["entities"] == ["pi.name", "pi.phone"]
    assert report["components"] == {"zh": [], "en": []}
    assert report["start_seconds"] > 0


def read_addresses(path: Path, limit: int) -> list[str]:
    addresses: list[str] = []
    characters: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            characters.append(line.rsplit(" ", 1)[0])
        elif characters:
            addresses.append("".join(characters))
            characters = []
        if len(addresses) >= limit:
            break
    return addresses


@pytest.mark.datasets
def test_address_column_not_named() -> None:
    # Real addresses are full of place names that start with surname
    # characters (杨浦区, 陈庄村); they must not make a confident name label.
    path = DATASETS / "neural-chinese-address-parsing" / "dev.txt"
    if not path.exists():
        pytest.skip(f"test material not found at {path}; set CARDEX_DATASETS")
    addresses = read_addresses(path, limit=500)

    findings = classify({"address": addresses})
    names = [finding for finding in findings if finding.label_id == "pi.name"]
    assert all(finding.score < 0.5 for finding in names)
    assert all(finding.matches <= 0.05 * len(addresses) for finding in names)
