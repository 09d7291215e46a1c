"""Small helpers shared by the checkers: expected node kinds, names, suggestions."""

from __future__ import annotations

import contextlib
import difflib
import gc
import re
from collections.abc import Iterable, Iterator

from segc.compiler.yamlfile import YMap, YNode, YScalar, YSeq, kind_name
from segc.errors import Diagnostics

NAME_RE = re.compile(r"\A[a-z][a-z0-9_]*\Z")  # \Z: `$` would let "vip\n" through
RESERVED_FIELD_NAMES = frozenset({"all", "any", "not", "has"})


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Compiling builds hundreds of thousands of small sqlglot nodes and frees none of them until
    the end; Python's cyclic garbage collector would rescan them again and again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """'did you mean X?' for the closest choice, or None."""
    choices = list(choices)
    exact_case = [c for c in choices if c.lower() == word.lower()]
    if exact_case:
        return f"did you mean {exact_case[0]}?"
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in choices}
        close = [lowered[c] for c in difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.5)]
    return f"did you mean {close[0]}?" if close else None


class Checker(Diagnostics):
    """Diagnostics plus the checks every YAML mapping needs."""

    def known_keys(self, node: YMap, allowed: Iterable[str], where: str) -> None:
        allowed = tuple(allowed)
        present = set(node.keys())
        missing = [a for a in allowed if a not in present]  # suggest only keys not already set
        for k, _ in node.items:
            if k.text not in allowed:
                self.error("E101", k.pos, f"unknown field '{k.text}' in {where}",
                           suggest(k.text, missing) or suggest(k.text, allowed) or f"expected one of: {', '.join(allowed)}")


def expect_map(ck: Checker, node: YNode | None, what: str) -> YMap | None:
    if isinstance(node, YMap):
        return node
    if node is not None:
        ck.error("E100", node.pos, f"{what} must be a mapping, not {kind_name(node)}")
    return None


def expect_list(ck: Checker, node: YNode | None, what: str) -> YSeq | None:
    if isinstance(node, YSeq):
        return node
    if node is not None:
        ck.error("E100", node.pos, f"{what} must be a list, not {kind_name(node)}")
    return None


def expect_scalar(ck: Checker, node: YNode | None, what: str, optional: bool = False) -> YScalar | None:
    if node is None:
        return None
    if isinstance(node, YScalar) and not node.is_null:
        return node
    if isinstance(node, YScalar) and optional:
        return None
    ck.error("E100", node.pos, f"{what} must be a single value, not {kind_name(node)}")
    return None


def expect_name(ck: Checker, node: YNode | None, what: str) -> str | None:
    s = expect_scalar(ck, node, what)
    if s is None:
        return None
    if not NAME_RE.match(s.text):
        ck.error("E104", s.pos, f"{what} '{s.text}' is not a valid name",
                 "names start with a lowercase letter, then lowercase letters, digits or _")
        return None
    return s.text
