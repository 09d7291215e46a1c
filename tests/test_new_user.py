"""segc tried as a new user would: my own warehouse, my own model and segments, the real CLI.

Nothing here uses the fixture warehouse or the example project. A small loyalty-programme schema
(`shop.members`, `shop.purchases`, `shop.regions`) is built by hand with plain SQL in a DuckDB
file, a project is written from scratch, and the installed `segc` command is run in a subprocess:
validate -> compile --out -> apply -> count -> members, always with a fixed --as-of.

Every expected member set below was worked out by hand from the rows in WAREHOUSE_SQL (the
reasoning is written next to each set); none of them comes from segc.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

AS_OF = "2024-07-10"  # a Wednesday; this week runs Mon 2024-07-08 .. Sun 2024-07-14
# within_last 7 days  -> dates 2024-07-04 .. 2024-07-10
# within_last 30 days -> dates 2024-06-11 .. 2024-07-10
# at_least_ago 30 days -> dates on or before 2024-06-10

WAREHOUSE_SQL = r"""
CREATE SCHEMA shop;
CREATE TABLE shop.regions (code VARCHAR, area VARCHAR);
INSERT INTO shop.regions VALUES ('N1', 'north'), ('S1', 'south'), ('OV', 'overseas'), ('XX', NULL);

CREATE TABLE shop.members (
    member_id   INTEGER,
    full_name   VARCHAR,
    tier        VARCHAR,
    signup_date DATE,
    last_login  TIMESTAMP,
    salesperson VARCHAR,
    points      INTEGER,
    interests   VARCHAR[],
    prefs       JSON,
    region_code VARCHAR
);
INSERT INTO shop.members VALUES
 (1,  'Ada',  'gold',   DATE '2024-07-10', TIMESTAMP '2024-07-10 00:00:00',     'anna', 100,  ['hiking', 'books'],  '{"newsletter": true, "channel": "email"}',  'N1'),
 (2,  'Ben',  'gold',   DATE '2024-06-11', TIMESTAMP '2024-06-10 23:59:59.999', 'bob',  50,   ['cooking'],          '{"newsletter": false, "channel": "email"}', 'S1'),
 (3,  'Cy',   'silver', DATE '2024-06-10', TIMESTAMP '2024-06-11 00:00:00',     'anna', NULL, [],                   '{"channel": "sms"}',                        'N1'),
 (4,  'Dee',  'gold',   NULL,              NULL,                                NULL,   0,    NULL,                 NULL,                                        'OV'),
 (5,  'Eve',  '',       DATE '2024-07-01', TIMESTAMP '2024-07-09 12:00:00',     '',     20,   ['swimming'],         '{}',                                        NULL),
 (6,  'Fay',  '  ',     DATE '2023-01-01', TIMESTAMP '2024-07-10 23:59:59.999', 'anna', 5,    ['hiking'],           '{"channel": ""}',                           'XX'),
 (7,  'Gus',  'bronze', DATE '2024-06-20', TIMESTAMP '2024-05-01 08:00:00',     'bob',  300,  ['books', 'hiking'],  '{"newsletter": true, "channel": "sms"}',    'S1'),
 (8,  'Hal',  NULL,     DATE '2024-07-10', TIMESTAMP '2024-07-03 23:59:59.999', 'bob',  10,   NULL,                 NULL,                                        'N1'),
 (9,  'Ivy',  'gold',   DATE '2024-02-29', TIMESTAMP '2024-07-04 00:00:00',     'anna', 75,   ['travel'],           '{"newsletter": true, "channel": "email"}',  'N1'),
 (10, '',     'silver', DATE '2024-06-11', TIMESTAMP '2024-06-10 00:00:00',     '   ',  40,   ['books'],            '{"newsletter": null, "channel": "email"}',  ''),
 (11, NULL,   'gold',   DATE '2024-06-15', TIMESTAMP '2024-07-10 12:00:00',     'anna', 60,   ['hiking', 'travel'], '{"channel": " "}',                          'S1'),
 (12, 'Lou',  'bronze', DATE '2024-07-11', NULL,                                'cat',  15,   [],                   '{"newsletter": false}',                     'OV');

