"""Chinese postal addresses (通信地址) taken apart into the levels of the place tree.

Utilities and the 12345 hotline rarely keep the 不动产单元号; they keep an address as a clerk
typed it: `青岛市市南区香港中路街道江西路社区海韵花园3号楼2单元501室`, or with the province in
front, without the street or the community, with 栋/幢/座 for 号楼, full-width digits, Chinese
numerals (三号楼, 二单元), spaces, a road and number for the estate (香港中路8号), or the terse
`3-2-501` for building, entrance and room. `parse_address` reads all of these into an `Address`
whose parts the matcher (connectors.matching) walks down the place tree with.

The parser is pure and forgiving: it never raises; what it cannot place stays None, and what is
left between the administrative prefix and the building is the estate's location.

>>> a = parse_address("青岛市市南区香港中路街道江西路社区海韵花园3号楼2单元501室")
>>> (a.city, a.district, a.street, a.community, a.estate, a.building, a.entrance, a.room)
('青岛市', '市南区', '香港中路街道', '江西路社区', '海韵花园', 3, 2, '501')
>>> a.floor
5
>>> b = parse_address("山东省青岛市市南区 香港中路８号 三号楼二单元１２０２")
>>> (b.province, b.road, b.road_number, b.estate, b.building, b.entrance, b.room, b.floor)
('山东省', '香港中路', '8', None, 3, 2, '1202', 12)
>>> parse_address("市北区海逸花园5栋301").building, parse_address("市北区海逸花园5栋301").entrance
(5, None)
>>> parse_address("崂山区金岸小区12-3-602").house_name
'3单元602室'
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUMBER = r"(?:\d+|[零〇一二两三四五六七八九十百]+)"


def chinese_number(text: str) -> int | None:
    """A whole number written in digits or in Chinese numerals below 1000.

    >>> [chinese_number(t) for t in ("3", "三", "十", "十二", "二十", "二十三", "一百零五", "x")]
    [3, 3, 10, 12, 20, 23, 105, None]
    """
    if text.isdigit():
        return int(text)
    if not text or any(ch not in _DIGITS and ch not in "十百" for ch in text):
        return None
    total, current = 0, 0
    for ch in text:
        if ch == "百":
            total += (current or 1) * 100
            current = 0
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = _DIGITS[ch]
    return total + current


def normalise(text: str) -> str:
    """Full-width to half-width (NFKC), separators unified, spaces and stray punctuation gone.

    >>> normalise(" 青岛市　市南区 海韵花园３号楼－２单元（东）")
    '青岛市市南区海韵花园3号楼-2单元(东)'
    """
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"[\s,，、;；]+", "", text)
    text = re.sub(r"[‐‑‒–—―~～]", "-", text)
    text = re.sub(r"[・•∙⋅]", "·", text)
    return text.strip("-#")


def name_key(name: str) -> str:
    """A name as matching compares it: normalised, without the brand dot and brackets.

    >>> name_key("琴屿·润景城") == name_key("琴屿润景城 ")
    True
    """
    return re.sub(r"[·()\[\]【】「」\"'“”]", "", normalise(name))


@dataclass(frozen=True, slots=True)
class Address:
    """The parts of an address, each as written (normalised) or None when it was not given."""

    text: str
    province: str | None = None
    city: str | None = None
    district: str | None = None
    street: str | None = None
    community: str | None = None
    road: str | None = None
    road_number: str | None = None
    estate: str | None = None
    """The estate's name (小区/花园/苑/…), without road and number."""
    building: int | None = None
    building_label: str | None = None
    """A building named by a letter (A座) rather than a number."""
    entrance: int | None = None
    room: str | None = None
    """The room number as written ('501', '1202'); `floor` is read from it."""
    floor: int | None = None
    shop: bool = False
    """A shop unit (网点): the demo city names such houses '1单元101网点'."""
    parking: str | None = None
    """A parking space as written ('地下B1-001车位')."""

    @property
    def house_name(self) -> str | None:
        """The house's name as the place tree spells it ('2单元501室'); None without a room.

        A room without an entrance is in entrance 1, as single-entrance buildings are written.
        """
        if self.parking:
            return self.parking
        if self.room is None:
            return None
        return f"{self.entrance or 1}单元{self.room}{'网点' if self.shop else '室'}"

    @property
    def estate_location(self) -> str | None:
        """What stands for the estate: its name, else its road and number ('香港中路8号')."""
        if self.estate:
            return self.estate
        if self.road:
            return f"{self.road}{self.road_number or ''}{'号' if self.road_number else ''}"
        return None


