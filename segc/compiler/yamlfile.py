"""Read YAML into a small tree of nodes that remember their file, line and column.

PyYAML's composer gives us nodes with positions and the scalars' *text*. We deliberately never let
YAML resolve scalar types: a value is read by the type of the field it belongs to (SPEC 2, "Values
are read by the field's type"), so `NO` stays "NO" and `007` stays "007".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Union

import yaml

from segc.errors import Diagnostic, Pos, SegcError

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 64

_NULL_WORDS = frozenset({"", "~", "null", "Null", "NULL"})


@dataclass(frozen=True, slots=True)
class YScalar:
    text: str
    pos: Pos
    quoted: bool = False

    @property
    def is_null(self) -> bool:
        return not self.quoted and self.text in _NULL_WORDS


@dataclass(frozen=True, slots=True)
class YSeq:
    items: tuple["YNode", ...]
    pos: Pos


@dataclass(frozen=True, slots=True)
class YMap:
    items: tuple[tuple[YScalar, "YNode"], ...]
    pos: Pos

    def get(self, key: str) -> "YNode | None":
        for k, v in self.items:
            if k.text == key:
                return v
        return None

    def keys(self) -> list[str]:
        return [k.text for k, _ in self.items]

    def key_node(self, key: str) -> YScalar | None:
        for k, _ in self.items:
            if k.text == key:
                return k
        return None


YNode = Union[YScalar, YSeq, YMap]


def kind_name(node: YNode) -> str:
    if isinstance(node, YMap):
        return "a mapping"
    if isinstance(node, YSeq):
        return "a list"
    return "null" if node.is_null else f"the scalar {node.text!r}"


def _offset_to_pos(file: str, data: bytes, offset: int) -> Pos:
    before = data[:offset]
    line = before.count(b"\n") + 1
    col = offset - (before.rfind(b"\n") + 1) + 1
    return Pos(file, line, col)


def read_yaml(path: Path, display: str | None = None) -> YNode:
    """Parse one YAML file; raise SegcError with a positioned diagnostic if it cannot be read."""
    name = display or str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SegcError([Diagnostic("E001", Pos(name), f"cannot read file: {exc.strerror}")]) from None
    return parse_yaml(data, name)


def parse_yaml(data: bytes, name: str) -> YNode:
    if len(data) > MAX_FILE_BYTES:
        raise SegcError([Diagnostic(
            "E001", Pos(name), f"file is {len(data)} bytes; segc reads files of at most {MAX_FILE_BYTES}",
            "split the segments over several files")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SegcError([Diagnostic(
            "E001", _offset_to_pos(name, data, exc.start), "file is not valid UTF-8",
            f"byte 0x{data[exc.start]:02x} cannot start or continue a UTF-8 character")]) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        problem = exc.problem or exc.context or "invalid YAML"
        mark = exc.problem_mark or exc.context_mark
        if ("end of stream" in problem or "<stream end>" in problem) and exc.context_mark is not None:
            mark = exc.context_mark  # point at the bracket or quote left open, not past the end
        pos = Pos(name, mark.line + 1, mark.column + 1) if mark else Pos(name)
        raise SegcError([Diagnostic("E001", pos, f"YAML syntax error: {problem}", _yaml_hint(problem, exc))]) from None
    except yaml.YAMLError as exc:
        raise SegcError([Diagnostic("E001", Pos(name), f"YAML error: {exc}")]) from None
    except RecursionError:
        raise SegcError([Diagnostic("E001", Pos(name), "YAML is nested too deeply")]) from None
    if root is None:
        return YScalar("", Pos(name))
    problems: list[Diagnostic] = []
    node = _convert(root, name, problems, 0)
    if problems:
        raise SegcError(problems)
    return node


def _yaml_hint(problem: str, exc: yaml.MarkedYAMLError) -> str | None:
    context = exc.context or ""
    if "'\\t'" in problem or "\t" in problem:
        return "indent with spaces; YAML does not allow tabs"
    if "end of stream" in problem or "<stream end>" in problem:
        return f"close the {'quote' if 'scalar' in context else 'bracket'} opened here"
    if "block end" in problem or "block mapping" in problem or "indentation" in problem or "mapping values" in problem:
        return "check the indentation: keys of one mapping line up, and nested ones are indented further"
    return None


def _convert(node: yaml.Node, name: str, problems: list[Diagnostic], depth: int) -> YNode:
    pos = Pos(name, node.start_mark.line + 1, node.start_mark.column + 1)
    if depth > MAX_DEPTH:
        problems.append(Diagnostic("E001", pos, f"YAML is nested more than {MAX_DEPTH} levels deep"))
        return YScalar("", pos)
    if node.tag and node.tag.startswith("!") and not node.tag.startswith("tag:yaml.org"):
        problems.append(Diagnostic("E001", pos, f"YAML tag {node.tag} is not supported",
                                   "remove the tag; segc reads every value by its field's type"))
    if isinstance(node, yaml.ScalarNode):
        return YScalar(node.value, pos, quoted=node.style in ("'", '"', "|", ">"))
    if isinstance(node, yaml.SequenceNode):
        return YSeq(tuple(_convert(v, name, problems, depth + 1) for v in node.value), pos)
    assert isinstance(node, yaml.MappingNode)
    seen: dict[str, Pos] = {}
    items: list[tuple[YScalar, YNode]] = []
    for k, v in node.value:
        key = _convert(k, name, problems, depth + 1)
        if not isinstance(key, YScalar):
            problems.append(Diagnostic("E001", key.pos, "mapping keys must be plain names"))
            continue
        if key.text == "<<" and not key.quoted:
            problems.append(Diagnostic("E001", key.pos, "YAML merge keys (<<) are not supported",
                                       "write the keys out"))
            continue
        if key.text in seen:
            first = seen[key.text]
            problems.append(Diagnostic("E002", key.pos, f"duplicate key '{key.text}'",
                                       f"first given at line {first.line}, column {first.col}"))
            continue
        seen[key.text] = key.pos
        items.append((key, _convert(v, name, problems, depth + 1)))
    return YMap(tuple(items), pos)
