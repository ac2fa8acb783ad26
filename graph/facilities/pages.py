"""Paging the facility lists the same way on every adapter: a page of what a read found (one
more than asked, to know whether another follows) and the events' cursors (a seq)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from graph.cursors import decode_cursor, encode_cursor
from graph.errors import InvalidInput
from graph.model import Page
from graph.store import MAX_PAGE

T = TypeVar("T")


def page_size(first: int) -> int:
    return max(1, min(first, MAX_PAGE))


def bad_cursor(after: str | None) -> InvalidInput:
    return InvalidInput("after", after, "is not a cursor from this list; pass a pageInfo.endCursor")


def event_mark(after: str | None) -> int | None:
    """The seq an events cursor points after (None: from the newest); InvalidInput for a cursor
    this list did not make."""
    mark = decode_cursor(after)
    if mark is None:
        return None
    if not mark.isdigit():
        raise bad_cursor(after)
    return int(mark)


def page_of(found: Sequence[T], first: int, key: Callable[[T], str]) -> Page[T]:
    """A page of the first `first` of `found` (read with one more, to tell whether more follow)."""
    shown = list(found[:first])
    return Page(
        items=shown,
        has_next=len(found) > first,
        end_cursor=encode_cursor(key(shown[-1])) if shown else None,
        start_cursor=encode_cursor(key(shown[0])) if shown else None,
    )
