"""The hub's id of an owner, derived from the national number that identifies it.

Sources that know an owner only by its 身份证号 or 统一社会信用代码 (the demo city, the registry's
rights holders) must arrive at the same owner, so the rule lives here, in the domain, once.
"""

from __future__ import annotations

import hashlib


def owner_id(id_number: str) -> str:
    """The hub's id of an owner: stable for the same ID number (spaces and case ignored), and
    not the number itself.

    >>> owner_id("37020219800101123x") == owner_id(" 37020219800101123X")
    True
    """
    normal = id_number.strip().upper()
    digest = hashlib.sha256(b"hub-demo-owner:" + normal.encode("ascii")).hexdigest()
    return "OW" + digest[:16].upper()
