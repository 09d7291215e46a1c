"""What every target has in common; each dialect module overrides only what differs.

Every method returns a sqlglot expression. Calendar meaning is never left to a dialect default:
computed bounds are cast back to DATE, weeks start on Monday by construction, and date arithmetic
passes whole numbers and units (never intervals) to sqlglot.
"""

from __future__ import annotations

import functools
import re

import sqlglot
import sqlglot.generator
from sqlglot import exp

from segc.compiler.ir import Trunc, Unit

_LOWER_SAFE = re.compile(r"^[a-z_][a-z0-9_]*$")
LIKE_ESCAPE = "!"


@functools.lru_cache(maxsize=None)
def _built_type(name: str, dialect: str | None) -> exp.DataType:
    return exp.DataType.build(name, dialect=dialect)


def dtype(name: str, dialect: str | None = None) -> exp.DataType:
    """A data type node; parsing the type name once, not once per use (it was 40% of build time)."""
    return _built_type(name, dialect).copy()


@functools.lru_cache(maxsize=None)
def lean_generator(name: str) -> type[sqlglot.Dialect]:
    """sqlglot's dialect `name` without the rewrites it applies to every SELECT before printing.

    Those rewrites (QUALIFY, DISTINCT ON, EXPLODE, semi joins, UNNEST qualification, ...) look for
    constructs segc never builds, yet walk every subquery's scope: half of Snowflake's generation
    time for 1,000 views. tests/test_dialects.py checks the output is identical to sqlglot's own.
    """
    base = type(sqlglot.Dialect.get_or_raise(name))
    transforms = {k: v for k, v in base.Generator.TRANSFORMS.items() if k is not exp.Select}
    printed: dict[tuple, str] = {}

    def identifier_sql(self, expression: exp.Identifier) -> str:
        # 1,000 views print the same few hundred names ~50,000 times: print each once.
        key = (expression.this, expression.quoted, self.normalize, self.identify, self.pretty)
        text = printed.get(key)
        if text is None:
            if len(printed) > 100_000:  # a long-lived process compiling many projects
                printed.clear()
            text = printed[key] = base.Generator.identifier_sql(self, expression)
        return text

    def createable_sql(self, expression: exp.Create, locations) -> str:
        # Snowflake's walks the whole view twice looking for materialized-view properties (40%
        # of its generation time); segc's CREATE statements carry no properties at all.
        if expression.args.get("properties") is None:
            return sqlglot.generator.Generator.createable_sql(self, expression, locations)
        return base.Generator.createable_sql(self, expression, locations)

    generator = type("Generator", (base.Generator,), {
        "TRANSFORMS": transforms, "identifier_sql": identifier_sql, "createable_sql": createable_sql})
    return type(f"SegcLean{base.__name__}", (base,), {"Generator": generator})


def date_type() -> exp.DataType:
    return dtype("DATE")


def to_date(e: exp.Expression) -> exp.Expression:
    return exp.Cast(this=e, to=date_type())


