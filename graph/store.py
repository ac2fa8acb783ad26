"""The store port: everything the API and the sources need from a graph store, and nothing of SQL.

Adapters: `graph.sql.SqlStore` (SQLAlchemy on SQLite, the embedded default, and on PostgreSQL);
a Cypher adapter for Neo4j implements the same protocol. `tests/graph/conformance.py` (places,
owners, firms, roll-ups, writes) and `tests/graph/conformance_records.py` (ledger, utilities,
shared queries, audit, tokens, owner lookups) hold every adapter to the same behaviour;
`tests/graph/conformance_logs.py` holds them to `graph.logstore.LogStore`, the storage of
append-only Merkle logs (entries, node hashes, signed heads, claims).

Rules every adapter keeps:
- every read takes the caller's `Scope`; what lies outside it behaves as absent (None, or not in
  the list), never as an error that would tell it exists;
- batch reads return one answer per key, in key order, None (or an empty list) for a missing key,
  so DataLoaders can call them directly;
- spans (ownerships, managements) are listed by start date, then by the codes of both ends
  (`graph.model.span_order`), whatever order they were stored in;
- lists are ordered by code and paged with opaque cursors (`graph.cursors`); `first` is clamped
  to 1..MAX_PAGE (callers validate what their users typed);
- "under `within`" includes `within` itself when it is of the level asked for;
- writes go through `write`, the bulk path, which is idempotent: writing the same batch twice
  changes nothing the second time. Provenance says where a fact was first seen as it is: a
  record that differs only in provenance is unchanged and keeps the provenance it had;
- `write` keeps the roll-ups (`stats`, `place_stats`) current: when it returns, what the batch
  changed is counted at every place it touched and at every place above them, whoever wrote it
  (a bulk load, a connector, an API call). No caller refreshes anything.
"""

from __future__ import annotations

import datetime as dt
from contextlib import AbstractAsyncContextManager
from collections.abc import Sequence
from typing import Protocol

from graph.cases import CaseStore
from graph.devices import DeviceStore
from graph.identity import OwnerIds
from graph.ledger import Ledger
from graph.levels import Level
from graph.logstore import LogStore
from graph.model import (
    Batch,
    Management,
    Owner,
    Ownership,
    Page,
    Place,
    PropertyFirm,
    Reached,
    Stats,
    WriteCounts,
)
from graph.scope import Scope
from graph.security import AuditDraft, AuditEntry, TokenRecord
from graph.shared import SharedQueryStore
from graph.utilities import UtilityStore
from graph.votes.records import VoteStore
from graph.funds.records import FundStore
from graph.party.records import PartyStore
from graph.facilities.records import FacilityStore
from graph.credit.records import CreditStore
from graph.staff.records import StaffStore

MAX_PAGE = 500
"""The largest page any list returns, whatever the caller asks."""


