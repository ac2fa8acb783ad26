"""Owners' votes, their electorates and proxies, owners' committees and first meetings in the
graph (`graph.votes.records.VoteStore`; each member's contract is in its docstring there, the
field checks in `graph.votes.checks`, shared with SQL).

The model: `(:Vote {id, place, estate, organiser_…, title, record_date, notice_at, opens_at,
closes_at, items, documents, status, created_at, first_meeting, electorate_…, opened_at,
closed_at, result})-[:AT]->(:Place)`, items and documents JSON text (the same text as SQL's);
the frozen electorate `(:Elector {key, vote, house, area_centi_m2, holders, head,
designated})-[:OF]->(:Vote)`, keyed by vote and house, and `(:VoteHolder {key, vote, owner,
houses})`, keyed by vote and owner, to find an owner's houses; `(:Proxy {key, vote, house,
grantor, delegate, delegate_key, …})-[:FOR]->(:Elector)`, found by key (vote and house), by
delegate_key (vote and delegate) or by delegate alone (the votes an owner is a delegate in);
`(:Committee {id, estate, members, term_start, term_end, elected_by, filed_on})-[:OF]->(:Place)`
(its estate); `(:MeetingStep {key, estate, kind, at, actor, role, detail})-[:OF]->(:Place)`.
Times are integer microseconds, dates ISO text (which orders as dates do), as everywhere in the
graph.

Scope: a vote is in a caller's scope when its place is, a committee or meeting step when its
estate is (`model.seen` on that place). The lists "under `within`" (`vote_page`,
`meetings_under`) test `within` against the line of each vote's or step's place instead of
walking down the tree: an estate holds a few votes a year, a city far fewer votes than places.

Every write is one statement. A status change is a compare-and-set: the statement takes the
vote's write lock (a `lock` property, dropped by the whole-map SET that follows; Neo4j takes
the lock before the status is read, FalkorDB runs writes one at a time) and goes on only from
the status it changes, returning the vote's id when it did. Opening writes the status, the
totals, every elector and every holder in that one statement. Creations test the key in the
same statement (on Neo4j a unique constraint also stops a racing twin: its error is read as the
key taken).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from typing import Any

from graph.cursors import decode_cursor, encode_cursor
from graph.cypher import statements as st
from graph.cypher import values
from graph.cypher.model import scope_params, seen
from graph.cypher.schema import index
from graph.cypher.transport import Transport
from graph.errors import InvalidInput, StoreError
from graph.levels import Level
from graph.model import Page
from graph.scope import Scope
from graph.votes.texts import documents_json, documents_of, items_json, items_of, members_json, members_of
from graph.store import MAX_PAGE
from graph.votes.checks import (
    STEP_ORDER,
    check_committee,
    check_day,
    check_electors,
    check_new_vote,
    check_proxy,
    check_result,
    check_step,
    check_time,
    check_vote_place,
)
from graph.votes.records import (
    Committee,
    CommitteeCount,
    Elector,
    Electorate,
    MeetingStep,
    MeetingStepKind,
    Organiser,
    Proxy,
    Vote,
    VoteStatus,
)

for _label, _prop, _unique in (
    ("Vote", "id", True),
    ("Elector", "key", True),
    ("VoteHolder", "key", True),
    ("Proxy", "key", True),
    ("Proxy", "delegate_key", False),
    ("Proxy", "delegate", False),
    ("Committee", "id", True),
    ("MeetingStep", "key", True),
):
    index(_label, _prop, unique=_unique)

_VOTE = (
    "id", "place", "estate", "organiser_role", "organiser_scope", "organiser_name", "organiser_capacity", "title",
    "record_date", "notice_at", "opens_at", "closes_at", "items", "documents", "status", "created_at", "first_meeting",
    "electorate_houses", "electorate_heads", "electorate_area_centi_m2", "opened_at", "closed_at", "result",
)
_ELECTOR = ("vote", "house", "area_centi_m2", "holders", "head", "designated")
_PROXY = ("vote", "house", "grantor", "delegate", "reference", "registered_by", "at")
_COMMITTEE = ("id", "estate", "members", "term_start", "term_end", "elected_by", "filed_on")
_STEP = ("estate", "kind", "at", "actor", "role", "detail")


def _columns(node: str, props: Sequence[str]) -> str:
    return ", ".join(f"{node}.`{name}`" for name in props)


def _whole(node: str, source: dict[str, str], props: Sequence[str]) -> str:
    """A map literal naming every property of `props`: `source[name]` where given, else the
    node's own value (so `SET n = {…}` rewrites the node whole, dropping its `lock`)."""
    return "{" + ", ".join(f"`{name}`: {source.get(name, f'{node}.`{name}`')}" for name in props) + "}"


