"""The SM2 recommended curve (GB/T 32918.5-2017) in plain integer arithmetic, built for speed.

y² = x³ + ax + b over GF(p), a = p - 3, prime order n (cofactor 1, so every point on the curve
other than the point at infinity generates the whole group). Points are affine (x, y) tuples at
the edges and Jacobian (X, Y, Z), x = X/Z², y = Y/Z³, inside; Z = 0 is the point at infinity.
Doubling uses the a = -3 formula (3M + 5S), addition is mixed Jacobian + affine (8M + 3S),
inverses are `pow(x, -1, p)`, shared by many values at once where it can (Montgomery's batch
trick).

- `multiply_g(k)`: k·G from a fixed-base table built lazily on first use (~15 ms, ~0.75 MB):
  signed 8-bit windows, 33 windows × 128 affine points, so k·G is at most 33 mixed additions
  and no doubling (~0.15 ms).
- `multiply(point, k)`: k·P for any P, by width-5 wNAF (256 doublings, ~43 additions, ~1 ms).
- `verify_rs(public, e, r, s)`: GB/T 32918.2 §7.1: t = (r + s) mod n ≠ 0, (x1, y1) = s·G + t·P,
  valid when (e + x1) mod n = r. s·G comes from G's table and t·P by wNAF, added into the same
  sum (~1.1 ms); a public key verified often (a vote's verifier checks thousands of heads
  signed by one hub) gets a table of its own, signed 7-bit windows (37 × 64 points, ~9 ms,
  ~0.4 MB), built on its `KEY_TABLE_AFTER`th verification and kept for the `KEY_TABLES` keys
  used last: then a verification is at most 70 mixed additions (~0.3 ms). The sum is compared
  with r without inverting Z.

Tables are built column by column in affine coordinates, each column's slopes inverted together
(Montgomery's batch inversion), so a table costs about six multiplications a point.

Pure Python, and not constant-time (nor was the gmssl code it replaces); the signer's nonces
come from `secrets` (see `graph.ciphers.sm2`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = P - 3
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0
G = (GX, GY)

Point = tuple[int, int]
"""An affine point (x, y), both in 0..p-1; the point at infinity is None where it can occur."""
Jacobian = tuple[int, int, int]
"""(X, Y, Z) with x = X/Z², y = Y/Z³; Z = 0 is the point at infinity."""
Table = list[list[Point]]
"""A fixed-base table: table[i][j - 1] = j·2^(w·i)·base for j in 1..2^(w-1)."""

INFINITY: Jacobian = (1, 1, 0)

G_WINDOW = 8
"""Bits per window of G's table: 33 windows × 128 points."""
KEY_WINDOW = 7
"""Bits per window of a public key's table: 37 windows × 64 points."""
KEY_TABLE_AFTER = 8
"""The verification of a key on which its table is built: a table (~9 ms) saves ~0.8 ms a
verification, so a key seen fewer times is cheaper by wNAF alone, and one seen more soon repays
it (the first 7 by wNAF cost at most what the table would have saved)."""
KEY_TABLES = 32
"""Public keys remembered (use counts and tables), least recently used dropped first."""
WNAF_WIDTH = 5


def is_on_curve(point: Point) -> bool:
    """Whether (x, y) is an affine point of the curve, with coordinates in 0..p-1."""
    x, y = point
    return 0 <= x < P and 0 <= y < P and (y * y - (x * x + A) * x - B) % P == 0


def _double(point: Jacobian) -> Jacobian:
    """2·Q in Jacobian coordinates, a = -3 (dbl-2001-b). The curve has no point of order 2, so
    only the point at infinity doubles to itself."""
    x, y, z = point
    if z == 0:
        return INFINITY
    delta = z * z % P
    gamma = y * y % P
    beta = x * gamma % P
    alpha = 3 * (x - delta) * (x + delta) % P
    x3 = (alpha * alpha - 8 * beta) % P
    return x3, (alpha * (4 * beta - x3) - 8 * gamma * gamma) % P, 2 * y * z % P


def _add_affine(point: Jacobian, other: Point) -> Jacobian:
    """Q + R with R affine (mixed addition), handling Q = ∞, Q = R (doubling) and Q = -R (∞)."""
    x1, y1, z1 = point
    x2, y2 = other
    if z1 == 0:
        return x2, y2, 1
    zz = z1 * z1 % P
    h = (x2 * zz - x1) % P
    r = (y2 * z1 * zz - y1) % P
    if h == 0:
        return _double(point) if r == 0 else INFINITY
    hh = h * h % P
    hhh = h * hh % P
    v = x1 * hh % P
    x3 = (r * r - hhh - 2 * v) % P
    return x3, (r * (v - x3) - y1 * hhh) % P, z1 * h % P


