"""A reference utility built from the demo city: its data, its HTTP API and its CSV drops.

The data (`build_dataset`) reads the demo city through the store port: one account per flat or
shop, most keyed by the 不动产单元号, about a fifth only by a postal address rendered from the
place tree the way clerks type them (with or without city, street and community, 号楼/栋/幢,
full-width digits, Chinese numerals, the terse 3-2-501); twelve monthly bills per account with
about 5% of accounts in arrears; a few outage notices on estates and buildings, by code or by
address. `awkward` adds addresses a utility really holds and the hub must not guess: an estate
name the city does not have, a building number missing, a room without its entrance.

The API (`utility_app`), as a utility would publish it:

    GET /v1/{accounts|bills|outages}?updated_after=ISO&after_key=KEY&limit=N
    GET /v1/{stream}?page_token=TOKEN&limit=N
    Authorization: Bearer <token>          (401 {"error": ...} otherwise)

    200 {"items": [...], "next_page_token": "..." | null}

Items are ordered by (`updated`, key); `updated_after` with `after_key` resumes after a record
(a client's saved cursor), `page_token` continues a listing. `limit` is 1..1000 (default 200).
`GET /v1/health` answers without a token. Times are ISO 8601 with the +08:00 offset. A bill's
`amount` and `paid` are yuan as decimal text with two decimals ("123.45"), as many utilities
send money; the data is made in whole fen, so every total adds up.
"""

from __future__ import annotations

import base64
import bisect
import csv
import datetime as dt
import json
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.matching import Matcher
from connectors.utilities.streams import CHINA, KEYS, STREAMS, moment, record_key
from graph.clock import today as beijing_today
from graph.ledger import Reason
from graph.levels import Level
from graph.model import Place, Usage
from graph.scope import Scope
from graph.store import MAX_PAGE, Store
from graph.utilities import Utility, fen_of, yuan_text

EVERYTHING = Scope.everything()
_PREFIX = {Utility.WATER: "SW", Utility.POWER: "GD", Utility.GAS: "RQ", Utility.HEATING: "RL"}
_RATE = {Utility.WATER: (18.0, 75.0), Utility.POWER: (45.0, 320.0), Utility.GAS: (15.0, 110.0), Utility.HEATING: (0.0, 0.0)}
_REASONS = {
    Utility.WATER: ("供水管网维修", "二次供水水箱清洗", "水表更换", "爆管抢修"),
    Utility.POWER: ("线路检修", "变压器增容", "配电室改造", "线路故障抢修"),
    Utility.GAS: ("燃气管道改造", "调压箱检修", "燃气泄漏抢修"),
    Utility.HEATING: ("供热管网维修", "换热站检修", "阀门更换"),
}
_NUMERALS = "零一二三四五六七八九"


def _stamp(moment_: dt.datetime) -> str:
    return moment_.astimezone(CHINA).isoformat(timespec="seconds")


def _chinese(number: int) -> str:
    if number < 10:
        return _NUMERALS[number]
    tens, ones = divmod(number, 10)
    return ("" if tens == 1 else _NUMERALS[tens]) + "十" + (_NUMERALS[ones] if ones else "")


def postal_address(lineage: Sequence[Place], house: Place, rng: random.Random, *, full: bool = False) -> str:
    """The house's address in a random clerk's style (`full`: every level, the plain style)."""
    by_level = {place.level: place for place in lineage}
    building, estate = by_level[Level.BUILDING], by_level[Level.ESTATE]
    number = int(building.name.removesuffix("号楼"))
    entrance_text, _, room = house.name.partition("单元")
    entrance = int(entrance_text)
    shop = room.endswith("网点")
    room = room.removesuffix("室").removesuffix("网点")
    pieces: list[str] = []
    if full or rng.random() < 0.2:
        pieces.append("山东省")
    if full or rng.random() < 0.7:
        pieces.append(by_level[Level.CITY].name)
    pieces.append(by_level[Level.DISTRICT].name)
    if full or rng.random() < 0.6:
        pieces.append(by_level[Level.STREET].name)
    if full or rng.random() < 0.5:
        pieces.append(by_level[Level.COMMUNITY].name)
    pieces.append(estate.name if full or rng.random() < 0.8 else estate.name.replace("·", ""))
    style = 0.5 if full else rng.random()
    if style < 0.12 and not shop:
        pieces.append(f"{number}-{entrance}-{room}")
    else:
        pieces.append((_chinese(number) if style > 0.9 else str(number)) + rng.choice(("号楼", "号楼", "栋", "幢")))
        pieces.append((_chinese(entrance) if style > 0.9 else str(entrance)) + "单元")
        pieces.append(room + ("网点" if shop else rng.choice(("室", "室", "", "户"))))
    text = rng.choice(("", "", " ")).join(pieces)
    if not full and rng.random() < 0.15:
        text = text.translate({ord(d): chr(0xFF10 + int(d)) for d in "0123456789"})
    return text


