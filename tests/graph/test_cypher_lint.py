"""Every Cypher statement the Cypher store can send, checked by Neo4j's own front end.

The store's statements are declared once each in `graph.cypher.statements.REGISTRY` (name →
Statement); importing `graph.cypher.store` imports every part, so the registry is whole. The
statements run for real on FalkorDB in the conformance suite; this module proves they also
parse and pass the semantic analysis of Neo4j 5 (the npm package
`@neo4j-cypher/language-support`, `lintCypherQuery`, run by `tests/npm/neo4j-cypher/lint.mjs`
in one node process for all of them, installed once per lock by `tests/npm.py`).

lint.mjs also checks three of the project's Cypher rules that Neo4j does not (source
"hub-rules"): one pattern per MATCH clause, at most one property removed from a node per
statement (FalkorDB removes the wrong ones), no pattern comprehension in a WHERE (FalkorDB
refuses it).

A statement passes when the linter reports nothing at all — errors and warnings alike (Neo4j
warns, for one, on disconnected comma-separated MATCH patterns: a cartesian product) — except:
- "Parameter $x is not defined": lint.mjs drops those, every value is a run-time parameter;
- the deprecation of `id()` (ACCEPTED below): Neo4j 5 would have `elementId()`, which FalkorDB
  does not have, so the project's rule is `id()` on both.
"""

from __future__ import annotations

import functools
import importlib
import json
import re
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import npm

PACKAGE = Path(__file__).resolve().parents[1] / "npm" / "neo4j-cypher"
LINT = PACKAGE / "lint.mjs"

ACCEPTED = (
    # Neo4j 5 deprecates id() for elementId(), which FalkorDB lacks: the project's Cypher uses id().
    ("warning", re.compile(r"Function id is deprecated\."), re.compile(r"id")),
    ("warning", re.compile(r"The query used a deprecated function\. \('id' has been replaced by 'elementId"), re.compile(r"id\s*\(")),
)
"""(severity, message, excerpt) of the diagnostics a statement may have and still pass."""


@dataclass(frozen=True, slots=True)
class Diagnostic:
    severity: str
    message: str
    line: int
    column: int
    excerpt: str
    source: str

    def accepted(self) -> bool:
        return any(
            self.severity == severity and message.match(self.message) and excerpt.match(self.excerpt)
            for severity, message, excerpt in ACCEPTED
        )

    def __str__(self) -> str:
        excerpt = f" at {self.excerpt!r}" if self.excerpt else ""
        return f"{self.line}:{self.column} {self.severity} ({self.source}): {self.message}{excerpt}"


@functools.cache
def _packages() -> Path:
    return npm.installed(PACKAGE)


def lint(statements: Iterable[tuple[str, str]]) -> dict[str, list[Diagnostic]]:
    """name → the diagnostics Neo4j's front end gives the statement `text` (all of them but the
    parameter notices), for every (name, text) given, in one node process."""
    given = [{"name": name, "text": text} for name, text in statements]
    names = [item["name"] for item in given]
    assert len(set(names)) == len(names), "statement names must be unique"
    done = subprocess.run(
        [npm.node(), str(LINT), str(_packages())], input=json.dumps(given), capture_output=True, text=True,
        timeout=1800, check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"lint.mjs failed (status {done.returncode}):\n{done.stderr[-4000:]}")
    answer: list[dict[str, Any]] = json.loads(done.stdout)
    assert [item["name"] for item in answer] == names, "lint.mjs must answer every statement, in order"
    return {item["name"]: [Diagnostic(**found) for found in item["diagnostics"]] for item in answer}


def failures(texts: Mapping[str, str]) -> dict[str, list[Diagnostic]]:
    """name → the diagnostics that fail the statement, for the statements that fail."""
    found = lint(texts.items())
    return {
        name: refused for name, diagnostics in found.items() if (refused := [d for d in diagnostics if not d.accepted()])
    }


def report(texts: Mapping[str, str], failed: Mapping[str, list[Diagnostic]]) -> str:
    """The failing statements, each with its diagnostics and its text, for an assertion message."""
    lines = [f"{len(failed)} of {len(texts)} statements do not pass Neo4j 5's Cypher front end:"]
    for name, diagnostics in sorted(failed.items()):
        lines.append(f"\n{name}:")
        lines.extend(f"  {diagnostic}" for diagnostic in diagnostics)
        lines.extend(f"    | {line}" for line in texts[name].splitlines())
    return "\n".join(lines)


# -- the harness itself: what it must catch, and what it must let through --------------------------

