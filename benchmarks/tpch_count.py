#!/usr/bin/env python3
"""Benchmark `segc count` against hand-written SQL on TPC-H, and time compiling many segments.

    python benchmarks/tpch_count.py                 # SF1, 100 segments, 5 rounds
    python benchmarks/tpch_count.py --sf 10         # SF10
    python benchmarks/tpch_count.py --quick         # smoke run: SF0.1, 1 round, fewer compile segments

What it does (see benchmarks/README.md):
1. generates TPC-H (customer, orders, nation, region) with `tpchgen-cli` into benchmarks/.data/sfN/
   and loads it into benchmarks/.data/sfN/warehouse.duckdb, schema `tpch` (reused when present);
2. writes a segc project (model + deterministic segments) to benchmarks/.data/sfN/project;
3. times, interleaved, median of --rounds warm rounds:
     a. `segc count ... --format json` as a subprocess (end to end);
     b. the best single hand-written query (one pre-aggregation of orders, count_if per segment)
        in a fresh `python -c` process, end to end and query only;
     c. one hand-written `SELECT count(*)` per segment with correlated subqueries, same way;
   plus diagnostics that split segc's time: segc's own emitted SQL run like (b), segc's phases
   timed inside one process, and a bare `python -c "import duckdb"`;
   every strategy's counts must equal (b)'s, segment by segment, or the script fails;
4. times compiling --compile-segments segments (library and `segc compile` subprocess);
5. reports peak RSS of each subprocess (os.wait4 rusage);
6. prints Markdown tables (also saved to benchmarks/.data/sfN/results.md and results.json).

Only hand-written SQL is used for (b) and (c): none of it is produced by segc.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
AS_OF = dt.date(1998, 8, 2)  # TPC-H order dates run 1992-01-01 .. 1998-08-02
TABLES = ("customer", "orders", "nation", "region")
TPCHGEN_VERSION = "4.0.0"
DB_NAME = "warehouse.duckdb"  # catalog `warehouse`, schema `tpch`

MKT_SEGMENTS = ["AUTOMOBILE", "BUILDING", "FURNITURE", "HOUSEHOLD", "MACHINERY"]
PRIORITIES = ["1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW"]
REGIONS = ["AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE EAST"]
NATIONS = [  # TPC-H nation table: (n_name, region), n_nationkey = position
    ("ALGERIA", "AFRICA"), ("ARGENTINA", "AMERICA"), ("BRAZIL", "AMERICA"), ("CANADA", "AMERICA"),
    ("EGYPT", "MIDDLE EAST"), ("ETHIOPIA", "AFRICA"), ("FRANCE", "EUROPE"), ("GERMANY", "EUROPE"),
    ("INDIA", "ASIA"), ("INDONESIA", "ASIA"), ("IRAN", "MIDDLE EAST"), ("IRAQ", "MIDDLE EAST"),
    ("JAPAN", "ASIA"), ("JORDAN", "MIDDLE EAST"), ("KENYA", "AFRICA"), ("MOROCCO", "AFRICA"),
    ("MOZAMBIQUE", "AFRICA"), ("PERU", "AMERICA"), ("CHINA", "ASIA"), ("ROMANIA", "EUROPE"),
    ("SAUDI ARABIA", "MIDDLE EAST"), ("VIETNAM", "ASIA"), ("RUSSIA", "EUROPE"),
    ("UNITED KINGDOM", "EUROPE"), ("UNITED STATES", "AMERICA"),
]
NATION_NAMES = [n for n, _ in NATIONS]


# =================================================================================================
# 1. Data


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sf_label(sf: float) -> str:
    return f"sf{int(sf)}" if float(sf).is_integer() else f"sf{sf:g}"


def tpchgen_bin() -> str:
    exe = shutil.which("tpchgen-cli") or shutil.which("tpchgen-cli", path=str(Path(sys.executable).parent))
    if exe:
        return exe
    log(f"tpchgen-cli not found; installing tpchgen-cli=={TPCHGEN_VERSION} with pip")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"tpchgen-cli=={TPCHGEN_VERSION}"], check=True)
    exe = shutil.which("tpchgen-cli") or shutil.which("tpchgen-cli", path=str(Path(sys.executable).parent))
    if not exe:
        sys.exit("tpchgen-cli is still not on PATH after installing it")
    return exe


def ensure_data(data_dir: Path, sf: float) -> Path:
    """Parquet files from tpchgen-cli, then a DuckDB file with schema tpch; both reused."""
    import duckdb

    data_dir.mkdir(parents=True, exist_ok=True)
    # Not tpch.duckdb: DuckDB names the attached catalog after the file, and a catalog `tpch` next to
    # a schema `tpch` makes every `tpch.customer` an "Ambiguous reference" (Binder Error).
    db = data_dir / DB_NAME
    if db.is_file():
        try:
            con = duckdb.connect(str(db), read_only=True)
            have = {r[0] for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'tpch'").fetchall()}
            con.close()
            if set(TABLES) <= have:
                log(f"reusing {db}")
                return db
        except duckdb.Error:
            pass
        db.unlink()
    pq = data_dir / "parquet"
    if not all((pq / f"{t}.parquet").is_file() for t in TABLES):
        log(f"generating TPC-H SF{sf:g} with tpchgen-cli into {pq}")
        t0 = time.perf_counter()
        subprocess.run([tpchgen_bin(), "parquet", "-s", f"{sf:g}", "--tables", ",".join(TABLES),
                        "--output-dir", str(pq), "--overwrite", "--quiet"], check=True)
        log(f"generated in {time.perf_counter() - t0:.1f} s")
    log(f"loading into {db}")
    tmp = data_dir / ("loading_" + DB_NAME)
    for p in (tmp, Path(str(tmp) + ".wal")):
        if p.exists():
            p.unlink()
    con = duckdb.connect(str(tmp))
    con.execute("CREATE SCHEMA tpch")
    for t in TABLES:
        con.execute(f"CREATE TABLE tpch.{t} AS SELECT * FROM read_parquet(?)", [str(pq / f"{t}.parquet")])
    con.execute("CHECKPOINT")
    con.close()
    os.replace(tmp, db)
    return db


# =================================================================================================
# 2. The segc project and the segments, each with its hand-written predicate


MODEL_YAML = f"""\
# Generated by benchmarks/tpch_count.py: a segc model over TPC-H (schema tpch).
version: 1
target: {{dialect: duckdb, schema: segments, view_prefix: seg_}}
entities:
  customer:
    label: TPC-H customers
    table: tpch.customer
    key: c_custkey
    owner: c_mktsegment          # TPC-H has no owner; the market segment stands in for one
    fields:
      name:            {{type: string, column: c_name}}
      phone:           {{type: string, column: c_phone}}
      acctbal:         {{type: number, column: c_acctbal}}
      mktsegment:      {{type: enum, column: c_mktsegment, values: {json.dumps(MKT_SEGMENTS)}}}
      nation:          {{relation: home_nation, of: name}}
      region:          {{relation: home_nation, of: region}}      # chained lookup nation -> region
      order_count:     {{aggregate: count, relation: orders}}
      finished_orders: {{aggregate: count, relation: orders, where: {{status: F}}}}
      total_spent:     {{aggregate: sum, relation: orders, of: totalprice}}
      last_order_on:   {{aggregate: max, relation: orders, of: orderdate}}
      first_order_on:  {{aggregate: min, relation: orders, of: orderdate}}
      avg_order_value: {{aggregate: avg, relation: orders, of: totalprice}}
    relations:
      orders:      {{has_many: orders, foreign_key: o_custkey}}
      home_nation: {{belongs_to: nation, column: c_nationkey}}
  orders:
    table: tpch.orders
    key: o_orderkey
    fields:
      status:     {{type: enum, column: o_orderstatus, values: [F, O, P]}}
      orderdate:  {{type: date, column: o_orderdate}}
      totalprice: {{type: number, column: o_totalprice}}
      priority:   {{type: enum, column: o_orderpriority, values: {json.dumps(PRIORITIES)}}}
  nation:
    table: tpch.nation
    key: n_nationkey
    fields:
      name:   {{type: enum, column: n_name, values: {json.dumps(NATION_NAMES)}}}
      region: {{relation: home_region, of: name}}
    relations:
      home_region: {{belongs_to: region, column: n_regionkey}}
  region:
    table: tpch.region
    key: r_regionkey
    fields:
      name: {{type: enum, column: r_name, values: {json.dumps(REGIONS)}}}
