"""An estate's fund statement (收支公示) written out: amounts in yuan from integer fen, exactly.

`yuan(fen)` writes ¥1,234.56 style text with no float anywhere; `statement_text` the plain text
`hub ledger statement` prints; `statement_rows` the CSV rows served over GET (one header, then
one row per figure and per project), so a spreadsheet opens what the page shows.
"""

from __future__ import annotations

from collections.abc import Iterator

from graph.funds.journal import CST, EntryKind
from graph.funds.records import Authority, RepairProject
from graph.funds.service import Statement

AUTHORITY_LABELS = {
    Authority.VOTE: "业主大会表决",
    Authority.REFERENCE: "书面授权",
    Authority.EMERGENCY: "应急使用",
}
STATUS_LABELS = {"approved": "已批准", "completed": "已完成", "cancelled": "已取消"}


def yuan(fen: int) -> str:
    """Fen as yuan text with thousands separators: 123456 → '1,234.56', -5 → '-0.05'."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def authority_text(project: RepairProject) -> str:
    """How the project is authorised, in Chinese; an emergency use says so and what it was."""
    label = AUTHORITY_LABELS[project.authority]
    if project.authority is Authority.EMERGENCY and project.emergency is not None:
        return f"{label}（{project.emergency.label}）：{project.authority_ref}"
    return f"{label}：{project.authority_ref}"


def statement_text(statement: Statement) -> str:
    lines = [
        f"{statement.estate.name} 专项维修资金收支公示 {statement.period}",
        f"期间 {statement.start.astimezone(CST):%Y-%m-%d} 至 {statement.end.astimezone(CST):%Y-%m-%d}（不含）"
        f"  账目序号 {statement.from_size}–{statement.to_size}  分户账 {statement.accounts} 户",
        "已发布：" + (f"树根 {statement.head.root.hex()}（SM2 签名）" if statement.head else "否（本期未结束或未发布）"),
    ]
    for label, value in figures(statement):
        lines.append(f"{label}：{yuan(value)} 元")
    if statement.projects:
        lines.append("维修项目：")
        for project in statement.projects:
            cost = f"实际 {yuan(project.cost_fen)} 元" if project.cost_fen is not None else "未结算"
            lines.append(
                f"  {project.id} {project.title}（{project.part}）预算 {yuan(project.budget_fen)} 元 {cost}"
                f" {STATUS_LABELS[str(project.status)]}；{authority_text(project)}"
            )
    return "\n".join(lines)


def figures(statement: Statement) -> list[tuple[str, int]]:
    """The statement's figures in the order a 公示 lists them."""
    return [
        ("期初余额", statement.opening_fen),
        ("首次缴存", statement.credits_fen[str(EntryKind.DEPOSIT)]),
        ("续筹", statement.credits_fen[str(EntryKind.TOP_UP)]),
        ("利息", statement.credits_fen[str(EntryKind.INTEREST)]),
        ("维修支出", statement.repairs_fen),
        ("期末余额", statement.closing_fen),
    ]


def statement_rows(statement: Statement) -> Iterator[list[str]]:
    """CSV rows: a header, the figures (fen, exact), then the projects."""
    yield ["estate", "period", "item", "label", "amount_fen", "detail"]
    for label, value in figures(statement):
        yield [statement.estate.code, statement.period, "figure", label, str(value), ""]
    for project in statement.projects:
        yield [
            statement.estate.code, statement.period, "project", project.title,
            str(project.cost_fen if project.cost_fen is not None else ""),
            f"{project.id}; {project.part}; 预算 {project.budget_fen}; {STATUS_LABELS[str(project.status)]}; {authority_text(project)}",
        ]
