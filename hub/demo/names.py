"""Realistic Chinese names for synthetic people, estates and companies.

Surnames follow their rough frequency in Shandong (王, 张, 李, 刘 lead; 于, 姜, 曲, 隋 are
typical of Jiaodong); given names draw on characters common for the owner's sex and generation.
Company names are made up: real firm names must not be tied to invented credit codes.
"""

from __future__ import annotations

import random
from bisect import bisect
from itertools import accumulate

# (surname, weight ~ per-mille share in Shandong, rounded)
_SURNAMES: tuple[tuple[str, int], ...] = (
    ("王", 90), ("张", 80), ("李", 78), ("刘", 68), ("杨", 32), ("孙", 30), ("徐", 26),
    ("赵", 25), ("陈", 25), ("于", 22), ("高", 20), ("马", 18), ("姜", 18), ("宋", 16),
    ("郭", 15), ("周", 14), ("吴", 13), ("董", 13), ("曲", 12), ("胡", 11), ("韩", 11),
    ("丁", 11), ("孔", 10), ("朱", 10), ("林", 10), ("崔", 10), ("曹", 9), ("许", 9),
    ("袁", 8), ("魏", 8), ("隋", 8), ("修", 7), ("鲁", 7), ("纪", 7), ("薛", 7), ("吕", 7),
    ("潘", 6), ("程", 6), ("黄", 6), ("田", 6), ("贾", 6), ("臧", 5), ("毛", 5), ("范", 5),
    ("谭", 5), ("邱", 5), ("葛", 5), ("栾", 4), ("矫", 4), ("宫", 4), ("衣", 4), ("逄", 3),
    ("盛", 3), ("尹", 3), ("郝", 3), ("单", 3), ("辛", 3), ("管", 3), ("欧阳", 1), ("司马", 1),
)
_SURNAME_LIST = tuple(name for name, _ in _SURNAMES)
_SURNAME_CUMULATIVE = tuple(accumulate(weight for _, weight in _SURNAMES))

_MALE = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宁凯健浩宇晨志建海东峰林文亮亮俊帅"
_FEMALE = "芳娜敏静丽艳娟霞燕玲萍红梅琳婷雪慧颖洁倩欣悦佳莉晶璐岚娇丹琪"
_MALE_OLD = "建国德福志长树德文忠永庆学成明春"
_FEMALE_OLD = "秀淑桂玉凤兰英珍华芝美荣翠"
_MALE_YOUNG = "子浩宇轩博睿泽晨皓然铭一豪楠"
_FEMALE_YOUNG = "雨欣梓涵诗思可怡佳琪萱婉晴"


def surname(rng: random.Random) -> str:
    return _SURNAME_LIST[bisect(_SURNAME_CUMULATIVE, rng.random() * _SURNAME_CUMULATIVE[-1])]


def person_name(rng: random.Random, male: bool, born: int) -> str:
    """A full name; a single-character given name about a third of the time."""
    if born < 1960:
        pool = (_MALE_OLD + _MALE) if male else (_FEMALE_OLD + _FEMALE)
    elif born >= 1985:
        pool = (_MALE_YOUNG + _MALE) if male else (_FEMALE_YOUNG + _FEMALE)
    else:
        pool = _MALE if male else _FEMALE
    size = len(pool)
    given = pool[int(rng.random() * size)]
    if rng.random() >= 0.35:
        given += pool[int(rng.random() * size)]
    return surname(rng) + given


# Two-character words that sound right in estate and company names.
_WORDS = (
    "海景", "金岸", "锦绣", "翠湖", "名仕", "天泰", "银海", "丽景", "阳光", "华府", "盛世", "御景",
    "星河", "东方", "海韵", "山水", "枫林", "碧海", "凯旋", "龙湾", "晓港", "康乐", "和谐", "泰和",
    "润景", "瑞源", "福泉", "长岛", "汇金", "世纪", "青华", "海天", "浮山", "嘉和", "鲁海", "琴岛",
    "澳门", "湖光", "春晖", "书香", "怡景", "锦华", "新都", "万和", "颐和", "银座", "翡翠", "海逸",
    "观澜", "云溪", "红岛", "德馨", "崂峰", "珠江", "荣华", "金沙", "紫荆", "兴业", "鸿泰", "博文",
)
_BRANDS = ("海宸", "鲁润", "青建", "德汇", "泰悦", "胶澳", "中鲁", "海岳", "琴屿", "崂信")
_MODERN_SUFFIXES = (
    "花园", "家园", "苑", "华庭", "名邸", "公馆", "府", "湾", "国际", "城", "雅居", "佳园", "山庄",
)
_OLD_SUFFIXES = ("小区", "新村", "宿舍", "里", "公寓", "花园")
_NUMERALS = "一二三四五六七八九十"


def estate_name(rng: random.Random, stem: str, year: int, urban: bool) -> str:
    """An estate (小区) name in the style of its era: 江西路小区 (1990s), 海宸·锦绣华庭 (2010s)."""
    roll = rng.random()
    if not urban and roll < 0.5:
        return stem.removesuffix("村") + rng.choice(("新村", "社区", "安置小区", "佳苑"))
    if year < 2000:
        if roll < 0.55:
            return stem + rng.choice(_OLD_SUFFIXES)
        return rng.choice(_WORDS) + rng.choice(("小区", "新村", "公寓", "花园"))
    if roll < 0.35:
        return rng.choice(_BRANDS) + "·" + rng.choice(_WORDS) + rng.choice(_MODERN_SUFFIXES)
    if roll < 0.55:
        return stem + rng.choice(_MODERN_SUFFIXES)
    return rng.choice(_WORDS) + rng.choice(_MODERN_SUFFIXES)


def phase_name(name: str, phase: int) -> str:
    """A second estate of the same name is its next phase (二期), as developers name them."""
    return f"{name}{_NUMERALS[min(phase, 10) - 1]}期"


_FIRM_SUFFIXES = ("物业管理有限公司", "物业服务有限公司", "物业发展有限公司", "物业服务集团有限公司")


_FIRM_FIRST = tuple(sorted({word[0] for word in _WORDS}))
_FIRM_SECOND = tuple(sorted({word[1] for word in _WORDS}))
_FIRM_PAIRS = len(_FIRM_FIRST) * len(_FIRM_SECOND)


def firm_name(slot: int, index: int, rng: random.Random) -> str:
    """A property firm's name, unique across the city without a registry of names issued.

    District `slot` (0-9) owns every tenth pair of characters; a fixed invertible scramble
    keeps neighbouring firms from sounding alike.
    """
    number = index * 10 + slot
    cycle, number = divmod(number, _FIRM_PAIRS)
    first, second = divmod((number * 7_919 + 13) % _FIRM_PAIRS, len(_FIRM_SECOND))
    words = _FIRM_FIRST[first] + _FIRM_SECOND[second] + (str(cycle + 1) if cycle else "")
    prefix = "青岛" if rng.random() < 0.85 else "山东"
    return prefix + words + rng.choice(_FIRM_SUFFIXES)


def developer_name(estate_name: str, rng: random.Random) -> str:
    """The developer that built an estate and keeps its unsold units."""
    stem = estate_name.split("·")[-1][:2]
    return "青岛" + stem + rng.choice(("置业有限公司", "房地产开发有限公司", "地产有限公司"))


def company_name(rng: random.Random) -> str:
    """A small company that owns a shop unit (网点房)."""
    trade = rng.choice(("贸易", "商贸", "餐饮管理", "投资", "科技", "医药连锁", "文化传媒", "教育咨询"))
    return "青岛" + rng.choice(_WORDS) + trade + "有限公司"
