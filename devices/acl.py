"""Mosquitto's password and ACL files for the registered devices (`hub devices acl`).

Each device gets its own user (its code) and a generated password, and may publish only to its
own topics, `{prefix}/devices/{code}/#` (its last will included: mosquitto checks the will's
topic against the ACL when the device connects). The hub's ingestion user may read
`{prefix}/devices/#` and publish nothing. An optional simulator user may publish to every
device's topics (`hub simulate` speaks for many devices over one connection); leave it out of
a production broker.

The password file uses mosquitto 2's own format, `user:$7$101$<salt>$<hash>` (PBKDF2-HMAC-SHA512,
101 iterations, 12-byte salt, 64-byte hash, both base64), computed here so no `mosquitto_passwd`
is needed. `credentials.csv` (mode 600) holds the clear passwords for provisioning the devices;
running again keeps the password of every user already in it, so re-provisioning is only needed
for new devices.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from devices.topics import check_prefix, device_pattern
from graph.devices import device_code
from graph.errors import InvalidInput

ITERATIONS = 101
"""What mosquitto_passwd uses for `$7$` hashes."""
SALT_BYTES = 12
HUB_USER = "hub-ingest"
SIMULATOR_USER = "hub-simulator"


def password_hash(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """A mosquitto `$7$` password hash."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, 64)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify(password: str, hashed: str) -> bool:
    """Whether `password` matches a `$7$` hash (as mosquitto would decide)."""
    try:
        _, kind, iterations, salt, digest = hashed.split("$")
        if kind != "7":
            return False
        again = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt), int(iterations), 64)
        return hmac.compare_digest(again, base64.b64decode(digest))
    except (ValueError, TypeError):
        return False


@dataclass(frozen=True, slots=True)
class AclFiles:
    passwords: Path
    acl: Path
    credentials: Path
    users: int
    kept: int
    """Users whose password was kept from an earlier run."""
    created: int


def _write(path: Path, text: str, mode: int) -> None:
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    os.chmod(temporary, mode)
    os.replace(temporary, path)


def _known(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    with path.open(encoding="utf-8", newline="") as handle:
        return {row["user"]: row["password"] for row in csv.DictReader(handle) if row.get("user") and row.get("password")}


def write_acl(
    codes: Sequence[str],
    out: str | Path,
    *,
    prefix: str = "hub",
    hub_user: str = HUB_USER,
    simulator: bool = False,
) -> AclFiles:
    """Write `passwords`, `acl` and `credentials.csv` into `out` for these device codes."""
    check_prefix(prefix)
    directory = Path(out)
    directory.mkdir(parents=True, exist_ok=True)
    codes = sorted({device_code(code) for code in codes})
    special = {hub_user: "ingest"} | ({SIMULATOR_USER: "simulator"} if simulator else {})
    for name in special:
        device_code(name, field_name="user")
        if name in codes:
            raise InvalidInput("user", name, "is also a device code: choose another name for the hub's user")
    known = _known(directory / "credentials.csv")
    users = [(name, role) for name, role in special.items()] + [(code, "device") for code in codes]
    kept = created = 0
    credentials = io.StringIO()
    writer = csv.writer(credentials, lineterminator="\n")
    writer.writerow(["user", "password", "role", "topics"])
    password_lines, acl_lines = [], [f"# written by `hub devices acl` for prefix {prefix}; each device publishes only to its own topics", ""]
    for name, role in users:
        password = known.get(name)
        if password:
            kept += 1
        else:
            password = secrets.token_urlsafe(18)
            created += 1
        password_lines.append(f"{name}:{password_hash(password)}")
        if role == "ingest":
            topics = [("read", f"{prefix}/devices/#")]
        elif role == "simulator":
            topics = [("write", f"{prefix}/devices/#")]
        else:
            topics = [("write", device_pattern(prefix, name))]
        acl_lines.append(f"user {name}")
        acl_lines += [f"topic {access} {pattern}" for access, pattern in topics]
        acl_lines.append("")
        writer.writerow([name, password, role, " ".join(f"{a}:{p}" for a, p in topics)])
    files = AclFiles(directory / "passwords", directory / "acl", directory / "credentials.csv", len(users), kept, created)
    _write(files.credentials, credentials.getvalue(), 0o600)
    _write(files.passwords, "\n".join(password_lines) + "\n", 0o600)
    _write(files.acl, "\n".join(acl_lines), 0o644)
    return files


def credentials(path: str | Path) -> dict[str, str]:
    """user → password from a `credentials.csv` written by `write_acl`."""
    return _known(Path(path))