def _to_affine(point: Jacobian) -> Point | None:
    x, y, z = point
    if z == 0:
        return None
    inverse = pow(z, -1, P)
    square = inverse * inverse % P
    return x * square % P, y * square * inverse % P


def _to_affine_many(points: list[Jacobian]) -> list[Point]:
    """Every point affine with one inversion (Montgomery's trick); none may be infinity."""
    result: list[Point] = []
    for (x, y, _), inverse in zip(points, _inverses([z for _, _, z in points])):
        square = inverse * inverse % P
        result.append((x * square % P, y * square * inverse % P))
    return result


def add(left: Point | None, right: Point | None) -> Point | None:
    """The affine sum of two points (None is the point at infinity): P + (-P) is None."""
    if left is None:
        return right
    if right is None:
        return left
    return _to_affine(_add_affine((left[0], left[1], 1), right))


def double(point: Point | None) -> Point | None:
    """2·P in affine coordinates (None is the point at infinity)."""
    return None if point is None else _to_affine(_double((point[0], point[1], 1)))


def _inverses(values: list[int]) -> list[int]:
    """Every value's inverse mod p with one inversion (Montgomery's trick); none may be 0 mod p."""
    prefix = []
    running = 1
    for value in values:
        prefix.append(running)
        running = running * value % P
    inverse = pow(running, -1, P)
    result = [0] * len(values)
    for index in range(len(values) - 1, -1, -1):
        result[index] = inverse * prefix[index] % P
        inverse = inverse * values[index] % P
    return result


