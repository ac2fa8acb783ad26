"""SM2 (GB/T 32918) signatures: nonces from `secrets`, keys normalised, ranges checked.

The curve arithmetic is `graph.ciphers.sm2_curve`: integers in Jacobian coordinates (a = -3
doubling, mixed additions), k·G from a fixed-base table of G, and s·G + t·P for verification from
G's table plus a wNAF of P, or a table of P once a public key has been used a few times (a
verifier checks thousands of heads signed by one hub). The digests e = SM3(Z ‖ M) are computed
here through OpenSSL, with Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA) as GB/T 32918.2 §5.5
says. Signatures are r ‖ s, 64 bytes; the default signer ID is 1234567812345678 (GM/T 0009).

This module used to wrap gmssl 3.2.2, which the tests still check it against as independent
code; none of gmssl is on these paths any more. gmssl draws its signing nonce from `random`
(predictable: a leaked nonce gives away the private key), its key parsing strips leading '0'
and '4' characters, its verification accepts r and s outside 1..n-1 and raises on some
malformed input.

>>> private = generate_private_key()
>>> signature = sign(private, b"report")
>>> verify(public_key_of(private), b"report", signature)
True
"""

from __future__ import annotations

import functools
import re
import secrets

from cryptography.hazmat.primitives import hashes

from graph.ciphers import sm2_curve as _curve

DEFAULT_ID = b"1234567812345678"
SIGNATURE = 64
"""Bytes in a signature: r ‖ s, 32 bytes each."""

_P, _A, _B, _N = _curve.P, _curve.A, _curve.B, _curve.N
_HEX = re.compile(r"[0-9a-f]+")
_CURVE_BYTES = b"".join(value.to_bytes(32, "big") for value in (_A, _B, _curve.GX, _curve.GY))


def normalise_private_key(text: str) -> str:
    """64 lower-case hex digits, the scalar d in 1..n-2 (d + 1 must be invertible mod n)."""
    if not isinstance(text, str):
        raise ValueError("an SM2 private key is a string of hex digits")
    key = text.strip().lower().removeprefix("0x")
    if not _HEX.fullmatch(key) or len(key) > 64:
        raise ValueError("an SM2 private key is up to 64 hex digits")
    key = key.rjust(64, "0")
    if not 0 < int(key, 16) < _N - 1:
        raise ValueError("an SM2 private key must lie in 1..n-2")
    return key


def normalise_public_key(text: str) -> str:
    """128 lower-case hex digits, x ‖ y, of a point on the curve; accepts the uncompressed form
    with its 04 prefix. Leading zeros are kept: they are part of x."""
    if not isinstance(text, str):
        raise ValueError("an SM2 public key is a string of hex digits")
    key = text.strip().lower().removeprefix("0x")
    if len(key) == 130 and key.startswith("04"):
        key = key[2:]
    if len(key) != 128 or not _HEX.fullmatch(key):
        raise ValueError("an SM2 public key is 128 hex digits (x ‖ y), optionally after 04")
    x, y = int(key[:64], 16), int(key[64:], 16)
    if x >= _P or y >= _P or (y * y - (x * x * x + _A * x + _B)) % _P:
        raise ValueError("the SM2 public key is not a point on the curve")
    return key


def generate_private_key() -> str:
    """A fresh private key from `secrets`, uniform in 1..n-2."""
    return format(secrets.randbelow(_N - 2) + 1, "064x")


@functools.lru_cache(maxsize=16)
def _public_of(private: str) -> str:
    x, y = _curve.multiply_g(int(private, 16))
    return format(x, "064x") + format(y, "064x")


def public_key_of(private_key: str) -> str:
    """The public key d·G of a private key: 128 hex digits, x ‖ y, no 04 prefix."""
    return _public_of(normalise_private_key(private_key))