CREATE TABLE shop.purchases (
    purchase_id INTEGER,
    member_id   INTEGER,
    bought_at   TIMESTAMP,
    total       DECIMAL(10, 2),
    state       VARCHAR
);
INSERT INTO shop.purchases VALUES
 (101, 1,  TIMESTAMP '2024-07-04 00:00:00',     20.00,  'paid'),      -- first day of the last 7
 (102, 1,  TIMESTAMP '2024-05-01 10:00:00',     35.50,  'paid'),
 (103, 2,  TIMESTAMP '2024-07-03 23:59:59.999', 99.99,  'paid'),      -- 1 ms before the last 7 days
 (104, 2,  TIMESTAMP '2024-07-05 10:00:00',     10.00,  'refunded'),
 (105, 3,  TIMESTAMP '2024-07-10 23:59:59.999', 5.00,   'pending'),
 (106, 5,  TIMESTAMP '2024-07-10 23:59:59.999', 12.00,  'paid'),      -- last ms of today
 (107, 5,  TIMESTAMP '2024-06-01 00:00:00',     8.00,   'paid'),
 (108, 5,  TIMESTAMP '2024-06-02 00:00:00',     1.00,   'paid'),
 (109, 7,  TIMESTAMP '2024-07-11 00:00:00',     50.00,  'paid'),      -- tomorrow
 (110, 9,  TIMESTAMP '2024-01-15 09:00:00',     200.00, 'refunded'),
 (111, 11, TIMESTAMP '2024-07-09 00:00:00',     NULL,   'paid'),
 (112, 11, TIMESTAMP '2024-03-01 00:00:00',     40.00,  'refunded'),
 (113, 99, TIMESTAMP '2024-07-08 00:00:00',     5.00,   'paid'),      -- no such member
 (114, 8,  TIMESTAMP '2024-07-06 12:00:00',     30.00,  NULL)         -- state unknown
;
"""

# Owner (salesperson) of every member, as stored. 4 is NULL, 5 is '' and 10 is '   ': unassigned.
OWNERS = {1: "anna", 2: "bob", 3: "anna", 4: None, 5: "", 6: "anna", 7: "bob", 8: "bob",
          9: "anna", 10: "   ", 11: "anna", 12: "cat"}
ALL_MEMBERS = set(OWNERS)

SEGC_YML = """\
version: 1
target:
  dialect: duckdb
  schema: marts
  view_prefix: grp_
entities:
  member:
    label: Loyalty members
    table: shop.members
    key: member_id
    owner: salesperson
    fields:
      full_name:      {type: string}
      salesperson:    {type: string}          # reads the owner column: not repeated in views
      tier:           {type: enum, values: [gold, silver, bronze]}
      signup_date:    {type: date}
      last_login:     {type: timestamp}
      points:         {type: number}
      interests:      {type: string_list}
      newsletter:     {type: boolean, json: prefs}
      channel:        {type: enum, values: [email, sms], json: prefs}
      area:           {relation: home_region, of: area}
      paid_purchases: {aggregate: count, relation: purchases, where: {state: paid}}
      paid_total:     {aggregate: sum, relation: purchases, of: total, where: {state: paid}}
    relations:
      purchases:   {has_many: purchase, foreign_key: member_id}
      home_region: {belongs_to: region, column: region_code}
  purchase:
    label: Purchases
    table: shop.purchases
    key: purchase_id
    fields:
      bought_at: {type: timestamp}
      total:     {type: number}
      state:     {type: enum, values: [paid, refunded, pending]}
  region:
    table: shop.regions
    key: code
    fields:
      area: {type: enum, values: [north, south, overseas]}
"""

COMPANY_YML = """\
segments:
  - id: gold
    name: Gold members
    entity: member
    where: {tier: gold}
    split_by: channel
    children:
      - id: gold_lapsed
        name: Gold, not seen for 30+ days
        where:
          any:
            - last_login: {at_least_ago: 30 days}
            - last_login: {is_empty: true}
        children:
          - id: gold_lapsed_hikers
            name: Lapsed gold hikers
            where: {interests: {contains_any: [hiking]}}

  - id: north
    name: 北の会員
    entity: member
    where: {area: north}

  - id: repeat_buyers
    name: Two or more paid purchases
    entity: member
    where: {paid_purchases: {">=": 2}}

  - id: recent_buyers
    name: Paid in the last 7 days
    entity: member
    where:
      has:
        purchases:
          where: {state: paid, bought_at: {within_last: 7 days}}

  - id: no_purchases
    name: Never purchased
    entity: member
    where: {not: {has: {purchases: {}}}}

  - id: refunders
    name: Had a refund
    entity: member
    where: {has: {purchases: {where: {state: refunded}, count: {">=": 1}}}}

  - id: big_spenders
    name: Paid over 1000 in total
    entity: member
    where: {paid_total: {">": 1000}}

  - id: hikers
    name: Hikers
    entity: member
    where: {interests: {contains_any: [hiking]}}
    children:
      - id: keen_hikers
        name: Hikers with 60+ points
        where: {points: {">=": 60}}

  - id: active_30d
    name: Logged in within 30 days
    entity: member
    where: {last_login: {within_last: 30 days}}
    children:
      - id: active_this_week
        name: Logged in this week
        where: {last_login: {in_period: this_week}}

  - id: no_owner
    name: Nobody looks after them
    entity: member
    where: {salesperson: {is_empty: true}}

  - id: missing_tier
    name: Tier missing
    entity: member
    where: {tier: {is_empty: true}}

  - id: not_newsletter
    name: Not (newsletter = true)
    entity: member
    where: {not: {newsletter: true}}