"""


# -- dates, computed here (not by segc) as a hand-writer would: literal bounds ---------------------

def add_months(d: dt.date, n: int) -> dt.date:
    import calendar

    i = d.year * 12 + d.month - 1 + n
    y, m = divmod(i, 12)
    return dt.date(y, m + 1, min(d.day, calendar.monthrange(y, m + 1)[1]))


def shift(d: dt.date, n: int, unit: str) -> dt.date:
    unit = unit.rstrip("s")
    if unit == "day":
        return d + dt.timedelta(days=n)
    if unit == "week":
        return d + dt.timedelta(days=7 * n)
    return add_months(d, n * {"month": 1, "quarter": 3, "year": 12}[unit])


def duration(text: str) -> tuple[int, str]:
    n, unit = text.split()
    return int(n), unit


def within_last(text: str) -> tuple[dt.date, dt.date]:
    """Inclusive [first, last] days of `within_last: N unit` (today - N < d <= today)."""
    n, unit = duration(text)
    return shift(AS_OF, -n, unit) + dt.timedelta(days=1), AS_OF


def at_least_ago(text: str) -> dt.date:
    """The last day d may be for `at_least_ago: N unit` (d <= today - N)."""
    n, unit = duration(text)
    return shift(AS_OF, -n, unit)


def period(name: str) -> tuple[dt.date, dt.date]:
    """Inclusive [first, last] days of a named period (weeks Monday..Sunday)."""
    t = AS_OF
    which, _, unit = name.partition("_")
    if unit == "week":
        start, length = t - dt.timedelta(days=t.weekday()), (7, "day")
    elif unit == "month":
        start, length = t.replace(day=1), (1, "month")
    elif unit == "quarter":
        start, length = dt.date(t.year, (t.month - 1) // 3 * 3 + 1, 1), (3, "month")
    else:
        start, length = dt.date(t.year, 1, 1), (12, "month")
    k = {"last": -1, "this": 0, "next": 1}[which]
    first = shift(start, k * length[0], length[1])
    return first, shift(first, length[0], length[1]) - dt.timedelta(days=1)


def D(d: dt.date) -> str:
    return f"DATE '{d.isoformat()}'"


def q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def qlist(values: list[str]) -> str:
    return ", ".join(q(v) for v in values)


def like(col: str, pattern: str) -> str:
    """segc's text tests are case-insensitive; plain LIKE is exact when the text has no letters."""
    op = "ILIKE" if any(c.isalpha() for c in pattern) else "LIKE"
    return f"{col} {op} {q(pattern)}"


# -- the two forms of the hand-written SQL ----------------------------------------------------------

PREAGG_COUNT = "count(CASE WHEN {} THEN 1 END)"


class Single:
    """Predicates over one scan: customer c, pre-aggregated orders o, nation n, region r."""

    nation, region = "n.n_name", "r.r_name"

    def __init__(self, preagg_count: str = PREAGG_COUNT) -> None:
        self.aggs: dict[str, str] = {}
        self.preagg_count = preagg_count

    def _agg(self, expr: str, zero: bool) -> str:
        alias = self.aggs.setdefault(expr, f"a{len(self.aggs)}")
        return f"coalesce(o.{alias}, 0)" if zero else f"o.{alias}"

    def count(self, where: str | None = None, zero: bool = True) -> str:
        # In a GROUP BY, count(CASE WHEN .. THEN 1 END) beat count_if (and FILTER) here by ~15-25%
        # with 8 conditional counts (DuckDB 2.0.1); count_if stays best for the ungrouped outer counts.
        return self._agg("count(*)" if where is None else self.preagg_count.format(where), zero)

    def total(self) -> str:
        return self._agg("sum(o_totalprice)", True)

    def last(self) -> str:
        return self._agg("max(o_orderdate)", False)

    def first(self) -> str:
        return self._agg("min(o_orderdate)", False)

    def avg(self) -> str:
        return self._agg("avg(o_totalprice)", False)

    def query(self, preds: list[str]) -> str:
        aggs = ",\n    ".join(f"{e} AS {a}" for e, a in self.aggs.items())
        counts = ",\n  ".join(f"count_if({p}) AS s{i}" for i, p in enumerate(preds))
        if not self.aggs:
            aggs = "count(*) AS a0"
        return (f"WITH o AS (\n  SELECT o_custkey,\n    {aggs}\n  FROM tpch.orders\n  GROUP BY o_custkey\n)\n"
                f"SELECT\n  {counts}\nFROM tpch.customer c\n"
                "LEFT JOIN o ON o.o_custkey = c.c_custkey\n"
                "LEFT JOIN tpch.nation n ON n.n_nationkey = c.c_nationkey\n"
                "LEFT JOIN tpch.region r ON r.r_regionkey = n.n_regionkey")


class Naive:
    """One query per segment; every aggregate is its own correlated scalar subquery."""

    def __init__(self) -> None:
        self.uses_nation = self.uses_region = False

    @property
    def nation(self) -> str:
        self.uses_nation = True
        return "n.n_name"

    @property
    def region(self) -> str:
        self.uses_nation = self.uses_region = True
        return "r.r_name"

    @staticmethod
    def _sub(expr: str, where: str | None = None) -> str:
        w = f" AND ({where})" if where else ""
        return f"(SELECT {expr} FROM tpch.orders o WHERE o.o_custkey = c.c_custkey{w})"

    def count(self, where: str | None = None, zero: bool = True) -> str:
        return self._sub("count(*)", where)

    def total(self) -> str:
        return self._sub("coalesce(sum(o.o_totalprice), 0)")

    def last(self) -> str:
        return self._sub("max(o.o_orderdate)")

    def first(self) -> str:
        return self._sub("min(o.o_orderdate)")

    def avg(self) -> str:
        return self._sub("avg(o.o_totalprice)")

    def query(self, pred: str) -> str:
        joins = ""
        if self.uses_nation:
            joins += " LEFT JOIN tpch.nation n ON n.n_nationkey = c.c_nationkey"
        if self.uses_region:
            joins += " LEFT JOIN tpch.region r ON r.r_regionkey = n.n_regionkey"
        return f"SELECT count(*) FROM tpch.customer c{joins} WHERE {pred}"


Pred = Callable[[object], str]  # m (Single or Naive) -> SQL predicate


@dataclass
class Seg:
    name: str
    where: dict | None
    pred: Pred
    children: list["Seg"] = field(default_factory=list)
    split_by: str | None = None  # "region" or "mktsegment"
    id: str = ""

    def size(self) -> int:
        n = 1 + sum(c.size() for c in self.children)
        if self.split_by:
            n += {"region": len(REGIONS), "mktsegment": len(MKT_SEGMENTS)}[self.split_by] + 1
        return n


def slug(value: str) -> str:
    import re

    return re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_")


# -- the patterns: each returns one segment (maybe with children) for a random variant -------------

