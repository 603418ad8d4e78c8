"""Tables of valid and invalid values for every validator, and the contract."""

from __future__ import annotations

import datetime
import hashlib

import numpy as np
import pyarrow as pa
import pytest

from classifiers.validators import VALIDATORS, is_valid, normalise
from scanner.errors import UsageError

BCRYPT_TAIL = "R" * 22 + "h" * 31  # 22 characters of salt, 31 of hash
SHA512_CRYPT = "$6$rounds=5000$saltsalt$" + "a/b." * 21 + "Zz"
MD5_HEX = hashlib.md5(b"cardex").hexdigest()
SHA1_HEX = hashlib.sha1(b"cardex").hexdigest()
SHA256_HEX = hashlib.sha256(b"cardex").hexdigest()
SHA512_HEX = hashlib.sha512(b"cardex").hexdigest()

# name: (valid values, invalid values). Check digits of the valid values were
# computed with python-stdnum (resident ID, Luhn) or by hand (VIN).
CASES: dict[str, tuple[list[str], list[str]]] = {
    "resident_id": (
        [
            "440306198506123458",
            "110101199003071233",
            "11010519491231002X",
            "11010519491231002x",
            "650101200002291016",  # 29 February 2000
            "810000199408230021",  # Hong Kong resident's residence permit
            "350303900203307",  # 15-digit form, born 1990
            " 110101199003071233 ",
            "１１０１０１１９９００３０７１２３３",
        ],
        [
            "111111111111111111",
            "440306198506123459",  # wrong check character
            "123456789012345678",  # random digits
            "202103041234567890",  # an 18-digit order number
            "990101199003071237",  # province 99 does not exist
            "110101190002291233",  # 1900 was not a leap year
            "110101200002301231",  # 30 February
            "110101189912311231",  # born before 1900
            "11010119900307123Y",
            "11010119900307123",
            "1101011990030712334",
            "350303901303307",  # 15-digit form, month 13
            "0",
            "1",
            "",
        ],
    ),
    "resident_id_shape": (
        ["111111111111111111", "12345678901234567X", "123456789012345"],
        ["1234567890123456", "12345678901234567Y", "A23456789012345678", "0"],
    ),
    "passport": (
        [
            "E12345678",
            "EA1234567",
            "ef1260892",
            "G12345678",
            "PE1234567",
            "SE1234567",
            "DE1234567",
            "S12345678",
            "K12345678",
            "MA1234567",
        ],
        ["E1234567", "E123456789", "EI1234567", "EO1234567", "X12345678", "123456789"],
    ),
    "hk_macau_permit": (
        ["H12345678", "M1234567801", "C12345678", "h12345678"],
        ["H1234567", "H123456789", "A12345678", "HK1234567", "12345678"],
    ),
    "tw_permit": (["12345678", "07257456"], ["1234567", "123456789", "A1234567"]),
    "vin": (
        [
            "LSVAM4187C2184847",
            "LFV2A21K2F3012345",
            "1HGCM8267JA004352",
            "5YJ3E1EA6KF123456",
            "1M8GDM9AXKP042788",  # check digit X
            "lsvam4187c2184847",
        ],
        [
            "LSVAM4188C2184847",  # part-number-like, wrong check digit
            "LFV2A21K3F3012345",
            "WVWZZZ3CZWE123456",  # European VIN without a check digit
            "20210304723456789",  # digits only, although position 9 fits
            "12345678701234567",
            "ABCDEFGHJKLMNPRST",
            "LSVAI4187C2184847",  # I is not in the VIN alphabet
            "LSVAM4187C218484",
            "LSVAM4187C2184847A",
            "0",
        ],
    ),
    "vin_shape": (
        ["WVWZZZ3CZWE123456", "LSVAM4188C2184847"],
        [
            "12345678901234567",
            "ABCDEFGHJKLMNPRST",
            "WVWZZZ3CZWE12345O",
            "WVWZZZ3CZWE1234",
        ],
    ),
    "licence_plate": (
        [
            "京A12345",
            "京a12345",
            "川AD1234",
            "粤B·D12345",  # small new-energy vehicle
            "浙AF12345",
            "沪A-12345F",  # large new-energy vehicle
            "粤Z1234港",
            "京A1234警",
            "苏E 1234挂",
        ],
        [
            "京I12345",
            "京O12345",
            "京A1234",
            "京A1234567",
            "AA12345",
            "台A12345",
            "京AD12A45",
            "京A12345挂",
            "12345",
        ],
    ),
    "mobile_phone": (
        [
            "13800138000",
            "19912345678",
            "+8613800138000",
            "+86 138 0013 8000",
            "0086-138-0013-8000",
            "86 13800138000",
            "(+86) 138-0013-8000",
            "138.0013.8000",
            "１３８００１３８０００",
            "＋８６ １３８ ００１３ ８０００",
            "138－0013－8000",
        ],
        [
            "1380013800",  # 10 digits
            "138001380000",
            "12800138000",
            "23800138000",
            "+8513800138000",
            "138-0013-80001",
            "010-88888888",
            "0",
            "1",
        ],
    ),
    "landline_phone": (
        [
            "010-88888888",
            "01088888888",
            "(010)88888888",
            "(010) 8888 8888",
            "0755-8888888",
            "0755-88888888",
            "+86 10 8888 8888",
            "+86-755-88888888",
            "021-6888 8888 转 123",
            "010-88888888-123",
            "0571-88888888 ext. 12",
        ],
        [
            "010-8888888",  # 2-digit area codes take 8-digit numbers
            "010-08888888",
            "0755-1888888",
            "88888888",
            "0101234567",
            "0110-8888888",
            "13800138000",
            "0",
        ],
    ),
    "phone": (
        ["13800138000", "010-88888888", "+86 138 0013 8000"],
        ["12345", "1380013800", "88888888", "1"],
    ),
    "email": (
        [
            "a@b.co",
            "first.last@example.com",
            "user+tag@mail.example.cn",
            "o'brien@example.ie",
            "张三@例子.中国",
            "x@example.xn--fiqs8s",
            "l" * 64 + "@example.com",
        ],
        [
            "a@b",
            "a b@c.com",
            "a@@b.com",
            ".a@b.com",
            "a.@b.com",
            "a..b@c.com",
            "a@-b.com",
            "a@b-.com",
            "a@b..com",
            "@b.com",
            "a@",
            "a@b.c",
            "a@b.123",
            "l" * 65 + "@example.com",
            "a@" + "d" * 64 + ".com",
            "0",
            "true",
        ],
    ),
    "luhn": (
        [
            "79927398713",
            "18",
            "4111-1111-1111-1111",
            "1" * 63 + "5",
        ],
        ["79927398710", "7", "", "abc", "1" * 64 + "4", "4111 1111 1111 111a"],
    ),
    "bank_card": (
        [
            "6222021234567890128",
            "6222 0212 3456 7890 128",
            "4111111111111111",
            "4111-1111-1111-1111",
            "622848012345678900",
            "3566002020360505",
        ],
        [
            "1234567812345678",  # 16 random digits
            "4111111111111112",
            "0000000000000000",
            "411111111111111",
            "41111111111111111115",  # 20 digits that pass Luhn
            "0",
            "1",
        ],
    ),
    "bank_card_cn": (
        ["6222021234567890128", "622848012345678900"],
        ["4111111111111111", "6222021234567890127", "62"],
    ),
    "imei": (
        [
            "490154203237518",
            "352099001761481",
            "35-209900-176148-1",
            "35 209900 176148 1",
        ],
        [
            "490154203237519",
            "000000000000000",
            "49015420323751",
            "4901542032375180",
            "0",
        ],
    ),
    "imsi": (
        ["460001234567890", "460011234567890", "460111234567890", "460201234567890"],
        ["460101234567890", "46000123456789", "310150123456789", "4600012345678901"],
    ),
    "iccid": (
        [
            "89860012345678901238",
            "8986001234567890120",
            "8910042348144559361",
            "8986001234567890120F",
            "898604B7192271001234",
            "89860 01234 56789 01238",
        ],
        [
            "89860012345678901230",
            "19860012345678901233",  # passes Luhn but lacks the 89 prefix
            "891004234814455936",
            "898604B719227100123",
            "891004B7192271001234",
            "8986001234567890123F",
        ],
    ),
    "mac_address": (
        [
            "00:1A:2B:3C:4D:5E",
            "00-1a-2b-3c-4d-5e",
            "001a.2b3c.4d5e",
            "001A2B3C4D5E",
            "d0:50:99:84:a2:a0",
        ],
        [
            "00:00:00:00:00:00",
            "ff:ff:ff:ff:ff:ff",
            "FFFFFFFFFFFF",
            "000000000000",
            "202103041530",  # 12 decimal digits
            "00:1A:2B:3C:4D",
            "00:1A:2B-3C:4D:5E",
            "00:1A:2B:3C:4D:5G",
            "001A2B3C4D5",
        ],
    ),
    "ipv4": (
        ["192.168.1.1", "0.0.0.0", "255.255.255.255", " 8.8.8.8"],
        [
            "256.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            "1.2.3.04",
            "1..2.3",
            "1.2.3.4/24",
        ],
    ),
    "ipv6": (
        [
            "::",
            "::1",
            "2001:db8::1",
            "2001:0db8:0000:0000:0000:ff00:0042:8329",
            "2001:DB8::A",
            "fe80::1%eth0",
            "::ffff:192.0.2.1",
            "64:ff9b::192.0.2.33",
            "1:2:3:4:5:6:7::",
            "1:2:3:4:5:6:1.2.3.4",
        ],
        [
            "1::2::3",
            "1:2:3:4:5:6:7:8:9",
            "12345::1",
            "g::1",
            ":1",
            "1:",
            "1:2:3:4:5:6:7",
            "::ffff:256.0.0.1",
            "1.2.3.4",
        ],
    ),
    "ip_address": (["10.0.0.1", "::1"], ["localhost", "1.2.3", "0"]),
    "password_hash": (
        [
            "$2b$12$" + BCRYPT_TAIL,
            "$2a$04$" + BCRYPT_TAIL,
            "$2y$10$" + BCRYPT_TAIL,
            "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
            "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBs",
            SHA512_CRYPT,
            "$5$saltsalt$" + "b" * 43,
            "$1$saltsalt$" + "c" * 22,
            "$y$j9T$saltsaltsalt$" + "d" * 43,
            "pbkdf2_sha256$600000$salt123$SGFzaEhhc2hIYXNo+/8=",
            "argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdA$aGFzaGhhc2g",
            "bcrypt_sha256$$2b$12$" + BCRYPT_TAIL,
            "pbkdf2:sha256:600000$saltsalt$0a1b2c3d4e5f",
            "scrypt:32768:8:1$saltsalt$0a1b2c3d4e5f",
            "{SSHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",
        ],
        [
            "password",
            MD5_HEX,
            SHA256_HEX,
            "$2b$12$short",
            "$2b$99$" + BCRYPT_TAIL,
            "$2b$12$" + BCRYPT_TAIL + "x",
            MD5_HEX[:-1],
            "D" + MD5_HEX[1:].lower(),  # mixed letter case
            "pbkdf2_sha256$many$salt$hash",
            "0",
            "1",
        ],
    ),
    "hex_digest": (
        [MD5_HEX, SHA1_HEX, SHA256_HEX, SHA512_HEX, SHA256_HEX.upper()],
        [
            MD5_HEX[:31],
            MD5_HEX + "0",
            SHA256_HEX[:48],
            "0123456789abcdeF" * 2,
            "g" * 32,
            "123e4567-e89b-12d3-a456-426614174000",
        ],
    ),
    "base64_digest": (
        [
            "AAECAwQFBgcICQoLDA0ODw==",
            "AAECAwQFBgcICQoLDA0ODxAREhM=",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        ],
        ["AAECAwQFBgcICQoLDA0ODw", "AAECAwQFBgcICQoLDA0ODwAA", "hello world"],
    ),
    "masked": (
        [
            "138****5678",
            "138xxxx5678",
            "138XXXX5678",
            "6222-****-****-1234",
            "l***@example.com",
            "****1234",
            "510***********1234",
            "张*",
            "张*三",
            "*PRIVATE*",
            "***",
            "REDACTED",
            "<redacted>",
            "[REDACTED]",
            "(Redacted)",
            "１３８＊＊＊＊５６７８",
        ],
        [
            "13800138000",
            "Exxon",
            "hello world",
            "a*b",
            "2*3",
            "x",
            "0x1F",
            "C#",
            "*",
            "redacted text",
            "张三",
        ],
    ),
    "date": (
        [
            "2021-03-04",
            "2021/3/4",
            "2021.03.04",
            "20210304",
            "2021年3月4日",
            "2020-02-29",
            "2021-03-04T12:34:56Z",
            "2021-03-04 12:34",
            "2021-03-04 12:34:56.123+08:00",
            "20210304153000",
            "2021年3月4日 12:30",
            "2021年3月4日12:30",
            "1900-01-01",
        ],
        [
            "2021-02-29",
            "2021-13-01",
            "2021-00-10",
            "2021-01-32",
            "1899-12-31",
            "2100-01-01",
            "20211301",
            "2021034",
            "2021-3/4",
            "2021-0304",
            "2021-03-04T25:00",
            "2021-03-0412:30",
            "04/03/2021",
            "2021-03",
            "12345678",
            "0",
            "1",
        ],
    ),
}

