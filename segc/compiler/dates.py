"""Date values, durations and periods (SPEC 3.2), and their resolution to calendar days.

Every relative test becomes a half-open range of local days [start, end): that single shape is what
the emitter turns into SQL for both date and timestamp fields (`<= D` on a timestamp is `< D + 1`).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

from segc.compiler.ir import DateExpr, DateLit, Shift, StartOf, Today, Trunc, Unit, shift

UNITS: dict[str, tuple[int, Unit]] = {
    "day": (1, Unit.DAY),
    "week": (7, Unit.DAY),
    "month": (1, Unit.MONTH),
    "quarter": (3, Unit.MONTH),
    "year": (12, Unit.MONTH),
}
UNIT_WORDS = sorted(UNITS) + sorted(u + "s" for u in UNITS)

_DURATION = re.compile(r"\A\s*([0-9]+)\s+([a-z]+)\s*\Z")
_DATE_VALUE = re.compile(r"\A\s*today\s*(?:([+-])\s*([0-9]+)\s+([a-z]+))?\s*\Z")
_ISO_DATE = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")

PERIODS = (
    "today", "yesterday", "tomorrow",
    "this_week", "last_week", "next_week",
    "this_month", "last_month", "next_month",
    "this_quarter", "last_quarter", "next_quarter",
    "this_year", "last_year", "next_year",
)


class DateSyntaxError(ValueError):
    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


def _unit(word: str) -> tuple[int, Unit]:
    base = word[:-1] if word.endswith("s") else word
    if base not in UNITS:
        raise DateSyntaxError(f"unknown unit '{word}'", "use day, week, month, quarter or year")
    return UNITS[base]


def parse_duration(text: str) -> tuple[int, Unit]:
    """`30 days` -> (30, DAY); `2 quarters` -> (6, MONTH)."""
    m = _DURATION.match(text)
    if not m:
        raise DateSyntaxError(f"'{text}' is not a duration",
                              "write a positive whole number and a unit, e.g. 30 days or 6 months")
    n = int(m.group(1))
    if n <= 0:
        raise DateSyntaxError(f"'{text}': a duration must be positive", "e.g. 1 day")
    per, unit = _unit(m.group(2))
    return n * per, unit


def parse_iso_date(text: str) -> dt.date:
    if not _ISO_DATE.match(text.strip()):
        raise DateSyntaxError(f"'{text}' is not a date", "write YYYY-MM-DD, today, or today - 30 days")
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError as exc:
        raise DateSyntaxError(f"'{text}' is not a calendar date ({exc})") from None


def parse_date_value(text: str) -> DateExpr:
    """`2022-01-01`, `today`, or `today ± N unit`."""
    m = _DATE_VALUE.match(text)
    if m:
        if not m.group(1):
            return Today()
        per, unit = _unit(m.group(3))
        n = int(m.group(2)) * per
        return shift(Today(), -n if m.group(1) == "-" else n, unit)
    return DateLit(parse_iso_date(text))


def period_range(name: str) -> tuple[DateExpr, DateExpr]:
    """The [start, end) days of a named period, relative to today (weeks start on Monday)."""
    t = Today()
    if name == "today":
        return t, shift(t, 1, Unit.DAY)
    if name == "yesterday":
        return shift(t, -1, Unit.DAY), t
    if name == "tomorrow":
        return shift(t, 1, Unit.DAY), shift(t, 2, Unit.DAY)
    which, _, unit_word = name.partition("_")
    trunc = Trunc(unit_word)
    start = StartOf(t, trunc)
    length, unit = (7, Unit.DAY) if trunc is Trunc.WEEK else (UNITS[unit_word][0], Unit.MONTH)
    first = {"last": -1, "this": 0, "next": 1}[which]
    return shift(start, first * length, unit), shift(start, (first + 1) * length, unit)


def relative_range(op: str, n: int, unit: Unit) -> tuple[DateExpr | None, DateExpr | None]:
    """The four relative operators as [start, end) ranges of days (SPEC 3.2 table)."""
    t = Today()
    if op == "within_last":  # today - N < d <= today
        return shift(shift(t, -n, unit), 1, Unit.DAY), shift(t, 1, Unit.DAY)
    if op == "at_least_ago":  # d <= today - N
        return None, shift(shift(t, -n, unit), 1, Unit.DAY)
    if op == "within_next":  # today <= d < today + N
        return t, shift(t, n, unit)
    if op == "at_least_ahead":  # d >= today + N
        return shift(t, n, unit), None
    raise ValueError(op)


# ---------------------------------------------------------------------------------------------
# Resolution in Python (for `explain`, and the reference evaluator)


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def resolve(expr: DateExpr, today: dt.date) -> dt.date:
    if isinstance(expr, Today):
        return today
    if isinstance(expr, DateLit):
        return expr.value
    if isinstance(expr, Shift):
        base = resolve(expr.this, today)
        if expr.unit is Unit.DAY:
            return base + dt.timedelta(days=expr.n)
        return add_months(base, expr.n)
    if isinstance(expr, StartOf):
        base = resolve(expr.this, today)
        if expr.unit is Trunc.WEEK:
            return base - dt.timedelta(days=base.weekday())
        if expr.unit is Trunc.MONTH:
            return base.replace(day=1)
        if expr.unit is Trunc.QUARTER:
            return dt.date(base.year, (base.month - 1) // 3 * 3 + 1, 1)
        return dt.date(base.year, 1, 1)
    raise TypeError(f"not a date expression: {expr!r}")