def patterns() -> list[tuple[str, Callable[[random.Random], Seg]]]:
    def pick(r: random.Random, xs: list[str], k: int) -> list[str]:
        return sorted(r.sample(xs, k))

    def mkt_eq(r):
        s = r.choice(MKT_SEGMENTS)
        return Seg(f"Segment {s}", {"mktsegment": s}, lambda m: f"c.c_mktsegment = {q(s)}")

    def mkt_in(r):
        ss = pick(r, MKT_SEGMENTS, 2)
        return Seg(f"Segments {ss}", {"mktsegment": {"in": ss}}, lambda m: f"c.c_mktsegment IN ({qlist(ss)})")

    def mkt_ne(r):
        s = r.choice(MKT_SEGMENTS)
        return Seg(f"Not {s}", {"mktsegment": {"!=": s}}, lambda m: f"c.c_mktsegment <> {q(s)}")

    def mkt_not_in(r):
        ss = pick(r, MKT_SEGMENTS, 2)
        return Seg(f"Neither of {ss}", {"mktsegment": {"not_in": ss}},
                   lambda m: f"c.c_mktsegment NOT IN ({qlist(ss)})")

    def nation_eq(r):
        n = r.choice(NATION_NAMES)
        return Seg(f"In {n}", {"nation": n}, lambda m: f"{m.nation} = {q(n)}")

    def nation_in(r):
        ns = pick(r, NATION_NAMES, 3)
        return Seg(f"In {ns}", {"nation": {"in": ns}}, lambda m: f"{m.nation} IN ({qlist(ns)})")

    def region_eq(r):
        g = r.choice(REGIONS)
        return Seg(f"Region {g}", {"region": g}, lambda m: f"{m.region} = {q(g)}")

    def region_rich(r):
        gs, a = pick(r, REGIONS, 2), r.randrange(3000, 9000, 500)
        return Seg(f"Regions {gs}, balance >= {a}", {"region": {"in": gs}, "acctbal": {">=": a}},
                   lambda m: f"{m.region} IN ({qlist(gs)}) AND c.c_acctbal >= {a}")

    def acct_between(r):
        lo = r.randrange(-1000, 8000, 250)
        hi = lo + r.randrange(500, 3000, 250)
        return Seg(f"Balance {lo}..{hi}", {"acctbal": {"between": [lo, hi]}},
                   lambda m: f"c.c_acctbal BETWEEN {lo} AND {hi}")

    def acct_ge(r):
        a = round(r.uniform(1000, 9500), 2)
        return Seg(f"Balance >= {a}", {"acctbal": {">=": a}}, lambda m: f"c.c_acctbal >= {a}")

    def acct_negative(r):
        a = r.choice([0, -100, -500])
        return Seg(f"Balance < {a}", {"acctbal": {"<": a}}, lambda m: f"c.c_acctbal < {a}")

    def name_contains(r):
        s = str(r.randrange(10, 999))
        return Seg(f"Name contains {s}", {"name": {"contains": s}}, lambda m: like("c.c_name", f"%{s}%"))

    def name_starts(r):
        s = f"customer#00000{r.randrange(1, 10)}"  # lower case: segc's text tests ignore case
        return Seg(f"Name starts with {s}", {"name": {"starts_with": s}}, lambda m: like("c.c_name", f"{s}%"))

    def name_ends(r):
        s = str(r.randrange(0, 99))
        return Seg(f"Name ends with {s}", {"name": {"ends_with": s}}, lambda m: like("c.c_name", f"%{s}"))

    def phone_prefix(r):
        s = f"{r.randrange(10, 35)}-"
        return Seg(f"Phone starts with {s}", {"phone": {"starts_with": s}}, lambda m: like("c.c_phone", f"{s}%"))

    def phone_contains(r):
        s = f"-{r.randrange(100, 999)}"
        return Seg(f"Phone contains {s}", {"phone": {"contains": s}}, lambda m: like("c.c_phone", f"%{s}%"))

    def phone_not_contains(r):
        s = f"-{r.randrange(1, 9)}"
        return Seg(f"Phone without {s}", {"phone": {"not_contains": s}},
                   lambda m: "NOT " + like("c.c_phone", f"%{s}%"))

    def orders_ge(r):
        n = r.randrange(8, 30)
        return Seg(f"{n}+ orders", {"order_count": {">=": n}}, lambda m: f"{m.count(zero=False)} >= {n}")

    def orders_between(r):
        a = r.randrange(0, 15)
        b = a + r.randrange(2, 10)
        return Seg(f"{a}..{b} orders", {"order_count": {"between": [a, b]}},
                   lambda m: f"{m.count()} BETWEEN {a} AND {b}")

    def never_ordered(r):
        return Seg("Never ordered", {"order_count": 0}, lambda m: f"{m.count()} = 0")

    def finished_ge(r):
        n = r.randrange(3, 20)
        return Seg(f"{n}+ finished orders", {"finished_orders": {">=": n}},
                   lambda m: f"{m.count(q_status('F'), zero=False)} >= {n}")

    def spent_ge(r):
        x = r.randrange(500_000, 4_000_000, 50_000)
        return Seg(f"Spent >= {x}", {"total_spent": {">=": x}}, lambda m: f"{m.total()} >= {x}")

    def spent_between(r):
        lo = r.randrange(0, 3_000_000, 100_000)
        hi = lo + r.randrange(200_000, 1_500_000, 100_000)
        return Seg(f"Spent {lo}..{hi}", {"total_spent": {"between": [lo, hi]}},
                   lambda m: f"{m.total()} BETWEEN {lo} AND {hi}")

    def last_within(r):
        d = r.choice(["30 days", "90 days", "8 weeks", "6 months", "1 year", "2 quarters"])
        a, b = within_last(d)
        return Seg(f"Ordered within the last {d}", {"last_order_on": {"within_last": d}},
                   lambda m: f"{m.last()} BETWEEN {D(a)} AND {D(b)}")

    def last_ago(r):
        d = r.choice(["1 year", "18 months", "2 years", "3 years", "100 days"])
        b = at_least_ago(d)
        return Seg(f"Last order at least {d} ago", {"last_order_on": {"at_least_ago": d}},
                   lambda m: f"{m.last()} <= {D(b)}")

    def last_period(r):
        p = r.choice(["this_year", "last_year", "this_quarter", "last_quarter", "this_month",
                      "last_month", "this_week", "last_week"])
        a, b = period(p)
        return Seg(f"Last order {p}", {"last_order_on": {"in_period": p}},
                   lambda m: f"{m.last()} BETWEEN {D(a)} AND {D(b)}")

    def first_between(r):
        y = r.randrange(1992, 1997)
        a, b = dt.date(y, 1, 1), dt.date(y, 6, 30)
        return Seg(f"First order in H1 {y}", {"first_order_on": {"between": [a.isoformat(), b.isoformat()]}},
                   lambda m: f"{m.first()} BETWEEN {D(a)} AND {D(b)}")

    def first_ago(r):
        d = r.choice(["5 years", "6 years", "20 quarters"])
        b = at_least_ago(d)
        return Seg(f"Customer for {d}+", {"first_order_on": {"at_least_ago": d}},
                   lambda m: f"{m.first()} <= {D(b)}")

    def avg_ge(r):
        x = r.randrange(140_000, 220_000, 5_000)
        return Seg(f"Average order >= {x}", {"avg_order_value": {">=": x}}, lambda m: f"{m.avg()} >= {x}")

    def any_region_or_rich(r):
        g, a = r.choice(REGIONS), r.randrange(7000, 9900, 100)
        return Seg(f"{g} or balance >= {a}", {"any": [{"region": g}, {"acctbal": {">=": a}}]},
                   lambda m: f"({m.region} = {q(g)} OR c.c_acctbal >= {a})")

    def not_region(r):
        g = r.choice(REGIONS)
        return Seg(f"Outside {g}", {"not": {"region": g}}, lambda m: f"{m.region} IS DISTINCT FROM {q(g)}")

    def dormant(r):
        d = r.choice(["1 year", "2 years", "6 months"])
        a, b = within_last(d)
        return Seg(f"No order in the last {d}", {"not": {"last_order_on": {"within_last": d}}},
                   lambda m: f"NOT coalesce({m.last()} BETWEEN {D(a)} AND {D(b)}, false)")

    def lapsed_or_never(r):
        d = r.choice(["2 years", "30 months"])
        b = at_least_ago(d)
        return Seg(f"Lapsed {d} or never ordered",
                   {"any": [{"last_order_on": {"at_least_ago": d}}, {"last_order_on": {"is_empty": True}}]},
                   lambda m: f"({m.last()} <= {D(b)} OR {m.last()} IS NULL)")

    def urgent_in_period(r):
        p, pr = r.choice(["last_year", "this_year", "last_quarter"]), r.choice(PRIORITIES[:2])
        a, b = period(p)
        w = f"o_orderpriority = {q(pr)} AND o_orderdate BETWEEN {D(a)} AND {D(b)}"
        return Seg(f"{pr} order {p}",
                   {"has": {"orders": {"where": {"priority": pr, "orderdate": {"in_period": p}}}}},
                   lambda m: f"{m.count(w, zero=False)} >= 1")

    def status_count(r):
        s, n = r.choice(["P", "O"]), r.randrange(2, 6)
        return Seg(f"{n}+ orders in status {s}",
                   {"has": {"orders": {"where": {"status": s}, "count": {">=": n}}}},
                   lambda m: f"{m.count(q_status(s), zero=False)} >= {n}")

    def no_open(r):
        s = r.choice(["O", "P"])
        return Seg(f"No order in status {s}", {"not": {"has": {"orders": {"where": {"status": s}}}}},
                   lambda m: f"{m.count(q_status(s))} = 0")

    def mixed(r):
        s, g, x = r.choice(MKT_SEGMENTS), r.choice(REGIONS), r.randrange(1_000_000, 3_000_000, 100_000)
        return Seg(f"{s} in {g} spending {x}+", {"mktsegment": s, "region": g, "total_spent": {">=": x}},
                   lambda m: f"c.c_mktsegment = {q(s)} AND {m.region} = {q(g)} AND {m.total()} >= {x}")

    def nation_not_name(r):
        ns, d = pick(r, NATION_NAMES, 4), str(r.randrange(0, 10))
        return Seg(f"In {ns}, name without {d}", {"nation": {"in": ns}, "not": {"name": {"contains": d}}},
                   lambda m: f"{m.nation} IN ({qlist(ns)}) AND NOT ({like('c.c_name', f'%{d}%')})")

    def nested(r):
        lo = r.randrange(0, 6000, 500)
        hi, n, x = lo + 3000, r.randrange(15, 25), r.randrange(180_000, 230_000, 10_000)
        return Seg(f"Balance {lo}..{hi}, {n}+ orders or avg >= {x}",
                   {"all": [{"acctbal": {"between": [lo, hi]}},
                            {"any": [{"order_count": {">=": n}}, {"avg_order_value": {">=": x}}]}]},
                   lambda m: f"c.c_acctbal BETWEEN {lo} AND {hi} AND ({m.count()} >= {n} OR {m.avg()} >= {x})")

    def big_order_region(r):
        gs, x = pick(r, REGIONS, 2), r.randrange(350_000, 480_000, 10_000)
        w = f"o_totalprice >= {x}"
        return Seg(f"{gs} with an order >= {x}",
                   {"region": {"in": gs}, "has": {"orders": {"where": {"totalprice": {">=": x}}}}},
                   lambda m: f"{m.region} IN ({qlist(gs)}) AND {m.count(w, zero=False)} >= 1")

    def big_recent(r):
        d, x = r.choice(["6 months", "1 year"]), r.randrange(250_000, 400_000, 25_000)
        a, b = within_last(d)
        w = f"o_totalprice >= {x} AND o_orderdate BETWEEN {D(a)} AND {D(b)}"
        return Seg(f"Order >= {x} within {d}",
                   {"has": {"orders": {"where": {"totalprice": {">=": x}, "orderdate": {"within_last": d}}}}},
                   lambda m: f"{m.count(w, zero=False)} >= 1")

    # families with children ---------------------------------------------------------------------
    def region_family(r):
        g = r.choice(REGIONS)
        d = r.choice(["6 months", "1 year"])
        a, b = within_last(d)
        x = r.randrange(1_000_000, 2_500_000, 100_000)
        big = Seg(f"{g}, recent, spent {x}+", {"total_spent": {">=": x}}, lambda m: f"{m.total()} >= {x}")
        recent = Seg(f"{g}, ordered within {d}", {"last_order_on": {"within_last": d}},
                     lambda m: f"{m.last()} BETWEEN {D(a)} AND {D(b)}", children=[big])
        never = Seg(f"{g}, never ordered", {"order_count": 0}, lambda m: f"{m.count()} = 0")
        return Seg(f"Customers in {g}", {"region": g}, lambda m: f"{m.region} = {q(g)}",
                   children=[recent, never])

    def split_family(r):
        ss, a = pick(r, MKT_SEGMENTS, 2), r.randrange(0, 5000, 500)
        return Seg(f"{ss} with balance >= {a}, by region", {"mktsegment": {"in": ss}, "acctbal": {">=": a}},
                   lambda m: f"c.c_mktsegment IN ({qlist(ss)}) AND c.c_acctbal >= {a}", split_by="region")

    def nation_family(r):
        ns, n, k = pick(r, NATION_NAMES, 3), r.randrange(5, 15), r.randrange(2, 5)
        w = "o_orderpriority = '1-URGENT'"
        kids = [Seg(f"{n}+ finished orders", {"finished_orders": {">=": n}},
                    lambda m: f"{m.count(q_status('F'), zero=False)} >= {n}"),
                Seg(f"{k}+ urgent orders", {"has": {"orders": {"where": {"priority": "1-URGENT"}, "count": {">=": k}}}},
                    lambda m: f"{m.count(w, zero=False)} >= {k}")]
        return Seg(f"In {ns}", {"nation": {"in": ns}}, lambda m: f"{m.nation} IN ({qlist(ns)})", children=kids)

    def mkt_split(r):
        x = r.randrange(1_000_000, 3_000_000, 250_000)
        return Seg(f"Spent {x}+, by market segment", {"total_spent": {">=": x}},
                   lambda m: f"{m.total()} >= {x}", split_by="mktsegment")

    fns = [region_family, mkt_eq, acct_between, last_within, nation_in, orders_ge, name_contains,
           urgent_in_period, dormant, mixed, split_family, region_eq, spent_ge, last_ago, phone_prefix,
           avg_ge, any_region_or_rich, status_count, nation_family, mkt_in, acct_ge, last_period,
           name_starts, orders_between, not_region, lapsed_or_never, no_open, nested, nation_eq,
           spent_between, first_between, phone_contains, finished_ge, big_order_region, mkt_ne,
           acct_negative, first_ago, name_ends, region_rich, never_ordered, nation_not_name,
           big_recent, mkt_not_in, phone_not_contains, mkt_split]
    return [(f.__name__, f) for f in fns]


