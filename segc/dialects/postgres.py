"""PostgreSQL (15): JSON through chained -> / ->>, and views dropped before they are recreated."""

from __future__ import annotations

from sqlglot import exp

from segc.dialects.base import Dialect


class Postgres(Dialect):
    name = "postgres"
    sqlglot_dialect = "postgres"
    text_type = "TEXT"

    def json_text(self, column: exp.Expression, path: tuple[str, ...]) -> exp.Expression:
        # sqlglot's default JSON_EXTRACT_PATH_TEXT fails on jsonb and its multi-key path is
        # broken; `col -> 'a' ->> 'b'` works on json and jsonb alike.
        value = column
        for key in path[:-1]:
            value = exp.JSONExtract(this=value, expression=exp.Literal.string(key), only_json_types=True)
        return exp.JSONExtractScalar(this=value, expression=exp.Literal.string(path[-1]), only_json_types=True)

    def count_if(self, pred: exp.Expression) -> exp.Expression:
        return self.sum_case_count(pred)

    def replace_view(self, name: exp.Table, query: exp.Expression) -> list[exp.Expression]:
        # CREATE OR REPLACE VIEW cannot drop or rename columns in PostgreSQL.
        drop = exp.Drop(tables=[name.copy()], kind="VIEW", exists=True)
        return [drop, exp.Create(this=name, kind="VIEW", expression=query)]