_SEEN_P = seen("p")
_VOTE_RETURN = f"RETURN {_columns('v', _VOTE)}"
# the status test gates the SET through UNWIND: FalkorDB may run a WHERE placed before a write after it
_LOCKED = "MATCH (v:Vote {id: $id}) SET v.lock = $lock WITH v UNWIND CASE WHEN v.status = $from THEN [1] ELSE [] END AS go "

PLACES = st.read("votes.places", "UNWIND $codes AS c MATCH (p:Place {code: c}) RETURN p.code, p.level, p.line")
SAVE_VOTE = st.write(
    "votes.save",
    "MATCH (p:Place {code: $place}) OPTIONAL MATCH (x:Vote {id: $id}) WITH p, count(x) AS taken "
    "FOREACH (_ IN CASE WHEN taken = 0 THEN [1] ELSE [] END | CREATE (v:Vote)-[:AT]->(p) SET v = $props) "
    "RETURN taken",
)
VOTES = st.read(
    "votes.by_id",
    f"UNWIND $ids AS i MATCH (v:Vote {{id: i}}) WITH v MATCH (v)-[:AT]->(p:Place) WHERE {_SEEN_P} {_VOTE_RETURN}",
)
VOTES_AT = st.read(
    "votes.at",
    f"UNWIND $codes AS c MATCH (p:Place {{code: c}}) WITH p WHERE {_SEEN_P} "
    f"MATCH (v:Vote)-[:AT]->(p) WHERE $statuses IS NULL OR v.status IN $statuses {_VOTE_RETURN}",
)
VOTE_PAGE = st.read(
    "votes.page",
    f"MATCH (v:Vote)-[:AT]->(p:Place) WHERE {_SEEN_P} AND ($within IS NULL OR $within IN p.line) "
    "AND ($statuses IS NULL OR v.status IN $statuses) AND ($after IS NULL OR v.id > $after) "
    f"WITH v, p ORDER BY v.id LIMIT $limit {_VOTE_RETURN}",
)
VOTE_MARK = st.read("votes.mark", "MATCH (v:Vote {id: $id}) RETURN v.id")
OPEN = st.write(
    "votes.open",
    _LOCKED
    + "SET v = "
    + _whole(
        "v",
        {
            "status": "'open'",
            "opened_at": "$at",
            "electorate_houses": "$houses",
            "electorate_heads": "$heads",
            "electorate_area_centi_m2": "$area",
        },
        _VOTE,
    )
    + " FOREACH (r IN $electors | CREATE (e:Elector)-[:OF]->(v) SET e = r) "
    "FOREACH (h IN $holders | CREATE (o:VoteHolder) SET o = h) RETURN v.id",
)
CLOSE = st.write(
    "votes.close",
    _LOCKED + "SET v = " + _whole("v", {"status": "'closed'", "closed_at": "$at", "result": "$result"}, _VOTE) + " RETURN v.id",
)
CANCEL = st.write(
    "votes.cancel",
    _LOCKED + "SET v = " + _whole("v", {"status": "'cancelled'", "closed_at": "$at"}, _VOTE) + " RETURN v.id",
)

