"""Lower IR predicates and segments to sqlglot expression trees.

Shapes (see ../shared/notes/performance.md):
- Every has_many relation that a query needs is pre-aggregated once, in one derived table grouped
  by the foreign key and LEFT JOINed to the entity; every aggregate field and every `has` of every
  segment in the query shares it (deduplicated by meaning).
- belongs_to lookups are LEFT JOINed once per relation path.
- Counting many segments is one pass with one conditional count per segment.

NULLs: SQL comparisons are three-valued, segc's conditions two-valued (SPEC 2). Every atom below
is FALSE or NULL where its field is empty (never TRUE), so in WHERE, AND and OR a NULL acts as
false. Only `not` needs care: `NOT COALESCE(x, FALSE)` whenever x can be NULL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import assert_never

from sqlglot import exp

from segc.compiler.ir import (
    AggFunc, Aggregate, And, CmpOp, Column, Compare, DateExpr, DateLit, DateRange, Entity,
    Field, FieldRef, FieldType, Has, InSet, IsEmpty, JsonKey, ListMatch, ListOp, Lookup, Model,
    Not, Or, Pred, Project, Relation, Scalar, Segment, Shift, StartOf, TextMatch, TextOp, Today,
    TrueP, Unit,
)
from segc.dialects.base import Dialect, LIKE_ESCAPE, dtype

_CMP = {CmpOp.EQ: exp.EQ, CmpOp.NE: exp.NEQ, CmpOp.GT: exp.GT, CmpOp.GE: exp.GTE,
        CmpOp.LT: exp.LT, CmpOp.LE: exp.LTE}
_AGG = {AggFunc.SUM: exp.Sum, AggFunc.MIN: exp.Min, AggFunc.MAX: exp.Max, AggFunc.AVG: exp.Avg}
KEY_COLUMN = "__key"


def _count_where(cond: exp.Expression) -> exp.Expression:
    """COUNT(CASE WHEN cond THEN 1 END): inside a GROUP BY, DuckDB runs it 1.3x faster than
    COUNT_IF(COALESCE(cond, FALSE)) (benchmarks/tpch_count.py), and it is 0, never NULL, for a
    group where cond never holds."""
    return exp.Count(this=exp.Case(ifs=[exp.If(this=cond, true=exp.Literal.number(1))]))


def escape_like(value: str) -> str:
    return "".join(LIKE_ESCAPE + c if c in ("%", "_", LIKE_ESCAPE) else c for c in value)


def and_(items: list[exp.Expression]) -> exp.Expression:
    if not items:
        return exp.true()
    out = _paren(items[0], exp.Or)
    for item in items[1:]:
        out = exp.And(this=out, expression=_paren(item, exp.Or))
    return out


def or_(items: list[exp.Expression]) -> exp.Expression:
    if not items:
        return exp.false()
    out = items[0]
    for item in items[1:]:
        out = exp.Or(this=out, expression=item)
    return out


def union_all(queries: list[exp.Select]) -> exp.Expression:
    out: exp.Expression = queries[0]
    for q in queries[1:]:
        out = exp.Union(this=out, expression=q, distinct=False)
    return out


def _paren(e: exp.Expression, kind: type) -> exp.Expression:
    return exp.Paren(this=e) if isinstance(e, kind) else e


@dataclass
class _AggJoin:
    """The derived table pre-aggregating one has_many relation for one frame."""

    relation: Relation
    alias: str
    inner: "Frame"
    columns: dict[tuple, tuple[str, exp.Expression]] = field(default_factory=dict)

    def column(self, key: tuple, name: str, build) -> str:
        if key not in self.columns:
            self.columns[key] = (name, build())
        return self.columns[key][0]


@dataclass
class _LookupJoin:
    relation: Relation
    frame: "Frame"
    on: exp.Expression


class Frame:
    """The FROM clause over one entity's table; joins grow as conditions name fields."""

    def __init__(self, em: "Emitter", entity: Entity, alias: str, joins: list | None = None,
                 aliases: set[str] | None = None):
        self.em = em
        self.d = em.dialect
        self.entity = entity
        # aliases of one FROM clause; relation names may contain `__`, so paths could collide
        self.aliases: set[str] = set() if aliases is None else aliases
        self.alias = self._unique(alias)
        self.joins: list[_AggJoin | _LookupJoin] = [] if joins is None else joins
        self._lookups: dict[str, Frame] = {}
        self._aggs: dict[str, _AggJoin] = {}

    def _unique(self, alias: str) -> str:
        name, n = alias, 1
        while name in self.aliases:
            n += 1
            name = f"{alias}_{n}"
        self.aliases.add(name)
        return name

    # -- columns and fields ----------------------------------------------------------------------

    def col(self, name: str) -> exp.Column:
        return self.d.column(name, self.alias)

    @property
    def key(self) -> exp.Column:
        return self.col(self.entity.key)

    @property
    def owner(self) -> exp.Expression:
        return self.col(self.entity.owner) if self.entity.owner else exp.Null()

    def field(self, name: str) -> exp.Expression:
        f = self.entity.field(name)
        src = f.source
        if isinstance(src, Column):
            return self.col(src.column)
        if isinstance(src, JsonKey):
            return self._typed(self.d.json_text(self.col(src.column), src.path), f.type)
        if isinstance(src, Lookup):
            return self.lookup(src.relation).field(src.of)
        if isinstance(src, Aggregate):
            return self._aggregate(f, src)
        assert_never(src)

    def _typed(self, text: exp.Expression, ftype: FieldType) -> exp.Expression:
        to = {FieldType.NUMBER: "DOUBLE", FieldType.BOOLEAN: "BOOLEAN", FieldType.DATE: "DATE",
              FieldType.TIMESTAMP: self.d.timestamp_type}.get(ftype)
        return exp.Cast(this=text, to=dtype(to)) if to else text

    def lookup(self, relation: str) -> "Frame":
        if relation not in self._lookups:
            rel = self.entity.relation(relation)
            target = self.em.model.entity(rel.target)
            frame = Frame(self.em, target, f"{self.alias}__{rel.name}", self.joins, self.aliases)
            on = exp.EQ(this=frame.key, expression=self.col(rel.column))
            self.joins.append(_LookupJoin(rel, frame, on))
            self._lookups[relation] = frame
        return self._lookups[relation]

    def _agg_join(self, relation: str) -> _AggJoin:
        if relation not in self._aggs:
            rel = self.entity.relation(relation)
            target = self.em.model.entity(rel.target)
            join = _AggJoin(rel, self._unique(f"{self.alias}__{rel.name}"), Frame(self.em, target, rel.target))
            self.joins.append(join)
            self._aggs[relation] = join
        return self._aggs[relation]

    def _aggregate(self, f: Field, src: Aggregate) -> exp.Expression:
        join = self._agg_join(src.relation)
        inner = join.inner

        def build() -> exp.Expression:
            cond = None if isinstance(src.where, TrueP) else inner.condition(src.where)
            if src.func is AggFunc.COUNT:
                return _count_where(cond) if cond is not None else exp.Count(this=exp.Star())
            value = inner.field(src.of)
            if cond is not None:
                value = exp.Case(ifs=[exp.If(this=cond, true=value)])
            if src.func is AggFunc.COUNT_DISTINCT:
                return exp.Count(this=exp.Distinct(expressions=[value]))
            return _AGG[src.func](this=value)

        name = join.column((src.func, src.of, src.where), f.name, build)
        out: exp.Expression = self.d.column(name, join.alias)
        if src.func in (AggFunc.COUNT, AggFunc.COUNT_DISTINCT, AggFunc.SUM):
            out = exp.Coalesce(this=out, expressions=[exp.Literal.number(0)])
        return out

    def _has_count(self, p: Has) -> exp.Expression:
        join = self._agg_join(p.relation)
        inner = join.inner

        def build() -> exp.Expression:
            if isinstance(p.where, TrueP):
                return exp.Count(this=exp.Star())
            return _count_where(inner.condition(p.where))

        name = join.column((AggFunc.COUNT, None, p.where), f"__has_{len(join.columns) + 1}", build)
        return exp.Coalesce(this=self.d.column(name, join.alias), expressions=[exp.Literal.number(0)])

    # -- the FROM clause -------------------------------------------------------------------------

    def from_(self) -> exp.Table:
        return self.em.source_table(self.entity, self.alias)

    def sql_joins(self) -> list[exp.Join]:
        out = []
        for j in self.joins:
            if isinstance(j, _LookupJoin):
                out.append(exp.Join(this=j.frame.from_(), on=j.on, side="LEFT"))
            else:
                out.append(exp.Join(this=self._agg_subquery(j), on=exp.EQ(
                    this=self.d.column(KEY_COLUMN, j.alias), expression=self.key), side="LEFT"))
        return out

    def _agg_subquery(self, j: _AggJoin) -> exp.Expression:
        inner = j.inner
        fk = inner.col(j.relation.column)
        select = [exp.Alias(this=fk, alias=self.d.identifier(KEY_COLUMN))]
        select += [exp.Alias(this=e, alias=self.d.identifier(n)) for n, e in j.columns.values()]
        q = exp.Select(expressions=select).from_(inner.from_(), copy=False)
        for join in inner.sql_joins():
            q = q.join(join, copy=False)
        q = q.group_by(fk.copy(), copy=False)
        return exp.Subquery(this=q, alias=exp.TableAlias(this=self.d.identifier(j.alias)))

    def select(self, columns: list[exp.Expression], where: exp.Expression | None = None) -> exp.Select:
        q = exp.Select(expressions=columns).from_(self.from_(), copy=False)
        for join in self.sql_joins():
            q = q.join(join, copy=False)
        if where is not None and not isinstance(where, exp.Boolean):
            q = q.where(where, copy=False)
        return q

    # -- predicates --------------------------------------------------------------------------------

    def condition(self, p: Pred) -> exp.Expression:
        return self.pred(p)[0]

    def flag(self, p: Pred) -> exp.Expression:
        """p as a value that is never NULL: for conditional counts and membership flags
        (DuckDB's COUNT_IF over only NULLs is NULL, not 0)."""
        e, nullable = self.pred(p)
        return exp.Coalesce(this=e, expressions=[exp.false()]) if nullable else e

    def pred(self, p: Pred) -> tuple[exp.Expression, bool]:
        """The SQL for p, and whether it may be NULL (on rows where p does not hold)."""
        d = self.d
        if isinstance(p, TrueP):
            return exp.true(), False
        if isinstance(p, And):
            parts = [self.pred(i) for i in p.items]
            return and_([e for e, _ in parts]), any(n for _, n in parts)
        if isinstance(p, Or):
            parts = [self.pred(i) for i in p.items]
            return or_([e for e, _ in parts]), any(n for _, n in parts)
        if isinstance(p, Not):
            inner, nullable = self.pred(p.item)
            if nullable:
                inner = exp.Coalesce(this=inner, expressions=[exp.false()])
            return exp.Not(this=exp.Paren(this=inner) if isinstance(inner, exp.Connector) else inner), False
        if isinstance(p, IsEmpty):
            return self.is_empty(p.ref), False
        if isinstance(p, Compare):
            x = self.field(p.ref.field)
            cmp = _CMP[p.op](this=x, expression=self.literal(p.value))
            if p.op is CmpOp.NE and self._ftype(p.ref).is_text:
                return and_([cmp, self.not_blank(x)]), True
            return cmp, True
        if isinstance(p, InSet):
            x = self.field(p.ref.field)
            e = exp.In(this=x, expressions=[self.literal(v) for v in p.values])
            if not p.negated:
                return e, True
            e = exp.Not(this=e)
            if self._ftype(p.ref).is_text:
                return and_([e, self.not_blank(x)]), True
            return e, True
        if isinstance(p, TextMatch):
            x = self.field(p.ref.field)
            v = escape_like(p.value)
            pattern = {TextOp.CONTAINS: f"%{v}%", TextOp.STARTS_WITH: f"{v}%", TextOp.ENDS_WITH: f"%{v}"}[p.op]
            like = d.like(x, pattern)
            if p.negated:
                return and_([exp.Not(this=like), self.not_blank(x)]), True
            return like, True
        if isinstance(p, DateRange):
            return self.date_range(p), True
        if isinstance(p, ListMatch):
            x = self.field(p.ref.field)
            if p.op is ListOp.ANY:
                return d.list_overlaps(x, p.values), True
            if p.op is ListOp.ALL:
                return d.list_contains_all(x, p.values), True
            if p.op is ListOp.NONE:
                size = exp.Coalesce(this=d.list_size(x), expressions=[exp.Literal.number(0)])
                return and_([exp.Not(this=d.list_overlaps(x, p.values)),
                             exp.GT(this=size, expression=exp.Literal.number(0))]), True
            assert_never(p.op)
        if isinstance(p, Has):
            n = self._has_count(p)
            return and_([_CMP[op](this=n.copy(), expression=exp.Literal.number(str(v))) for op, v in p.tests]), False
        assert_never(p)

    def _ftype(self, ref: FieldRef) -> FieldType:
        return self.em.model.entity(ref.entity).field(ref.field).type

    def not_blank(self, x: exp.Expression) -> exp.Expression:
        return exp.NEQ(this=self.d.trim(x.copy()), expression=exp.Literal.string(""))

    def is_empty(self, ref: FieldRef) -> exp.Expression:
        x = self.field(ref.field)
        ftype = self._ftype(ref)
        null = exp.Is(this=x, expression=exp.Null())
        if ftype.is_text:
            blank = exp.EQ(this=self.d.trim(x.copy()), expression=exp.Literal.string(""))
            return exp.Paren(this=exp.Or(this=null, expression=blank))
        if ftype is FieldType.STRING_LIST:
            size = exp.Coalesce(this=self.d.list_size(x.copy()), expressions=[exp.Literal.number(0)])
            return exp.Paren(this=exp.Or(this=null, expression=exp.EQ(this=size, expression=exp.Literal.number(0))))
        return null

    def literal(self, v: Scalar) -> exp.Expression:
        if isinstance(v, bool):
            return exp.Boolean(this=v)
        if isinstance(v, Decimal):
            return exp.Literal.number(format(v, "f"))
        return self.d.string(v)

    def date_range(self, p: DateRange) -> exp.Expression:
        x = self.field(p.ref.field)
        timestamp = self._ftype(p.ref) is FieldType.TIMESTAMP

        def bound(e: DateExpr) -> exp.Expression:
            day = self.em.date(e)
            return self.d.day_start(day, self.em.model.timezone) if timestamp else day

        lo = exp.GTE(this=x, expression=bound(p.start)) if p.start is not None else None
        hi = exp.LT(this=x.copy(), expression=bound(p.end)) if p.end is not None else None
        if not p.negated:
            return and_([c for c in (lo, hi) if c is not None])
        outside = [c for c in (
            exp.LT(this=x.copy(), expression=bound(p.start)) if p.start is not None else None,
            exp.GTE(this=x.copy(), expression=bound(p.end)) if p.end is not None else None,
        ) if c is not None]
        return exp.Paren(this=or_(outside))


