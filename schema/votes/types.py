"""The GraphQL types of owners' votes: votes, items, electorates, results, receipts and proofs,
committees and the first owners' meeting."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import strawberry

from graph.logstore import SignedHead
from graph.merkle import head_bytes
from graph.votes import records
from graph.votes import tally as counting
from graph.votes.law import ItemClass, rule_text
from graph.votes.records import ItemForm, MeetingStepKind, VoteStatus
from graph.scope import Scope
from graph.security import Role
from graph.votes.service import HouseInVote, Receipt, Turnout, Votes, log_name
from schema.context import Info
from schema.fields import field

strawberry.enum(VoteStatus, description="公告 noticed, 投票中 open, 已结束 closed (result published), 已撤销 cancelled.")
strawberry.enum(ItemForm, description="A motion (同意/反对/弃权), an election (candidates for seats), or a choice of property firm.")
strawberry.enum(MeetingStepKind, description="The steps of an estate's first owners' meeting (首次业主大会), in their order.")


def centi_text(value: int) -> str:
    """Hundredths of a m² as exact decimal text: 8050 → "80.50"."""
    sign = "-" if value < 0 else ""
    whole, part = divmod(abs(value), 100)
    return f"{sign}{whole}.{part:02d}"


def fraction_text(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


@strawberry.type(description="Who organises a vote: the token's role and holder, and the capacity (业主委员会, 筹备组, 换届小组).")
class VoteOrganiser:
    role: str
    name: str
    capacity: str


@strawberry.type(description="A document of a vote: title, text, and a reference to its attachment.")
class VoteDocument:
    title: str
    text: str
    ref: str


@strawberry.type(description="A candidate of an election (an owner) or of a firm choice (a firm, by credit code).")
class Candidate:
    id: str
    name: str
    firm_code: str | None


@strawberry.type(description="An item (事项) of a vote, with its Civil Code Art. 278 class and the threshold it must reach.")
class VoteItem:
    number: int
    klass: int = strawberry.field(description="The class of Civil Code Art. 278 ¶1, 1 to 9.")
    class_label: str
    form: ItemForm
    title: str
    text: str
    candidates: list[Candidate]
    seats: int
    takes_effect: dt.date | None = strawberry.field(description="A firm choice: the day the chosen firm takes over.")
    rule: str = strawberry.field(description="The threshold in words (参与表决 and 同意).")

    @classmethod
    def of(cls, item: records.Item) -> VoteItem:
        klass = ItemClass(item.klass)
        return cls(
            number=item.number,
            klass=item.klass,
            class_label=klass.label,
            form=item.form,
            title=item.title,
            text=item.text,
            candidates=[Candidate(id=c.id, name=c.name, firm_code=c.firm_code) for c in item.candidates],
            seats=item.seats,
            takes_effect=item.takes_effect,
            rule=rule_text(klass),
        )


@strawberry.type(description="The electorate frozen when the vote opened (业主人数 and 专有部分面积 on the record date).")
class Electorate:
    houses: int
    heads: int
    area_centi_m2: int
    area: str = strawberry.field(description="The exclusive area in m², exact decimal text.")


@strawberry.type(description="Houses, heads (exact, e.g. \"25/2\") and exclusive area behind a choice or a turnout.")
class Tally:
    houses: int
    heads: str
    area_centi_m2: int
    area: str

    @classmethod
    def of(cls, count: counting.Count) -> Tally:
        return cls(houses=count.houses, heads=fraction_text(count.heads), area_centi_m2=count.area, area=centi_text(count.area))


@strawberry.type(description="Who has cast an item so far (their last ballots).")
class ItemTurnout:
    item: int
    houses: int
    heads: str
    area_centi_m2: int

    @classmethod
    def of(cls, row: Turnout) -> ItemTurnout:
        return cls(item=row.item, houses=row.houses, heads=fraction_text(row.heads), area_centi_m2=row.area_centi_m2)


@strawberry.type(description="A motion's choice (for, against, abstain) and what stands behind it.")
class ChoiceTally:
    choice: str
    tally: Tally


@strawberry.type(description="A candidate's votes, whether it carried the threshold and whether it was elected (or chosen).")
class CandidateTally:
    id: str
    name: str
    tally: Tally
    carried: bool
    elected: bool


@strawberry.type(description="An item's result: participation, quorum (2/3 of area and heads), whether it passed.")
class ItemResult:
    number: int
    klass: int
    form: ItemForm
    title: str
    rule: str
    quorum: bool
    passed: bool
    participation: Tally
    choices: list[ChoiceTally]
    candidates: list[CandidateTally]
    elected: list[str]
    tied: list[str] = strawberry.field(description="Candidates level at the last seat: reported, none of them elected.")
    open_seats: int

    @classmethod
    def of(cls, item: counting.ItemResult) -> ItemResult:
        return cls(
            number=item.number,
            klass=int(item.klass),
            form=item.form,
            title=item.title,
            rule=item.rule,
            quorum=item.quorum,
            passed=item.passed,
            participation=Tally.of(item.participation),
            choices=[ChoiceTally(choice=name, tally=Tally.of(count)) for name, count in item.choices.items()],
            candidates=[
                CandidateTally(id=c.id, name=c.name, tally=Tally.of(c.count), carried=c.carried, elected=c.elected)
                for c in item.candidates
            ],
            elected=list(item.elected),
            tied=list(item.tied),
            open_seats=item.open_seats,
        )


@strawberry.type(description="The result published at the close.")
class VoteResult:
    ballots: int = strawberry.field(description="Entries on the bulletin board, changed ballots included.")
    items: list[ItemResult]


@strawberry.type(description="A tree head of a Merkle log signed by the hub with SM2 (RFC 9162's structure with SM3).")
class TreeHead:
    log: str
    size: int
    root: str = strawberry.field(description="64 hex digits.")
    at: dt.datetime
    kind: str = strawberry.field(description="receipt (handed to an owner), final (the vote's close).")
    signature: str = strawberry.field(description="SM2 signature r‖s, 128 hex digits, signer id 1234567812345678.")
    public_key: str = strawberry.field(description="The hub's SM2 public key x‖y, 128 hex digits.")
    signed_text: str = strawberry.field(description="Exactly what was signed (UTF-8).")

    @classmethod
    def of(cls, head: SignedHead, public_key: str) -> TreeHead:
        return cls(
            log=head.log,
            size=head.size,
            root=head.root.hex(),
            at=head.at,
            kind=head.kind,
            signature=head.signature.hex(),
            public_key=public_key,
            signed_text=head_bytes(head.log, head.size, head.root, head.at, head.kind).decode(),
        )


@strawberry.type(description="One entry a ballot added to the bulletin board.")
class ReceiptEntry:
    item: int
    index: int
    leaf_hash: str
    payload: str = strawberry.field(description="The entry's canonical JSON, as hashed into its leaf.")


@strawberry.type(description="What an owner keeps after casting: the entries added and a signed head covering them.")
class BallotReceipt:
    vote: strawberry.ID
    house_code: str
    entries: list[ReceiptEntry]
    head: TreeHead

    @classmethod
    def of(cls, receipt: Receipt, public_key: str) -> BallotReceipt:
        return cls(
            vote=strawberry.ID(receipt.vote_id),
            house_code=receipt.house_code,
            entries=[
                ReceiptEntry(item=e.item, index=e.index, leaf_hash=e.leaf_hash.hex(), payload=e.payload.decode())
                for e in receipt.entries
            ],
            head=TreeHead.of(receipt.head, public_key),
        )


@strawberry.type(description="An item's counted choice for one house: a motion's for/against/abstain, or the candidates named.")
class CastChoice:
    item: int
    choice: str
    candidates: list[str]


@strawberry.type(description="One of your houses in a vote: what you may do and what counts now.")
class VoterHouse:
    house_code: str
    house_name: str
    area_centi_m2: int
    area: str
    via_proxy: bool = strawberry.field(description="True: you cast for it as the registered delegate.")
    cast_by: str | None = strawberry.field(description="null: not cast yet; you; co-owner or proxy (cast by another: locked for you).")
    can_cast: bool
    choices: list[CastChoice]

    @classmethod
    def of(cls, house: HouseInVote, name: str) -> VoterHouse:
        choices = []
        for number, choice in sorted(house.choices.items()):
            if isinstance(choice, tuple):
                choices.append(CastChoice(item=number, choice="candidates" if choice else "abstain", candidates=list(choice)))
            else:
                choices.append(CastChoice(item=number, choice=choice, candidates=[]))
        return cls(
            house_code=house.elector.house_code,
            house_name=name,
            area_centi_m2=house.elector.area_centi_m2,
            area=centi_text(house.elector.area_centi_m2),
            via_proxy=house.via_proxy,
            cast_by=house.cast_by,
            can_cast=house.can_cast,
            choices=choices,
        )


@strawberry.type(description="A Merkle inclusion proof (RFC 9162 §2.1.3): the path from a leaf to the root of a tree size.")
class InclusionProof:
    index: int
    size: int
    leaf_hash: str
    path: list[str]
    root: str


@strawberry.type(description="A Merkle consistency proof (RFC 9162 §2.1.4) between two sizes of one log.")
class ConsistencyProof:
    from_size: int
    to_size: int
    path: list[str]
    from_root: str
    to_root: str


@strawberry.type(description="An entry of a vote's bulletin board: tags, weight and choice, no name.")
class BulletinEntry:
    index: int
    payload: str
    leaf_hash: str
    at: dt.datetime


@strawberry.type(description="A proxy (委托): a delegate owner casts for a house on a signed authorisation.")
class Proxy:
    vote: strawberry.ID
    house_code: str
    delegate: str
    reference: str
    registered_by: str
    at: dt.datetime


@strawberry.type(description="A member of an owners' committee: the owner's id and post.")
class CommitteeMember:
    owner_id: str | None = strawberry.field(
        description="The member's owner id; null for an owner token reading another owner (owners see no other owner's id)."
    )
    post: str


@strawberry.type(description="An owners' committee (业主委员会) and its term.")
class Committee:
    id: str
    estate_code: str
    members: list[CommitteeMember]
    term_start: dt.date
    term_end: dt.date
    elected_by: str | None
    filed_on: dt.date | None = strawberry.field(description="备案 with the street recorded on this day.")

    @classmethod
    def of(cls, committee: records.Committee, *, owner: str | None = None) -> Committee:
        """`owner`: the caller's owner id when an owner token reads it (its own id alone is shown)."""
        return cls(
            id=committee.id,
            estate_code=committee.estate_code,
            members=[
                CommitteeMember(owner_id=m.owner_id if owner is None or m.owner_id == owner else None, post=m.post)
                for m in committee.members
            ],
            term_start=committee.term_start,
            term_end=committee.term_end,
            elected_by=committee.elected_by,
            filed_on=committee.filed_on,
        )


