"""How a vote's items (with their candidates) and documents and a committee's members are kept
as JSON text, the same text on every backend (they are read with their record, never queried on
their own).

>>> members_of(members_json([Member("owner-a", "主任")]))
(Member(owner_id='owner-a', post='主任'),)
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from graph.votes.records import Candidate, Document, Item, ItemForm, Member


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def items_json(items: Sequence[Item]) -> str:
    """A vote's items as the JSON text kept on its row or node."""
    return _json(
        [
            {
                "number": item.number,
                "klass": item.klass,
                "form": item.form.value,
                "title": item.title,
                "text": item.text,
                "candidates": [
                    {"id": c.id, "name": c.name, "owner_id": c.owner_id, "firm_code": c.firm_code} for c in item.candidates
                ],
                "seats": item.seats,
                "takes_effect": None if item.takes_effect is None else item.takes_effect.isoformat(),
            }
            for item in items
        ]
    )


def items_of(text: str) -> tuple[Item, ...]:
    return tuple(
        Item(
            number=int(item["number"]),
            klass=int(item["klass"]),
            form=ItemForm(item["form"]),
            title=item["title"],
            text=item["text"],
            candidates=tuple(
                Candidate(id=c["id"], name=c["name"], owner_id=c["owner_id"], firm_code=c["firm_code"])
                for c in item["candidates"]
            ),
            seats=int(item["seats"]),
            takes_effect=None if item["takes_effect"] is None else dt.date.fromisoformat(item["takes_effect"]),
        )
        for item in json.loads(text)
    )


def documents_json(documents: Sequence[Document]) -> str:
    return _json([{"title": d.title, "text": d.text, "ref": d.ref} for d in documents])


def documents_of(text: str) -> tuple[Document, ...]:
    return tuple(Document(title=d["title"], text=d["text"], ref=d["ref"]) for d in json.loads(text))


def members_json(members: Sequence[Member]) -> str:
    return _json([[member.owner_id, member.post] for member in members])


def members_of(text: str) -> tuple[Member, ...]:
    return tuple(Member(owner_id=owner, post=post) for owner, post in json.loads(text))