# -- electors and proxies --------------------------------------------------------------------

_ELECTOR_RETURN = f"RETURN {_columns('e', _ELECTOR)}"
ELECTORS = st.read("votes.electors", f"UNWIND $keys AS k MATCH (e:Elector {{key: k}}) {_ELECTOR_RETURN}")
HOLDERS = st.read("votes.holders", "UNWIND $keys AS k MATCH (o:VoteHolder {key: k}) RETURN o.owner, o.houses")
ELECTOR_PAGE = st.read(
    "votes.elector_page",
    "MATCH (v:Vote {id: $vote}) WITH v MATCH (e:Elector)-[:OF]->(v) WHERE $after IS NULL OR e.house > $after "
    f"WITH e ORDER BY e.house LIMIT $limit {_ELECTOR_RETURN}",
)
SAVE_PROXY = st.write(
    "votes.save_proxy",
    "OPTIONAL MATCH (v:Vote {id: $vote}) WITH count(v) AS votes "
    "OPTIONAL MATCH (e:Elector {key: $key}) WITH votes, e "
    "OPTIONAL MATCH (x:Proxy {key: $key}) WITH votes, e, count(x) AS taken "
    "FOREACH (_ IN CASE WHEN e IS NOT NULL AND taken = 0 THEN [1] ELSE [] END | CREATE (y:Proxy)-[:FOR]->(e) SET y = $props) "
    "RETURN votes, e IS NOT NULL, taken",
)
_PROXY_RETURN = f"RETURN {_columns('x', _PROXY)}"
PROXIES = st.read("votes.proxies", f"UNWIND $keys AS k MATCH (x:Proxy {{key: k}}) {_PROXY_RETURN}")
PROXIES_FOR = st.read("votes.proxies_for", f"UNWIND $keys AS k MATCH (x:Proxy {{delegate_key: k}}) {_PROXY_RETURN}")
# by the delegate alone (its own index: delegate_key leads with the vote); a vote once, however many houses
DELEGATIONS = st.read("votes.delegations", "MATCH (x:Proxy {delegate: $delegate}) RETURN DISTINCT x.vote")

# -- committees and first meetings -----------------------------------------------------------

SAVE_COMMITTEE = st.write(
    "votes.save_committee",
    "MATCH (p:Place {code: $estate}) WITH p WHERE p.level = $level "
    "OPTIONAL MATCH (x:Committee {id: $id}) WITH p, count(x) AS taken "
    "FOREACH (_ IN CASE WHEN taken = 0 THEN [1] ELSE [] END | CREATE (k:Committee)-[:OF]->(p) SET k = $props) "
    "RETURN taken",
)
FILE_COMMITTEE = st.write(
    "votes.file_committee",
    "MATCH (k:Committee {id: $id}) SET k.lock = $lock WITH k "
    "UNWIND CASE WHEN k.filed_on IS NULL THEN [1] ELSE [] END AS go SET k = "
    + _whole("k", {"filed_on": "$on"}, _COMMITTEE)
    + " RETURN k.id",
)
COMMITTEES = st.read(
    "votes.committees",
    f"UNWIND $codes AS c MATCH (p:Place {{code: c}}) WITH p WHERE {_SEEN_P} "
    "MATCH (k:Committee)-[:OF]->(p) WHERE $as_of IS NULL OR (k.term_start <= $as_of AND k.term_end >= $as_of) "
    f"RETURN {_columns('k', _COMMITTEE)}",
)
SEEN_PLACES = st.read("votes.seen_places", f"UNWIND $codes AS c MATCH (p:Place {{code: c}}) WHERE {_SEEN_P} RETURN p.code")
ESTATE_COUNTS = st.read(
    "votes.estate_counts",
    f"MATCH (p:Estate) WHERE {_SEEN_P} UNWIND [x IN $codes WHERE x IN p.line] AS c RETURN c, count(p)",
)
IN_OFFICE = st.read(
    "votes.in_office",
    "MATCH (k:Committee) WHERE k.term_start <= $as_of AND k.term_end >= $as_of "
    f"WITH k MATCH (k)-[:OF]->(p:Place) WHERE {_SEEN_P} "
    "WITH DISTINCT p UNWIND [x IN $codes WHERE x IN p.line] AS c RETURN c, count(p)",
)
ADD_STEP = st.write(
    "votes.add_meeting_step",
    "MATCH (p:Place {code: $estate}) WITH p WHERE p.level = $level "
    "OPTIONAL MATCH (x:MeetingStep {key: $key}) WITH p, count(x) AS taken "
    "FOREACH (_ IN CASE WHEN taken = 0 THEN [1] ELSE [] END | CREATE (s:MeetingStep)-[:OF]->(p) SET s = $props) "
    "RETURN taken",
)
_STEP_RETURN = f"RETURN {_columns('s', _STEP)}"
STEPS = st.read(
    "votes.meeting_steps",
    f"UNWIND $codes AS c MATCH (p:Place {{code: c}}) WITH p WHERE {_SEEN_P} MATCH (s:MeetingStep)-[:OF]->(p) {_STEP_RETURN}",
)
STEPS_UNDER = st.read(
    "votes.meetings_under",
    f"MATCH (s:MeetingStep)-[:OF]->(p:Place) WHERE $within IN p.line AND {_SEEN_P} {_STEP_RETURN}",
)


