"""Every Cypher statement the store can send, declared once by name at import.

Nothing else in `graph.cypher` builds Cypher text: a part declares its statements here (through
`read` and `write`) and runs them by the `Statement` it got back, so the registry holds all of
them and `tests/graph/test_cypher_lint.py` checks each one with Neo4j's own front end.

Statements keep to the Cypher that Neo4j 5 and FalkorDB both run; constructs one of them lacks
are refused when the statement is declared, so a mistake fails at import, not on one backend.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

REGISTRY: dict[str, Statement] = {}

_FORBIDDEN = (
    (re.compile(r"\bEXISTS\s*\{", re.I), "EXISTS {} subqueries (FalkorDB lacks them)"),
    (re.compile(r"\bCOUNT\s*\{", re.I), "COUNT {} subqueries (FalkorDB lacks them)"),
    (re.compile(r"\bCALL\s*[({]", re.I), "CALL subqueries (FalkorDB lacks them)"),
    (re.compile(r"\belementId\s*\(", re.I), "elementId() (FalkorDB has id() only)"),
    (re.compile(r"=~"), "regular expressions (FalkorDB lacks =~)"),
    (re.compile(r"\bSHOW\b", re.I), "SHOW commands (FalkorDB lacks them)"),
)


@dataclass(frozen=True, slots=True)
class Statement:
    """One Cypher statement: `write` statements change the graph, the others only read."""

    name: str
    text: str
    write: bool


def _declare(name: str, text: str, write: bool) -> Statement:
    text = " ".join(text.split())
    for pattern, why in _FORBIDDEN:
        if pattern.search(text):
            raise ValueError(f"Cypher statement {name!r} uses {why}")
    if name in REGISTRY and REGISTRY[name].text != text:
        raise ValueError(f"Cypher statement {name!r} is declared twice with different text")
    statement = Statement(name, text, write)
    REGISTRY[name] = statement
    return statement


def read(name: str, text: str) -> Statement:
    """Declare a statement that only reads."""
    return _declare(name, text, False)


def write(name: str, text: str) -> Statement:
    """Declare a statement that writes (one statement: atomic on its own on every backend)."""
    return _declare(name, text, True)