class Emitter:
    """Builds every statement segc emits for one project, dialect and (optional) as-of date."""

    def __init__(self, project: Project, dialect: Dialect, as_of: dt.date | None = None,
                 today: exp.Expression | None = None, now: exp.Expression | None = None):
        self.project = project
        self.model: Model = project.model
        self.dialect = dialect
        self.as_of = as_of
        if today is not None:
            self._today = today
        elif as_of is not None:
            self._today = dialect.date_literal(as_of.isoformat())
        else:
            self._today = dialect.current_date(self.model.timezone, now)

    # -- dates -------------------------------------------------------------------------------------

    def date(self, e: DateExpr) -> exp.Expression:
        d = self.dialect
        if isinstance(e, Today):
            return self._today.copy()
        if isinstance(e, DateLit):
            return d.date_literal(e.value.isoformat())
        if isinstance(e, Shift):
            return d.add(self.date(e.this), e.n, e.unit)
        if isinstance(e, StartOf):
            return d.start_of(self.date(e.this), e.unit)
        assert_never(e)

    # -- names -------------------------------------------------------------------------------------

    def source_table(self, entity: Entity, alias: str) -> exp.Table:
        """Where an entity's rows are read; `segc dbt` reads them through {{ source() }} instead."""
        return self.dialect.table(entity.table, alias)

    def view_table(self, name: str) -> exp.Table:
        schema = tuple(self.model.target.schema.split("."))
        return self.dialect.table((*schema, name))

    def view_name(self, seg: Segment) -> str:
        return self.model.target.view_prefix + seg.id

    def frame(self, entity: str) -> Frame:
        return Frame(self, self.model.entity(entity), "t")

    # -- one segment ---------------------------------------------------------------------------

    def segment_query(self, seg: Segment) -> exp.Select:
        frame = self.frame(seg.entity)
        entity = frame.entity
        where = frame.condition(seg.condition)
        d = self.dialect
        cols: list[exp.Expression] = [frame.key]
        if entity.owner and entity.owner != entity.key:
            cols.append(frame.col(entity.owner))
        for f in entity.output_fields:
            value = frame.field(f.name)
            same_name = isinstance(f.source, Column) and f.source.column == f.name
            cols.append(value if same_name else exp.Alias(this=value, alias=d.identifier(f.name)))
        return frame.select(cols, where)

    def view(self, seg: Segment) -> exp.Expression:
        return self.dialect.create_view(self.view_table(self.view_name(seg)), self.segment_query(seg))

    def members_query(self, seg: Segment, owner: str | None = None) -> exp.Select:
        frame = self.frame(seg.entity)
        where = [frame.condition(seg.condition)]
        if owner is not None:
            where.append(self._owned_by(frame, owner))
        q = frame.select([frame.key], and_(where))
        return q.order_by(exp.Ordered(this=frame.key.copy()), copy=False)

    def _owned_by(self, frame: Frame, owner: str) -> exp.Expression:
        if not frame.entity.owner:
            return exp.false()
        return exp.EQ(this=frame.owner, expression=self.dialect.string(owner))

    # -- many segments in one pass ---------------------------------------------------------------

    def by_entity(self, segments: tuple[Segment, ...] | None = None) -> dict[str, list[Segment]]:
        out: dict[str, list[Segment]] = {}
        for seg in segments if segments is not None else self.project.segments:
            out.setdefault(seg.entity, []).append(seg)
        return out

    def count_query(self, entity: str, segments: list[Segment], owner: str | None = None) -> exp.Select:
        """One row: one conditional count per segment, over one scan with shared joins.

        With `owner`, two per segment in the same pass: the owner's members, then the whole team's.
        """
        frame = self.frame(entity)
        d = self.dialect
        # COUNT_IF skips NULL, so the bare condition counts right; an all-NULL group gives NULL,
        # which count_segments reads as 0
        counts: list[exp.Expression] = []
        for s in segments:
            cond = frame.condition(s.condition)
            if owner is not None:
                counts.append(d.count_if(and_([cond.copy(), self._owned_by(frame, owner)])))
            counts.append(d.count_if(cond))
        return frame.select([exp.Alias(this=c, alias=d.identifier(f"c{i}")) for i, c in enumerate(counts)])

    def membership_query(self) -> exp.Expression:
        """segment_membership(segment_id, member_key, owner): UNION ALL over one shared base per entity."""
        d = self.dialect
        ctes: list[exp.CTE] = []
        branches: list[exp.Select] = []
        for entity, segs in self.by_entity().items():
            frame = self.frame(entity)
            base = f"{entity}__flags"
            cols = [exp.Alias(this=d.text(frame.key), alias=d.identifier("member_key")),
                    exp.Alias(this=d.text(frame.owner), alias=d.identifier("owner"))]
            cols += [exp.Alias(this=frame.flag(s.condition), alias=d.identifier(f"m{i}"))
                     for i, s in enumerate(segs)]
            ctes.append(exp.CTE(this=frame.select(cols), alias=exp.TableAlias(this=d.identifier(base))))
            for i, s in enumerate(segs):
                branches.append(
                    exp.Select(expressions=[
                        exp.Alias(this=d.text(d.string(s.id)), alias=d.identifier("segment_id")),
                        d.column("member_key"), d.column("owner"),
                    ]).from_(d.table((base,)), copy=False).where(d.column(f"m{i}"), copy=False))
        if not branches:
            return self._empty(["segment_id", "member_key", "owner"])
        return self._union_all(ctes, branches, "m")

    def counts_query(self) -> exp.Expression:
        """segment_counts(segment_id, parent_id, level, owner, member_count).

        Per entity one pass: a conditional count per segment, grouped by owner and for the whole
        team at once (GROUPING SETS), then unpivoted against a VALUES list of the segments.
        Members without an owner count for the team only.
        """
        d = self.dialect
        ctes: list[exp.CTE] = []
        branches: list[exp.Select] = []
        for entity, segs in self.by_entity().items():
            frame = self.frame(entity)
            name = f"{entity}__counts"
            cols: list[exp.Expression] = [exp.Alias(this=d.text(frame.owner), alias=d.identifier("owner"))]
            cols += [exp.Alias(this=exp.Coalesce(this=d.count_if(frame.condition(s.condition)),
                                                 expressions=[exp.Literal.number(0)]), alias=d.identifier(f"c{i}"))
                     for i, s in enumerate(segs)]
            q = frame.select(cols)
            if frame.entity.owner:
                q = q.group_by(exp.GroupingSets(expressions=[exp.Tuple(expressions=[]),
                                                             exp.Tuple(expressions=[frame.owner])]), copy=False)
                # the whole-team row (owner NULL there), and one row per owner that is not empty
                is_total = exp.EQ(this=exp.Grouping(expressions=[frame.owner]), expression=exp.Literal.number(1))
                owned = exp.NEQ(this=d.trim(frame.owner), expression=exp.Literal.string(""))
                q = q.having(exp.Or(this=is_total, expression=owned), copy=False)
            ctes.append(exp.CTE(this=q, alias=exp.TableAlias(this=d.identifier(name))))
            rows = [[exp.Literal.number(i), d.string(s.id), d.string(s.parent) if s.parent else exp.Null(),
                     exp.Literal.number(s.level)] for i, s in enumerate(segs)]
            seg_alias = f"{entity}__segments"
            values = d.values(rows, seg_alias, ["n", "segment_id", "parent_id", "level"])
            pick = exp.Case(this=d.column("n", seg_alias),
                            ifs=[exp.If(this=exp.Literal.number(i), true=d.column(f"c{i}", name))
                                 for i in range(len(segs))])
            branches.append(exp.Select(expressions=[
                exp.Alias(this=d.text(d.column("segment_id", seg_alias)), alias=d.identifier("segment_id")),
                exp.Alias(this=d.text(d.column("parent_id", seg_alias)), alias=d.identifier("parent_id")),
                exp.Alias(this=exp.Cast(this=d.column("level", seg_alias), to=dtype("INT")),
                          alias=d.identifier("level")),
                d.column("owner", name),
                exp.Alias(this=exp.Cast(this=pick, to=dtype("BIGINT")), alias=d.identifier("member_count")),
            ]).from_(d.table((name,)), copy=False).join(values, join_type="CROSS", copy=False))
        if not branches:
            return self._empty(["segment_id", "parent_id", "level", "owner", "member_count"])
        return self._union_all(ctes, branches, "c")

    def _union_all(self, ctes: list[exp.CTE], branches: list[exp.Select], alias: str) -> exp.Select:
        """WITH ctes SELECT * FROM (branch UNION ALL branch ...) AS alias."""
        query = union_all(branches)
        outer = exp.Select(expressions=[exp.Star()]).from_(
            exp.Subquery(this=query, alias=exp.TableAlias(this=self.dialect.identifier(alias))), copy=False)
        outer.set("with_", exp.With(expressions=ctes))
        return outer

    def _empty(self, columns: list[str]) -> exp.Select:
        d = self.dialect
        q = exp.Select(expressions=[exp.Alias(this=d.text(exp.Null()), alias=d.identifier(c)) for c in columns])
        return q.where(exp.false(), copy=False)
