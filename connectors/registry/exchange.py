"""The tables of a 不动产登记 exchange database (交换库 / 前置库), as the connector reads them.

Registration systems publish to other government systems through an exchange database: flat
tables named with pinyin initials, one row per unit, rights holder and registration, each with
an update timestamp (gxsj, 更新时间) that the exchange job sets whenever it writes the row. The
hub reads them incrementally by (gxsj, key).

bdcdy 不动产单元 (real-estate units)
    bdcdyh 不动产单元号 (28 chars, GB/T 37346-2019; primary key) · zl 坐落 (address) ·
    jzmj 建筑面积 (m²) · ghyt 规划用途 (住宅/商业/办公/车位/其他) · szc 所在层 (floor) · gxsj
qlr 权利人 (rights holders)
    qlrid 权利人标识 (the registry's own id; primary key) · qlrmc 权利人名称 (name) ·
    zjzl 证件种类 (身份证 / 统一社会信用代码) · zjhm 证件号码 · dh 电话 · gxsj
djxx 登记信息 (registrations)
    ywh 业务号 (business number; primary key) · bdcdyh · djlx 登记类型 (首次登记 / 转移登记 /
    变更登记 / 注销登记) · djsj 登记时间 (date) · qlrid 权利人 · fe 份额 (share, 0-1] ·
    yqlrid 原权利人 (the previous holder, for transfers) · gxsj

No foreign keys: an exchange database holds what the registry exported, and a registration may
name a unit or holder that did not make it across; the connector sets such records aside.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, Date, DateTime, Float, Index, Integer, MetaData, String, Table

UNITS, HOLDERS, REGISTRATIONS = "bdcdy", "qlr", "djxx"
KEYS = {UNITS: "bdcdyh", HOLDERS: "qlrid", REGISTRATIONS: "ywh"}
"""Each table's primary key column."""

COLUMNS = {
    UNITS: ("bdcdyh", "zl", "jzmj", "ghyt", "szc", "gxsj"),
    HOLDERS: ("qlrid", "qlrmc", "zjzl", "zjhm", "dh", "gxsj"),
    REGISTRATIONS: ("ywh", "bdcdyh", "djlx", "djsj", "qlrid", "fe", "yqlrid", "gxsj"),
}
"""The columns of each table, in the order the exports (CSV headers) give them."""

FIRST, TRANSFER, CHANGE, CANCEL = "首次登记", "转移登记", "变更登记", "注销登记"
REGISTRATION_TYPES = (FIRST, TRANSFER, CHANGE, CANCEL)
PERSON_ID, CREDIT_CODE = "身份证", "统一社会信用代码"
ID_KINDS = (PERSON_ID, CREDIT_CODE)


@dataclass(frozen=True, slots=True)
class ExchangeTables:
    """The three tables, in one database schema (None: the connection's default)."""

    metadata: MetaData
    units: Table
    holders: Table
    registrations: Table

    def by_name(self, name: str) -> Table:
        return {UNITS: self.units, HOLDERS: self.holders, REGISTRATIONS: self.registrations}[name]


def exchange_tables(schema: str | None = None) -> ExchangeTables:
    metadata = MetaData(schema=schema)
    units = Table(
        UNITS,
        metadata,
        Column("bdcdyh", String(40), primary_key=True),
        Column("zl", String(300), nullable=True),
        Column("jzmj", Float, nullable=True),
        Column("ghyt", String(16), nullable=True),
        Column("szc", Integer, nullable=True),
        Column("gxsj", DateTime, nullable=False),
        Index("ix_bdcdy_gxsj", "gxsj", "bdcdyh"),
    )
    holders = Table(
        HOLDERS,
        metadata,
        Column("qlrid", String(40), primary_key=True),
        Column("qlrmc", String(200), nullable=True),
        Column("zjzl", String(16), nullable=True),
        Column("zjhm", String(40), nullable=True),
        Column("dh", String(32), nullable=True),
        Column("gxsj", DateTime, nullable=False),
        Index("ix_qlr_gxsj", "gxsj", "qlrid"),
    )
    registrations = Table(
        REGISTRATIONS,
        metadata,
        Column("ywh", String(40), primary_key=True),
        Column("bdcdyh", String(40), nullable=True),
        Column("djlx", String(16), nullable=True),
        Column("djsj", Date, nullable=True),
        Column("qlrid", String(40), nullable=True),
        Column("fe", Float, nullable=True),
        Column("yqlrid", String(40), nullable=True),
        Column("gxsj", DateTime, nullable=False),
        Index("ix_djxx_gxsj", "gxsj", "ywh"),
        Index("ix_djxx_bdcdyh", "bdcdyh"),
    )
    return ExchangeTables(metadata, units, holders, registrations)
