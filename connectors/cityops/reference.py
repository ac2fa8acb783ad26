"""A reference 12345 / city-operations work-order feed, built from the demo city, served live.

The API (JSON over HTTP, `Authorization: Bearer <token>` on every call):

`GET /api/orders?updated_after=<ISO 8601>&after_no=<order no>&limit=<1..500>`
    Orders changed after the given point, in (updated_at, order_no) order: an order is listed
    when its `updated_at` is later than `updated_after`, or equal to it with an order number
    after `after_no`. Answers `{"orders": [...], "has_more": bool}`. Each order:

    | field | meaning |
    |---|---|
    | order_no | 工单编号, e.g. `QD1234520260302000042` |
    | channel | 来源渠道: `12345热线` or `城市运行管理服务平台` |
    | category | 诉求类型: 报修 / 投诉 / 咨询 / 建议 / 紧急 |
    | title, content | 标题, 诉求内容 (what the caller said) |
    | address | 事发地址, as the call-taker typed it (optional) |
    | house_code | 不动产单元号, when the caller gave the house (optional) |
    | place_code | a place code of the hub (an estate's), when known (optional) |
    | lng, lat | 坐标, **GCJ-02** as Chinese map SDKs give them (optional) |
    | status | 办理状态, the Chinese step: 受理 派单 签收 办理 办结 回访 归档 退单 |
    | reported_at, updated_at | 受理时间, 更新时间: ISO 8601 with offset (+08:00) |
    | deadline | 办结时限 (optional) |
    | firm_code | 承办单位: the property firm's 统一社会信用代码 once dispatched (optional) |
    | rating | 满意度 1–5 after 回访 (optional) |

`POST /api/orders/{order_no}/status` with `{"status": "签收", "note": "...", "at": ISO, "actor":
"..."}`: the hub reports a step. The same step posted again answers 200 with `"changed": false`
(idempotent); an illegal move answers 409, an unknown order 404, a bad body 400 — all with
`{"error": ...}`. Every accepted post is kept in `FeedData.received`, in order.

`FeedData.failing = True` makes every call answer 503, for outage tests and the demo.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry import shape as to_shape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.cityops.gcj02 import wgs_to_gcj
from connectors.cityops.streams import CATEGORY_LABELS, STATUSES, parse_time
from graph.cases import TRANSITIONS, CaseCategory, CaseStatus
from graph.levels import Level
from graph.model import Place
from graph.scope import Scope
from graph.store import MAX_PAGE, Store

CHINA = dt.timezone(dt.timedelta(hours=8))
START = dt.datetime(2026, 1, 5, 8, 0, tzinfo=CHINA)
"""When the reference feed's first order was taken."""

EVERYTHING = Scope.everything()

ISSUES: dict[CaseCategory, list[tuple[str, str]]] = {
    CaseCategory.REPAIR: [
        ("楼道声控灯不亮", "楼道声控灯坏了一周，晚上上下楼看不见，希望尽快维修"),
        ("电梯频繁故障", "电梯近一个月停运三次，老人上下楼困难，要求物业彻底检修"),
        ("顶楼屋面漏水", "下雨时顶楼卧室漏水严重，墙面发霉，要求维修屋面防水"),
        ("下水管道堵塞", "单元主下水管堵塞，一楼卫生间返水，请求疏通"),
        ("单元门禁损坏", "单元门禁无法刷卡，门常开，存在安全隐患"),
    ],
    CaseCategory.COMPLAINT: [
        ("夜间施工噪音扰民", "小区旁工地夜间十点后仍在施工，噪音很大，影响休息"),
        ("垃圾清运不及时", "小区垃圾桶满溢多日无人清运，异味严重"),
        ("物业乱收停车费", "物业未经业主大会同意上调地面停车费，要求说明依据"),
        ("餐饮油烟扰民", "楼下餐馆油烟直排，家里不能开窗"),
    ],
    CaseCategory.CONSULTATION: [
        ("物业费收费标准咨询", "咨询本小区物业服务收费标准及调整程序"),
        ("维修资金使用流程咨询", "咨询住宅专项维修资金申请使用的流程和所需材料"),
        ("老旧小区改造进度咨询", "咨询本小区老旧小区改造何时开工"),
    ],
    CaseCategory.SUGGESTION: [
        ("建议增设电动车充电桩", "小区电动车多，充电难，飞线充电危险，建议增设集中充电桩"),
        ("建议增加健身设施", "小区缺少老年人健身设施，建议在空地增设"),
    ],
    CaseCategory.EMERGENCY: [
        ("燃气泄漏有异味", "单元楼道内闻到明显燃气味，请求紧急处置"),
        ("外墙瓷砖脱落", "楼体外墙瓷砖脱落砸到楼下，存在安全隐患，请求紧急处置"),
    ],
}
WEIGHTS = {
    CaseCategory.REPAIR: 45,
    CaseCategory.COMPLAINT: 30,
    CaseCategory.CONSULTATION: 12,
    CaseCategory.SUGGESTION: 8,
    CaseCategory.EMERGENCY: 5,
}
PATH = [
    CaseStatus.ACCEPTED,
    CaseStatus.DISPATCHED,
    CaseStatus.SIGNED,
    CaseStatus.IN_PROGRESS,
    CaseStatus.RESOLVED,
    CaseStatus.FOLLOWED_UP,
    CaseStatus.ARCHIVED,
]
"""The usual way through the lifecycle, which the feed's orders follow."""


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(CHINA).isoformat(timespec="seconds")