"""

PERSONAL_YML = """\
segments:
  - id: anna_new_signups
    name: Anna's new sign-ups
    entity: member
    scope: personal
    owner: anna
    where:
      salesperson: anna
      signup_date: {within_last: 30 days}

  - id: bob_silent
    name: Bob's silent members
    entity: member
    scope: personal
    owner: bob
    where:
      salesperson: bob
      last_login: {at_least_ago: 30 days}
"""

# Hand-worked members of every segment, as of 2024-07-10.
EXPECTED: dict[str, set[int]] = {
    # tier = 'gold' exactly: 1, 2, 4, 9, 11. 5 ('') and 6 ('  ') are blank and 8 is NULL.
    "gold": {1, 2, 4, 9, 11},
    # gold and (last login on/before 06-10, or none): 2 logged in 06-10 23:59:59.999 (local date
    # 06-10), 4 never. 1, 9 and 11 logged in during July.
    "gold_lapsed": {2, 4},
    # 2 likes cooking, 4 has NULL interests: nobody.
    "gold_lapsed_hikers": set(),
    # split_by channel (a JSON enum): 1, 2, 9 say "email"; nobody gold says "sms";
    # 4 has NULL prefs and 11 has channel " " (blank after trimming): both empty.
    "gold__email": {1, 2, 9},
    "gold__sms": set(),
    "gold__empty": {4, 11},
    # region_code N1 -> area north: 1, 3, 8, 9. '' (10), NULL (5), XX (area NULL), S1, OV are not.
    "north": {1, 3, 8, 9},
    # paid purchases: 1 has 101+102, 5 has 106+107+108 (>= 2); 2 has one paid (103) and a refund,
    # 11 has one paid (111) and a refund, 7 one (109); 114 of member 8 has NULL state.
    "repeat_buyers": {1, 5},
    # paid with a date in 07-04..07-10: 101 (07-04 00:00, member 1), 106 (07-10 23:59:59.999,
    # member 5), 111 (07-09, member 11). 103 is 07-03 23:59:59.999, 109 is tomorrow, 113 has no
    # member, 114 is not 'paid'.
    "recent_buyers": {1, 5, 11},
    # no purchase row at all: 4, 6, 10, 12 (3 has a pending one, 8 one with NULL state).
    "no_purchases": {4, 6, 10, 12},
    # a refunded purchase: 104 (member 2), 110 (9), 112 (11).
    "refunders": {2, 9, 11},
    # the largest paid total is member 1's 55.50: nobody (a primary segment with 0 members).
    "big_spenders": set(),
    # interests holding 'hiking': 1, 6, 7, 11 (5 has 'swimming'; 8 and 4 NULL; 3 and 12 empty).
    "hikers": {1, 6, 7, 11},
    # hikers with points >= 60: 1 (100), 7 (300), 11 (60); 6 has 5.
    "keen_hikers": {1, 7, 11},
    # last login dated 06-11..07-10: 1 (07-10 00:00), 3 (06-11 00:00), 5 (07-09), 6 (07-10 23:59:59.999),
    # 8 (07-03), 9 (07-04), 11 (07-10 12:00). 2 and 10 are 06-10, 7 is 05-01, 4 and 12 NULL.
    "active_30d": {1, 3, 5, 6, 8, 9, 11},
    # and dated Mon 07-08 .. Sun 07-14: 1, 5, 6, 11 (8 is 07-03, 9 is 07-04, 3 is 06-11).
    "active_this_week": {1, 5, 6, 11},
    # salesperson NULL (4), '' (5), '   ' (10).
    "no_owner": {4, 5, 10},
    # tier '' (5), '  ' (6), NULL (8).
    "missing_tier": {5, 6, 8},
    # the complement of newsletter = true (1, 7, 9), NULLs and missing keys included.
    "not_newsletter": ALL_MEMBERS - {1, 7, 9},
    # anna's members (1, 3, 6, 9, 11) who signed up 06-11..07-10: 1 (07-10), 11 (06-15).
    # 3 signed up 06-10, one day too early.
    "anna_new_signups": {1, 11},
    # bob's members (2, 7, 8) last seen on/before 06-10: 2 (06-10 23:59:59.999), 7 (05-01).
    "bob_silent": {2, 7},
}

# id -> (parent, level), worked out from the segment files.
TREE: dict[str, tuple[str | None, int]] = {
    "gold": (None, 1), "gold_lapsed": ("gold", 2), "gold_lapsed_hikers": ("gold_lapsed", 3),
    "gold__email": ("gold", 2), "gold__sms": ("gold", 2), "gold__empty": ("gold", 2),
    "north": (None, 1), "repeat_buyers": (None, 1), "recent_buyers": (None, 1),
    "no_purchases": (None, 1), "refunders": (None, 1), "big_spenders": (None, 1),
    "hikers": (None, 1), "keen_hikers": ("hikers", 2), "active_30d": (None, 1),
    "active_this_week": ("active_30d", 2), "no_owner": (None, 1), "missing_tier": (None, 1),
    "not_newsletter": (None, 1), "anna_new_signups": (None, 1), "bob_silent": (None, 1),
}
PERSONAL = {"anna_new_signups": "anna", "bob_silent": "bob"}
SOURCE = {sid: ("segments/personal.yml" if sid in PERSONAL else "segments/company.yml") for sid in TREE}
NAMES = {"gold": "Gold members", "north": "北の会員", "gold__email": "Gold members / email",
         "gold__empty": "Gold members / (empty)", "anna_new_signups": "Anna's new sign-ups"}
# The view columns (SPEC 4): key, owner column, then column and JSON fields in declaration order;
# `salesperson` reads the owner column and is not repeated; lookups and aggregates are not columns.
VIEW_COLUMNS = ["member_id", "salesperson", "full_name", "tier", "signup_date", "last_login",
                "points", "interests", "newsletter", "channel"]


def test_expected_sets_are_consistent() -> None:
    """My hand-worked answers obey the hierarchy: a child's members are its parent's."""
    assert set(EXPECTED) == set(TREE)
    for sid, (parent, level) in TREE.items():
        if parent is not None:
            assert EXPECTED[sid] <= EXPECTED[parent], sid
            assert level == TREE[parent][1] + 1
    assert EXPECTED["gold__email"] | EXPECTED["gold__sms"] | EXPECTED["gold__empty"] == EXPECTED["gold"]


# ---------------------------------------------------------------------------------------------
# Running the real command


def segc_cmd() -> list[str]:
    exe = shutil.which("segc")
    return [exe] if exe else [sys.executable, "-m", "segc.cli"]


def segc(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    return subprocess.run([*segc_cmd(), *args], capture_output=True, text=True, encoding="utf-8",
                          cwd=cwd, env=env, timeout=120)


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert "Traceback" not in proc.stderr
    return proc


class Shop:
    def __init__(self, root: Path):
        self.root = root
        self.project = root / "loyalty"
        self.db = root / "warehouse.duckdb"  # not shop.duckdb: the catalog would clash with schema shop
        self.out = root / "build" / "sql"
        self.runs: dict[str, subprocess.CompletedProcess] = {}

    def build(self) -> None:
        con = duckdb.connect(str(self.db))
        try:
            for statement in WAREHOUSE_SQL.split(";"):
                if statement.strip():
                    con.execute(statement).fetchall()
        finally:
            con.close()
        (self.project / "segments").mkdir(parents=True)
        (self.project / "segc.yml").write_text(SEGC_YML, encoding="utf-8")
        (self.project / "segments" / "company.yml").write_text(COMPANY_YML, encoding="utf-8")
        (self.project / "segments" / "personal.yml").write_text(PERSONAL_YML, encoding="utf-8")

    def p(self) -> list[str]:
        return ["-p", str(self.project)]

    def query(self, sql: str) -> list[tuple]:
        con = duckdb.connect(str(self.db), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    s = Shop(tmp_path_factory.mktemp("newuser"))
    s.build()
    # The new user's first session, in order.
    s.runs["validate"] = segc("validate", *s.p())
    s.runs["compile"] = segc("compile", *s.p(), "--as-of", AS_OF, "--out", str(s.out))
    s.runs["apply"] = segc("apply", *s.p(), "--db", str(s.db), "--as-of", AS_OF)
    return s


def test_every_step_exits_0(shop: Shop) -> None:
    for step in ("validate", "compile", "apply"):
        ok(shop.runs[step])


def test_validate_reports_no_problem(shop: Shop) -> None:
    proc = ok(shop.runs["validate"])
    assert "error" not in proc.stderr.lower()


def test_compile_writes_one_file_per_view(shop: Shop) -> None:
    ok(shop.runs["compile"])
    files = {p.name for p in shop.out.glob("*.sql")}
    expected = {f"grp_{sid}.sql" for sid in TREE} | {"segment_membership.sql", "segment_counts.sql"}
    assert files == expected
    assert {p.name for p in shop.out.iterdir()} == expected  # nothing else either


def test_compiled_files_are_headed_by_their_source(shop: Shop) -> None:
    for sid in TREE:
        text = (shop.out / f"grp_{sid}.sql").read_text(encoding="utf-8")
        first = text.splitlines()[0]
        assert first.startswith("-- generated by segc"), (sid, first)
        head = "\n".join(line for line in text.splitlines()[:5] if line.startswith("--"))
        assert SOURCE[sid] in head, (sid, head)
        assert f"grp_{sid}" in text
    for name in ("segment_membership", "segment_counts"):
        text = (shop.out / f"{name}.sql").read_text(encoding="utf-8")
        assert text.startswith("-- generated by segc"), name
        assert "segc.yml" in text.splitlines()[0]
        assert name in text


def test_compiled_sql_creates_the_views(shop: Shop, tmp_path: Path) -> None:
    """The files are usable on their own: run them on a copy of the warehouse."""
    db = tmp_path / "copy.duckdb"
    shutil.copy(shop.db, db)
    con = duckdb.connect(str(db))
    try:
        con.execute("DROP SCHEMA IF EXISTS marts CASCADE").fetchall()
        con.execute("CREATE SCHEMA marts").fetchall()
        for sid in TREE:
            con.execute((shop.out / f"grp_{sid}.sql").read_text(encoding="utf-8")).fetchall()
        for name in ("segment_membership", "segment_counts"):
            con.execute((shop.out / f"{name}.sql").read_text(encoding="utf-8")).fetchall()
        for sid, keys in EXPECTED.items():
            got = {r[0] for r in con.execute(f'SELECT member_id FROM marts."grp_{sid}"').fetchall()}
            assert got == keys, sid
    finally:
        con.close()


def test_lock_lists_every_segment(shop: Shop) -> None:
    ok(shop.runs["compile"])
    lock = shop.project / "segc.lock"
    assert lock.is_file()
    data = yaml.safe_load(lock.read_text(encoding="utf-8"))
    entries = data["segments"]
    assert set(entries) == set(TREE)
    for sid in TREE:
        if sid in PERSONAL:
            assert entries[sid]["scope"] == "personal"
            assert entries[sid]["owner"] == PERSONAL[sid]
        else:
            assert entries[sid]["scope"] == "company"
            assert entries[sid].get("owner") is None


def test_apply_created_every_view(shop: Shop) -> None:
    ok(shop.runs["apply"])
    views = {r[0] for r in shop.query(
        "SELECT view_name FROM duckdb_views() WHERE schema_name = 'marts' AND NOT internal")}
    assert views == {f"grp_{sid}" for sid in TREE} | {"segment_membership", "segment_counts"}


@pytest.mark.parametrize("sid", sorted(EXPECTED))
def test_view_members_are_the_hand_worked_ones(shop: Shop, sid: str) -> None:
    ok(shop.runs["apply"])
    rows = shop.query(f'SELECT member_id FROM marts."grp_{sid}"')
    keys = [r[0] for r in rows]
    assert len(keys) == len(set(keys)), f"duplicate members in {sid}: {keys}"
    assert set(keys) == EXPECTED[sid]


def test_view_columns(shop: Shop) -> None:
    ok(shop.runs["apply"])
    cols = [r[0] for r in shop.query(
        "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'marts' AND table_name = 'grp_gold' "
        "ORDER BY column_index")]
    assert cols == VIEW_COLUMNS


def test_view_rows_carry_the_field_values(shop: Shop) -> None:
    ok(shop.runs["apply"])
    rows = shop.query('SELECT member_id, salesperson, full_name, tier, points, newsletter, channel '
                      'FROM marts."grp_gold" ORDER BY member_id')
    # From the INSERT: the JSON keys read as their field's type; channel " " stays what it is.
    assert [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows] == [
        (1, "anna", "Ada", "gold", 100, True),
        (2, "bob", "Ben", "gold", 50, False),
        (4, None, "Dee", "gold", 0, None),
        (9, "anna", "Ivy", "gold", 75, True),
        (11, "anna", None, "gold", 60, None),
    ]
    assert [r[6] for r in rows][:2] == ["email", "email"] and rows[2][6] is None


def test_segment_membership_agrees(shop: Shop) -> None:
    ok(shop.runs["apply"])
    rows = shop.query("SELECT segment_id, member_key, owner FROM marts.segment_membership")
    pairs = [(r[0], str(r[1])) for r in rows]
    assert len(pairs) == len(set(pairs)), "a member is listed twice for one segment"
    expected = {(sid, str(k)) for sid, keys in EXPECTED.items() for k in keys}
    assert set(pairs) == expected
    for sid, key, owner in rows:
        stored = OWNERS[int(key)]
        if stored is None or not stored.strip():
            assert owner is None or not str(owner).strip(), (sid, key, owner)
        else:
            assert owner == stored, (sid, key, owner)


def test_segment_counts_agree(shop: Shop) -> None:
    ok(shop.runs["apply"])
    rows = shop.query("SELECT segment_id, parent_id, level, owner, member_count FROM marts.segment_counts")
    # A count is a number: 0, never NULL (member 12 is cat's only member and has a NULL
    # last_login, so every condition on last_login is NULL on cat's rows).
    nulls = [r for r in rows if r[4] is None]
    assert not nulls, f"member_count is NULL in {len(nulls)} rows, e.g. {nulls[:3]}"
    team = [r for r in rows if r[3] is None]
    assert sorted(r[0] for r in team) == sorted(TREE), "one whole-team row per segment"
    for sid, parent, level, _, n in team:
        assert (parent, level) == TREE[sid], sid
        assert n == len(EXPECTED[sid]), sid
    per_owner = [r for r in rows if r[3] is not None]
    seen = [(r[0], r[3]) for r in per_owner]
    assert len(seen) == len(set(seen)), "one row per segment and owner"
    owners = {o for o in OWNERS.values() if o is not None and o.strip()}  # anna, bob, cat
    got = {(sid, owner): n for sid, _, _, owner, n in per_owner}
    for sid, parent, level, owner, n in per_owner:
        assert owner in owners, f"blank owner is not an owner: {owner!r}"
        assert (parent, level) == TREE[sid], sid
    for sid, keys in EXPECTED.items():
        for owner in owners:
            want = sum(1 for k in keys if OWNERS[k] == owner)
            if want:
                assert got.get((sid, owner)) == want, (sid, owner)
            else:
                assert got.get((sid, owner), 0) == 0, (sid, owner)


# ---------------------------------------------------------------------------------------------
# count


def count_json(shop: Shop, *extra: str) -> list[dict]:
    proc = ok(segc("count", *shop.p(), "--db", str(shop.db), "--as-of", AS_OF, "--format", "json", *extra))
    data = json.loads(proc.stdout)
    assert isinstance(data, list)
    return data


def check_shape(data: list[dict]) -> None:
    seen: dict[str, int] = {}
    for obj in data:
        assert {"id", "name", "parent", "level", "count"} <= set(obj), obj
        assert isinstance(obj["count"], int) and isinstance(obj["level"], int)
        sid = obj["id"]
        assert sid not in seen, f"{sid} shown twice"
        assert (obj["parent"], obj["level"]) == TREE[sid], sid
        if obj["parent"] is not None:
            assert obj["parent"] in seen, f"{sid} comes before its parent {obj['parent']}"
        seen[sid] = obj["count"]


def test_count_json(shop: Shop) -> None:
    ok(shop.runs["apply"])
    data = count_json(shop)
    check_shape(data)
    # Hidden: the secondary segments with 0 members (gold_lapsed_hikers, gold__sms).
    # big_spenders has 0 members too but is primary: always shown.
    shown = {sid for sid, keys in EXPECTED.items() if keys or TREE[sid][1] == 1}
    assert {o["id"] for o in data} == shown
    assert {o["id"]: o["count"] for o in data} == {sid: len(EXPECTED[sid]) for sid in shown}
    by_id = {o["id"]: o for o in data}
    for sid, name in NAMES.items():
        assert by_id[sid]["name"] == name
    # primary segments keep the order of the segment files
    tops = [o["id"] for o in data if o["parent"] is None]
    assert tops == [sid for sid in TREE if TREE[sid][0] is None]


def test_count_show_empty(shop: Shop) -> None:
    data = count_json(shop, "--show-empty")
    check_shape(data)
    assert {o["id"]: o["count"] for o in data} == {sid: len(keys) for sid, keys in EXPECTED.items()}


def test_count_table(shop: Shop) -> None:
    proc = ok(segc("count", *shop.p(), "--db", str(shop.db), "--as-of", AS_OF))
    lines = proc.stdout.splitlines()
    for sid, keys in EXPECTED.items():
        hits = [line for line in lines if sid in line.split()]
        if keys or TREE[sid][1] == 1:
            assert len(hits) == 1, sid
            assert hits[0].split()[-1] == str(len(keys)), hits[0]
        else:
            assert not hits, f"{sid} has 0 members and is secondary: hidden"


def test_count_for_one_owner(shop: Shop) -> None:
    data = count_json(shop, "--owner", "anna")
    check_shape(data)
    annas = {k for k, o in OWNERS.items() if o == "anna"}  # 1, 3, 6, 9, 11
    # company segments and anna's own personal segment; bob's is not shown.
    visible = {sid for sid in TREE if sid not in PERSONAL or PERSONAL[sid] == "anna"}
    counts = {sid: len(EXPECTED[sid] & annas) for sid in visible}
    # gold_lapsed has none of anna's members (2 is bob's, 4 nobody's), so it and its child hide;
    # gold__sms has none at all.
    shown = {sid for sid in visible if counts[sid] or TREE[sid][1] == 1}
    assert shown == visible - {"gold_lapsed", "gold_lapsed_hikers", "gold__sms"}
    assert {o["id"]: o["count"] for o in data} == {sid: counts[sid] for sid in shown}
    assert "bob_silent" not in {o["id"] for o in data}


def test_count_for_another_owner(shop: Shop) -> None:
    data = count_json(shop, "--owner", "bob", "--show-empty")
    bobs = {k for k, o in OWNERS.items() if o == "bob"}  # 2, 7, 8
    visible = {sid for sid in TREE if sid not in PERSONAL or PERSONAL[sid] == "bob"}
    assert {o["id"]: o["count"] for o in data} == {sid: len(EXPECTED[sid] & bobs) for sid in visible}


def test_count_for_an_owner_with_no_members(shop: Shop) -> None:
    """Primary segments stay visible with 0; no personal segment of anybody else shows."""
    data = count_json(shop, "--owner", "zoe")
    assert {o["id"]: o["count"] for o in data} == {
        sid: 0 for sid in TREE if TREE[sid][1] == 1 and sid not in PERSONAL}


# ---------------------------------------------------------------------------------------------
# members


@pytest.mark.parametrize("sid", ["gold", "gold__empty", "recent_buyers", "not_newsletter", "big_spenders",
                                 "active_this_week", "anna_new_signups"])
def test_members_json(shop: Shop, sid: str) -> None:
    proc = ok(segc("members", sid, *shop.p(), "--db", str(shop.db), "--as-of", AS_OF, "--format", "json"))
    assert json.loads(proc.stdout) == sorted(EXPECTED[sid])


def test_members_json_for_one_owner(shop: Shop) -> None:
    proc = ok(segc("members", "gold", *shop.p(), "--db", str(shop.db), "--as-of", AS_OF,
                   "--owner", "anna", "--format", "json"))
    assert json.loads(proc.stdout) == [1, 9, 11]  # gold {1, 2, 4, 9, 11}, anna's of them


def test_members_csv(shop: Shop) -> None:
    proc = ok(segc("members", "hikers", *shop.p(), "--db", str(shop.db), "--as-of", AS_OF, "--format", "csv"))
    table = list(csv.reader(io.StringIO(proc.stdout)))
    header, body = table[0], table[1:]
    assert len(header) == 1 and not header[0].isdigit() and header[0].strip()
    assert [r for r in body] == [[str(k)] for k in sorted(EXPECTED["hikers"])]


def test_members_table(shop: Shop) -> None:
    proc = ok(segc("members", "keen_hikers", *shop.p(), "--db", str(shop.db), "--as-of", AS_OF))
    assert proc.stdout.split() == [str(k) for k in sorted(EXPECTED["keen_hikers"])]


def test_members_of_unknown_segment_is_a_usage_error(shop: Shop) -> None:
    proc = segc("members", "hiker", *shop.p(), "--db", str(shop.db), "--as-of", AS_OF)
    assert proc.returncode == 2
    assert "hikers" in proc.stderr  # a suggestion
    assert "Traceback" not in proc.stderr


def test_reading_commands_leave_the_database_alone(shop: Shop) -> None:
    import hashlib

    before = hashlib.sha256(shop.db.read_bytes()).hexdigest()
    lock_before = (shop.project / "segc.lock").read_bytes()
    ok(segc("count", *shop.p(), "--db", str(shop.db), "--as-of", AS_OF))
    ok(segc("members", "gold", *shop.p(), "--db", str(shop.db), "--as-of", AS_OF))
    assert hashlib.sha256(shop.db.read_bytes()).hexdigest() == before
    assert (shop.project / "segc.lock").read_bytes() == lock_before


def test_running_from_inside_the_project(shop: Shop) -> None:
    """`-p` defaults to the current folder."""
    proc = ok(segc("members", "north", "--db", str(shop.db), "--as-of", AS_OF, "--format", "json",
                   cwd=shop.project))
    assert json.loads(proc.stdout) == sorted(EXPECTED["north"])


# ---------------------------------------------------------------------------------------------
# The same project with a time zone, and with the typos a new user makes


def copy_project(shop: Shop, dest: Path) -> Path:
    shutil.copytree(shop.project, dest)
    (dest / "segc.lock").unlink(missing_ok=True)
    return dest


# With `timezone: Asia/Tokyo` (UTC+9) timestamps are read as UTC and compared by their Tokyo date;
# signup_date is a DATE and does not move. Tokyo dates of last_login: 1 07-10, 2 06-11 (was 06-10
# 23:59:59.999 UTC), 3 06-11, 5 07-09, 6 07-11 (was 07-10 23:59:59.999 UTC: tomorrow in Tokyo),
# 7 05-01, 8 07-04 (was 07-03 23:59:59.999), 9 07-04, 10 06-10, 11 07-10 (21:00).
# Paid purchases: 101 07-04 (m1), 103 07-04 08:59 (m2, now inside the last 7 days), 106 07-11 (m5,
# now tomorrow), 107/108 June, 109 07-11, 111 07-09 (m11).
TOKYO = {
    "active_30d": {1, 2, 3, 5, 8, 9, 11},   # 06-11..07-10: 2 joins, 6 leaves
    "active_this_week": {1, 5, 11},         # 07-08..07-14 and in active_30d: 6 is not
    "gold_lapsed": {4},                     # 2 is no longer on/before 06-10
    "bob_silent": {7},
    "recent_buyers": {1, 2, 11},
    "anna_new_signups": {1, 11},            # a date field: unchanged
}


@pytest.mark.parametrize("sid", sorted(TOKYO))
def test_timezone_moves_timestamps_to_local_days(shop: Shop, tmp_path: Path, sid: str) -> None:
    project = copy_project(shop, tmp_path / "tokyo")
    text = (project / "segc.yml").read_text(encoding="utf-8")
    (project / "segc.yml").write_text(text.replace("entities:\n", "timezone: Asia/Tokyo\nentities:\n", 1),
                                      encoding="utf-8")
    proc = ok(segc("members", sid, "-p", str(project), "--db", str(shop.db), "--as-of", AS_OF, "--format", "json"))
    assert json.loads(proc.stdout) == sorted(TOKYO[sid])


def test_typos_are_reported_with_position_and_hint(shop: Shop, tmp_path: Path) -> None:
    project = copy_project(shop, tmp_path / "typo")
    (project / "segments" / "zz.yml").write_text(
        "segments:\n"
        "  - id: typo_tier\n"
        "    entity: member\n"
        "    where: {tier: gld}\n"          # line 4, 'gld' at column 19
        "  - id: typo_field\n"
        "    entity: member\n"
        "    where:\n"
        "      pionts: {\">\": 3}\n",       # line 8, 'pionts' at column 7
        encoding="utf-8")
    for args in (["validate"], ["compile", "--out", str(tmp_path / "out")]):
        proc = segc(*args, "-p", str(project), cwd=tmp_path)
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr
        lines = proc.stderr.splitlines()
        tier = [line for line in lines if "segments/zz.yml:4:19: error:" in line]
        field = [line for line in lines if "segments/zz.yml:8:7: error:" in line]
        assert len(tier) == 1 and "gld" in tier[0], proc.stderr
        assert len(field) == 1 and "pionts" in field[0], proc.stderr
        assert "gold" in proc.stderr and "points" in proc.stderr  # did you mean ...
    assert not (tmp_path / "out").exists(), "nothing is written when the project is invalid"
    assert not (project / "segc.lock").exists()