TABLE = [
    pytest.param(name, value, expected, id=f"{name}-{kind}-{index}")
    for name, (valid, invalid) in CASES.items()
    for expected, kind, values in ((True, "valid", valid), (False, "invalid", invalid))
    for index, value in enumerate(values)
]


@pytest.mark.parametrize(("name", "value", "expected"), TABLE)
def test_table_case(name: str, value: str, expected: bool) -> None:
    assert is_valid(name, value) is expected, f"{name}({value!r})"


@pytest.mark.parametrize("name", sorted(CASES))
def test_table_as_one_array(name: str) -> None:
    """A whole table in one call returns the same results as value by value."""
    valid, invalid = CASES[name]
    values = [*valid, None, *invalid]
    expected = [True] * len(valid) + [False] + [False] * len(invalid)

    result = VALIDATORS[name](pa.array(values, type=pa.string()))

    assert result.tolist() == expected


def test_every_validator_has_cases() -> None:
    assert set(CASES) == set(VALIDATORS)


def test_resident_id_rejects_future_birth_year() -> None:
    next_year = datetime.date.today().year + 1
    body = f"110101{next_year}0101123"
    weights = [2 ** (17 - i) % 11 for i in range(17)]
    check = (12 - sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11) % 11
    number = body + ("X" if check == 10 else str(check))

    assert not is_valid("resident_id", number)
    assert is_valid("resident_id_shape", number)