# -- records ---------------------------------------------------------------------------------


def _key(*parts: str) -> str:
    return "\n".join(parts)


def _time(value: int | None) -> dt.datetime | None:
    return values.from_micros(value)


def _at(value: int) -> dt.datetime:
    moment = values.from_micros(value)
    assert moment is not None
    return moment


def _day(value: str) -> dt.date:
    day = values.from_day(value)
    assert day is not None
    return day


def _vote_props(vote: Vote, created: dt.datetime) -> dict[str, Any]:
    return values.present(
        {
            "id": vote.id,
            "place": vote.place_code,
            "estate": vote.estate_code,
            "organiser_role": vote.organiser.role,
            "organiser_scope": vote.organiser.scope,
            "organiser_name": vote.organiser.name,
            "organiser_capacity": vote.organiser.capacity,
            "title": vote.title,
            "record_date": values.day(vote.record_date),
            "notice_at": values.micros(vote.notice_at),
            "opens_at": values.micros(vote.opens_at),
            "closes_at": values.micros(vote.closes_at),
            "items": items_json(vote.items),
            "documents": documents_json(vote.documents),
            "status": VoteStatus.NOTICED.value,
            "created_at": values.micros(created),
            "first_meeting": vote.first_meeting,
        }
    )


def _vote(row: Sequence[Any]) -> Vote:
    p = dict(zip(_VOTE, row))
    electorate = None
    if p["electorate_houses"] is not None:
        electorate = Electorate(int(p["electorate_houses"]), int(p["electorate_heads"]), int(p["electorate_area_centi_m2"]))
    return Vote(
        id=p["id"],
        place_code=p["place"],
        estate_code=p["estate"],
        organiser=Organiser(p["organiser_role"], p["organiser_scope"], p["organiser_name"], p["organiser_capacity"]),
        title=p["title"],
        record_date=_day(p["record_date"]),
        notice_at=_at(p["notice_at"]),
        opens_at=_at(p["opens_at"]),
        closes_at=_at(p["closes_at"]),
        items=items_of(p["items"]),
        documents=documents_of(p["documents"]),
        status=VoteStatus(p["status"]),
        created_at=_time(p["created_at"]),
        first_meeting=bool(p["first_meeting"]),
        electorate=electorate,
        opened_at=_time(p["opened_at"]),
        closed_at=_time(p["closed_at"]),
        result=p["result"],
    )


