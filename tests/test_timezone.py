"""SPEC 3.1: with `timezone:`, today is the current date in that zone and timestamp fields (UTC)
are compared by their local date. Checked with a pinned "now" in Asia/Tokyo and in
America/New_York on its DST day (2024-03-10, when 02:00 local jumps to 03:00), on every engine,
against Python's zoneinfo."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlglot import exp

from conftest import adhoc_project
from oracle import period, relative
from segc.compiler import Emitter
from segc.compiler.check_model import ModelChecker
from segc.compiler.util import Checker
from segc.compiler.yamlfile import parse_yaml
from segc.warehouse import Table

UTC = dt.timezone.utc


def _instants() -> list[dt.datetime]:
    """Every half hour of 2024-03-07..13 (UTC), and a millisecond either side of each local
    midnight in both zones."""
    out = set()
    t = dt.datetime(2024, 3, 7, tzinfo=UTC)
    while t < dt.datetime(2024, 3, 14, tzinfo=UTC):
        out.add(t)
        t += dt.timedelta(minutes=30)
    for zone in ("Asia/Tokyo", "America/New_York"):
        for day in range(6, 15):
            midnight = dt.datetime(2024, 3, day, tzinfo=ZoneInfo(zone)).astimezone(UTC)
            out |= {midnight, midnight - dt.timedelta(milliseconds=1)}
    return sorted(out)


INSTANTS = _instants()
TESTS = {
    "in_period today": ("{in_period: today}", lambda d, t: period("today", t)),
    "in_period yesterday": ("{in_period: yesterday}", lambda d, t: period("yesterday", t)),
    "in_period this_week": ("{in_period: this_week}", lambda d, t: period("this_week", t)),
    "within_last 2 days": ("{within_last: 2 days}", lambda d, t: relative("within_last", 2, "day", t)),
    "at_least_ago 1 day": ("{at_least_ago: 1 day}", lambda d, t: relative("at_least_ago", 1, "day", t)),
    "within_next 1 day": ("{within_next: 1 day}", lambda d, t: relative("within_next", 1, "day", t)),
    "= DST day": ("2024-03-10", lambda d, t: (dt.date(2024, 3, 10), dt.date(2024, 3, 10))),
    "<= a date": ("{'<=': 2024-03-09}", lambda d, t: (None, dt.date(2024, 3, 9))),
    "between": ("{between: [2024-03-09, 2024-03-10]}", lambda d, t: (dt.date(2024, 3, 9), dt.date(2024, 3, 10))),
}
NOWS = [
    ("Asia/Tokyo", dt.datetime(2024, 3, 9, 14, 59, 59, tzinfo=UTC)),  # 23:59:59 JST on the 9th
    ("Asia/Tokyo", dt.datetime(2024, 3, 9, 15, 0, tzinfo=UTC)),  # midnight JST: the 10th
    ("America/New_York", dt.datetime(2024, 3, 10, 4, 59, tzinfo=UTC)),  # 23:59 EST on the 9th
    ("America/New_York", dt.datetime(2024, 3, 10, 7, 30, tzinfo=UTC)),  # 03:30 EDT, after the jump
    ("America/New_York", dt.datetime(2024, 3, 11, 3, 59, 59, tzinfo=UTC)),  # 23:59:59 EDT on the 10th
]


def _model(zone: str):
    text = f"""
version: 1
timezone: {zone}
entities:
  event:
    table: tz.events
    key: k
    fields:
      ts: {{type: timestamp}}
"""
    ck = Checker()
    model = ModelChecker(ck, "segc.yml").check(parse_yaml(text.encode(), "segc.yml"))
    assert model is not None and not ck.errors
    return model


@pytest.fixture(scope="module")
def events(engine):
    rows = tuple((i, t.replace(tzinfo=None)) for i, t in enumerate(INSTANTS))
    engine.load([Table("events", (("k", "int"), ("ts", "timestamp")), rows)], schema="tz")
    return engine


@pytest.mark.parametrize("zone,now", NOWS, ids=lambda v: v if isinstance(v, str) else v.isoformat())
def test_today_and_local_days(zone, now, events):
    engine = events
    d = engine.dialect
    model = _model(zone)
    tests = list(TESTS.values())
    text = "segments:\n" + "".join(f"  - id: s{i}\n    where: {{ts: {w}}}\n" for i, (w, _) in enumerate(tests))
    project = adhoc_project(model, text)
    pinned = exp.Cast(this=exp.Literal.string(now.isoformat(sep=" ")), to=exp.DataType.build("TIMESTAMPTZ"))
    emitter = Emitter(project, d, now=pinned)
    frame = emitter.frame("event")
    cols = [frame.key] + [frame.flag(s.condition).as_(f"c{i}") for i, s in enumerate(project.segments)]
    rows = engine.query(d.sql(frame.select(cols), pretty=False))
    zi = ZoneInfo(zone)
    today = now.astimezone(zi).date()
    by_key = {r[0]: r[1:] for r in rows}
    wrong = []
    for k, instant in enumerate(INSTANTS):
        local = instant.astimezone(zi).date()
        for i, (name, (_, bounds)) in enumerate(TESTS.items()):
            first, last = bounds(local, today)
            want = (first is None or local >= first) and (last is None or local <= last)
            if bool(by_key[k][i]) != want:
                wrong.append((name, instant.isoformat(), str(local), want))
    assert wrong == []


@pytest.mark.parametrize("zone,now", NOWS[:2] + NOWS[3:4], ids=lambda v: v if isinstance(v, str) else v.isoformat())
def test_today_itself(zone, now, events):
    """The bound `today` alone: the pinned instant's date in the zone."""
    d = events.dialect
    pinned = exp.Cast(this=exp.Literal.string(now.isoformat(sep=" ")), to=exp.DataType.build("TIMESTAMPTZ"))
    got = events.query(d.sql(exp.select(d.current_date(zone, pinned)), pretty=False))[0][0]
    assert got == now.astimezone(ZoneInfo(zone)).date()
