"""DataLoaders for party building: members by organisation and by id (read unscoped: who may
see an organisation is decided before its members are asked for), claims by member (in the
caller's scope)."""

from __future__ import annotations

from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from graph.party.records import CaseClaim, PartyMember
from graph.scope import Scope
from graph.store import Store


@dataclass(frozen=True, slots=True)
class PartyLoaders:
    members_of: DataLoader[str, list[PartyMember]]
    member: DataLoader[str, PartyMember | None]
    claims_of_member: DataLoader[str, list[CaseClaim]]

    @classmethod
    def create(cls, store: Store, scope: Scope) -> PartyLoaders:
        everything = Scope.everything()

        async def load_members_of(ids: list[str]) -> list[list[PartyMember]]:
            return await store.party_members(ids, everything)

        async def load_member(ids: list[str]) -> list[PartyMember | None]:
            return await store.party_members_by_id(ids, everything)

        async def load_claims(ids: list[str]) -> list[list[CaseClaim]]:
            return await store.claims_of_members(ids, scope)

        return cls(
            members_of=DataLoader(load_fn=load_members_of),
            member=DataLoader(load_fn=load_member),
            claims_of_member=DataLoader(load_fn=load_claims),
        )
