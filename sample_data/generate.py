"""Generate the cardex sample lake and its ground truth.

Usage: ``python sample_data/generate.py [OUTDIR]`` (default: this folder).

Every value is fake but valid by its own check where it is meant to be a
positive: resident ID numbers (GB 11643: real region code, real birth date,
ISO 7064 MOD 11-2 check character), VINs (GB 16735 check digit in position 9),
bank cards, IMEIs and ICCIDs (Luhn). Look-alike negatives are verified to fail
the same checks. The output is deterministic: fixed seeds, no clock, no
network, so two runs with the same Python and library versions write
identical bytes.

``truth.json`` lists every dataset and every column with the label ids that
a correct scan gives them (an empty list means "no label").
"""

from __future__ import annotations

import argparse
import codecs
import csv
import datetime as dt
import gzip
import io
import json
import math
import random
import sqlite3
import string
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SEED = "cardex-sample-lake-v1"
DEFAULT_OUTDIR = Path(__file__).resolve().parent

# Rows per dataset.
FLEET_SIZE = 420
GBK_OWNERS = 300
PINYIN_OWNERS = 200
TRIP_DAYS = ("2026-01-01", "2026-01-02", "2026-01-03")
TRIPS_PER_DAY = 25
POINTS_PER_TRIP = 200
TRIP_INTERVAL_S = 5
APP_USERS = 250
TICKETS = 240
# One ticket remark in 40 quotes a caller's name and phone number.
TICKET_PI_EVERY = 40
STATUS_VEHICLES = 50
STATUS_SNAPSHOTS = 3
DMS_DRIVERS = 20
DMS_CAPTURES = 5
FACE_DIMENSIONS = 128

Truth = dict[str, Any]

# ---------------------------------------------------------------------------
# Check characters and digits
# ---------------------------------------------------------------------------

# GB 11643-1999: weights 2^(17-i) mod 11 for i = 0..16, and the ISO 7064
# MOD 11-2 check characters indexed by the weighted sum mod 11.
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
# First two digits of the region code: provinces, HK, Macau and Taiwan.
ID_PROVINCES = frozenset((
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34",
    "35", "36", "37", "41", "42", "43", "44", "45", "46", "50", "51", "52",
    "53", "54", "61", "62", "63", "64", "65", "71", "81", "82",
))  # fmt: skip

# GB 16735 / ISO 3779: position weights and letter transliteration.
VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
VIN_LETTER_VALUES = dict(
    zip(
        "ABCDEFGHJKLMNPRSTUVWXYZ",
        (1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9),
        strict=True,
    )
)
VIN_ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"


def resident_id_check_char(first17: str) -> str:
    """Compute the GB 11643 check character of the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARS[total % 11]


def is_valid_resident_id(value: str) -> bool:
    """Check an 18-character resident ID: province, birth date, check character."""
    value = value.upper()
    if len(value) != 18 or not value[:17].isdigit():
        return False
    if value[:2] not in ID_PROVINCES:
        return False
    try:
        dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    return resident_id_check_char(value[:17]) == value[17]


def vin_check_digit(vin: str) -> str:
    """Compute the GB 16735 check digit (position 9) of a 17-character VIN."""
    total = 0
    for char, weight in zip(vin, VIN_WEIGHTS, strict=True):
        value = int(char) if char.isdigit() else VIN_LETTER_VALUES[char]
        total += value * weight
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def is_valid_vin(value: str) -> bool:
    """Check length, alphabet (no I, O, Q) and the position-9 check digit."""
    if len(value) != 17 or any(c not in VIN_ALPHABET for c in value):
        return False
    return vin_check_digit(value) == value[8]


def luhn_check_digit(payload: str) -> str:
    """Compute the Luhn digit that makes ``payload + digit`` pass."""
    total = 0
    for position, char in enumerate(reversed(payload)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def passes_luhn(value: str) -> bool:
    return value.isdigit() and luhn_check_digit(value[:-1]) == value[-1]


# ---------------------------------------------------------------------------
# Reference lists
# ---------------------------------------------------------------------------

SURNAMES = (
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"),
    ("杨", "yang"), ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"),
    ("徐", "xu"), ("孙", "sun"), ("马", "ma"), ("朱", "zhu"), ("胡", "hu"),
    ("郭", "guo"), ("何", "he"), ("林", "lin"), ("罗", "luo"), ("高", "gao"),
    ("郑", "zheng"), ("梁", "liang"), ("谢", "xie"), ("宋", "song"), ("唐", "tang"),
    ("韩", "han"), ("冯", "feng"), ("邓", "deng"), ("曹", "cao"), ("彭", "peng"),
    ("曾", "zeng"), ("肖", "xiao"), ("田", "tian"), ("董", "dong"), ("潘", "pan"),
    ("袁", "yuan"), ("蔡", "cai"), ("蒋", "jiang"), ("余", "yu"), ("杜", "du"),
    ("叶", "ye"), ("程", "cheng"), ("魏", "wei"), ("苏", "su"), ("吕", "lv"),
    ("丁", "ding"), ("任", "ren"), ("沈", "shen"), ("欧阳", "ouyang"),
    ("司马", "sima"),
)  # fmt: skip
GIVEN_MALE = (
    ("伟", "wei"), ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"),
    ("勇", "yong"), ("杰", "jie"), ("涛", "tao"), ("明", "ming"), ("超", "chao"),
    ("刚", "gang"), ("平", "ping"), ("辉", "hui"), ("鹏", "peng"), ("华", "hua"),
    ("飞", "fei"), ("鑫", "xin"), ("波", "bo"), ("斌", "bin"), ("宇", "yu"),
    ("浩", "hao"), ("凯", "kai"), ("健", "jian"), ("俊", "jun"), ("帆", "fan"),
    ("旭", "xu"), ("宁", "ning"), ("龙", "long"), ("博", "bo"), ("晨", "chen"),
    ("志", "zhi"), ("建", "jian"), ("国", "guo"), ("文", "wen"),
)  # fmt: skip
GIVEN_FEMALE = (
    ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"),
    ("艳", "yan"), ("娟", "juan"), ("霞", "xia"), ("秀", "xiu"), ("玲", "ling"),
    ("燕", "yan"), ("红", "hong"), ("婷", "ting"), ("雪", "xue"), ("琳", "lin"),
    ("晶", "jing"), ("颖", "ying"), ("倩", "qian"), ("慧", "hui"), ("佳", "jia"),
    ("欣", "xin"), ("雅", "ya"), ("梅", "mei"), ("莉", "li"), ("萍", "ping"),
    ("月", "yue"), ("璐", "lu"), ("瑶", "yao"), ("怡", "yi"),
)  # fmt: skip


@dataclass(frozen=True)
class City:
    name: str
    province: str  # empty for the four municipalities
    lat: float
    lon: float
    plates: tuple[str, ...]
    adcode: str


@dataclass(frozen=True)
class District:
    code: str  # GB/T 2260 county-level code, used as the ID region code
    city: City
    name: str

    @property
    def prefix(self) -> str:
        """Return the address prefix, e.g. 广东省深圳市南山区."""
        return f"{self.city.province}{self.city.name}{self.name}"


CITIES = {
    "北京": City("北京市", "", 39.904211, 116.407395, ("京A", "京N", "京Q"), "110100"),
    "上海": City("上海市", "", 31.230416, 121.473701, ("沪A", "沪B", "沪D"), "310100"),
    "天津": City("天津市", "", 39.084158, 117.200983, ("津A", "津C"), "120100"),
    "重庆": City("重庆市", "", 29.563010, 106.551557, ("渝A", "渝B"), "500100"),
    "广州": City("广州市", "广东省", 23.129110, 113.264385, ("粤A",), "440100"),
    "深圳": City("深圳市", "广东省", 22.543096, 114.057865, ("粤B",), "440300"),
    "杭州": City("杭州市", "浙江省", 30.274085, 120.155070, ("浙A",), "330100"),
    "南京": City("南京市", "江苏省", 32.060255, 118.796877, ("苏A",), "320100"),
    "成都": City("成都市", "四川省", 30.572815, 104.066801, ("川A",), "510100"),
    "武汉": City("武汉市", "湖北省", 30.592849, 114.305539, ("鄂A",), "420100"),
    "西安": City("西安市", "陕西省", 34.341568, 108.940174, ("陕A",), "610100"),
    "青岛": City("青岛市", "山东省", 36.067082, 120.382640, ("鲁B",), "370200"),
    "长沙": City("长沙市", "湖南省", 28.228209, 112.938814, ("湘A",), "430100"),
    "沈阳": City("沈阳市", "辽宁省", 41.805699, 123.431472, ("辽A",), "210100"),
    "厦门": City("厦门市", "福建省", 24.479834, 118.089425, ("闽D",), "350200"),
    "合肥": City("合肥市", "安徽省", 31.820587, 117.227239, ("皖A",), "340100"),
    "郑州": City("郑州市", "河南省", 34.746599, 113.625368, ("豫A",), "410100"),
    "长春": City("长春市", "吉林省", 43.817072, 125.323544, ("吉A",), "220100"),
    "昆明": City("昆明市", "云南省", 25.040609, 102.712251, ("云A",), "530100"),
}

DISTRICTS = tuple(
    District(code, CITIES[city], name)
    for code, city, name in (
        ("110101", "北京", "东城区"), ("110105", "北京", "朝阳区"),
        ("110108", "北京", "海淀区"), ("310104", "上海", "徐汇区"),
        ("310105", "上海", "长宁区"), ("310115", "上海", "浦东新区"),
        ("120101", "天津", "和平区"), ("120103", "天津", "河西区"),
        ("500103", "重庆", "渝中区"), ("500106", "重庆", "沙坪坝区"),
        ("440104", "广州", "越秀区"), ("440106", "广州", "天河区"),
        ("440304", "深圳", "福田区"), ("440305", "深圳", "南山区"),
        ("330102", "杭州", "上城区"), ("330106", "杭州", "西湖区"),
        ("320102", "南京", "玄武区"), ("320106", "南京", "鼓楼区"),
        ("510104", "成都", "锦江区"), ("510107", "成都", "武侯区"),
        ("420106", "武汉", "武昌区"), ("610113", "西安", "雁塔区"),
        ("370202", "青岛", "市南区"), ("430104", "长沙", "岳麓区"),
        ("210102", "沈阳", "和平区"), ("350203", "厦门", "思明区"),
        ("340104", "合肥", "蜀山区"), ("410105", "郑州", "金水区"),
        ("220104", "长春", "朝阳区"), ("530102", "昆明", "五华区"),
    )
)  # fmt: skip

ROADS = (
    "人民路", "中山路", "解放路", "建设路", "和平路", "新华路", "胜利路", "文化路",
    "学府路", "科技路", "滨江路", "光明路", "长江路", "黄河路", "青年路", "花园路",
)  # fmt: skip
ESTATES = (
    "阳光花园", "翠苑小区", "锦绣华庭", "金色家园", "书香门第", "滨江名苑",
    "幸福里", "紫荆公寓", "绿城桂花园", "世纪新城",
)  # fmt: skip
MAIL_DOMAINS = ("163.com", "126.com", "qq.com", "sina.com", "outlook.com", "139.com")
# Mobile number segments (号段) assigned to the three mainland operators.
MOBILE_PREFIXES = (
    *(f"13{d}" for d in range(10)), "145", "147", "150", "151", "152", "153",
    "155", "156", "157", "158", "159", "166", "173", "175", "176", "177", "178",
    *(f"18{d}" for d in range(10)), "191", "198", "199",
)  # fmt: skip

AREA_CODES = ("010", "021", "022", "023", "020", "0755", "0571", "025", "028")
# UnionPay issuer prefixes of mainland banks.
CARD_BINS = ("622202", "622848", "621700", "622588", "622262", "621661", "623058")
# World manufacturer identifiers of makers in China (all start with L).
WMIS = ("LSV", "LFV", "LGB", "LRW", "LSG", "LVS", "LBV", "LGX", "LHG", "LVG")
# Position 10 model-year codes for 2019-2025.
MODEL_YEARS = "KLMNPRS"
# Plate letters leave out I and O, which read as 1 and 0.
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"

# ---------------------------------------------------------------------------
# People and vehicles
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    name: str
    surname: str
    pinyin: tuple[str, str]  # surname, given name (joined syllables)
    gender: str  # 男 or 女
    birth: dt.date
    id_number: str
    mobile: str
    email: str
    district: District
    address: str
    bank_card: str

    @property
    def latin_name(self) -> str:
        return f"{self.pinyin[0].capitalize()} {self.pinyin[1].capitalize()}"


@dataclass(frozen=True)
class Vehicle:
    vin: str
    plate: str
    owner: Person
    odometer_km: float


class Factory:
    """Source of unique people, vehicles and devices from one seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def unique(self, make: Callable[[], str]) -> str:
        while True:
            value = make()
            if value not in self.used:
                self.used.add(value)
                return value

    def given_name(self, gender: str) -> tuple[str, str]:
        pool = GIVEN_MALE if gender == "男" else GIVEN_FEMALE
        parts = self.rng.sample(pool, 1 if self.rng.random() < 0.35 else 2)
        return "".join(p[0] for p in parts), "".join(p[1] for p in parts)

    def birth_date(self, first_year: int, last_year: int) -> dt.date:
        start = dt.date(first_year, 1, 1).toordinal()
        end = dt.date(last_year, 12, 31).toordinal()
        return dt.date.fromordinal(self.rng.randint(start, end))

    def resident_id(self, district: District, birth: dt.date, gender: str) -> str:
        def make() -> str:
            # The third sequence digit is odd for men and even for women.
            sequence = self.rng.randrange(0, 100) * 10
            sequence += self.rng.choice(
                (1, 3, 5, 7, 9) if gender == "男" else (0, 2, 4, 6, 8)
            )
            first17 = f"{district.code}{birth:%Y%m%d}{sequence:03d}"
            return first17 + resident_id_check_char(first17)

        return self.unique(make)

    def mobile(self) -> str:
        return self.unique(
            lambda: (
                self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            )
        )

    def landline(self) -> str:
        area = self.rng.choice(AREA_CODES)
        digits = 8 if len(area) == 3 else 7
        first = self.rng.choice("2345678")
        rest = "".join(self.rng.choices(string.digits, k=digits - 1))
        return f"{area}-{first}{rest}"

    def email(self, pinyin: tuple[str, str], birth: dt.date) -> str:
        def make() -> str:
            domain = self.rng.choice(MAIL_DOMAINS)
            if domain == "qq.com":
                return f"{self.rng.randint(10**7, 3 * 10**9)}@qq.com"
            style = self.rng.randrange(3)
            if style == 0:
                local = f"{pinyin[0]}{pinyin[1]}{birth:%y}"
            elif style == 1:
                local = f"{pinyin[1]}.{pinyin[0]}{self.rng.randint(1, 999)}"
            else:
                local = f"{pinyin[0][0]}{pinyin[1]}_{birth:%m%d}"
            return f"{local}@{domain}"

        return self.unique(make)

    def address(self, district: District) -> str:
        road = self.rng.choice(ROADS)
        number = self.rng.randint(1, 999)
        if self.rng.random() < 0.6:
            estate = self.rng.choice(ESTATES)
            building = self.rng.randint(1, 30)
            unit = self.rng.randint(1, 6)
            room = self.rng.randint(1, 33) * 100 + self.rng.randint(1, 4)
            return (
                f"{district.prefix}{road}{number}号{estate}"
                f"{building}栋{unit}单元{room}室"
            )
        return f"{district.prefix}{road}{number}号"

    def bank_card(self) -> str:
        def make() -> str:
            length = self.rng.choice((16, 19, 19))
            body = self.rng.choice(CARD_BINS)
            body += "".join(self.rng.choices(string.digits, k=length - len(body) - 1))
            return body + luhn_check_digit(body)

        return self.unique(make)

    def person(self, first_year: int = 1960, last_year: int = 2004) -> Person:
        gender = self.rng.choice(("男", "女"))
        surname, surname_pinyin = self.rng.choice(SURNAMES)
        given, given_pinyin = self.given_name(gender)
        pinyin = (surname_pinyin, given_pinyin)
        birth = self.birth_date(first_year, last_year)
        district = self.rng.choice(DISTRICTS)
        return Person(
            name=surname + given,
            surname=surname,
            pinyin=pinyin,
            gender=gender,
            birth=birth,
            id_number=self.resident_id(district, birth, gender),
            mobile=self.mobile(),
            email=self.email(pinyin, birth),
            district=district,
            address=self.address(district),
            bank_card=self.bank_card(),
        )

    def vin(self) -> str:
        def make() -> str:
            wmi = self.rng.choice(WMIS)
            vds = "".join(self.rng.choices(VIN_ALPHABET, k=5))
            year = self.rng.choice(MODEL_YEARS)
            plant = self.rng.choice(VIN_ALPHABET)
            serial = f"{self.rng.randrange(10**6):06d}"
            draft = f"{wmi}{vds}0{year}{plant}{serial}"
            return draft[:8] + vin_check_digit(draft) + draft[9:]

        return self.unique(make)

    def plate(self, city: City) -> str:
        def make() -> str:
            prefix = self.rng.choice(city.plates)
            if self.rng.random() < 0.3:
                # Small new-energy plates: D (battery electric) or F (other
                # new energy), then a letter or digit and four digits.
                tail = self.rng.choice("DF") + f"{self.rng.randrange(10**5):05d}"
            else:
                # Ordinary plates carry at most two letters among five.
                tail_chars = self.rng.choices(string.digits, k=5)
                for position in self.rng.sample(
                    range(5), self.rng.choice((0, 1, 1, 2))
                ):
                    tail_chars[position] = self.rng.choice(PLATE_LETTERS)
                tail = "".join(tail_chars)
            return prefix + tail

        return self.unique(make)

    def imei(self) -> str:
        def make() -> str:
            tac = self.rng.choice(("86", "35")) + f"{self.rng.randrange(10**6):06d}"
            body = tac + f"{self.rng.randrange(10**6):06d}"
            return body + luhn_check_digit(body)

        return self.unique(make)

    def iccid(self) -> str:
        def make() -> str:
            # 89 telecom, 86 China, then the issuer (00 CMCC, 01 CUCC, 03 CTCC).
            issuer = self.rng.choice(("00", "01", "03"))
            body = f"8986{issuer}" + "".join(self.rng.choices(string.digits, k=13))
            return body + luhn_check_digit(body)

        return self.unique(make)

    def mac(self) -> str:
        octets = [self.rng.randrange(256) for _ in range(6)]
        octets[0] &= 0xFC  # unicast, globally administered
        text = ":".join(f"{o:02X}" for o in octets)
        return text.lower() if self.rng.random() < 0.3 else text


