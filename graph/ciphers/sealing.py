"""Personal data at rest: values sealed with SM4-GCM and found through keyed SM3 blind indexes.

>>> sealer = Sealer(data_key=bytes(16), index_key=bytes(32))
>>> sealed = sealer.seal("张三", field="name", owner="OW1")
>>> sealer.open(sealed, field="name", owner="OW1")
'张三'
>>> sealer.index("id_number", "11010519491231002x") == sealer.index("id_number", "11010519491231002X")
True
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

from graph.ciphers import sm4
from graph.ciphers.sm3 import hmac_sm3
from graph.identity import OwnerIds

PERSONAL_FIELDS = ("name", "id_number", "phone")
"""The owner fields that are personal data: sealed at rest, masked in answers."""


def normalise(field: str, value: str) -> str:
    """The form a value is indexed in, so `x` and `X` in an ID number find the same owner."""
    text = unicodedata.normalize("NFKC", value).strip()
    if field == "id_number":
        return text.upper()
    if field == "phone":
        return "".join(char for char in text if char.isdigit() or char == "+")
    return text


class Sealer:
    """Seals and opens owner fields; computes their blind indexes. Keys never leave it."""

    def __init__(self, *, data_key: bytes, index_key: bytes) -> None:
        if len(data_key) != sm4.KEY:
            raise ValueError(f"the SM4 data key is {sm4.KEY} bytes, not {len(data_key)}")
        if len(index_key) < 16:
            raise ValueError("the blind-index key must be at least 16 bytes")
        self._data_key = data_key
        self._index_key = index_key

    @classmethod
    def generate(cls) -> Sealer:
        """A sealer with fresh random keys: for tests and throw-away stores only, since what it
        seals cannot be opened once it is gone."""
        import os

        return cls(data_key=os.urandom(16), index_key=os.urandom(32))

    @staticmethod
    def _context(field: str, owner: str) -> bytes:
        return f"owner/{owner}/{field}".encode()

    def seal(self, value: str, *, field: str, owner: str) -> bytes:
        return sm4.seal(self._data_key, value.encode("utf-8"), self._context(field, owner))

    def open(self, sealed: bytes, *, field: str, owner: str) -> str:
        return sm4.open_sealed(self._data_key, sealed, self._context(field, owner)).decode("utf-8")

    def seal_fields(self, record: Any, holder: str) -> dict[str, bytes | None]:
        """`<field>_sealed` for each personal field of `record` (an owner, a member of staff):
        sealed under `holder` (an owner's id; `staff/<id>` for staff), None where it has none."""
        sealed: dict[str, bytes | None] = {}
        for field in PERSONAL_FIELDS:
            value = getattr(record, field)
            sealed[f"{field}_sealed"] = None if value is None else self.seal(value, field=field, owner=holder)
        return sealed

    def index_fields(self, record: Any) -> dict[str, str | None]:
        """`<field>_index` for each personal field of `record`: its blind index, None where none."""
        return {f"{field}_index": None if getattr(record, field) is None else self.index(field, getattr(record, field)) for field in PERSONAL_FIELDS}

    def open_fields(self, sealed: Callable[[str], bytes | None], holder: str) -> dict[str, str | None]:
        """Each personal field opened from what `sealed(field)` gives (None stays None)."""
        opened: dict[str, str | None] = {}
        for field in PERSONAL_FIELDS:
            value = sealed(field)
            opened[field] = None if value is None else self.open(value, field=field, owner=holder)
        return opened

    def owner_ids(self) -> OwnerIds:
        """The hub's owner ids (graph.identity): HMAC-SM3 under a key derived from the index key,
        so they are as stable as the blind indexes and as useless outside the hub."""
        return OwnerIds(hmac_sm3(self._index_key, b"hub owner ids"))

    def index(self, field: str, value: str) -> str:
        """The keyed SM3 index of a value: equal values match, nothing about them shows."""
        return hmac_sm3(self._index_key, f"{field}\x00{normalise(field, value)}".encode()).hex()

    def lookup_digest(self, field: str, value: str) -> str:
        """A keyed SM3 digest of a value someone looked owners up by, for the audit log: under a
        key derived from the index key (so it equals no blind index stored beside the owners),
        the same for every spelling the lookup treats as equal.

        >>> sealer = Sealer(data_key=bytes(16), index_key=bytes(32))
        >>> sealer.lookup_digest("phone", "139-0000-1234") == sealer.lookup_digest("phone", "13900001234")
        True
        >>> sealer.lookup_digest("phone", "13900001234") == sealer.index("phone", "13900001234")
        False
        """
        key = hmac_sm3(self._index_key, b"hub lookup digests")
        return hmac_sm3(key, f"{field}\x00{normalise(field, value)}".encode()).hex()
