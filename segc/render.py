"""Text for people: the count tree and conditions in words (used by count, demo and explain)."""

from __future__ import annotations

import datetime as dt
import unicodedata
from decimal import Decimal
from typing import assert_never

from segc.compiler import dates
from segc.compiler.ir import (
    And, CmpOp, Compare, DateExpr, DateLit, DateRange, Has, InSet, IsEmpty, ListMatch, ListOp, Not, Or,
    Pred, Scalar, Shift, StartOf, TextMatch, Today, Trunc, TrueP, Unit,
)
from segc.engines.run import CountRow
from segc.errors import printable


def _width(text: str) -> int:
    """Display width: East Asian wide characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def count_table(rows: list[CountRow]) -> str:
    """The segment tree with live counts, children indented under their parents."""
    lines = []
    for r in rows:
        s = r.segment
        indent = "  " * (s.level - 1) + ("└ " if s.level > 1 else "")
        scope = f" (personal: {s.owner})" if s.owner else ""
        lines.append((printable(f"{indent}{s.name}{scope}"), s.id, r.count, r.team))
    if not lines:
        return "no segments\n"
    team = any(t is not None for *_, t in lines)  # --owner: the owner's members, then the team's
    name_w = max(max(_width(n) for n, *_ in lines), len("SEGMENT"))
    id_w = max(max(len(i) for _, i, *_ in lines), len("ID"))
    count_w = max(max(len(str(c)) for _, _, c, _ in lines), len("MEMBERS"))
    team_w = max(max(len(str(t)) for *_, t in lines), len("TEAM"))
    out = [f"{'SEGMENT'}{' ' * (name_w - 7)}  {'ID':<{id_w}}  {'MEMBERS':>{count_w}}"
           + (f"  {'TEAM':>{team_w}}" if team else "")]
    for name, seg_id, count, total in lines:
        out.append(f"{name}{' ' * (name_w - _width(name))}  {seg_id:<{id_w}}  {count:>{count_w}}"
                   + (f"  {total:>{team_w}}" if team else ""))
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# Conditions in words


def _value(v: Scalar) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Decimal):
        return format(v, "f")
    return repr(v) if any(c in v for c in " ,'\"") or not v else v


def _relative(e: DateExpr) -> str:
    """A date in words, relative to today: `today - 30 days`, `the first day of today's month`."""
    if isinstance(e, Today):
        return "today"
    if isinstance(e, DateLit):
        return e.value.isoformat()
    if isinstance(e, Shift):
        n = abs(e.n)
        return f"{_relative(e.this)} {'-' if e.n < 0 else '+'} {n} {e.unit.value}{'s' if n != 1 else ''}"
    if isinstance(e, StartOf):
        inner = _relative(e.this)
        if e.unit is Trunc.WEEK:
            return "this week's Monday" if inner == "today" else f"the Monday of the week of ({inner})"
        if inner == "today":
            return f"the first day of this {e.unit.value}"
        return f"the first day of the {e.unit.value} of ({inner})"
    assert_never(e)


def _day(e: DateExpr, today: dt.date | None, before: bool = False) -> str:
    """The day e resolves to (the day before it with before=True), or why there is none.

    Without `today` the day stays relative, in words (`segc dbt` descriptions must not bake a date).
    """
    if today is None:
        if not before:
            return _relative(e)
        if isinstance(e, Shift) and e.unit is Unit.DAY:
            return _relative(Shift(e.this, e.n - 1, Unit.DAY) if e.n != 1 else e.this)
        return f"the day before {_relative(e)}"
    try:
        day = dates.resolve(e, today)
        return (day - dt.timedelta(days=1) if before else day).isoformat()
    except (OverflowError, ValueError):
        return "a day outside years 1-9999"


def describe(p: Pred, today: dt.date | None, indent: int = 0) -> list[str]:
    pad = "  " * indent
    if isinstance(p, TrueP):
        return [f"{pad}every row"]
    if isinstance(p, And):
        return [f"{pad}all of:"] + [line for i in p.items for line in describe(i, today, indent + 1)]
    if isinstance(p, Or):
        return [f"{pad}any of:"] + [line for i in p.items for line in describe(i, today, indent + 1)]
    if isinstance(p, Not):
        if isinstance(p.item, IsEmpty):
            return [f"{pad}{p.item.ref.field} is not empty"]
        return [f"{pad}not:"] + describe(p.item, today, indent + 1)
    if isinstance(p, IsEmpty):
        return [f"{pad}{p.ref.field} is empty"]
    if isinstance(p, Compare):
        extra = " (and not empty)" if p.op is CmpOp.NE else ""
        return [f"{pad}{p.ref.field} {p.op.value} {_value(p.value)}{extra}"]
    if isinstance(p, InSet):
        values = ", ".join(_value(v) for v in p.values)
        if p.negated:
            return [f"{pad}{p.ref.field} is not empty and not one of {values}"]
        return [f"{pad}{p.ref.field} is one of {values}"]
    if isinstance(p, TextMatch):
        verb = {"contains": "contains", "starts_with": "starts with", "ends_with": "ends with"}[p.op.value]
        if p.negated:
            return [f"{pad}{p.ref.field} is not empty and does not contain {p.value!r} (ignoring case)"]
        return [f"{pad}{p.ref.field} {verb} {p.value!r} (ignoring case)"]
    if isinstance(p, DateRange):
        f = p.ref.field
        if p.start is not None and p.end is not None:
            text = f"{f} from {_day(p.start, today)} through {_day(p.end, today, before=True)}"
        elif p.start is not None:
            text = f"{f} on or after {_day(p.start, today)}"
        else:
            assert p.end is not None
            text = f"{f} on or before {_day(p.end, today, before=True)}"
        if p.negated:
            text = f"{f} is not empty and not ({text})"
        return [pad + text]
    if isinstance(p, ListMatch):
        values = ", ".join(p.values)
        verb = {ListOp.ANY: "contains any of", ListOp.ALL: "contains all of",
                ListOp.NONE: "is not empty and contains none of"}[p.op]
        return [f"{pad}{p.ref.field} {verb} {values}"]
    if isinstance(p, Has):
        tests = " and ".join(f"{op.value} {n}" for op, n in p.tests)
        head = f"{pad}number of {p.relation} {'matching' if not isinstance(p.where, TrueP) else ''}".rstrip()
        lines = [f"{head} {tests}"]
        if not isinstance(p.where, TrueP):
            lines += [f"{pad}  where:"] + describe(p.where, today, indent + 2)
        return lines
    assert_never(p)