def build_fleet(factory: Factory) -> list[Vehicle]:
    fleet = []
    for _ in range(FLEET_SIZE):
        owner = factory.person()
        fleet.append(
            Vehicle(
                vin=factory.vin(),
                plate=factory.plate(owner.district.city),
                owner=owner,
                odometer_km=round(factory.rng.uniform(800, 90000), 1),
            )
        )
    return fleet


# ---------------------------------------------------------------------------
# Value spellings
# ---------------------------------------------------------------------------

FULL_WIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")


def spell_phone(rng: random.Random, mobile: str, mixed_share: float) -> str:
    """Return ``mobile`` as typed by a person: mostly plain, sometimes not."""
    if rng.random() >= mixed_share:
        return mobile
    head, middle, tail = mobile[:3], mobile[3:7], mobile[7:]
    spellings = (
        f"+86 {head} {middle} {tail}",
        f"0086-{mobile}",
        f"+86{mobile}",
        f"{head}-{middle}-{tail}",
        f"{head} {middle} {tail}",
        mobile.translate(FULL_WIDTH_DIGITS),
    )
    return rng.choice(spellings)


def spell_plate(rng: random.Random, plate: str) -> str:
    """Write a plate with the separator dot after the city letter at times."""
    return plate[:2] + "·" + plate[2:] if rng.random() < 0.3 else plate


def mask_mobile(mobile: str) -> str:
    return mobile[:3] + "****" + mobile[7:]


def random_time(rng: random.Random, day: dt.date, first_hour: int = 7) -> dt.datetime:
    start = dt.datetime.combine(day, dt.time(first_hour))
    return start + dt.timedelta(seconds=rng.randrange((22 - first_hour) * 3600))


# ---------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------


def write_csv(
    path: Path,
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    encoding: str,
    delimiter: str = ",",
    line_end: str = "\n",
    byte_order_mark: bytes = b"",
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=line_end)
    writer.writerow(header)
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(byte_order_mark + buffer.getvalue().encode(encoding))


def write_parquet(path: Path, table: pa.Table, row_group_size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        table,
        path,
        row_group_size=row_group_size,
        compression="snappy",
        write_statistics=True,
    )