ODD_VALUES = [
    None,
    "",
    " ",
    "0",
    "x" * 10_000,
    "张三",
    "😀" * 6,
    "\x00" * 18,
    "１２３４５６７８９０１２３４５６７８",
    "LSVAM4187C2184847",
    "13800138000",
]


@pytest.mark.parametrize("name", sorted(VALIDATORS))
def test_contract_on_odd_values(name: str) -> None:
    result = VALIDATORS[name](pa.array(ODD_VALUES, type=pa.string()))

    assert isinstance(result, np.ndarray)
    assert result.dtype == np.bool_
    assert result.shape == (len(ODD_VALUES),)
    assert not result[0], "null must be False"


@pytest.mark.parametrize("name", sorted(VALIDATORS))
def test_contract_on_empty_input(name: str) -> None:
    empty = VALIDATORS[name](pa.array([], type=pa.string()))
    no_chunks = VALIDATORS[name](pa.chunked_array([], type=pa.string()))

    assert empty.shape == (0,)
    assert no_chunks.shape == (0,)


MIXED = [
    "110101199003071233",
    None,
    "LSVAM4187C2184847",
    "6222021234567890128",
    "13800138000",
    "１３８００１３８０００",
    "2021-03-04",
    "38****5678",
    "00:1a:2b:3c:4d:5e",
    "350303900203307",
]


