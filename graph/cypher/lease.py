"""The store's one writer at a time, across processes: a `:Lease` node held by a token until a
deadline. Batch writes and roll-up upkeep guard every row they write with the token (a writer
whose lease ran out writes nothing), so two hub processes — the server and a Celery worker —
never interleave their read-then-write steps."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator

from graph.cypher import statements as st
from graph.cypher.transport import Transport
from graph.errors import StoreBusy

HOLD_SECONDS = 120.0
"""How long a lease holds without being given back: longer than any batch write takes."""

WAIT_SECONDS = 30.0
"""How long a writer waits for another's lease before answering `StoreBusy`."""

GUARD = "MATCH (lease:Lease {name: 'writes'}) WHERE lease.holder = $token"
"""The clause a guarded write puts before each row it writes."""

TAKE = st.write(
    "lease.take",
    "MERGE (l:Lease {name: 'writes'}) WITH l WHERE l.holder IS NULL OR l.held_until < $now OR l.holder = $token "
    "SET l.holder = $token, l.held_until = $until RETURN l.holder",
)
GIVE = st.write(
    "lease.give",
    "MATCH (l:Lease {name: 'writes'}) WHERE l.holder = $token SET l.held_until = 0 RETURN l.holder",
)


class WriteLease:
    """In-process turns (an asyncio lock) in front of the graph's lease."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[str]:
        try:
            async with asyncio.timeout(WAIT_SECONDS):
                await self.lock.acquire()
        except TimeoutError:
            raise StoreBusy(f"other writers held the graph store for {WAIT_SECONDS:.0f} s; nothing was written") from None
        token = secrets.token_hex(16)
        try:
            deadline = time.monotonic() + WAIT_SECONDS
            pause = 0.01
            while True:
                now = time.time()
                rows = await self.transport.run(TAKE, {"token": token, "now": now, "until": now + HOLD_SECONDS})
                if rows:
                    break
                if time.monotonic() > deadline:
                    raise StoreBusy(
                        f"another process held the graph store's write lease for {WAIT_SECONDS:.0f} s; nothing was written"
                    )
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.5)
            try:
                yield token
            finally:
                await self.transport.run(GIVE, {"token": token})
        finally:
            self.lock.release()