def jsonl_bytes(records: Iterable[dict[str, Any]]) -> bytes:
    lines = (json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    return "".join(lines).encode("utf-8")


def dataset(
    key: str, columns: dict[str, list[str]], labels: Sequence[str] = ()
) -> Truth:
    return {"key": key, "labels": list(labels), "columns": columns}


# ---------------------------------------------------------------------------
# crm/: owner exports
# ---------------------------------------------------------------------------

CAR_MODELS = ("逸风 L 1.5T", "锐行 Pro EV", "星途 S7", "远航 DM-i", "朗程 2.0T")
MEMBER_LEVELS = ("普通会员", "银卡会员", "金卡会员", "钻石会员")
CRM_REMARKS = (
    "", "", "", "VIP客户", "老客户转介绍", "已预约首保", "首保已完成",
    "对服务满意", "关注新车型上市", "已参加试驾活动", "需要上门取送车",
)  # fmt: skip


def spell_date(rng: random.Random, day: dt.date) -> str:
    """Format a date in one of the styles a spreadsheet export mixes."""
    style = rng.random()
    if style < 0.7:
        return f"{day:%Y-%m-%d}"
    if style < 0.9:
        return f"{day.year}/{day.month}/{day.day}"
    return f"{day.year}年{day.month:02d}月{day.day:02d}日"


def write_owners_gbk(out: Path, fleet: Sequence[Vehicle], rng: random.Random) -> Truth:
    header = (
        "客户姓名", "性别", "出生日期", "手机号码", "身份证号", "邮箱", "联系地址",
        "车架号", "车牌号", "车型", "购车日期", "会员等级", "备注",
    )  # fmt: skip
    rows = []
    for vehicle in fleet[:GBK_OWNERS]:
        owner = vehicle.owner
        bought = dt.date(2019, 1, 1) + dt.timedelta(days=rng.randrange(2500))
        rows.append(
            (
                owner.name,
                owner.gender,
                spell_date(rng, owner.birth),
                spell_phone(rng, owner.mobile, mixed_share=0.3),
                owner.id_number,
                owner.email if rng.random() < 0.85 else "",
                owner.address,
                vehicle.vin,
                spell_plate(rng, vehicle.plate),
                rng.choice(CAR_MODELS),
                f"{bought:%Y-%m-%d}",
                rng.choice(MEMBER_LEVELS),
                rng.choice(CRM_REMARKS),
            )
        )
    write_csv(out / "crm/owners_gbk.csv", header, rows, "gbk", line_end="\r\n")
    labels: tuple[list[str], ...] = (
        ["pi.name"], ["pi.gender"], ["pi.birth_date"], ["pi.phone"],
        ["spi.id_number"], ["pi.email"], ["pi.address"], ["pi.vin"],
        ["pi.licence_plate"], [], [], [], [],
    )  # fmt: skip
    return dataset("crm/owners_gbk.csv", dict(zip(header, labels, strict=True)))


def legacy_resident_id(person: Person) -> str:
    """Return the 15-digit pre-1999 form: region, YYMMDD, sequence, no check."""
    return person.id_number[:6] + person.id_number[8:17]


def spell_pinyin_id(rng: random.Random, person: Person) -> str:
    if person.birth.year < 1980 and rng.random() < 0.06:
        return legacy_resident_id(person)
    if rng.random() < 0.3:
        return person.id_number.lower()  # a lower-case check character x
    return person.id_number


def write_owners_pinyin(
    out: Path, fleet: Sequence[Vehicle], rng: random.Random
) -> Truth:
    header = (
        "xm", "xb", "csrq", "sjhm", "sfzh", "dz", "cph", "clsbdh", "yhkh",
        "email_verified", "phone_bound", "has_id_card",
    )  # fmt: skip
    rows = []
    start = GBK_OWNERS - 100  # the last 100 owners of the GBK export reappear
    for vehicle in fleet[start : start + PINYIN_OWNERS]:
        owner = vehicle.owner
        has_id = rng.random() < 0.92
        rows.append(
            (
                owner.name,
                "1" if owner.gender == "男" else "2",  # GB/T 2261.1 sex codes
                f"{owner.birth:%Y%m%d}",
                spell_phone(rng, owner.mobile, mixed_share=0.1),
                spell_pinyin_id(rng, owner) if has_id else "",
                owner.address,
                vehicle.plate,
                vehicle.vin,
                owner.bank_card,
                rng.choice("01"),
                rng.choice("0111"),
                "Y" if has_id else "N",
            )
        )
    write_csv(out / "crm/owners_pinyin.csv", header, rows, "utf-8")
    labels: tuple[list[str], ...] = (
        ["pi.name"], ["pi.gender"], ["pi.birth_date"], ["pi.phone"],
        ["spi.id_number"], ["pi.address"], ["pi.licence_plate"], ["pi.vin"],
        ["spi.bank_card"], [], [], [],
    )  # fmt: skip
    return dataset("crm/owners_pinyin.csv", dict(zip(header, labels, strict=True)))


CHILD_SEATS = ("ISOFIX-0+", "ISOFIX-I", "ISOFIX-II/III", "增高垫")


def write_child_passengers(
    out: Path, fleet: Sequence[Vehicle], factory: Factory
) -> Truth:
    """Write child passengers registered for the child-seat service.

    Every child is under 14 on 2026-01-01, which makes the dataset
    ``spi.minor`` as a whole.
    """
    rng = factory.rng
    header = (
        "儿童姓名",
        "出生日期",
        "监护人姓名",
        "监护人手机",
        "车架号",
        "安全座椅型号",
    )
    rows = []
    for vehicle in fleet[::10]:
        guardian = vehicle.owner
        gender = rng.choice(("男", "女"))
        given_name, _ = factory.given_name(gender)
        birth = factory.birth_date(2013, 2023)
        rows.append(
            (
                guardian.surname + given_name,
                f"{birth:%Y-%m-%d}",
                guardian.name,
                guardian.mobile,
                vehicle.vin,
                rng.choice(CHILD_SEATS),
            )
        )
    # Excel saves "CSV UTF-8" with a byte order mark.
    write_csv(
        out / "crm/child_passengers.csv",
        header,
        rows,
        "utf-8",
        line_end="\r\n",
        byte_order_mark=codecs.BOM_UTF8,
    )
    labels: tuple[list[str], ...] = (
        ["pi.name"],
        ["pi.birth_date"],
        ["pi.name"],
        ["pi.phone"],
        ["pi.vin"],
        [],
    )
    columns = dict(zip(header, labels, strict=True))
    return dataset("crm/child_passengers.csv", columns, ["spi.minor"])


# ---------------------------------------------------------------------------
# telemetry/trips: Hive-partitioned Parquet tracks
# ---------------------------------------------------------------------------


def simulate_trip(
    rng: random.Random, vehicle: Vehicle, start: dt.datetime, odometer: float
) -> list[tuple[Any, ...]]:
    """Drive one vehicle from near its owner's city centre for one trip."""
    city = vehicle.owner.district.city
    lat = city.lat + rng.uniform(-0.08, 0.08)
    lon = city.lon + rng.uniform(-0.08, 0.08)
    heading = rng.uniform(0, 2 * math.pi)
    cruise = rng.uniform(30, 90)  # km/h the driver settles at
    speed = 0.0
    soc = rng.uniform(45, 98)
    rows = []
    for step in range(POINTS_PER_TRIP):
        speed += 0.2 * (cruise - speed) + rng.gauss(0, 4)
        speed = min(120.0, max(0.0, speed))
        heading += rng.gauss(0, 0.15)
        km = speed * TRIP_INTERVAL_S / 3600
        lat += km * math.cos(heading) / 111.32
        lon += km * math.sin(heading) / (111.32 * math.cos(math.radians(lat)))
        odometer += km
        soc = max(5.0, soc - km * rng.uniform(0.12, 0.2))
        ts = start + dt.timedelta(seconds=step * TRIP_INTERVAL_S)
        rows.append(
            (vehicle.vin, ts, round(lat, 6), round(lon, 6), round(speed, 1),
             round(soc, 1), round(odometer, 1))
        )  # fmt: skip
    return rows


TRIP_SCHEMA = pa.schema(
    [
        ("vin", pa.string()),
        ("ts", pa.timestamp("ms")),
        ("lat", pa.float64()),
        ("lon", pa.float64()),
        ("speed_kmh", pa.float64()),
        ("soc_pct", pa.float64()),
        ("odometer_km", pa.float64()),
    ]
)


def write_trips(out: Path, fleet: Sequence[Vehicle], rng: random.Random) -> Truth:
    vehicles = fleet[:40]
    odometers = {v.vin: v.odometer_km for v in vehicles}
    for day_text in TRIP_DAYS:
        day = dt.date.fromisoformat(day_text)
        rows: list[tuple[Any, ...]] = []
        for vehicle in rng.sample(vehicles, TRIPS_PER_DAY):
            start = random_time(rng, day, first_hour=6)
            trip = simulate_trip(rng, vehicle, start, odometers[vehicle.vin])
            odometers[vehicle.vin] = trip[-1][-1]
            rows.extend(trip)
        columns = list(zip(*rows, strict=True))
        table = pa.Table.from_arrays(
            [
                pa.array(c, type=f.type)
                for c, f in zip(columns, TRIP_SCHEMA, strict=True)
            ],
            schema=TRIP_SCHEMA,
        )
        path = out / f"telemetry/trips/dt={day_text}/part-0.parquet"
        write_parquet(path, table, row_group_size=1000)
    columns_truth = {
        "vin": ["pi.vin"], "ts": [], "lat": ["spi.location"], "lon": ["spi.location"],
        "speed_kmh": [], "soc_pct": [], "odometer_km": [], "dt": [],
    }  # fmt: skip
    return dataset("telemetry/trips", columns_truth, ["spi.location"])


# ---------------------------------------------------------------------------
# app/app.db: the companion app's SQLite database
# ---------------------------------------------------------------------------

APP_SCHEMA = """
CREATE TABLE app_user (
    user_id INTEGER PRIMARY KEY,
    nickname VARCHAR(64),
    mobile VARCHAR(20),
    email VARCHAR(128),
    password_hash CHAR(60),
    register_ip VARCHAR(45),
    id_card CHAR(18),
    birthday DATE,
    gender VARCHAR(2),
    created_at DATETIME
);
CREATE TABLE app_device (
    device_id VARCHAR(36) PRIMARY KEY,
    user_id INTEGER REFERENCES app_user (user_id),
    imei CHAR(15),
    iccid VARCHAR(20),
    mac CHAR(17),
    os_version VARCHAR(32),
    app_version VARCHAR(16)
);
CREATE TABLE city_ref (
    city_code CHAR(6) PRIMARY KEY,
    city_name VARCHAR(16),
    lat REAL,
    lon REAL
);
CREATE TABLE app_order (
    order_no VARCHAR(32) PRIMARY KEY,
    user_id INTEGER REFERENCES app_user (user_id),
    item_name VARCHAR(64),
    amount DECIMAL(10, 2),
    status VARCHAR(8),
    created_at DATETIME
);
CREATE TABLE app_login_log (
    user_id INTEGER REFERENCES app_user (user_id),
    login_time DATETIME,
    ip VARCHAR(45)
);
"""

NICK_HEADS = ("快乐的", "追风", "安静的", "夜行", "佛系", "爱笑的", "一只", "路过的")
NICK_TAILS = ("小司机", "旅人", "猫", "少年", "橙子", "蓝莓", "电动车迷", "老铁")
BCRYPT_ALPHABET = "./" + string.ascii_uppercase + string.ascii_lowercase + string.digits
IPV4_PREFIXES = ("114.242", "223.104", "36.110", "183.14", "120.229", "117.136")
IPV6_PREFIXES = ("240e:3a1", "2409:8a00", "2408:8207")
OS_VERSIONS = (
    "Android 12",
    "Android 13",
    "Android 14",
    "iOS 16.6",
    "iOS 17.2",
    "HarmonyOS 4.0",
)
APP_VERSIONS = ("5.1.0", "5.2.1", "5.3.0", "5.3.2")
ORDER_ITEMS = (
    ("年度保养套餐", 899.0), ("充电卡充值", 200.0), ("OTA智驾功能包", 6800.0),
    ("车载流量包12个月", 299.0), ("原厂脚垫", 468.0), ("上门洗车", 59.0),
)  # fmt: skip
ORDER_STATUSES = ("已支付", "已完成", "已完成", "已取消", "待支付")


def nickname(rng: random.Random, person: Person) -> str:
    style = rng.random()
    if style < 0.45:
        return rng.choice(NICK_HEADS) + rng.choice(NICK_TAILS)
    if style < 0.75:
        return f"{person.pinyin[1]}{rng.randint(1, 99):02d}"
    return f"用户{rng.randrange(10**4):04d}"


def bcrypt_like(rng: random.Random) -> str:
    """Return a string shaped like a bcrypt hash: cost 12, 22+31 characters."""
    return "$2b$12$" + "".join(rng.choices(BCRYPT_ALPHABET, k=53))


def ip_address(rng: random.Random) -> str:
    if rng.random() < 0.25:
        groups = ":".join(f"{rng.randrange(1, 0xFFFF):x}" for _ in range(4))
        return f"{rng.choice(IPV6_PREFIXES)}:{groups}::{rng.randrange(1, 0xFFFF):x}"
    return f"{rng.choice(IPV4_PREFIXES)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def device_uuid(rng: random.Random) -> str:
    # A version 4 UUID from the seeded generator instead of os.urandom.
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def order_number(rng: random.Random, created: dt.datetime) -> str:
    """Return an 18-digit order number that is not a resident ID number.

    The number is the creation time (YYYYMMDDhhmmss) plus a 4-digit sequence,
    so its first two digits (20) are never a province code, and the sequence
    is moved on until the last digit also misses the GB 11643 check.
    """
    sequence = rng.randrange(10**4)
    while True:
        number = f"{created:%Y%m%d%H%M%S}{sequence:04d}"
        if resident_id_check_char(number[:17]) != number[17]:
            return number
        sequence = (sequence + 1) % 10**4


def app_user_rows(
    rng: random.Random, people: Sequence[Person]
) -> list[tuple[Any, ...]]:
    rows = []
    for index, person in enumerate(people):
        created = random_time(rng, dt.date(2022, 3, 1) + dt.timedelta(days=index * 4))
        rows.append(
            (
                100001 + index,
                nickname(rng, person),
                person.mobile,
                person.email if rng.random() < 0.7 else None,
                bcrypt_like(rng),
                ip_address(rng),
                person.id_number if rng.random() < 0.6 else None,  # real-name step
                f"{person.birth:%Y-%m-%d}",
                person.gender,
                f"{created:%Y-%m-%d %H:%M:%S}",
            )
        )
    return rows


def app_device_rows(factory: Factory, user_ids: Sequence[int]) -> list[tuple[Any, ...]]:
    rng = factory.rng
    rows = []
    for user_id in user_ids:
        for _ in range(1 if rng.random() < 0.7 else 2):
            rows.append(
                (
                    device_uuid(rng),
                    user_id,
                    factory.imei(),
                    factory.iccid(),
                    factory.mac(),
                    rng.choice(OS_VERSIONS),
                    rng.choice(APP_VERSIONS),
                )
            )
    return rows


def app_order_rows(
    rng: random.Random, user_ids: Sequence[int]
) -> list[tuple[Any, ...]]:
    rows = []
    for _ in range(600):
        created = random_time(
            rng, dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(365))
        )
        item, price = rng.choice(ORDER_ITEMS)
        rows.append(
            (
                order_number(rng, created),
                rng.choice(user_ids),
                item,
                round(price * rng.choice((1.0, 1.0, 0.9, 0.8)), 2),
                rng.choice(ORDER_STATUSES),
                f"{created:%Y-%m-%d %H:%M:%S}",
            )
        )
    rows.sort(key=lambda row: row[5])
    return rows


