"""DuckDB: the embedded default. The base dialect is written for it, so nothing differs."""

from segc.dialects.base import Dialect


class DuckDB(Dialect):
    name = "duckdb"
    sqlglot_dialect = "duckdb"
