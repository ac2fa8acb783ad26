"""Merkle tree arithmetic for append-only logs: RFC 9162 (Certificate Transparency v2) §2.1 with
SM3 in place of SHA-256, and the signed tree heads over them. Pure functions; no store.

The tree (RFC 9162 §2.1.1): a leaf hash is H(0x00 ‖ payload), an interior node H(0x01 ‖ left ‖
right), the hash of the empty tree H(b""), and a tree of n > 1 leaves splits at k, the largest
power of two smaller than n: MTH(D[0:n]) = H(0x01 ‖ MTH(D[0:k]) ‖ MTH(D[k:n])).

What is stored (`graph.logstore`): the hashes of complete aligned subtrees, node (level, index)
covering leaves [index·2^level, (index+1)·2^level), level 0 the leaf hashes. Every range [a, b)
the RFC's recursion hashes starts at a multiple of the smallest power of two ≥ b - a, so it
splits into at most log₂(n)+1 stored nodes (`range_keys`, one per bit of b - a, largest first)
and its hash is their fold from the right (`fold`). An inclusion or consistency proof names at
most one range that is not itself a stored node, so proving costs O(log n) node reads: ask for
`inclusion_keys` / `consistency_keys`, read them, and pass what was read to `inclusion_proof` /
`consistency_proof`. Appending needs only the frontier (`frontier_keys`), the nodes that make
up [0, size).

Proof verification follows RFC 9162 §2.1.3.2 and §2.1.4.2 step by step. Every function that
hashes takes a keyword `digest` (SM3 unless given) so the tree code can be checked against the
SHA-256 test vectors published for RFC 6962.

Signed tree heads: `head_bytes` is the text an SM2 signature covers (format `hub-tree-head/1`,
see there); `sign_head` and `verify_head` make and check them.

>>> leaves = [leaf_hash(bytes([i])) for i in range(3)]
>>> nodes, frontier = append(0, [], leaves)
>>> sorted(nodes)
[(0, 0), (0, 1), (0, 2), (1, 0)]
>>> root = root_from_frontier(frontier)
>>> proof = inclusion_proof(2, 3, nodes)
>>> verify_inclusion(leaves[2], 2, 3, proof, root)
True
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Callable, Mapping, Sequence

from graph.ciphers import sm2
from graph.ciphers.keyring import Keyring
from graph.ciphers.sm3 import sm3
from graph.errors import InvalidInput
from graph.logstore import NodeKey, SignedHead

Digest = Callable[[bytes], bytes]
"""A hash function: bytes in, digest out (SM3 here; SHA-256 for RFC 6962's test vectors)."""

HASH_SIZE = 32
HEAD_FORMAT = "hub-tree-head/1"

_LEAF = b"\x00"
_NODE = b"\x01"


# --- hashes -----------------------------------------------------------------------------------


def leaf_hash(payload: bytes, *, digest: Digest = sm3) -> bytes:
    """H(0x00 ‖ payload): the hash of one entry's leaf."""
    return digest(_LEAF + bytes(payload))


def node_hash(left: bytes, right: bytes, *, digest: Digest = sm3) -> bytes:
    """H(0x01 ‖ left ‖ right): the hash of an interior node."""
    return digest(_NODE + left + right)


def empty_root(*, digest: Digest = sm3) -> bytes:
    """MTH({}) = H(b""): the root of a log with no entries."""
    return digest(b"")


def fold(hashes: Sequence[bytes], *, digest: Digest = sm3) -> bytes:
    """The hash of a range from its stored nodes, left to right as `range_keys` names them:
    folded from the right, H(0x01 ‖ h₀ ‖ H(0x01 ‖ h₁ ‖ …)); the empty sequence is MTH({})."""
    if not hashes:
        return empty_root(digest=digest)
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result, digest=digest)
    return result


# --- which nodes ------------------------------------------------------------------------------