def q_status(s: str) -> str:
    return f"o_orderstatus = {q(s)}"


LEAF_FALLBACK = "mkt_eq"


def generate_segments(target: int, seed: int = 20240601) -> list[Seg]:
    """`target` segments in all (children and split_by children included), deterministically."""
    rng = random.Random(seed)
    pats = patterns()
    by_name = dict(pats)
    out: list[Seg] = []
    seen: set[str] = set()
    total, i = 0, 0
    while total < target:
        name, fn = pats[i % len(pats)]
        for _ in range(20):  # vary the parameters until the rule is new (small choice lists repeat)
            seg = fn(rng)
            if total + seg.size() > target:
                name, seg = LEAF_FALLBACK, by_name[LEAF_FALLBACK](rng)
            rule = json.dumps([seg.where, seg.split_by], sort_keys=True, default=str)
            if rule not in seen:
                break
        seen.add(rule)
        assign_ids(seg, f"{name}_{i:04d}")
        out.append(seg)
        total += seg.size()
        i += 1
    return out


def assign_ids(seg: Seg, base: str) -> None:
    seg.id = base
    for j, c in enumerate(seg.children):
        assign_ids(c, f"{base}_c{j}")


def segment_yaml(seg: Seg, top: bool = True) -> dict:
    d: dict = {"id": seg.id, "name": seg.name}
    if top:
        d["entity"] = "customer"
    if seg.where is not None:
        d["where"] = seg.where
    if seg.split_by:
        d["split_by"] = seg.split_by
    if seg.children:
        d["children"] = [segment_yaml(c, top=False) for c in seg.children]
    return d


def flatten(segs: list[Seg]) -> list[tuple[str, list[Pred]]]:
    """(segment id, the predicates of it and all its ancestors) for every segment, generated ones too."""
    out: list[tuple[str, list[Pred]]] = []

    def walk(s: Seg, chain: list[Pred]) -> None:
        chain = [*chain, s.pred]
        out.append((s.id, chain))
        for c in s.children:
            walk(c, chain)
        if s.split_by == "region":
            for g in REGIONS:
                out.append((f"{s.id}__{slug(g)}", [*chain, lambda m, g=g: f"{m.region} = {q(g)}"]))
            out.append((f"{s.id}__empty", [*chain, lambda m: f"({m.region} IS NULL OR trim({m.region}) = '')"]))
        elif s.split_by == "mktsegment":
            for v in MKT_SEGMENTS:
                out.append((f"{s.id}__{slug(v)}", [*chain, lambda m, v=v: f"c.c_mktsegment = {q(v)}"]))
            out.append((f"{s.id}__empty", [*chain, lambda m: "(c.c_mktsegment IS NULL OR trim(c.c_mktsegment) = '')"]))

    for s in segs:
        walk(s, [])
    return out


