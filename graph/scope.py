"""The part of the place tree a caller may read.

A scope is a set of subtree roots (place codes); a place is in scope when it is a root or lies
under one. Every read of the store takes a scope, so that access control is applied where data
is read and no path can step around it.

>>> Scope.of("370202001").roots
frozenset({'370202001'})
>>> Scope.everything().unlimited
True
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from graph.codes import place_code


@dataclass(frozen=True, slots=True)
class Scope:
    """Subtree roots a caller may read; `roots=None` means the whole tree."""

    roots: frozenset[str] | None

    @classmethod
    def everything(cls) -> Scope:
        return cls(None)

    @classmethod
    def of(cls, *codes: str) -> Scope:
        return cls.of_codes(codes)

    @classmethod
    def of_codes(cls, codes: Iterable[str]) -> Scope:
        """A scope of the given roots, each checked as a place code; no roots sees nothing."""
        return cls(frozenset(place_code(code, field="scope")[0] for code in codes))

    @property
    def unlimited(self) -> bool:
        return self.roots is None

    @property
    def empty(self) -> bool:
        return self.roots is not None and not self.roots
