"""Boundary sweep: every relative operator (N in 1, 7, 30; every unit) and every period, for every
as-of day from 2023-01-01 to 2025-12-31, against plain-Python date arithmetic (tests/oracle.py).

It runs as a handful of queries over a calendar table: the as-of day is a column, not a literal.
1. The bounds: one query computes every case's first and last day for every calendar day.
2. The predicates: one query per field type evaluates every case's real membership predicate on
   probes placed just inside and just outside each expected boundary (for timestamps, the first
   and last millisecond of the boundary days).
"""

from __future__ import annotations

import csv
import datetime as dt

import duckdb
import pytest
from sqlglot import exp

from conftest import adhoc_project
from oracle import period, relative
from segc.compiler import Emitter
from segc.compiler.check_model import ModelChecker
from segc.compiler.ir import DateRange
from segc.compiler.util import Checker
from segc.compiler.yamlfile import parse_yaml
from segc.dialects import get_dialect

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
    table: probes
    key: k
    fields:
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
def sweep():
    ck = Checker()
    model = ModelChecker(ck, "sweep.yml").check(parse_yaml(MODEL.encode(), "sweep.yml"))
    assert model is not None and not ck.errors
    con = duckdb.connect()
    con.execute("CREATE TABLE calendar AS SELECT CAST(range AS DATE) AS day "
                "FROM range(DATE '2023-01-01', DATE '2026-01-01', INTERVAL 1 DAY)")
    yield model, con
    con.close()


def _ranges(model, field: str) -> list[DateRange]:
    text = "segments:\n" + "".join(
        f"  - id: c{i}\n    entity: probe\n    where: {{{field}: {test}}}\n" for i, (test, _) in enumerate(CASES))
    project = adhoc_project(model, text)
    out = []
    for i in range(len(CASES)):
        cond = project.segment(f"c{i}").condition
        assert isinstance(cond, DateRange)
        out.append(cond)
    return out, project


def test_bounds_for_every_day(sweep):
    model, con = sweep
    ranges, project = _ranges(model, "d")
    d = get_dialect("duckdb")
    em = Emitter(project, d, today=exp.column("day", "calendar"))
    one = dt.timedelta(days=1)
    cols = [exp.column("day", "calendar")]
    for r in ranges:
        cols.append(em.date(r.start) if r.start is not None else exp.null())
        # the emitted end is exclusive; the oracle's last day is inclusive
        cols.append(em.date(r.end) if r.end is not None else exp.null())
    sql = d.sql(exp.select(*cols).from_("calendar").order_by("day"), pretty=False)
    rows = con.execute(sql).fetchall()
    assert [r[0] for r in rows] == DAYS
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


def _probes(path, timestamp: bool) -> int:
    """Rows (case, day, value, expected) just inside and just outside every boundary."""
    one = dt.timedelta(days=1)
    ms = dt.timedelta(milliseconds=1)
    n = 0
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["case_no", "day", "value", "expected"])
        for today in DAYS:
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
                    for value, expected in values:
                        w.writerow([i, today.isoformat(), str(value), "true" if expected else "false"])
                        n += 1
    return n


@pytest.mark.parametrize("field,sql_type", [("d", "DATE"), ("ts", "TIMESTAMP")])
def test_predicates_at_every_boundary(field, sql_type, sweep, tmp_path):
    model, con = sweep
    ranges, project = _ranges(model, field)
    path = tmp_path / "probes.csv"
    count = _probes(path, timestamp=field == "ts")
    con.execute(f"CREATE OR REPLACE TABLE probes AS SELECT case_no AS k, day, CAST(value AS {sql_type}) AS {field}, "
                f"expected FROM read_csv('{path}', header=true, columns={{'case_no': 'INTEGER', 'day': 'DATE', "
                f"'value': 'VARCHAR', 'expected': 'BOOLEAN'}})")
    d = get_dialect("duckdb")
    em = Emitter(project, d, today=exp.column("day", "t"))
    frame = em.frame("probe")
    got = exp.Case(this=frame.col("k"), ifs=[
        exp.If(this=exp.Literal.number(i), true=frame.condition(r)) for i, r in enumerate(ranges)])
    q = frame.select([frame.col("k"), exp.column("day", "t"), frame.col(field), exp.column("expected", "t"),
                      exp.Coalesce(this=got, expressions=[exp.false()]).as_("got")])
    sql = f"SELECT COUNT(*), COUNT(*) FILTER (WHERE got <> expected) FROM ({d.sql(q, pretty=False)}) AS s"
    total, wrong = con.execute(sql).fetchall()[0]
    if wrong:
        sample = con.execute(f"SELECT * FROM ({d.sql(q, pretty=False)}) AS s WHERE got <> expected LIMIT 5").fetchall()
        pytest.fail(f"{wrong} of {total} probes wrong, e.g. {[(CASES[r[0]][0],) + r[1:] for r in sample]}")
    assert total == count > 190_000
