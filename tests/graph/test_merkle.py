"""graph.merkle: the tree code against RFC 6962's published SHA-256 test vectors, then with SM3
against the RFC's recursive definitions (MTH, PATH, PROOF) written out naively here, for every
size 0..70 and every index and pair of sizes; and signed tree heads.

The SHA-256 vectors are those of the RFC 6962 reference verifier's tests (transparency-dev/merkle,
proof/verify_test.go, from certificate-transparency's merkle tree tests): eight leaves, the roots
of the trees of 1..8 of them, and inclusion and consistency proofs among them (there the leaf
numbers of the inclusion vectors count from 1; here indices count from 0)."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Callable
from dataclasses import replace

import pytest

from graph import merkle
from graph.ciphers.keyring import Keyring
from graph.ciphers.sm3 import sm3
from graph.errors import InvalidInput
from graph.logstore import NodeKey


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")]
ROOTS = [
    bytes.fromhex(h)
    for h in (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]
SHA256_EMPTY = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def _hex(*values: str) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


INCLUSION = [  # (index, size, proof)
    (0, 1, []),
    (
        0,
        8,
        _hex(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        5,
        8,
        _hex(
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (2, 3, _hex("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")),
    (
        1,
        5,
        _hex(
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
]

CONSISTENCY = [  # (old, new, proof)
    (1, 1, []),
    (
        1,
        8,
        _hex(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        6,
        8,
        _hex(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (
        2,
        5,
        _hex(
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
    (
        6,
        7,
        _hex(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
]


def _tree(payloads: list[bytes], digest: Callable[[bytes], bytes]) -> tuple[dict[NodeKey, bytes], list[bytes]]:
    """Every stored node of the tree of these payloads, appended one at a time, and its leaves."""
    leaves = [merkle.leaf_hash(p, digest=digest) for p in payloads]
    nodes: dict[NodeKey, bytes] = {}
    frontier: list[bytes] = []
    for size, leaf in enumerate(leaves):
        completed, frontier = merkle.append(size, frontier, [leaf], digest=digest)
        nodes.update(completed)
    return nodes, leaves


# --- RFC 6962 vectors (SHA-256) ----------------------------------------------------------------


class TestRfc6962Vectors:
    nodes, leaves = _tree(LEAVES, sha256)

    def test_empty_tree(self) -> None:
        assert merkle.empty_root(digest=sha256) == SHA256_EMPTY
        assert merkle.root_from_frontier([], digest=sha256) == SHA256_EMPTY

    @pytest.mark.parametrize("size", range(1, 9))
    def test_roots(self, size: int) -> None:
        assert merkle.range_hash(0, size, self.nodes, digest=sha256) == ROOTS[size - 1]
        _, frontier = merkle.append(0, [], self.leaves[:size], digest=sha256)
        assert merkle.root_from_frontier(frontier, digest=sha256) == ROOTS[size - 1]

    @pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
    def test_inclusion_proofs(self, index: int, size: int, proof: list[bytes]) -> None:
        assert merkle.inclusion_proof(index, size, self.nodes, digest=sha256) == proof
        assert merkle.verify_inclusion(self.leaves[index], index, size, proof, ROOTS[size - 1], digest=sha256)

    @pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
    def test_corrupt_inclusion_proofs_fail(self, index: int, size: int, proof: list[bytes]) -> None:
        leaf, root = self.leaves[index], ROOTS[size - 1]
        probes = [
            (index - 1, size, root, leaf, proof),
            (index + 1, size, root, leaf, proof),
            (index ^ 2, size, root, leaf, proof),
            (index, size * 2, root, leaf, proof),
            (index, size // 2, root, leaf, proof),
            (index, size, root, b"WrongLeaf", proof),
            (index, size, SHA256_EMPTY, leaf, proof),
            (index, size, SOME_HASH, leaf, proof),
            (index, size, root, leaf, [*proof, b""]),
            (index, size, root, leaf, [*proof, root]),
            (index, size, root, leaf, [b"", *proof]),
            (index, size, root, leaf, [root, *proof]),
        ]
        for i in range(len(proof)):
            flipped = list(proof)
            flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
            probes.append((index, size, root, leaf, flipped))
        if proof:
            probes.append((index, size, root, leaf, proof[:-1]))
        if len(proof) > 1:
            probes.append((index, size, root, leaf, [proof[0], SOME_HASH, *proof[1:]]))
        for p_index, p_size, p_root, p_leaf, p_proof in probes:
            assert not merkle.verify_inclusion(p_leaf, p_index, p_size, p_proof, p_root, digest=sha256), (p_index, p_size)

    def test_degenerate_inclusion_fails(self) -> None:
        for index, size in ((0, 0), (0, 1), (1, 0), (2, 1)):
            assert not merkle.verify_inclusion(SOME_HASH, index, size, [], b"", digest=sha256)
            assert not merkle.verify_inclusion(b"", index, size, [], SHA256_EMPTY, digest=sha256)
            assert not merkle.verify_inclusion(SOME_HASH, index, size, [], SHA256_EMPTY, digest=sha256)

    @pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
    def test_consistency_proofs(self, old: int, new: int, proof: list[bytes]) -> None:
        assert merkle.consistency_proof(old, new, self.nodes, digest=sha256) == proof
        assert merkle.verify_consistency(old, new, ROOTS[old - 1], ROOTS[new - 1], proof, digest=sha256)

    @pytest.mark.parametrize(("old", "new", "proof"), [v for v in CONSISTENCY if v[2]])
    def test_corrupt_consistency_proofs_fail(self, old: int, new: int, proof: list[bytes]) -> None:
        root1, root2 = ROOTS[old - 1], ROOTS[new - 1]
        probes = [
            (old - 1, new, root1, root2, proof),
            (old + 1, new, root1, root2, proof),
            (old ^ 2, new, root1, root2, proof),
            (old, new * 2, root1, root2, proof),
            (old, new // 2, root1, root2, proof),
            (old, new, b"WrongRoot", root2, proof),
            (old, new, root1, b"WrongRoot", proof),
            (old, new, root2, root1, proof),
            (old, new, root1, root2, []),
            (old, new, root1, root2, [*proof, b""]),
            (old, new, root1, root2, [*proof, root1]),
            (old, new, root1, root2, [*proof, root2]),
            (old, new, root1, root2, [b"", *proof]),
            (old, new, root1, root2, [root1, *proof]),
            (old, new, root1, root2, [root2, *proof]),
            (old, new, root1, root2, [proof[0], *proof]),
            (old, new, root1, root2, proof[:-1]),
        ]
        for i in range(len(proof)):
            flipped = list(proof)
            flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
            probes.append((old, new, root1, root2, flipped))
        for p_old, p_new, p_root1, p_root2, p_proof in probes:
            assert not merkle.verify_consistency(p_old, p_new, p_root1, p_root2, p_proof, digest=sha256), (p_old, p_new)

    def test_trivial_consistency(self) -> None:
        root1, root2 = b"don't care 1", b"don't care 2"
        assert merkle.verify_consistency(0, 0, SHA256_EMPTY, SHA256_EMPTY, [], digest=sha256)
        assert merkle.verify_consistency(0, 1, SHA256_EMPTY, root2, [], digest=sha256)
        assert merkle.verify_consistency(1, 1, root2, root2, [], digest=sha256)
        assert not merkle.verify_consistency(0, 0, root1, root2, [], digest=sha256)
        assert not merkle.verify_consistency(1, 1, root1, root2, [], digest=sha256)
        assert not merkle.verify_consistency(1, 0, root1, root2, [], digest=sha256)
        assert not merkle.verify_consistency(2, 1, root1, root2, [], digest=sha256)
        assert not merkle.verify_consistency(1, 2, root1, root2, [], digest=sha256)
        assert not merkle.verify_consistency(0, 0, SHA256_EMPTY, root2, [], digest=sha256)
        for old, new in ((0, 0), (0, 1), (1, 1)):
            assert not merkle.verify_consistency(old, new, SHA256_EMPTY, SHA256_EMPTY, [SHA256_EMPTY], digest=sha256)


# --- SM3 against the RFC's recursive definitions, every size 0..70 -------------------------------

LIMIT = 70
PAYLOADS = [f"entry {i}".encode() * (i % 4) for i in range(LIMIT)]  # some empty, some repeated


def _reference_leaf(payload: bytes) -> bytes:
    return sm3(b"\x00" + payload)


REFERENCE_LEAVES = [_reference_leaf(p) for p in PAYLOADS]


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@functools.lru_cache(maxsize=None)
def mth(start: int, end: int) -> bytes:
    """MTH(D[start:end]) exactly as RFC 9162 §2.1.1 defines it, over REFERENCE_LEAVES."""
    n = end - start
    if n == 0:
        return sm3(b"")
    if n == 1:
        return REFERENCE_LEAVES[start]
    k = _k(n)
    return sm3(b"\x01" + mth(start, start + k) + mth(start + k, end))


def path(m: int, start: int, end: int) -> list[bytes]:
    """PATH(m, D[start:end]), RFC 9162 §2.1.3.1."""
    n = end - start
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return path(m, start, start + k) + [mth(start + k, end)]
    return path(m - k, start + k, end) + [mth(start, start + k)]


def subproof(m: int, start: int, end: int, whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[start:end], b), RFC 9162 §2.1.4.1."""
    n = end - start
    if m == n:
        return [] if whole else [mth(start, end)]
    k = _k(n)
    if m <= k:
        return subproof(m, start, start + k, whole) + [mth(start + k, end)]
    return subproof(m - k, start + k, end, False) + [mth(start, start + k)]


