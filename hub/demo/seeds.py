"""Sub-seeds, so that each part of the demo city draws from its own random stream.

A district, street, community or estate gets a `random.Random` seeded from the run's seed and
its own code: generating one district never consumes numbers another district would draw, and
adding a district to a preset leaves the others byte-identical. SHA-256 (not `hash()`) keeps the
seeds the same across processes whatever PYTHONHASHSEED is.
"""

from __future__ import annotations

import hashlib
import random


def derive_seed(seed: int, *parts: str) -> int:
    """A 64-bit seed for the stream named by `parts` under the run's `seed`."""
    text = "/".join((str(seed), *parts)).encode("utf-8")
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


def stream(seed: int, *parts: str) -> random.Random:
    """A private random stream for one part of the city (never the global `random`)."""
    return random.Random(derive_seed(seed, *parts))