@pytest.mark.parametrize("name", sorted(VALIDATORS))
def test_chunked_sliced_and_large_inputs_agree(name: str) -> None:
    check = VALIDATORS[name]
    expected = check(pa.array(MIXED, type=pa.string()))

    chunked = pa.chunked_array([MIXED[:3], MIXED[3:4], MIXED[4:]], type=pa.string())
    padded = pa.array(["pad", *MIXED, "pad"], type=pa.string())
    large = pa.array(MIXED, type=pa.large_string())

    assert check(chunked).tolist() == expected.tolist()
    assert check(padded.slice(1, len(MIXED))).tolist() == expected.tolist()
    assert check(large).tolist() == expected.tolist()


@pytest.mark.parametrize("name", ["resident_id", "vin", "bank_card", "date"])
def test_dictionary_and_view_inputs_agree(name: str) -> None:
    check = VALIDATORS[name]
    expected = check(pa.array(MIXED, type=pa.string())).tolist()

    dictionary = pa.array(MIXED, type=pa.string()).dictionary_encode()
    view = pa.array(MIXED, type=pa.string_view())

    assert check(dictionary).tolist() == expected
    assert check(view).tolist() == expected


def test_integer_input_is_cast_to_string() -> None:
    values = pa.array([110101199003071233, 123456789012345678], type=pa.int64())

    assert VALIDATORS["resident_id"](values).tolist() == [True, False]


def test_uncastable_input_raises_type_error() -> None:
    values = pa.array([[1, 2]], type=pa.list_(pa.int64()))

    with pytest.raises(TypeError, match="cast"):
        VALIDATORS["vin"](values)


def test_is_valid_unknown_name() -> None:
    with pytest.raises(UsageError, match="resident_id"):
        is_valid("resident", "110101199003071233")


def test_validators_describe_themselves() -> None:
    for name, registered in VALIDATORS.items():
        assert registered.name == name
        assert registered.description, name


def test_normalise_folds_full_width() -> None:
    values = pa.array(["１３８００１３８０００", "＋８６", "ＡＢｃ", "（０１０）"])

    assert normalise(values).to_pylist() == ["13800138000", "+86", "ABc", "(010)"]


def test_normalise_trims_and_replaces_dashes() -> None:
    values = pa.array(["  138 ", "\u3000abc\u3000", "010\u2013888", "a\u2212b", None])

    assert normalise(values).to_pylist() == ["138", "abc", "010-888", "a-b", None]


def test_normalise_keeps_chunks() -> None:
    values = pa.chunked_array([["１"], ["２", None]])

    result = normalise(values)

    assert isinstance(result, pa.ChunkedArray)
    assert result.num_chunks == 2
    assert result.to_pylist() == ["1", "2", None]


def test_normalise_leaves_plate_separator() -> None:
    assert normalise(pa.array(["粤B·D12345"])).to_pylist() == ["粤B·D12345"]
