"""A deterministic demo of Qingdao for the hub: real divisions and outlines, synthetic below.

`generate(preset, seed)` streams `graph.model.Batch`es ready for `Store.write`; `estimate`
gives the number of records to expect, for a progress bar. Presets: `small` (市南区, about
10,000 houses, seconds), `district` (市南区 at real density) and `city` (all ten districts,
about 4,000 estates and 2.43 million houses).
"""

from hub.demo.generator import estimate, generate
from hub.demo.presets import PRESETS, Preset

BUILD_BATCH = 20_000
"""Records per write when `hub demo` builds a city: a fourth as many transactions (and roll-up
upkeeps of the city's ancestors) as the generator's default batches; the records are the same."""

__all__ = ["BUILD_BATCH", "PRESETS", "Preset", "estimate", "generate"]