class TestAgainstTheRecursiveDefinitions:
    nodes, leaves = _tree(PAYLOADS, sm3)

    def test_leaves_and_every_stored_node(self) -> None:
        assert self.leaves == REFERENCE_LEAVES
        assert len(self.nodes) == sum(LIMIT >> level for level in range(LIMIT.bit_length()))
        for key, value in self.nodes.items():
            assert value == mth(*merkle.node_range(key)), key

    def test_roots_of_every_size(self) -> None:
        frontier: list[bytes] = []
        for size in range(LIMIT + 1):
            assert merkle.root_from_frontier(frontier) == mth(0, size), size
            assert merkle.range_hash(0, size, self.nodes) == mth(0, size), size
            assert [self.nodes[key] for key in merkle.frontier_keys(size)] == frontier
            if size < LIMIT:
                _, frontier = merkle.append(size, frontier, [self.leaves[size]])

    @pytest.mark.parametrize("chunk", [1, 2, 3, 5, 8, 13, 70])
    def test_appending_in_chunks_completes_the_same_nodes(self, chunk: int) -> None:
        nodes: dict[NodeKey, bytes] = {}
        frontier: list[bytes] = []
        for size in range(0, LIMIT, chunk):
            completed, frontier = merkle.append(size, frontier, self.leaves[size : size + chunk])
            assert not set(completed) & set(nodes), "an append rewrote a node"
            for key in completed:
                assert merkle.node_range(key)[1] > size, "an append completed a node of earlier entries"
            nodes.update(completed)
        assert nodes == self.nodes

    def test_inclusion_every_index_of_every_size(self) -> None:
        for size in range(1, LIMIT + 1):
            root = mth(0, size)
            for index in range(size):
                keys = merkle.inclusion_keys(index, size)
                assert len(keys) <= 2 * size.bit_length(), (index, size)
                proof = merkle.inclusion_proof(index, size, {key: self.nodes[key] for key in keys})
                assert proof == path(index, 0, size), (index, size)
                assert merkle.verify_inclusion(self.leaves[index], index, size, proof, root)
                assert not merkle.verify_inclusion(self.leaves[index], index, size, proof, mth(0, size - 1))
                assert not merkle.verify_inclusion(sm3(b"other"), index, size, proof, root)
                for i in range(len(proof)):
                    flipped = [*proof[:i], bytes([proof[i][0] ^ 1]) + proof[i][1:], *proof[i + 1 :]]
                    assert not merkle.verify_inclusion(self.leaves[index], index, size, flipped, root)

    def test_consistency_every_pair_of_sizes(self) -> None:
        for new in range(LIMIT + 1):
            new_root = mth(0, new)
            for old in range(new + 1):
                keys = merkle.consistency_keys(old, new)
                assert len(keys) <= 2 * new.bit_length(), (old, new)
                proof = merkle.consistency_proof(old, new, {key: self.nodes[key] for key in keys})
                expected = [] if old in (0, new) else subproof(old, 0, new, True)
                assert proof == expected, (old, new)
                assert merkle.verify_consistency(old, new, mth(0, old), new_root, proof), (old, new)
                if 0 < old < new:
                    assert not merkle.verify_consistency(old, new, mth(0, old - 1), new_root, proof)
                    assert not merkle.verify_consistency(old, new, mth(0, old), mth(0, new - 1), proof)
                    assert not merkle.verify_consistency(old, new, mth(0, old), new_root, proof[:-1])

    def test_range_keys_split_only_subtrees(self) -> None:
        assert merkle.range_keys(0, 13) == [(3, 0), (2, 2), (0, 12)]
        assert merkle.range_keys(8, 11) == [(1, 4), (0, 10)]
        assert merkle.range_keys(5, 5) == []
        with pytest.raises(InvalidInput, match="start"):
            merkle.range_keys(1, 4)  # the recursion hashes [1, 4) as [1, 3) and [3, 4): not stored
        with pytest.raises(InvalidInput, match="end"):
            merkle.range_keys(4, 3)

    def test_bad_arguments(self) -> None:
        with pytest.raises(InvalidInput, match="frontier"):
            merkle.append(3, [self.leaves[0]], [self.leaves[3]])
        with pytest.raises(InvalidInput, match="index"):
            merkle.inclusion_ranges(5, 5)
        with pytest.raises(InvalidInput, match="old"):
            merkle.consistency_ranges(6, 5)
        with pytest.raises(KeyError, match=r"\(0, 2\)"):
            merkle.inclusion_proof(0, 3, {(0, 1): self.leaves[1]})


