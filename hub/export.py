"""Scoped exports of the place tree, signed with the hub's SM2 key, and their verification.

An export reads the store through the port with `Scope.of(code)` alone, so nothing outside the
scope can reach it, and page by page, so a district's 140k houses never sit in one query:
- GeoJSON (RFC 7946): a FeatureCollection of every place with a geometry from the scope's level
  down to buildings, each with its roll-up figures;
- CSV (UTF-8 with a BOM, so Excel reads the Chinese): one row per house with the names of the
  places above it (those inside the scope: a street's export leaves the district column empty).
Neither holds personal data: owners are never read, only counted by the roll-ups.

The detached signature `FILE.sig` is JSON: the SM2 signature (r ‖ s) over the file's bytes, the
SM3 digest of the file, the signer's public key and ID, the file's name and when it was signed.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO

from cryptography.hazmat.primitives import hashes

from graph.ciphers import sm2
from graph.ciphers.keyring import Keyring
from graph.errors import HubError
from graph.levels import Level
from graph.model import Page, Place, Stats, m2_text
from graph.scope import Scope
from graph.security import AuditDraft
from graph.store import MAX_PAGE

FORMATS = ("geojson", "csv")
ALGORITHM = "SM2-SM3"
CSV_COLUMNS = ("code", "name", "area", "floor", "usage", "entrance", "building", "estate", "community", "street", "district")
_ANCESTOR_COLUMNS = {Level.ENTRANCE: 5, Level.BUILDING: 6, Level.ESTATE: 7, Level.COMMUNITY: 8, Level.STREET: 9, Level.DISTRICT: 10}
_FIRST_ANCESTOR = 5
_CHUNK = 1 << 20
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX128 = re.compile(r"[0-9a-f]{128}")


class ExportSource(Protocol):
    """What an export reads: the part of `graph.store.Store` it needs, nothing more."""

    async def places(self, codes: Sequence[str], scope: Scope) -> list[Place | None]: ...

    async def subtree(
        self, level: Level, within: str | None, scope: Scope, first: int, after: str | None = None
    ) -> Page[Place]: ...

    async def place_stats(self, codes: Sequence[str], scope: Scope) -> list[Stats | None]: ...

    async def append_audit(self, drafts: Sequence[AuditDraft]) -> Sequence[object]: ...


@dataclass(frozen=True, slots=True)
class ExportResult:
    path: Path
    signature_path: Path
    format: str
    items: int  # features or rows
    size: int  # bytes
    sm3: str


def default_name(code: str, format: str) -> str:
    return f"export-{code}-{format}.{format}"


def signature_path_of(path: Path) -> Path:
    return path.with_name(path.name + ".sig")


async def export(store: ExportSource, code: str, format: str, path: Path, keys: Keyring) -> ExportResult:
    """Write the export of `code`'s subtree to `path`, sign it into `path.sig`, audit it."""
    if format not in FORMATS:
        raise HubError(f"format {format!r} is not one of {', '.join(FORMATS)}")
    scope = Scope.of(code)
    [root] = await store.places([code], scope)
    if root is None:
        raise HubError(f"no place {code} in the store: nothing to export")
    partial = path.with_name(path.name + ".partial")
    try:
        if format == "geojson":
            with partial.open("w", encoding="utf-8", newline="\n") as out:
                items = await write_geojson(store, root, scope, out)
        else:
            with partial.open("w", encoding="utf-8-sig", newline="") as out:
                items = await write_csv(store, root, scope, out)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    signature = sign_file(path, keys)
    signature_path = signature_path_of(path)
    signature_path.write_text(signature.to_json(), encoding="utf-8")
    detail = {"format": format, "file": path.name, "sm3": signature.sm3}
    await store.append_audit([AuditDraft(actor="cli", role="admin", action="export", target=code, detail=detail)])
    return ExportResult(path, signature_path, format, items, path.stat().st_size, signature.sm3)


async def _pages(store: ExportSource, level: Level, root: Place, scope: Scope) -> AsyncIterator[Sequence[Place]]:
    """The places of `level` under the root, a page (MAX_PAGE) at a time, by code."""
    after: str | None = None
    while True:
        page = await store.subtree(level, root.code, scope, MAX_PAGE, after)
        if page.items:
            yield page.items
        if not page.has_next:
            return
        after = page.end_cursor


def _feature(place: Place, stats: Stats | None) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "code": place.code,
        "name": place.name,
        "level": place.level.name,
        "parent": place.parent_code,
        "houses": stats.houses if stats else None,
        "floorArea": stats.floor_area_centi_m2 / 100 if stats else None,  # exact hundredths: JSON writes e.g. 12345.67
        "owners": stats.owners if stats else None,
        "estates": stats.estates if stats else None,
        "buildings": stats.buildings if stats else None,
    }
    return {"type": "Feature", "id": place.code, "geometry": place.geometry, "properties": properties}


async def write_geojson(store: ExportSource, root: Place, scope: Scope, out: TextIO) -> int:
    """Stream the FeatureCollection: levels from the root's down to buildings, each by code."""
    out.write('{"type":"FeatureCollection","features":[')
    written = 0
    for level in range(root.level, Level.BUILDING + 1):
        async for page in _pages(store, Level(level), root, scope):
            shaped = [place for place in page if place.geometry]
            if not shaped:
                continue
            stats = await store.place_stats([place.code for place in shaped], scope)
            for place, figures in zip(shaped, stats):
                out.write(",\n" if written else "\n")
                out.write(json.dumps(_feature(place, figures), ensure_ascii=False, separators=(",", ":")))
                written += 1
    out.write("\n]}\n")
    return written