_PROVINCE = re.compile(r"^(.{2,7}?(?:省|自治区|特别行政区))")
_CITY = re.compile(r"^([^区县市]{2,6}市)(?=.{2,})")
_PREFECTURE = re.compile(r"^([^区县市]{2,10}?(?:自治州|地区|盟))(?=.{2,})")
"""A prefecture that is not a 市 (恩施土家族苗族自治州, 阿里地区, 兴安盟): read only after a province,
since a street is called `…地区` too (北京市朝阳区南磨房地区), and before a 市, which may be its
county-level city (兴安盟阿尔山市)."""
_DISTRICT = re.compile(r"^(.{1,14}?(?<!社|小|园|校|厂|营|地)(?:自治县|自治旗|林区|特区|区|县|市|旗))(?!场|域|间|民)")
_STREET = re.compile(
    r"^(.{1,16}?(?:街道办事处|街道|地区|民族乡|民族苏木|苏木|镇(?![路街江]|地区)|乡(?![村路]|街道|地区|镇))"
    r"|.{2,12}?(?:开发区|度假区|管理区|农场|林场|牧场|渔场|示范区|新区|片区|办事处))"
)
"""The 乡级 unit (街道, 镇, 乡, 地区, 民族乡, 苏木, 街道办事处, and the farms, zones and offices that
stand in for one); what the grammar cannot tell (a town whose name has no suffix, 永兴), the
matcher reads with the district's own street names (`parse_address(..., streets=...)`)."""
_COMMUNITY = re.compile(
    r"^(.{1,12}?(?:社区居民委员会|居民委员会|村民委员会|社区居委会|居委会|村委会|社区))"
)
_ROAD = re.compile(r"^(?P<road>.{1,12}?(?:大道|路|街|巷|道|胡同|里))(?P<number>\d+(?:-\d+)?)号(?:院)?")
_PARKING = re.compile(r"((?:地下|地上)?[A-Z]?\d*-?\d+车位)$")
_ROOM = re.compile(r"(\d{3,5})(室|户|号|网点)?$")
_ENTRANCE = re.compile(rf"({_NUMBER})单元$")
_BUILDING = re.compile(rf"(?:({_NUMBER})(号楼|號樓|栋|棟|幢|座|号|#楼|#)|([A-Z])(?:座|栋|幢|号楼))$")
_ROAD_END = re.compile(r"(?:路|街|道|巷|里)$")
_DASHED = re.compile(r"(\d+)-(\d+)-(\d{3,5})(室|户|号)?$")


_OFFICE_ENDINGS = ("街道办事处", "街道", "办事处")
"""How one street office's name is written: 建外街道, 建外街道办事处, 建外办事处."""


def _known(
    rest: str, names: Iterable[str], *, anywhere: bool, endings: tuple[str, ...] = ()
) -> tuple[str, str, str] | None:
    """(what comes before, the name as written, what follows) for the longest of `names` that
    `rest` starts with (or, `anywhere`, that it holds earliest); None when it names none."""
    best: tuple[int, int] | None = None
    for name in names:
        key = normalise(name)
        forms = {key}
        for ending in endings:
            if key.endswith(ending) and len(key) - len(ending) >= 2:
                forms.update(key[: -len(ending)] + other for other in endings)
                break
        for form in forms:
            if not form:
                continue
            at = rest.find(form) if anywhere else (0 if rest.startswith(form) else -1)
            if at < 0:
                continue
            if best is None or at < best[0] or (at == best[0] and len(form) > best[1]):
                best = (at, len(form))
    if best is None:
        return None
    at, length = best
    return rest[:at], rest[at : at + length], rest[at + length :]


def _take(pattern: re.Pattern[str], text: str) -> tuple[str | None, str]:
    found = pattern.match(text)
    if not found:
        return None, text
    return found.group(1), text[found.end(1):]


