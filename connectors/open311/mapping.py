"""Cases ↔ Open311 GeoReport v2 service requests: one mapping for the hub's server and the
client that reads other servers, so what one writes the other reads back the same.

- service codes are the case categories (`repair`, `complaint`, …) with Chinese names;
- the 12345 lifecycle maps onto Open311's two statuses (`CaseStatus.closed`: resolved, followed
  up and archived are `closed`), and `status_notes` carries the Chinese step first, then the
  last note: `办理：已派维修工上门`; a reader takes the step back from there, and falls back to
  受理 (open) or 办结 (closed) for a server that writes something else;
- times are ISO 8601 (W3C) in China time, `+08:00`;
- `lat`/`long` are WGS-84, as the spec says (the hub stores WGS-84; GCJ-02 is a feed's business).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graph.cases import Case, CaseCategory, CaseStatus
from graph.clock import CHINA_STANDARD_TIME, china_time

CHINA = CHINA_STANDARD_TIME
SEPARATOR = "："


@dataclass(frozen=True, slots=True)
class Service:
    code: str
    name: str
    description: str
    category: CaseCategory


SERVICES: tuple[Service, ...] = (
    Service("repair", "报修", "房屋、设施设备损坏需要维修（楼道灯、电梯、漏水、管道等）", CaseCategory.REPAIR),
    Service("complaint", "投诉", "对物业服务、噪音、环境卫生、违规收费等的投诉", CaseCategory.COMPLAINT),
    Service("consultation", "咨询", "物业收费、维修资金、小区改造等政策咨询", CaseCategory.CONSULTATION),
    Service("suggestion", "建议", "对小区管理和城市治理的意见建议", CaseCategory.SUGGESTION),
    Service("emergency", "紧急", "燃气泄漏、电梯困人、外墙脱落等需要紧急处置的事项", CaseCategory.EMERGENCY),
)
BY_CODE = {service.code: service for service in SERVICES}
BY_CATEGORY = {service.category: service for service in SERVICES}
_KEYWORDS = {
    CaseCategory.REPAIR: ("repair", "报修", "维修", "broken", "pothole", "streetlight", "light"),
    CaseCategory.COMPLAINT: ("complaint", "投诉", "noise", "噪音"),
    CaseCategory.CONSULTATION: ("consult", "咨询", "question", "info"),
    CaseCategory.SUGGESTION: ("suggest", "建议", "idea"),
    CaseCategory.EMERGENCY: ("emergency", "紧急", "urgent", "gas"),
}
_LABELS = {status.label: status for status in CaseStatus}


def services_json() -> list[dict[str, Any]]:
    """The answer of `services.json`."""
    return [
        {
            "service_code": service.code,
            "service_name": service.name,
            "description": service.description,
            "metadata": False,
            "type": "realtime",
            "keywords": service.category.value,
            "group": "物业与城市管理",
        }
        for service in SERVICES
    ]


def format_time(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(CHINA).isoformat(timespec="seconds")


def parse_time(value: str, *, field: str) -> dt.datetime:
    """An Open311 time (W3C / ISO 8601); one without an offset is China time. ValueError names
    the field."""
    try:
        return china_time(value).astimezone(dt.timezone.utc)
    except ValueError:
        raise ValueError(f"{field} {value!r} is not a W3C datetime such as 2026-03-02T09:30:00+08:00") from None


def status_notes(case: Case, last_note: str | None) -> str:
    note = (last_note or "").strip()
    return case.status.label + (SEPARATOR + note if note else "")


def request_json(case: Case, *, agency: str | None, last_note: str | None) -> dict[str, Any]:
    """One service request as `requests.json` shows it."""
    service = BY_CATEGORY[case.category]
    return {
        "service_request_id": case.id,
        "status": "closed" if case.status.closed else "open",
        "status_notes": status_notes(case, last_note),
        "service_name": service.name,
        "service_code": service.code,
        "description": case.description or case.title,
        "agency_responsible": agency,
        "service_notice": None,
        "requested_datetime": format_time(case.reported_at),
        "updated_datetime": format_time(case.updated_at),
        "expected_datetime": format_time(case.deadline),
        "address": case.address,
        "address_id": case.place_code,
        "zipcode": None,
        "lat": case.point.lat if case.point else None,
        "long": case.point.lon if case.point else None,
        "media_url": None,
    }


def lifecycle_of(status: str | None, notes: str | None) -> CaseStatus:
    """The 12345 step of a request read from a server: the step at the head of `status_notes`
    when there is one, else 受理 for open and 办结 for closed."""
    head = (notes or "").split(SEPARATOR, 1)[0].strip()
    if head in _LABELS:
        return _LABELS[head]
    return CaseStatus.RESOLVED if (status or "").strip().lower() == "closed" else CaseStatus.ACCEPTED


def note_of(notes: str | None) -> str:
    head, _, rest = (notes or "").partition(SEPARATOR)
    return rest.strip() if head.strip() in _LABELS else (notes or "").strip()


def category_of(code: str | None, name: str | None) -> CaseCategory:
    """The category of a service: the hub's own codes exactly, others by keywords in the code
    or name; complaint (投诉, the 12345 default) when nothing fits."""
    if code and code in BY_CODE:
        return BY_CODE[code].category
    text = f"{code or ''} {name or ''}".lower()
    for category, words in _KEYWORDS.items():
        if any(word in text for word in words):
            return category
    return CaseCategory.COMPLAINT


def first_line(text: str, limit: int = 60) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def title_of(request: Mapping[str, Any]) -> str:
    name = str(request.get("service_name") or request.get("service_code") or "服务请求")
    line = first_line(str(request.get("description") or ""), 40)
    return f"{name}{SEPARATOR}{line}" if line else name