def _build_table(base: Point, window: int) -> Table:
    """table[i][j - 1] = j·2^(window·i)·base, j in 1..2^(window-1), for enough windows to cover
    scalars below 2^257 (signed recoding may carry one bit past the top of a 256-bit scalar).

    Built column by column in affine coordinates: every window's j·B_i from its (j-1)·B_i at
    once, the slopes' denominators inverted together (3 multiplications each and one inversion
    per column). No denominator is 0: (j-1)·B_i = ±B_i would need j - 1 ≡ ±1 mod n, and the
    curve has no point of order 2."""
    half = 1 << (window - 1)
    windows = -(-257 // window)
    chain: list[Jacobian] = [(base[0], base[1], 1)]
    for _ in range((windows - 1) * window):
        chain.append(_double(chain[-1]))
    bases = _to_affine_many(chain[::window])  # B_i = 2^(window·i)·base: never ∞, n is prime
    table: Table = [[point] for point in bases]
    p = P
    inverses = _inverses([2 * y for _, y in bases])
    slopes = [(3 * x * x + A) * inverse % p for (x, _), inverse in zip(bases, inverses)]  # 2·B_i
    for j in range(2, half + 1):
        if j > 2:  # j·B_i = (j-1)·B_i + B_i
            inverses = _inverses([(row[-1][0] - bx) % p for row, (bx, _) in zip(table, bases)])
            rises = [row[-1][1] - by for row, (_, by) in zip(table, bases)]
            slopes = [rise * inverse % p for rise, inverse in zip(rises, inverses)]
        for row, (bx, _), slope in zip(table, bases, slopes):
            x1, y1 = row[-1]
            x3 = (slope * slope - x1 - bx) % p
            row.append((x3, (slope * (x1 - x3) - y1) % p))
    return table


def _signed_digits(k: int, window: int) -> list[int]:
    """k as Σ d_i·2^(window·i), every d_i in -2^(window-1)+1 .. 2^(window-1), least significant
    first; k must be below 2^256."""
    mask = (1 << window) - 1
    half = 1 << (window - 1)
    digits = []
    while k:
        digit = k & mask
        k >>= window
        if digit > half:
            digit -= 1 << window
            k += 1
        digits.append(digit)
    return digits


def _accumulate(point: Jacobian, table: Table, k: int, window: int) -> Jacobian:
    """point + k·base, for 0 ≤ k < 2^256, from base's fixed-base table (mixed additions only)."""
    acc = point
    for row, digit in zip(table, _signed_digits(k, window)):
        if digit > 0:
            acc = _add_affine(acc, row[digit - 1])
        elif digit < 0:
            x, y = row[-digit - 1]
            acc = _add_affine(acc, (x, P - y))
    return acc


def _wnaf(k: int, width: int) -> list[int]:
    """The width-w non-adjacent form of k ≥ 0, least significant digit first: odd digits in
    -(2^(w-1)-1) .. 2^(w-1)-1, each followed by at least w-1 zeros; the top digit is positive."""
    modulus = 1 << width
    half = modulus >> 1
    digits = [0] * (k.bit_length() + 1)
    position = 0
    while k:
        zeros = (k & -k).bit_length() - 1  # skip the run of zero bits at once
        k >>= zeros
        position += zeros
        digit = k & (modulus - 1)
        if digit >= half:
            digit -= modulus
        digits[position] = digit
        k = (k - digit) >> width  # k - digit is a multiple of 2^width
        position += width
    while digits[-1] == 0:
        digits.pop()
    return digits


def _multiply_wnaf(point: Point, k: int) -> Jacobian:
    """k·point for any point and k ≥ 0, by width-5 wNAF over the odd multiples P, 3P, …, 15P."""
    if k == 0:
        return INFINITY
    base: Jacobian = (point[0], point[1], 1)
    twice = _to_affine(_double(base))
    assert twice is not None  # no point of order 2
    odd = [base]
    for _ in range((1 << (WNAF_WIDTH - 2)) - 1):
        odd.append(_add_affine(odd[-1], twice))
    multiples = _to_affine_many(odd)  # multiples[j] = (2j + 1)·point, none is ∞ (order n is prime)
    digits = _wnaf(k, WNAF_WIDTH)
    top = digits[-1]  # the top digit is positive
    x, y = multiples[top >> 1]
    acc: Jacobian = (x, y, 1)
    for digit in reversed(digits[:-1]):
        acc = _double(acc)
        if digit > 0:
            acc = _add_affine(acc, multiples[digit >> 1])
        elif digit < 0:
            x, y = multiples[-digit >> 1]
            acc = _add_affine(acc, (x, P - y))
    return acc


_g_table: Table | None = None
_g_lock = threading.Lock()


def _g() -> Table:
    global _g_table
    if _g_table is None:
        with _g_lock:
            if _g_table is None:
                _g_table = _build_table(G, G_WINDOW)
    return _g_table


def multiply_g(k: int) -> Point:
    """k·G, affine, for k in 1..n-1 (any k not divisible by n is taken mod n)."""
    k %= N
    if k == 0:
        raise ValueError("0·G is the point at infinity")
    point = _to_affine(_accumulate(INFINITY, _g(), k, G_WINDOW))
    assert point is not None
    return point


def multiply(point: Point, k: int) -> Point | None:
    """k·P for a point P on the curve (None when k·P is the point at infinity)."""
    if not is_on_curve(point):
        raise ValueError("the point is not on the SM2 curve")
    return _to_affine(_multiply_wnaf(point, k % N))


class _KeyTables:
    """Public keys seen lately, each with its use count and, once used `after` times, its table;
    at most `size` kept, least recently used dropped first."""

    def __init__(self, size: int, after: int) -> None:
        self.size = size
        self.after = after
        self._lock = threading.Lock()
        self._seen: OrderedDict[Point, int | Table] = OrderedDict()

    def use(self, key: Point) -> Table | None:
        """Count one use of `key`; its table once it has one (built here on the `after`th use)."""
        with self._lock:
            entry = self._seen.pop(key, 0)
            if isinstance(entry, int):
                entry += 1
            self._seen[key] = entry
            while len(self._seen) > self.size:
                self._seen.popitem(last=False)
        if isinstance(entry, list):
            return entry
        if entry < self.after:
            return None
        table = _build_table(key, KEY_WINDOW)
        with self._lock:
            if key in self._seen:
                self._seen[key] = table
        return table

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()


key_tables = _KeyTables(KEY_TABLES, KEY_TABLE_AFTER)


def verify_rs(public: Point, e: int, r: int, s: int) -> bool:
    """Whether (r, s) signs the digest e (as an integer) under the public key: GB/T 32918.2 §7.1,
    steps B1-B2 and B5-B7. False for r or s outside 1..n-1, a key off the curve, t = 0, or
    s·G + t·P at infinity; never an error for integers."""
    if not (0 < r < N and 0 < s < N) or not is_on_curve(public):
        return False
    t = (r + s) % N
    if t == 0:
        return False
    table = key_tables.use(public)
    if table is None:
        x, _, z = _accumulate(_multiply_wnaf(public, t), _g(), s, G_WINDOW)
    else:
        x, _, z = _accumulate(_accumulate(INFINITY, _g(), s, G_WINDOW), table, t, KEY_WINDOW)
    if z == 0:
        return False
    # (e + x1) mod n = r, x1 = x/z² in 0..p-1, without inverting z: x1 is r - e mod n, or that
    # plus n when it stays below p (p > n)
    zz = z * z % P
    candidate = (r - e) % N
    return x == candidate * zz % P or (candidate + N < P and x == (candidate + N) * zz % P)