def app_login_rows(
    rng: random.Random, users: Sequence[tuple[Any, ...]]
) -> list[tuple[Any, ...]]:
    rows = []
    for _ in range(1200):
        user = rng.choice(users)
        when = random_time(
            rng,
            dt.date(2025, 12, 1) + dt.timedelta(days=rng.randrange(31)),
            first_hour=0,
        )
        user_id, register_ip = user[0], user[5]
        ip = register_ip if rng.random() < 0.5 else ip_address(rng)
        rows.append((user_id, f"{when:%Y-%m-%d %H:%M:%S}", ip))
    rows.sort(key=lambda row: row[1])
    return rows


def city_ref_rows() -> list[tuple[Any, ...]]:
    # Two decimals (about 1 km): a coarse lookup table with no person key.
    return [
        (city.adcode, city.name, round(city.lat, 2), round(city.lon, 2))
        for city in CITIES.values()
    ]


def write_app_db(out: Path, fleet: Sequence[Vehicle], factory: Factory) -> list[Truth]:
    rng = factory.rng
    path = out / "app/app.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)

    users = app_user_rows(rng, [v.owner for v in fleet[100 : 100 + APP_USERS]])
    user_ids = [row[0] for row in users]
    tables: dict[str, list[tuple[Any, ...]]] = {
        "app_user": users,
        "app_device": app_device_rows(factory, user_ids),
        "city_ref": city_ref_rows(),
        "app_order": app_order_rows(rng, user_ids),
        "app_login_log": app_login_rows(rng, users),
    }

    connection = sqlite3.connect(path)
    try:
        connection.executescript(APP_SCHEMA)
        for table, rows in tables.items():
            marks = ", ".join("?" * len(rows[0]))
            connection.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        connection.commit()
        connection.execute("VACUUM")
    finally:
        connection.close()
    return app_truth()


def app_truth() -> list[Truth]:
    # A user_id names one person's account wherever it appears, so it keeps
    # pi.account in the child tables too.
    account = ["pi.account"]
    device = ["pi.device_id"]
    columns: dict[str, dict[str, list[str]]] = {
        "app_user": {
            "user_id": account, "nickname": account, "mobile": ["pi.phone"],
            "email": ["pi.email"], "password_hash": ["spi.credential"],
            "register_ip": ["pi.ip_address"], "id_card": ["spi.id_number"],
            "birthday": ["pi.birth_date"], "gender": ["pi.gender"], "created_at": [],
        },
        "app_device": {
            "device_id": device, "user_id": account, "imei": device,
            "iccid": device, "mac": device, "os_version": [], "app_version": [],
        },
        "city_ref": {"city_code": [], "city_name": [], "lat": [], "lon": []},
        "app_order": {
            "order_no": [], "user_id": account, "item_name": [], "amount": [],
            "status": [], "created_at": [],
        },
        "app_login_log": {
            "user_id": account, "login_time": [], "ip": ["pi.ip_address"],
        },
    }  # fmt: skip
    return [
        dataset(f"app/app.db/main/{table}", {k: list(v) for k, v in cols.items()})
        for table, cols in columns.items()
    ]


# ---------------------------------------------------------------------------
# service/tickets.jsonl: after-sales tickets with free text
# ---------------------------------------------------------------------------

# Category, reported issue and the fixes a technician might record for it.
ISSUES = (
    ("空调", "空调异响", ("已更换鼓风机", "已清洁蒸发箱")),
    ("空调", "空调不制冷", ("已补充制冷剂", "已更换膨胀阀")),
    ("空调", "空调有异味", ("已更换滤芯", "已清洗风道")),
    ("车机系统", "中控屏黑屏", ("已重置车机系统", "已更换中控屏")),
    ("车机系统", "车机蓝牙连接断开", ("已升级至最新版本", "已重置车机系统")),
    ("车机系统", "OTA升级失败", ("已重新推送升级包", "已升级至最新版本")),
    ("车机系统", "倒车影像无画面", ("已紧固线束", "已更换摄像头")),
    ("动力电池", "续航明显下降", ("已做电池均衡", "已检测电芯一致性，数据正常")),
    ("动力电池", "充电口无法解锁", ("已更换电子锁", "已紧固线束")),
    ("底盘", "刹车异响", ("已更换刹车片", "已清洁刹车盘")),
    ("底盘", "高速行驶时方向盘抖动", ("已做四轮定位", "已做动平衡")),
    ("底盘", "胎压报警", ("已调整胎压至标准值", "已更换胎压传感器")),
    ("车身附件", "天窗漏水", ("已疏通排水管", "已更换密封条")),
    ("车身附件", "后视镜调节失灵", ("已更换调节电机",)),
    ("车身附件", "雨刮器抖动", ("已更换雨刮片",)),
    ("保养", "保养提醒未消除", ("已复位保养提醒",)),
)
CALLER_REMARKS = (
    "客户{name}来电（{phone}）反映{issue}，已预约到店检测",
    "{name}致电{phone}，称{issue}，请尽快回电",
    "车主{name}，联系电话{phone}，{issue}，{fix}",
    "联系人：{name} {phone}；{issue}",
)
AGENT_NOTES = (
    "工单已闭环", "已回访，满意度5分", "已转二线技术支持", "三包期内，免费处理",
    "预计3个工作日内完成", "回访电话未接通，明日再联系", "配件已下单，到货后通知",
    "按保修政策处理", "已同步质量部门",
)  # fmt: skip


def agent_note(rng: random.Random) -> str:
    note = rng.choice(AGENT_NOTES)
    if rng.random() < 0.3:
        # An 11-digit work-order number: starts with 2, so it is not a mobile.
        note += f"，关联工单{rng.randint(2 * 10**10, 2 * 10**10 + 10**9)}"
    if rng.random() < 0.2:
        note += f"，里程{rng.randint(1000, 90000)}公里"
    return note


def ticket_remark(
    rng: random.Random, vehicle: Vehicle, issue: str, fix: str, with_caller: bool
) -> str:
    if not with_caller:
        return f"{issue}，{fix}"
    template = rng.choice(CALLER_REMARKS)
    phone = spell_phone(rng, vehicle.owner.mobile, mixed_share=0.3)
    return template.format(name=vehicle.owner.name, phone=phone, issue=issue, fix=fix)


def write_tickets(out: Path, fleet: Sequence[Vehicle], rng: random.Random) -> Truth:
    records = []
    start = dt.datetime(2025, 11, 1, 8, 30)
    for index in range(TICKETS):
        created = start + dt.timedelta(minutes=index * 97 + rng.randrange(60))
        vehicle = rng.choice(fleet)
        with_caller = index % TICKET_PI_EVERY == 17
        category, issue, fixes = rng.choice(ISSUES)
        fix = rng.choice((*fixes, "待配件到货"))
        records.append(
            {
                "ticket_id": f"TK{created:%Y%m%d}{index:04d}",
                "vin": vehicle.vin,
                "created_at": f"{created:%Y-%m-%dT%H:%M:%S+08:00}",
                "category": category,
                "remark": ticket_remark(rng, vehicle, issue, fix, with_caller),
                "agent_note": agent_note(rng),
            }
        )
    path = out / "service/tickets.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jsonl_bytes(records))
    columns = {
        "ticket_id": [], "vin": ["pi.vin"], "created_at": [], "category": [],
        "remark": ["pi.name", "pi.phone"], "agent_note": [],
    }  # fmt: skip
    return dataset("service/tickets.jsonl", columns)


# ---------------------------------------------------------------------------
# connected/vehicle_status.json: nested TSP snapshots
# ---------------------------------------------------------------------------


def status_record(
    rng: random.Random,
    vehicle: Vehicle,
    phones: list[str],
    when: dt.datetime,
    tbox: tuple[str, str],
) -> dict[str, Any]:
    """Build one TSP snapshot: owner, position near the owner's city, T-Box."""
    owner, city = vehicle.owner, vehicle.owner.district.city
    return {
        "vin": vehicle.vin,
        "owner": {"name": owner.name, "phones": phones, "id_no": owner.id_number},
        "position": {
            "lat": round(city.lat + rng.uniform(-0.1, 0.1), 6),
            "lon": round(city.lon + rng.uniform(-0.1, 0.1), 6),
            "ts": f"{when:%Y-%m-%dT%H:%M:%S+08:00}",
        },
        "battery": {"soc": rng.randint(12, 100), "range_km": rng.randint(40, 620)},
        "tbox": {"imei": tbox[0], "iccid": tbox[1]},
    }


