"""Per-value cipher rates: OpenSSL's SM4 and SM3 (what the hub uses) beside gmssl's pure-Python
SM4 and SM3 on the same values, and SM2 signing and verification (the hub's pure-Python curve code).

Values are the sizes the hub seals and indexes: an 18-character ID number, an 11-digit mobile
phone, a 2-3 character Chinese name (6-9 bytes of UTF-8). Each figure runs for a fixed time.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gmssl import sm3 as gmssl_sm3
from gmssl import sm4 as gmssl_sm4

from graph.ciphers import sm2, sm4
from graph.ciphers.sealing import Sealer, normalise
from graph.codes import resident_id_check_digit
from hub.demo.names import person_name
from hub.demo.people import mobile_phone

FIELDS = ("id_number", "phone", "name")
TARGET_RATIO = 20.0
"""OpenSSL's SM4 and SM3 should be at least this many times faster than gmssl's."""
BULK_BYTES = 4096
"""A buffer size where the cipher, not the per-call overhead, dominates: for reference only."""
SM2_MESSAGE = bytes(range(64))
"""What SM2 signs in the benchmark: 64 bytes, the size of an audit entry's hash in hex."""


@dataclass(frozen=True, slots=True)
class Rate:
    operations: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.operations / self.seconds


@dataclass(frozen=True, slots=True)
class FieldFigures:
    """One field's rates: SM4 sealing and SM3 blind indexes, OpenSSL beside gmssl."""

    field: str
    value_bytes: str  # the range of value sizes, e.g. "6-9"
    sm4_openssl: Rate
    sm4_gmssl: Rate
    sm3_openssl: Rate
    sm3_gmssl: Rate

    @property
    def sm4_ratio(self) -> float:
        return self.sm4_openssl.per_second / self.sm4_gmssl.per_second

    @property
    def sm3_ratio(self) -> float:
        return self.sm3_openssl.per_second / self.sm3_gmssl.per_second


@dataclass(frozen=True, slots=True)
class CipherFigures:
    fields: Sequence[FieldFigures]
    sm2_sign: Rate
    sm2_verify: Rate
    seconds_each: float
    bulk_openssl: Rate  # SM4 of BULK_BYTES-byte buffers, one context each
    bulk_gmssl: Rate

    @property
    def bulk_ratio(self) -> float:
        return self.bulk_openssl.per_second / self.bulk_gmssl.per_second

    @property
    def sm4_ratio(self) -> float:
        """The weakest field's ratio: the target must hold for every field."""
        return min(figure.sm4_ratio for figure in self.fields)

    @property
    def sm3_ratio(self) -> float:
        return min(figure.sm3_ratio for figure in self.fields)


def sample_values(field: str, count: int = 256, seed: int = 2020) -> list[str]:
    """Realistic values of a personal field, the same on every run."""
    rng = random.Random(f"{seed}/{field}")
    values: list[str] = []
    for _ in range(count):
        if field == "id_number":
            first17 = f"370202{rng.randrange(1940, 2001)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}{rng.randrange(1000):03d}"
            values.append(first17 + resident_id_check_digit(first17))
        elif field == "phone":
            values.append(mobile_phone(rng))
        else:
            values.append(person_name(rng, rng.random() < 0.5, rng.randrange(1940, 2001)))
    return values


def rate(operation: Callable[[str], object], values: Sequence[str], seconds: float) -> Rate:
    """Run `operation` over `values`, round and round, for about `seconds`."""
    for value in values[:16]:  # warm up
        operation(value)
    done = 0
    started = time.perf_counter()
    deadline = started + seconds
    while True:
        for value in values:
            operation(value)
        done += len(values)
        now = time.perf_counter()
        if now >= deadline:
            return Rate(done, now - started)


class GmsslIndex:
    """The blind index the hub computes, HMAC-SM3 (RFC 2104) built on gmssl's pure-Python SM3,
    with the padded keys prepared once as any HMAC implementation does."""

    def __init__(self, key: bytes) -> None:
        key = key.ljust(64, b"\x00")
        self._inner = [byte ^ 0x36 for byte in key]
        self._outer = [byte ^ 0x5C for byte in key]

    def index(self, field: str, value: str) -> str:
        data = f"{field}\x00{normalise(field, value)}".encode()
        inner = bytes.fromhex(gmssl_sm3.sm3_hash(self._inner + list(data)))
        return str(gmssl_sm3.sm3_hash(self._outer + list(inner)))


def _field_figures(field: str, seconds: float) -> FieldFigures:
    values = sample_values(field)
    data_key, index_key = os.urandom(16), os.urandom(32)
    sealer = Sealer(data_key=data_key, index_key=index_key)
    context = f"owner/OW0123456789ABCDEF/{field}".encode()

    def seal_openssl(value: str) -> bytes:
        return sm4.seal(data_key, value.encode("utf-8"), context)

    gmssl_crypt = gmssl_sm4.CryptSM4()
    gmssl_crypt.set_key(data_key, gmssl_sm4.SM4_ENCRYPT)

    def seal_gmssl(value: str) -> bytes:
        iv = os.urandom(16)
        return iv + bytes(gmssl_crypt.crypt_cbc(iv, value.encode("utf-8")))

    gmssl_index = GmsslIndex(index_key)
    if gmssl_index.index(field, values[0]) != sealer.index(field, values[0]):
        raise RuntimeError("gmssl's HMAC-SM3 and OpenSSL's disagree: the comparison would be unfair")
    sizes = sorted({len(value.encode("utf-8")) for value in values})
    return FieldFigures(
        field=field,
        value_bytes=f"{sizes[0]}" if sizes[0] == sizes[-1] else f"{sizes[0]}-{sizes[-1]}",
        sm4_openssl=rate(seal_openssl, values, seconds),
        sm4_gmssl=rate(seal_gmssl, values, seconds),
        sm3_openssl=rate(lambda value: sealer.index(field, value), values, seconds),
        sm3_gmssl=rate(lambda value: gmssl_index.index(field, value), values, seconds),
    )


def measure_ciphers(seconds: float = 1.0) -> CipherFigures:
    """Every figure in one run, each for about `seconds`."""
    fields = [_field_figures(field, seconds) for field in FIELDS]
    private = sm2.generate_private_key()
    public = sm2.public_key_of(private)
    signature = sm2.sign(private, SM2_MESSAGE)
    if not sm2.verify(public, SM2_MESSAGE, signature):
        raise RuntimeError("SM2 signature did not verify")
    messages = ["m"]
    key, buffer = os.urandom(16), os.urandom(BULK_BYTES)
    gmssl_crypt = gmssl_sm4.CryptSM4()
    gmssl_crypt.set_key(key, gmssl_sm4.SM4_ENCRYPT)
    return CipherFigures(
        fields=fields,
        sm2_sign=rate(lambda _: sm2.sign(private, SM2_MESSAGE), messages, seconds),
        sm2_verify=rate(lambda _: sm2.verify(public, SM2_MESSAGE, signature), messages, seconds),
        seconds_each=seconds,
        bulk_openssl=rate(lambda _: sm4.seal(key, buffer), messages, seconds),
        bulk_gmssl=rate(lambda _: gmssl_crypt.crypt_cbc(bytes(16), buffer), messages, seconds),
    )