def _elector(row: Sequence[Any]) -> Elector:
    p = dict(zip(_ELECTOR, row))
    return Elector(
        vote_id=p["vote"],
        house_code=p["house"],
        area_centi_m2=int(p["area_centi_m2"]),
        holders=tuple(p["holders"]),
        head=p["head"],
        designated=p["designated"],
    )


def _proxy(row: Sequence[Any]) -> Proxy:
    p = dict(zip(_PROXY, row))
    return Proxy(
        vote_id=p["vote"],
        house_code=p["house"],
        grantor=p["grantor"],
        delegate=p["delegate"],
        reference=p["reference"],
        registered_by=p["registered_by"],
        at=_at(p["at"]),
    )


def _committee(row: Sequence[Any]) -> Committee:
    p = dict(zip(_COMMITTEE, row))
    return Committee(
        id=p["id"],
        estate_code=p["estate"],
        members=members_of(p["members"]),
        term_start=_day(p["term_start"]),
        term_end=_day(p["term_end"]),
        elected_by=p["elected_by"],
        filed_on=values.from_day(p["filed_on"]),
    )


def _step(row: Sequence[Any]) -> MeetingStep:
    p = dict(zip(_STEP, row))
    return MeetingStep(
        estate_code=p["estate"], kind=MeetingStepKind(p["kind"]), at=_at(p["at"]), actor=p["actor"], role=p["role"], detail=p["detail"]
    )


def _taken(error: StoreError) -> bool:
    """Whether a write failed on Neo4j's unique constraint (a racing twin wrote the key first)."""
    text = str(error)
    return "already exists" in text or "constraint" in text.lower()


def _bad_cursor(after: str | None) -> InvalidInput:
    return InvalidInput("after", after, "is not a cursor from this list; pass a pageInfo.endCursor")


def _page_size(first: int) -> int:
    return max(1, min(first, MAX_PAGE))


def _statuses(statuses: Sequence[VoteStatus] | None) -> list[str] | None:
    return None if statuses is None else [status.value for status in statuses]


