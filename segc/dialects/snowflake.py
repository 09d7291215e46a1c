"""Snowflake: nothing may depend on the session's WEEK_START or TIMEZONE.

- Unquoted identifiers are stored upper-case, so lower-case names are emitted as quoted upper case.
- Today without `timezone:` is the UTC date (CURRENT_DATE would follow the session's zone).
- Weeks start on Monday by DAYOFWEEKISO, not DATE_TRUNC('WEEK'), which follows WEEK_START.
- JSON is read with GET_PATH on a VARIANT; arrays with ARRAYS_OVERLAP (sqlglot's `@>` for
  "contains all" is not Snowflake SQL).
"""

from __future__ import annotations

import functools

from sqlglot import exp

from segc.dialects.base import Dialect, _LOWER_SAFE, dtype, to_date


@functools.lru_cache(maxsize=4096)
def _stored_name(name: str) -> str:
    """How Snowflake stores a name: lower-case ones as upper case (quoted, they must match it)."""
    return name.upper() if _LOWER_SAFE.match(name) else name


class Snowflake(Dialect):
    name = "snowflake"
    sqlglot_dialect = "snowflake"
    timestamp_type = "TIMESTAMP_NTZ"
    contains_all_operator = False

    def normalize(self, name: str) -> str:
        return _stored_name(name)

    def current_date(self, timezone: str | None, now: exp.Expression | None = None) -> exp.Expression:
        # never the session's TIMEZONE: without `timezone:`, today is the UTC date
        return self.local_date(now or exp.CurrentTimestamp(), timezone or "UTC")

    def local_date(self, instant: exp.Expression, timezone: str) -> exp.Expression:
        return to_date(exp.ConvertTimezone(target_tz=exp.Literal.string(timezone), timestamp=instant))

    def week_start(self, d: exp.Expression) -> exp.Expression:
        offset = exp.Sub(this=exp.Literal.number(1), expression=exp.DayOfWeekIso(this=d.copy()))
        return to_date(exp.DateAdd(this=d, expression=exp.Paren(this=offset), unit=exp.Var(this="DAY")))

    def day_start(self, day: exp.Expression, timezone: str | None) -> exp.Expression:
        ts = exp.Cast(this=day, to=dtype(self.timestamp_type, dialect="snowflake"))
        if timezone is None:
            return ts
        return exp.ConvertTimezone(source_tz=exp.Literal.string(timezone), target_tz=exp.Literal.string("UTC"),
                                   timestamp=ts)

    def list_overlaps(self, column: exp.Expression, values: tuple[str, ...]) -> exp.Expression:
        # Parenthesised: sqlglot expands ARRAYS_OVERLAP into `a OR b` when it transpiles Snowflake
        # (as fakesnow does) without parentheses, so `overlap AND overlap` would bind wrongly.
        return exp.Paren(this=super().list_overlaps(column, values))

    def list_contains(self, column: exp.Expression, value: str) -> exp.Expression:
        # ARRAYS_OVERLAP with a one-element array: the same meaning as ARRAY_CONTAINS(v::VARIANT, x),
        # and the form the fakesnow emulator can also run on literal arrays.
        return self.list_overlaps(column, (value,))

    def json_text(self, column: exp.Expression, path: tuple[str, ...]) -> exp.Expression:
        json_path = exp.JSONPath(expressions=[exp.JSONPathRoot(), *(exp.JSONPathKey(this=k) for k in path)])
        value = exp.JSONExtract(this=column, expression=json_path, variant_extract=True, requires_json=True)
        return exp.Cast(this=value, to=dtype("VARCHAR"))
