"""SM3 (GB/T 32905-2016) digests and keyed digests (HMAC-SM3), through OpenSSL.

>>> sm3(b"abc").hex()[:16]
'66c7f0f462eeedd9'
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, hmac


def sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def hmac_sm3(key: bytes, data: bytes) -> bytes:
    """HMAC (RFC 2104) over SM3: the hub's keyed digest for blind indexes and token MACs."""
    mac = hmac.HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize()


def same(left: bytes, right: bytes) -> bool:
    """Constant-time comparison of two digests."""
    import hmac as stdlib_hmac

    return stdlib_hmac.compare_digest(left, right)