def _split(n: int) -> int:
    """k, the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _ceiling_power(n: int) -> int:
    """The smallest power of two ≥ n (n ≥ 1)."""
    return 1 << (n - 1).bit_length()


def _check_size(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(name, value, "must be a whole number ≥ 0")


def node_range(key: NodeKey) -> tuple[int, int]:
    """The leaves [start, end) node (level, index) covers."""
    level, index = key
    return index << level, (index + 1) << level


def range_keys(start: int, end: int) -> list[NodeKey]:
    """The stored nodes that make up [start, end), left to right, largest first: one per set
    bit of end - start. The range must be one the RFC's recursion hashes: start a multiple of
    the smallest power of two ≥ end - start (any [0, n) is); otherwise InvalidInput, since such
    a range's hash is not the fold of its aligned parts. The empty range has no nodes."""
    _check_size("start", start)
    _check_size("end", end)
    if end < start:
        raise InvalidInput("end", end, f"must not be below start {start}")
    if end == start:
        return []
    if start % _ceiling_power(end - start):
        raise InvalidInput("start", start, f"does not begin a subtree of {end - start} leaves")
    keys: list[NodeKey] = []
    at = start
    for level in range((end - start).bit_length() - 1, -1, -1):
        if (end - start) >> level & 1:
            keys.append((level, at >> level))
            at += 1 << level
    return keys


def frontier_keys(size: int) -> list[NodeKey]:
    """The stored nodes that make up [0, size), left to right: what an append starts from."""
    return range_keys(0, size)


def range_hash(start: int, end: int, nodes: Mapping[NodeKey, bytes], *, digest: Digest = sm3) -> bytes:
    """MTH(D[start:end]) from stored nodes (`range_keys` says which; KeyError naming the first
    one missing from `nodes`)."""
    hashes = []
    for key in range_keys(start, end):
        if key not in nodes:
            raise KeyError(f"node {key} of range [{start}, {end}) was not given")
        hashes.append(nodes[key])
    return fold(hashes, digest=digest)


def _keys_of(ranges: Sequence[tuple[int, int]]) -> list[NodeKey]:
    keys: list[NodeKey] = []
    for start, end in ranges:
        for key in range_keys(start, end):
            if key not in keys:
                keys.append(key)
    return keys


# --- appending --------------------------------------------------------------------------------


def append(
    size: int, frontier: Sequence[bytes], leaves: Sequence[bytes], *, digest: Digest = sm3
) -> tuple[dict[NodeKey, bytes], list[bytes]]:
    """Append leaf hashes to a tree of `size` leaves whose frontier (the hashes at
    `frontier_keys(size)`, in that order) is given. Returns every node the append completed,
    level 0 included, and the new frontier (the hashes at `frontier_keys(size + len(leaves))`).
    A frontier of the wrong length is InvalidInput."""
    _check_size("size", size)
    keys = frontier_keys(size)
    if len(frontier) != len(keys):
        raise InvalidInput("frontier", len(frontier), f"must hold {len(keys)} hashes for a log of {size} entries")
    stack: list[tuple[int, int, bytes]] = [(level, index, h) for (level, index), h in zip(keys, frontier)]
    nodes: dict[NodeKey, bytes] = {}
    for offset, leaf in enumerate(leaves):
        level, index, h = 0, size + offset, leaf
        nodes[(level, index)] = h
        while stack and stack[-1][0] == level:
            _, left_index, left = stack.pop()
            level, index, h = level + 1, left_index >> 1, node_hash(left, h, digest=digest)
            nodes[(level, index)] = h
        stack.append((level, index, h))
    return nodes, [h for _, _, h in stack]


def root_from_frontier(frontier: Sequence[bytes], *, digest: Digest = sm3) -> bytes:
    """The root of the tree whose frontier this is (MTH({}) for an empty one)."""
    return fold(frontier, digest=digest)


