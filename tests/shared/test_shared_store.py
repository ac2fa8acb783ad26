"""The shared-query part of the store on every backend (tests.backends): versions numbered per name,
records read back as written, withdrawal kept, the safelist switched both ways."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from graph.security import Principal, Role
from graph.shared import Owner, ResultCache, SharedDraft, VariableSpec, check_sharing, organisation, resolve_relative
from graph.errors import InvalidInput
from tests import backends

AT = dt.datetime(2026, 11, 21, 8, tzinfo=dt.timezone.utc)
FIRM = "91370202MA08WURM29"


def draft(name: str, document: str = "{ levels { level } }") -> SharedDraft:
    return SharedDraft(
        name, "每周告警", document, (VariableSpec("scope", "String!", False, "@area", "片区"),),
        Owner("甲物业", Role.PROPERTY_FIRM, FIRM), frozenset({Role.PROPERTY_FIRM}), frozenset({FIRM}), "levels",
    )


@pytest.fixture(scope="module", params=backends.params())
def backend(request: pytest.FixtureRequest) -> str:
    backends.prepare(request.param, request)  # session servers, outside any running event loop
    return str(request.param)


async def test_versions_records_withdrawal_and_safelist(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    store = await backends.open_fresh(backend, request, tmp_path)
    try:
        first = await store.publish_shared(draft("weekly-alarms"), AT)
        # two publishers at once each get a number of their own
        racing = await asyncio.gather(*(store.publish_shared(draft("weekly-alarms", f"{{ levels {{ level }} }} # {n}"), AT) for n in range(3)))
        assert first.version == 1 and sorted(item.version for item in racing) == [2, 3, 4]
        assert (await store.publish_shared(draft("other-name"), AT)).version == 1
        versions = await store.shared_versions("weekly-alarms")
        assert [item.version for item in versions] == [1, 2, 3, 4]
        assert versions[0] == first and first.variables[0].default == "@area" and first.owner.scope == FIRM
        assert first.published_at == AT and first.organisations == frozenset({FIRM}) and first.csv_path == "levels"
        assert [(item.name, item.version) for item in await store.shared_latest()][-1] == ("weekly-alarms", 4)
        withdrawn = await store.withdraw_shared("weekly-alarms", 2, AT + dt.timedelta(hours=1))
        assert withdrawn is not None and withdrawn.withdrawn and not withdrawn.visible_to(Principal(Role.CITY, "370200", "c", "t"))
        again = await store.withdraw_shared("weekly-alarms", 2, AT + dt.timedelta(hours=2))
        assert again is not None and again.withdrawn_at == AT + dt.timedelta(hours=1)  # the first withdrawal stays
        assert await store.withdraw_shared("weekly-alarms", 9, AT) is None
        assert await store.shared_versions("nothing-here") == []
        assert await store.safelisted_roles() == frozenset()
        await store.set_safelist(Role.PROPERTY_FIRM, True, "city", AT)
        await store.set_safelist(Role.OWNER, True, "city", AT)
        await store.set_safelist(Role.OWNER, False, "city", AT)
        assert await store.safelisted_roles() == frozenset({Role.PROPERTY_FIRM})
    finally:
        await backends.discard(store)


def test_sharing_rules_and_relative_defaults() -> None:
    firm = Principal(Role.PROPERTY_FIRM, FIRM, "甲物业", "t")
    check_sharing(firm, frozenset({Role.PROPERTY_FIRM}), frozenset({FIRM}))
    with pytest.raises(InvalidInput, match="may share only with property_firm"):
        check_sharing(firm, frozenset({Role.OWNER}), frozenset())
    with pytest.raises(InvalidInput, match="may not publish"):
        check_sharing(Principal(Role.OWNER, "OW1", "业主", "t"), frozenset(), frozenset())
    assert organisation(" 370202001 ") == "370202001" and organisation(FIRM.lower()) == FIRM
    with pytest.raises(InvalidInput, match="neither a credit code nor a place code"):
        organisation("acme")
    assert resolve_relative("@now-7d", area=None, now=AT) == "2026-11-14T08:00:00+00:00"
    assert resolve_relative("@now-24h", area=None, now=AT) == "2026-11-20T08:00:00+00:00"
    assert resolve_relative("@today", area=None, now=AT.replace(hour=20)) == "2026-11-22"  # Beijing time
    assert resolve_relative("@area", area="370202001", now=AT) == "370202001"
    assert resolve_relative("@someone", area=None, now=AT) == "@someone" and resolve_relative(5, area=None, now=AT) == 5


def test_the_cache_expires_and_stays_bounded() -> None:
    now = [0.0]
    cache = ResultCache(seconds=30, capacity=2, clock=lambda: now[0])
    cache.put("a", 1, generation=0)
    cache.put("b", 2, generation=0)
    assert cache.get("a", generation=0) == 1
    cache.put("c", 3, generation=0)  # full: the oldest goes
    assert cache.get("a", generation=0) is None and cache.get("c", generation=0) == 3
    now[0] = 30.0
    assert cache.get("b", generation=0) is None and cache.get("c", generation=0) is None
    off = ResultCache(seconds=0)
    off.put("a", 1, generation=0)
    assert off.get("a", generation=0) is None


def test_a_cached_answer_is_served_only_in_the_generation_it_was_computed_in() -> None:
    cache = ResultCache(seconds=30, clock=lambda: 0.0)
    cache.put("a", 1, generation=4)
    assert cache.get("a", generation=4) == 1
    assert cache.get("a", generation=5) is None  # a write committed since: retired
    assert cache.get("a", generation=4) is None  # and gone
    cache.put("b", 2, generation=None)  # the generation could not be read: nothing kept
    cache.put("c", 3, generation=1)
    assert cache.get("b", generation=None) is None and cache.get("c", generation=None) is None