class VoteRecords:
    """The vote part of the store port on Cypher (a base of CypherStore)."""

    transport: Transport

    # -- votes ---------------------------------------------------------------------------

    async def save_vote(self, vote: Vote) -> None:
        check_new_vote(vote)
        created = vote.created_at or dt.datetime.now(dt.timezone.utc)
        found = {
            code: (Level(level), list(line))
            for code, level, line in await self.transport.run(PLACES, {"codes": sorted({vote.place_code, vote.estate_code})})
        }
        place, estate = found.get(vote.place_code), found.get(vote.estate_code)
        check_vote_place(
            vote,
            None if place is None else place[0],
            None if estate is None else estate[0],
            place is not None and vote.estate_code in place[1],
        )
        try:
            rows = await self.transport.run(SAVE_VOTE, {"place": vote.place_code, "id": vote.id, "props": _vote_props(vote, created)})
        except StoreError as error:
            if _taken(error):
                raise StoreError(f"vote {vote.id} already exists") from None
            raise
        if not rows:
            raise InvalidInput(f"vote {vote.id} place_code", vote.place_code, "is not a place in the store")
        if rows[0][0]:
            raise StoreError(f"vote {vote.id} already exists")

    async def votes(self, ids: Sequence[str], scope: Scope) -> list[Vote | None]:
        rows = await self.transport.run(VOTES, {"ids": list(dict.fromkeys(ids)), **scope_params(scope)})
        found = {vote.id: vote for vote in map(_vote, rows)}
        return [found.get(key) for key in ids]

    async def votes_at(
        self, place_codes: Sequence[str], scope: Scope, statuses: Sequence[VoteStatus] | None = None
    ) -> list[Vote]:
        rows = await self.transport.run(
            VOTES_AT, {"codes": list(dict.fromkeys(place_codes)), "statuses": _statuses(statuses), **scope_params(scope)}
        )
        return sorted(map(_vote, rows), key=lambda vote: vote.id)

    async def vote_page(
        self,
        scope: Scope,
        first: int,
        after: str | None = None,
        *,
        within: str | None = None,
        statuses: Sequence[VoteStatus] | None = None,
    ) -> Page[Vote]:
        first = _page_size(first)
        mark = decode_cursor(after)
        if mark is not None and not await self.transport.run(VOTE_MARK, {"id": mark}):
            raise _bad_cursor(after)
        rows = await self.transport.run(
            VOTE_PAGE,
            {"within": within, "statuses": _statuses(statuses), "after": mark, "limit": first + 1, **scope_params(scope)},
        )
        found = sorted(map(_vote, rows), key=lambda vote: vote.id)
        shown = found[:first]
        return Page(
            items=shown,
            has_next=len(found) > first,
            end_cursor=encode_cursor(shown[-1].id) if shown else None,
            start_cursor=encode_cursor(shown[0].id) if shown else None,
        )

    async def open_vote(
        self, vote_id: str, electors: Sequence[Elector], electorate: Electorate, at: dt.datetime
    ) -> bool:
        check_electors(vote_id, electors, electorate)
        check_time(at, f"vote {vote_id} opened_at")
        houses: dict[str, list[str]] = {}
        for elector in electors:
            for owner in elector.holders:
                houses.setdefault(owner, []).append(elector.house_code)
        rows = await self.transport.run(
            OPEN,
            {
                "id": vote_id,
                "lock": secrets.token_hex(8),
                "from": VoteStatus.NOTICED.value,
                "at": values.micros(at),
                "houses": electorate.houses,
                "heads": electorate.heads,
                "area": electorate.area_centi_m2,
                "electors": [
                    values.present(
                        {
                            "key": _key(vote_id, e.house_code),
                            "vote": vote_id,
                            "house": e.house_code,
                            "area_centi_m2": e.area_centi_m2,
                            "holders": list(e.holders),
                            "head": e.head,
                            "designated": e.designated,
                        }
                    )
                    for e in electors
                ],
                "holders": [
                    {"key": _key(vote_id, owner), "vote": vote_id, "owner": owner, "houses": sorted(codes)}
                    for owner, codes in houses.items()
                ],
            },
        )
        return bool(rows)

    async def close_vote(self, vote_id: str, result: str, at: dt.datetime) -> bool:
        check_result(result, vote_id)
        check_time(at, f"vote {vote_id} closed_at")
        params = {"id": vote_id, "lock": secrets.token_hex(8), "from": VoteStatus.OPEN.value, "at": values.micros(at), "result": result}
        return bool(await self.transport.run(CLOSE, params))

    async def cancel_vote(self, vote_id: str, at: dt.datetime) -> bool:
        check_time(at, f"vote {vote_id} closed_at")
        params = {"id": vote_id, "lock": secrets.token_hex(8), "from": VoteStatus.NOTICED.value, "at": values.micros(at)}
        return bool(await self.transport.run(CANCEL, params))

    # -- electors ------------------------------------------------------------------------

    async def electors(self, vote_id: str, house_codes: Sequence[str]) -> list[Elector | None]:
        keys = [_key(vote_id, code) for code in dict.fromkeys(house_codes)]
        found = {e.house_code: e for e in map(_elector, await self.transport.run(ELECTORS, {"keys": keys}))}
        return [found.get(code) for code in house_codes]

    async def electors_of(self, vote_id: str, owner_ids: Sequence[str]) -> list[list[Elector]]:
        keys = [_key(vote_id, owner) for owner in dict.fromkeys(owner_ids)]
        held = {owner: list(codes) for owner, codes in await self.transport.run(HOLDERS, {"keys": keys})}
        wanted = sorted({code for codes in held.values() for code in codes})
        found = {}
        if wanted:
            rows = await self.transport.run(ELECTORS, {"keys": [_key(vote_id, code) for code in wanted]})
            found = {e.house_code: e for e in map(_elector, rows)}
        return [[found[code] for code in sorted(held.get(owner, ())) if code in found] for owner in owner_ids]

    async def elector_page(self, vote_id: str, first: int, after: str | None = None) -> Page[Elector]:
        first = _page_size(first)
        mark = decode_cursor(after)
        if mark is not None and not await self.transport.run(ELECTORS, {"keys": [_key(vote_id, mark)]}):
            raise _bad_cursor(after)
        rows = await self.transport.run(ELECTOR_PAGE, {"vote": vote_id, "after": mark, "limit": first + 1})
        found = sorted(map(_elector, rows), key=lambda e: e.house_code)
        shown = found[:first]
        return Page(
            items=shown,
            has_next=len(found) > first,
            end_cursor=encode_cursor(shown[-1].house_code) if shown else None,
            start_cursor=encode_cursor(shown[0].house_code) if shown else None,
        )

    # -- proxies -------------------------------------------------------------------------

    async def save_proxy(self, proxy: Proxy) -> None:
        check_proxy(proxy)
        where = f"vote {proxy.vote_id} proxy for {proxy.house_code!r}"
        key = _key(proxy.vote_id, proxy.house_code)
        props = {
            "key": key,
            "vote": proxy.vote_id,
            "house": proxy.house_code,
            "grantor": proxy.grantor,
            "delegate": proxy.delegate,
            "delegate_key": _key(proxy.vote_id, proxy.delegate),
            "reference": proxy.reference,
            "registered_by": proxy.registered_by,
            "at": values.micros(proxy.at),
        }
        duplicate = StoreError(f"vote {proxy.vote_id}: house {proxy.house_code} already has a proxy")
        try:
            rows = await self.transport.run(SAVE_PROXY, {"vote": proxy.vote_id, "key": key, "props": props})
        except StoreError as error:
            if _taken(error):
                raise duplicate from None
            raise
        votes, in_electorate, taken = rows[0]
        if not votes:
            raise InvalidInput(f"{where} vote_id", proxy.vote_id, "is not a stored vote")
        if not in_electorate:
            raise InvalidInput(f"{where} house_code", proxy.house_code, "is not in the vote's electorate")
        if taken:
            raise duplicate

    async def proxies(self, vote_id: str, house_codes: Sequence[str]) -> list[Proxy | None]:
        keys = [_key(vote_id, code) for code in dict.fromkeys(house_codes)]
        found = {p.house_code: p for p in map(_proxy, await self.transport.run(PROXIES, {"keys": keys}))}
        return [found.get(code) for code in house_codes]

    async def proxies_for(self, vote_id: str, delegates: Sequence[str]) -> list[list[Proxy]]:
        keys = [_key(vote_id, delegate) for delegate in dict.fromkeys(delegates)]
        by_delegate: dict[str, list[Proxy]] = {}
        for proxy in map(_proxy, await self.transport.run(PROXIES_FOR, {"keys": keys})):
            by_delegate.setdefault(proxy.delegate, []).append(proxy)
        return [sorted(by_delegate.get(d, ()), key=lambda p: p.house_code) for d in delegates]

    async def delegations(self, delegate: str) -> list[str]:
        return sorted(str(row[0]) for row in await self.transport.run(DELEGATIONS, {"delegate": delegate}))

    # -- committees ----------------------------------------------------------------------

    async def save_committee(self, committee: Committee) -> None:
        check_committee(committee)
        props = values.present(
            {
                "id": committee.id,
                "estate": committee.estate_code,
                "members": members_json(committee.members),
                "term_start": values.day(committee.term_start),
                "term_end": values.day(committee.term_end),
                "elected_by": committee.elected_by,
                "filed_on": values.day(committee.filed_on),
            }
        )
        params = {"estate": committee.estate_code, "level": int(Level.ESTATE), "id": committee.id, "props": props}
        try:
            rows = await self.transport.run(SAVE_COMMITTEE, params)
        except StoreError as error:
            if _taken(error):
                raise StoreError(f"committee {committee.id} already exists") from None
            raise
        if not rows:
            raise InvalidInput(f"committee {committee.id} estate_code", committee.estate_code, "is not an estate in the store")
        if rows[0][0]:
            raise StoreError(f"committee {committee.id} already exists")

    async def file_committee(self, committee_id: str, on: dt.date) -> bool:
        check_day(on, f"committee {committee_id} filed_on")
        params = {"id": committee_id, "lock": secrets.token_hex(8), "on": values.day(on)}
        return bool(await self.transport.run(FILE_COMMITTEE, params))

    async def committees(
        self, estate_codes: Sequence[str], as_of: dt.date | None, scope: Scope
    ) -> list[list[Committee]]:
        rows = await self.transport.run(
            COMMITTEES, {"codes": list(dict.fromkeys(estate_codes)), "as_of": values.day(as_of), **scope_params(scope)}
        )
        by_estate: dict[str, list[Committee]] = {}
        for committee in map(_committee, rows):
            by_estate.setdefault(committee.estate_code, []).append(committee)
        return [sorted(by_estate.get(code, ()), key=lambda c: (c.term_start, c.id)) for code in estate_codes]

    async def committee_counts(
        self, codes: Sequence[str], as_of: dt.date, scope: Scope
    ) -> list[CommitteeCount | None]:
        check_day(as_of, "as_of")
        params: dict[str, Any] = {"codes": list(dict.fromkeys(codes)), **scope_params(scope)}
        seen_codes = sorted(code for (code,) in await self.transport.run(SEEN_PLACES, params))
        if not seen_codes:
            return [None for _ in codes]
        params = {**params, "codes": seen_codes, "as_of": values.day(as_of)}
        estates = {code: int(count) for code, count in await self.transport.run(ESTATE_COUNTS, params)}
        in_office = {code: int(count) for code, count in await self.transport.run(IN_OFFICE, params)}
        return [
            CommitteeCount(code, estates.get(code, 0), in_office.get(code, 0)) if code in seen_codes else None
            for code in codes
        ]

    # -- first meetings ------------------------------------------------------------------

    async def add_meeting_step(self, step: MeetingStep) -> bool:
        check_step(step)
        key = _key(step.estate_code, step.kind.value)
        props = {
            "key": key,
            "estate": step.estate_code,
            "kind": step.kind.value,
            "at": values.micros(step.at),
            "actor": step.actor,
            "role": step.role,
            "detail": step.detail,
        }
        try:
            rows = await self.transport.run(ADD_STEP, {"estate": step.estate_code, "level": int(Level.ESTATE), "key": key, "props": props})
        except StoreError as error:
            if _taken(error):
                return False  # a racing twin recorded that step first
            raise
        if not rows:
            raise InvalidInput(
                f"meeting step {step.kind.value} of {step.estate_code} estate_code", step.estate_code, "is not an estate in the store"
            )
        return not rows[0][0]

    async def meeting_steps(self, estate_codes: Sequence[str], scope: Scope) -> list[list[MeetingStep]]:
        rows = await self.transport.run(STEPS, {"codes": list(dict.fromkeys(estate_codes)), **scope_params(scope)})
        by_estate: dict[str, list[MeetingStep]] = {}
        for step in map(_step, rows):
            by_estate.setdefault(step.estate_code, []).append(step)
        return [sorted(by_estate.get(code, ()), key=lambda s: STEP_ORDER[s.kind]) for code in estate_codes]

    async def meetings_under(self, within: str, scope: Scope) -> list[list[MeetingStep]]:
        rows = await self.transport.run(STEPS_UNDER, {"within": within, **scope_params(scope)})
        by_estate: dict[str, list[MeetingStep]] = {}
        for step in map(_step, rows):
            by_estate.setdefault(step.estate_code, []).append(step)
        return [sorted(by_estate[code], key=lambda s: STEP_ORDER[s.kind]) for code in sorted(by_estate)]