# --- inclusion --------------------------------------------------------------------------------


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The ranges whose hashes make up PATH(index, D[0:size]) (RFC 9162 §2.1.3.1), in proof
    order (the leaf's sibling first). 0 ≤ index < size, else InvalidInput."""
    _check_size("index", index)
    _check_size("size", size)
    if index >= size:
        raise InvalidInput("index", index, f"must be below the tree size {size}")
    top_down: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        middle = start + _split(end - start)
        if index < middle:  # PATH(m, D[0:k]) : MTH(D[k:n])
            top_down.append((middle, end))
            end = middle
        else:  # PATH(m - k, D[k:n]) : MTH(D[0:k])
            top_down.append((start, middle))
            start = middle
    return top_down[::-1]


def inclusion_keys(index: int, size: int) -> list[NodeKey]:
    """The stored nodes an inclusion proof of leaf `index` in a tree of `size` needs: O(log n)."""
    return _keys_of(inclusion_ranges(index, size))


def inclusion_proof(index: int, size: int, nodes: Mapping[NodeKey, bytes], *, digest: Digest = sm3) -> list[bytes]:
    """The inclusion proof (audit path) of leaf `index` in the tree of `size` leaves, from the
    nodes at `inclusion_keys(index, size)` (more may be given)."""
    return [range_hash(start, end, nodes, digest=digest) for start, end in inclusion_ranges(index, size)]


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes, *, digest: Digest = sm3
) -> bool:
    """Whether `proof` shows the leaf hash `leaf` at `index` in the tree of `size` leaves whose
    root is `root`: RFC 9162 §2.1.3.2. Anything malformed is simply False."""
    if not _whole(index, size) or index >= size or not _hashes([leaf, *proof]):
        return False
    fn, sn, r = index, size - 1, bytes(leaf)
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r, digest=digest)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p, digest=digest)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and _same(r, root)


# --- consistency ------------------------------------------------------------------------------


def consistency_ranges(old: int, new: int) -> list[tuple[int, int]]:
    """The ranges whose hashes make up PROOF(old, D[0:new]) (RFC 9162 §2.1.4.1), in proof
    order; none when old is 0 or old = new. 0 ≤ old ≤ new, else InvalidInput."""
    _check_size("old", old)
    _check_size("new", new)
    if old > new:
        raise InvalidInput("old", old, f"must not exceed the new size {new}")
    if old in (0, new):
        return []
    top_down: list[tuple[int, int]] = []
    start, end, whole = 0, new, True
    while end != old:  # SUBPROOF(m, D[start:end], whole) with m = old - start < end - start
        middle = start + _split(end - start)
        if old <= middle:  # SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            top_down.append((middle, end))
            end = middle
        else:  # SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
            top_down.append((start, middle))
            start, whole = middle, False
    if not whole:  # SUBPROOF(m, D[m], false) = {MTH(D[m])}
        top_down.append((start, end))
    return top_down[::-1]


def consistency_keys(old: int, new: int) -> list[NodeKey]:
    """The stored nodes a consistency proof from `old` to `new` leaves needs: O(log n)."""
    return _keys_of(consistency_ranges(old, new))


def consistency_proof(old: int, new: int, nodes: Mapping[NodeKey, bytes], *, digest: Digest = sm3) -> list[bytes]:
    """The consistency proof from the tree of `old` leaves to that of `new`, from the nodes at
    `consistency_keys(old, new)` (more may be given)."""
    return [range_hash(start, end, nodes, digest=digest) for start, end in consistency_ranges(old, new)]


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes], *, digest: Digest = sm3
) -> bool:
    """Whether `proof` shows the tree of `new` leaves with root `new_root` extends the tree of
    `old` leaves with root `old_root`: RFC 9162 §2.1.4.2 for 0 < old < new. The RFC leaves the
    trivial cases to the reader; here old = new holds with an empty proof and equal roots, and
    old = 0 with an empty proof and `old_root` the empty tree's. Anything malformed is False."""
    if not _whole(old, new) or old > new or not _hashes([old_root, new_root, *proof]):
        return False
    if old == new:
        return not proof and _same(old_root, new_root)
    if old == 0:
        return not proof and _same(old_root, empty_root(digest=digest))
    if not proof:  # 1.
        return False
    path = list(proof)
    if old & (old - 1) == 0:  # 2. old is a power of two
        path.insert(0, bytes(old_root))
    fn, sn = old - 1, new - 1  # 3.
    while fn & 1:  # 4.
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]  # 5.
    for c in path[1:]:  # 6.
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr, digest=digest)
            sr = node_hash(c, sr, digest=digest)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c, digest=digest)
        fn, sn = fn >> 1, sn >> 1
    return _same(fr, old_root) and _same(sr, new_root) and sn == 0  # 7.


