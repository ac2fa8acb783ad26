"""The pages' own proof checks (the voting page's receipts, the fund page's entries), run in
Chromium against the hub's tree code.

The pages check proofs with their shared JavaScript (hub/static/shared/tree-check.js: SM3
leaves, RFC 9162 §2.1.3.2 inclusion, §2.1.4.2 consistency, SM2 heads) and sm-crypto. Here
that very code runs on a blank page beside the vendored sm-crypto, on trees built by
graph.merkle: every index of every size up to 33 and every pair of sizes must check, and each
altered root, path, size, text or signature must not.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from graph import merkle
from graph.ciphers import sm2
from graph.ciphers.keyring import Keyring

STATIC = Path(__file__).resolve().parents[2] / "hub" / "static"
LARGEST = 33


def _checks_source() -> str:
    """The pages' checking functions (hub/static/shared/tree-check.js as served: it sets
    `window.HubTree`)."""
    return (STATIC / "shared" / "tree-check.js").read_text(encoding="utf-8")


def _trees() -> dict[str, Any]:
    payloads = [json.dumps({"v": 1, "vote": "TP1", "item": i % 3 + 1, "choice": "同意"}, ensure_ascii=False) for i in range(LARGEST)]
    leaves = [merkle.leaf_hash(p.encode()) for p in payloads]
    nodes, _ = merkle.append(0, [], leaves)
    roots = [b""] + [merkle.root_from_frontier(merkle.append(0, [], leaves[:n])[1]) for n in range(1, LARGEST + 1)]
    inclusions, consistencies = [], []
    for size in range(1, LARGEST + 1):
        for index in range(size):
            path = merkle.inclusion_proof(index, size, nodes)
            inclusions.append([leaves[index].hex(), index, size, [p.hex() for p in path], roots[size].hex()])
        for old in range(1, size + 1):
            path = merkle.consistency_proof(old, size, nodes)
            consistencies.append([old, size, roots[old].hex(), roots[size].hex(), [p.hex() for p in path]])
    return {
        "payloads": payloads, "leaves": [leaf.hex() for leaf in leaves],
        "inclusions": inclusions, "consistencies": consistencies,
    }


def _head(keys: Keyring, size: int, root: bytes, kind: str = "final") -> dict[str, Any]:
    at = dt.datetime(2026, 12, 3, 14, 30, 5, 123456, tzinfo=dt.timezone.utc)
    head = merkle.sign_head(keys, "vote:TP1", size, root, at, kind)
    return {
        "log": head.log, "size": head.size, "root": head.root.hex(), "at": at.isoformat(), "kind": head.kind,
        "signature": head.signature.hex(), "publicKey": keys.sm2_public,
        "signedText": merkle.head_bytes(head.log, head.size, head.root, head.at, head.kind).decode(),
    }


RUN = """([trees, heads]) => {
  const c = window.HubTree, failures = [];
  trees.payloads.forEach((p, i) => { if (c.leafHash(p) !== trees.leaves[i]) failures.push(`leaf ${i}`); });
  const flip = (hex) => (hex[0] === "0" ? "1" : "0") + hex.slice(1);
  let checked = 0;
  for (const [leaf, index, size, path, root] of trees.inclusions) {
    if (c.checkInclusion(leaf, index, size, path, root) !== null) failures.push(`inclusion ${index}/${size}`);
    if (c.checkInclusion(leaf, index, size, path, flip(root)) === null) failures.push(`inclusion ${index}/${size} with another root`);
    if (path.length && c.checkInclusion(leaf, index, size, [flip(path[0]), ...path.slice(1)], root) === null) failures.push(`inclusion ${index}/${size} with an altered path`);
    if (c.checkInclusion(leaf, index, size, path.concat([root]), root) === null) failures.push(`inclusion ${index}/${size} with a longer path`);
    if (c.checkInclusion(leaf, index, index, path, root) === null) failures.push(`inclusion ${index} outside the tree`);
    checked += 1;
  }
  for (const [old, size, oldRoot, newRoot, path] of trees.consistencies) {
    if (c.checkConsistency(old, size, oldRoot, newRoot, path) !== null) failures.push(`consistency ${old}→${size}`);
    if (c.checkConsistency(old, size, flip(oldRoot), newRoot, path) === null) failures.push(`consistency ${old}→${size} from another root`);
    if (c.checkConsistency(old, size, oldRoot, flip(newRoot), path) === null) failures.push(`consistency ${old}→${size} to another root`);
    if (path.length && c.checkConsistency(old, size, oldRoot, newRoot, path.slice(0, -1)) === null) failures.push(`consistency ${old}→${size} cut short`);
    checked += 1;
  }
  const [good, other] = heads;
  if (c.checkHead(good) !== null) failures.push(`head: ${c.checkHead(good)}`);
  const refusals = {
    size: c.checkHead({ ...good, size: good.size + 1 }),
    root: c.checkHead({ ...good, root: flip(good.root) }),
    at: c.checkHead({ ...good, at: "2026-12-03T14:30:06+00:00" }),
    kind: c.checkHead({ ...good, kind: "receipt" }),
    signature: c.checkHead({ ...good, signature: flip(good.signature) }),
    key: c.checkHead({ ...good, publicKey: other.publicKey }),
    text: c.checkHead({ ...good, signedText: good.signedText.replace("kind final", "kind finat"), kind: "finat" }),
  };
  return { failures, checked, refusals };
}"""


def test_the_pages_checks_agree_with_the_hubs_tree_code(browser: Any) -> None:
    trees = _trees()
    keys, other = Keyring.generate(), Keyring.generate()
    heads = [_head(keys, 7, bytes.fromhex(trees["inclusions"][0][4])), _head(other, 7, bytes(32))]
    assert sm2.verify(heads[0]["publicKey"], heads[0]["signedText"].encode(), bytes.fromhex(heads[0]["signature"]))
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto("about:blank")
        for built in ("sm3.js", "sm2.js"):
            page.add_script_tag(content=(STATIC / "vendor" / "sm-crypto" / built).read_text(encoding="utf-8"))
        page.add_script_tag(content=_checks_source())
        outcome = page.evaluate(RUN, [trees, heads])
    finally:
        context.close()
    assert outcome["failures"] == []
    assert outcome["checked"] == len(trees["inclusions"]) + len(trees["consistencies"]) == 561 + 561
    refusals = outcome["refusals"]
    assert all(refusals.values()), refusals
    assert "第 3 行" in refusals["size"] and "第 4 行" in refusals["root"] and "时间" in refusals["at"]
    assert "种类" in refusals["kind"] and refusals["signature"] == refusals["key"] == refusals["text"] == "SM2 签名验证失败"
