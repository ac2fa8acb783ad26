"""The hub's keys: an SM2 key pair (signatures), an SM4 data key (personal data at rest), a key for
SM3 blind indexes and a key for token MACs, kept in one JSON file readable by its owner alone.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> keys = Keyring.generate()
>>> keys.save(folder / "hub.keys")
>>> Keyring.load(folder / "hub.keys").sm4_data_key == keys.sm4_data_key
True
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from graph.ciphers import sm2
from graph.ciphers.sealing import Sealer
from graph.errors import HubError

FORMAT = "hub-keys/1"


class KeyFileError(HubError):
    """The key file is missing, unreadable, readable by others, or not a hub key file."""


@dataclass(frozen=True, slots=True)
class Keyring:
    sm2_private: str  # 64 hex digits
    sm2_public: str  # 128 hex digits: x ‖ y, no 04 prefix
    sm4_data_key: bytes  # 16 bytes
    blind_index_key: bytes  # 32 bytes
    token_key: bytes  # 32 bytes

    @classmethod
    def generate(cls) -> Keyring:
        private = sm2.generate_private_key()
        return cls(
            sm2_private=private,
            sm2_public=sm2.public_key_of(private),
            sm4_data_key=secrets.token_bytes(16),
            blind_index_key=secrets.token_bytes(32),
            token_key=secrets.token_bytes(32),
        )

    def sealer(self) -> Sealer:
        return Sealer(data_key=self.sm4_data_key, index_key=self.blind_index_key)

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "sm2_private": self.sm2_private,
                "sm2_public": self.sm2_public,
                "sm4_data_key": self.sm4_data_key.hex(),
                "blind_index_key": self.blind_index_key.hex(),
                "token_key": self.token_key.hex(),
            },
            indent=2,
        )

    def save(self, path: Path, *, overwrite: bool = False) -> None:
        """Write the key file with mode 0600, created that way (never readable by others, even
        for a moment); an existing file is kept unless `overwrite`."""
        path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
        try:
            descriptor = os.open(path, flags, 0o600)
        except FileExistsError:
            raise KeyFileError(f"{path} exists; the hub's keys are not replaced (move it away first)") from None
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(self.to_json() + "\n")
        os.chmod(path, 0o600)

    @classmethod
    def load(cls, path: Path) -> Keyring:
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            raise KeyFileError(f"{path}: no key file; create one with `hub keys init`") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyFileError(
                f"{path}: readable by others (mode {stat.S_IMODE(mode):o}); run `chmod 600 {path}`"
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT:
                raise ValueError(f"format is {data.get('format')!r}, not {FORMAT!r}")
            keys = cls(
                sm2_private=sm2.normalise_private_key(data["sm2_private"]),
                sm2_public=sm2.normalise_public_key(data["sm2_public"]),
                sm4_data_key=bytes.fromhex(data["sm4_data_key"]),
                blind_index_key=bytes.fromhex(data["blind_index_key"]),
                token_key=bytes.fromhex(data["token_key"]),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise KeyFileError(f"{path}: not a hub key file ({error})") from None
        if sm2.public_key_of(keys.sm2_private) != keys.sm2_public:
            raise KeyFileError(f"{path}: the SM2 public key does not belong to the private key")
        if len(keys.sm4_data_key) != 16 or len(keys.blind_index_key) < 16 or len(keys.token_key) < 16:
            raise KeyFileError(f"{path}: a key has the wrong length")
        return keys
