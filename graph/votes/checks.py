"""What every adapter of `graph.votes.records.VoteStore` checks of a record before writing it,
whatever its backend: field lengths (the limits below, which the SQL columns are sized to), ids,
aware times, items numbered 1..n of a legal class 1–9 in a form their candidates fit, the vote's
times in order, a meeting step's detail a JSON object. Each error is InvalidInput naming the
record and the field (`vote V1 items[2].seats`).

What needs the store (a place stored, the estate holding it, a vote's status) is the adapter's;
what the law requires of a vote (thresholds, notice periods, who may organise) is the
service's (graph.votes.service), not these checks'.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence

from graph.errors import InvalidInput
from graph.levels import Level
from graph.votes.records import (
    Candidate,
    Committee,
    Document,
    Elector,
    Electorate,
    Item,
    ItemForm,
    MeetingStep,
    MeetingStepKind,
    Member,
    Organiser,
    Proxy,
    Vote,
    VoteStatus,
)

MAX_ID = 40
"""A vote's or committee's id: 1 to 40 ASCII letters, digits, `_`, `.`, `:` or `-` (a page
cursor holds a vote id)."""
MAX_OWNER_ID = 64
"""An owner's id (graph.identity keys are 64 hex digits)."""
MAX_TITLE = 200
"""A vote's, an item's or a document's title."""
MAX_TEXT = 20_000
"""An item's or a document's text."""
MAX_NAME = 200
"""A person's or firm's name: an organiser, a candidate, an actor, who registered a proxy."""
MAX_LABEL = 32
"""A role, a capacity, a post, a firm's code, a candidate's number."""
MAX_REF = 500
"""A document's attachment reference, a proxy's authorisation reference."""
MAX_RESULT = 1_000_000
"""A vote's published result (canonical JSON)."""
MAX_DETAIL = 20_000
"""A meeting step's detail (JSON object text)."""
MAX_ITEMS = 100
MAX_CANDIDATES = 200
MAX_DOCUMENTS = 100
MAX_MEMBERS = 50
MAX_HOLDERS = 100
KLASSES = range(1, 10)
"""The classes of Civil Code Art. 278 (graph.votes.law.ItemClass)."""
VOTE_PLACE_LEVELS = (Level.ESTATE, Level.BUILDING, Level.ENTRANCE)
"""Where a vote may be held: an estate, or one building or entrance of it."""

_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.:-]{{0,{MAX_ID - 1}}}")


