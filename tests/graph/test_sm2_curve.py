"""The SM2 curve arithmetic (graph.ciphers.sm2_curve) and the signatures built on it, checked
against gmssl's independent code both ways, at the edges of the group, and through both ways
a verification can go (wNAF of the key, or the key's own table)."""

from __future__ import annotations

import secrets

import pytest
from gmssl import sm2 as gmssl_sm2

from graph.ciphers import sm2
from graph.ciphers import sm2_curve as curve

TABLE = gmssl_sm2.default_ecc_table
G = (curve.GX, curve.GY)


def _gmssl() -> gmssl_sm2.CryptSM2:
    return gmssl_sm2.CryptSM2(private_key="", public_key="")


def _gmssl_multiply(k: int, point: tuple[int, int] = G) -> tuple[int, int]:
    text: str = _gmssl()._kg(k, format(point[0], "064x") + format(point[1], "064x"))
    return int(text[:64], 16), int(text[64:], 16)


def _gmssl_for(public: str, private: str = "") -> gmssl_sm2.CryptSM2:
    crypt = _gmssl()
    crypt.private_key = private
    crypt.public_key = public  # set after the constructor, which strips leading 0s and 4s
    return crypt


def _point(public: str) -> tuple[int, int]:
    return int(public[:64], 16), int(public[64:], 16)


def _negate(point: tuple[int, int]) -> tuple[int, int]:
    return point[0], (curve.P - point[1]) % curve.P


def _times(point: tuple[int, int], k: int) -> tuple[int, int]:
    """k·P for a k that is not a multiple of n: never the point at infinity."""
    product = curve.multiply(point, k)
    assert product is not None
    return product


def _scalar() -> int:
    return secrets.randbelow(curve.N - 1) + 1


@pytest.fixture
def tables(monkeypatch: pytest.MonkeyPatch) -> curve._KeyTables:
    """A fresh key cache: 2 keys remembered, a key's table built on its 3rd verification."""
    fresh = curve._KeyTables(size=2, after=3)
    monkeypatch.setattr(curve, "key_tables", fresh)
    return fresh


# --- the curve ---------------------------------------------------------------------------------


def test_the_curve_is_gmssls_recommended_curve() -> None:
    assert (curve.P, curve.A, curve.B, curve.N) == tuple(int(TABLE[name], 16) for name in "pabn")
    assert format(curve.GX, "064x") + format(curve.GY, "064x") == TABLE["g"]
    assert curve.A == curve.P - 3
    assert curve.is_on_curve(G)


def test_multiples_of_g_agree_with_gmssl() -> None:
    for k in [1, 2, 3, 15, 16, 127, 128, 129, 255, 256, 2**128, 2**255, curve.N - 3]:
        assert curve.multiply_g(k) == _gmssl_multiply(k), k
    for _ in range(25):
        k = _scalar()
        assert curve.multiply_g(k) == _gmssl_multiply(k)


def test_multiples_of_any_point_agree_with_gmssl() -> None:
    for _ in range(10):
        point, k = curve.multiply_g(_scalar()), _scalar()
        assert curve.multiply(point, k) == _gmssl_multiply(k, point)
    point = curve.multiply_g(_scalar())
    for k in (1, 2, 3, 31, 32, 33, 2**255 - 1):  # wNAF's edges: digits that carry, runs of ones
        assert curve.multiply(point, k) == _gmssl_multiply(k, point), k


def test_the_top_of_the_group() -> None:
    assert curve.multiply_g(1) == G
    assert curve.multiply_g(curve.N - 1) == _negate(G)
    assert curve.multiply_g(curve.N - 2) == _negate(curve.multiply_g(2))
    assert curve.add(curve.multiply_g(curve.N - 1), G) is None
    assert curve.add(curve.multiply_g(curve.N - 2), curve.multiply_g(2)) is None
    assert curve.multiply_g(curve.N + 5) == curve.multiply_g(5)  # scalars are taken mod n
    point = curve.multiply_g(_scalar())
    assert curve.multiply(point, curve.N) is None
    assert curve.multiply(point, 0) is None
    assert curve.multiply(point, curve.N - 1) == _negate(point)
    assert curve.multiply(point, curve.N + 1) == point
    for k in (0, curve.N, 2 * curve.N):
        with pytest.raises(ValueError, match="infinity"):
            curve.multiply_g(k)


