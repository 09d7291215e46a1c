"""Random worlds for the differential property tests: a model with fields of every type and
has_many / belongs_to relations (with SQL reserved words and mixed case as column names), rows
full of NULLs, blanks, quotes, LIKE wildcards, unicode, day edges and month ends, and condition
trees up to depth 4 using every operator. Shared by tests/test_properties.py and tests/soak.py."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal

import yaml
from hypothesis import strategies as st

from segc.warehouse import Table

# column names: the SQL must quote them all correctly
COLUMN_POOL = ["order", "select", "Group", "user", "from", "MixedCase", "value", "x_1", "name", "when",
               "desc", "limit", "table", "Check", "end", "key", "UPPER", "camelCase", "offset", "default"]
TEXT_ALPHABET = "aAbZ%_\\'!\" é日ß-"
PERIODS = ["today", "yesterday", "tomorrow", "this_week", "last_week", "next_week", "this_month",
           "last_month", "next_month", "this_quarter", "last_quarter", "next_quarter", "this_year",
           "last_year", "next_year"]
UNITS = ["day", "days", "week", "weeks", "month", "months", "quarter", "quarters", "year", "years"]
TAGS = ["vip", "VIP", "new", "a%b", "x_y", "日本"]
REGIONS = ["east", "west", "NO"]


class NoAliases(yaml.SafeDumper):
    """YAML without anchors: hypothesis may hand us the same object twice."""

    def ignore_aliases(self, data):
        return True


@dataclass
class World:
    model: str  # segc.yml text
    tables: list[Table]
    conditions: list[str]  # YAML flow mappings on entity m
    as_of: dt.date
    enum_values: tuple[str, ...] = ()
    probe_days: int = 7  # a row's date lies exactly this many days before as_of


# -- values ---------------------------------------------------------------------------------------

texts = st.text(alphabet=TEXT_ALPHABET, min_size=1, max_size=6)
stored_texts = st.one_of(st.none(), st.just(""), st.just("  "), texts)
numbers = st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False, allow_infinity=False)
stored_numbers = st.one_of(st.none(), numbers, st.sampled_from([Decimal("0"), Decimal("-0.01")]))
days = st.one_of(
    st.dates(min_value=dt.date(1998, 1, 1), max_value=dt.date(2032, 12, 31)),
    st.sampled_from([dt.date(2000, 2, 29), dt.date(2024, 2, 29), dt.date(2023, 12, 31), dt.date(2024, 1, 1),
                     dt.date(2024, 1, 31), dt.date(2024, 3, 31), dt.date(2024, 4, 30)]),
)
times = st.sampled_from([dt.time(0, 0), dt.time(23, 59, 59, 999000), dt.time(12, 0), dt.time(0, 0, 0, 1000)])


@st.composite
def near(draw, anchor: dt.date) -> dt.date:
    """Most dates near the as-of day, so relative operators and periods have something to split."""
    if draw(st.booleans()):
        return draw(days)
    return anchor + dt.timedelta(days=draw(st.integers(-400, 400)))


@st.composite
def stored_date(draw, anchor):
    return draw(st.one_of(st.none(), near(anchor)))


@st.composite
def stored_ts(draw, anchor):
    if draw(st.integers(0, 6)) == 0:
        return None
    return dt.datetime.combine(draw(near(anchor)), draw(times))


stored_lists = st.one_of(st.none(), st.just([]), st.lists(st.sampled_from(TAGS), min_size=1, max_size=3))


# -- the world ------------------------------------------------------------------------------------


@st.composite
def worlds(draw, n_conditions: int = 4) -> World:
    as_of = draw(st.dates(min_value=dt.date(1999, 1, 1), max_value=dt.date(2031, 12, 31)))
    cols = draw(st.permutations(COLUMN_POOL))
    enum_values = draw(st.lists(st.sampled_from(["A", "B", "NO", "yes", "007", "a b", "O'Neil", "%"]),
                                min_size=1, max_size=4, unique=True))
    timezone = draw(st.sampled_from([None, None, "Asia/Tokyo", "America/New_York"]))
    keys = ["s", "e", "n", "b", "d", "ts", "l", "j", "g", "owner", "rk", "rfk", "rst", "rat", "ramt", "gk", "gregion"]
    c = dict(zip(keys, cols))
    model = f"""