def conj(m: object, chain: list[Pred]) -> str:
    parts = [p(m) for p in chain]
    return parts[0] if len(parts) == 1 else " AND ".join(f"({p})" for p in parts)


def write_project(folder: Path, segs: list[Seg]) -> None:
    import yaml

    if folder.exists():
        shutil.rmtree(folder)
    (folder / "segments").mkdir(parents=True)
    (folder / "segc.yml").write_text(MODEL_YAML, encoding="utf-8")
    body = yaml.safe_dump({"segments": [segment_yaml(s) for s in segs]}, sort_keys=False,
                          allow_unicode=True, width=120)
    (folder / "segments" / "tpch.yml").write_text(
        "# Generated by benchmarks/tpch_count.py; deterministic.\n" + body, encoding="utf-8")


def hand_sql(flat: list[tuple[str, list[Pred]]], preagg_count: str | None = None) -> tuple[str, list[str]]:
    """(b) one query; (c) one query per segment."""
    m = Single(preagg_count or PREAGG_COUNT)
    single = m.query([conj(m, chain) for _, chain in flat])
    naive = []
    for _, chain in flat:
        nm = Naive()
        naive.append(nm.query(conj(nm, chain)))
    return single, naive


# =================================================================================================
# 3.-5. Running and measuring subprocesses


@dataclass
class Run:
    wall: float
    maxrss_kb: int
    stdout: str


def child_env(pycache: str | None) -> dict[str, str]:
    """With a folder: bytecode cached there (as any normal install has it; this machine sets
    PYTHONDONTWRITEBYTECODE=1, so an editable segc would otherwise recompile its sources on every run).
    Without: the environment as it is."""
    env = dict(os.environ)
    if pycache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
    return env


def run_proc(cmd: list[str], env: dict[str, str] | None = None) -> Run:
    """Wall time and peak RSS (this child's own rusage via wait4) of one subprocess."""
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=fo, stderr=fe, env=env, stdin=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read().decode(), fe.read().decode()
    if p.returncode != 0:
        raise SystemExit(f"FAILED ({p.returncode}): {' '.join(cmd)}\n{err[-4000:]}")
    return Run(wall, ru.ru_maxrss, out)


QUERY_WORKER = textwrap.dedent("""\
    import json, sys, time
    import duckdb
    db, payload = sys.argv[1], json.load(open(sys.argv[2]))
    con = duckdb.connect(db, read_only=True)
    con.execute("SET threads=2")
    con.execute("SET enable_progress_bar=false")  # else DuckDB may print one to stdout after 2 s
    t = time.perf_counter()
    if "sql" in payload:
        counts = list(con.execute(payload["sql"]).fetchone())
    else:
        counts = [con.execute(s).fetchone()[0] for s in payload["queries"]]
    t = time.perf_counter() - t
    json.dump({"counts": [int(c or 0) for c in counts], "query_s": t}, sys.stdout)
""")

# segc count's own steps (segc.cli count -> segc.engines.run.count_segments), timed one by one.
PHASE_WORKER = textwrap.dedent("""\
    import time
    t0 = time.perf_counter()
    import datetime as dt, json, sys
    import segc.cli
    from segc.compiler import load_project
    from segc.engines.duckdb import DuckDBEngine
    from segc.engines.run import count_segments
    t1 = time.perf_counter()
    project, _ = load_project(sys.argv[1])
    t2 = time.perf_counter()
    engine = DuckDBEngine(sys.argv[2])
    t3 = time.perf_counter()
    spent = []
    run_query = engine.query
    def timed_query(sql):  # segc's own count_segments, with the engine's query call timed
        t = time.perf_counter()
        try:
            return run_query(sql)
        finally:
            spent.append(time.perf_counter() - t)
    engine.query = timed_query
    rows = count_segments(project, engine, dt.date.fromisoformat(sys.argv[3]), None, True)
    t4 = time.perf_counter()
    json.dump({"counts": {r.segment.id: r.count for r in rows}, "import": t1 - t0, "load_check": t2 - t1,
               "connect": t3 - t2, "emit_sql": t4 - t3 - sum(spent), "query": sum(spent)}, sys.stdout)
""")

COMPILE_WORKER = textwrap.dedent("""\
    import time
    t0 = time.perf_counter()
    import contextlib, json, sys
    from segc.compiler import load_project, Emitter, paused_gc, view_files
    from segc.dialects import get_dialect
    gc_on = sys.argv[2:] == ["gc"]  # diagnostic: the collector running, as a naive library user has it
    t1 = time.perf_counter()
    with contextlib.nullcontext() if gc_on else paused_gc():  # what segc compile does
        project, _ = load_project(sys.argv[1])
    out = {"import": t1 - t0, "load_check": time.perf_counter() - t1, "segments": len(project.segments)}
    for name in ("duckdb",) if gc_on else ("duckdb", "postgres", "snowflake"):
        d = get_dialect(name)
        t = time.perf_counter()
        with contextlib.nullcontext() if gc_on else paused_gc():
            files = view_files(project, Emitter(project, d))
            t_tree = time.perf_counter()
            sql = [d.sql(f.statement, copy=False) for f in files]
            t_sql = time.perf_counter()
        out[name] = t_sql - t
        out[name + "_trees"] = t_tree - t
        out[name + "_sql"] = t_sql - t_tree
        out[name + "_chars"] = sum(map(len, sql))
        out[name + "_summary_chars"] = sum(map(len, sql[-2:]))  # segment_membership + segment_counts
    json.dump(out, sys.stdout)
""")


def segc_bin() -> str:
    exe = Path(sys.executable).parent / "segc"
    if exe.is_file():
        return str(exe)  # the console script itself, not a version-manager shim in front of it
    found = shutil.which("segc")
    if not found:
        sys.exit("segc is not installed: pip install -e /work/main")
    return found


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def fmt_s(x: float) -> str:
    if x != x:
        return "-"
    return f"{x * 1000:.0f} ms" if x < 10 else f"{x:.1f} s"


def fmt_mb(kb: float) -> str:
    return f"{kb / 1024:.0f} MB" if kb else "-"


def machine_info(sf: float) -> dict:
    import duckdb
    import sqlglot

    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        diff = subprocess.run(["git", "-C", str(REPO), "diff", "HEAD", "--", "segc"], capture_output=True,
                              check=True).stdout
        if diff:  # uncommitted changes under segc/: name them by a hash of the diff
            import hashlib

            commit += f" + uncommitted segc/ changes (diff sha256 {hashlib.sha256(diff).hexdigest()[:10]})"
    except (OSError, subprocess.CalledProcessError):
        commit = "?"
    return {"cpu": cpu, "cores": os.cpu_count(), "ram": mem, "python": platform.python_version(),
            "duckdb": duckdb.__version__, "sqlglot": sqlglot.__version__, "sf": f"{sf:g}",
            "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"), "segc_commit": commit,
            "platform": platform.platform()}


# =================================================================================================
# The runner: a separate, small process that spawns and times every subprocess. Linux folds the
# parent's peak RSS into a child's ru_maxrss at exec, so the parent that holds DuckDB and segc
# must not be the one that spawns the measured processes.


def strip_progress(out: str, start: str) -> tuple[str, bool]:
    """DuckDB may print its progress bar to stdout when a query runs over 2 s (enable_progress_bar
    is on by default and segc leaves it on): cut it off, and say that it was there."""
    if out.startswith(start):
        return out, False
    i = out.find(start)
    if i < 0:
        raise SystemExit(f"unexpected output: {out[:300]!r}")
    return out[i:], True


