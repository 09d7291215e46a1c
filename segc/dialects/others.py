"""Dialects segc emits and parses back but does not execute in its tests: BigQuery, Redshift, Trino.

Each is correct by construction for week start and date arithmetic: weeks start on Monday through
an explicit form, and every bound is cast back to DATE.
"""

from __future__ import annotations

from sqlglot import exp

from segc.dialects.base import Dialect, dtype, to_date


class BigQuery(Dialect):
    name = "bigquery"
    sqlglot_dialect = "bigquery"
    text_type = "STRING"
    timestamp_type = "DATETIME"
    lean = False  # sqlglot's SELECT rewrites qualify the columns of UNNEST-ed VALUES here

    def week_start(self, d: exp.Expression) -> exp.Expression:
        # WEEK is Sunday in BigQuery; ISOWEEK starts on Monday.
        return to_date(exp.DateTrunc(this=d, unit=exp.Var(this="ISOWEEK")))

    def local_date(self, instant: exp.Expression, timezone: str) -> exp.Expression:
        return exp.Anonymous(this="DATE", expressions=[instant, exp.Literal.string(timezone)])

    def day_start(self, day: exp.Expression, timezone: str | None) -> exp.Expression:
        ts = exp.Cast(this=day, to=dtype("DATETIME"))
        if timezone is None:
            return ts
        # local midnight -> the instant -> its UTC wall time
        instant = exp.Anonymous(this="TIMESTAMP", expressions=[ts, exp.Literal.string(timezone)])
        return exp.Anonymous(this="DATETIME", expressions=[instant, exp.Literal.string("UTC")])

    def list_overlaps(self, column: exp.Expression, values: tuple[str, ...]) -> exp.Expression:
        return self._exists_in(column, values, any_=True)

    def list_contains_all(self, column: exp.Expression, values: tuple[str, ...]) -> exp.Expression:
        return self._exists_in(column, values, any_=False)

    def _exists_in(self, column: exp.Expression, values: tuple[str, ...], any_: bool) -> exp.Expression:
        checks = [exp.In(this=self.string(v), unnest=exp.Unnest(expressions=[column.copy()])) for v in values]
        out: exp.Expression = checks[0]
        for c in checks[1:]:
            out = (exp.Or if any_ else exp.And)(this=out, expression=c)
        return exp.Paren(this=out)

    def values(self, rows, alias, columns):
        structs = [exp.Struct(expressions=[exp.PropertyEQ(this=self.identifier(c), expression=v)
                                           for c, v in zip(columns, r)]) for r in rows]
        unnest = exp.Unnest(expressions=[exp.Array(expressions=structs)])
        unnest.set("alias", exp.TableAlias(this=self.identifier(alias)))
        return unnest


class Redshift(Dialect):
    name = "redshift"
    sqlglot_dialect = "redshift"
    text_type = "VARCHAR"

    def count_if(self, pred: exp.Expression) -> exp.Expression:
        return self.sum_case_count(pred)


class Trino(Dialect):
    name = "trino"
    sqlglot_dialect = "trino"
    overlaps_function = "ARRAYS_OVERLAP"
    contains_all_operator = False