GOOD = {
    "good-read": "MATCH (h:House {code: $code})-[:IN]->(b:Building) RETURN h.code AS code, b.code AS building, id(h) AS id",
    "good-bulk-write": "UNWIND $rows AS row MERGE (h:House {code: row.code}) SET h = row.props RETURN count(h) AS written",
    "good-separate-matches": "MATCH (h:House {code: $house}) MATCH (o:Owner {id: $owner}) MERGE (o)-[r:OWNS]->(h) SET r.share = $share",
    "good-comprehension-returned": "MATCH (h:House) RETURN h.code AS code, [(h)<-[:AT]-(c:Case) | c.id] AS cases",
    "good-optional-collect": "MATCH (h:House) OPTIONAL MATCH (h)<-[:AT]-(c:Case) WITH h, collect(c.id) AS cases RETURN h.code AS code, cases[0..3] AS first",
}
BAD = {
    "syntax-error": "MATCH (h:House) RETRN h",
    "undefined-variable": "MATCH (h:House) RETURN x.code AS code",
    "type-error": "MATCH (h:House) RETURN h.code + [1] - 'a' AS nonsense",
    "disconnected-comma-match": "MATCH (h:House), (s:Street) RETURN h.code AS house, s.code AS street",
    "connected-comma-match": "MATCH (h:House)-[:IN]->(b:Building), (b)-[:IN]->(e:Estate) RETURN h.code AS house, e.code AS estate",
    "comprehension-in-where": "MATCH (h:House) WHERE size([(h)<-[:AT]-(c:Case) | c.id]) > 0 RETURN h.code AS code",
    "two-removals": "MATCH (h:House {code: $code}) REMOVE h.area SET h.rooms = null RETURN h.code AS code",
    "function-neo4j-lacks": "MATCH (h:House) RETURN toJSON(h) AS json",
    "two-statements": "MATCH (h:House) RETURN h.code AS code; MATCH (s:Street) RETURN s.code AS code",
    "empty": "  ",
}


def test_the_harness_passes_good_statements_and_reports_each_kind_of_error() -> None:
    failed = failures({**GOOD, **BAD})
    assert not set(GOOD) & set(failed), report(GOOD, {name: failed[name] for name in set(GOOD) & set(failed)})
    assert set(failed) == set(BAD)
    messages = {name: " | ".join(f"{d.severity}: {d.message}" for d in found) for name, found in failed.items()}
    assert "error: Invalid input 'RETRN'" in messages["syntax-error"]
    assert "error: Variable `x` not defined" in messages["undefined-variable"]
    assert "error: Type mismatch" in messages["type-error"]
    assert "warning: If a part of a query contains multiple disconnected patterns" in messages["disconnected-comma-match"]
    assert "error: Function toJSON is not present in the database" in messages["function-neo4j-lacks"]
    # the project's own rules, which Neo4j does not check (a connected comma pattern it takes)
    assert messages["connected-comma-match"] == (
        "error: 2 comma-separated patterns in one MATCH: give each pattern a MATCH clause of its own"
    )
    assert messages["comprehension-in-where"] == (
        "error: a pattern comprehension in WHERE: FalkorDB refuses it; OPTIONAL MATCH the pattern and collect() it before the WHERE"
    )
    assert messages["two-removals"] == (
        "error: removes 2 properties of h in one statement (area, rooms): FalkorDB removes the wrong ones;"
        " set the whole map instead (SET h = $map)"
    )
    assert "error: the text holds 2 statements" in messages["two-statements"]
    assert messages["empty"] == "error: the statement is empty"
    # where: the syntax error points at the misspelt keyword, 1-based
    assert [(d.line, d.column, d.excerpt) for d in failed["syntax-error"]][0] == (1, 17, "RETRN")
    # the report names each failing statement with its diagnostics and its text
    text = report(BAD, failed)
    assert "undefined-variable:\n  1:24 error (neo4j): Variable `x` not defined at 'x.code AS code'\n    | MATCH (h:House) RETURN x.code" in text


def test_the_parameter_notices_are_the_only_ones_dropped() -> None:
    found = lint([("parameters", "MATCH (h:House {code: $code}) WHERE h.area > $area RETURN h.code AS code")])
    assert found == {"parameters": []}
    # and the id() deprecation is reported, but accepted (the project's rule, for FalkorDB)
    found = lint([("id", "MATCH (h:House) RETURN id(h) AS id")])
    assert {d.message.split(" (")[0].split(".")[0] for d in found["id"]} >= {"Function id is deprecated"}
    assert found["id"] and all(d.accepted() for d in found["id"])
    # a deprecation that is not id()'s is not
    old = failures({"old": "MATCH (c:Case)-[:AT|:ABOUT]->(h:House) RETURN c.id AS id"})["old"]
    assert [(d.severity, d.excerpt) for d in old] == [("warning", "|:ABOUT")], old


# -- the registry ---------------------------------------------------------------------------------


def _registry() -> Mapping[str, Any]:
    try:
        importlib.import_module("graph.cypher.store")  # imports every part: the registry is whole
    except ModuleNotFoundError as missing:  # GUARD until graph.cypher is merged: the lead removes it
        if missing.name in {"graph.cypher", "graph.cypher.store", "graph.cypher.statements"}:
            pytest.skip("graph.cypher not yet on this branch")
        raise
    from graph.cypher.statements import REGISTRY

    registry: Mapping[str, Any] = REGISTRY
    return registry


def test_every_statement_of_the_cypher_store_passes_neo4j_5s_front_end() -> None:
    registry = _registry()
    assert registry, "the registry of statements is empty"
    for name, statement in registry.items():
        assert statement.name == name, f"{name!r} is registered under another name than its own ({statement.name!r})"
        assert isinstance(statement.text, str) and statement.text.strip(), f"{name}: no text"
    texts = {name: statement.text for name, statement in registry.items()}
    failed = failures(texts)
    assert not failed, report(texts, failed)