@dataclass
class Faults:
    """What the reference API does wrong on purpose: answer 503 after `fail_after` pages."""

    fail_after: int | None = None
    served: int = 0


@dataclass
class UtilityData:
    """One utility's records as its systems hold them (plain JSON values), kept in order."""

    utility: Utility
    accounts: list[dict[str, Any]] = field(default_factory=list)
    bills: list[dict[str, Any]] = field(default_factory=list)
    outages: list[dict[str, Any]] = field(default_factory=list)
    latest: dt.datetime = dt.datetime(2000, 1, 1, tzinfo=CHINA)
    """The newest `updated` of any record: changes are stamped after it."""
    houses: list[tuple[Place, tuple[Place, ...]]] = field(default_factory=list, repr=False)
    """The houses the accounts are for, with their lineage (city … entrance)."""
    _ordered: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def ordered(self, name: str) -> tuple[list[tuple[dt.datetime, str]], list[dict[str, Any]]]:
        """The stream's records in (updated, key) order with their sort keys, sorted once per
        state of the data (its size and newest stamp) rather than once per page."""
        records = self.stream(name)
        state = (len(records), self.latest)
        cached = self._ordered.get(name)
        if cached is None or cached[0] != state:
            pairs = sorted(((moment(r["updated"]), record_key(name, r)), index) for index, r in enumerate(records))
            cached = (state, [key for key, _ in pairs], [records[index] for _, index in pairs])
            self._ordered[name] = cached
        return cached[1], cached[2]

    def stream(self, name: str) -> list[dict[str, Any]]:
        if name not in STREAMS:
            raise KeyError(name)
        records: list[dict[str, Any]] = getattr(self, name)
        return records

    @property
    def total(self) -> int:
        return len(self.accounts) + len(self.bills) + len(self.outages)

    def _touch(self, at: dt.datetime | None) -> str:
        moment_ = max(at or self.latest, self.latest) + dt.timedelta(seconds=1)
        self.latest = moment_
        return _stamp(moment_)

    def _put(self, stream: str, record: dict[str, Any]) -> None:
        """Insert or replace by key (a utility's table: one row per key, its newest state)."""
        records = self.stream(stream)
        key = record_key(stream, record)
        for index, old in enumerate(records):
            if record_key(stream, old) == key:
                records[index] = record
                return
        records.append(record)

    def change(self, fraction: float = 0.05, seed: int = 1, at: dt.datetime | None = None) -> int:
        """Payments and corrections on a `fraction` of accounts, newer than anything before;
        returns how many records changed."""
        rng = random.Random(seed)
        chosen = rng.sample(self.accounts, max(1, round(len(self.accounts) * fraction)))
        changed = 0
        for account in chosen:
            mine = [b for b in self.bills if b["account_no"] == account["account_no"]]
            if not mine:
                continue
            unpaid = [b for b in mine if fen_of(b["paid"]) < fen_of(b["amount"])]
            bill = dict(unpaid[0] if unpaid else mine[-1])
            if unpaid:
                bill["paid"] = bill["amount"]  # paid at the counter (缴费)
            else:
                bill["amount"] = yuan_text(fen_of(bill["amount"]) + 150)  # a meter reading corrected
            bill["updated"] = self._touch(at)
            self._put("bills", bill)
            changed += 1
        return changed

    def add_bad(self, at: dt.datetime | None = None) -> dict[str, Reason]:
        """Records the hub must set aside, with the reason expected for each key."""
        expected: dict[str, Reason] = {}
        utility = self.utility.value

        def add(stream: str, record: dict[str, Any], reason: Reason) -> None:
            record = {"utility": utility, **record, "updated": self._touch(at)}
            self._put(stream, record)
            expected[record_key(stream, record)] = reason

        house, lineage = self.houses[0]
        by_level = {place.level: place for place in lineage}
        district = by_level[Level.DISTRICT].name
        add("accounts", {"account_no": "BAD-NOESTATE", "address": f"青岛市{district}不存在花园3号楼1单元101室"}, Reason.UNMATCHED_ADDRESS)
        add("accounts", {"account_no": "BAD-NOBUILDING", "address": f"{district}{by_level[Level.ESTATE].name}1单元101室"}, Reason.UNMATCHED_ADDRESS)
        add("accounts", {"account_no": "BAD-CODE", "bdcdyh": "3702020010"}, Reason.MALFORMED_CODE)
        add("accounts", {"account_no": "BAD-UNKNOWN", "bdcdyh": by_level[Level.BUILDING].code + "9999"}, Reason.UNKNOWN_PLACE)
        add("bills", {"account_no": "NO-SUCH-ACCOUNT", "period": "2024-01", "amount": "10.00", "paid": "0.00", "due": "2024-02-15"}, Reason.UNKNOWN_PLACE)
        add("bills", {"account_no": self.accounts[0]["account_no"], "period": "2024-13", "amount": "10.00", "paid": "0.00", "due": "2025-01-15"}, Reason.SCHEMA_MISMATCH)
        add("outages", {"notice_id": "BAD-NOTICE", "addresses": [f"{district}不存在花园"], "starts": "2024-06-01T08:00:00+08:00", "reason": "检修"}, Reason.UNMATCHED_ADDRESS)
        return expected