version: 1
{"timezone: " + timezone if timezone else ""}
entities:
  m:
    table: prop.main
    key: id
    owner: {c['owner']}
    fields:
      s:  {{type: string, column: {c['s']}}}
      e:  {{type: enum, column: {c['e']}, values: {json.dumps(enum_values)}}}
      n:  {{type: number, column: {c['n']}}}
      b:  {{type: boolean, column: {c['b']}}}
      d:  {{type: date, column: {c['d']}}}
      ts: {{type: timestamp, column: {c['ts']}}}
      l:  {{type: string_list, column: {c['l']}}}
      js: {{type: string, json: {c['j']}}}
      jn: {{type: number, json: {c['j']}, path: num}}
      jb: {{type: boolean, json: {c['j']}, path: flag}}
      jd: {{type: date, json: {c['j']}, path: deep.day}}
      region: {{relation: grp, of: region}}
      r_count: {{aggregate: count, relation: rs, where: {{status: won}}}}
      r_sum:   {{aggregate: sum, relation: rs, of: amount}}
      r_last:  {{aggregate: max, relation: rs, of: at}}
      r_first: {{aggregate: min, relation: rs, of: amount}}
      r_kinds: {{aggregate: count_distinct, relation: rs, of: status}}
    relations:
      rs:  {{has_many: r, foreign_key: {c['rfk']}}}
      grp: {{belongs_to: g, column: {c['g']}}}
  r:
    table: prop.rel
    key: {c['rk']}
    fields:
      status: {{type: enum, column: {c['rst']}, values: [won, lost]}}
      at:     {{type: timestamp, column: {c['rat']}}}
      amount: {{type: number, column: {c['ramt']}}}
      m_rank: {{relation: m, of: e}}
    relations:
      m: {{belongs_to: m, column: {c['rfk']}}}
  g:
    table: prop.grp
    key: {c['gk']}
    fields:
      region: {{type: enum, column: {c['gregion']}, values: {json.dumps(REGIONS)}}}
