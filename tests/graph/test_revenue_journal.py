"""graph.funds.revenue: public revenue's entries (one canonical spelling each, every malformed one
refused naming the field, each kind holding its own fields and no others) and the fold into
yearly rows and per-entry statuses (reversals and decisions checked by index, the first entry
that does not fit named)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import pytest

from graph.errors import InvalidInput
from graph.funds.records import RevenueYear
from graph.funds.revenue import (
    Disposition,
    EntryStatus,
    Party,
    RevenueEntry,
    RevenueKind,
    Source,
    check_entry,
    fold,
    owners_share,
    year_of,
)
from graph.logstore import NewEntry

ESTATE = "370202001001E001"
OTHER_ESTATE = "370202001001E002"
FIRM = "91370202MA3C5XKQ0D"  # 统一社会信用代码 with its GB 32100 check character
NEXT_FIRM = "91370203MA3D7L8P2K"
COMMITTEE = "YWH-370202001001E001-2025"
CST = dt.timezone(dt.timedelta(hours=8))
AT = dt.datetime(2026, 7, 1, 10, 0, tzinfo=CST)
DAY = dt.timedelta(days=1)

GOLDEN = (
    '{"amount_fen":1200000,"at":"2026-07-01T02:00:00.000000+00:00","by":"91370202MA3C5XKQ0D",'
    '"contract":"HT-2026-电梯广告-003","estate":"370202001001E001","kind":"income","memo":"",'
    '"period_end":"2026-06-30","period_start":"2026-01-01","source":"lift_ad","v":1}'
).encode()


def income(amount: int = 1_200_000, *, source: Source = Source.LIFT_AD, at: dt.datetime = AT,
           contract: str = "HT-2026-电梯广告-003", memo: str = "") -> RevenueEntry:
    return RevenueEntry.income(ESTATE, FIRM, at, source, contract, dt.date(2026, 1, 1), dt.date(2026, 6, 30), amount, memo)


def cost(amount: int = 60_000, *, at: dt.datetime = AT, item: str = "广告位电费") -> RevenueEntry:
    return RevenueEntry.cost(ESTATE, FIRM, at, item, amount)


def distribution(amount: int = 500_000, *, disposition: Disposition = Disposition.FUND, at: dt.datetime = AT) -> RevenueEntry:
    return RevenueEntry.distribution(ESTATE, FIRM, at, disposition, amount, "2026年上半年收益转入维修资金")


def reversal(target: int, amount: int, *, at: dt.datetime = AT, by: str = FIRM) -> RevenueEntry:
    return RevenueEntry(ESTATE, RevenueKind.REVERSAL, by, at, amount_fen=amount, target=target, memo="冲正")


def confirmation(target: int, *, at: dt.datetime = AT + DAY) -> RevenueEntry:
    return RevenueEntry.confirmation(ESTATE, COMMITTEE, at, target, "业委会2026年第7次会议确认")


def objection(target: int, *, at: dt.datetime = AT + DAY, reason: str = "合同约定每年15万元，入账金额不符") -> RevenueEntry:
    return RevenueEntry.objection(ESTATE, COMMITTEE, at, target, reason)


def one_of_each() -> list[RevenueEntry]:
    return [income(), cost(), distribution(), reversal(0, -1_200_000), confirmation(0), objection(1)]


def body_of(e: RevenueEntry) -> dict[str, Any]:
    return dict(json.loads(e.payload()))


def encode(body: dict[str, Any]) -> bytes:
    """Canonical JSON encoding of an arbitrary body (so that only the content is at fault)."""
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def refused(call: Any, field: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        call()
    assert caught.value.field == field, str(caught.value)
    return caught.value


# --- kinds ------------------------------------------------------------------------------------


def test_kinds_labels_and_parties() -> None:
    assert [k.value for k in RevenueKind] == ["income", "cost", "distribution", "reversal", "confirmation", "objection"]
    assert [k.label for k in RevenueKind] == ["收入", "成本", "分配", "冲正", "确认", "异议"]
    assert [k.party for k in RevenueKind] == [Party.FIRM] * 4 + [Party.COMMITTEE] * 2
    assert [s.label for s in Source] == ["电梯广告", "道闸广告", "公共车位停车", "公共用房出租", "场地使用", "其他"]
    assert [s.value for s in Source] == ["lift_ad", "gate_ad", "parking", "rent", "venue", "other"]
    assert [d.label for d in Disposition] == ["转入维修资金", "抵扣物业费", "分配给业主", "留存"]
    assert [d.value for d in Disposition] == ["fund", "fees", "paid_out", "kept"]
    assert [s.label for s in EntryStatus] == ["未确认", "已确认", "有异议", "已冲正"]


# --- round trip, keys and canonical bytes -------------------------------------------------------


@pytest.mark.parametrize("made", one_of_each(), ids=[k.value for k in RevenueKind])
def test_round_trip_of_every_kind(made: RevenueEntry) -> None:
    check_entry(made)
    payload = made.payload()
    back = RevenueEntry.parse(payload, where="entry 7")
    assert back == made
    assert back.at.tzinfo == dt.timezone.utc and back.at == made.at
    assert back.payload() == payload
    assert set(json.loads(payload)) == {"v", "estate", "kind", "by", "at", "memo"} | {
        RevenueKind.INCOME: {"amount_fen", "source", "contract", "period_start", "period_end"},
        RevenueKind.COST: {"amount_fen", "item"},
        RevenueKind.DISTRIBUTION: {"amount_fen", "disposition"},
        RevenueKind.REVERSAL: {"amount_fen", "target"},
        RevenueKind.CONFIRMATION: {"target"},
        RevenueKind.OBJECTION: {"target", "reason"},
    }[made.kind]


def test_golden_payload_and_new_entry() -> None:
    assert income().payload() == GOLDEN
    assert RevenueEntry.parse(GOLDEN) == income()
    assert income().to_new_entry() == NewEntry("income", GOLDEN, dt.datetime(2026, 7, 1, 2, 0, tzinfo=dt.timezone.utc))
    refused(lambda: income(0).to_new_entry(), "entry amount_fen")


def test_keys_put_everything_said_about_an_entry_under_one_key() -> None:
    assert [e.key for e in one_of_each()] == ["income", "cost", "distribution", "entry:0", "entry:0", "entry:1"]


def test_reversing_builds_the_negating_entry_by_the_firm_of_the_day() -> None:
    undo = cost(60_000).reversing(1, NEXT_FIRM, AT + DAY, "电费重复入账")
    assert undo == RevenueEntry(ESTATE, RevenueKind.REVERSAL, NEXT_FIRM, AT + DAY, amount_fen=-60_000, target=1, memo="电费重复入账")
    check_entry(undo)


def test_dates_and_times_are_written_one_way() -> None:
    made = income(at=dt.datetime(2026, 1, 1, 7, 59, 59, 999999, tzinfo=CST))
    assert body_of(made)["at"] == "2025-12-31T23:59:59.999999+00:00"
    assert body_of(made)["period_start"] == "2026-01-01"


# --- parse refusals -----------------------------------------------------------------------------


def test_parse_refuses_what_is_not_a_json_object() -> None:
    for payload in (b"\xff\xfe", b"{", b"[1,2]", b'"income"'):
        refused(lambda: RevenueEntry.parse(payload, where="entry 4"), "entry 4 payload")


@pytest.mark.parametrize("version", [2, 0, "1", 1.0, True, None])
def test_parse_refuses_an_unknown_version(version: Any) -> None:
    body = body_of(income())
    body["v"] = version
    refused(lambda: RevenueEntry.parse(encode(body), where="entry 9"), "entry 9 v")
    del body["v"]
    refused(lambda: RevenueEntry.parse(encode(body), where="entry 9"), "entry 9 v")


@pytest.mark.parametrize("made", one_of_each(), ids=[k.value for k in RevenueKind])
def test_parse_refuses_each_missing_field_of_each_kind(made: RevenueEntry) -> None:
    for name in sorted(body_of(made)):
        if name == "v":
            continue
        body = body_of(made)
        del body[name]
        error = refused(lambda: RevenueEntry.parse(encode(body), where="entry 2"), f"entry 2 {name}")
        assert "missing" in error.rule


@pytest.mark.parametrize(
    "made, name, value",
    [
        (cost(), "source", "lift_ad"),  # an income's field on a cost
        (income(), "target", 0),
        (confirmation(0), "amount_fen", 100),  # a confirmation moves no money
        (confirmation(0), "reason", "无"),
        (reversal(0, -5), "disposition", "fund"),
        (distribution(), "item", "电费"),
    ],
)
def test_parse_refuses_a_field_of_another_kind(made: RevenueEntry, name: str, value: Any) -> None:
    body = body_of(made)
    body[name] = value
    error = refused(lambda: RevenueEntry.parse(encode(body), where="entry 2"), f"entry 2 {name}")
    assert f"not a field of a {made.kind}" in error.rule


def test_parse_refuses_an_unknown_field() -> None:
    body = body_of(income())
    body["owner"] = "张三"
    error = refused(lambda: RevenueEntry.parse(encode(body), where="entry 2"), "entry 2 owner")
    assert "not a field of a revenue entry" in error.rule


@pytest.mark.parametrize(
    "made, name, value",
    [
        (income(), "estate", 370202001001), (income(), "by", None), (income(), "kind", 1),
        (income(), "at", 1782871200), (income(), "source", ["lift_ad"]), (income(), "contract", 3),
        (income(), "period_start", 20260101), (income(), "memo", None), (cost(), "item", {"text": "电费"}),
        (distribution(), "disposition", None), (objection(0), "reason", None),
        (confirmation(0), "target", "0"), (confirmation(0), "target", 0.0), (confirmation(0), "target", True),
        (reversal(0, -5), "target", None),
    ],
)
def test_parse_refuses_a_wrong_type(made: RevenueEntry, name: str, value: Any) -> None:
    body = body_of(made)
    body[name] = value
    refused(lambda: RevenueEntry.parse(encode(body), where="entry 5"), f"entry 5 {name}")


@pytest.mark.parametrize("amount", [1_200_000.0, 4475.5, True, False, "1200000", None, [1]])
def test_parse_refuses_money_that_is_not_an_int(amount: Any) -> None:
    body = body_of(income())
    body["amount_fen"] = amount
    refused(lambda: RevenueEntry.parse(encode(body), where="entry 5"), "entry 5 amount_fen")


@pytest.mark.parametrize("spelling", [b"1200000.0", b"1.2e6", b"NaN", b"Infinity"])
def test_parse_refuses_float_money_however_spelt(spelling: bytes) -> None:
    payload = GOLDEN.replace(b'"amount_fen":1200000', b'"amount_fen":' + spelling)
    refused(lambda: RevenueEntry.parse(payload, where="entry 5"), "entry 5 amount_fen")


@pytest.mark.parametrize(
    "made, amount",
    [
        (income(), 0), (income(), -1), (cost(), 0), (cost(), -60_000), (distribution(), -1),
        (income(), 2**53), (reversal(0, -5), 0), (reversal(0, -5), 5), (reversal(0, -5), -(2**53)),
    ],
)
def test_parse_and_check_refuse_a_sign_or_size_the_kind_does_not_allow(made: RevenueEntry, amount: int) -> None:
    bad = dataclasses.replace(made, amount_fen=amount)
    refused(lambda: check_entry(bad, where="entry 8"), "entry 8 amount_fen")
    body = body_of(made)
    body["amount_fen"] = amount
    refused(lambda: RevenueEntry.parse(encode(body), where="entry 8"), "entry 8 amount_fen")


@pytest.mark.parametrize(
    "made, name, value",
    [
        (income(), "estate", "370202001001E000"),  # estate number 000
        (income(), "estate", "370202001001e001"),  # not the canonical spelling
        (income(), "estate", "370202001001GB00001F00010001"),  # a house, not an estate
        (income(), "by", "91370202MA3C5XKQ0A"),  # wrong check character
        (income(), "by", "91370202ma3c5xkq0d"),  # lower case
        (income(), "by", COMMITTEE),  # the committee cannot enter income
        (confirmation(0), "by", "业委会"),  # not an id
        (confirmation(0), "by", ""),
        (income(), "kind", "withdrawal"),
        (income(), "kind", "Income"),
        (income(), "at", "2026-07-01 02:00"),  # no time zone
        (income(), "source", "billboard"),
        (income(), "source", "LIFT_AD"),
        (distribution(), "disposition", "owners"),
        (income(), "period_start", "2026-13-01"),
        (income(), "period_end", "2025-12-31"),  # before the start
        (income(), "period_end", "yesterday"),
        (income(), "contract", ""),
        (income(), "contract", "   "),
        (income(), "contract", "x" * 121),
        (income(), "contract", "HT-1\n"),
        (cost(), "item", ""),
        (objection(0), "reason", " "),
        (objection(0), "reason", "理" * 501),
        (confirmation(0), "target", -1),
        (confirmation(0), "target", 2**53),
        (income(), "memo", "x" * 201),
        (income(), "memo", "第一行\n第二行"),
    ],
)
def test_parse_refuses_a_malformed_field(made: RevenueEntry, name: str, value: Any) -> None:
    body = body_of(made)
    body[name] = value
    refused(lambda: RevenueEntry.parse(encode(body), where="entry 6"), f"entry 6 {name}")


def test_limits_are_inclusive() -> None:
    check_entry(income(contract="合" * 120, memo="备" * 200))
    check_entry(objection(0, reason="理" * 500))
    check_entry(income(2**53 - 1))
    check_entry(reversal(2**53 - 1, -(2**53 - 1)))
    check_entry(RevenueEntry.income(ESTATE, FIRM, AT, Source.RENT, "HT-9", dt.date(2026, 3, 1), dt.date(2026, 3, 1), 1))


def test_parse_refuses_non_canonical_spellings() -> None:
    body = body_of(income())
    spaced = GOLDEN.replace(b'"amount_fen":', b'"amount_fen": ')
    reordered = json.dumps(dict(reversed(list(body.items()))), ensure_ascii=False, separators=(",", ":")).encode()
    escaped = json.dumps(body, ensure_ascii=True, sort_keys=True, separators=(",", ":")).encode()
    local_time = GOLDEN.replace(b"2026-07-01T02:00:00.000000+00:00", b"2026-07-01T10:00:00.000000+08:00")
    zulu = GOLDEN.replace(b"2026-07-01T02:00:00.000000+00:00", b"2026-07-01T02:00:00Z")
    seconds = GOLDEN.replace(b"2026-07-01T02:00:00.000000+00:00", b"2026-07-01T02:00:00+00:00")
    basic_date = GOLDEN.replace(b'"period_end":"2026-06-30"', b'"period_end":"20260630"')
    duplicate = GOLDEN.replace(b'"amount_fen":1200000', b'"amount_fen":1,"amount_fen":1200000')
    trailing = GOLDEN + b"\n"
    for variant in (spaced, reordered, escaped, local_time, zulu, seconds, basic_date, duplicate, trailing):
        assert variant != GOLDEN
        error = refused(lambda: RevenueEntry.parse(variant, where="entry 11"), "entry 11 payload")
        assert "canonical" in error.rule, variant


# --- check_entry on objects ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "made, changes, field",
    [
        (income(), {"estate": "370202001001E00"}, "estate"),
        (income(), {"by": None}, "by"),
        (income(), {"kind": "income"}, "kind"),  # a plain string, not a RevenueKind
        (income(), {"source": "lift_ad"}, "source"),  # a plain string, not a Source
        (distribution(), {"disposition": "fund"}, "disposition"),
        (income(), {"amount_fen": 1_200_000.0}, "amount_fen"),
        (income(), {"amount_fen": True}, "amount_fen"),
        (income(), {"at": dt.datetime(2026, 7, 1, 10, 0)}, "at"),  # naive
        (income(), {"at": dt.date(2026, 7, 1)}, "at"),
        (income(), {"at": dt.datetime.min.replace(tzinfo=CST)}, "at"),  # no UTC time for it
        (income(), {"period_start": dt.datetime(2026, 1, 1, tzinfo=CST)}, "period_start"),  # a datetime
        (income(), {"period_end": "2026-06-30"}, "period_end"),
        (income(), {"period_end": None}, "period_end"),
        (income(), {"contract": None}, "contract"),
        (income(), {"item": "电费"}, "item"),  # not an income's field
        (income(), {"target": 0}, "target"),
        (cost(), {"source": Source.LIFT_AD}, "source"),
        (confirmation(0), {"amount_fen": 5}, "amount_fen"),
        (confirmation(0), {"reason": "无"}, "reason"),
        (confirmation(0), {"target": None}, "target"),
        (reversal(0, -5), {"target": True}, "target"),
        (objection(0), {"reason": None}, "reason"),
        (income(), {"memo": None}, "memo"),
        (income(), {"memo": "a\x00b"}, "memo"),
    ],
)
def test_check_entry_refuses_naming_the_field(made: RevenueEntry, changes: dict[str, Any], field: str) -> None:
    bad = dataclasses.replace(made, **changes)
    refused(lambda: check_entry(bad, where="entry 3"), f"entry 3 {field}")
    refused(lambda: check_entry(bad), f"entry {field}")
    refused(lambda: check_entry(bad, where=""), field)


def test_payload_refuses_a_naive_time() -> None:
    refused(lambda: income(at=dt.datetime(2026, 7, 1)).payload(), "at")


# --- the fold -----------------------------------------------------------------------------------


def journal() -> list[tuple[int, RevenueEntry]]:
    """An estate's 2026 and 2027: advertising and parking income, a cost, the committee
    confirming some, disputing one that the firm then reverses and enters again, a distribution
    into the fund; an income entered late on 2026-12-31 in UTC that is 2027 in Beijing."""
    new_year = dt.datetime(2026, 12, 31, 16, 30, tzinfo=dt.timezone.utc)  # 2027-01-01 00:30 CST
    return [
        (0, income(1_200_000)),  # confirmed at 4
        (1, income(300_000, source=Source.PARKING, contract="TC-2026-01")),  # disputed at 5, reversed at 6
        (2, cost(60_000)),  # unconfirmed
        (3, income(150_000, source=Source.GATE_AD, contract="DZ-2026")),  # confirmed at 8
        (4, confirmation(0)),
        (5, objection(1)),
        (6, reversal(1, -300_000, at=AT + 2 * DAY)),  # unconfirmed
        (7, income(30_000, source=Source.PARKING, contract="TC-2026-01", at=AT + 2 * DAY)),  # unconfirmed
        (8, confirmation(3, at=AT + 3 * DAY)),
        (9, distribution(500_000, at=AT + 30 * DAY)),  # confirmed at 11
        (10, income(80_000, source=Source.VENUE, contract="CD-2027-01", at=new_year)),  # 2027, unconfirmed
        (11, confirmation(9, at=new_year)),
    ]


def test_fold_rows_per_year_in_china_standard_time() -> None:
    folded = fold(journal())
    assert folded.estate == ESTATE
    assert folded.years == (
        RevenueYear(
            estate=ESTATE, year=2026,
            income_fen=1_200_000 + 300_000 + 150_000 - 300_000 + 30_000,  # 1,380,000
            confirmed_income_fen=1_200_000 + 150_000,  # index 1 is reversed, 7 unconfirmed
            cost_fen=60_000, distributed_fen=500_000,
            entries=7,  # 0, 1, 2, 3, 6, 7, 9: the committee's entries are not counted
            unconfirmed=3,  # 2, 6, 7
        ),
        RevenueYear(
            estate=ESTATE, year=2027, income_fen=80_000, confirmed_income_fen=0, cost_fen=0,
            distributed_fen=0, entries=1, unconfirmed=1,
        ),
    )
    assert [owners_share(row) for row in folded.years] == [1_320_000, 80_000]
    assert year_of(dt.datetime(2026, 12, 31, 16, 0, tzinfo=dt.timezone.utc)) == 2027
    assert year_of(dt.datetime(2026, 12, 31, 15, 59, 59, 999999, tzinfo=dt.timezone.utc)) == 2026


def test_fold_statuses_decisions_and_reversals() -> None:
    folded = fold(journal())
    assert dict(folded.statuses) == {
        0: EntryStatus.CONFIRMED, 1: EntryStatus.REVERSED, 2: EntryStatus.UNCONFIRMED, 3: EntryStatus.CONFIRMED,
        6: EntryStatus.UNCONFIRMED, 7: EntryStatus.UNCONFIRMED, 9: EntryStatus.CONFIRMED, 10: EntryStatus.UNCONFIRMED,
    }
    assert [folded.status(i) for i in (4, 5, 8, 11, 99)] == [None] * 5  # the committee's entries, and none
    assert dict(folded.decisions) == {0: 4, 1: 5, 3: 8, 9: 11}
    assert dict(folded.decided) == {
        0: EntryStatus.CONFIRMED, 1: EntryStatus.OBJECTED, 3: EntryStatus.CONFIRMED, 9: EntryStatus.CONFIRMED,
    }
    assert dict(folded.reversals) == {1: 6}


def test_fold_of_parsed_payloads_and_of_nothing() -> None:
    parsed = [(i, RevenueEntry.parse(e.payload(), where=f"entry {i}")) for i, e in journal()]
    assert fold(parsed) == fold(journal())
    empty = fold([])
    assert (empty.estate, empty.years, dict(empty.statuses)) == (None, (), {})


def test_a_reversal_counts_in_the_year_it_is_made_and_may_be_decided() -> None:
    later = dt.datetime(2027, 3, 1, tzinfo=CST)
    folded = fold([
        (0, income(100_000)),
        (1, confirmation(0)),
        (2, cost(40_000)),
        (3, reversal(0, -100_000, at=later)),  # the confirmed income was entered twice
        (4, reversal(2, -40_000, at=later)),
        (5, confirmation(3, at=later)),  # the committee agrees to the first reversal
        (6, objection(4, at=later)),  # and disputes the second
    ])
    y2026, y2027 = folded.years
    assert (y2026.income_fen, y2026.confirmed_income_fen, y2026.cost_fen, y2026.entries, y2026.unconfirmed) == (
        100_000, 0, 40_000, 2, 0  # both reversed: neither waits for the committee
    )
    assert (y2027.income_fen, y2027.confirmed_income_fen, y2027.cost_fen, y2027.entries, y2027.unconfirmed) == (
        -100_000, 0, -40_000, 2, 0
    )
    assert [folded.status(i) for i in (0, 2, 3, 4)] == [
        EntryStatus.REVERSED, EntryStatus.REVERSED, EntryStatus.CONFIRMED, EntryStatus.OBJECTED
    ]
    assert folded.decided[0] is EntryStatus.CONFIRMED  # decided before it was reversed


def test_an_entry_reversed_before_it_was_decided_may_still_be_decided() -> None:
    folded = fold([(0, income(5)), (1, reversal(0, -5)), (2, objection(0))])
    assert folded.status(0) is EntryStatus.REVERSED and folded.decided[0] is EntryStatus.OBJECTED


def with_entry(extra: RevenueEntry, index: int = 12) -> list[tuple[int, RevenueEntry]]:
    return [*journal(), (index, extra)]


@pytest.mark.parametrize(
    "extra, field, says",
    [
        (reversal(13, -5), "target", "earlier"),  # a later index
        (reversal(12, -5), "target", "earlier"),  # itself
        (reversal(1, -300_000), "target", "entry 6 already reversed"),  # twice
        (reversal(6, -5), "target", "a reversal is never reversed"),  # 6 is a reversal
        (reversal(4, -5), "target", "names the committee's confirmation"),  # 4 is a confirmation
        (reversal(5, -5), "target", "names the committee's objection"),
        (reversal(0, -1_200_001), "amount_fen", "negate entry 0 exactly"),
        (reversal(2, -59_999), "amount_fen", "negate entry 2 exactly"),
        (confirmation(0), "target", "entry 4 already decided (确认)"),  # confirmed twice
        (confirmation(1), "target", "entry 5 already decided (异议)"),  # a confirmation after an objection
        (objection(3), "target", "entry 8 already decided (确认)"),  # an objection after a confirmation
        (confirmation(4), "target", "names the committee's confirmation"),  # the committee's own entry
        (objection(11), "target", "names the committee's confirmation"),
        (confirmation(12), "target", "earlier"),
        (confirmation(40), "target", "earlier"),
    ],
)
def test_fold_refuses_a_target_that_does_not_fit(extra: RevenueEntry, field: str, says: str) -> None:
    error = refused(lambda: fold(with_entry(extra)), f"entry 12 {field}")
    assert says in error.rule, error.rule


def test_fold_refuses_a_target_not_given() -> None:
    j = [(0, income(5)), (2, confirmation(1))]
    error = refused(lambda: fold(j), "entry 2 target")
    assert "no entry" in error.rule
    refused(lambda: fold([(0, income(5)), (2, reversal(1, -5))]), "entry 2 target")


def test_fold_refuses_indices_out_of_order() -> None:
    j = journal()
    refused(lambda: fold([j[0], j[2], j[1]]), "entry 1 index")
    refused(lambda: fold([j[0], j[0]]), "entry 0 index")
    refused(lambda: fold([(-1, j[0][1])]), "entry -1 index")
    refused(lambda: fold([(True, j[0][1])]), "entry True index")


def test_fold_refuses_another_estate_and_bad_entries_by_index() -> None:
    j = journal()
    stray = dataclasses.replace(cost(), estate=OTHER_ESTATE)
    refused(lambda: fold([*j, (12, stray)]), "entry 12 estate")
    refused(lambda: fold([*j[:3], (3, dataclasses.replace(cost(), amount_fen=-5)), *j[4:]]), "entry 3 amount_fen")


def test_the_first_entry_that_does_not_fit_is_named_in_a_tampered_journal() -> None:
    """A verifier parses each stored payload and folds: an amount edited in entry 6 (the reversal
    no longer negates entry 1) and entry 9's bytes rewritten are both wrong; entry 6 is named."""
    payloads = [(i, e.payload()) for i, e in journal()]
    payloads[6] = (6, payloads[6][1].replace(b'"amount_fen":-300000', b'"amount_fen":-30000'))
    payloads[9] = (9, payloads[9][1].replace(b'"amount_fen":500000', b'"amount_fen": 500000'))

    def verify() -> None:
        fold((i, RevenueEntry.parse(p, where=f"entry {i}")) for i, p in payloads)

    error = refused(verify, "entry 6 amount_fen")
    assert "negate entry 1 exactly" in error.rule
    payloads[6] = (6, journal()[6][1].payload())
    refused(verify, "entry 9 payload")