def counts_of(key: str, out: str, plan: dict, noise: dict[str, int] | None = None) -> dict[str, int]:
    if key == "segc":
        out, dirty = strip_progress(out, "[\n")
        if dirty and noise is not None:
            noise["segc"] = noise.get("segc", 0) + 1
        return {r["id"]: int(r["count"]) for r in json.loads(out)}
    if key == "phases":
        out, dirty = strip_progress(out, '{"counts"')
        return {k: int(v) for k, v in json.loads(out)["counts"].items()}
    got = json.loads(out)["counts"]
    return dict(zip(plan["segc_ids"] if key == "segc_sql" else plan["ids"], got))


def runner(plan_path: str) -> int:
    plan = json.loads(Path(plan_path).read_text())
    ids, rounds, strategies = plan["ids"], plan["rounds"], plan["strategies"]
    cached, uncached = child_env(plan["pycache"]), child_env(None)
    env_of = {k: uncached if k in plan["no_pycache"] else cached for k in strategies}
    reference: dict[str, int] | None = None

    def check(key: str, got: dict[str, int]) -> None:
        nonlocal reference
        if key == "hand":
            if reference is None:
                reference = got
            elif got != reference:
                raise SystemExit("the hand-written query gave different counts in two rounds")
            return
        assert reference is not None
        if set(got) != set(reference):
            raise SystemExit(f"MISMATCH ({key}): segment ids differ: {sorted(set(got) ^ set(reference))[:10]}")
        bad = [(i, reference[i], got[i]) for i in ids if got[i] != reference[i]]
        if bad:
            lines = "\n".join(f"  {i}: hand-written {a}, {key} {b}" for i, a, b in bad[:20])
            raise SystemExit(f"MISMATCH: {key} differs from the hand-written query on {len(bad)} segments:\n{lines}")

    progress_bars: dict[str, int] = {}
    keys = ["hand", *[k for k in strategies if k != "hand"]]  # hand first: it is the reference
    res: dict[str, dict[str, list]] = {k: {"wall": [], "rss": [], "query": [], "phases": []} for k in keys}
    for rnd in range(rounds + 1):  # round 0 warms caches and is not counted
        order = keys if rnd == 0 else keys[rnd % len(keys):] + keys[:rnd % len(keys)]
        for key in order:
            r = run_proc(strategies[key], env_of[key])
            if key in plan["counted"]:
                check(key, counts_of(key, r.stdout, plan, progress_bars))
            if rnd == 0:
                continue
            res[key]["wall"].append(r.wall)
            res[key]["rss"].append(r.maxrss_kb)
            if key in ("hand", "naive", "segc_sql"):
                res[key]["query"].append(json.loads(r.stdout)["query_s"])
            if key == "phases":
                res[key]["phases"].append(json.loads(strip_progress(r.stdout, '{"counts"')[0]))
        log("warm-up done; all counts identical" if rnd == 0 else
            f"round {rnd}/{rounds}: " + ", ".join(f"{k} {res[k]['wall'][-1]:.2f}s" for k in order))

    comp: dict[str, list] = {"worker": [], "cli": [], "cli_rss": [], "cli3": [], "cli3_rss": [],
                             "worker_rss": [], "gc": []}
    if plan["compile"]:
        log(f"compile: {plan['compile']['segments']} segments, {rounds} rounds")
        for rnd in range(rounds + 1):
            w = run_proc(plan["compile"]["worker"], cached)
            c = run_proc(plan["compile"]["cli"], cached)
            c3 = run_proc(plan["compile"]["cli3"], cached)
            g = run_proc(plan["compile"]["worker_gc"], cached)
            if rnd == 0:
                continue
            comp["gc"].append(json.loads(g.stdout))
            comp["worker"].append(json.loads(w.stdout))
            comp["worker_rss"].append(w.maxrss_kb)
            comp["cli"].append(c.wall)
            comp["cli_rss"].append(c.maxrss_kb)
            comp["cli3"].append(c3.wall)
            comp["cli3_rss"].append(c3.maxrss_kb)
            log(f"compile round {rnd}/{rounds}: segc compile {c.wall:.2f}s one dialect, {c3.wall:.2f}s three")
    Path(plan["results"]).write_text(json.dumps({"results": res, "compile": comp, "progress_bars": progress_bars}))
    return 0


# =================================================================================================
# In-process diagnostics: EXPLAIN ANALYZE, and what single changes to segc's SQL would gain


def explain_ops(con, sql: str) -> list[tuple[int, str, float, int]]:
    j = json.loads(con.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql).fetchall()[0][1])
    out: list[tuple[int, str, float, int]] = []

    def walk(n: dict, depth: int) -> None:
        if n["name"] not in ("RESULT_COLLECTOR", "EXPLAIN_ANALYZE"):
            out.append((depth, n["name"], n.get("timing", 0.0), n.get("intermediate_rows", 0)))
            depth += 1
        for c in n.get("children", []):
            walk(c, depth)

    for n in j["operator"]:
        walk(n, 0)
    return out


def segc_sql_variants(em, entity: str, segs: list) -> dict[str, str]:
    """segc's count query with one emission choice changed at a time (sqlglot tree rewrites)."""
    from sqlglot import exp

    def unwrap(e):  # COUNT_IF(COALESCE(p, FALSE)) -> COUNT_IF(p): COUNT_IF skips NULLs already
        for ci in list(e.find_all(exp.CountIf)):
            c = ci.this
            if (isinstance(c, exp.Coalesce) and len(c.expressions) == 1
                    and isinstance(c.expressions[0], exp.Boolean) and not c.expressions[0].this):
                c.replace(c.this)
        return e

    def ilike(e):  # LOWER(x) LIKE LOWER('p') ESCAPE '!' -> x ILIKE 'p' (LIKE if p has no letters)
        for esc in list(e.find_all(exp.Escape)):
            lk = esc.this
            if (isinstance(lk, exp.Like) and isinstance(lk.this, exp.Lower) and isinstance(lk.expression, exp.Lower)
                    and isinstance(lk.expression.this, exp.Literal) and "!" not in lk.expression.this.this):
                pat = lk.expression.this.this
                cls = exp.ILike if any(ch.isalpha() for ch in pat) else exp.Like
                esc.replace(cls(this=lk.this.this, expression=exp.Literal.string(pat)))
        return e

    def count_case(e):  # in the pre-aggregation: COUNT_IF(p) -> COUNT(CASE WHEN p THEN 1 END)
        for sub in e.find_all(exp.Subquery):
            for ci in list(sub.find_all(exp.CountIf)):
                ci.replace(exp.Count(this=exp.Case(ifs=[exp.If(this=ci.this.copy(), true=exp.Literal.number(1))])))
        return e

    def sql(*fs) -> str:
        e = em.count_query(entity, segs)
        for f in fs:
            e = f(e)
        return em.dialect.sql(e, pretty=False)

    return {"segc as emitted": sql(),
            "segc, COUNT_IF without COALESCE(p, FALSE)": sql(unwrap),
            "segc, ILIKE/LIKE instead of LOWER() LIKE LOWER() ESCAPE": sql(ilike),
            "segc, pre-aggregation COUNT(CASE WHEN p THEN 1 END)": sql(count_case),
            "segc, all three": sql(unwrap, ilike, count_case)}


def run_variants(db: Path, variants: dict[str, str], rounds: int, ids: list[str],
                 segc_ids: list[str]) -> dict[str, list[float]]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    con.execute("SET threads=2")

    def counts(k: str) -> dict[str, int]:
        order = ids if k.startswith("hand") else segc_ids  # hand columns follow `ids`, segc's its own order
        return dict(zip(order, (int(x or 0) for x in con.execute(variants[k]).fetchone()), strict=True))

    ref = counts("hand (b)")
    for k in variants:
        if not k.startswith("pre-aggregation only") and counts(k) != ref:
            raise SystemExit(f"variant '{k}' gives different counts")
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(rounds):
        for k, v in variants.items():
            t = time.perf_counter()
            con.execute(v).fetchall()
            times[k].append(time.perf_counter() - t)
    con.close()
    return times


