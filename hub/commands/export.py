"""`hub export`: a scoped export (GeoJSON or CSV) signed with the hub's SM2 key; `hub verify`:
check such a file against its detached signature."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from graph.ciphers import sm2
from graph.ciphers.keyring import Keyring
from graph.errors import HubError
from hub.commands.common import add_db, load_keys, open_store
from hub.export import FORMATS, ExportResult, SignatureFile, SignatureFileError, check, default_name, export


def add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export_parser = commands.add_parser(
        "export",
        help="export a scope's places (GeoJSON) or houses (CSV), signed with the hub's SM2 key",
        description="Write a scoped export and its detached SM2 signature FILE.sig. "
        "No personal data is exported.",
    )
    export_parser.add_argument("--scope", required=True, metavar="CODE", help="the place code to export (its subtree)")
    export_parser.add_argument("--format", required=True, choices=FORMATS, help="geojson (places with shapes) or csv (houses)")
    export_parser.add_argument("--output", metavar="FILE", help="where to write (default export-CODE-FORMAT.EXT here)")
    add_db(export_parser)
    export_parser.set_defaults(handler=run_export)

    verify_parser = commands.add_parser(
        "verify",
        help="check an export against its detached SM2 signature",
        description="Exit 0 if FILE carries a valid signature SIG, 1 if not (the reason is printed).",
    )
    verify_parser.add_argument("file", metavar="FILE", help="the exported file")
    verify_parser.add_argument("signature", metavar="SIG", help="its signature file (FILE.sig)")
    trusted = verify_parser.add_mutually_exclusive_group()
    trusted.add_argument("--public-key", metavar="HEX", help="the signer's SM2 public key (128 hex digits, or 04 + 128)")
    trusted.add_argument("--keys", metavar="FILE", help="check against this hub's own key file")
    verify_parser.set_defaults(handler=run_verify)


def run_export(arguments: argparse.Namespace) -> int:
    keys = load_keys(arguments)
    path = Path(arguments.output or default_name(arguments.scope, arguments.format))
    result = asyncio.run(_export(arguments, keys, path))
    unit = "features" if result.format == "geojson" else "houses"
    print(f"wrote {result.path} ({result.items:,} {unit}, {result.size:,} bytes, SM3 {result.sm3})")
    print(f"signed {result.signature_path} (SM2, public key {keys.sm2_public})")
    return 0


async def _export(arguments: argparse.Namespace, keys: Keyring, path: Path) -> ExportResult:
    store = await open_store(arguments, keys)
    try:
        return await export(store, arguments.scope, arguments.format, path, keys)
    finally:
        await store.close()


def run_verify(arguments: argparse.Namespace) -> int:
    path, signature_path = Path(arguments.file), Path(arguments.signature)
    trusted = _trusted_key(arguments)  # None: only the key the .sig file names
    try:
        signature = SignatureFile.read(signature_path)
    except SignatureFileError as error:
        return _invalid(f"{signature_path} is not a signature file: {error}")
    if not path.is_file():
        return _invalid(f"{path}: no such file")
    public_key = trusted or signature.public_key
    reason = check(path, signature, public_key)
    if reason is not None:
        return _invalid(reason)
    print(f"valid: signed by {public_key}")
    if arguments.keys is not None:
        print(f"(the hub's own key, from {arguments.keys})")
    elif trusted is None:
        print(
            "note: checked against the public key inside the .sig file: this proves the file is intact "
            "since it was signed, not who signed it; pass --public-key or --keys to check the signer"
        )
    return 0


def _trusted_key(arguments: argparse.Namespace) -> str | None:
    if arguments.public_key is not None:
        try:
            return sm2.normalise_public_key(arguments.public_key)
        except ValueError as error:
            raise HubError(f"--public-key: {error}") from None
    if arguments.keys is not None:
        return Keyring.load(Path(arguments.keys)).sm2_public
    return None


def _invalid(reason: str) -> int:
    print(f"invalid: {reason}", file=sys.stderr)
    return 1
