"""SM4 (GB/T 32907-2016) in GCM mode through OpenSSL: authenticated encryption of field values.

A sealed value is `version (1 byte) ‖ nonce (12) ‖ ciphertext ‖ tag (16)`; the nonce is fresh
for every value (`os.urandom`, the kernel's CSPRNG), and associated data binds a ciphertext to
where it belongs, so a value copied onto another row or field fails to open.
"""

from __future__ import annotations

import functools
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

VERSION = b"\x01"
NONCE = 12
TAG = 16
KEY = 16


class SealError(ValueError):
    """A sealed value that does not open: wrong key, altered bytes, or moved to another place."""


def _check_key(key: bytes) -> None:
    if len(key) != KEY:
        raise ValueError(f"an SM4 key is {KEY} bytes, not {len(key)}")


@functools.lru_cache(maxsize=16)
def _algorithm(key: bytes) -> algorithms.SM4:
    """One key object per key: building it for every value cost a tenth of each encryption."""
    _check_key(key)
    return algorithms.SM4(key)


def encrypt_gcm(key: bytes, nonce: bytes, plaintext: bytes, associated: bytes = b"") -> tuple[bytes, bytes]:
    """Raw SM4-GCM: (ciphertext, tag). Exposed for test vectors; use `seal` for values."""
    encryptor = Cipher(_algorithm(key), modes.GCM(nonce)).encryptor()
    if associated:
        encryptor.authenticate_additional_data(associated)
    ciphertext = encryptor.update(plaintext) + encryptor.finalize()
    return ciphertext, encryptor.tag


def decrypt_gcm(key: bytes, nonce: bytes, ciphertext: bytes, tag: bytes, associated: bytes = b"") -> bytes:
    decryptor = Cipher(_algorithm(key), modes.GCM(nonce, tag)).decryptor()
    if associated:
        decryptor.authenticate_additional_data(associated)
    try:
        return decryptor.update(ciphertext) + decryptor.finalize()
    except InvalidTag:
        raise SealError("sealed value failed authentication") from None


def seal(key: bytes, plaintext: bytes, associated: bytes = b"") -> bytes:
    nonce = os.urandom(NONCE)
    ciphertext, tag = encrypt_gcm(key, nonce, plaintext, associated)
    return VERSION + nonce + ciphertext + tag


def open_sealed(key: bytes, sealed: bytes, associated: bytes = b"") -> bytes:
    if len(sealed) < 1 + NONCE + TAG or sealed[:1] != VERSION:
        raise SealError("not a sealed value of this hub")
    nonce, body = sealed[1 : 1 + NONCE], sealed[1 + NONCE :]
    return decrypt_gcm(key, nonce, body[:-TAG], body[-TAG:], associated)
