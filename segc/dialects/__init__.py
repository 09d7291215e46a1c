"""Targets of `segc compile`: one small module per dialect, holding only what differs."""

from __future__ import annotations

from segc.dialects.base import Dialect
from segc.dialects.duckdb import DuckDB
from segc.dialects.others import BigQuery, Redshift, Trino
from segc.dialects.postgres import Postgres
from segc.dialects.snowflake import Snowflake
from segc.dialects.spark import Databricks, Spark

_DIALECTS: dict[str, type[Dialect]] = {
    d.name: d for d in (DuckDB, Postgres, Snowflake, Spark, BigQuery, Databricks, Redshift, Trino)
}
NAMES = tuple(_DIALECTS)


def get_dialect(name: str) -> Dialect:
    return _DIALECTS[name]()


__all__ = ["Dialect", "NAMES", "get_dialect"]