def write_vehicle_status(
    out: Path, fleet: Sequence[Vehicle], factory: Factory
) -> Truth:
    rng = factory.rng
    vehicles = fleet[40 : 40 + STATUS_VEHICLES]
    tboxes = {v.vin: (factory.imei(), factory.iccid()) for v in vehicles}
    second_phones = {v.vin: factory.mobile() for v in vehicles if rng.random() < 0.3}

    records = []
    for snapshot in range(STATUS_SNAPSHOTS):
        for vehicle in vehicles:
            phones = [spell_phone(rng, vehicle.owner.mobile, mixed_share=0.2)]
            if vehicle.vin in second_phones:
                phones.append(second_phones[vehicle.vin])
            when = dt.datetime(2026, 1, 5, 8) + dt.timedelta(
                hours=snapshot * 4, seconds=rng.randrange(3600)
            )
            records.append(
                status_record(rng, vehicle, phones, when, tboxes[vehicle.vin])
            )

    path = out / "connected/vehicle_status.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(records, ensure_ascii=False, indent=2) + "\n"
    path.write_bytes(text.encode("utf-8"))
    columns = {
        "vin": ["pi.vin"], "owner.name": ["pi.name"], "owner.phones[]": ["pi.phone"],
        "owner.id_no": ["spi.id_number"], "position.lat": ["spi.location"],
        "position.lon": ["spi.location"], "position.ts": [], "battery.soc": [],
        "battery.range_km": [], "tbox.imei": ["pi.device_id"],
        "tbox.iccid": ["pi.device_id"],
    }  # fmt: skip
    return dataset("connected/vehicle_status.json", columns, ["spi.location"])


# ---------------------------------------------------------------------------
# dms/face_features.parquet: driver monitoring
# ---------------------------------------------------------------------------


def write_face_features(out: Path, fleet: Sequence[Vehicle], seed: int) -> Truth:
    rng = random.Random(seed)
    generator = np.random.default_rng(seed)
    vehicles = fleet[90 : 90 + DMS_DRIVERS]
    rows: dict[str, list[Any]] = {
        "driver_id": [], "vin": [], "captured_at": [], "face_feature": [],
        "fatigue_level": [], "heart_rate": [],
    }  # fmt: skip
    for index, vehicle in enumerate(vehicles):
        # Each driver's captures scatter around one unit-length embedding.
        centre = generator.normal(size=FACE_DIMENSIONS)
        centre /= np.linalg.norm(centre)
        for capture in range(DMS_CAPTURES):
            vector = centre + generator.normal(scale=0.05, size=FACE_DIMENSIONS)
            vector /= np.linalg.norm(vector)
            when = dt.datetime(2026, 1, 4, 7) + dt.timedelta(
                hours=capture * 3, seconds=rng.randrange(7200)
            )
            rows["driver_id"].append(f"DRV{20001 + index}")
            rows["vin"].append(vehicle.vin)
            rows["captured_at"].append(when)
            rows["face_feature"].append(vector.astype(np.float32).tolist())
            rows["fatigue_level"].append(round(rng.betavariate(2, 6), 3))
            rows["heart_rate"].append(rng.randint(55, 110))
    schema = pa.schema(
        [
            ("driver_id", pa.string()),
            ("vin", pa.string()),
            ("captured_at", pa.timestamp("ms")),
            ("face_feature", pa.list_(pa.float32())),
            ("fatigue_level", pa.float64()),
            ("heart_rate", pa.int16()),
        ]
    )
    table = pa.Table.from_pydict(rows, schema=schema)
    write_parquet(out / "dms/face_features.parquet", table, row_group_size=50)
    columns = {
        "driver_id": ["pi.account"], "vin": ["pi.vin"], "captured_at": [],
        "face_feature": ["spi.biometric"], "fatigue_level": ["spi.health"],
        "heart_rate": ["spi.health"],
    }  # fmt: skip
    return dataset("dms/face_features.parquet", columns)


# ---------------------------------------------------------------------------
# reference/: look-alike negatives
# ---------------------------------------------------------------------------

PART_NAMES = (
    "前刹车片", "机油滤清器", "空调滤芯", "雨刮片", "火花塞", "前大灯总成",
    "后视镜总成", "电子水泵", "轮速传感器", "高压线束", "12V蓄电池", "门把手",
)  # fmt: skip
SUPPLIERS = (
    "博世汽车部件（苏州）有限公司", "大陆汽车电子（长春）有限公司",
    "宁德时代新能源科技股份有限公司", "法雷奥汽车内部控制（深圳）有限公司",
    "华域汽车系统股份有限公司",
)  # fmt: skip
TRIMS = ("标准版", "舒适版", "豪华版", "旗舰版", "长续航版", "性能版")


def part_number(factory: Factory) -> str:
    """Return a 17-character VIN-shaped part number whose check digit is wrong."""
    rng = factory.rng

    def make() -> str:
        body = rng.choice("L12345") + "".join(rng.choices(VIN_ALPHABET, k=16))
        wrong = rng.choice([c for c in "0123456789X" if c != vin_check_digit(body)])
        return body[:8] + wrong + body[9:]

    return factory.unique(make)


def write_reference(out: Path, factory: Factory) -> list[Truth]:
    rng = factory.rng
    parts = [
        (part_number(factory), rng.choice(PART_NAMES), rng.choice(SUPPLIERS),
         f"{rng.uniform(15, 4800):.2f}")
        for _ in range(120)
    ]  # fmt: skip
    write_csv(
        out / "reference/parts_catalog.csv",
        ("part_no", "part_name", "supplier", "price_cny"),
        parts,
        "utf-8",
    )

    centroids = [
        (
            city.name,
            city.province or city.name,
            city.adcode,
            f"{city.lat:.2f}",
            f"{city.lon:.2f}",
        )
        for city in CITIES.values()
    ]
    write_csv(
        out / "reference/city_centroids.csv",
        ("city", "province", "adcode", "lat", "lon"),
        centroids,
        "utf-8",
    )

    models = []
    for index, model in enumerate(CAR_MODELS):
        for trim_index, trim in enumerate(rng.sample(TRIMS, 4)):
            code = f"M{index + 1:02d}{trim_index + 1}"
            models.append((code, model, trim, f"{rng.randrange(100, 1000)}"))
    write_csv(
        out / "reference/model_codes.csv",
        ("model_code", "model_name", "trim", "model_year_code"),
        models,
        "utf-8",
    )
    return [
        dataset(
            "reference/parts_catalog.csv",
            {"part_no": [], "part_name": [], "supplier": [], "price_cny": []},
        ),
        dataset(
            "reference/city_centroids.csv",
            {"city": [], "province": [], "adcode": [], "lat": [], "lon": []},
        ),
        dataset(
            "reference/model_codes.csv",
            {"model_code": [], "model_name": [], "trim": [], "model_year_code": []},
        ),
    ]


# ---------------------------------------------------------------------------
# exports/: the same kind of data in other file formats
# ---------------------------------------------------------------------------

COMPANIES = (
    "华东汽车销售服务有限公司", "鹏程物流有限公司", "星辰出行科技有限公司",
    "远景租车服务有限公司", "城际快运有限公司",
)  # fmt: skip


def write_owners_utf16(
    out: Path, fleet: Sequence[Vehicle], rng: random.Random
) -> Truth:
    rows = [
        (v.owner.name, spell_phone(rng, v.owner.mobile, 0.2), v.owner.address,
         v.owner.district.city.name)
        for v in fleet[300:360]
    ]  # fmt: skip
    path = out / "exports/owners_utf16.csv"
    header = ("name", "phone", "address", "city")
    # Windows "Unicode" exports: UTF-16 little-endian with a byte order mark.
    write_csv(
        path,
        header,
        rows,
        "utf-16-le",
        line_end="\r\n",
        byte_order_mark=codecs.BOM_UTF16_LE,
    )
    labels: tuple[list[str], ...] = (["pi.name"], ["pi.phone"], ["pi.address"], [])
    return dataset("exports/owners_utf16.csv", dict(zip(header, labels, strict=True)))


def write_accounts(out: Path, fleet: Sequence[Vehicle], rng: random.Random) -> Truth:
    rows = []
    for vehicle in fleet[360:420]:
        owner = vehicle.owner
        created = dt.date(2021, 6, 1) + dt.timedelta(days=rng.randrange(1500))
        rows.append(
            (
                f"{owner.pinyin[0]}{owner.pinyin[1]}_{owner.birth:%Y}",
                nickname(rng, owner),
                mask_mobile(owner.mobile),
                owner.email,
                f"{created:%Y-%m-%d}",
                rng.choice(("active", "active", "active", "locked")),
            )
        )
    header = ("account", "nickname", "mobile", "email", "created_date", "status")
    write_csv(out / "exports/accounts.tsv", header, rows, "utf-8", delimiter="\t")
    labels: tuple[list[str], ...] = (
        ["pi.account"],
        ["pi.account"],
        ["pi.phone"],
        ["pi.email"],
        [],
        [],
    )
    return dataset("exports/accounts.tsv", dict(zip(header, labels, strict=True)))


def write_contacts(out: Path, factory: Factory) -> Truth:
    rng = factory.rng
    records = []
    for _ in range(50):
        person = factory.person()
        name = person.latin_name
        if rng.random() < 0.3:
            name = f"{person.pinyin[0].upper()} {person.pinyin[1].capitalize()}"
        records.append(
            {
                "contact_name": name,
                "tel": factory.landline() if rng.random() < 0.4 else person.mobile,
                "email": person.email,
                "company": rng.choice(COMPANIES),
                "city": person.district.city.name,
            }
        )
    path = out / "exports/contacts.jsonl.gz"
    # mtime=0 and no file name in the header keep the archive byte-identical.
    with (
        path.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as archive,
    ):
        archive.write(jsonl_bytes(records))
    columns = {
        "contact_name": ["pi.name"], "tel": ["pi.phone"], "email": ["pi.email"],
        "company": [], "city": [],
    }  # fmt: skip
    return dataset("exports/contacts.jsonl.gz", columns)


# ---------------------------------------------------------------------------
# fleet/drivers.avro: a logistics fleet's drivers
# ---------------------------------------------------------------------------

DRIVER_SCHEMA = {
    "type": "record",
    "name": "Driver",
    "namespace": "cardex.sample",
    "fields": [
        {"name": "driver_name", "type": "string"},
        {"name": "driver_license", "type": "string"},
        {"name": "license_class", "type": "string"},
        {"name": "phone", "type": "string"},
        {"name": "bank_card", "type": ["null", "string"]},
        {"name": "hired_on", "type": {"type": "int", "logicalType": "date"}},
    ],
}
LICENSE_CLASSES = ("A1", "A2", "B2", "C1")
# Avro writers pick a random 16-byte sync marker, so a fixed one keeps the bytes
# stable.
AVRO_SYNC_MARKER = b"cardex-sample-v1"


def write_drivers(out: Path, factory: Factory) -> Truth:
    rng = factory.rng
    records = []
    for _ in range(80):
        person = factory.person(1965, 2000)
        records.append(
            {
                # A mainland driving licence number is the holder's ID number.
                "driver_name": person.name,
                "driver_license": person.id_number,
                "license_class": rng.choice(LICENSE_CLASSES),
                "phone": person.mobile,
                "bank_card": person.bank_card if rng.random() < 0.9 else None,
                "hired_on": dt.date(2015, 1, 1)
                + dt.timedelta(days=rng.randrange(3800)),
            }
        )
    path = out / "fleet/drivers.avro"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as stream:
        fastavro.writer(
            stream,
            fastavro.parse_schema(DRIVER_SCHEMA),
            records,
            codec="null",
            sync_marker=AVRO_SYNC_MARKER,
        )
    columns = {
        "driver_name": ["pi.name"], "driver_license": ["spi.id_number"],
        "license_class": [], "phone": ["pi.phone"], "bank_card": ["spi.bank_card"],
        "hired_on": [],
    }  # fmt: skip
    return dataset("fleet/drivers.avro", columns)


