"""PostgreSQL through psycopg 3: read-only transactions for count and members, one transaction
for apply (DDL is transactional in PostgreSQL, so a failure leaves the database unchanged)."""

from __future__ import annotations

from typing import Any

from segc.dialects import get_dialect
from segc.errors import DatabaseError


def _redact(dsn: str) -> str:
    """The DSN without its password, for messages."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    try:
        parts = conninfo_to_dict(dsn)
    except Exception:  # noqa: BLE001 - an unparsable DSN is reported by connect()
        return "<dsn>"
    if "password" in parts:
        parts["password"] = "***"
    return make_conninfo(**parts)


class PostgresEngine:
    def __init__(self, dsn: str, read_only: bool = True):
        try:
            import psycopg
        except ImportError:  # pragma: no cover - psycopg is a dependency
            raise DatabaseError("PostgreSQL needs psycopg: pip install 'psycopg[binary]'") from None
        self.dialect = get_dialect("postgres")
        self._psycopg = psycopg
        try:
            self.con = psycopg.connect(dsn, autocommit=False, connect_timeout=10)
            if read_only:
                self.con.read_only = True
        except (psycopg.Error, ValueError) as exc:
            raise DatabaseError(f"cannot connect to {_redact(dsn)}: {str(exc).strip()}") from None

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            with self.con.cursor() as cur:
                cur.execute(sql.encode())
                rows = cur.fetchall()
            self.con.rollback()  # nothing to keep: count and members only read
            return rows
        except self._psycopg.Error as exc:
            self.con.rollback()
            raise DatabaseError(str(exc).strip()) from None

    def apply(self, statements: list[str]) -> None:
        try:
            with self.con.transaction():
                with self.con.cursor() as cur:
                    for sql in statements:
                        cur.execute(sql.encode())
            self.con.commit()
        except self._psycopg.Error as exc:
            self.con.rollback()
            raise DatabaseError(str(exc).strip()) from None

    def close(self) -> None:
        self.con.close()
