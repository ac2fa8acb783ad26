"""Page cursors (graph.cursors): every key a list pages by makes a cursor that reads back, and
nothing longer does."""

from __future__ import annotations

import pytest

from graph.cursors import MAX_KEY, decode_cursor, encode_cursor
from graph.errors import InvalidInput


@pytest.mark.parametrize("key", ["370202001", "370202001001GB00001F00010101", "P" * MAX_KEY, "维修-" * 16])
def test_a_key_up_to_the_limit_reads_back(key: str) -> None:
    assert decode_cursor(encode_cursor(key)) == key


def test_a_longer_key_is_refused() -> None:
    with pytest.raises(InvalidInput, match="is not a cursor from this list"):
        decode_cursor(encode_cursor("P" * (MAX_KEY + 1)))