def test_sums_that_meet_their_own_table_point_on_the_way() -> None:
    """The signed digits of n - 70 (8-bit windows) and n - 6 (wNAF, width 5) are d, then the rest
    worth n + d: the running sum is d·P when d·P is added, so the addition must double."""
    assert curve._signed_digits(curve.N - 70, 8)[0] == -35
    assert curve.multiply_g(curve.N - 70) == _negate(curve.multiply_g(70))
    assert curve.multiply_g(curve.N - 70) == _gmssl_multiply(curve.N - 70)
    point = curve.multiply_g(_scalar())
    assert curve._wnaf(curve.N - 6, 5)[0] == -3
    assert curve.multiply(point, curve.N - 6) == _negate(_times(point, 6))
    table = curve._build_table(point, 7)
    total = curve._accumulate(curve.INFINITY, table, curve.N - 70, 7)
    assert curve._to_affine(total) == _negate(_times(point, 70))


def test_a_running_sum_may_pass_through_infinity() -> None:
    """k = n·2^10 + 7: wNAF's running sum is n·P = ∞ at bit 10, and goes on from there."""
    point = curve.multiply_g(_scalar())
    assert curve._multiply_wnaf(point, curve.N << 10)[2] == 0
    assert curve._to_affine(curve._multiply_wnaf(point, (curve.N << 10) + 7)) == curve.multiply(point, 7)
    assert curve._add_affine(curve.INFINITY, point) == (point[0], point[1], 1)


def test_a_point_plus_its_opposite_is_infinity() -> None:
    point = curve.multiply_g(_scalar())
    assert curve.add(point, _negate(point)) is None
    assert curve.add(None, point) == point
    assert curve.add(point, None) == point
    assert curve.add(None, None) is None
    assert curve.double(None) is None


def test_doubling_agrees_with_adding_a_point_to_itself() -> None:
    for _ in range(5):
        k = _scalar()
        point = curve.multiply_g(k)
        twice = curve.double(point)
        assert twice == curve.add(point, point)  # the mixed addition falls back to doubling
        assert twice == curve.multiply(point, 2) == curve.multiply_g(2 * k)
        assert twice is not None and curve.is_on_curve(twice)
        assert curve.add(twice, point) == curve.multiply_g(3 * k)


def test_points_off_the_curve_are_refused() -> None:
    off = (curve.GX, (curve.GY + 1) % curve.P)
    assert not curve.is_on_curve(off)
    assert not curve.is_on_curve((curve.GX + curve.P, curve.GY))  # coordinates must be below p
    assert not curve.is_on_curve((0, 0))
    with pytest.raises(ValueError, match="not on the SM2 curve"):
        curve.multiply(off, 5)


def test_the_fixed_base_table_holds_the_multiples_it_claims() -> None:
    table = curve._build_table(G, 4)
    assert len(table) == 65 and all(len(row) == 8 for row in table)
    for i in (0, 1, 33, 64):
        for j in (1, 5, 8):
            assert table[i][j - 1] == curve.multiply_g(j << (4 * i)), (i, j)


def test_signed_digits_and_wnaf_give_back_the_scalar() -> None:
    for k in [1, 2**256 - 1, curve.N - 1] + [_scalar() for _ in range(20)]:
        for window in (4, 7, 8):
            digits = curve._signed_digits(k, window)
            assert sum(d << (window * i) for i, d in enumerate(digits)) == k
            assert all(-(1 << (window - 1)) < d <= 1 << (window - 1) for d in digits)
        naf = curve._wnaf(k, 5)
        assert sum(d << i for i, d in enumerate(naf)) == k
        assert naf[-1] > 0 and all(d == 0 or (d % 2 and -16 < d < 16) for d in naf)
        nonzero = [i for i, d in enumerate(naf) if d]
        assert all(b - a >= 5 for a, b in zip(nonzero, nonzero[1:]))


# --- verification at the curve level -------------------------------------------------------------


def _signed(d: int, e: int) -> tuple[int, int]:
    """A signature (r, s) of e under d made by the textbook formulas, independently of sm2."""
    while True:
        k = _scalar()
        r = (e + _gmssl_multiply(k)[0]) % curve.N
        s = pow(1 + d, -1, curve.N) * (k - r * d) % curve.N
        if r and r + k != curve.N and s:
            return r, s


@pytest.mark.usefixtures("tables")
def test_verify_rs_takes_valid_signatures_and_refuses_changed_ones() -> None:
    d = _scalar()
    public = curve.multiply_g(d)
    for _ in range(6):  # past the 3rd verification the key's table is used
        e = secrets.randbits(256)
        r, s = _signed(d, e)
        assert curve.verify_rs(public, e, r, s)
        assert not curve.verify_rs(public, e ^ 1, r, s)
        assert not curve.verify_rs(public, e, (r + 1) % curve.N, s)
        assert not curve.verify_rs(public, e, r, s + 1 if s + 1 < curve.N else 1)
        assert not curve.verify_rs(curve.multiply_g(d + 1), e, r, s)
        assert not curve.verify_rs(_negate(public), e, r, s)


