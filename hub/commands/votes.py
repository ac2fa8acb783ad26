"""`hub votes verify|list`: check a vote's published record, list votes.

`verify VOTE` recomputes everything the vote's count rests on (graph.votes.service.Votes.verify):
every bulletin-board entry's leaf and every stored node and signed head, every entry read as a
ballot of this vote's frozen electorate (tags, weight, item, time), the count redone from the
entries and compared with the published result, and the final head checked to extend every
head handed out on a receipt. It names the first entry that does not fit and exits 1; 0 when
everything fits.
"""

from __future__ import annotations

import argparse
import asyncio

from graph.scope import Scope
from graph.votes.records import Vote, VoteStatus
from graph.votes.service import Votes
from hub.commands.common import add_db, load_keys, open_store


def add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    votes = commands.add_parser("votes", help="owners' votes (业主大会): verify a vote's count and board, list votes")
    actions = votes.add_subparsers(dest="votes_action", required=True)
    verify = actions.add_parser("verify", help="recompute a vote's board, heads and count; exit 1 at the first problem")
    add_db(verify)
    verify.add_argument("vote", help="the vote's id (TPyyyymmddNNNNNN)")
    verify.set_defaults(handler=run)
    listing = actions.add_parser("list", help="the votes in the store, newest first")
    add_db(listing)
    listing.add_argument("--status", choices=[s.value for s in VoteStatus], help="only votes in this state")
    listing.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    if arguments.votes_action == "verify":
        return asyncio.run(_verify(arguments))
    return asyncio.run(_list(arguments))


async def _verify(arguments: argparse.Namespace) -> int:
    keys = load_keys(arguments)
    store = await open_store(arguments, keys, upgrade=False)
    try:
        report = await Votes(store, keys).verify(arguments.vote)
    finally:
        await store.close()
    for problem in report.problems:
        print(f"problem: {problem}")
    if not report.ok:
        print(f"vote {arguments.vote}: {len(report.problems)} problems found")
        return 1
    print(
        f"vote {arguments.vote} verified: {report.entries} entries, {report.heads_checked} signed heads, "
        f"{report.receipts_checked} receipt heads extended by the final head, the published count redone and equal"
    )
    return 0


async def _list(arguments: argparse.Namespace) -> int:
    keys = load_keys(arguments)
    store = await open_store(arguments, keys, upgrade=False)
    statuses = [VoteStatus(arguments.status)] if arguments.status else None
    try:
        after = None
        found: list[Vote] = []
        while True:
            page = await store.vote_page(Scope.everything(), 500, after, statuses=statuses)
            found.extend(page.items)
            if not page.has_next:
                break
            after = page.end_cursor
    finally:
        await store.close()
    for vote in sorted(found, key=lambda v: v.id, reverse=True):
        print(f"{vote.id}  {vote.status.value:9}  {vote.place_code}  {vote.opens_at:%Y-%m-%d %H:%M} → {vote.closes_at:%Y-%m-%d %H:%M}  {vote.title}")
    if not found:
        print("no votes")
    return 0
