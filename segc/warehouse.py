"""Load a folder of typed CSV files (the fixture format) into a database.

Each `TABLE.csv` has a header of `name:type` cells (int, text, decimal, bool, date, timestamp,
text[], json); the cell `\\N` is NULL and an empty cell an empty string. Used by `segc demo` and by
the tests, which load the same rows into every engine.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlglot import exp

TYPES = ("int", "text", "decimal", "bool", "date", "timestamp", "text[]", "json")
NULL = "\\N"

# sqlglot types, so that each engine gets its own spelling.
SQL_TYPES = {"int": "BIGINT", "text": "TEXT", "decimal": "DECIMAL(18, 2)", "bool": "BOOLEAN",
             "date": "DATE", "timestamp": "TIMESTAMP", "text[]": "ARRAY<TEXT>", "json": "JSON"}


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[tuple[str, str], ...]  # (name, type)
    rows: tuple[tuple[Any, ...], ...]  # Python values: int, str, Decimal, bool, date, datetime, list, dict

    def dicts(self) -> list[dict[str, Any]]:
        names = [c for c, _ in self.columns]
        return [dict(zip(names, r)) for r in self.rows]


def parse_cell(text: str, type_: str) -> Any:
    if text == NULL:
        return None
    if type_ == "text":
        return text
    if type_ == "int":
        return int(text)
    if type_ == "decimal":
        return Decimal(text)
    if type_ == "bool":
        return {"true": True, "false": False}[text]
    if type_ == "date":
        return dt.date.fromisoformat(text)
    if type_ == "timestamp":
        return dt.datetime.fromisoformat(text)
    if type_ == "text[]":
        value = json.loads(text)
        assert isinstance(value, list) and all(isinstance(v, str) for v in value), text
        return value
    if type_ == "json":
        return json.loads(text)
    raise ValueError(f"unknown column type {type_}")


def read_table(path: Path) -> Table:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        columns = tuple((h.split(":", 1)[0], h.split(":", 1)[1]) for h in header)
        for _, t in columns:
            if t not in TYPES:
                raise ValueError(f"{path}: unknown column type {t}")
        rows = tuple(tuple(parse_cell(cell, t) for cell, (_, t) in zip(row, columns)) for row in reader)
    return Table(path.stem, columns, rows)


def read_tables(folder: Path) -> list[Table]:
    return [read_table(p) for p in sorted(folder.glob("*.csv"))]


def create_table_sql(schema: str, table: Table, dialect: str) -> str:
    columns = [exp.ColumnDef(this=exp.to_identifier(c, quoted=True), kind=exp.DataType.build(SQL_TYPES[t]))
               for c, t in table.columns]
    target = exp.Table(this=exp.to_identifier(table.name, quoted=True), db=exp.to_identifier(schema, quoted=True))
    return exp.Create(this=exp.Schema(this=target, expressions=columns), kind="TABLE").sql(dialect=dialect)


def load_duckdb(con, folder: Path, schema: str = "crm") -> list[Table]:
    """Create `schema` and one table per CSV file in a DuckDB connection."""
    tables = read_tables(folder)
    con.execute(exp.Create(this=exp.to_identifier(schema, quoted=True), kind="SCHEMA", exists=True).sql("duckdb"))
    for t in tables:
        con.execute(create_table_sql(schema, t, "duckdb"))
        target = exp.Table(this=exp.to_identifier(t.name, quoted=True), db=exp.to_identifier(schema, quoted=True))
        insert = exp.Insert(this=target, expression=exp.Values(expressions=[
            exp.Tuple(expressions=[exp.Placeholder() for _ in t.columns])])).sql("duckdb")
        rows = [tuple(json.dumps(v, ensure_ascii=False) if ty == "json" and v is not None else v
                      for v, (_, ty) in zip(r, t.columns)) for r in t.rows]
        if rows:
            con.executemany(insert, rows)
    return tables
