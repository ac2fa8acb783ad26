"""Errors the domain raises; each says what is wrong and where, never how the store works."""

from __future__ import annotations


class HubError(Exception):
    """Base of every error the hub reports to its users."""


class InvalidInput(HubError, ValueError):
    """A value given by a caller is unusable: the message names the field and the rule.

    >>> str(InvalidInput("first", 0, "must be between 1 and 500"))
    "first: '0' must be between 1 and 500"
    """

    def __init__(self, field: str, value: object, rule: str) -> None:
        self.field = field
        self.value = value
        self.rule = rule
        super().__init__(f"{field}: {str(value)!r} {rule}")


class CodeError(InvalidInput):
    """A national code (division, house, credit, ID number) that breaks its standard."""


class StoreError(HubError):
    """The store could not do what was asked (a write conflicted, a reference is missing)."""


class StoreBusy(StoreError):
    """Other writers held the store's write lock longer than a writer waits: nothing was written,
    and the same request may succeed a moment later (HTTP answers 503 with Retry-After)."""


class Unreachable(StoreError):
    """The database a URL names could not be opened or stopped answering; the message says what
    failed and what to check, in one line (no driver traceback). Raised by every adapter."""