def parse_address(text: str, *, districts: Iterable[str] = (), streets: Iterable[str] = ()) -> Address:
    """The parts of `text` (see the module docstring for the forms it reads). Never raises.

    `districts` and `streets` are names the caller knows are there (the city's districts, the
    district's streets, from the place tree): the longest one the address names is taken as
    written, before the grammar is tried, so a town called 永兴 or a district called 新市区 is
    read whole. A street name matches written with 街道, 街道办事处 or 办事处 for one another.

    >>> parse_address("").estate is None
    True
    >>> p = parse_address("市南区琴屿·润景城1号楼1单元101网点")
    >>> (p.estate, p.house_name)
    ('琴屿·润景城', '1单元101网点')
    >>> parse_address("北京市朝阳区南磨房地区东郊社区金隅家园3号楼2单元501室").street
    '南磨房地区'
    >>> parse_address("海南省三沙市西沙区永兴人民路8号幸福家园3号楼501室", streets=["永兴"]).street
    '永兴'
    """
    rest = normalise(text)
    parts: dict[str, object] = {"text": rest}
    province, rest = _take(_PROVINCE, rest)
    after_province = rest
    city = None
    if province is not None:  # 兴安盟阿尔山市: the 盟 is the prefecture, 阿尔山市 its county
        city, rest = _take(_PREFECTURE, rest)
    if city is None:
        city, rest = _take(_CITY, rest)
    district: str | None
    street: str | None
    known = _known(after_province, districts, anywhere=True)
    if known is not None:  # what lies between the province and the district is the city
        before, district, after_district = known
        city = before or None
    else:
        district, after_district = _take(_DISTRICT, rest)
    known = _known(after_district, streets, anywhere=False, endings=_OFFICE_ENDINGS)
    if known is None and streets and not districts:
        # the grammar's district may have run into the street (东莞市虎门港管委会…, 下花园区…):
        # the street, found where it is, says where the district ends
        known = _known(rest, streets, anywhere=True, endings=_OFFICE_ENDINGS)
        if known is not None:
            district = known[0] or None
    if known is not None:
        _, street, rest = known
    else:
        street, rest = _take(_STREET, after_district)
    community, rest = _take(_COMMUNITY, rest)
    parts.update(province=province, city=city, district=district, street=street, community=community)

    parking = _PARKING.search(rest)
    if parking:
        parts["parking"] = parking.group(1)
        rest = rest[: parking.start()]
    dashed = _DASHED.search(rest)
    if dashed and not parking:
        parts.update(building=int(dashed.group(1)), entrance=int(dashed.group(2)), room=dashed.group(3))
        rest = rest[: dashed.start()]
    elif not parking:
        room = _ROOM.search(rest)
        if room and (room.group(2) or _BUILDING.search(rest[: room.start()]) or _ENTRANCE.search(rest[: room.start()])):
            parts["room"] = room.group(1)
            parts["shop"] = room.group(2) == "网点"
            rest = rest[: room.start()]
        entrance = _ENTRANCE.search(rest)
        if entrance:
            parts["entrance"] = chinese_number(entrance.group(1))
            rest = rest[: entrance.start()]
    building = _BUILDING.search(rest)
    if building and building.group(2) in ("号", "#") and _ROAD_END.search(rest[: building.start()]):
        building = None  # '香港中路8号': a road number, part of the estate's location
    if building and "building" not in parts:
        if building.group(1):
            parts["building"] = chinese_number(building.group(1))
        else:
            parts["building_label"] = building.group(3)
        rest = rest[: building.start()]
    elif "building" not in parts and parking is None and rest:
        # '海韵花园3-501' (building-room) or a bare trailing number after the estate
        pair = re.search(r"(\d+)-(\d{3,5})$", rest)
        if pair:
            parts.update(building=int(pair.group(1)), room=pair.group(2))
            rest = rest[: pair.start()]
    room_text = parts.get("room")
    if isinstance(room_text, str) and len(room_text) >= 3:
        parts["floor"] = int(room_text[:-2])
    road = _ROAD.match(rest)
    if road:
        parts.update(road=road.group("road"), road_number=road.group("number"))
        rest = rest[road.end():]
    parts["estate"] = rest or None
    return Address(**parts)  # type: ignore[arg-type]