def check_id(value: object, field: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise InvalidInput(field, value, f"must be 1 to {MAX_ID} ASCII letters, digits, '_', '.', ':' or '-'")
    return value


def check_owner_id(value: object, field: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_OWNER_ID or not value.isprintable() or value != value.strip():
        raise InvalidInput(field, value, f"must be an owner id of 1 to {MAX_OWNER_ID} printable characters")
    return value


def check_text(value: object, field: str, limit: int, *, empty: bool = False) -> str:
    """A string of at most `limit` characters, not blank unless `empty`."""
    if not isinstance(value, str):
        raise InvalidInput(field, value, "must be text")
    if len(value) > limit:
        raise InvalidInput(field, value[:40] + "…", f"must be at most {limit} characters")
    if not empty and not value.strip():
        raise InvalidInput(field, value, "must not be empty")
    return value


def check_time(value: object, field: str) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(field, value, "must be a time with its offset (aware)")
    return value


def check_day(value: object, field: str) -> dt.date:
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise InvalidInput(field, value, "must be a date")
    return value


def check_count(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(field, value, "must be a whole number, 0 or more")
    return value


def check_json_object(value: object, field: str, limit: int = MAX_DETAIL) -> str:
    check_text(value, field, limit)
    assert isinstance(value, str)
    try:
        parsed = json.loads(value)
    except ValueError:
        raise InvalidInput(field, value[:40], "is not JSON") from None
    if not isinstance(parsed, dict):
        raise InvalidInput(field, value[:40], "must be a JSON object")
    return value


def _check_candidate(candidate: Candidate, form: ItemForm, where: str) -> None:
    if not isinstance(candidate, Candidate):
        raise InvalidInput(where, candidate, "must be a Candidate")
    check_text(candidate.id, f"{where}.id", MAX_LABEL)
    check_text(candidate.name, f"{where}.name", MAX_NAME)
    if form is ItemForm.ELECTION:
        check_owner_id(candidate.owner_id, f"{where}.owner_id")
        if candidate.firm_code is not None:
            raise InvalidInput(f"{where}.firm_code", candidate.firm_code, "must be empty: an election's candidates are owners")
    else:
        check_text(candidate.firm_code, f"{where}.firm_code", MAX_LABEL)
        if candidate.owner_id is not None:
            raise InvalidInput(f"{where}.owner_id", candidate.owner_id, "must be empty: a firm choice's candidates are firms")


def check_item(item: Item, where: str) -> None:
    """One item: its class, form, texts, and candidates and seats fitting its form."""
    if not isinstance(item, Item):
        raise InvalidInput(where, item, "must be an Item")
    if isinstance(item.klass, bool) or not isinstance(item.klass, int) or item.klass not in KLASSES:
        raise InvalidInput(f"{where}.klass", item.klass, "must be a class of Civil Code Art. 278, 1 to 9")
    if not isinstance(item.form, ItemForm):
        raise InvalidInput(f"{where}.form", item.form, f"must be one of {', '.join(f.value for f in ItemForm)}")
    check_text(item.title, f"{where}.title", MAX_TITLE)
    check_text(item.text, f"{where}.text", MAX_TEXT, empty=True)
    if isinstance(item.seats, bool) or not isinstance(item.seats, int):
        raise InvalidInput(f"{where}.seats", item.seats, "must be a whole number")
    if item.takes_effect is not None:
        check_day(item.takes_effect, f"{where}.takes_effect")
    candidates = tuple(item.candidates)
    if len(candidates) > MAX_CANDIDATES:
        raise InvalidInput(f"{where}.candidates", len(candidates), f"must be at most {MAX_CANDIDATES}")
    if item.form is ItemForm.MOTION:
        if candidates:
            raise InvalidInput(f"{where}.candidates", len(candidates), "must be none: a motion has no candidates")
        if item.seats != 0:
            raise InvalidInput(f"{where}.seats", item.seats, "must be 0: a motion has no seats")
        return
    if not candidates:
        raise InvalidInput(f"{where}.candidates", 0, f"must not be empty: a {item.form.value} has candidates")
    seen: set[str] = set()
    for number, candidate in enumerate(candidates):
        _check_candidate(candidate, item.form, f"{where}.candidates[{number}]")
        if candidate.id in seen:
            raise InvalidInput(f"{where}.candidates[{number}].id", candidate.id, "appears twice in the item")
        seen.add(candidate.id)
    if item.form is ItemForm.ELECTION and not 1 <= item.seats <= len(candidates):
        raise InvalidInput(f"{where}.seats", item.seats, f"must be from 1 to the number of candidates ({len(candidates)})")
    if item.form is ItemForm.FIRM_CHOICE and item.seats not in (0, 1):
        raise InvalidInput(f"{where}.seats", item.seats, "must be 0 or 1: one firm is chosen")


def check_document(document: Document, where: str) -> None:
    if not isinstance(document, Document):
        raise InvalidInput(where, document, "must be a Document")
    check_text(document.title, f"{where}.title", MAX_TITLE)
    check_text(document.text, f"{where}.text", MAX_TEXT, empty=True)
    check_text(document.ref, f"{where}.ref", MAX_REF, empty=True)


def check_organiser(organiser: Organiser, where: str) -> None:
    if not isinstance(organiser, Organiser):
        raise InvalidInput(where, organiser, "must be an Organiser")
    check_text(organiser.role, f"{where}.role", MAX_LABEL)
    check_text(organiser.scope, f"{where}.scope", MAX_LABEL)
    check_text(organiser.name, f"{where}.name", MAX_NAME)
    check_text(organiser.capacity, f"{where}.capacity", MAX_LABEL)


def check_electorate(electorate: Electorate, where: str) -> None:
    if not isinstance(electorate, Electorate):
        raise InvalidInput(where, electorate, "must be an Electorate")
    check_count(electorate.houses, f"{where}.houses")
    check_count(electorate.heads, f"{where}.heads")
    check_count(electorate.area_centi_m2, f"{where}.area_centi_m2")


def check_vote(vote: Vote) -> None:
    """Everything about a vote that needs no store (its status and what an open or close sets
    included: `check_new_vote` adds what a vote being saved must be)."""
    check_id(vote.id, "vote id")
    where = f"vote {vote.id}"
    check_text(vote.place_code, f"{where} place_code", 28)
    check_text(vote.estate_code, f"{where} estate_code", 28)
    check_organiser(vote.organiser, f"{where} organiser")
    check_text(vote.title, f"{where} title", MAX_TITLE)
    check_day(vote.record_date, f"{where} record_date")
    notice = check_time(vote.notice_at, f"{where} notice_at")
    opens = check_time(vote.opens_at, f"{where} opens_at")
    closes = check_time(vote.closes_at, f"{where} closes_at")
    if not opens < closes:
        raise InvalidInput(f"{where} closes_at", closes.isoformat(), f"must be after opens_at {opens.isoformat()}")
    if not notice <= opens:
        raise InvalidInput(f"{where} notice_at", notice.isoformat(), f"must be at or before opens_at {opens.isoformat()}")
    items = tuple(vote.items)
    if not items:
        raise InvalidInput(f"{where} items", 0, "must not be empty: a vote decides at least one item")
    if len(items) > MAX_ITEMS:
        raise InvalidInput(f"{where} items", len(items), f"must be at most {MAX_ITEMS}")
    for position, item in enumerate(items, start=1):
        check_item(item, f"{where} items[{position}]")
        if item.number != position:
            raise InvalidInput(f"{where} items[{position}].number", item.number, f"must be {position}: items are numbered 1..n in order")
    documents = tuple(vote.documents)
    if len(documents) > MAX_DOCUMENTS:
        raise InvalidInput(f"{where} documents", len(documents), f"must be at most {MAX_DOCUMENTS}")
    for position, document in enumerate(documents):
        check_document(document, f"{where} documents[{position}]")
    if not isinstance(vote.status, VoteStatus):
        raise InvalidInput(f"{where} status", vote.status, f"must be one of {', '.join(s.value for s in VoteStatus)}")
    if not isinstance(vote.first_meeting, bool):
        raise InvalidInput(f"{where} first_meeting", vote.first_meeting, "must be true or false")
    for name in ("created_at", "opened_at", "closed_at"):
        moment = getattr(vote, name)
        if moment is not None:
            check_time(moment, f"{where} {name}")
    if vote.electorate is not None:
        check_electorate(vote.electorate, f"{where} electorate")
    if vote.result is not None:
        check_result(vote.result, vote.id)


def check_new_vote(vote: Vote) -> None:
    """A vote to save: `check_vote`, and only announced — NOTICED, with no electorate, opening,
    closing or result yet (`open_vote` and `close_vote` set those)."""
    check_vote(vote)
    where = f"vote {vote.id}"
    if vote.status is not VoteStatus.NOTICED:
        raise InvalidInput(f"{where} status", vote.status.value, "must be noticed: a vote is saved before it opens")
    for name in ("electorate", "opened_at", "closed_at", "result"):
        if getattr(vote, name) is not None:
            raise InvalidInput(f"{where} {name}", getattr(vote, name), "must be empty: a vote is saved before it opens")


def check_vote_place(vote: Vote, level: Level | None, estate_level: Level | None, holds: bool) -> None:
    """The vote's place as the store found it: stored (`level`, None: not), an estate, building
    or entrance, and `estate_code` an estate (`estate_level`) that `holds` it (is it, or lies
    above it)."""
    where = f"vote {vote.id}"
    if level is None:
        raise InvalidInput(f"{where} place_code", vote.place_code, "is not a place in the store")
    if level not in VOTE_PLACE_LEVELS:
        raise InvalidInput(f"{where} place_code", vote.place_code, f"must be an estate, building or entrance, not a {level.name.lower()}")
    if estate_level is not Level.ESTATE or not holds:
        raise InvalidInput(f"{where} estate_code", vote.estate_code, f"is not the estate holding {vote.place_code}")


def check_result(result: object, vote_id: str) -> str:
    return check_text(result, f"vote {vote_id} result", MAX_RESULT)


def check_elector(elector: Elector, vote_id: str) -> None:
    where = f"vote {vote_id} elector {getattr(elector, 'house_code', elector)!r}"
    if not isinstance(elector, Elector):
        raise InvalidInput(where, elector, "must be an Elector")
    if elector.vote_id != vote_id:
        raise InvalidInput(f"{where} vote_id", elector.vote_id, f"must be {vote_id}: electors are of the vote they open")
    check_text(elector.house_code, f"{where} house_code", 28)
    check_count(elector.area_centi_m2, f"{where} area_centi_m2")
    holders = tuple(elector.holders)
    if not holders or len(holders) > MAX_HOLDERS:
        raise InvalidInput(f"{where} holders", len(holders), f"must be 1 to {MAX_HOLDERS} owner ids")
    for holder in holders:
        check_owner_id(holder, f"{where} holders")
    if list(holders) != sorted(set(holders)):
        raise InvalidInput(f"{where} holders", ",".join(holders), "must be sorted, each once")
    check_text(elector.head, f"{where} head", MAX_HOLDERS * (MAX_OWNER_ID + 1))
    if elector.designated is not None and elector.designated not in holders:
        raise InvalidInput(f"{where} designated", elector.designated, "must be one of the holders")


def check_electors(vote_id: str, electors: Sequence[Elector], electorate: Electorate) -> None:
    """An electorate to freeze: each elector of `vote_id` checked, each house once, the totals sane."""
    check_id(vote_id, "vote id")
    check_electorate(electorate, f"vote {vote_id} electorate")
    seen: set[str] = set()
    for elector in electors:
        check_elector(elector, vote_id)
        if elector.house_code in seen:
            raise InvalidInput(f"vote {vote_id} elector {elector.house_code!r}", elector.house_code, "appears twice in the electorate")
        seen.add(elector.house_code)


def check_proxy(proxy: Proxy) -> None:
    if not isinstance(proxy, Proxy):
        raise InvalidInput("proxy", proxy, "must be a Proxy")
    check_id(proxy.vote_id, "proxy vote_id")
    where = f"vote {proxy.vote_id} proxy for {proxy.house_code!r}"
    check_text(proxy.house_code, f"{where} house_code", 28)
    check_owner_id(proxy.grantor, f"{where} grantor")
    check_owner_id(proxy.delegate, f"{where} delegate")
    if proxy.grantor == proxy.delegate:
        raise InvalidInput(f"{where} delegate", proxy.delegate, "must be another owner than the grantor")
    check_text(proxy.reference, f"{where} reference", MAX_REF)
    check_text(proxy.registered_by, f"{where} registered_by", MAX_NAME)
    check_time(proxy.at, f"{where} at")


def check_committee(committee: Committee) -> None:
    if not isinstance(committee, Committee):
        raise InvalidInput("committee", committee, "must be a Committee")
    check_id(committee.id, "committee id")
    where = f"committee {committee.id}"
    check_text(committee.estate_code, f"{where} estate_code", 28)
    members = tuple(committee.members)
    if not members or len(members) > MAX_MEMBERS:
        raise InvalidInput(f"{where} members", len(members), f"must be 1 to {MAX_MEMBERS} members")
    seen: set[str] = set()
    for position, member in enumerate(members):
        if not isinstance(member, Member):
            raise InvalidInput(f"{where} members[{position}]", member, "must be a Member")
        check_owner_id(member.owner_id, f"{where} members[{position}].owner_id")
        check_text(member.post, f"{where} members[{position}].post", MAX_LABEL)
        if member.owner_id in seen:
            raise InvalidInput(f"{where} members[{position}].owner_id", member.owner_id, "appears twice in the committee")
        seen.add(member.owner_id)
    start = check_day(committee.term_start, f"{where} term_start")
    end = check_day(committee.term_end, f"{where} term_end")
    if end < start:
        raise InvalidInput(f"{where} term_end", end.isoformat(), f"must not be before term_start {start.isoformat()}")
    if committee.elected_by is not None:
        check_id(committee.elected_by, f"{where} elected_by")
    if committee.filed_on is not None:
        check_day(committee.filed_on, f"{where} filed_on")


def check_step(step: MeetingStep) -> None:
    if not isinstance(step, MeetingStep):
        raise InvalidInput("meeting step", step, "must be a MeetingStep")
    where = f"meeting step of {step.estate_code!r}"
    check_text(step.estate_code, f"{where} estate_code", 28)
    if not isinstance(step.kind, MeetingStepKind):
        raise InvalidInput(f"{where} kind", step.kind, f"must be one of {', '.join(k.value for k in MeetingStepKind)}")
    where = f"meeting step {step.kind.value} of {step.estate_code}"
    check_time(step.at, f"{where} at")
    check_text(step.actor, f"{where} actor", MAX_NAME)
    check_text(step.role, f"{where} role", MAX_LABEL)
    check_json_object(step.detail, f"{where} detail")


STEP_ORDER = {kind: position for position, kind in enumerate(MeetingStepKind)}
"""Each step's place in the order of `MeetingStepKind` (the order steps are listed in)."""