@dataclass
class FeedData:
    """The feed's orders by number, what the hub posted back, and the outage switch. Shared
    between the server's thread and the test's, so every change goes through the lock."""

    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)
    failing: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def put(self, order: Mapping[str, Any]) -> None:
        """Add or replace an order as given (tests add malformed ones this way)."""
        with self.lock:
            self.orders[str(order["order_no"])] = dict(order)

    def copy(self) -> FeedData:
        with self.lock:
            return FeedData(copy.deepcopy(self.orders), copy.deepcopy(self.received), self.failing)

    def latest(self) -> dt.datetime:
        with self.lock:
            return max((parse_time(o["updated_at"]) for o in self.orders.values()), default=START)

    def change(self, count: int, seed: int, at: dt.datetime) -> int:
        """Move `count` open orders one step on (their `updated_at` becomes `at`), as the
        city's clerks do between two syncs; returns how many changed."""
        rng = random.Random(seed)
        with self.lock:
            open_orders = sorted(no for no, o in self.orders.items() if STATUSES.get(o["status"]) in PATH[:-1])
            chosen = rng.sample(open_orders, min(count, len(open_orders)))
            for no in chosen:
                order = self.orders[no]
                status = STATUSES[order["status"]]
                nxt = PATH[PATH.index(status) + 1]
                order["status"] = nxt.label
                order["updated_at"] = _iso(at)
                if nxt is CaseStatus.FOLLOWED_UP:
                    order["rating"] = rng.choice([3, 4, 5, 5, 5])
        return len(chosen)

    def page(self, after: tuple[dt.datetime, str] | None, limit: int) -> tuple[list[dict[str, Any]], bool]:
        with self.lock:
            ranked = sorted(
                ((parse_time(o["updated_at"]), no, o) for no, o in self.orders.items()),
                key=lambda item: (item[0], item[1]),
            )
            if after is not None:
                ranked = [item for item in ranked if (item[0], item[1]) > after]
            return [copy.deepcopy(o) for _, _, o in ranked[:limit]], len(ranked) > limit

    def report(self, no: str, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """Apply a status post from the hub: (HTTP status, answer)."""
        label = str(body.get("status") or "")
        status = STATUSES.get(label)
        if status is None:
            return 400, {"error": f"status {label!r} is not a step of the 12345 lifecycle"}
        try:
            at = parse_time(str(body.get("at")))
        except ValueError:
            return 400, {"error": f"at {body.get('at')!r} is not an ISO 8601 time"}
        with self.lock:
            order = self.orders.get(no)
            if order is None:
                return 404, {"error": f"no order {no}"}
            current = STATUSES[order["status"]]
            entry = {"order_no": no, "status": status.label, "note": str(body.get("note") or ""), "at": _iso(at), "actor": str(body.get("actor") or "")}
            if current is status:
                self.received.append({**entry, "changed": False})
                return 200, {"order_no": no, "status": order["status"], "updated_at": order["updated_at"], "changed": False}
            if status not in TRANSITIONS[current]:
                return 409, {"error": f"order {no} is {current.label}: it cannot go to {status.label}"}
            order["status"] = status.label
            order["updated_at"] = _iso(max(at, parse_time(order["updated_at"])))
            if status is CaseStatus.FOLLOWED_UP and isinstance(body.get("rating"), int):
                order["rating"] = body["rating"]
            self.received.append({**entry, "changed": True})
            return 200, {"order_no": no, "status": order["status"], "updated_at": order["updated_at"], "changed": True}


async def _all(store: Store, level: Level) -> list[Place]:
    found: list[Place] = []
    after = None
    while True:
        page = await store.subtree(level, None, EVERYTHING, MAX_PAGE, after)
        found += page.items
        if not page.has_next:
            return found
        after = page.end_cursor


async def build_orders(store: Store, *, seed: int = 13, count: int = 500) -> FeedData:
    """`count` orders about the estates in `store` (the demo city), a third linked by code (a
    house's 不动产单元号 or an estate code), a third by a full address rendered from the place
    tree, a third by a GCJ-02 point inside the estate; statuses spread along the lifecycle."""
    rng = random.Random(seed)
    estates = [e for e in await _all(store, Level.ESTATE) if e.geometry]
    if not estates:
        raise ValueError("the store holds no estate with an outline: load the demo city first")
    lines = dict(zip((e.code for e in estates), await store.ancestors([e.code for e in estates], EVERYTHING)))
    firms = dict(zip((e.code for e in estates), await store.managements([e.code for e in estates], None, EVERYTHING)))
    houses: dict[str, list[tuple[Place, list[Place]]]] = {}
    data = FeedData()
    categories = list(WEIGHTS)
    for number in range(1, count + 1):
        estate = rng.choice(estates)
        category = rng.choices(categories, weights=[WEIGHTS[c] for c in categories])[0]
        title, content = rng.choice(ISSUES[category])
        reported = START + dt.timedelta(minutes=37 * number + rng.randint(0, 30))
        status = rng.choice(PATH)
        steps = PATH.index(status)
        updated = reported + dt.timedelta(hours=3 * steps, minutes=rng.randint(0, 59))
        no = f"QD12345{reported.astimezone(CHINA):%Y%m%d}{number:06d}"
        admin = "".join(p.name for p in lines[estate.code])
        order: dict[str, Any] = {
            "order_no": no,
            "channel": "12345热线" if rng.random() < 0.75 else "城市运行管理服务平台",
            "category": CATEGORY_LABELS[category],
            "title": title,
            "content": "",
            "status": status.label,
            "reported_at": _iso(reported),
            "updated_at": _iso(updated),
            "deadline": _iso(reported + dt.timedelta(days=3 if category is CaseCategory.EMERGENCY else 15)),
        }
        way = number % 3
        where = f"{admin}{estate.name}"
        if way in (0, 1):
            house, chain = await _a_house(store, estate, houses, rng)
            if house is not None:
                where = f"{admin}{estate.name}" + "".join(p.name for p in chain)
            if way == 0:
                order["house_code" if house is not None else "place_code"] = house.code if house is not None else estate.code
            else:
                order["address"] = where
        else:
            order["address"] = f"{estate.name}附近"
            polygon = to_shape(estate.geometry).buffer(-1e-5)
            point = polygon.representative_point() if not polygon.is_empty else to_shape(estate.geometry).representative_point()
            lng, lat = wgs_to_gcj(point.x, point.y)
            order["lng"], order["lat"] = round(lng, 7), round(lat, 7)
        order["content"] = f"市民来电反映：{where}，{content}。"
        if steps >= 1 and firms.get(estate.code):
            order["firm_code"] = firms[estate.code][-1].firm_code
        if status in (CaseStatus.FOLLOWED_UP, CaseStatus.ARCHIVED):
            order["rating"] = rng.choice([2, 3, 4, 5, 5, 5])
        data.orders[no] = order
    return data


async def _a_house(
    store: Store, estate: Place, cache: dict[str, list[tuple[Place, list[Place]]]], rng: random.Random
) -> tuple[Place | None, list[Place]]:
    """A house of the estate with its building (and the entrance is in the house's name)."""
    found = cache.get(estate.code)
    if found is None:
        found = []
        [buildings] = await store.children([estate.code], EVERYTHING, 20)
        for building in buildings.items[:5]:
            [entrances] = await store.children([building.code], EVERYTHING, 4)
            for entrance in entrances.items[:2]:
                [homes] = await store.children([entrance.code], EVERYTHING, 6)
                found += [(home, [building, home]) for home in homes.items]
        cache[estate.code] = found
    if not found:
        return None, []
    return rng.choice(found)


def feed_app(data: FeedData, *, token: str) -> Starlette:
    """The feed over HTTP (see the module docstring); `token` is the one bearer it accepts."""

    def refused(request: Request) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {token}":
            return JSONResponse({"error": "a valid 'Authorization: Bearer <token>' header is required"}, status_code=401)
        if data.failing:
            return JSONResponse({"error": "the feed is down for maintenance"}, status_code=503)
        return None

    async def orders(request: Request) -> Response:
        if (answer := refused(request)) is not None:
            return answer
        params = request.query_params
        try:
            limit = int(params.get("limit", "100"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_PAGE:
            return JSONResponse({"error": f"limit must be a whole number from 1 to {MAX_PAGE}"}, status_code=400)
        after = None
        if params.get("updated_after"):
            try:
                after = (parse_time(params["updated_after"]), params.get("after_no", ""))
            except ValueError:
                return JSONResponse({"error": "updated_after must be an ISO 8601 time"}, status_code=400)
        found, more = data.page(after, limit)
        return JSONResponse({"orders": found, "has_more": more})

    async def status(request: Request) -> Response:
        if (answer := refused(request)) is not None:
            return answer
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return JSONResponse({"error": "the body must be a JSON object"}, status_code=400)
        code, answer_body = data.report(request.path_params["no"], body)
        return JSONResponse(answer_body, status_code=code)

    return Starlette(
        routes=[
            Route("/api/orders", orders, methods=["GET"]),
            Route("/api/orders/{no}/status", status, methods=["POST"]),
        ]
    )
