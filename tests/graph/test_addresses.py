"""The address parser: the module's doctests, real variants, and a property test that renders
thousands of addresses in the styles clerks use and reads every part back."""

from __future__ import annotations

import doctest
import random
from dataclasses import dataclass

import pytest

from graph import addresses
from graph.addresses import chinese_number, name_key, normalise, parse_address


def test_doctests() -> None:
    failures, tried = doctest.testmod(addresses)
    assert tried > 10 and failures == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "青岛市市南区香港中路街道江西路社区海韵花园3号楼2单元501室",
            dict(city="青岛市", district="市南区", street="香港中路街道", community="江西路社区", estate="海韵花园", building=3, entrance=2, room="501", floor=5),
        ),
        ("山东省青岛市市北区海逸花园3栋2单元501", dict(province="山东省", district="市北区", estate="海逸花园", building=3, entrance=2, room="501")),
        ("市南区海逸花园3幢501室", dict(district="市南区", estate="海逸花园", building=3, entrance=None, room="501")),
        ("海逸花园三号楼二单元五零一", dict(estate="海逸花园三号楼二单元五零一", building=None)),  # a room in numerals: nothing is guessed
        ("海逸花园十二号楼二单元1201", dict(estate="海逸花园", building=12, entrance=2, room="1201", floor=12)),
        ("ＡＢ花园１２号楼 ３单元 １００２室", dict(estate="AB花园", building=12, entrance=3, room="1002", floor=10)),
        ("青岛市市南区香港中路8号3号楼2单元501室", dict(road="香港中路", road_number="8", estate=None, building=3)),
        ("市南区香港中路8号润景城3号楼", dict(road="香港中路", road_number="8", estate="润景城", building=3, room=None)),
        ("市南区香港中路8号", dict(road="香港中路", road_number="8", building=None)),
        ("金岸小区12-3-602", dict(district=None, estate="金岸小区", building=12, entrance=3, room="602")),
        ("金岸小区12-602", dict(estate="金岸小区", building=12, entrance=None, room="602")),
        ("江西路社区泰安路家园2号楼1单元101网点", dict(community="江西路社区", estate="泰安路家园", building=2, shop=True)),
        ("市南区琴屿·润景城3号楼地下B1-003车位", dict(estate="琴屿·润景城", building=3, parking="地下B1-003车位", room=None)),
        ("胶州市胶州路街道某某小区A座1101", dict(city="胶州市", street="胶州路街道", building=None, building_label="A", room="1101")),
        ("市北区市场三路某小区1栋2单元302", dict(district="市北区", estate="市场三路某小区", building=1, entrance=2)),
        ("黄岛区辛安街道泰州路新村五号楼", dict(street="辛安街道", estate="泰州路新村", building=5)),
        ("", dict(estate=None, building=None, room=None)),
        ("？？？", dict(estate="？？？".replace("？", "?"), building=None)),
    ],
)
def test_real_variants(text: str, expected: dict[str, object]) -> None:
    parsed = parse_address(text)
    assert {name: getattr(parsed, name) for name in expected} == expected, parsed


def test_house_names_follow_the_place_tree() -> None:
    assert parse_address("海逸花园3号楼2单元501室").house_name == "2单元501室"
    assert parse_address("海逸花园3号楼501").house_name == "1单元501室"  # one entrance
    assert parse_address("海逸花园3号楼1单元101网点").house_name == "1单元101网点"
    assert parse_address("海逸花园3号楼").house_name is None


def test_numbers_and_names() -> None:
    assert [chinese_number(t) for t in ("九十九", "两", "零", "一百", "12a")] == [99, 2, 0, 100, None]
    assert normalise("  ３号楼 — ２ ") == "3号楼-2"
    assert name_key("海宸·锦绣华庭") == name_key("海宸锦绣华庭") == "海宸锦绣华庭"


_NUMERALS = "零一二三四五六七八九"


def _chinese(number: int) -> str:
    if number < 10:
        return _NUMERALS[number]
    tens, ones = divmod(number, 10)
    return ("" if tens == 1 else _NUMERALS[tens]) + "十" + (_NUMERALS[ones] if ones else "")


@dataclass(frozen=True)
class _Parts:
    district: str
    street: str
    community: str
    estate: str
    building: int
    entrance: int
    floor: int
    unit: int


_ESTATES = ("海韵花园", "琴屿·润景城", "泰安路家园", "仰口路公寓", "鸿泰公馆", "新都小区", "书香佳园", "胶澳·海天山庄", "湛山宿舍", "红岛苑")
_PLACES = (("市南区", "香港中路街道", "江西路社区"), ("市北区", "台东街道", "威海路社区"), ("崂山区", "沙子口街道", "姜哥庄社区居委会"), ("黄岛区", "辛安街道", "辛安村委会"))


def _render(parts: _Parts, rng: random.Random) -> str:
    """The address in a random clerk's style; every style keeps every part readable."""
    pieces: list[str] = []
    if rng.random() < 0.3:
        pieces.append("山东省")
    if rng.random() < 0.7:
        pieces.append("青岛市")
    pieces.append(parts.district)
    if rng.random() < 0.6:
        pieces.append(parts.street)
    if rng.random() < 0.5:
        pieces.append(parts.community)
    pieces.append(parts.estate if rng.random() < 0.8 else parts.estate.replace("·", ""))
    room = f"{parts.floor}{parts.unit:02d}"
    style = rng.random()
    if style < 0.15:
        pieces.append(f"{parts.building}-{parts.entrance}-{room}")
    else:
        number = _chinese(parts.building) if rng.random() < 0.2 else str(parts.building)
        pieces.append(number + rng.choice(("号楼", "栋", "幢", "号楼", "#楼")))
        entrance = _chinese(parts.entrance) if rng.random() < 0.2 else str(parts.entrance)
        pieces.append(entrance + "单元")
        pieces.append(room + rng.choice(("室", "", "室", "户")))
    joiner = rng.choice(("", "", " ", "\u3000"))
    text = joiner.join(pieces)
    if rng.random() < 0.3:  # full-width digits, as Chinese input methods type them
        text = text.translate({ord(d): chr(0xFF10 + int(d)) for d in "0123456789"})
    return text


def test_every_rendered_address_reads_back() -> None:
    rng = random.Random(20240601)
    for _ in range(3000):
        district, street, community = rng.choice(_PLACES)
        parts = _Parts(
            district, street, community, rng.choice(_ESTATES),
            rng.randint(1, 40), rng.randint(1, 6), rng.randint(1, 33), rng.randint(1, 4),
        )
        text = _render(parts, rng)
        parsed = parse_address(text)
        assert parsed.district == parts.district, text
        assert parsed.street in (None, parts.street), text
        assert parsed.community in (None, parts.community), text
        assert parsed.estate is not None and name_key(parsed.estate) == name_key(parts.estate), (text, parsed)
        assert (parsed.building, parsed.entrance, parsed.floor) == (parts.building, parts.entrance, parts.floor), (text, parsed)
        assert parsed.house_name == f"{parts.entrance}单元{parts.floor}{parts.unit:02d}室", text


def test_the_parser_never_raises_on_noise() -> None:
    rng = random.Random(7)
    alphabet = "青岛市南区街道社区号楼栋单元室0123456789-#· 路８Ａ"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        parsed = parse_address(text)
        assert parsed.text == normalise(text)
