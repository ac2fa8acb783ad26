"""Bulk loading: a stream of batches written through the store port, with a progress bar."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass

from tqdm import tqdm

from graph.model import Batch, WriteCounts
from graph.store import Store


@dataclass(frozen=True, slots=True)
class LoadReport:
    records: int
    counts: WriteCounts
    seconds: float

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


async def load(
    store: Store,
    batches: Iterable[Batch],
    *,
    total: int | None = None,
    progress: bool = True,
    description: str = "loading",
) -> LoadReport:
    """Write every batch; the bar counts records. Each write keeps the roll-ups of what it
    touched current (graph.store), so nothing is refreshed afterwards."""
    started = time.perf_counter()
    counts = WriteCounts()
    records = 0
    with tqdm(
        total=total, unit="rec", unit_scale=True, desc=description, disable=not progress, file=sys.stderr
    ) as bar:
        for batch in batches:
            counts += await store.write(batch)
            records += len(batch)
            bar.update(len(batch))
    return LoadReport(records, counts, time.perf_counter() - started)
