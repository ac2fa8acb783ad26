"""collecting_less: the collector's settings during a one-shot sync, and as they were after."""

import gc

import pytest

from connectors.heap import THRESHOLDS, collecting_less


@pytest.fixture
def unfrozen():
    """A heap nothing froze before (a test of the server in the same worker may have)."""
    was = gc.get_freeze_count()
    gc.unfreeze()
    yield
    if was:
        gc.freeze()


def test_the_thresholds_and_the_unfrozen_heap_are_as_they_were_after_the_sync(unfrozen: None) -> None:
    before = gc.get_threshold()
    with collecting_less():
        assert gc.get_threshold() == THRESHOLDS
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_an_error_in_the_sync_restores_them_too(unfrozen: None) -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError, match="the sync failed"):
        with collecting_less():
            raise RuntimeError("the sync failed")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_heap_frozen_before_stays_frozen(unfrozen: None) -> None:
    gc.freeze()
    before = gc.get_threshold()
    with collecting_less():
        assert gc.get_threshold() == THRESHOLDS
    assert gc.get_freeze_count() > 0  # still frozen (a frozen object freed meanwhile leaves the count)
    assert gc.get_threshold() == before
    gc.unfreeze()
