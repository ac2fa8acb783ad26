"""The field checks of `graph.funds.records.FundStore` that need no stored data: what a new
project, a finish, a journal's sizes and its folded rows must look like (the rules the port's
docstrings state). Plain Python, no SQL: any adapter can call them before it writes, so every
backend refuses the same input with the same field named. Each raises `InvalidInput` naming
where (`project P1`, `apply_fund <estate>`) and the field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from graph.errors import InvalidInput
from graph.funds.records import FundAccount, FundYear, ProjectStatus, RepairProject, RevenueYear
from graph.votes.checks import check_count, check_time

PROJECT_ID_LIMIT = 64
"""The longest project id: 1–64 printable characters, no spaces."""
FUND, REVENUE = "fund", "revenue"
"""The journals whose folded rows the port keeps: `fund:<estate>` and `revenue:<estate>`."""


def journal_of(log: str) -> tuple[str, str] | None:
    """(`fund` or `revenue`, estate code) for a journal's log name; None for any other log."""
    journal, colon, estate = log.partition(":")
    if colon and journal in (FUND, REVENUE) and estate:
        return journal, estate
    return None


def check_project_id(project_id: object) -> str:
    if (
        not isinstance(project_id, str)
        or not 1 <= len(project_id) <= PROJECT_ID_LIMIT
        or any(ch.isspace() or not ch.isprintable() for ch in project_id)
    ):
        raise InvalidInput("project id", project_id, f"must be 1 to {PROJECT_ID_LIMIT} printable characters without spaces")
    return project_id


def check_new_project(project: RepairProject) -> None:
    """A project as `save_project` takes it: a valid id, APPROVED at version 1 with none of
    the completion figures, raised at an aware time, a budget of 0 fen or more."""
    check_project_id(project.id)
    where = f"project {project.id}"
    if project.status is not ProjectStatus.APPROVED:
        raise InvalidInput(f"{where} status", project.status, "must be approved for a new project")
    if project.version != 1:
        raise InvalidInput(f"{where} version", project.version, "must be 1 for a new project")
    for name in ("cost_fen", "completed_at", "first_index", "debit_entries"):
        value = getattr(project, name)
        if value is not None:
            raise InvalidInput(f"{where} {name}", value, "must be empty for a new project (finish_project sets it)")
    check_time(project.raised_at, f"{where} raised_at")
    check_count(project.budget_fen, f"{where} budget_fen")


def check_finish(
    project_id: str,
    status: ProjectStatus,
    at: dt.datetime,
    cost_fen: int | None,
    first_index: int | None,
    debit_entries: int | None,
) -> None:
    """COMPLETED with its three figures (each 0 or more), CANCELLED with none; at an aware time."""
    where = f"project {project_id}"
    figures = {"cost_fen": cost_fen, "first_index": first_index, "debit_entries": debit_entries}
    if status is ProjectStatus.COMPLETED:
        for name, value in figures.items():
            if value is None:
                raise InvalidInput(f"{where} {name}", value, "must be given to complete a project")
            check_count(value, f"{where} {name}")
    elif status is ProjectStatus.CANCELLED:
        for name, value in figures.items():
            if value is not None:
                raise InvalidInput(f"{where} {name}", value, "must be empty to cancel a project")
    else:
        raise InvalidInput(f"{where} status", status, "must be completed or cancelled")
    check_time(at, f"{where} completed_at")


def check_sizes(where: str, from_size: int, to_size: int) -> None:
    check_count(from_size, f"{where} from_size")
    check_count(to_size, f"{where} to_size")
    if to_size < from_size:
        raise InvalidInput(f"{where} to_size", to_size, f"must not be under from_size ({from_size})")


def check_accounts(where: str, estate: str, accounts: Sequence[FundAccount]) -> None:
    """Each account of `estate`, a house once, its counts 0 or more, its time aware (that the
    house is stored under the estate is the adapter's to check)."""
    houses: set[str] = set()
    for index, account in enumerate(accounts):
        field = f"{where} accounts[{index}]"
        if account.estate != estate:
            raise InvalidInput(f"{field}.estate", account.estate, f"is not {estate}")
        if account.house in houses:
            raise InvalidInput(f"{field}.house", account.house, "is given twice")
        houses.add(account.house)
        check_count(account.first_deposit_fen, f"{field}.first_deposit_fen")
        check_count(account.entries, f"{field}.entries")
        check_count(account.last_index, f"{field}.last_index")
        check_time(account.last_at, f"{field}.last_at")


def check_years(where: str, estate: str, years: Sequence[FundYear | RevenueYear]) -> None:
    """Each row of `estate`, a year (1–9999) once."""
    seen: set[int] = set()
    for index, row in enumerate(years):
        field = f"{where} years[{index}]"
        if row.estate != estate:
            raise InvalidInput(f"{field}.estate", row.estate, f"is not {estate}")
        if isinstance(row.year, bool) or not isinstance(row.year, int) or not 1 <= row.year <= 9999:
            raise InvalidInput(f"{field}.year", row.year, "must be a year from 1 to 9999")
        if row.year in seen:
            raise InvalidInput(f"{field}.year", row.year, "is given twice")
        seen.add(row.year)