"""
    n_main = draw(st.integers(1, 12))
    codes = ["g1", "g2", "g3"]
    main_rows = []
    for key in range(1, n_main + 1):
        payload = draw(st.one_of(st.none(), st.fixed_dictionaries({}, optional={
            "js": st.one_of(st.none(), stored_texts.filter(lambda v: v is not None)),
            "num": st.one_of(st.none(), st.integers(-50, 50), st.sampled_from([2.5, -0.25])),
            "flag": st.one_of(st.none(), st.booleans()),
            "deep": st.fixed_dictionaries({}, optional={"day": near(as_of).map(dt.date.isoformat)}),
        })))
        main_rows.append((key, draw(stored_texts), draw(st.one_of(st.none(), st.just(" "), st.just("Zz"), st.sampled_from(enum_values))),
                          draw(stored_numbers), draw(st.one_of(st.none(), st.booleans())), draw(stored_date(as_of)),
                          draw(stored_ts(as_of)), draw(stored_lists), payload,
                          draw(st.one_of(st.none(), st.sampled_from(codes + ["zz"]))),
                          draw(st.one_of(st.none(), st.sampled_from(["ann", "bob", ""])))))
    # one row on each side of the partition probe's boundary day (see world_check.derived)
    probe_days = draw(st.integers(1, 40))
    edge = as_of - dt.timedelta(days=probe_days)
    for i, (d, ts) in enumerate([(edge, dt.datetime.combine(edge, dt.time(23, 59, 59, 999000))),
                                 (edge + dt.timedelta(days=1), dt.datetime.combine(edge + dt.timedelta(days=1), dt.time()))]):
        if i < len(main_rows):
            row = list(main_rows[i])
            row[5], row[6] = d, ts
            main_rows[i] = tuple(row)
    main = Table("main", (("id", "int"), (c["s"], "text"), (c["e"], "text"), (c["n"], "decimal"), (c["b"], "bool"),
                          (c["d"], "date"), (c["ts"], "timestamp"), (c["l"], "text[]"), (c["j"], "json"),
                          (c["g"], "text"), (c["owner"], "text")), tuple(main_rows))
    n_rel = draw(st.integers(0, 14))
    rel_rows = tuple((k, draw(st.one_of(st.none(), st.integers(1, max(n_main, 1) + 1))),
                      draw(st.one_of(st.none(), st.sampled_from(["won", "lost", "  "]))),
                      draw(stored_ts(as_of)), draw(stored_numbers)) for k in range(1, n_rel + 1))
    rel = Table("rel", ((c["rk"], "int"), (c["rfk"], "int"), (c["rst"], "text"), (c["rat"], "timestamp"),
                        (c["ramt"], "decimal")), rel_rows)
    grp_rows = tuple((code, draw(st.one_of(st.none(), st.sampled_from(REGIONS)))) for code in codes
                     if draw(st.booleans()))
    grp = Table("grp", ((c["gk"], "text"), (c["gregion"], "text")), grp_rows)
    conditions = [yaml.dump(draw(condition(enum_values, as_of, 4)), Dumper=NoAliases, default_flow_style=True,
                            allow_unicode=True, width=10_000).strip() for _ in range(n_conditions)]
    return World(model, [main, rel, grp], conditions, as_of, tuple(enum_values), probe_days)


# -- conditions -----------------------------------------------------------------------------------


def _s(v) -> str:
    return str(v)


@st.composite
def date_value(draw, as_of):
    if draw(st.booleans()):
        return draw(near(as_of)).isoformat()
    sign = draw(st.sampled_from(["+", "-"]))
    return f"today {sign} {draw(st.integers(0, 40))} {draw(st.sampled_from(UNITS))}"


@st.composite
def date_test(draw, as_of):
    op = draw(st.sampled_from(["=", "!=", ">", ">=", "<", "<=", "between", "in_period", "within_last",
                               "at_least_ago", "within_next", "at_least_ahead", "is_empty"]))
    if op == "between":
        a, b = sorted([draw(near(as_of)), draw(near(as_of))])
        return {op: [a.isoformat(), b.isoformat()]}
    if op == "in_period":
        return {op: draw(st.sampled_from(PERIODS))}
    if op in ("within_last", "at_least_ago", "within_next", "at_least_ahead"):
        return {op: f"{draw(st.integers(1, 40))} {draw(st.sampled_from(UNITS))}"}
    if op == "is_empty":
        return {op: _s(draw(st.booleans())).lower()}
    return {op: draw(date_value(as_of))}


@st.composite
def number_test(draw):
    op = draw(st.sampled_from(["=", "!=", ">", ">=", "<", "<=", "between", "in", "not_in", "is_empty"]))
    if op == "between":
        a, b = sorted([draw(numbers), draw(numbers)])
        return {op: [_s(a), _s(b)]}
    if op in ("in", "not_in"):
        return {op: [_s(v) for v in draw(st.lists(numbers, min_size=1, max_size=3))]}
    if op == "is_empty":
        return {op: _s(draw(st.booleans())).lower()}
    return {op: _s(draw(st.one_of(numbers, st.sampled_from([Decimal(0), Decimal(1), Decimal(2)]))))}


@st.composite
def text_test(draw, values=None):
    ops = ["=", "!=", "in", "not_in", "is_empty"]
    if values is None:
        ops += ["contains", "not_contains", "starts_with", "ends_with"]
    op = draw(st.sampled_from(ops))
    pick = st.sampled_from(values) if values is not None else texts.filter(lambda t: t.strip(" ") != "")
    if op in ("in", "not_in"):
        return {op: draw(st.lists(pick, min_size=1, max_size=3))}
    if op == "is_empty":
        return {op: _s(draw(st.booleans())).lower()}
    return {op: draw(pick)}


@st.composite
def list_test(draw):
    op = draw(st.sampled_from(["contains_any", "contains_all", "contains_none", "is_empty"]))
    if op == "is_empty":
        return {op: _s(draw(st.booleans())).lower()}
    return {op: draw(st.lists(st.sampled_from(TAGS), min_size=1, max_size=3))}


@st.composite
def field_condition(draw, enum_values, as_of):
    field = draw(st.sampled_from(["s", "e", "n", "b", "d", "ts", "l", "js", "jn", "jb", "jd", "region",
                                  "r_count", "r_sum", "r_last", "r_first", "r_kinds"]))
    if field in ("s", "js"):
        test = draw(text_test())
    elif field == "e":
        test = draw(text_test(enum_values))
    elif field == "region":
        test = draw(text_test(REGIONS))
    elif field in ("n", "jn", "r_count", "r_sum", "r_first", "r_kinds"):
        test = draw(number_test())
    elif field in ("b", "jb"):
        test = draw(st.one_of(st.just({"=": "true"}), st.just({"=": "false"}), st.just({"is_empty": "true"})))
    elif field in ("d", "ts", "jd", "r_last"):
        test = draw(date_test(as_of))
    else:
        test = draw(list_test())
    return {field: test}


@st.composite
def rel_condition(draw, as_of):
    kind = draw(st.sampled_from(["status", "at", "amount", "m_rank"]))
    if kind == "status":
        return {"status": draw(text_test(["won", "lost"]))}
    if kind == "at":
        return {"at": draw(date_test(as_of))}
    if kind == "m_rank":
        return {"m_rank": {"is_empty": "false"}}
    return {"amount": draw(number_test())}


def condition(enum_values, as_of, depth: int):
    leaf = st.one_of(
        field_condition(enum_values, as_of),
        st.builds(lambda w, c: {"has": {"rs": {"where": w, "count": c}}},
                  rel_condition(as_of), st.one_of(st.just("0"), st.just({">=": "1"}), st.just({">=": "2"}),
                                                  st.just({"between": ["1", "2"]}))),
    )
    if depth <= 1:
        return leaf
    sub = condition(enum_values, as_of, depth - 1)
    return st.one_of(
        leaf, leaf,
        st.builds(lambda xs: {"all": xs}, st.lists(sub, min_size=1, max_size=3)),
        st.builds(lambda xs: {"any": xs}, st.lists(sub, min_size=1, max_size=3)),
        st.builds(lambda x: {"not": x}, sub),
    )
