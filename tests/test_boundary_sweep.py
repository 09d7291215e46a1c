"""Boundary sweep: every relative operator (N in 1, 7, 30; every unit) and every period, for every
as-of day from 2023-01-01 to 2025-12-31, against plain-Python date arithmetic (tests/oracle.py).

It runs as a handful of queries over a calendar table: the as-of day is a column, not a literal.
Every engine runs all of it.
1. The bounds: one query computes every case's first and last day for every calendar day.
2. The predicates: one query per field type evaluates every case's real membership predicate on
   probes placed just inside and just outside each expected boundary (for timestamps, the first
   and last millisecond of the boundary days).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from sqlglot import exp

from conftest import adhoc_project
from oracle import period, relative
from segc.compiler import Emitter
from segc.compiler.check_model import ModelChecker
from segc.compiler.ir import DateRange
from segc.compiler.util import Checker
from segc.compiler.yamlfile import parse_yaml
from segc.warehouse import Table

FIRST, LAST = dt.date(2023, 1, 1), dt.date(2025, 12, 31)
DAYS = [FIRST + dt.timedelta(days=i) for i in range((LAST - FIRST).days + 1)]
OPS = ("within_last", "at_least_ago", "within_next", "at_least_ahead")
UNITS = ("day", "week", "month", "quarter", "year")
PERIODS = ("today", "yesterday", "tomorrow", "this_week", "last_week", "next_week", "this_month", "last_month",
           "next_month", "this_quarter", "last_quarter", "next_quarter", "this_year", "last_year", "next_year")

MODEL = """
version: 1
entities:
  probe:
    table: sweep.probes
    key: n
    fields:
      k:  {type: number}
      ts: {type: timestamp}
      d:  {type: date}
"""

# (test text, oracle(today) -> inclusive (first, last), None = open)
CASES: list[tuple[str, object]] = []
for _op in OPS:
    for _n in (1, 7, 30):
        for _unit in UNITS:
            CASES.append((f"{{{_op}: {_n} {_unit}{'s' if _n > 1 else ''}}}",
                          lambda t, op=_op, n=_n, unit=_unit: relative(op, n, unit, t)))
for _p in PERIODS:
    CASES.append((f"{{in_period: {_p}}}", lambda t, p=_p: period(p, t)))


@pytest.fixture(scope="module")
def model():
    ck = Checker()
    model = ModelChecker(ck, "sweep.yml").check(parse_yaml(MODEL.encode(), "sweep.yml"))
    assert model is not None and not ck.errors
    return model


def _ranges(model, field: str):
    text = "segments:\n" + "".join(
        f"  - id: c{i}\n    entity: probe\n    where: {{{field}: {test}}}\n" for i, (test, _) in enumerate(CASES))
    project = adhoc_project(model, text)
    out = []
    for i in range(len(CASES)):
        cond = project.segment(f"c{i}").condition
        assert isinstance(cond, DateRange)
        out.append(cond)
    return out, project


def test_bounds_for_every_day(model, engine):
    """Every case's [first day, day after the last] for every as-of day, in one query."""
    engine.load([Table("calendar", (("day", "date"),), tuple((d,) for d in DAYS))], schema="sweep")
    ranges, project = _ranges(model, "d")
    d = engine.dialect
    cal = d.column("day", "c")
    em = Emitter(project, d, today=cal)
    cols = [cal.copy()]
    for i, r in enumerate(ranges):
        cols.append((em.date(r.start) if r.start is not None else exp.null()).as_(f"s{i}"))
        cols.append((em.date(r.end) if r.end is not None else exp.null()).as_(f"e{i}"))
    query = exp.select(*cols).from_(d.table(("sweep", "calendar"), "c")).order_by(cal.copy())
    rows = engine.query(d.sql(query, pretty=False))
    assert [r[0] for r in rows] == DAYS
    one = dt.timedelta(days=1)
    mismatches = []
    for row in rows:
        today = row[0]
        for i, (test, oracle) in enumerate(CASES):
            first, last = oracle(today)
            want = (first, last + one if last is not None else None)
            got = (row[1 + 2 * i], row[2 + 2 * i])
            if got != want:
                mismatches.append((str(today), test, got, want))
    assert mismatches[:10] == [] and len(mismatches) == 0
    assert len(rows) * len(CASES) == 1096 * 75


def _probes(days: list[dt.date], timestamp: bool) -> list[tuple]:
    """Rows (case, day, value, expected) just inside and just outside every boundary."""
    one = dt.timedelta(days=1)
    ms = dt.timedelta(milliseconds=1)
    rows = []
    for today in days:
        for i, (_, oracle) in enumerate(CASES):
            first, last = oracle(today)
            points = []  # (day, inside, which edge of that day is nearest the boundary)
            if first is not None:
                points += [(first, True, "start"), (first - one, False, "end")]
            if last is not None:
                points += [(last, True, "end"), (last + one, False, "start")]
            for day, inside, edge_of_day in points:
                if timestamp:
                    start = dt.datetime.combine(day, dt.time())
                    values = [(start if edge_of_day == "start" else start + one - ms, inside)]
                    if inside:
                        values.append((start + one - ms if edge_of_day == "start" else start, True))
                else:
                    values = [(day, inside)]
                rows += [(len(rows) + j, i, today, value, expected) for j, (value, expected) in enumerate(values)]
    return rows


@pytest.mark.parametrize("field,kind", [("d", "date"), ("ts", "timestamp")])
def test_predicates_at_every_boundary(field, kind, model, engine):
    days = DAYS
    probes = _probes(days, timestamp=field == "ts")
    table = Table(f"probes_{field}", (("n", "int"), ("k", "int"), ("day", "date"), (field, kind), ("expected", "bool")),
                  tuple(probes))
    engine.load([table], schema="sweep")
    ranges, project = _ranges(model, field)
    project = replace(project, model=_retarget(project.model, table.name))
    d = engine.dialect
    em = Emitter(project, d, today=d.column("day", "t"))
    frame = em.frame("probe")
    got = exp.Case(this=frame.col("k"), ifs=[
        exp.If(this=exp.Literal.number(i), true=frame.condition(r)) for i, r in enumerate(ranges)])
    got = exp.Coalesce(this=got, expressions=[exp.false()])
    wrong = exp.Case(ifs=[exp.If(this=exp.NEQ(this=got, expression=frame.col("expected")), true=exp.Literal.number(1))],
                     default=exp.Literal.number(0))
    q = frame.select([exp.Count(this=exp.Star()).as_("total"), exp.Sum(this=wrong).as_("wrong")])
    total, bad = engine.query(d.sql(q, pretty=False))[0]
    if bad:
        sample = frame.select([frame.col("k"), frame.col("day"), frame.col(field), frame.col("expected"), got.copy()],
                              exp.NEQ(this=got.copy(), expression=frame.col("expected")))
        rows = engine.query(d.sql(sample.limit(5), pretty=False))
        pytest.fail(f"{bad} of {total} probes wrong, e.g. {[(CASES[r[0]][0],) + tuple(r[1:]) for r in rows]}")
    assert total == len(probes) >= len(days) * 180


def _retarget(model, table: str):
    entity = model.entity("probe")
    return replace(model, entities=(replace(entity, table=("sweep", table)),))