def _whole(*values: object) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values)


def _hashes(values: Sequence[object]) -> bool:
    return all(isinstance(value, (bytes, bytearray)) for value in values)


def _same(left: object, right: object) -> bool:
    return isinstance(left, (bytes, bytearray)) and isinstance(right, (bytes, bytearray)) and hmac.compare_digest(left, right)


# --- signed tree heads ------------------------------------------------------------------------


def _utc(at: dt.datetime) -> dt.datetime:
    if not isinstance(at, dt.datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput("at", at, "must be an aware time")
    return at.astimezone(dt.timezone.utc)


def _line(field: str, value: str) -> str:
    if not isinstance(value, str) or not value or not value.isprintable():
        raise InvalidInput(field, value, "must be non-empty printable text on one line")
    return value


def head_bytes(log: str, size: int, root: bytes, at: dt.datetime, kind: str) -> bytes:
    """The bytes an SM2 signature of a tree head covers, format `hub-tree-head/1`: UTF-8 text,
    six lines each ending in '\\n', nothing else:

        hub-tree-head/1
        log <log name>
        size <entries, decimal, no leading zeros>
        root <root hash, 64 lower-case hex digits>
        at <time in UTC, YYYY-MM-DDTHH:MM:SS.ffffffZ>
        kind <why it was signed>

    Log name and kind are printable text without line breaks (InvalidInput otherwise), the root
    32 bytes, the time aware (InvalidInput otherwise). A later format changes the first line.

    >>> import datetime as dt
    >>> at = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    >>> head_bytes("vote:7", 3, bytes(32), at, "receipt").decode().splitlines()[4]
    'at 2026-03-02T01:30:00.000000Z'
    """
    _check_size("size", size)
    if not isinstance(root, (bytes, bytearray)) or len(root) != HASH_SIZE:
        raise InvalidInput("root", root, f"must be {HASH_SIZE} bytes")
    text = (
        f"{HEAD_FORMAT}\n"
        f"log {_line('log', log)}\n"
        f"size {size}\n"
        f"root {bytes(root).hex()}\n"
        f"at {_utc(at).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}\n"
        f"kind {_line('kind', kind)}\n"
    )
    return text.encode("utf-8")


def sign_head(keyring: Keyring, log: str, size: int, root: bytes, at: dt.datetime, kind: str) -> SignedHead:
    """The head of `log` at `size` entries with this root, signed with the hub's SM2 key over
    `head_bytes` (its time kept in UTC)."""
    message = head_bytes(log, size, root, at, kind)
    return SignedHead(
        log=log, size=size, root=bytes(root), at=_utc(at), kind=kind, signature=sm2.sign(keyring.sm2_private, message)
    )


def verify_head(public_key: str, head: SignedHead) -> bool:
    """Whether `head` carries a valid SM2 signature by `public_key` over its `head_bytes`;
    anything malformed is simply False."""
    try:
        message = head_bytes(head.log, head.size, head.root, head.at, head.kind)
    except (InvalidInput, AttributeError, TypeError):
        return False
    return sm2.verify(public_key, message, head.signature)
