"""The law's classes and thresholds for owners' decisions (Civil Code Art. 278), exactly.

Art. 278 ¶2: a decision needs the participation of owners holding at least two thirds (三分之二
以上) of the exclusive area AND at least two thirds of the owners by number. Items (6) to (8) then
pass with at least three quarters (四分之三以上) of the participating area AND of the
participating owners; every other item with more than half (过半数) of both. "以上" includes the
number itself (Art. 1259), "过半数" does not.

Areas are integers (hundredths of a m²); owners by number are exact fractions (an owner with
several houses in the voting area is one head whose ballots split it in equal parts, see
graph.votes.electorate), so every comparison is of integers: part·q ≥ whole·p, never a float.

>>> at_least(2, 3, TWO_THIRDS), at_least(1999, 3000, TWO_THIRDS)
(True, False)
>>> more_than(1, 2, HALF), more_than(50001, 100000, HALF)
(False, True)
"""

from __future__ import annotations

import enum
from fractions import Fraction

Number = int | Fraction

TWO_THIRDS = Fraction(2, 3)
THREE_QUARTERS = Fraction(3, 4)
HALF = Fraction(1, 2)


class ItemClass(enum.IntEnum):
    """The matters of Civil Code Art. 278 ¶1, numbered as there."""

    RULES_OF_PROCEDURE = 1  # 制定和修改业主大会议事规则
    MANAGEMENT_STATUTE = 2  # 制定和修改管理规约
    COMMITTEE = 3  # 选举业主委员会或者更换业主委员会成员
    PROPERTY_SERVICE = 4  # 选聘和解聘物业服务企业或者其他管理人
    USE_FUND = 5  # 使用建筑物及其附属设施的维修资金
    RAISE_FUND = 6  # 筹集建筑物及其附属设施的维修资金
    REBUILD = 7  # 改建、重建建筑物及其附属设施
    COMMON_PARTS = 8  # 改变共有部分的用途或者利用共有部分从事经营活动
    OTHER_MAJOR = 9  # 有关共有和共同管理权利的其他重大事项

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def special(self) -> bool:
        """Whether the item needs three quarters of the participants (items 6–8)."""
        return self in SPECIAL

    @classmethod
    def of(cls, number: int, *, field: str = "class") -> ItemClass:
        from graph.errors import InvalidInput

        try:
            return cls(number)
        except ValueError:
            raise InvalidInput(field, str(number), "is not a class of Civil Code Art. 278; use 1 to 9") from None


SPECIAL = frozenset({ItemClass.RAISE_FUND, ItemClass.REBUILD, ItemClass.COMMON_PARTS})

_LABELS = {
    ItemClass.RULES_OF_PROCEDURE: "制定和修改业主大会议事规则",
    ItemClass.MANAGEMENT_STATUTE: "制定和修改管理规约",
    ItemClass.COMMITTEE: "选举业主委员会或者更换业主委员会成员",
    ItemClass.PROPERTY_SERVICE: "选聘和解聘物业服务企业或者其他管理人",
    ItemClass.USE_FUND: "使用建筑物及其附属设施的维修资金",
    ItemClass.RAISE_FUND: "筹集建筑物及其附属设施的维修资金",
    ItemClass.REBUILD: "改建、重建建筑物及其附属设施",
    ItemClass.COMMON_PARTS: "改变共有部分的用途或者利用共有部分从事经营活动",
    ItemClass.OTHER_MAJOR: "有关共有和共同管理权利的其他重大事项",
}


def at_least(part: Number, whole: Number, ratio: Fraction) -> bool:
    """part ≥ ratio·whole (以上: the number itself included); never true of an empty whole."""
    if whole <= 0:
        return False
    return part * ratio.denominator >= whole * ratio.numerator


def more_than(part: Number, whole: Number, ratio: Fraction) -> bool:
    """part > ratio·whole (过: the number itself excluded); never true of an empty whole."""
    if whole <= 0:
        return False
    return part * ratio.denominator > whole * ratio.numerator


def quorum(area: int, heads: Number, total_area: int, total_heads: Number) -> bool:
    """Whether the participants hold at least 2/3 of the exclusive area and are at least 2/3 of
    the owners by number."""
    return at_least(area, total_area, TWO_THIRDS) and at_least(heads, total_heads, TWO_THIRDS)


def carried(klass: ItemClass, area: int, heads: Number, voting_area: int, voting_heads: Number) -> bool:
    """Whether `area` and `heads` in favour carry an item of `klass` among participants holding
    `voting_area` and numbering `voting_heads` (the quorum is checked apart: `quorum`)."""
    if klass.special:
        return at_least(area, voting_area, THREE_QUARTERS) and at_least(heads, voting_heads, THREE_QUARTERS)
    return more_than(area, voting_area, HALF) and more_than(heads, voting_heads, HALF)


def rule_text(klass: ItemClass) -> str:
    """The threshold an item of `klass` must reach, in words (shown with the result)."""
    quorum_text = "参与表决：专有部分面积三分之二以上且人数三分之二以上"
    if klass.special:
        return quorum_text + "；同意：参与表决专有部分面积四分之三以上且参与表决人数四分之三以上"
    return quorum_text + "；同意：参与表决专有部分面积过半数且参与表决人数过半数"