def prehash(public_key: str, signer_id: bytes = DEFAULT_ID) -> hashes.Hash:
    """An SM3 context already fed Z: feed it the message (in pieces, for a large file) and
    finalize it to get e = SM3(Z ‖ M), what `sign_digest` and `verify_digest` take."""
    if len(signer_id) >= 8192:
        raise ValueError("an SM2 signer ID is shorter than 8192 bytes")
    entl = (len(signer_id) * 8).to_bytes(2, "big")
    z = hashes.Hash(hashes.SM3())
    z.update(entl + signer_id + _CURVE_BYTES + bytes.fromhex(normalise_public_key(public_key)))
    context = hashes.Hash(hashes.SM3())
    context.update(z.finalize())
    return context


def digest(public_key: str, message: bytes, signer_id: bytes = DEFAULT_ID) -> bytes:
    """e = SM3(Z ‖ M): what an SM2 signature signs (GB/T 32918.2 §6.1, steps A1-A2)."""
    context = prehash(public_key, signer_id)
    context.update(message)
    return context.finalize()


@functools.lru_cache(maxsize=16)
def _inverse_of_one_plus(private: str) -> int:
    return pow(1 + int(private, 16), -1, _N)


def _sign_e(private: str, e: bytes, nonce: int) -> bytes | None:
    """GB/T 32918.2 §6.1, steps A4-A7: None when this nonce gives r = 0, r + k = n or s = 0."""
    x1, _ = _curve.multiply_g(nonce)
    r = (int.from_bytes(e, "big") + x1) % _N
    if r == 0 or r + nonce == _N:
        return None
    s = _inverse_of_one_plus(private) * (nonce - r * int(private, 16)) % _N
    if s == 0:
        return None
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def sign_digest(private_key: str, e: bytes) -> bytes:
    """The signature r ‖ s of a digest e from `prehash` (made with this key's public key), with a
    fresh nonce from `secrets`."""
    private = normalise_private_key(private_key)
    if len(e) != 32:
        raise ValueError("an SM2 digest e is 32 bytes")
    while True:
        signature = _sign_e(private, e, secrets.randbelow(_N - 1) + 1)
        if signature is not None:  # r = 0, r + k = n or s = 0: try another nonce (vanishingly rare)
            return signature


def sign(private_key: str, message: bytes, *, signer_id: bytes = DEFAULT_ID) -> bytes:
    """The SM2 signature r ‖ s (64 bytes) of `message`, with a fresh nonce from `secrets`."""
    private = normalise_private_key(private_key)
    return sign_digest(private, digest(_public_of(private), message, signer_id))


def sign_with_nonce(private_key: str, message: bytes, nonce: str, *, signer_id: bytes = DEFAULT_ID) -> bytes:
    """Signing with a given nonce: only for checking published test vectors."""
    private = normalise_private_key(private_key)
    k = int(nonce, 16) if _HEX.fullmatch(nonce.strip().lower()) else 0
    if not 0 < k < _N:
        raise ValueError("an SM2 nonce is hex digits for a number in 1..n-1")
    signature = _sign_e(private, digest(_public_of(private), message, signer_id), k)
    if signature is None:
        raise ValueError("this nonce gives no valid signature; pick another")
    return signature


def verify_digest(public_key: str, e: bytes, signature: bytes) -> bool:
    """Whether `signature` (r ‖ s) signs the digest e (from `prehash` with this public key).
    Anything malformed (signature, key, digest) is simply not valid: False, never an error."""
    if not isinstance(signature, (bytes, bytearray)) or len(signature) != SIGNATURE:
        return False
    if not isinstance(e, (bytes, bytearray, memoryview)) or len(e) != 32:
        return False
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (0 < r < _N and 0 < s < _N):  # GB/T 32918.2 §7.1, steps B1-B2
        return False
    try:
        key = normalise_public_key(public_key)
    except ValueError:
        return False
    return _curve.verify_rs((int(key[:64], 16), int(key[64:], 16)), int.from_bytes(e, "big"), r, s)


def verify(public_key: str, message: bytes, signature: bytes, *, signer_id: bytes = DEFAULT_ID) -> bool:
    """Whether `signature` (r ‖ s) is the holder of `public_key`'s signature of `message`.
    Anything malformed (signature, key, ID) is simply not a valid signature: False, never an error."""
    try:
        e = digest(public_key, bytes(message), signer_id)
    except (ValueError, TypeError):
        return False
    return verify_digest(public_key, e, signature)
