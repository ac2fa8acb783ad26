"""`CypherStore`: the store port over Cypher, on Neo4j 5 or FalkorDB (see graph.store for the
contract, graph.cypher.model for the graph). Parts are mixins, one per kind of record."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable

from graph.ciphers.sealing import Sealer
from graph.clock import today
from graph.cypher import rollups, schema
from graph.cypher.audit import AuditRecords
from graph.cypher.cases import CaseRecords
from graph.cypher.devices import DeviceRecords
from graph.cypher.funds import FundRecords
from graph.cypher.party import PartyRecords
from graph.cypher.facilities import FacilityRecords
from graph.cypher.credit import CreditRecords
from graph.cypher.staff import StaffRecords
from graph.cypher.lease import WriteLease
from graph.cypher.ledger import LedgerRecords
from graph.cypher.merkle_logs import MerkleLogRecords
from graph.cypher.owners import OwnerReads
from graph.cypher.places import PlaceReads
from graph.cypher.questions import QuestionReads
from graph.cypher.shared import SharedRecords
from graph.cypher.transport import Transport, connect
from graph.cypher.votes import VoteRecords
from graph.cypher.utilities import UtilityRecords  # adds its batch parts: import before BATCH
from graph.cypher.writes import PARTS, Plan, batch_parameters, batch_statement
from graph.errors import StoreBusy
from graph.identity import OwnerIds
from graph.model import Batch, WriteCounts

BATCH = batch_statement(PARTS)


class CypherStore(
    PlaceReads,
    OwnerReads,
    CaseRecords,
    UtilityRecords,
    SharedRecords,
    DeviceRecords,
    VoteRecords,
    LedgerRecords,
    AuditRecords,
    QuestionReads,
    MerkleLogRecords,
    FundRecords,
    PartyRecords,
    FacilityRecords,
    CreditRecords,
    StaffRecords,
):
    """The graph store on Cypher; see `graph.store.Store` for the contract."""

    def __init__(self, transport: Transport, *, sealer: Sealer, clock: Callable[[], dt.date] = today) -> None:
        self.transport = transport
        self.sealer = sealer
        self.clock = clock
        self._owner_ids: OwnerIds | None = None
        self.lease = WriteLease(transport)

    @classmethod
    async def open(
        cls, url: str, *, sealer: Sealer, upgrade: bool = True, clock: Callable[[], dt.date] = today
    ) -> CypherStore:
        """Connect to the graph `url` names and, unless `upgrade` is false, bring its schema to head."""
        transport = connect(url)
        try:
            if upgrade:
                await schema.upgrade(transport)
            else:
                await schema.current(transport)
        except BaseException:
            await transport.close()
            raise
        return cls(transport, sealer=sealer, clock=clock)

    @property
    def backend(self) -> str:
        return "falkordb" if self.transport.url.scheme == "falkordb" else "neo4j"

    async def close(self) -> None:
        await self.transport.close()

    async def write(self, batch: Batch) -> WriteCounts:
        async with self.lease.held() as token:
            day = self.clock()
            if await rollups.pending(self.transport):
                await rollups.recount(self.transport, token, None, day)  # a writer died mid-upkeep
            plan = Plan(self.transport, self.sealer, day)
            counts = WriteCounts()
            for part in PARTS:
                counts += await part.plan(batch, plan)
            if plan.empty:
                return counts
            plan.owners.update(await rollups.holders_under(self.transport, plan.moved, day))
            # owners new in this batch hold nothing yet, and afterwards exactly what the batch
            # gives them: neither needs asking the graph (most of a bulk load's owners)
            fresh = {row["id"] for row in plan.params.get("new_owner", [])} & plan.owners
            before = await rollups.counted_at(self.transport, plan.owners - fresh, day)
            before.update((oid, frozenset()) for oid in fresh)
            rows = await self.transport.run(BATCH, {**batch_parameters(PARTS, plan), "token": token})
            if not rows or not rows[0][0]:
                raise StoreBusy("the graph store's write lease ran out before the batch was written; nothing was written")
            await rollups.upkeep(self.transport, token, plan.dirty, before, day, known_after=plan.holdings(fresh))
            return counts

    @contextlib.asynccontextmanager
    async def bulk_loading(self) -> AsyncIterator[None]:
        """Nothing deferred: the graph's indexes (graph.cypher.schema) are the engine's to keep,
        and a batch is one statement inside as outside."""
        yield

    async def refresh_stats(self, within: str | None = None) -> None:
        async with self.lease.held() as token:
            await rollups.recount(self.transport, token, within, self.clock())
