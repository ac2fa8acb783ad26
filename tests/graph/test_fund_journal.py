"""graph.funds.journal: the maintenance-fund journal's entries (one canonical spelling each, every
malformed one refused naming the field) and the balances a journal folds to (a reversal that does
not fit named by its index)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import pytest

from graph.errors import InvalidInput
from graph.funds.journal import EntryKind, FundEntry, balances, check_entry
from graph.logstore import NewEntry

ESTATE = "370202001001E001"
H1 = "370202001001GB00001F00010001"
H2 = "370202001001GB00001F00010002"
H3 = "370202001001GB00001F00020101"
CST = dt.timezone(dt.timedelta(hours=8))
AT = dt.datetime(2026, 5, 1, 10, 0, tzinfo=CST)

GOLDEN = (
    '{"amount_fen":-12345,"at":"2026-05-01T02:00:00.000000+00:00","estate":"370202001001E001",'
    '"house":"370202001001GB00001F00010001","kind":"repair","memo":"1号楼电梯更换",'
    '"ref":"project:P-2026-007","v":1}'
).encode()


def entry(kind: EntryKind = EntryKind.DEPOSIT, amount: int = 447500, *, house: str = H1,
          ref: str | None = None, memo: str = "", at: dt.datetime = AT) -> FundEntry:
    if ref is None:
        ref = {
            EntryKind.REPAIR: "project:P-2026-007",
            EntryKind.REVERSAL: "reverses:0",
        }.get(kind, "statement:qd-fund-centre-2026-04.csv:17")
    return FundEntry(ESTATE, house, kind, amount, at, ref, memo)


def body_of(e: FundEntry) -> dict[str, Any]:
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


def test_kinds_and_labels() -> None:
    assert [k.value for k in EntryKind] == ["deposit", "top_up", "interest", "repair", "reversal"]
    assert [k.label for k in EntryKind] == ["首次缴存", "续筹", "利息", "维修支出", "冲正"]
    assert EntryKind("top_up") is EntryKind.TOP_UP
    assert f"{EntryKind.INTEREST}" == "interest"


# --- round trip and canonical bytes -------------------------------------------------------------


@pytest.mark.parametrize(
    "made",
    [
        entry(EntryKind.DEPOSIT, 447500, memo="首次缴存 89.50 m² × ¥50.00"),
        entry(EntryKind.TOP_UP, 120000, ref="statement:qd-fund-centre:2026-06:3"),
        entry(EntryKind.INTEREST, 1, ref="statement:ICBC 青岛分行:line-0042"),
        entry(EntryKind.REPAIR, -12345, memo="1号楼电梯更换"),
        entry(EntryKind.REVERSAL, 12345, ref="reverses:3", memo="冲正 项目金额有误"),
        entry(EntryKind.REVERSAL, -447500, ref="reverses:0"),
        entry(EntryKind.DEPOSIT, 2**53 - 1, at=dt.datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=dt.timezone.utc)),
    ],
    ids=["deposit", "top_up", "interest", "repair", "reversal+", "reversal-", "max"],
)
def test_round_trip_of_every_kind(made: FundEntry) -> None:
    check_entry(made)
    payload = made.payload()
    back = FundEntry.parse(payload, where="entry 7")
    assert back == made
    assert back.at.tzinfo == dt.timezone.utc and back.at == made.at
    assert back.payload() == payload
    assert made.key == made.house == H1


def test_golden_payload() -> None:
    made = entry(EntryKind.REPAIR, -12345, memo="1号楼电梯更换")
    assert made.payload() == GOLDEN
    assert FundEntry.parse(GOLDEN) == made


def test_time_is_stored_in_utc_to_the_microsecond() -> None:
    made = entry(at=dt.datetime(2026, 5, 1, 7, 59, 59, 999999, tzinfo=CST))
    assert body_of(made)["at"] == "2026-04-30T23:59:59.999999+00:00"
    assert body_of(entry(at=dt.datetime(2026, 5, 1, tzinfo=dt.timezone.utc)))["at"] == "2026-05-01T00:00:00.000000+00:00"


def test_to_new_entry() -> None:
    made = entry(EntryKind.REPAIR, -12345, memo="1号楼电梯更换")
    assert made.to_new_entry() == NewEntry(H1, GOLDEN, dt.datetime(2026, 5, 1, 2, 0, tzinfo=dt.timezone.utc))
    refused(lambda: entry(EntryKind.REPAIR, 5).to_new_entry(), "entry amount_fen")


def test_reversing_builds_the_negating_entry() -> None:
    repair = entry(EntryKind.REPAIR, -12345)
    undo = repair.reversing(3, AT, "冲正")
    assert undo == FundEntry(ESTATE, H1, EntryKind.REVERSAL, 12345, AT, "reverses:3", "冲正")
    assert undo.reverses == 3 and repair.reverses is None
    check_entry(undo)


# --- parse refusals -----------------------------------------------------------------------------


def test_parse_refuses_what_is_not_a_json_object() -> None:
    refused(lambda: FundEntry.parse(b"\xff\xfe", where="entry 4"), "entry 4 payload")
    refused(lambda: FundEntry.parse(b"{", where="entry 4"), "entry 4 payload")
    refused(lambda: FundEntry.parse(b"[1,2]", where="entry 4"), "entry 4 payload")
    refused(lambda: FundEntry.parse(b'"deposit"', where="entry 4"), "entry 4 payload")


@pytest.mark.parametrize("version", [2, 0, "1", 1.0, True, None])
def test_parse_refuses_an_unknown_version(version: Any) -> None:
    body = body_of(entry())
    body["v"] = version
    refused(lambda: FundEntry.parse(encode(body), where="entry 9"), "entry 9 v")


def test_parse_refuses_a_missing_version() -> None:
    body = body_of(entry())
    del body["v"]
    refused(lambda: FundEntry.parse(encode(body), where="entry 9"), "entry 9 v")


@pytest.mark.parametrize("name", ["estate", "house", "kind", "amount_fen", "at", "ref", "memo"])
def test_parse_refuses_a_missing_field(name: str) -> None:
    body = body_of(entry())
    del body[name]
    error = refused(lambda: FundEntry.parse(encode(body), where="entry 2"), f"entry 2 {name}")
    assert "missing" in error.rule


def test_parse_refuses_an_unknown_field() -> None:
    body = body_of(entry())
    body["owner"] = "张三"
    error = refused(lambda: FundEntry.parse(encode(body), where="entry 2"), "entry 2 owner")
    assert "not a field" in error.rule


@pytest.mark.parametrize(
    "name, value",
    [
        ("estate", 370202001001), ("house", None), ("kind", 1), ("at", 1777600800),
        ("ref", ["statement", "x", "1"]), ("memo", None), ("memo", {"text": ""}),
    ],
)
def test_parse_refuses_a_wrong_type(name: str, value: Any) -> None:
    body = body_of(entry())
    body[name] = value
    refused(lambda: FundEntry.parse(encode(body), where="entry 5"), f"entry 5 {name}")


@pytest.mark.parametrize("amount", [447500.0, 4475.5, True, False, "447500", None, [447500]])
def test_parse_refuses_money_that_is_not_an_int(amount: Any) -> None:
    body = body_of(entry())
    body["amount_fen"] = amount
    refused(lambda: FundEntry.parse(encode(body), where="entry 5"), "entry 5 amount_fen")


@pytest.mark.parametrize("spelling", [b"447500.0", b"4.475e5", b"NaN", b"Infinity"])
def test_parse_refuses_float_money_however_spelt(spelling: bytes) -> None:
    payload = entry().payload().replace(b'"amount_fen":447500', b'"amount_fen":' + spelling)
    refused(lambda: FundEntry.parse(payload, where="entry 5"), "entry 5 amount_fen")


@pytest.mark.parametrize(
    "kind, amount",
    [
        (EntryKind.DEPOSIT, 0), (EntryKind.DEPOSIT, -1), (EntryKind.TOP_UP, -500),
        (EntryKind.INTEREST, 0), (EntryKind.REPAIR, 0), (EntryKind.REPAIR, 12345),
        (EntryKind.REVERSAL, 0), (EntryKind.DEPOSIT, 2**53), (EntryKind.REPAIR, -(2**53)),
    ],
)
def test_parse_and_check_refuse_a_sign_or_size_the_kind_does_not_allow(kind: EntryKind, amount: int) -> None:
    made = entry(kind, amount)
    refused(lambda: check_entry(made, where="entry 8"), "entry 8 amount_fen")
    body = body_of(entry(kind, -1 if kind is EntryKind.REPAIR else 1))
    body["amount_fen"] = amount
    refused(lambda: FundEntry.parse(encode(body), where="entry 8"), "entry 8 amount_fen")


@pytest.mark.parametrize(
    "name, value",
    [
        ("estate", "370202001001E000"),  # estate number 000
        ("estate", "370202001001e001"),  # not the canonical spelling
        ("estate", " 370202001001E001"),
        ("house", "370202001001GB00001F0001000"),  # 27 characters
        ("house", "370202001001gb00001f00010001"),  # lower case
        ("house", "370202001001GB00001F00000001"),  # building 0
        ("house", "370202001001E001"),  # an estate's code, not a house's
        ("kind", "withdrawal"),
        ("kind", "Deposit"),
        ("at", "2026-05-01 02:00"),  # no time zone
        ("at", "yesterday"),
        ("ref", ""),
        ("ref", "x" * 121),
        ("ref", "statement:a:1\n"),  # not printable
        ("ref", "project:P-1"),  # a deposit rests on a statement line
        ("ref", "statement:qd-fund-centre"),  # no line
        ("ref", "statement::17"),  # no source
        ("memo", "x" * 201),
        ("memo", "第一行\n第二行"),
    ],
)
def test_parse_refuses_a_malformed_field(name: str, value: str) -> None:
    body = body_of(entry())
    body[name] = value
    refused(lambda: FundEntry.parse(encode(body), where="entry 6"), f"entry 6 {name}")


@pytest.mark.parametrize(
    "kind, amount, ref",
    [
        (EntryKind.REPAIR, -100, "statement:qd:17"),
        (EntryKind.REPAIR, -100, "project:"),
        (EntryKind.REVERSAL, 100, "reverses:"),
        (EntryKind.REVERSAL, 100, "reverses:-1"),
        (EntryKind.REVERSAL, 100, "reverses:03"),
        (EntryKind.REVERSAL, 100, "reverses:3 "),
        (EntryKind.REVERSAL, 100, "reverses:٣"),  # an Arabic-Indic digit
        (EntryKind.REVERSAL, 100, "project:P-1"),
        (EntryKind.INTEREST, 100, "reverses:3"),
    ],
)
def test_ref_shape_follows_the_kind(kind: EntryKind, amount: int, ref: str) -> None:
    made = entry(kind, amount, ref=ref)
    refused(lambda: check_entry(made), "entry ref")
    body = body_of(entry(kind, amount))
    body["ref"] = ref
    refused(lambda: FundEntry.parse(encode(body), where="entry 6"), "entry 6 ref")


def test_limits_are_inclusive() -> None:
    check_entry(entry(ref="statement:" + "s" * 108 + ":7"))  # 120 characters
    check_entry(entry(memo="备" * 200))
    assert len("statement:" + "s" * 108 + ":7") == 120


# --- non-canonical spellings --------------------------------------------------------------------


def test_parse_refuses_non_canonical_spellings() -> None:
    payload = entry(memo="首次缴存").payload()
    spaced = payload.replace(b'"amount_fen":', b'"amount_fen": ')
    body = body_of(entry(memo="首次缴存"))
    reordered = json.dumps(dict(reversed(list(body.items()))), ensure_ascii=False, separators=(",", ":")).encode()
    escaped = json.dumps(body, ensure_ascii=True, sort_keys=True, separators=(",", ":")).encode()
    local_time = payload.replace(b"2026-05-01T02:00:00.000000+00:00", b"2026-05-01T10:00:00.000000+08:00")
    zulu = payload.replace(b"2026-05-01T02:00:00.000000+00:00", b"2026-05-01T02:00:00Z")
    seconds = payload.replace(b"2026-05-01T02:00:00.000000+00:00", b"2026-05-01T02:00:00+00:00")
    duplicate = payload.replace(b'"amount_fen":447500', b'"amount_fen":1,"amount_fen":447500')
    trailing = payload + b"\n"
    for variant in (spaced, reordered, escaped, local_time, zulu, seconds, duplicate, trailing):
        assert variant != payload
        error = refused(lambda: FundEntry.parse(variant, where="entry 11"), "entry 11 payload")
        assert "canonical" in error.rule, variant


# --- check_entry on objects ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"estate": "370202001001E00"}, "estate"),
        ({"estate": 370202001001}, "estate"),
        ({"estate": "370202001001e001"}, "estate"),
        ({"house": "370202001001GB00001F0001000X"}, "house"),
        ({"house": "370202001001gb00001f00010001"}, "house"),
        ({"house": None}, "house"),
        ({"kind": "deposit"}, "kind"),  # a plain string, not an EntryKind
        ({"amount_fen": 447500.0}, "amount_fen"),
        ({"amount_fen": True}, "amount_fen"),
        ({"amount_fen": "447500"}, "amount_fen"),
        ({"at": dt.datetime(2026, 5, 1, 10, 0)}, "at"),  # naive
        ({"at": dt.date(2026, 5, 1)}, "at"),
        ({"at": "2026-05-01T02:00:00+00:00"}, "at"),
        ({"at": dt.datetime.min.replace(tzinfo=CST)}, "at"),  # no UTC time for it
        ({"ref": ""}, "ref"),
        ({"ref": "statement:a:1\t"}, "ref"),
        ({"ref": None}, "ref"),
        ({"memo": None}, "memo"),
        ({"memo": "m" * 201}, "memo"),
        ({"memo": "a\x00b"}, "memo"),
    ],
)
def test_check_entry_refuses_naming_the_field(changes: dict[str, Any], field: str) -> None:
    bad = dataclasses.replace(entry(), **changes)
    refused(lambda: check_entry(bad, where="entry 3"), f"entry 3 {field}")
    refused(lambda: check_entry(bad), f"entry {field}")


def test_payload_refuses_a_naive_time() -> None:
    refused(lambda: entry(at=dt.datetime(2026, 5, 1)).payload(), "at")


# --- balances -----------------------------------------------------------------------------------


def journal() -> list[tuple[int, FundEntry]]:
    """Three houses: first deposits, an interest credit, a top-up, a repair apportioned across
    them, then the repair of H2 reversed (its share was wrong) and charged again."""
    day = dt.timedelta(days=1)
    return [
        (0, entry(EntryKind.DEPOSIT, 447500, house=H1, ref="statement:c-2026-01:1")),
        (1, entry(EntryKind.DEPOSIT, 603750, house=H2, ref="statement:c-2026-01:2")),
        (2, entry(EntryKind.DEPOSIT, 512345, house=H3, ref="statement:c-2026-01:3")),
        (3, entry(EntryKind.INTEREST, 1342, house=H1, ref="statement:c-2026-06:1", at=AT + 30 * day)),
        (4, entry(EntryKind.INTEREST, 1811, house=H2, ref="statement:c-2026-06:2", at=AT + 30 * day)),
        (5, entry(EntryKind.REPAIR, -42600, house=H1, ref="project:P-7", at=AT + 40 * day)),
        (6, entry(EntryKind.REPAIR, -57401, house=H2, ref="project:P-7", at=AT + 40 * day)),
        (7, entry(EntryKind.TOP_UP, 10000, house=H3, ref="statement:c-2026-07:1", at=AT + 50 * day)),
        (8, entry(EntryKind.REVERSAL, 57401, house=H2, ref="reverses:6", at=AT + 60 * day)),
        (9, entry(EntryKind.REPAIR, -57400, house=H2, ref="project:P-7", at=AT + 60 * day)),
    ]


def test_balances_of_a_mixed_journal() -> None:
    assert balances(journal()) == {
        H1: 447500 + 1342 - 42600,  # 406242
        H2: 603750 + 1811 - 57401 + 57401 - 57400,  # 548161
        H3: 512345 + 10000,  # 522345
    }
    assert balances(journal()) == {H1: 406242, H2: 548161, H3: 522345}
    later_codes_first = [(0, entry(house=H3)), (1, entry(house=H1)), (2, entry(house=H2))]
    assert list(balances(later_codes_first)) == [H1, H2, H3]  # in code order


def test_balances_of_parsed_payloads_and_of_one_house() -> None:
    parsed = [(i, FundEntry.parse(e.payload(), where=f"entry {i}")) for i, e in journal()]
    assert balances(parsed) == {H1: 406242, H2: 548161, H3: 522345}
    assert balances((i, e) for i, e in journal() if e.key == H2) == {H2: 548161}
    assert balances([]) == {}


def test_a_reversed_deposit_may_leave_an_account_negative() -> None:
    j = [
        (0, entry(EntryKind.DEPOSIT, 1000)),
        (1, entry(EntryKind.REPAIR, -800)),
        (2, entry(EntryKind.REVERSAL, -1000, ref="reverses:0")),
    ]
    assert balances(j) == {H1: -800}


def with_reversal(ref: str, amount: int, house: str = H2) -> list[tuple[int, FundEntry]]:
    return [*journal(), (10, entry(EntryKind.REVERSAL, amount, house=house, ref=ref))]


@pytest.mark.parametrize(
    "ref, amount, house, says",
    [
        ("reverses:11", 100, H2, "earlier"),  # a later index
        ("reverses:10", 100, H2, "earlier"),  # itself
        ("reverses:5", 42600, H2, "house 370202001001GB00001F00010001"),  # H1's repair
        ("reverses:6", 57401, H2, "already reversed"),  # twice
        ("reverses:9", 57401, H2, "negate entry 9 exactly"),  # not the negation of -57400
        ("reverses:9", -57400, H2, "negate entry 9 exactly"),  # same sign
        ("reverses:8", -57401, H2, "never reversed"),  # a reversal reversed
    ],
)
def test_balances_refuse_a_reversal_that_does_not_fit(ref: str, amount: int, house: str, says: str) -> None:
    error = refused(lambda: balances(with_reversal(ref, amount, house)), "entry 10 ref")
    assert says in error.rule


def test_balances_refuse_a_reversal_of_an_entry_not_given() -> None:
    j = [(0, entry(EntryKind.DEPOSIT, 1000)), (2, entry(EntryKind.REVERSAL, -1000, ref="reverses:1"))]
    error = refused(lambda: balances(j), "entry 2 ref")
    assert "no entry" in error.rule


def test_balances_refuse_indices_out_of_order() -> None:
    j = journal()
    refused(lambda: balances([j[0], j[2], j[1]]), "entry 1 index")
    refused(lambda: balances([j[0], j[0]]), "entry 0 index")
    refused(lambda: balances([(-1, j[0][1])]), "entry -1 index")
    refused(lambda: balances([(True, j[0][1])]), "entry True index")


def test_balances_refuse_another_estate_and_bad_entries_by_index() -> None:
    j = journal()
    other = dataclasses.replace(j[3][1], estate="370202002001E001")
    refused(lambda: balances([*j[:3], (3, other)]), "entry 3 estate")
    bad = dataclasses.replace(j[4][1], amount_fen=-1811)  # a negative interest
    refused(lambda: balances([*j[:4], (4, bad)]), "entry 4 amount_fen")