def _number(value: float | int | None) -> str:
    return "" if value is None else str(value)


async def _names_above_houses(store: ExportSource, root: Place, scope: Scope) -> dict[str, tuple[Level, str, str | None]]:
    """Every place from the root down to the entrances: code → (level, name, parent code).

    Read top down with `subtree`, a page at a time (a district has about 10k of them, a city
    under 200k): asking `ancestors` for each batch of houses instead costs a query per batch, and
    SqlStore's scoped `ancestors` is slow on large stores."""
    names: dict[str, tuple[Level, str, str | None]] = {root.code: (root.level, root.name, None)}
    for level in range(root.level + 1, Level.HOUSE):
        async for page in _pages(store, Level(level), root, scope):
            names.update((place.code, (place.level, place.name, place.parent_code)) for place in page)
    return names


async def write_csv(store: ExportSource, root: Place, scope: Scope, out: TextIO) -> int:
    """Stream one row per house under the root, by code, with the names of the places above it
    (those inside the scope)."""
    names = await _names_above_houses(store, root, scope)
    lines: dict[str | None, list[str]] = {}  # parent code → the ancestor columns of its houses

    def line_of(parent: str | None) -> list[str]:
        columns = [""] * (len(CSV_COLUMNS) - _FIRST_ANCESTOR)
        code = parent
        while code is not None and code in names:
            level, name, code = names[code]
            if level in _ANCESTOR_COLUMNS:
                columns[_ANCESTOR_COLUMNS[level] - _FIRST_ANCESTOR] = name
        return columns

    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    written = 0
    async for page in _pages(store, Level.HOUSE, root, scope):
        for house in page:
            line = lines.get(house.parent_code)
            if line is None:
                line = lines[house.parent_code] = line_of(house.parent_code)
            usage = house.usage.value if house.usage else ""
            writer.writerow([house.code, house.name, m2_text(house.area_centi_m2) if house.area_centi_m2 is not None else "", _number(house.floor), usage, *line])
            written += 1
    return written


# -- signatures ------------------------------------------------------------------------------


class SignatureFileError(HubError):
    """A file that is not a signature file of this hub; the message says why."""


@dataclass(frozen=True, slots=True)
class SignatureFile:
    algorithm: str
    signer_id: str
    public_key: str
    sm3: str
    signature: str
    file: str
    signed_at: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def read(cls, path: Path) -> SignatureFile:
        """The signature file at `path`; SignatureFileError says why it is not one."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SignatureFileError("no such file") from None
        except (OSError, UnicodeDecodeError) as error:
            raise SignatureFileError(f"cannot be read ({error})") from None
        except json.JSONDecodeError:
            raise SignatureFileError("not JSON") from None
        if not isinstance(data, dict):
            raise SignatureFileError("not a JSON object")
        missing = [name for name in cls.__dataclass_fields__ if not isinstance(data.get(name), str)]
        if missing:
            raise SignatureFileError(f"no {', '.join(missing)} (as text)")
        if data["algorithm"] != ALGORITHM:
            raise SignatureFileError(f"algorithm is {data['algorithm']!r}, not {ALGORITHM!r}")
        try:
            public_key = sm2.normalise_public_key(data["public_key"])
        except ValueError as error:
            raise SignatureFileError(f"public_key: {error}") from None
        if not _HEX64.fullmatch(data["sm3"]):
            raise SignatureFileError("sm3 is not 64 lower-case hex digits")
        if not _HEX128.fullmatch(data["signature"]):
            raise SignatureFileError("signature is not 128 lower-case hex digits (r ‖ s)")
        if not data["signer_id"].isascii() or not 0 < len(data["signer_id"]) < 8192:
            raise SignatureFileError("signer_id is not ASCII text of 1-8191 characters")
        return cls(**{**{name: data[name] for name in cls.__dataclass_fields__}, "public_key": public_key})


def digests(path: Path, public_key: str, signer_id: bytes = sm2.DEFAULT_ID) -> tuple[str, bytes]:
    """The file's SM3 digest (hex) and its SM2 digest e = SM3(Z ‖ file) for `public_key`, read once."""
    plain = hashes.Hash(hashes.SM3())
    signed = sm2.prehash(public_key, signer_id)
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            plain.update(chunk)
            signed.update(chunk)
    return plain.finalize().hex(), signed.finalize()


def sign_file(path: Path, keys: Keyring) -> SignatureFile:
    plain, e = digests(path, keys.sm2_public)
    return SignatureFile(
        algorithm=ALGORITHM,
        signer_id=sm2.DEFAULT_ID.decode("ascii"),
        public_key=keys.sm2_public,
        sm3=plain,
        signature=sm2.sign_digest(keys.sm2_private, e).hex(),
        file=path.name,
        signed_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )


def check(path: Path, signature: SignatureFile, public_key: str) -> str | None:
    """Why the file does not carry a valid signature by `public_key`, or None if it does."""
    plain, e = digests(path, public_key, signature.signer_id.encode("ascii"))
    if plain != signature.sm3:
        reason = "the file was changed after signing (SM3 differs)"
        if signature.file != path.name:
            reason += f"; the signature was made for {signature.file}"
        return reason
    if not sm2.verify_digest(public_key, e, bytes.fromhex(signature.signature)):
        reason = f"the signature does not match the public key {public_key}"
        if signature.public_key != public_key:
            reason += f" (the .sig file names {signature.public_key})"
        return reason
    return None