# ---------------------------------------------------------------------------
# important/: important data and its close negatives (dataset labels)
# ---------------------------------------------------------------------------

IMPORTANT_DAY = dt.datetime(2026, 1, 5)
CHARGING_STATIONS = 12
CHARGING_SESSIONS = 160
TRAFFIC_SEGMENTS = 15
TRAFFIC_HOURS = 12
WAYBILLS = 120
REMOTE_COMMANDS = 150
LANE_POINTS = 240
LIDAR_FRAMES = 4
POINTS_PER_FRAME = 300
IMU_SAMPLES = 200
ECUS = ("VCU", "BMS", "ADAS_DCU", "TBOX", "IVI", "EPS", "ESC", "BCM")
CARGO_TYPES = ("汽车零部件", "整车", "动力电池", "轮胎", "钢材")
COMMAND_TYPES = ("remote_unlock", "remote_lock", "ac_on", "engine_start", "find_car")
COMMAND_RESULTS = ("success", "success", "success", "timeout", "rejected")
SEVERITIES = ("low", "medium", "high", "critical")
LINES = ("总装一线", "总装二线", "焊装线", "涂装线")
STATIONS_PER_LINE = 6


def iso(moment: dt.datetime) -> str:
    return moment.isoformat(sep=" ", timespec="seconds")


def write_charging(out: Path, rng: random.Random) -> list[Truth]:
    cities = list(CITIES.values())
    stations = [
        (f"CS{3100 + index:05d}", f"{rng.choice(cities).name}充电站{index + 1:02d}")
        for index in range(CHARGING_STATIONS)
    ]
    sessions = []
    for index in range(CHARGING_SESSIONS):
        station_id, _ = rng.choice(stations)
        start = random_time(rng, IMPORTANT_DAY.date(), first_hour=0)
        minutes = rng.randint(20, 110)
        energy = rng.uniform(8, 75)
        soc_start = rng.randint(5, 50)
        sessions.append((
            f"S{880000 + index}", station_id, f"{station_id}-P{rng.randint(1, 8):02d}",
            rng.randint(1, 2), iso(start), iso(start + dt.timedelta(minutes=minutes)),
            f"{energy:.2f}", f"{rng.uniform(30, 120):.1f}", soc_start,
            min(100, soc_start + rng.randint(30, 60)),
        ))  # fmt: skip
    header = (
        "session_id", "station_id", "pile_no", "connector_id", "start_time",
        "end_time", "energy_kwh", "peak_power_kw", "soc_start", "soc_end",
    )  # fmt: skip
    write_csv(out / "important/charging_sessions.csv", header, sessions, "utf-8")

    prices = [
        (station_id, name, f"{rng.uniform(0.6, 1.3):.2f}",
         f"{rng.uniform(0.3, 0.8):.2f}", "2026-01-01")
        for station_id, name in stations
    ]  # fmt: skip
    price_header = (
        "station_id", "station_name", "price_per_kwh", "service_fee_per_kwh",
        "valid_from",
    )  # fmt: skip
    write_csv(out / "important/charging_price_list.csv", price_header, prices, "utf-8")
    return [
        dataset(
            "important/charging_sessions.csv",
            dict.fromkeys(header, []),
            ["imp.connected_operation.charging_network"],
        ),
        dataset("important/charging_price_list.csv", dict.fromkeys(price_header, [])),
    ]


def write_traffic(out: Path, rng: random.Random) -> list[Truth]:
    rows: dict[str, list[Any]] = {
        "segment_id": [], "road_name": [], "hour": [], "vehicle_count": [],
        "avg_speed_kmh": [], "occupancy_pct": [],
    }  # fmt: skip
    for segment in range(TRAFFIC_SEGMENTS):
        road = rng.choice(ROADS)
        for hour in range(TRAFFIC_HOURS):
            rows["segment_id"].append(f"SEG-{4401 + segment}")
            rows["road_name"].append(road)
            rows["hour"].append(IMPORTANT_DAY + dt.timedelta(hours=7 + hour))
            rows["vehicle_count"].append(rng.randint(80, 2400))
            rows["avg_speed_kmh"].append(round(rng.uniform(12, 70), 1))
            rows["occupancy_pct"].append(round(rng.uniform(3, 60), 1))
    schema = pa.schema([
        ("segment_id", pa.string()), ("road_name", pa.string()),
        ("hour", pa.timestamp("s")), ("vehicle_count", pa.int32()),
        ("avg_speed_kmh", pa.float64()), ("occupancy_pct", pa.float64()),
    ])  # fmt: skip
    table = pa.Table.from_pydict(rows, schema=schema)
    write_parquet(out / "important/traffic_flow.parquet", table, row_group_size=100)

    cities = [city.name for city in CITIES.values()]
    waybills = []
    for index in range(WAYBILLS):
        origin, destination = rng.sample(cities, 2)
        waybills.append((
            f"WB2026{index + 10001:06d}", origin, destination, rng.choice(CARGO_TYPES),
            f"{rng.uniform(200, 28000):.1f}", rng.randint(1, 60),
            iso(random_time(rng, IMPORTANT_DAY.date())),
        ))  # fmt: skip
    header = (
        "waybill_no", "origin_city", "destination_city", "cargo_type", "weight_kg",
        "pieces", "dispatched_at",
    )  # fmt: skip
    write_csv(out / "important/waybills.csv", header, waybills, "utf-8")
    flow = ["imp.connected_operation.vehicle_flow"]
    return [
        dataset("important/traffic_flow.parquet", dict.fromkeys(rows, []), flow),
        dataset("important/waybills.csv", dict.fromkeys(header, []), flow),
    ]


def write_remote_commands(
    out: Path, fleet: Sequence[Vehicle], rng: random.Random
) -> Truth:
    records = []
    for index in range(REMOTE_COMMANDS):
        records.append({
            "command_id": f"RC{700000 + index}",
            "vin": rng.choice(fleet).vin,
            "command_type": rng.choice(COMMAND_TYPES),
            "issued_at": iso(random_time(rng, IMPORTANT_DAY.date())),
            "result": rng.choice(COMMAND_RESULTS),
            "latency_ms": rng.randint(300, 9000),
        })  # fmt: skip
    path = out / "important/remote_commands.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jsonl_bytes(records))
    columns = {name: [] for name in records[0]}
    columns["vin"] = ["pi.vin"]
    return dataset(
        "important/remote_commands.jsonl",
        columns,
        ["imp.connected_operation.remote_control"],
    )


def write_map_lanes(out: Path, rng: random.Random) -> Truth:
    # A lane centre line sampled every metre or so, at survey precision.
    rows: dict[str, list[Any]] = {
        "lane_id": [], "road_id": [], "lat": [], "lon": [], "alt_m": [],
        "lane_width_m": [], "curvature": [], "heading_deg": [],
    }  # fmt: skip
    lat, lon, alt = 31.2304123, 121.4737456, 4.2
    for index in range(LANE_POINTS):
        lat += rng.uniform(0.000005, 0.00001)
        lon += rng.uniform(0.000005, 0.00001)
        alt += rng.uniform(-0.05, 0.05)
        rows["lane_id"].append(f"L{index // 40 + 1:04d}")
        rows["road_id"].append(f"R{index // 120 + 1:03d}")
        rows["lat"].append(round(lat, 9))
        rows["lon"].append(round(lon, 9))
        rows["alt_m"].append(round(alt, 3))
        rows["lane_width_m"].append(round(rng.uniform(3.2, 3.8), 2))
        rows["curvature"].append(round(rng.uniform(-0.002, 0.002), 5))
        rows["heading_deg"].append(round(rng.uniform(40, 50), 3))
    table = pa.Table.from_pydict(rows)
    write_parquet(out / "important/hd_map_lanes.parquet", table, row_group_size=120)
    return dataset(
        "important/hd_map_lanes.parquet",
        dict.fromkeys(rows, []),
        ["imp.driving_automation.geodata", "flag.surveying"],
    )


def write_lidar(out: Path, seed: int) -> list[Truth]:
    generator = np.random.default_rng(seed)
    count = LIDAR_FRAMES * POINTS_PER_FRAME
    frames = np.repeat(np.arange(LIDAR_FRAMES), POINTS_PER_FRAME)
    start = np.datetime64("2026-01-05T08:00:00", "ms")
    points = pa.table({
        "frame_id": pa.array(frames.astype(np.int32)),
        "ts": pa.array(start + frames * np.timedelta64(100, "ms")),
        "x": pa.array(generator.uniform(-60, 60, count).astype(np.float32)),
        "y": pa.array(generator.uniform(-60, 60, count).astype(np.float32)),
        "z": pa.array(generator.uniform(-2, 6, count).astype(np.float32)),
        "intensity": pa.array(generator.uniform(0, 1, count).astype(np.float32)),
    })  # fmt: skip
    write_parquet(out / "important/lidar_points.parquet", points, row_group_size=600)

    # Close negative: accelerometer and gyroscope axes are no point cloud.
    imu = pa.table({
        "sensor_id": pa.array([f"IMU-{i % 2 + 1}" for i in range(IMU_SAMPLES)]),
        "ts": pa.array(start + np.arange(IMU_SAMPLES) * np.timedelta64(10, "ms")),
        **{
            f"{kind}_{axis}": pa.array(
                generator.normal(0, 1.5, IMU_SAMPLES).astype(np.float32)
            )
            for kind in ("acc", "gyro")
            for axis in "xyz"
        },
    })  # fmt: skip
    write_parquet(out / "important/imu_samples.parquet", imu, row_group_size=200)
    return [
        dataset(
            "important/lidar_points.parquet",
            dict.fromkeys(points.column_names, []),
            ["imp.driving_automation.point_cloud", "flag.surveying"],
        ),
        dataset("important/imu_samples.parquet", dict.fromkeys(imu.column_names, [])),
    ]


def write_software(out: Path, rng: random.Random) -> list[Truth]:
    packages = []
    for index in range(40):
        ecu = ECUS[index % len(ECUS)]
        version = f"{rng.randint(1, 4)}.{rng.randint(0, 12)}.{rng.randint(0, 30)}"
        digest = "".join(rng.choices("0123456789abcdef", k=64))
        packages.append((
            f"PKG{5000 + index}", ecu, version, digest,
            rng.randint(2_000_000, 900_000_000), f"OTA-2026-{index // 8 + 1:02d}",
            f"2026-01-{index // 8 + 2:02d}",
        ))  # fmt: skip
    package_header = (
        "package_id", "ecu_name", "firmware_version", "sha256", "package_size",
        "campaign_id", "released_on",
    )  # fmt: skip
    write_csv(out / "important/ota_packages.csv", package_header, packages, "utf-8")

    reports = []
    for index in range(30):
        ecu = rng.choice(ECUS)
        cve = f"CVE-{rng.randint(2019, 2025)}-{rng.randint(1000, 49999)}"
        reports.append((
            f"VR{index + 301}", cve, ecu, rng.choice(SEVERITIES),
            f"{rng.uniform(3, 9.8):.1f}", f"2026-01-{rng.randint(1, 28):02d}",
            f"{ecu} 固件存在越界读取，见 {cve}",
        ))  # fmt: skip
    report_header = (
        "report_id", "cve_id", "affected_ecu", "severity", "cvss_score", "found_on",
        "description",
    )  # fmt: skip
    write_csv(out / "important/vulnerabilities.csv", report_header, reports, "utf-8")
    ota = ["imp.software_upgrade.ota"]
    return [
        dataset("important/ota_packages.csv", dict.fromkeys(package_header, []), ota),
        dataset("important/vulnerabilities.csv", dict.fromkeys(report_header, []), ota),
    ]