def test_verify_rs_refuses_out_of_range_values_and_keys_off_the_curve() -> None:
    d = _scalar()
    public = curve.multiply_g(d)
    e = secrets.randbits(256)
    r, s = _signed(d, e)
    assert curve.verify_rs(public, e, r, s)
    for bad_r, bad_s in [(0, s), (r, 0), (curve.N, s), (r, curve.N), (r + curve.N, s), (-r, s)]:
        assert curve.verify_rs(public, e, bad_r, bad_s) is False
    assert curve.verify_rs(public, e, r, curve.N - r) is False  # t = (r + s) mod n = 0
    e_for_t_zero = (r - curve.multiply_g(curve.N - r)[0]) % curve.N  # what s·G alone would pass
    assert curve.verify_rs(public, e_for_t_zero, r, curve.N - r) is False
    assert curve.verify_rs((public[0], (public[1] + 1) % curve.P), e, r, s) is False
    assert curve.verify_rs((public[0] + curve.P, public[1]), e, r, s) is False


@pytest.mark.parametrize("uses", [1, 5])  # 1: by wNAF; 5: through the key's table
def test_a_sum_at_infinity_is_not_a_valid_signature(tables: curve._KeyTables, uses: int) -> None:
    """s·G + t·P = (s + t·d)·G is the point at infinity when s = -r·d / (1 + d): no x1, so no
    signature, whatever e is."""
    d = _scalar()
    public = curve.multiply_g(d)
    r = _scalar()
    s = -r * d * pow(1 + d, -1, curve.N) % curve.N
    assert s and (r + s) % curve.N
    for _ in range(uses):
        for e in (0, r, secrets.randbits(256)):
            assert curve.verify_rs(public, e, r, s) is False


@pytest.mark.parametrize("uses", [1, 5])
@pytest.mark.parametrize("case", ["double", "infinity"])
def test_verification_sums_that_meet_a_table_point(tables: curve._KeyTables, uses: int, case: str) -> None:
    """A signer who knows d can pick s and t so that the running sum of s·G + t·P equals ± the
    next point added: t·d = ±s0 (s0 the lowest digit of s) by wNAF, where t·P comes first and
    G's table is added to it; s = ±t0·d through the key's table, where s·G comes first. The sum
    must still come out right, and the signature made for it verify."""
    d = _scalar()
    public = curve.multiply_g(d)
    sign = 1 if case == "double" else -1
    for _ in range(uses - 1):
        curve.verify_rs(public, 0, 1, 1)  # the key's earlier uses
    if uses == 1:
        s = _scalar()
        s0 = curve._signed_digits(s, curve.G_WINDOW)[0]
        t = sign * s0 * pow(d, -1, curve.N) % curve.N
    else:
        t = _scalar()
        t0 = curve._signed_digits(t, curve.KEY_WINDOW)[0]
        s = sign * t0 * d % curve.N
    r = (t - s) % curve.N
    x1 = curve.multiply_g(s + t * d)[0]
    e = (r - x1) % curve.N
    assert curve.verify_rs(public, e, r, s)
    assert (tables.use(public) is not None) == (uses > 1)


