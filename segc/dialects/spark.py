"""Spark SQL (3.4+ / 4.x) and Databricks.

- Arrays: arrays_overlap and array_contains; sqlglot renders ArrayOverlaps as `&&`, which Spark lacks.
- DATE_TRUNC('WEEK') is Monday in Spark; the result is a timestamp, cast back to DATE.
- JSON columns are strings read with get_json_object.
"""

from __future__ import annotations

from sqlglot import exp

from segc.dialects.base import Dialect, dtype


class Spark(Dialect):
    name = "spark"
    sqlglot_dialect = "spark"
    text_type = "STRING"
    overlaps_function = "ARRAYS_OVERLAP"
    contains_all_operator = False

    def local_date(self, instant: exp.Expression, timezone: str) -> exp.Expression:
        # Spark shows an instant as wall time in the session zone: take it to UTC wall time, then
        # to `timezone`, so the result does not depend on spark.sql.session.timeZone.
        utc = exp.Anonymous(this="TO_UTC_TIMESTAMP", expressions=[instant, exp.Anonymous(this="CURRENT_TIMEZONE")])
        local = exp.Anonymous(this="FROM_UTC_TIMESTAMP", expressions=[utc, exp.Literal.string(timezone)])
        return exp.Cast(this=local, to=dtype("DATE"))

    def day_start(self, day: exp.Expression, timezone: str | None) -> exp.Expression:
        ts = exp.Cast(this=day, to=dtype("TIMESTAMP"))
        if timezone is None:
            return ts
        return exp.Anonymous(this="TO_UTC_TIMESTAMP", expressions=[ts, exp.Literal.string(timezone)])


class Databricks(Spark):
    name = "databricks"
    sqlglot_dialect = "databricks"
