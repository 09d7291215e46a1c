"""Diagnostics: every problem segc reports about user input carries a file, line and column."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


def printable(text: str) -> str:
    """Control characters from user input, escaped: a message stays one line and cannot drive
    the terminal."""
    return "".join(c if c.isprintable() or c == " " else c.encode("unicode_escape").decode("ascii") for c in text)


@dataclass(frozen=True, slots=True)
class Pos:
    """A position in a source file; line and column are 1-based."""

    file: str
    line: int = 1
    col: int = 1

    def __str__(self) -> str:
        # line 0: not a place in a file but a command-line option (`--set`), named as it is
        return f"{self.file}:{self.line}:{self.col}" if self.line else self.file


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    pos: Pos
    message: str
    hint: str | None = None
    severity: Severity = Severity.ERROR

    def as_json(self) -> dict:
        return {"file": self.pos.file, "line": self.pos.line or None, "column": self.pos.col or None,
                "severity": self.severity.value, "code": self.code, "message": self.message, "hint": self.hint}

    def render(self) -> str:
        text = f"{printable(str(self.pos))}: {self.severity.value}: {printable(self.message)} [{self.code}]"
        if self.hint:
            text += f"\n  hint: {printable(self.hint)}"
        return text


class SegcError(Exception):
    """Raised with every diagnostic collected when the input is invalid (exit code 1)."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = sorted(
            diagnostics, key=lambda d: (d.pos.file, d.pos.line, d.pos.col, d.code, d.message)
        )
        super().__init__("\n".join(d.render() for d in self.diagnostics))


class DatabaseError(Exception):
    """The database refused or failed a statement (exit code 3)."""


class Diagnostics:
    """Collects problems so that a run reports all of them, not just the first."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def error(self, code: str, pos: Pos, message: str, hint: str | None = None) -> None:
        self.items.append(Diagnostic(code, pos, message, hint))

    def warning(self, code: str, pos: Pos, message: str, hint: str | None = None) -> None:
        self.items.append(Diagnostic(code, pos, message, hint, Severity.WARNING))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity is Severity.WARNING]

    def raise_if_errors(self) -> None:
        if self.errors:
            raise SegcError(self.items)
