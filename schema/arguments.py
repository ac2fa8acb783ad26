"""Checks on what callers pass in; each failure is an `InvalidInput` naming the argument.

Resolvers call these before touching a loader, so a bad argument never reaches the store and
the message says which argument broke which rule (`code: '3702' is not a place code: …`).
"""

from __future__ import annotations

from graph.codes import place_code
from graph.cursors import decode_cursor, page_size
from graph.errors import InvalidInput
from graph.levels import Level
from graph.store import MAX_PAGE

MAX_SEARCH = 64


def place_argument(value: str, *, field: str) -> tuple[str, Level]:
    """A place code of any level and the level its shape says it is."""
    return place_code(value, field=field)


def optional_place(value: str | None, *, field: str) -> tuple[str, Level] | None:
    return None if value is None else place_code(value, field=field)


def page_argument(first: int | None, *, default: int = 50, field: str = "first") -> int:
    """A page size within 1..MAX_PAGE (the store's bound), `default` when not given."""
    return page_size(first, default=default, maximum=MAX_PAGE, field=field)


def cursor_argument(after: str | None, *, field: str = "after") -> str | None:
    """The cursor as given, once it is known to be one of ours (the store reads it)."""
    decode_cursor(after, field=field)
    return after


def search_text(text: str, *, field: str = "text") -> str:
    """Search text, stripped: 1 to 64 characters."""
    stripped = text.strip()
    if not 1 <= len(stripped) <= MAX_SEARCH:
        raise InvalidInput(field, text, f"must be 1 to {MAX_SEARCH} characters after trimming")
    return stripped


def level_under(level: Level, top: Level, *, field: str, top_field: str) -> Level:
    """`level` when it is `top`'s level or below it; stats and maps cannot group upwards."""
    if level < top:
        raise InvalidInput(
            field, level.name, f"lies above the level of `{top_field}` ({top.name}); ask for "
            f"{top.name} or a level below it"
        )
    return level