class Dialect:
    """A target of `segc compile`; the base class is correct for DuckDB."""

    name = "duckdb"
    sqlglot_dialect = "duckdb"
    text_type = "VARCHAR"
    timestamp_type = "TIMESTAMP"
    #: print with lean_generator(): proven identical to sqlglot's output in tests/test_dialects.py
    lean = True

    # -- names ---------------------------------------------------------------------------------

    def identifier(self, name: str) -> exp.Identifier:
        """Names always reach SQL quoted, spelled as the engine stores them."""
        return exp.Identifier(this=self.normalize(name), quoted=True)

    def normalize(self, name: str) -> str:
        return name

    def column(self, name: str, table: str | None = None) -> exp.Column:
        return exp.Column(this=self.identifier(name), table=self.identifier(table) if table else None)

    def table(self, parts: tuple[str, ...], alias: str | None = None) -> exp.Table:
        ids = [self.identifier(p) for p in parts]
        kwargs: dict = {"this": ids[-1]}
        if len(ids) >= 2:
            kwargs["db"] = ids[-2]
        if len(ids) == 3:
            kwargs["catalog"] = ids[0]
        t = exp.Table(**kwargs)
        if alias:
            t.set("alias", exp.TableAlias(this=self.identifier(alias)))
        return t

    # -- values --------------------------------------------------------------------------------

    def string(self, value: str) -> exp.Expression:
        return exp.Literal.string(value)

    def text(self, e: exp.Expression) -> exp.Expression:
        return exp.Cast(this=e, to=dtype(self.text_type))

    # -- dates ---------------------------------------------------------------------------------

    def date_literal(self, iso: str) -> exp.Expression:
        return to_date(exp.Literal.string(iso))

    def current_date(self, timezone: str | None, now: exp.Expression | None = None) -> exp.Expression:
        """Today: CURRENT_DATE, or the current date in the reporting time zone (SPEC 3.1).

        `now` replaces the current instant (tests pin it to check time zones)."""
        if timezone is None and now is None:
            return exp.CurrentDate()
        return self.local_date(now or exp.CurrentTimestamp(), timezone or "UTC")

    def local_date(self, instant: exp.Expression, timezone: str) -> exp.Expression:
        """The calendar date of an instant (a timestamp with time zone) in `timezone`."""
        return to_date(exp.AtTimeZone(this=instant, zone=exp.Literal.string(timezone)))

    def add(self, d: exp.Expression, n: int, unit: Unit) -> exp.Expression:
        return to_date(exp.DateAdd(this=d, expression=exp.Literal.number(n), unit=exp.Var(this=unit.name)))

    def start_of(self, d: exp.Expression, unit: Trunc) -> exp.Expression:
        if unit is Trunc.WEEK:
            return self.week_start(d)
        return to_date(exp.DateTrunc(this=d, unit=exp.Literal.string(unit.name)))

    def week_start(self, d: exp.Expression) -> exp.Expression:
        """The Monday of d's week. DATE_TRUNC('WEEK') is Monday in DuckDB and PostgreSQL."""
        return to_date(exp.DateTrunc(this=d, unit=exp.Literal.string("WEEK")))

    def day_start(self, day: exp.Expression, timezone: str | None) -> exp.Expression:
        """The instant a local day starts, as a naive UTC timestamp comparable with the column."""
        ts = exp.Cast(this=day, to=dtype(self.timestamp_type))
        if timezone is None:
            return ts
        # local wall time -> instant -> UTC wall time
        aware = exp.AtTimeZone(this=ts, zone=exp.Literal.string(timezone))
        return exp.Cast(this=exp.AtTimeZone(this=aware, zone=exp.Literal.string("UTC")),
                        to=dtype(self.timestamp_type))

    # -- JSON, lists, strings ------------------------------------------------------------------

    def json_text(self, column: exp.Expression, path: tuple[str, ...]) -> exp.Expression:
        json_path = exp.JSONPath(expressions=[exp.JSONPathRoot(), *(exp.JSONPathKey(this=k) for k in path)])
        return exp.JSONExtractScalar(this=column, expression=json_path)

    def array(self, values: tuple[str, ...]) -> exp.Expression:
        return exp.Array(expressions=[self.string(v) for v in values])

    def list_size(self, column: exp.Expression) -> exp.Expression:
        return exp.ArraySize(this=column)

    #: a function name for "arrays overlap" where sqlglot's `&&` is not the dialect's SQL
    overlaps_function: str | None = None
    #: whether `@>` (sqlglot's ArrayContainsAll) is the dialect's SQL; else one ARRAY_CONTAINS per value
    contains_all_operator = True

    def list_overlaps(self, column: exp.Expression, values: tuple[str, ...]) -> exp.Expression:
        if self.overlaps_function:
            return exp.Anonymous(this=self.overlaps_function, expressions=[column, self.array(values)])
        return exp.ArrayOverlaps(this=column, expression=self.array(values))

    def list_contains_all(self, column: exp.Expression, values: tuple[str, ...]) -> exp.Expression:
        if self.contains_all_operator:
            return exp.ArrayContainsAll(this=column, expression=self.array(values))
        checks = [self.list_contains(column.copy(), v) for v in values]
        out: exp.Expression = checks[0]
        for c in checks[1:]:
            out = exp.And(this=out, expression=c)
        return exp.Paren(this=out)

    def list_contains(self, column: exp.Expression, value: str) -> exp.Expression:
        return exp.ArrayContains(this=column, expression=self.string(value))

    def like(self, e: exp.Expression, pattern: str) -> exp.Expression:
        """Case-insensitive LIKE with an explicit escape character on every engine."""
        like = exp.Like(this=exp.Lower(this=e), expression=exp.Lower(this=self.string(pattern)))
        return exp.Escape(this=like, expression=self.string(LIKE_ESCAPE))

    def trim(self, e: exp.Expression) -> exp.Expression:
        return exp.Trim(this=e)

    # -- aggregates and statements -------------------------------------------------------------

    def count_if(self, pred: exp.Expression) -> exp.Expression:
        return exp.CountIf(this=pred)

    def sum_case_count(self, pred: exp.Expression) -> exp.Expression:
        """SUM(CASE WHEN pred THEN 1 ELSE 0 END): what sqlglot prints for COUNT_IF where the
        engine has none, built directly (its rewrite parses text: 0.3 s per 1,000 segments)."""
        return exp.Sum(this=exp.Case(ifs=[exp.If(this=pred, true=exp.Literal.number(1))],
                                     default=exp.Literal.number(0)))

    def values(self, rows: list[list[exp.Expression]], alias: str, columns: list[str]) -> exp.Expression:
        """A literal table: VALUES (...), (...) AS alias(columns)."""
        return exp.Values(expressions=[exp.Tuple(expressions=r) for r in rows], alias=exp.TableAlias(
            this=self.identifier(alias), columns=[self.identifier(c) for c in columns]))

    def create_view(self, name: exp.Table, query: exp.Expression) -> exp.Expression:
        return exp.Create(this=name, kind="VIEW", replace=True, expression=query)

    def replace_view(self, name: exp.Table, query: exp.Expression) -> list[exp.Expression]:
        """What `apply` runs to put a view in place, whatever columns an older version had."""
        return [self.create_view(name, query)]

    def create_schema(self, schema: tuple[str, ...]) -> exp.Expression:
        return exp.Create(this=self.table(schema), kind="SCHEMA", exists=True)

    def generator(self) -> type[sqlglot.Dialect]:
        """The sqlglot dialect class that prints this target's SQL."""
        if self.lean:
            return lean_generator(self.sqlglot_dialect)
        return type(sqlglot.Dialect.get_or_raise(self.sqlglot_dialect))

    def sql(self, e: exp.Expression, pretty: bool = True, copy: bool = True,
            generator: type[sqlglot.Dialect] | None = None) -> str:
        """Generate with unsupported_level=RAISE: sqlglot otherwise only logs when it drops meaning.

        copy=False saves a third of the time but lets sqlglot's dialect transforms change the
        tree: pass it only for a tree built for this one call. `generator` replaces
        self.generator() (segc dbt passes one derived from it)."""
        return e.sql(dialect=generator or self.generator(), pretty=pretty, copy=copy,
                     unsupported_level=sqlglot.ErrorLevel.RAISE)
