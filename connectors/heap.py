"""The cyclic garbage collector during a long sync in a one-shot process (`hub sync`, the bench).

A full registry sync allocates millions of short-lived objects (rows, records, facts, statement
parameters). With the default thresholds the collector runs every 700 new containers and, each
time its older generations fill, rescans everything the process has loaded (modules, the schema,
SQLAlchemy's compiled caches, the connector's caches). `collecting_less()` moves what is alive
when the sync starts out of the collector's sight (`gc.freeze()`, as the server does once started)
and lets more objects pile up before a collection; on leaving, both are as they were.

Only for a process that does nothing else meanwhile: the server keeps its own settings (it froze
its heap when it started, hub.app) and never calls this. If the heap is already frozen, it is
left frozen and only the thresholds change for the duration.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

THRESHOLDS = (50_000, 20, 100)
"""New containers before a young collection, and young (then middle) collections before the
next generation's: about 70 times fewer young collections than the default (700, 10, 10)."""


@contextmanager
def collecting_less(thresholds: tuple[int, int, int] = THRESHOLDS) -> Iterator[None]:
    before = gc.get_threshold()
    froze = gc.get_freeze_count() == 0
    if froze:
        gc.collect()
        gc.freeze()
    gc.set_threshold(*thresholds)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        if froze:
            gc.unfreeze()


__all__ = ["THRESHOLDS", "collecting_less"]