def _point_with_x_at_least_n() -> tuple[int, int]:
    """A point whose x lies in n..p-1 (p ≡ 3 mod 4, so a square root is one power)."""
    while True:
        x = curve.N + secrets.randbelow(curve.P - curve.N)
        y = pow((x * x + curve.A) * x + curve.B, (curve.P + 1) // 4, curve.P)
        if curve.is_on_curve((x, y)):
            return x, y


@pytest.mark.parametrize("uses", [1, 5])
def test_x1_above_n_is_reduced_mod_n(tables: curve._KeyTables, uses: int) -> None:
    """(e + x1) mod n = r when x1 ≥ n (a chance of 2^-128 for a real signature, so the sum is
    made to land on such a point: P = t^-1·(Q - s·G) gives s·G + t·P = Q); gmssl agrees."""
    q = _point_with_x_at_least_n()
    s, t = _scalar(), _scalar()
    difference = curve.add(q, _negate(curve.multiply_g(s)))
    assert difference is not None
    public = curve.multiply(difference, pow(t, -1, curve.N))
    assert public is not None
    r = (t - s) % curve.N
    e = (r - q[0]) % curve.N
    assert r and e + q[0] >= curve.N
    for _ in range(uses):
        assert curve.verify_rs(public, e, r, s)
        assert not curve.verify_rs(public, e + 1, r, s)
    signature = format(r, "064x") + format(s, "064x")
    public_hex = format(public[0], "064x") + format(public[1], "064x")
    assert _gmssl_for(public_hex).verify(signature, e.to_bytes(32, "big"))


def test_a_key_gets_its_table_on_its_nth_verification_and_the_least_recent_is_dropped(
    tables: curve._KeyTables,
) -> None:
    keys = [curve.multiply_g(_scalar()) for _ in range(3)]
    assert tables.use(keys[0]) is None
    assert tables.use(keys[0]) is None
    table = tables.use(keys[0])
    assert table is not None and table[0][0] == keys[0]
    assert tables.use(keys[0]) is table  # kept, not rebuilt
    assert tables.use(keys[1]) is None
    assert tables.use(keys[2]) is None  # three keys: the least recently used, keys[0], goes
    assert tables.use(keys[0]) is None


# --- signatures, against gmssl both ways -------------------------------------------------------


def test_our_signatures_verify_under_gmssl() -> None:
    for index in range(20):
        private = sm2.generate_private_key()
        public = sm2.public_key_of(private)
        message = secrets.token_bytes(index * 7)
        signature = sm2.sign(private, message)
        assert len(signature) == sm2.SIGNATURE
        assert _gmssl_for(public).verify(signature.hex(), sm2.digest(public, message))


def test_gmssls_signatures_verify_under_ours() -> None:
    for index in range(20):
        private = sm2.generate_private_key()
        public = sm2.public_key_of(private)
        message = secrets.token_bytes(index * 11 + 1)
        crypt = _gmssl_for(public, private)
        signature = None
        while signature is None:  # gmssl gives None for the rare nonce that fails
            signature = crypt.sign_with_sm3(message, secrets.token_hex(32))
        assert sm2.verify(public, message, bytes.fromhex(signature))
        assert not sm2.verify(public, message + b"!", bytes.fromhex(signature))


def test_the_same_nonce_gives_gmssls_signature_bit_for_bit() -> None:
    for _ in range(10):
        private = sm2.generate_private_key()
        public = sm2.public_key_of(private)
        assert _point(public) == _gmssl_multiply(int(private, 16))
        nonce = secrets.token_hex(32)
        message = secrets.token_bytes(40)
        ours = sm2.sign_with_nonce(private, message, nonce)
        theirs = _gmssl_for(public, private).sign(sm2.digest(public, message), nonce)
        assert ours.hex() == theirs


@pytest.mark.usefixtures("tables")
def test_many_signatures_under_one_key_verify_through_its_table_as_before() -> None:
    private = sm2.generate_private_key()
    public = sm2.public_key_of(private)
    other = sm2.public_key_of(sm2.generate_private_key())
    for index in range(8):
        message = b"head %d" % index
        signature = sm2.sign(private, message)
        assert sm2.verify(public, message, signature)
        assert not sm2.verify(public, message + b".", signature)
        assert not sm2.verify(other, message, signature)
        assert not sm2.verify(public, message, signature[:32] + signature[:32])
    assert isinstance(curve.key_tables.use(_point(public)), list)


def test_tampered_signatures_digests_and_keys_are_false() -> None:
    private = sm2.generate_private_key()
    public = sm2.public_key_of(private)
    e = sm2.digest(public, b"signed tree head")
    signature = sm2.sign_digest(private, e)
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    assert sm2.verify_digest(public, e, signature)
    assert sm2.verify_digest(public, memoryview(e), bytearray(signature))  # type: ignore[arg-type]

    def pack(r: int, s: int) -> bytes:
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    x, y = _point(public)
    off_curve = format(x, "064x") + format((y + 1) % curve.P, "064x")
    for args in [
        (public, e, pack((r + 1) % curve.N or 1, s)),
        (public, e, pack(r, s ^ 1)),
        (public, bytes([e[0] ^ 0x80]) + e[1:], signature),
        (sm2.public_key_of(sm2.generate_private_key()), e, signature),
        (off_curve, e, signature),
        (public, e, pack(r, curve.N - r)),  # t = 0
        (public, e, pack(0, s)),
        (public, e, pack(r, 0)),
        (public, e, pack(curve.N, s)),
        (public, e, pack(r, curve.N)),
        (public, e, b"\xff" * 64),
        (public, None, signature),
        (public, "e" * 32, signature),
        (None, e, signature),
        (12345, e, signature),
    ]:
        assert sm2.verify_digest(*args) is False  # type: ignore[arg-type]


def test_signing_refuses_what_the_standard_refuses() -> None:
    """A nonce k with r + k = n gives no signature (GB/T 32918.2 §6.1, A5): find the e that makes
    it so for a given k, and sign_with_nonce must refuse rather than sign."""
    private = sm2.generate_private_key()
    public = sm2.public_key_of(private)
    k = _scalar()
    x1 = curve.multiply_g(k)[0]
    e = (curve.N - k - x1) % curve.N  # r = (e + x1) mod n = n - k
    assert sm2._sign_e(private, e.to_bytes(32, "big"), k) is None
    assert sm2._sign_e(private, ((-x1) % curve.N).to_bytes(32, "big"), k) is None  # r = 0
    assert sm2.verify_digest(public, e.to_bytes(32, "big"), sm2.sign_digest(private, e.to_bytes(32, "big")))
