"""Running segc's SQL on a database: DuckDB files (`--db`)."""

from segc.engines.base import Engine
from segc.engines.duckdb import DuckDBEngine

__all__ = ["DuckDBEngine", "Engine"]
