"""Plain-Python answers for the tests, written from SPEC 2-3 and independent of segc's compiler.

Calendar arithmetic comes from dateutil (month arithmetic clamps to the month's end), not from
segc.compiler.dates.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from dateutil.relativedelta import relativedelta

UNITS = {"day": relativedelta(days=1), "week": relativedelta(weeks=1), "month": relativedelta(months=1),
         "quarter": relativedelta(months=3), "year": relativedelta(years=1)}


def empty(v: Any) -> bool:
    """SPEC 2: NULL; a string blank after trimming spaces; a list with no elements."""
    if v is None:
        return True
    if isinstance(v, str):
        return v.strip(" ") == ""
    if isinstance(v, list):
        return len(v) == 0
    return False


def day(v: Any) -> dt.date | None:
    """The (UTC) calendar day of a date or timestamp value."""
    if v is None:
        return None
    return v.date() if isinstance(v, dt.datetime) else v


def step(n: int, unit: str) -> relativedelta:
    return UNITS[unit] * n


def relative(op: str, n: int, unit: str, today: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """Inclusive [first, last] days of the four relative operators (None = open)."""
    one = dt.timedelta(days=1)
    if op == "within_last":  # today - N < d <= today
        return today - step(n, unit) + one, today
    if op == "at_least_ago":  # d <= today - N
        return None, today - step(n, unit)
    if op == "within_next":  # today <= d < today + N
        return today, today + step(n, unit) - one
    if op == "at_least_ahead":  # d >= today + N
        return today + step(n, unit), None
    raise ValueError(op)


def period(name: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """Inclusive [first, last] days of a named period; weeks run Monday to Sunday."""
    one = dt.timedelta(days=1)
    if name in ("today", "yesterday", "tomorrow"):
        d = today + one * {"today": 0, "yesterday": -1, "tomorrow": 1}[name]
        return d, d
    which, unit = name.split("_")
    offset = {"last": -1, "this": 0, "next": 1}[which]
    if unit == "week":
        monday = today - dt.timedelta(days=today.isoweekday() - 1)
        first = monday + dt.timedelta(weeks=offset)
        return first, first + dt.timedelta(days=6)
    if unit == "month":
        first = today.replace(day=1) + relativedelta(months=offset)
        return first, first + relativedelta(months=1) - one
    if unit == "quarter":
        first = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1) + relativedelta(months=3 * offset)
        return first, first + relativedelta(months=3) - one
    if unit == "year":
        first = dt.date(today.year + offset, 1, 1)
        return first, dt.date(first.year, 12, 31)
    raise ValueError(name)


def in_days(v: Any, first: dt.date | None, last: dt.date | None) -> bool:
    d = day(v)
    if d is None:
        return False
    return (first is None or d >= first) and (last is None or d <= last)
