"""Voter and house tags on the bulletin board: keyed SM3 under a key of the vote's own.

The key is derived from the hub's blind-index key and the vote id (HMAC-SM3), so nothing secret
is stored with the vote, two votes tag the same owner differently (no one links an owner's
ballots across votes), and nobody without the hub's keys can tell whose a tag is. An owner's
head tag (graph.votes.electorate: a house held alone counts as its owner, one held jointly as
its co-owners together) is the same for every house of that head in one vote, so whoever redoes
the count sees one head, not one per house.
"""

from __future__ import annotations

from graph.ciphers.sm3 import hmac_sm3

VERSION = b"hub-vote-tags/1:"


def vote_key(index_key: bytes, vote_id: str) -> bytes:
    """The vote's tag key, from the hub's blind-index key."""
    return hmac_sm3(index_key, VERSION + vote_id.encode())


def house_tag(key: bytes, house_code: str) -> str:
    """64 hex digits standing for one house in one vote."""
    return hmac_sm3(key, b"house:" + house_code.encode()).hex()


def voter_tag(key: bytes, head: str) -> str:
    """64 hex digits standing for one head (an owner id, or co-owners' ids joined) in one vote."""
    return hmac_sm3(key, b"head:" + head.encode()).hex()