@strawberry.type(description="A step of an estate's first owners' meeting: when, who, and its particulars (JSON).")
class MeetingStep:
    estate_code: str
    kind: MeetingStepKind
    at: dt.datetime
    actor: str
    role: str
    detail: str

    @classmethod
    def of(cls, step: records.MeetingStep) -> MeetingStep:
        return cls(estate_code=step.estate_code, kind=step.kind, at=step.at, actor=step.actor, role=step.role, detail=step.detail)


@strawberry.type(description="Owners' self-government under a place: committees, votes under way, participation, days to 备案.")
class GovernanceRow:
    code: str
    name: str
    estates: int
    with_committee: int
    without_committee: int
    votes_open: int
    votes_closed: int
    participation: str | None = strawberry.field(
        description="Of the votes closed under it, the share of the electorate's area that took part in their first item, exact (e.g. \"7/10\")."
    )
    first_meetings_filed: int = strawberry.field(description="First owners' meetings that reached 备案.")
    median_days_to_filing: float | None = strawberry.field(description="Days from 筹备组成立 to 备案, the median over those meetings.")


@strawberry.type(description="A vote (表决) of owners of an estate, a building or an entrance.")
class Vote:
    record: strawberry.Private[records.Vote]

    @field(description="TPyyyymmddNNNNNN.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.record.id)

    @field(description="The vote's title.")
    def title(self) -> str:
        return self.record.title

    @field(description="The estate, building or entrance whose owners vote.")
    def place_code(self) -> str:
        return self.record.place_code

    @field(description="The place's name.")
    async def place_name(self, info: Info) -> str:
        [place] = await info.context.store.places([self.record.place_code], Scope.everything())
        return "" if place is None else place.name

    @field(description="The estate the voting place lies in.")
    def estate_code(self) -> str:
        return self.record.estate_code

    @field(description="Who organises it.")
    def organiser(self) -> VoteOrganiser:
        o = self.record.organiser
        return VoteOrganiser(role=o.role, name=o.name, capacity=o.capacity)

    @field(description="Where it stands.")
    def status(self) -> VoteStatus:
        return self.record.status

    @field(description="The day whose owners vote (股权登记日 of the electorate).")
    def record_date(self) -> dt.date:
        return self.record.record_date

    @field(description="When it was announced.")
    def notice_at(self) -> dt.datetime:
        return self.record.notice_at

    @field(description="When ballots are first taken.")
    def opens_at(self) -> dt.datetime:
        return self.record.opens_at

    @field(description="When ballots stop being taken.")
    def closes_at(self) -> dt.datetime:
        return self.record.closes_at

    @field(description="When it opened and the electorate was frozen.")
    def opened_at(self) -> dt.datetime | None:
        return self.record.opened_at

    @field(description="When it closed (or was cancelled).")
    def closed_at(self) -> dt.datetime | None:
        return self.record.closed_at

    @field(description="True for an estate's first owners' meeting (首次业主大会).")
    def first_meeting(self) -> bool:
        return self.record.first_meeting

    @field(description="Its documents.")
    def documents(self) -> list[VoteDocument]:
        return [VoteDocument(title=d.title, text=d.text, ref=d.ref) for d in self.record.documents]

    @field(description="Its items, in order.")
    def items(self) -> list[VoteItem]:
        return [VoteItem.of(item) for item in self.record.items]

    @field(description="The electorate frozen at the open; null before.")
    def electorate(self) -> Electorate | None:
        e = self.record.electorate
        if e is None:
            return None
        return Electorate(houses=e.houses, heads=e.heads, area_centi_m2=e.area_centi_m2, area=centi_text(e.area_centi_m2))

    @field(description="Per item, who has cast so far.")
    async def turnout(self, info: Info) -> list[ItemTurnout]:
        if self.record.status not in (VoteStatus.OPEN, VoteStatus.CLOSED):
            return []
        return [ItemTurnout.of(row) for row in await _votes(info).turnout(self.record)]

    @field(description="The result published at the close; null before.")
    def result(self, info: Info) -> VoteResult | None:
        found = _votes(info).result(self.record)
        if found is None:
            return None
        return VoteResult(ballots=found.ballots, items=[ItemResult.of(item) for item in found.items])

    @field(description="The signed tree heads kept for its bulletin board (kind: receipt, final), by size.")
    async def heads(self, info: Info, kind: str | None = None) -> list[TreeHead]:
        kept = await info.context.store.log_heads(log_name(self.record.id), None if kind is None else [kind])
        public = _votes(info).keys.sm2_public
        return [TreeHead.of(head, public) for head in kept]

    @field(description="Owner tokens: your houses in the electorate and what you may do; empty for other roles.")
    async def my_houses(self, info: Info) -> list[VoterHouse]:
        principal = info.context.principal
        if principal.role is not Role.OWNER:
            return []
        houses = await _votes(info).my_houses(self.record, principal.scope)
        places = await info.context.store.places([house.elector.house_code for house in houses], Scope.everything())
        return [
            VoterHouse.of(house, place.name if place is not None else house.elector.house_code)
            for house, place in zip(houses, places)
        ]


def _votes(info: Info) -> Votes:
    from schema.votes.access import votes_of

    return votes_of(info)