def write_production(out: Path, rng: random.Random) -> list[Truth]:
    rows = []
    for day in range(1, 11):
        for line in LINES:
            for station in range(STATIONS_PER_LINE):
                planned = rng.randint(380, 420)
                rows.append((
                    "合肥工厂", line, f"ST{station + 1:02d}", f"2026-01-{day:02d}",
                    f"{rng.uniform(55, 62):.1f}", planned,
                    planned - rng.randint(0, 25), f"{rng.uniform(0.95, 0.995):.3f}",
                ))  # fmt: skip
    header = (
        "plant", "line_id", "station", "shift_date", "takt_time_s",
        "planned_output", "actual_output", "yield_rate",
    )  # fmt: skip
    write_csv(out / "important/mes_line_output.csv", header, rows, "utf-8")

    # Close negative: a warehouse lane is a shelf row, not a map lane.
    bins = [
        (f"P-{rng.randint(10000, 99999)}", rng.choice(PART_NAMES),
         f"{rng.choice('ABCD')}{rng.randint(1, 12):02d}", rng.randint(1, 40),
         rng.randint(0, 500), f"2026-01-{rng.randint(1, 28):02d}")
        for _ in range(100)
    ]  # fmt: skip
    bin_header = ("part_no", "part_name", "lane", "bin", "qty", "updated_on")
    write_csv(out / "important/parts_bins.csv", bin_header, bins, "utf-8")
    return [
        dataset(
            "important/mes_line_output.csv",
            dict.fromkeys(header, []),
            ["imp.production.capacity"],
        ),
        dataset("important/parts_bins.csv", dict.fromkeys(bin_header, [])),
    ]


CONDITION_VEHICLES = 6
CONDITION_SAMPLES = 60
FAULT_CODES = ("", "", "", "", "P0A80", "U0100", "C1234", "B1A00")
SERVICE_VISITS = 80
SERVICE_TYPES = ("首保", "常规保养", "故障维修", "钣喷", "召回检修")
WKT_LANES = 40
WKT_POINTS_PER_LANE = 12
POI_COUNT = 60
POI_KINDS = ("充电站", "加油站", "停车场", "4S店", "服务区")
JSON_SWEEPS = 24
JSON_POINTS_PER_SWEEP = 48
BOX_LABELS = 60
OBJECT_CLASSES = ("car", "truck", "pedestrian", "cyclist", "cone")


def write_vehicle_condition(
    out: Path, fleet: Sequence[Vehicle], rng: random.Random
) -> list[Truth]:
    """Write a 1 Hz TSP condition stream and a service log as its close negative."""
    rows: dict[str, list[Any]] = {
        "vin": [], "ts": [], "speed_kmh": [], "soc_pct": [], "door_lock_state": [],
        "tyre_pressure_fl_kpa": [], "fault_code": [],
    }  # fmt: skip
    for vehicle in fleet[200 : 200 + CONDITION_VEHICLES]:
        start = random_time(rng, IMPORTANT_DAY.date())
        soc = rng.uniform(40, 95)
        for second in range(CONDITION_SAMPLES):
            soc -= rng.uniform(0, 0.02)
            rows["vin"].append(vehicle.vin)
            rows["ts"].append(start + dt.timedelta(seconds=second))
            rows["speed_kmh"].append(round(rng.uniform(0, 90), 1))
            rows["soc_pct"].append(round(soc, 2))
            rows["door_lock_state"].append(rng.choice(("locked", "locked", "unlocked")))
            rows["tyre_pressure_fl_kpa"].append(rng.randint(228, 252))
            rows["fault_code"].append(rng.choice(FAULT_CODES))
    schema = pa.schema([
        ("vin", pa.string()), ("ts", pa.timestamp("s")), ("speed_kmh", pa.float64()),
        ("soc_pct", pa.float64()), ("door_lock_state", pa.string()),
        ("tyre_pressure_fl_kpa", pa.int16()), ("fault_code", pa.string()),
    ])  # fmt: skip
    table = pa.Table.from_pydict(rows, schema=schema)
    write_parquet(out / "important/vehicle_condition.parquet", table, 120)
    condition_columns = dict.fromkeys(rows, [])
    condition_columns["vin"] = ["pi.vin"]

    # Close negative: a service visit has an odometer reading and a fault
    # code, but no driving signal and no stream of readings.
    visits = []
    for index in range(SERVICE_VISITS):
        visits.append((
            f"SV{610000 + index}", rng.choice(fleet).vin,
            f"2026-01-{rng.randint(1, 28):02d}", rng.randint(3000, 160000),
            rng.choice(FAULT_CODES), rng.choice(SERVICE_TYPES),
            f"{rng.uniform(200, 4800):.2f}",
        ))  # fmt: skip
    header = (
        "visit_id", "vin", "visit_date", "odometer_km", "fault_code", "service_type",
        "cost_cny",
    )  # fmt: skip
    write_csv(out / "service/service_visits.csv", header, visits, "utf-8")
    visit_columns = dict.fromkeys(header, [])
    visit_columns["vin"] = ["pi.vin"]
    return [
        dataset(
            "important/vehicle_condition.parquet",
            condition_columns,
            ["imp.connected_operation.remote_control"],
        ),
        dataset("service/service_visits.csv", visit_columns),
    ]


def wkt_number(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}"


def write_wkt_geometry(out: Path, rng: random.Random) -> list[Truth]:
    """Write lane centre lines as LINESTRING Z, and 2D points of interest."""
    lanes = []
    for lane in range(WKT_LANES):
        lon, lat, alt = 121.4737 + lane * 0.0004, 31.2304, 4.0 + lane * 0.01
        coordinates = []
        for _ in range(WKT_POINTS_PER_LANE):
            lon += rng.uniform(0.00001, 0.00002)
            lat += rng.uniform(0.00001, 0.00002)
            alt += rng.uniform(-0.03, 0.03)
            coordinates.append(
                f"{wkt_number(lon, 8)} {wkt_number(lat, 8)} {wkt_number(alt, 3)}"
            )
        lanes.append((
            f"L{lane + 1:04d}", f"R{lane // 8 + 1:03d}",
            rng.choice(("driving", "driving", "bus", "emergency")),
            f"LINESTRING Z ({', '.join(coordinates)})",
        ))  # fmt: skip
    header = ("lane_id", "road_id", "lane_type", "centerline_wkt")
    write_csv(out / "important/lane_centerlines.csv", header, lanes, "utf-8")

    # Close negative: points of interest in 2D, with no altitude.
    cities = list(CITIES.values())
    pois = []
    for index in range(POI_COUNT):
        city = rng.choice(cities)
        lon = city.lon + rng.uniform(-0.2, 0.2)
        lat = city.lat + rng.uniform(-0.2, 0.2)
        kind = rng.choice(POI_KINDS)
        pois.append((
            f"POI{9100 + index}", f"{city.name}{kind}{index % 9 + 1:02d}", kind,
            rng.choice(ROADS), f"POINT ({lon:.6f} {lat:.6f})",
        ))  # fmt: skip
    poi_header = ("poi_id", "poi_name", "category", "road_name", "geom_wkt")
    write_csv(out / "reference/poi_locations.csv", poi_header, pois, "utf-8")
    return [
        dataset(
            "important/lane_centerlines.csv",
            dict.fromkeys(header, []),
            ["imp.driving_automation.geodata", "flag.surveying"],
        ),
        dataset("reference/poi_locations.csv", dict.fromkeys(poi_header, [])),
    ]


def json_points(points: np.ndarray) -> str:
    return json.dumps([[round(float(v), 3) for v in point] for point in points])


def write_json_point_arrays(out: Path, seed: int) -> list[Truth]:
    """Write lidar sweeps as JSON point arrays, and 3D boxes as a close negative."""
    generator = np.random.default_rng(seed)
    start = IMPORTANT_DAY + dt.timedelta(hours=9)
    sweeps = []
    for index in range(JSON_SWEEPS):
        xyz = generator.uniform((-50, -50, -2), (50, 50, 5), (JSON_POINTS_PER_SWEEP, 3))
        intensity = generator.uniform(0, 1, (JSON_POINTS_PER_SWEEP, 1))
        sweeps.append((
            index + 1, "lidar_top", iso(start + dt.timedelta(milliseconds=100 * index)),
            json_points(np.hstack([xyz, intensity])),
        ))  # fmt: skip
    header = ("sweep_id", "sensor", "captured_at", "points")
    write_csv(out / "important/lidar_sweeps.csv", header, sweeps, "utf-8")

    # Close negative: annotated 3D boxes, 8 corners each, are not a sweep.
    boxes = []
    for index in range(BOX_LABELS):
        centre = generator.uniform((-40, -40, 0), (40, 40, 1))
        half = generator.uniform((0.5, 0.5, 0.5), (2.5, 1.2, 1.6))
        signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)])
        boxes.append((
            f"BOX{index + 1:05d}", index // 6 + 1, pick_in_turn(OBJECT_CLASSES, index),
            json_points(centre + signs * half),
        ))  # fmt: skip
    box_header = ("box_id", "frame_id", "object_class", "corner_points")
    write_csv(out / "important/box_labels.csv", box_header, boxes, "utf-8")
    return [
        dataset(
            "important/lidar_sweeps.csv",
            dict.fromkeys(header, []),
            ["imp.driving_automation.point_cloud", "flag.surveying"],
        ),
        dataset("important/box_labels.csv", dict.fromkeys(box_header, [])),
    ]


def pick_in_turn(options: Sequence[str], index: int) -> str:
    """Pick options in turn, so that no random draw is needed."""
    return options[index % len(options)]


def write_important(out: Path, fleet: Sequence[Vehicle]) -> list[Truth]:
    return [
        *write_charging(out, seeded("charging")),
        *write_traffic(out, seeded("traffic")),
        write_remote_commands(out, fleet, seeded("remote_commands")),
        write_map_lanes(out, seeded("map_lanes")),
        *write_lidar(out, seed=20260105),
        *write_software(out, seeded("software")),
        *write_production(out, seeded("production")),
        *write_vehicle_condition(out, fleet, seeded("vehicle_condition")),
        *write_wkt_geometry(out, seeded("wkt_geometry")),
        *write_json_point_arrays(out, seed=20260106),
    ]


# ---------------------------------------------------------------------------
# objects/: camera frames, a point cloud, a robotics log and firmware
# ---------------------------------------------------------------------------

IMAGE_WIDTH, IMAGE_HEIGHT = 320, 240
JPEG_QUALITY = 85
# Face drawing, in pixels: the OpenCV 4 frontal-face Haar cascade finds this
# synthetic face (dark brows and eyes over a light oval, a dark hairline),
# which a test of the lake checks.
FACE_SIZE = 70
PCD_POINTS = 400
MCAP_MESSAGES = 20
HEX_RECORDS = 24
FRAME_ROWS = 12