# --- signed tree heads ---------------------------------------------------------------------------

KEYS = Keyring.generate()
AT = dt.datetime(2026, 3, 2, 9, 30, 15, 250, tzinfo=dt.timezone(dt.timedelta(hours=8)))


class TestSignedHeads:
    def test_head_bytes_are_the_documented_text(self) -> None:
        root = bytes(range(32))
        assert merkle.head_bytes("vote:7", 12, root, AT, "receipt") == (
            "hub-tree-head/1\n"
            "log vote:7\n"
            "size 12\n"
            f"root {root.hex()}\n"
            "at 2026-03-02T01:30:15.000250Z\n"
            "kind receipt\n"
        ).encode()

    def test_head_bytes_refuse_what_could_be_read_two_ways(self) -> None:
        root = bytes(32)
        with pytest.raises(InvalidInput, match="log"):
            merkle.head_bytes("vote:7\nsize 99", 1, root, AT, "receipt")
        with pytest.raises(InvalidInput, match="kind"):
            merkle.head_bytes("vote:7", 1, root, AT, "")
        with pytest.raises(InvalidInput, match="root"):
            merkle.head_bytes("vote:7", 1, bytes(31), AT, "receipt")
        with pytest.raises(InvalidInput, match="at"):
            merkle.head_bytes("vote:7", 1, root, AT.replace(tzinfo=None), "receipt")
        with pytest.raises(InvalidInput, match="size"):
            merkle.head_bytes("vote:7", -1, root, AT, "receipt")

    def test_signed_head_verifies_and_nothing_else_does(self) -> None:
        root = mth(0, 12)
        head = merkle.sign_head(KEYS, "vote:7", 12, root, AT, "receipt")
        assert head.at == AT and head.at.tzinfo == dt.timezone.utc
        assert merkle.verify_head(KEYS.sm2_public, head)
        for changed in (
            replace(head, log="vote:8"),
            replace(head, size=13),
            replace(head, root=mth(0, 13)),
            replace(head, at=AT + dt.timedelta(microseconds=1)),
            replace(head, kind="close"),
            replace(head, signature=bytes(64)),
            replace(head, signature=head.signature[:-1]),
            replace(head, root=b"short"),
        ):
            assert not merkle.verify_head(KEYS.sm2_public, changed)
        assert not merkle.verify_head(Keyring.generate().sm2_public, head)
        assert not merkle.verify_head("not a key", head)


def test_doctests() -> None:
    import doctest

    failures, tried = doctest.testmod(merkle)
    assert tried > 0 and failures == 0