async def _houses(store: Store, rng: random.Random, wanted: int | None) -> list[tuple[Place, tuple[Place, ...]]]:
    houses: list[Place] = []
    after: str | None = None
    while True:
        page = await store.subtree(Level.HOUSE, None, EVERYTHING, MAX_PAGE, after)
        houses.extend(p for p in page.items if p.usage is not Usage.PARKING)
        if not page.has_next:
            break
        after = page.end_cursor
    if wanted is not None and wanted < len(houses):
        houses = sorted(rng.sample(houses, wanted), key=lambda place: place.code)
    found: list[tuple[Place, tuple[Place, ...]]] = []
    for start in range(0, len(houses), MAX_PAGE):
        chunk = houses[start : start + MAX_PAGE]
        for house, line in zip(chunk, await store.ancestors([h.code for h in chunk], EVERYTHING)):
            found.append((house, tuple(line)))
    return found


def _periods(today: dt.date, months: int) -> list[str]:
    year, month = today.year, today.month
    periods: list[str] = []
    for _ in range(months):
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        periods.append(f"{year:04d}-{month:02d}")
    return periods[::-1]


def _next_month(period: str, day: int) -> dt.date:
    year, month = map(int, period.split("-"))
    return dt.date(year + month // 12, month % 12 + 1, day)


async def build_dataset(
    store: Store,
    *,
    utility: Utility,
    seed: int = 11,
    houses: int | None = None,
    months: int = 12,
    awkward: int = 3,
    today: dt.date | None = None,
) -> UtilityData:
    """A utility's records for the demo city in `store` (see the module docstring).

    `houses` samples that many houses (all when None); `months` of bills end last month;
    `awkward` accounts have addresses the hub must not guess (0 for a clean source). Every
    address-only account of the clean part is checked against the matcher as it is made, and
    rendered in full when a terse form would be ambiguous, so a clean source dead-letters
    nothing.
    """
    rng = random.Random(f"{seed}-{utility.value}")
    day = today or beijing_today()
    data = UtilityData(utility)
    data.houses = await _houses(store, rng, houses)
    matcher = Matcher(store)
    periods = _periods(day, months)
    low, high = _RATE[utility]
    opened = dt.datetime.combine(day - dt.timedelta(days=31 * months + 400), dt.time(9), CHINA)
    last_updated = opened
    for index, (house, lineage) in enumerate(data.houses):
        number = f"{_PREFIX[utility]}{370200_0000 + index * 7 + rng.randint(0, 6):010d}"
        account: dict[str, Any] = {"account_no": number, "utility": utility.value, "updated": _stamp(opened + dt.timedelta(minutes=index))}
        if rng.random() < 0.2:
            text = postal_address(lineage, house, rng)
            if (await matcher.match(text)).house_code != house.code:
                text = postal_address(lineage, house, rng, full=True)
            if (await matcher.match(text)).house_code == house.code:
                account["address"] = text
            else:
                account["bdcdyh"] = house.code
        else:
            account["bdcdyh"] = house.code
        data.accounts.append(account)
        arrears = rng.random() < 0.05
        owed_from = len(periods) - rng.randint(1, min(4, len(periods)))
        area = house.area_centi_m2 or 8000  # hundredths of a m²
        for position, period in enumerate(periods):
            month = int(period[5:])
            if utility is Utility.HEATING:
                if month not in (11, 12, 1, 2, 3):
                    continue
                # 25 元/m² a season, in five bills: 500 fen a m², 5 fen a hundredth of a m²
                amount = area * 5
            else:  # a random charge, drawn and then kept in whole fen
                amount = round(rng.uniform(low, high) * (1.3 if month in (1, 2, 7, 8) else 1.0) * 100)
            issued = dt.datetime.combine(_next_month(period, 1), dt.time(9), CHINA)
            due = _next_month(period, 25)
            unpaid = arrears and position >= owed_from and due < day
            paid = 0 if unpaid else amount
            if not unpaid and rng.random() < 0.01:
                paid = amount // 2  # half paid (and so in arrears once overdue)
            updated = issued + dt.timedelta(days=rng.randint(0, 20) if paid else 0, minutes=index % 600)
            updated = min(updated, dt.datetime.combine(day, dt.time(0), CHINA))
            last_updated = max(last_updated, updated)
            data.bills.append(
                {"account_no": number, "utility": utility.value, "period": period, "amount": yuan_text(amount), "paid": yuan_text(paid), "due": due.isoformat(), "updated": _stamp(updated)}
            )
    estates = sorted({(line[4].code, line[4].name, line[3].name, line[1].name) for _, line in data.houses if len(line) > 4})
    buildings = sorted({(line[5].code, line[4].name, line[5].name, line[1].name) for _, line in data.houses if len(line) > 5})
    for index in range(min(6, len(estates))):
        starts = dt.datetime.combine(day + dt.timedelta(days=rng.randint(-40, 10)), dt.time(rng.choice((8, 9, 13, 22))), CHINA)
        ends = starts + dt.timedelta(hours=rng.choice((4, 6, 8, 12))) if index != 2 else None
        notice: dict[str, Any] = {
            "notice_id": f"{_PREFIX[utility]}-TZ-{day.year}-{index + 1:04d}",
            "utility": utility.value,
            "starts": _stamp(starts),
            "ends": _stamp(ends) if ends else None,
            "reason": rng.choice(_REASONS[utility]),
            "planned": index % 3 != 2,
            "updated": _stamp(min(starts - dt.timedelta(days=2), dt.datetime.combine(day, dt.time(0), CHINA))),
        }
        code, estate, community, district = estates[(index * 7) % len(estates)]
        if index % 2 == 0:
            notice["place_codes"] = [code]
        else:
            building = next((b for b in buildings if b[1] == estate), None)
            text = f"{district}{community}{estate}" + (building[2] if building else "")
            notice["addresses"] = [text] if (await matcher.match(text)).complete else []
            if not notice["addresses"]:
                notice["place_codes"] = [code]
        data.outages.append(notice)
        last_updated = max(last_updated, moment(notice["updated"]))
    for stream in STREAMS:
        data.stream(stream).sort(key=lambda r: (moment(r["updated"]), record_key(stream, r)))
    data.latest = max([last_updated] + [moment(r["updated"]) for r in data.accounts])
    for index in range(min(awkward, len(data.houses))):
        _, lineage = data.houses[index]
        by_level = {place.level: place for place in lineage}
        texts = (
            f"{by_level[Level.DISTRICT].name}{by_level[Level.ESTATE].name[:-1]}园{by_level[Level.BUILDING].name}1单元101室",
            f"{by_level[Level.DISTRICT].name}{by_level[Level.ESTATE].name}101室",
            f"{by_level[Level.ESTATE].name}{by_level[Level.BUILDING].name}9901室",
        )
        data.accounts.append(
            {"account_no": f"{_PREFIX[utility]}-AWK-{index}", "utility": utility.value, "address": texts[index % 3], "updated": data._touch(None)}
        )
    return data


# -- the HTTP API --------------------------------------------------------------------------------


def _token(updated: str, key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([updated, key]).encode()).decode().rstrip("=")


def _untoken(token: str) -> tuple[str, str]:
    padded = token + "=" * (-len(token) % 4)
    updated, key = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    return str(updated), str(key)


def utility_app(data: UtilityData, *, token: str, header: str = "Authorization", faults: Faults | None = None) -> Starlette:
    """The utility's API over `data` (read live, so `change()` shows on the next request)."""
    expected = f"Bearer {token}" if header.lower() == "authorization" else token
    faults = faults or Faults()

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True, "utility": data.utility.value})

    async def listing(request: Request) -> JSONResponse:
        if request.headers.get(header) != expected:
            return JSONResponse({"error": "invalid or missing token"}, status_code=401)
        stream = request.path_params["stream"]
        if stream not in STREAMS:
            return JSONResponse({"error": f"no stream {stream!r}; use one of {', '.join(STREAMS)}"}, status_code=404)
        if faults.fail_after is not None and faults.served >= faults.fail_after:
            return JSONResponse({"error": "service unavailable"}, status_code=503)
        faults.served += 1
        params = request.query_params
        try:
            limit = int(params.get("limit", "200"))
            if not 1 <= limit <= 1000:
                raise ValueError
        except ValueError:
            return JSONResponse({"error": "limit must be 1..1000"}, status_code=400)
        try:
            if params.get("page_token"):
                after_updated, after_key = _untoken(params["page_token"])
            else:
                after_updated, after_key = params.get("updated_after", ""), params.get("after_key", "")
            position = (moment(after_updated), after_key) if after_updated else None
        except (ValueError, TypeError):
            return JSONResponse({"error": "page_token or updated_after is not readable"}, status_code=400)
        keys, ordered = data.ordered(stream)
        start = bisect.bisect_right(keys, position) if position is not None else 0
        page = ordered[start : start + limit]
        more = start + limit < len(ordered)
        last = page[-1] if page else None
        next_token = _token(last["updated"], record_key(stream, last)) if more and last else None
        return JSONResponse({"items": page, "next_page_token": next_token})

    return Starlette(routes=[Route("/v1/health", health), Route("/v1/{stream}", listing)])