def draw_face(image: np.ndarray, cx: int, cy: int) -> None:
    """Draw a frontal face with a body, blurred so that edges look photographic."""
    import cv2

    size = FACE_SIZE

    def at(dx: float, dy: float) -> tuple[int, int]:
        return cx + int(size * dx), cy + int(size * dy)

    def axes(ax: float, ay: float) -> tuple[int, int]:
        return int(size * ax), int(size * ay)

    height = image.shape[0]
    cv2.rectangle(image, at(-0.43, 0.5), (cx + 30, height - 20), (60, 40, 30), -1)
    cv2.ellipse(image, (cx, cy), axes(0.42, 0.55), 0, 0, 360, (150, 175, 215), -1)
    for side in (-1, 1):
        brow, eye = at(side * 0.18, -0.2), at(side * 0.18, -0.1)
        cv2.ellipse(image, brow, axes(0.11, 0.03), 0, 0, 360, (40, 40, 40), -1)
        cv2.ellipse(image, eye, axes(0.09, 0.05), 0, 0, 360, (30, 30, 30), -1)
    cv2.ellipse(image, at(0, 0.12), axes(0.06, 0.03), 0, 0, 360, (110, 120, 140), -1)
    cv2.ellipse(image, at(0, 0.3), axes(0.14, 0.04), 0, 0, 360, (60, 60, 90), -1)
    cv2.ellipse(image, at(0, -0.45), axes(0.45, 0.2), 0, 0, 360, (30, 30, 30), -1)
    blurred = cv2.GaussianBlur(image, (0, 0), size * 0.03)
    region = np.zeros(image.shape[:2], np.uint8)
    cv2.circle(region, (cx, cy), size, 255, -1)
    image[region > 0] = blurred[region > 0]


def street_jpeg(generator: np.random.Generator, face: bool) -> bytes:
    """Draw a street seen by a front camera (sky, shop fronts, road, lane lines)."""
    import cv2

    image = np.zeros((IMAGE_HEIGHT, IMAGE_WIDTH, 3), np.uint8)
    image[:90] = (205, 175, 130)
    image[90:150] = (75, 72, 80)
    image[150:] = (105, 105, 105)
    for x in range(20, IMAGE_WIDTH, 80):
        cv2.line(image, (x, 230), (x + 30, 160), (235, 235, 235), 3)
    for _ in range(6):
        left = int(generator.integers(0, IMAGE_WIDTH - 40))
        cv2.rectangle(image, (left, 95), (left + 30, 130), (60, 110, 150), -1)
    if face:
        draw_face(image, IMAGE_WIDTH // 2, 118)
    return jpeg_bytes(image)


def cabin_jpeg(generator: np.random.Generator) -> bytes:
    """Draw a dark cabin seen by a driver-monitoring camera (seat and wheel)."""
    import cv2

    image = np.full((IMAGE_HEIGHT, IMAGE_WIDTH, 3), 40, np.uint8)
    noise = generator.integers(0, 12, image.shape, dtype=np.uint8)
    image = cv2.add(image, noise)
    cv2.rectangle(image, (90, 60), (230, 240), (55, 55, 60), -1)
    cv2.circle(image, (160, 210), 60, (20, 20, 20), 8)
    return jpeg_bytes(image)


def jpeg_bytes(image: np.ndarray) -> bytes:
    import cv2

    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG image")
    return bytes(encoded.tobytes())


def pcd_text(generator: np.random.Generator) -> str:
    """Write an ASCII PCD v0.7 point cloud with x, y, z and intensity."""
    points = generator.uniform((-40, -40, -2, 0), (40, 40, 4, 1), (PCD_POINTS, 4))
    header = (
        "# .PCD v0.7 - Point Cloud Data file format\n"
        "VERSION 0.7\nFIELDS x y z intensity\nSIZE 4 4 4 4\nTYPE F F F F\n"
        f"COUNT 1 1 1 1\nWIDTH {PCD_POINTS}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\n"
        f"POINTS {PCD_POINTS}\nDATA ascii\n"
    )
    body = "".join(" ".join(f"{v:.3f}" for v in point) + "\n" for point in points)
    return header + body


def intel_hex_record(kind: int, address: int, data: bytes) -> str:
    """Format one Intel HEX record, whose checksum is the two's complement sum."""
    payload = bytes([len(data), address >> 8, address & 0xFF, kind]) + data
    checksum = (-sum(payload)) & 0xFF
    return ":" + (payload + bytes([checksum])).hex().upper()


def intel_hex_text(generator: np.random.Generator) -> str:
    """Write a small ECU image in Intel HEX: base address, data, end record."""
    lines = [intel_hex_record(4, 0, b"\x08\x00")]
    for index in range(HEX_RECORDS):
        data = generator.integers(0, 256, 16, dtype=np.uint8).tobytes()
        lines.append(intel_hex_record(0, index * 16, data))
    lines.append(intel_hex_record(1, 0, b""))
    return "\n".join(lines) + "\n"


def mcap_bytes(rng: random.Random) -> bytes:
    """Write an MCAP log with a front camera topic and a GNSS topic (JSON)."""
    from mcap.writer import Writer

    buffer = io.BytesIO()
    writer = Writer(buffer)
    writer.start(profile="", library="cardex sample lake")
    camera_schema = writer.register_schema(
        name="CompressedImage", encoding="jsonschema", data=b'{"type": "object"}'
    )
    gps_schema = writer.register_schema(
        name="NavSatFix", encoding="jsonschema", data=b'{"type": "object"}'
    )
    camera = writer.register_channel("/camera/front/compressed", "json", camera_schema)
    gps = writer.register_channel("/gnss/fix", "json", gps_schema)
    start_ns = int(IMPORTANT_DAY.replace(tzinfo=dt.UTC).timestamp()) * 10**9
    lat, lon = 31.2304, 121.4737
    for index in range(MCAP_MESSAGES):
        when = start_ns + index * 100_000_000
        lat += rng.uniform(0.00001, 0.00003)
        lon += rng.uniform(0.00001, 0.00003)
        fix = {"latitude": round(lat, 7), "longitude": round(lon, 7), "altitude": 4.2}
        frame = {"format": "jpeg", "frame": index}
        writer.add_message(gps, when, json.dumps(fix).encode(), when)
        writer.add_message(camera, when, json.dumps(frame).encode(), when)
    writer.finish()
    return buffer.getvalue()


def write_object(out: Path, key: str, content: bytes) -> list[str]:
    """Write an object file; return the columns of the row cardex describes it by.

    The row's columns depend on what cardex reads from each format, so they
    are taken from cardex's file connector rather than listed here.
    """
    from connectors.base import DiscoveryOptions
    from connectors.files import FileConnector

    path = out / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    (handle,) = FileConnector().discover(str(path), DiscoveryOptions())
    return list(handle.sample(1).table.column_names)


def object_column_truth(column: str) -> list[str]:
    """Return the labels of one column of an object row.

    A robotics log's row may have a column per topic; the GNSS topic's column
    is a vehicle track.
    """
    return ["spi.location"] if "/gnss/" in column else []


def write_objects(out: Path, seed: int) -> list[Truth]:
    """Write object files: camera frames with and without a face, and others."""
    generator = np.random.default_rng(seed)
    exterior = ["imp.driving_automation.exterior_media"]
    point_cloud = ["imp.driving_automation.point_cloud", "flag.surveying"]
    files: list[tuple[str, bytes, list[str]]] = [
        ("objects/adas/front_cam/frame_0001.jpg", street_jpeg(generator, True),
         exterior),
        ("objects/adas/rear_cam/frame_0002.jpg", street_jpeg(generator, False),
         exterior),
        # Close negative: a face in a photo that no path ties to a camera.
        ("objects/marketing/showroom_0003.jpg", street_jpeg(generator, True), []),
        ("objects/dms/cabin/frame_0004.jpg", cabin_jpeg(generator),
         ["spi.cabin_media"]),
        ("objects/lidar/sweep_0001.pcd", pcd_text(generator).encode(), point_cloud),
        # The GNSS topic is a vehicle track; the camera topic is named "front".
        ("objects/logs/drive_0001.mcap", mcap_bytes(seeded("mcap")),
         ["spi.location", *exterior]),
        ("objects/ecu/bcm_v3.hex", intel_hex_text(generator).encode(),
         ["imp.software_upgrade.ota"]),
    ]  # fmt: skip
    truth = []
    for key, content, labels in files:
        columns = write_object(out, key, content)
        truth.append(dataset(key, {c: object_column_truth(c) for c in columns}, labels))
    truth.append(write_camera_frames(out, generator))
    return truth


def write_camera_frames(out: Path, generator: np.random.Generator) -> Truth:
    """Write a Parquet table whose binary column contains front-camera JPEG frames."""
    start = np.datetime64("2026-01-05T09:00:00", "ms")
    # Every third frame shows a pedestrian's face.
    frames = [street_jpeg(generator, index % 3 == 0) for index in range(FRAME_ROWS)]
    offsets = np.arange(FRAME_ROWS) * np.timedelta64(100, "ms")
    table = pa.table({
        "frame_id": pa.array(np.arange(FRAME_ROWS, dtype=np.int32)),
        "captured_at": pa.array(start + offsets),
        "front_cam_jpeg": pa.array(frames, pa.binary()),
    })  # fmt: skip
    write_parquet(out / "objects/adas/camera_frames.parquet", table, row_group_size=6)
    return dataset(
        "objects/adas/camera_frames.parquet",
        dict.fromkeys(table.column_names, []),
        ["imp.driving_automation.exterior_media"],
    )


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def seeded(part: str) -> random.Random:
    """Return a generator for one part of the lake.

    Each part has its own seed, so a dataset that draws more or fewer values
    does not shift the values of the others (unless a drawn value collides
    with one already used). String seeds do not depend on PYTHONHASHSEED.
    """
    return random.Random(f"{SEED}:{part}")


def generate(outdir: Path) -> list[Truth]:
    """Write the sample lake and truth.json into ``outdir``.

    Returns the truth entries, one per dataset, as written to truth.json.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    fleet_factory = Factory(seeded("fleet"))
    fleet = build_fleet(fleet_factory)

    def factory(part: str) -> Factory:
        # Every factory shares one set of used values, so no two people,
        # vehicles or devices in the lake collide.
        part_factory = Factory(seeded(part))
        part_factory.used = fleet_factory.used
        return part_factory

    truth = [
        write_owners_gbk(outdir, fleet, seeded("owners_gbk")),
        write_owners_pinyin(outdir, fleet, seeded("owners_pinyin")),
        write_child_passengers(outdir, fleet, factory("child_passengers")),
        write_trips(outdir, fleet, seeded("trips")),
        *write_app_db(outdir, fleet, factory("app")),
        write_tickets(outdir, fleet, seeded("tickets")),
        write_vehicle_status(outdir, fleet, factory("vehicle_status")),
        write_face_features(outdir, fleet, seed=20260104),
        *write_reference(outdir, factory("reference")),
        write_owners_utf16(outdir, fleet, seeded("owners_utf16")),
        write_accounts(outdir, fleet, seeded("accounts")),
        write_contacts(outdir, factory("contacts")),
        write_drivers(outdir, factory("drivers")),
        *write_important(outdir, fleet),
        *write_objects(outdir, seed=20260107),
    ]
    text = json.dumps({"datasets": truth}, ensure_ascii=False, indent=2) + "\n"
    (outdir / "truth.json").write_bytes(text.encode("utf-8"))
    return truth


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "outdir",
        nargs="?",
        type=Path,
        default=DEFAULT_OUTDIR,
        help="folder to write the lake into (default: the folder of this script)",
    )
    args = parser.parse_args(argv)
    truth = generate(args.outdir)
    print(f"wrote {len(truth)} datasets and truth.json to {args.outdir}")


if __name__ == "__main__":
    main()
