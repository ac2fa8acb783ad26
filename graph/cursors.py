"""Opaque page cursors: a base64 token over the code of the last item seen (keyset paging).

>>> decode_cursor(encode_cursor("370202001"))
'370202001'
>>> len(decode_cursor(encode_cursor("P" * MAX_KEY)))
64
"""

from __future__ import annotations

import base64
import binascii

from graph.errors import InvalidInput

_PREFIX = "code:"
MAX_KEY = 64
"""The longest key a cursor holds: a place code, an id (a repair project's is up to 64)."""


def encode_cursor(code: str) -> str:
    return base64.urlsafe_b64encode((_PREFIX + code).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, *, field: str = "after") -> str | None:
    """The code a cursor points after; a cursor this hub did not make is refused."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
    except (binascii.Error, UnicodeError, ValueError):
        text = ""
    if not text.startswith(_PREFIX) or len(text) == len(_PREFIX) or len(text) > len(_PREFIX) + MAX_KEY:
        raise InvalidInput(field, cursor, "is not a cursor from this list; pass a pageInfo.endCursor")
    return text[len(_PREFIX):]


def page_size(first: int | None, *, default: int = 50, maximum: int = 500, field: str = "first") -> int:
    """A page size between 1 and `maximum`; anything else is refused with the bounds."""
    if first is None:
        return default
    if not 1 <= first <= maximum:
        raise InvalidInput(field, first, f"must be between 1 and {maximum}")
    return first
