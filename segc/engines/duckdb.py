"""DuckDB files: opened read-only for count and members, read-write in one transaction for apply."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from segc.dialects import get_dialect
from segc.errors import DatabaseError


class DuckDBEngine:
    def __init__(self, path: str | Path, read_only: bool = True):
        self.dialect = get_dialect("duckdb")
        path = Path(path)
        if read_only and not path.is_file():
            raise DatabaseError(f"{path}: no such DuckDB file")
        try:
            self.con = duckdb.connect(str(path), read_only=read_only)
            # DuckDB draws its own progress bar on long queries, which could land in `--format json`
            self.con.execute("SET enable_progress_bar = false")
        except duckdb.Error as exc:
            raise DatabaseError(f"{path}: cannot open DuckDB file: {exc}") from None

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            return self.con.execute(sql).fetchall()
        except duckdb.Error as exc:
            raise DatabaseError(str(exc).strip()) from None

    def apply(self, statements: list[str]) -> None:
        try:
            self.con.execute("BEGIN TRANSACTION")
            for sql in statements:
                self.con.execute(sql)
            self.con.execute("COMMIT")
        except duckdb.Error as exc:
            try:
                self.con.execute("ROLLBACK")
            except duckdb.Error:
                pass
            raise DatabaseError(str(exc).strip()) from None

    def close(self) -> None:
        self.con.close()
