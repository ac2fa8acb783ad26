"""How personal data looks to a reader who may not see it whole.

>>> mask("name", "张三"), mask("name", "欧阳娜娜"), mask("id_number", "370202199001011234"), mask("phone", "13812345678")
('张*', '欧*', '370202********1234', '138****5678')
"""

from __future__ import annotations


def mask(field: str, value: str) -> str:
    """The masked form: the first character of a name and one star (its length is not shown),
    the region and last four of an ID number, the carrier prefix and last four of a phone."""
    if field == "name":
        return value[:1] + "*"
    if field == "id_number":
        return value[:6] + "*" * max(len(value) - 10, 0) + value[-4:] if len(value) > 10 else "*" * len(value)
    if field == "phone":
        return value[:3] + "****" + value[-4:] if len(value) >= 8 else "*" * len(value)
    raise ValueError(f"{field} is not a personal field")
