"""The reference evaluator: segc's meaning in plain Python, over in-memory rows.

Written from SPEC sections 2 and 3, not from the SQL emitter: it walks the IR (the checked
conditions) and decides membership row by row. Calendar arithmetic comes from dateutil and
zoneinfo, not from segc.compiler.dates. Property tests compare it with every engine.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from statistics import fmean
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from segc.compiler.ir import (
    AggFunc, Aggregate, And, CmpOp, Column, Compare, DateLit, DateRange, Entity, Field, FieldType,
    Has, InSet, IsEmpty, JsonKey, ListMatch, ListOp, Lookup, Model, Not, Or, Pred, Shift, StartOf,
    TextMatch, TextOp, Today, Trunc, TrueP, Unit,
)

Row = dict[str, Any]


def is_empty(value: Any) -> bool:
    """SPEC 2: NULL; a string blank after trimming spaces; a list without elements."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip(" ") == ""
    if isinstance(value, list):
        return not value
    return False


def _json_text(value: Any) -> str | None:
    """What a JSON key reads as text: strings as they are, other scalars as JSON writes them."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value)


class Reference:
    def __init__(self, model: Model, tables: dict[tuple[str, ...], list[Row]], today: dt.date):
        self.model = model
        self.tables = tables
        self.today = today
        self.zone = ZoneInfo(model.timezone) if model.timezone else None

    # -- rows and fields -------------------------------------------------------------------------

    def rows(self, entity: Entity) -> list[Row]:
        return self.tables[entity.table]

    def members(self, entity_name: str, pred: Pred) -> set:
        entity = self.model.entity(entity_name)
        return {row[entity.key] for row in self.rows(entity) if self.holds(entity, row, pred)}

    def value(self, entity: Entity, row: Row, field: Field) -> Any:
        src = field.source
        if isinstance(src, Column):
            return row[src.column]
        if isinstance(src, JsonKey):
            doc = row[src.column]
            for key in src.path:
                doc = doc.get(key) if isinstance(doc, dict) else None
            return self._typed(_json_text(doc), field.type)
        if isinstance(src, Lookup):
            rel = entity.relation(src.relation)
            target = self.model.entity(rel.target)
            ref = row[rel.column]
            match = [r for r in self.rows(target) if ref is not None and r[target.key] == ref]
            return self.value(target, match[0], target.field(src.of)) if match else None
        if isinstance(src, Aggregate):
            rel = entity.relation(src.relation)
            target = self.model.entity(rel.target)
            related = [r for r in self.related(entity, row, rel.name) if self.holds(target, r, src.where)]
            if src.func is AggFunc.COUNT:
                return len(related)
            values = [v for r in related if (v := self.value(target, r, target.field(src.of))) is not None]
            if src.func is AggFunc.COUNT_DISTINCT:
                return len(set(values))
            if src.func is AggFunc.SUM:
                return sum(values, Decimal(0)) if values else 0
            if not values:
                return None
            if src.func is AggFunc.MIN:
                return min(values)
            if src.func is AggFunc.MAX:
                return max(values)
            return fmean(float(v) for v in values)
        raise TypeError(src)

    def related(self, entity: Entity, row: Row, relation: str) -> list[Row]:
        rel = entity.relation(relation)
        target = self.model.entity(rel.target)
        key = row[entity.key]
        return [r for r in self.rows(target) if key is not None and r[rel.column] == key]

    @staticmethod
    def _typed(text: str | None, ftype: FieldType) -> Any:
        if text is None:
            return None
        if ftype is FieldType.NUMBER:
            return Decimal(text)
        if ftype is FieldType.BOOLEAN:
            return {"true": True, "false": False}[text]
        if ftype is FieldType.DATE:
            return dt.date.fromisoformat(text)
        if ftype is FieldType.TIMESTAMP:
            return dt.datetime.fromisoformat(text)
        return text

    # -- dates ---------------------------------------------------------------------------------

    def day(self, value: Any) -> dt.date:
        """A date, or a timestamp's local date (timestamps are UTC; SPEC 3.1)."""
        if isinstance(value, dt.datetime):
            if self.zone is not None:
                value = value.replace(tzinfo=dt.timezone.utc).astimezone(self.zone)
            return value.date()
        return value

    def resolve(self, e) -> dt.date:
        if isinstance(e, Today):
            return self.today
        if isinstance(e, DateLit):
            return e.value
        if isinstance(e, Shift):
            base = self.resolve(e.this)
            step = relativedelta(days=e.n) if e.unit is Unit.DAY else relativedelta(months=e.n)
            return base + step
        if isinstance(e, StartOf):
            base = self.resolve(e.this)
            if e.unit is Trunc.WEEK:
                return base - dt.timedelta(days=base.isoweekday() - 1)
            if e.unit is Trunc.MONTH:
                return base.replace(day=1)
            if e.unit is Trunc.QUARTER:
                return dt.date(base.year, 3 * ((base.month - 1) // 3) + 1, 1)
            return dt.date(base.year, 1, 1)
        raise TypeError(e)

    # -- conditions ------------------------------------------------------------------------------

    def holds(self, entity: Entity, row: Row, p: Pred) -> bool:
        if isinstance(p, TrueP):
            return True
        if isinstance(p, And):
            return all(self.holds(entity, row, i) for i in p.items)
        if isinstance(p, Or):
            return any(self.holds(entity, row, i) for i in p.items)
        if isinstance(p, Not):
            return not self.holds(entity, row, p.item)
        if isinstance(p, Has):
            target = self.model.entity(entity.relation(p.relation).target)
            n = sum(1 for r in self.related(entity, row, p.relation) if self.holds(target, r, p.where))
            return all(_compare(n, op, v) for op, v in p.tests)
        field = entity.field(p.ref.field)
        v = self.value(entity, row, field)
        if isinstance(p, IsEmpty):
            return is_empty(v)
        if is_empty(v):
            return False  # every other operator is false on an empty value (`!=` and the rest included)
        if isinstance(p, Compare):
            return _compare(v, p.op, p.value)
        if isinstance(p, InSet):
            inside = any(_compare(v, CmpOp.EQ, x) for x in p.values)
            return inside != p.negated
        if isinstance(p, TextMatch):
            hay, needle = v.lower(), p.value.lower()
            hit = {TextOp.CONTAINS: needle in hay, TextOp.STARTS_WITH: hay.startswith(needle),
                   TextOp.ENDS_WITH: hay.endswith(needle)}[p.op]
            return hit != p.negated
        if isinstance(p, DateRange):
            d = self.day(v)
            inside = (p.start is None or d >= self.resolve(p.start)) and (p.end is None or d < self.resolve(p.end))
            return inside != p.negated
        if isinstance(p, ListMatch):
            have = set(v)
            if p.op is ListOp.ANY:
                return bool(have & set(p.values))
            if p.op is ListOp.ALL:
                return set(p.values) <= have
            return not have & set(p.values)
        raise TypeError(p)


def _compare(a: Any, op: CmpOp, b: Any) -> bool:
    if isinstance(a, (int, float, Decimal)) and not isinstance(a, bool):
        a, b = Decimal(str(a)), Decimal(str(b))
    return {CmpOp.EQ: a == b, CmpOp.NE: a != b, CmpOp.GT: a > b, CmpOp.GE: a >= b,
            CmpOp.LT: a < b, CmpOp.LE: a <= b}[op]