class Store(Ledger, CaseStore, UtilityStore, DeviceStore, SharedQueryStore, LogStore, VoteStore, FundStore, PartyStore, FacilityStore, CreditStore, StaffStore, Protocol):
    """An async graph store; see the module docstring for the rules. The connector ledger,
    cases, utilities, devices, shared queries, Merkle logs, votes, funds and firms' credit are
    declared beside their records (graph.ledger, graph.cases, graph.utilities, graph.devices,
    graph.shared, graph.logstore, graph.votes.records, graph.funds.records, graph.credit.records)."""

    async def places(self, codes: Sequence[str], scope: Scope) -> list[Place | None]:
        """The places with these codes, in order; None where missing or out of scope."""

    async def children(
        self, codes: Sequence[str], scope: Scope, first: int, after: str | None = None
    ) -> list[Page[Place]]:
        """For each parent code, a page of its children in scope, ordered by code."""

    async def ancestors(self, codes: Sequence[str], scope: Scope) -> list[list[Place]]:
        """For each code, its ancestors in scope from the top down (empty if it is not seen)."""

    async def subtree(
        self,
        level: Level,
        within: str | None,
        scope: Scope,
        first: int,
        after: str | None = None,
    ) -> Page[Place]:
        """A page of the places of `level` under `within` (or anywhere), in scope, by code."""

    async def count(self, level: Level, within: str | None, scope: Scope) -> int:
        """How many places of `level` lie under `within` (or anywhere) in scope."""

    async def stats(self, within: str, group_by: Level, scope: Scope) -> list[Stats]:
        """One roll-up row per place of `group_by` under `within` (or `within` itself if it is
        of that level), in scope, ordered by code."""

    async def place_stats(self, codes: Sequence[str], scope: Scope) -> list[Stats | None]:
        """The roll-up of each place's own subtree, in key order; None where missing or out of
        scope."""

    async def search(
        self, text: str, within: str | None, scope: Scope, first: int
    ) -> list[Place]:
        """Places (houses too) whose code starts with `text`, then places above the house level
        whose name contains it (ASCII letters in any case); codes first, then by level and code."""

    async def shapes(self, level: Level, within: str, scope: Scope) -> list[Place]:
        """The places of `level` under `within` in scope that have a geometry, by code."""

    async def ownerships(
        self, house_codes: Sequence[str], as_of: dt.date | None, scope: Scope, *, with_owners: bool = True
    ) -> list[list[Ownership]]:
        """For each house, the ownerships holding on `as_of` (None: today's and past ones);
        `with_owners=False` leaves `Ownership.owner` None and opens no personal data (a
        connector linking records needs the spans, not the people)."""

    async def owners(self, ids: Sequence[str], scope: Scope) -> list[Owner | None]:
        """The owners with these ids; an owner is in scope if one of its houses ever was."""

    @property
    def owner_ids(self) -> OwnerIds:
        """How this hub makes an owner's id from its national number (keyed: graph.identity),
        for sources that know owners by their numbers: the same id for every spelling of one
        number (spaces, case), another for another hub's keys."""

    async def owners_known(self, ids: Sequence[str]) -> list[bool]:
        """Whether the hub holds each owner id, opening no personal data; unscoped, for
        connectors linking what they read (never for answering a caller)."""

    async def owners_by(self, field: str, value: str, scope: Scope) -> list[Owner]:
        """Owners whose personal `field` (name, id_number, phone) equals `value` exactly (as
        normalised for the blind index: spaces around, case of an ID number, a phone's
        separators do not matter), found through its blind index without opening a sealed
        value; in scope as `owners` says (the scope applies before the MAX_PAGE cap, so
        namesakes outside it never crowd out those inside), ordered by id. InvalidInput naming
        `field` for a field that is not personal."""

    def lookup_digest(self, field: str, value: str) -> str:
        """A keyed digest of a personal `field` value an exact lookup asked for, to audit the
        lookup without the value: 64 hex digits, equal for values `owners_by` treats as equal,
        different per field and per hub; meaningless without the hub's keys, and equal to
        nothing the store keeps (InvalidInput for a field that is not personal)."""

    async def houses_of(
        self, owner_ids: Sequence[str], as_of: dt.date | None, scope: Scope
    ) -> list[list[Ownership]]:
        """For each owner, its ownerships of houses in scope holding on `as_of`."""

    async def managements(
        self, estate_codes: Sequence[str], as_of: dt.date | None, scope: Scope
    ) -> list[list[Management]]:
        """For each estate, the firms managing it on `as_of` (None: the whole history)."""

    async def firms(self, codes: Sequence[str], scope: Scope) -> list[PropertyFirm | None]:
        """The property firms with these credit codes; in scope if they manage or ever managed an
        estate in it."""

    async def estates_of(
        self, firm_codes: Sequence[str], as_of: dt.date | None, scope: Scope
    ) -> list[list[Management]]:
        """For each firm, the estates in scope it manages on `as_of` (None: the whole history)."""

    async def reach(
        self, places: Sequence[str], scope: Scope, first: int, after: str | None = None, *, as_of: dt.date
    ) -> Reached:
        """What the given places reach, for the graph questions (graph.questions: the impact of
        a device, a building or an outage). A place the caller may not read is left out as if it
        did not exist (no error says it does); a place repeated, or one lying under another
        given place, adds nothing twice. Of the places kept:
        - `houses`: a page of the houses at or under them (a house given is its own), by code,
          paged like `subtree` (opaque cursors, `first` clamped to 1..MAX_PAGE);
        - `holders`: for each house of that page, the ids of the owners holding it on `as_of`,
          sorted; owner records are read through `owners` by whoever shows them;
        - `open_cases`: the ids of the open cases (graph.cases.OPEN_STATUSES) at a place at or
          under them, newest report first, then id descending, at most `first`; the same on
          every page (a case linked to no place is under none);
        - `house_count`, `owner_count` (distinct owners holding one of the houses on `as_of`)
          and `open_case_count`, over all of them, not the page.
        No place kept: empty page, zero counts. A cursor the store did not make is InvalidInput."""

    async def append_audit(self, drafts: Sequence[AuditDraft]) -> list[AuditEntry]:
        """Append events to the hash-chained audit log, in order, atomically; returns the entries
        with their sequence numbers and hashes (`graph.audit.chain` after the stored head: the
        rule is graph.audit's, the store only serialises appenders and stores). Appends at once,
        from one process or several, leave no gap and no fork: each batch is numbered whole
        after the one before. Drafts `graph.audit.check_drafts` refuses (a field too long, a
        naive time, a detail that is not finite JSON) are InvalidInput, nothing appended. No
        member updates or deletes an entry. Unscoped: the API shows the log to admins only."""

    async def audit_entries(self, after: int = 0, limit: int = 1000) -> list[AuditEntry]:
        """Entries with seq > `after`, in seq order, at most `limit` (capped at
        `graph.audit.MAX_PAGE`; none for 0 or less), read back equal to what `append_audit`
        returned (times in UTC, detail as its canonical JSON reads)."""

    async def audit_tail(self, limit: int = 20) -> list[AuditEntry]:
        """The newest `limit` entries (capped as `audit_entries`), in seq order."""

    async def save_token(self, token: TokenRecord) -> None:
        """Record a token the hub issued (its id, role, scope, name, lifetime). An id already
        recorded is StoreError naming it, the first record kept."""

    async def revoke_token(self, token_id: str, reason: str, at: dt.datetime) -> TokenRecord | None:
        """Mark a token revoked at `at` for `reason` and return its record; None if the hub
        never issued it. Revoking twice keeps the first revocation (time and reason)."""

    async def tokens(self, ids: Sequence[str] | None = None, *, revoked_only: bool = False) -> list[TokenRecord]:
        """The recorded tokens (all, or those of these ids: unknown ids are left out; with
        `revoked_only` just the revoked ones, what a server rereads every few seconds), newest
        `issued_at` first, ties by id; times in UTC."""

    async def write(self, batch: Batch) -> WriteCounts:
        """Upsert the batch (places by code, owners by id, firms by code, ownerships and
        managements by their natural keys); parents must exist or come earlier in the batch.
        The roll-ups of the places the batch changed, and of their ancestors, are current when it
        returns (in the same transaction: a refused batch changes none)."""

    def bulk_loading(self) -> AbstractAsyncContextManager[None]:
        """A large load follows (a demo city, a first full sync): while inside, the adapter may
        tune itself for it and defer the upkeep of indexes that no write reads, catching up when
        the context ends. Writes inside behave exactly as outside (same checks, counts and
        roll-ups) and reads are answered, possibly slower; contexts may nest. A load killed
        inside is repaired when the store is next opened."""

    async def refresh_stats(self, within: str | None = None) -> None:
        """Recompute the roll-ups of `within` (everything when None) and everything under and
        above it from the houses themselves; an unknown `within` has nothing to refresh. Writes
        keep the roll-ups current, so this is a repair path, never needed after a write. (Owners
        are counted as of the day a write touched them: a holding written to start or end on a
        later day is counted on that day only after a refresh or another write touching it.)"""

    async def close(self) -> None:
        """Release connections; closing again is harmless."""
