"""The hub's id of an owner, derived from the national number that identifies it.

Sources that know an owner only by its 身份证号 or 统一社会信用代码 (the demo city, the registry's
rights holders) must arrive at the same owner, so the rule lives here, in the domain, once.

The id is a keyed MAC (HMAC-SM3) of the number, never a plain hash: an 18-character resident ID
number has few enough possible values (region, birth date, sequence) that anyone holding a plain
hash could find the number by trying them all, and roles that see owners masked still see their
ids. A hub's key is derived from its blind-index key (`Sealer.owner_ids`), so ids are stable for
one hub and meaningless outside it.
"""

from __future__ import annotations

from graph.ciphers.sm3 import hmac_sm3


class OwnerIds:
    """Owner id for a national number under one key; spaces and case do not matter.

    >>> ids = OwnerIds(b"k" * 32)
    >>> ids("37020219800101123x") == ids(" 37020219800101123X")
    True
    >>> ids("37020219800101123X") == OwnerIds(b"j" * 32)("37020219800101123X")
    False
    """

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("an owner-id key needs at least 16 bytes")
        self._key = key

    def __call__(self, id_number: str) -> str:
        normal = id_number.strip().upper()
        return "OW" + hmac_sm3(self._key, b"owner-id\x00" + normal.encode("ascii")).hex()[:16].upper()


DEMO_OWNER_IDS = OwnerIds(b"hub demo city: synthetic owners only")
"""The demo generator's default, for synthetic owners that belong to no one (tests, previews);
`hub demo` generates with its store's own key instead."""
