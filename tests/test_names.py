import pytest

from classifiers.names import match_hint, tokenize
from classifiers.rulepack import load_rule_pack


@pytest.fixture(scope="module")
def pack():
    return load_rule_pack()


@pytest.mark.parametrize(
    ("name", "tokens"),
    [
        ("owner_name", ("owner", "name")),
        ("ownerPhone", ("owner", "phone")),
        ("clientIP", ("client", "ip")),
        ("IMEI", ("imei",)),
        ("owner.phones[]", ("owner", "phone")),
        ("T_USER_MOBILE", ("t", "user", "mobile")),
        ("联系电话", ("联系电话",)),
    ],
)
def test_tokenize_splits_case_and_separators(name, tokens):
    assert tokenize(name) == tokens


@pytest.mark.parametrize(
    ("column", "label_id"),
    [
        ("sjhm", "pi.phone"),
        ("联系电话", "pi.phone"),
        ("owner.phones[]", "pi.phone"),
        ("sfzh", "spi.id_number"),
        ("身份证号", "spi.id_number"),
        ("cph", "pi.licence_plate"),
        ("clsbdh", "pi.vin"),
        ("xm", "pi.name"),
        ("客户姓名", "pi.name"),
        ("csrq", "pi.birth_date"),
        ("xb", "pi.gender"),
        ("contactEmail", "pi.email"),
        ("pwd_hash", "spi.credential"),
    ],
)
def test_hints_match_three_spellings(pack, column, label_id):
    assert match_hint(column, pack[label_id]) is not None


@pytest.mark.parametrize(
    ("column", "label_id"),
    [
        ("city_name", "pi.name"),
        ("part_name", "pi.name"),
        ("email_verified", "pi.email"),
        ("phone_bound", "pi.phone"),
        ("has_id_card", "spi.id_number"),
        ("name_zh", "pi.account"),
        ("password_expiry", "spi.credential"),
        ("plate_color", "pi.licence_plate"),
    ],
)
def test_hints_respect_exclusions(pack, column, label_id):
    assert match_hint(column, pack[label_id]) is None