# =================================================================================================
# main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sf", type=float, default=None, help="TPC-H scale factor (default 1; 0.1 with --quick)")
    ap.add_argument("--rounds", type=int, default=None, help="timed rounds, median reported (default 5; 1 with --quick)")
    ap.add_argument("--segments", type=int, default=100, help="segments to count (default 100)")
    ap.add_argument("--compile-segments", type=int, default=None,
                    help="segments to compile (default 1000; 200 with --quick)")
    ap.add_argument("--data-dir", type=Path, default=None, help="cache folder (default benchmarks/.data/sfN)")
    ap.add_argument("--quick", action="store_true", help="smoke run: SF0.1, 1 round, 200 compile segments")
    ap.add_argument("--skip-naive", action="store_true", help="do not time (c), the per-segment queries")
    ap.add_argument("--skip-compile", action="store_true", help="do not time compiling")
    ap.add_argument("--explain", action="store_true",
                    help="EXPLAIN ANALYZE segc's and the hand-written query: per-operator times in the report")
    ap.add_argument("--variants", action="store_true",
                    help="time segc's SQL with single emission choices changed (in-process, warm)")
    ap.add_argument("--_runner", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._runner:
        return runner(args._runner)

    sf = args.sf if args.sf is not None else (0.1 if args.quick else 1.0)
    rounds = args.rounds if args.rounds is not None else (1 if args.quick else 5)
    n_compile = args.compile_segments if args.compile_segments is not None else (200 if args.quick else 1000)
    data_dir = (args.data_dir or HERE / ".data" / sf_label(sf)).resolve()

    import duckdb

    from segc.compiler import Emitter, load_project
    from segc.dialects import get_dialect

    db = ensure_data(data_dir, sf)
    with duckdb.connect(str(db), read_only=True) as con:
        n_customers = con.execute("SELECT count(*) FROM tpch.customer").fetchone()[0]
        n_orders = con.execute("SELECT count(*) FROM tpch.orders").fetchone()[0]

    # -- project, segments, SQL -------------------------------------------------------------------
    project_dir = data_dir / "project"
    segs = generate_segments(args.segments)
    write_project(project_dir, segs)
    flat = flatten(segs)
    ids = [i for i, _ in flat]
    assert len(ids) == args.segments == len(set(ids)), (len(ids), args.segments)
    project, _ = load_project(project_dir)
    if sorted(s.id for s in project.segments) != sorted(ids):
        raise SystemExit("segc's segment ids differ from the benchmark's: "
                         f"{sorted(set(s.id for s in project.segments) ^ set(ids))[:10]}")
    single_sql, naive_sqls = hand_sql(flat)
    em = Emitter(project, get_dialect("duckdb"), AS_OF)
    groups = em.by_entity(project.segments)
    assert list(groups) == ["customer"], list(groups)
    segc_segs = groups["customer"]
    segc_ids = [s.id for s in segc_segs]
    segc_sql = em.dialect.sql(em.count_query("customer", segc_segs), pretty=False)

    sql_dir = data_dir / "sql"
    sql_dir.mkdir(exist_ok=True)
    (sql_dir / "hand_single.sql").write_text(single_sql + ";\n")
    (sql_dir / "hand_naive.sql").write_text(";\n".join(naive_sqls) + ";\n")
    (sql_dir / "segc_count.sql").write_text(em.dialect.sql(em.count_query("customer", segc_segs)) + ";\n")
    payloads = {}
    for key, payload in (("hand", {"sql": single_sql}), ("segc_sql", {"sql": segc_sql}),
                         ("naive", {"queries": naive_sqls})):
        p = sql_dir / f"{key}.json"
        p.write_text(json.dumps(payload))
        payloads[key] = str(p)

    py = sys.executable
    segc = segc_bin()
    as_of = AS_OF.isoformat()
    strategies: dict[str, list[str]] = {
        "segc": [segc, "count", "-p", str(project_dir), "--db", str(db), "--as-of", as_of,
                 "--format", "json", "--show-empty"],
        "hand": [py, "-c", QUERY_WORKER, str(db), payloads["hand"]],
        "naive": [py, "-c", QUERY_WORKER, str(db), payloads["naive"]],
        "segc_sql": [py, "-c", QUERY_WORKER, str(db), payloads["segc_sql"]],
        "phases": [py, "-c", PHASE_WORKER, str(project_dir), str(db), as_of],
        "py_bare": [py, "-c", "pass"],
        "py_duckdb": [py, "-c", "import duckdb"],
        "py_segc": [py, "-c", "import segc.cli, segc.engines.run, segc.engines.duckdb, segc.render"],
        "py_segc_nopyc": [py, "-c", "import segc.cli, segc.engines.run, segc.engines.duckdb, segc.render"],
    }
    if args.skip_naive:
        del strategies["naive"]
    compile_plan = None
    if not args.skip_compile:
        cproj = data_dir / f"project_{n_compile}"
        write_project(cproj, generate_segments(n_compile))
        compile_plan = {
            "segments": n_compile,
            "worker": [py, "-c", COMPILE_WORKER, str(cproj)],
            "worker_gc": [py, "-c", COMPILE_WORKER, str(cproj), "gc"],
            "cli": [segc, "compile", "-p", str(cproj), "--dialect", "duckdb", "--as-of", as_of,
                    "--out", str(data_dir / "compiled")],
            "cli3": [segc, "compile", "-p", str(cproj), "--dialect", "duckdb", "--dialect", "postgres",
                     "--dialect", "snowflake", "--as-of", as_of, "--out", str(data_dir / "compiled3")],
        }
    plan = {"ids": ids, "segc_ids": segc_ids, "rounds": rounds, "strategies": strategies,
            "counted": ["segc", "hand", "naive", "segc_sql", "phases"], "compile": compile_plan,
            "results": str(data_dir / "runner_results.json"),
            "pycache": str(data_dir.parent / "pycache"), "no_pycache": ["py_segc_nopyc"]}
    plan_path = data_dir / "plan.json"
    plan_path.write_text(json.dumps(plan))

    log(f"{len(ids)} segments; {n_customers:,} customers, {n_orders:,} orders; {rounds} rounds")
    rc = subprocess.run([py, str(Path(__file__).resolve()), "--_runner", str(plan_path)]).returncode
    if rc != 0:
        return rc
    runner_out = json.loads(Path(plan["results"]).read_text())
    res, comp = runner_out["results"], runner_out["compile"]
    bars = runner_out.get("progress_bars", {}).get("segc", 0)

    # -- in-process diagnostics ------------------------------------------------------------------
    plans = None
    if args.explain:
        with duckdb.connect(str(db), read_only=True) as con:
            con.execute("SET threads=2")
            plans = {}
            for name, sql in (("hand", single_sql), ("segc", segc_sql)):
                con.execute(sql).fetchall()
                plans[name] = explain_ops(con, sql)
                text = con.execute("EXPLAIN ANALYZE " + sql).fetchall()
                (sql_dir / f"explain_{name}.txt").write_text("\n".join(r[-1] for r in text))
    variant_times = None
    if args.variants:
        single_countif, _ = hand_sql(flat, preagg_count="count_if({})")
        variants = {"hand (b)": single_sql,
                    "hand (b), pre-aggregation with count_if": single_countif,
                    **segc_sql_variants(em, "customer", segc_segs)}
        pre_hand = single_sql.split("\n)\nSELECT")[0].removeprefix("WITH o AS (")
        variants["pre-aggregation only: hand (b)"] = f"SELECT max(COLUMNS(*)) FROM ({pre_hand})"
        from sqlglot import exp
        sub = em.count_query("customer", segc_segs).find(exp.Subquery).this
        variants["pre-aggregation only: segc"] = f"SELECT max(COLUMNS(*)) FROM ({em.dialect.sql(sub, pretty=False)})"
        variants["pre-aggregation only: GROUP BY with count(*) alone"] = (
            "SELECT max(COLUMNS(*)) FROM (SELECT o_custkey, count(*) FROM tpch.orders GROUP BY o_custkey)")
        log(f"variants: {len(variants)} queries x {max(rounds, 7)} rounds, in-process")
        variant_times = run_variants(db, variants, max(rounds, 7), ids, segc_ids)

    # -- report ------------------------------------------------------------------------------------
    info = machine_info(sf)
    ref_query = median(res["hand"]["query"])

    def ratio(key: str) -> str:
        # median of within-round ratios: robust to machine-wide drift between rounds
        rs = [a / b for a, b in zip(res[key]["wall"], res["hand"]["wall"])]
        return f"{median(rs):.2f}x"

    label = {
        "segc": "a. `segc count --format json` (subprocess, end to end)",
        "hand": "b. hand-written single query (`python -c`, end to end)",
        "naive": f"c. {len(ids)} hand-written per-segment queries (`python -c`, end to end)",
        "segc_sql": "diag: segc's emitted SQL, run like (b)",
        "py_bare": "diag: `python -c pass`",
        "py_duckdb": "diag: `python -c \"import duckdb\"`",
        "py_segc": "diag: `python -c \"import segc.cli ...\"` (what `segc count` imports)",
        "py_segc_nopyc": "diag: the same, PYTHONDONTWRITEBYTECODE=1 as on this machine (segc recompiled each run)",
    }
    L: list[str] = []
    L.append(f"## segc count vs hand-written SQL: TPC-H SF{sf:g}, {len(ids)} segments, "
             f"median of {rounds} warm rounds\n")
    L.append(f"{n_customers:,} customers, {n_orders:,} orders; `--as-of {as_of}`; DuckDB threads=2.\n")
    L.append("| strategy | median wall | x (b) wall | query only | x (b) query | peak RSS |")
    L.append("|---|---:|---:|---:|---:|---:|")
    for key in ["segc", "hand", "naive", "segc_sql", "py_bare", "py_duckdb", "py_segc", "py_segc_nopyc"]:
        if key not in res or not res[key]["wall"]:
            continue
        qmed = median(res[key]["query"]) if res[key]["query"] else float("nan")
        if key == "segc":
            qmed = median([p["query"] for p in res["phases"]["phases"]])
        qratio = f"{qmed / ref_query:.2f}x" if qmed == qmed else "-"
        L.append(f"| {label[key]} | {fmt_s(median(res[key]['wall']))} | {ratio(key)} | {fmt_s(qmed)} | {qratio} "
                 f"| {fmt_mb(max(res[key]['rss']))} |")
    L.append("")
    L.append("Query only: time inside the process around execute+fetch (for (a): the query step of the "
             "breakdown below). Ratios: medians of within-round ratios. Peak RSS: the largest of the rounds. "
             "Every strategy returned the same count for every segment. Child processes use a bytecode cache "
             "(PYTHONPYCACHEPREFIX under benchmarks/.data/) except the last row; RSS has a floor of the "
             "spawning runner's own ~20 MB (Linux carries it into a child's ru_maxrss at exec).\n")
    if bars:
        L.append(f"**Note:** in {bars} of {rounds + 1} runs, `segc count --format json` printed DuckDB's progress bar "
                 "to stdout ahead of the JSON (DuckDB's `enable_progress_bar` is on by default; queries over 2 s).\n")

    ph = res["phases"]["phases"]
    L.append("### Where `segc count` spends its time (its steps, timed inside one process)\n")
    L.append("| step | median |")
    L.append("|---|---:|")
    steps = [("interpreter start (`python -c pass`)", median(res["py_bare"]["wall"])),
             ("import segc.cli + engine (click, sqlglot, yaml, duckdb)", median([p["import"] for p in ph])),
             ("  of which duckdb (`import duckdb` minus `pass`)",
              median(res["py_duckdb"]["wall"]) - median(res["py_bare"]["wall"])),
             ("load + check project (YAML -> IR)", median([p["load_check"] for p in ph])),
             ("open DuckDB file", median([p["connect"] for p in ph])),
             ("emit count SQL (IR -> sqlglot -> text; count_segments minus its query)",
              median([p["emit_sql"] for p in ph])),
             ("run the query", median([p["query"] for p in ph]))]
    for name, v in steps:
        L.append(f"| {name} | {fmt_s(v)} |")
    L.append(f"| (the breakdown process, end to end) | {fmt_s(median(res['phases']['wall']))} |")
    L.append("")

    if plans:
        L.append("### EXPLAIN ANALYZE (one warm run each; operator time as DuckDB reports it)\n")
        h, s_ = plans["hand"], plans["segc"]
        if [(d, n) for d, n, _, _ in h] == [(d, n) for d, n, _, _ in s_]:
            L.append("| operator | rows | hand (b) | segc |")
            L.append("|---|---:|---:|---:|")
            for (d, n, th, rows), (_, _, ts, _) in zip(h, s_):
                L.append(f"| {'. ' * d}{n} | {rows:,} | {th * 1000:.1f} ms | {ts * 1000:.1f} ms |")
        else:
            for name, ops in plans.items():
                L.append(f"{name}:\n")
                L.append("| operator | rows | time |")
                L.append("|---|---:|---:|")
                for d, n, t, rows in ops:
                    L.append(f"| {'. ' * d}{n} | {rows:,} | {t * 1000:.1f} ms |")
        L.append("")

    if variant_times:
        vr = max(rounds, 7)
        L.append(f"### The query alone, in one warm connection ({vr} interleaved rounds)\n")
        L.append("| query | median | x hand (b) |")
        L.append("|---|---:|---:|")
        base = variant_times["hand (b)"]
        for k, ts in variant_times.items():
            L.append(f"| {k} | {fmt_s(median(ts))} | {median([a / b for a, b in zip(ts, base)]):.2f}x |")
        L.append("")

    if comp["worker"]:
        W = comp["worker"]

        def mw(k: str) -> float:
            return median([w[k] for w in W])
        L.append(f"### Compiling {W[0]['segments']} segments (every view + segment_membership + segment_counts)\n")
        L.append("| step | median |")
        L.append("|---|---:|")
        L.append(f"| import segc.compiler + dialects | {fmt_s(mw('import'))} |")
        L.append(f"| load + check (once) | {fmt_s(mw('load_check'))} |")
        for d in ("duckdb", "postgres", "snowflake"):
            L.append(f"| generate {d}: trees {fmt_s(mw(d + '_trees'))} + SQL text {fmt_s(mw(d + '_sql'))} "
                     f"({mw(d + '_chars') / 1e6:.2f} M chars, {mw(d + '_summary_chars') / 1e6:.2f} M of them "
                     f"segment_membership + segment_counts) | {fmt_s(mw(d))} |")
        one = median([w["load_check"] + w["duckdb"] for w in W])
        three = median([w["load_check"] + w["duckdb"] + w["postgres"] + w["snowflake"] for w in W])
        L.append(f"| library, one dialect (load + duckdb) | {fmt_s(one)} |")
        L.append(f"| library, three dialects (load + duckdb + postgres + snowflake) | {fmt_s(three)} |")
        G = comp["gc"]
        L.append(f"| diag: library, one dialect with the garbage collector running: load "
                 f"{fmt_s(median([g['load_check'] for g in G]))} + trees {fmt_s(median([g['duckdb_trees'] for g in G]))}"
                 f" + SQL text {fmt_s(median([g['duckdb_sql'] for g in G]))} | "
                 f"{fmt_s(median([g['load_check'] + g['duckdb'] for g in G]))} |")
        L.append(f"| library process peak RSS (all three dialects) | {fmt_mb(max(comp['worker_rss']))} |")
        L.append(f"| **`segc compile --dialect duckdb --out DIR`**, subprocess end to end | "
                 f"**{fmt_s(median(comp['cli']))}** (peak RSS {fmt_mb(max(comp['cli_rss']))}) |")
        L.append(f"| **`segc compile --dialect duckdb --dialect postgres --dialect snowflake --out DIR`**, "
                 f"subprocess end to end | **{fmt_s(median(comp['cli3']))}** (peak RSS {fmt_mb(max(comp['cli3_rss']))}) |")
        L.append("")

    L.append("### Machine\n")
    L.append("| | |")
    L.append("|---|---|")
    for k in ("cpu", "cores", "ram", "python", "duckdb", "sqlglot", "sf", "date", "segc_commit", "platform"):
        L.append(f"| {k} | {info[k]} |")
    report = "\n".join(L) + "\n"
    print(report)
    (data_dir / "results.md").write_text(report)
    (data_dir / "results.json").write_text(json.dumps(
        {"machine": info, "rounds": rounds, "segments": len(ids), "results": res, "compile": comp,
         "variants": variant_times}, indent=1, default=str))
    log(f"written {data_dir / 'results.md'}; SQL in {sql_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
