"""What the books' entry formats share (graph.funds.journal, graph.funds.revenue): reading a
canonical JSON body field by field, and checking that a national code is valid and written in
its one canonical spelling (a leaf hash must have one byte string per entry)."""

from __future__ import annotations

import functools
from typing import Any

from graph.codes import CreditCode, EstateCode, HouseCode
from graph.errors import InvalidInput

Code = type[EstateCode] | type[HouseCode] | type[CreditCode]


def is_int(value: object) -> bool:
    """An int that is not a bool (True is not an amount)."""
    return isinstance(value, int) and not isinstance(value, bool)


def json_text(body: dict[str, Any], name: str, where: str) -> str:
    """The body's field `name`, which must be a JSON string (InvalidInput naming `where name`)."""
    value = body[name]
    if not isinstance(value, str):
        raise InvalidInput(f"{where} {name}", value, "must be a JSON string")
    return value


@functools.lru_cache(maxsize=65536)
def _canonical(kind: Code, value: str) -> bool:
    """Whether `value` is a valid code of `kind` in its canonical spelling (cached: a journal
    names the same houses, estate and firm again and again). An invalid code raises, and raising
    is not cached."""
    return str(kind.parse(value)) == value


def check_code(kind: Code, value: object, field: str) -> None:
    """Refuse (InvalidInput naming `field`) a value that is not a valid code of `kind` written
    in canonical form."""
    if not isinstance(value, str):
        raise InvalidInput(field, value, f"must be a string ({kind.what})")
    try:
        canonical = _canonical(kind, value)
    except InvalidInput as error:
        raise type(error)(field, value, error.rule) from None
    if not canonical:
        raise InvalidInput(field, value, f"must be written in canonical form, upper case without spaces ({kind.what})")
