"""The owners' voting page (`GET /vote`, 业主大会 · 电子投票): sign in with an owner's token, see
the votes of one's houses, cast and change ballots until the close, keep the receipts, and after
the close see the result and check each receipt against the signed final tree head.

The page and its scripts are public files (hub/static/vote, sm-crypto vendored beside Leaflet);
every vote, ballot and proof comes from `/graphql` with the token the owner signs in with. The
receipt is checked in the browser (SM3 leaf hashes, RFC 9162 inclusion and consistency proofs,
the head's SM2 signature), so the owner need not trust the page's server to say it holds. Its
Content-Security-Policy allows this server alone: nothing it loads or sends leaves the machine.
"""

from __future__ import annotations

from hub.vote.page import POLICY, render, vote_routes

__all__ = ["POLICY", "render", "vote_routes"]
