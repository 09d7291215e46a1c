"""What `count`, `members` and `apply` need from a database."""

from __future__ import annotations

from typing import Any, Protocol

from segc.dialects import Dialect


class Engine(Protocol):
    dialect: Dialect

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Run one read-only statement and return its rows."""

    def apply(self, statements: list[str]) -> None:
        """Run every statement in one transaction: all of them take effect, or none."""

    def close(self) -> None: ...