# -- the CSV drop ----------------------------------------------------------------------------------

COLUMNS: dict[str, tuple[str, ...]] = {
    "accounts": ("account_no", "utility", "bdcdyh", "address", "updated"),
    "bills": ("account_no", "utility", "period", "amount", "paid", "due", "updated"),
    "outages": ("notice_id", "utility", "place_codes", "addresses", "starts", "ends", "reason", "planned", "updated"),
}
ENCODINGS = {"accounts": "utf-8-sig", "bills": "utf-8", "outages": "gbk"}
"""What the reference utility writes each file in: Excel's BOM, plain UTF-8, a Windows export."""


def write_drop(
    data: UtilityData, folder: Path, *, suffix: str = "", updated_after: dt.datetime | None = None, age_seconds: float = 60.0
) -> list[Path]:
    """Write the records (those updated after `updated_after`, or all) as the utility drops them:
    `accounts{suffix}.csv`, `bills{suffix}.csv`, `outages{suffix}.csv`, finished `age_seconds`
    ago (so a reader does not take them for files still being written)."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    stamp = dt.datetime.now().timestamp() - age_seconds
    for offset, stream in enumerate(STREAMS):
        rows = [r for r in data.stream(stream) if updated_after is None or moment(r["updated"]) > updated_after]
        if not rows and suffix:
            continue
        path = folder / f"{stream}{suffix}.csv"
        with path.open("w", encoding=ENCODINGS[stream], newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS[stream])
            for row in rows:
                writer.writerow([_cell(row.get(name)) for name in COLUMNS[stream]])
        os.utime(path, (stamp + offset, stamp + offset))
        written.append(path)
    return written


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return ";".join(str(item) for item in value)
    return str(value)


__all__ = ["Faults", "KEYS", "UtilityData", "build_dataset", "postal_address", "utility_app", "write_drop"]
