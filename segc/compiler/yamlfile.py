"""Read YAML into a small tree of nodes that remember their file, line and column.

PyYAML's composer gives us nodes with positions and the scalars' *text*. We deliberately never let
YAML resolve scalar types: a value is read by the type of the field it belongs to (SPEC 2, "Values
are read by the field's type"), so `NO` stays "NO" and `007` stays "007".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import yaml

from segc.errors import Diagnostic, Pos, SegcError

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 1_000_000

# libyaml's composer when PyYAML was built with it (several times faster); same nodes and marks
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
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


_LINE_BREAK = re.compile(r"\r\n|\r|\n|\x85|\u2028|\u2029")
_CORE_TAGS = frozenset("tag:yaml.org,2002:" + t for t in
                       ("str", "int", "float", "bool", "null", "map", "seq", "timestamp", "binary"))


def _text_pos(file: str, text: str, index: int) -> Pos:
    """Line and column (in characters) of text[index], counting lines as YAML does."""
    before = text[:index]
    breaks = list(_LINE_BREAK.finditer(before))
    line_start = breaks[-1].end() if breaks else 0
    return Pos(file, len(breaks) + 1, index - line_start + 1)


def _bad_byte_pos(file: str, data: bytes, offset: int) -> Pos:
    """The position of the first byte that is not UTF-8: its line and column in characters."""
    prefix = data[:offset].decode("utf-8")  # valid up to the bad byte
    return _text_pos(file, prefix, len(prefix))


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
    body = data.removeprefix(b"\xef\xbb\xbf")  # a byte order mark is allowed
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SegcError([Diagnostic(
            "E001", _bad_byte_pos(name, body, exc.start), "file is not valid UTF-8",
            f"byte 0x{body[exc.start]:02x} cannot start or continue a UTF-8 character")]) from None
    try:
        try:
            root = yaml.compose(text, Loader=_LOADER)
        except yaml.YAMLError:
            # libyaml's messages and marks are terser; the pure-Python parser explains better
            root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        problem = exc.problem or exc.context or "invalid YAML"
        mark = exc.problem_mark or exc.context_mark
        context = exc.context or ""
        if exc.context_mark is not None and ("end of stream" in problem or "<stream end>" in problem
                                             or "simple key" in context):
            mark = exc.context_mark  # the bracket or quote left open, the key missing its ': '
        pos = Pos(name, mark.line + 1, mark.column + 1) if mark else Pos(name)
        raise SegcError([Diagnostic("E001", pos, f"YAML syntax error: {problem}", _yaml_hint(problem, exc))]) from None
    except yaml.reader.ReaderError as exc:
        char = f"U+{exc.character:04X}" if isinstance(exc.character, int) else repr(exc.character)
        raise SegcError([Diagnostic("E001", _text_pos(name, text, exc.position),
                                    f"character {char} is not allowed in YAML",
                                    "remove the control character")]) from None
    except yaml.YAMLError as exc:
        raise SegcError([Diagnostic("E001", Pos(name), f"YAML error: {exc}")]) from None
    except RecursionError:
        raise SegcError([Diagnostic("E001", Pos(name), "YAML is nested too deeply")]) from None
    if root is None:
        return YScalar("", Pos(name))
    problems: list[Diagnostic] = []
    sizes: dict[int, int] = {}
    if _expanded_size(root, sizes, 0) > MAX_NODES:
        mark = _smallest_over_limit(root, sizes).start_mark
        raise SegcError([Diagnostic("E001", Pos(name, mark.line + 1, mark.column + 1),
                                    f"YAML expands to more than {MAX_NODES} values through its aliases",
                                    "write the values out instead of nesting aliases")])
    node = _convert(root, name, problems, 0, {})
    if problems:
        raise SegcError(problems)
    return node


def _expanded_size(node: yaml.Node, memo: dict[int, int], depth: int) -> int:
    """How many nodes the document has once every alias is expanded (an alias bomb is tiny)."""
    key = id(node)
    if key not in memo:
        memo[key] = 0  # a recursive alias counts as nothing more
        if depth > MAX_DEPTH:
            total = 1  # too deep: _convert reports it
        elif isinstance(node, yaml.SequenceNode):
            total = 1 + sum(_expanded_size(v, memo, depth + 1) for v in node.value)
        elif isinstance(node, yaml.MappingNode):
            total = 1 + sum(_expanded_size(k, memo, depth + 1) + _expanded_size(v, memo, depth + 1)
                            for k, v in node.value)
        else:
            total = 1
        memo[key] = min(total, MAX_NODES + 1)
    return memo[key]


def _smallest_over_limit(node: yaml.Node, sizes: dict[int, int]) -> yaml.Node:
    """Where the expansion happens: the innermost node still over the limit."""
    while True:
        children = node.value if isinstance(node, yaml.SequenceNode) else (
            [v for kv in node.value for v in kv] if isinstance(node, yaml.MappingNode) else [])
        over = [c for c in children if sizes.get(id(c), 0) > MAX_NODES]
        if not over:
            return node
        node = over[0]


def _yaml_hint(problem: str, exc: yaml.MarkedYAMLError) -> str | None:
    context = exc.context or ""
    if "'\\t'" in problem or "\t" in problem:
        return "indent with spaces; YAML does not allow tabs"
    if "end of stream" in problem or "<stream end>" in problem:
        return f"close the {'quote' if 'scalar' in context else 'bracket'} opened here"
    if "block end" in problem or "block mapping" in problem or "indentation" in problem or "mapping values" in problem:
        return "check the indentation: keys of one mapping line up, and nested ones are indented further"
    return None


def _convert(node: yaml.Node, name: str, problems: list[Diagnostic], depth: int, done: dict[int, YNode]) -> YNode:
    # an alias is the same node object again: convert it once
    if id(node) in done:
        return done[id(node)]
    pos = Pos(name, node.start_mark.line + 1, node.start_mark.column + 1)
    if depth > MAX_DEPTH:
        problems.append(Diagnostic("E001", pos, f"YAML is nested more than {MAX_DEPTH} levels deep"))
        return YScalar("", pos)
    if node.tag and node.tag not in _CORE_TAGS:
        problems.append(Diagnostic("E001", pos, f"YAML tag {node.tag} is not supported",
                                   "remove the tag; segc reads every value by its field's type"))
    if isinstance(node, yaml.ScalarNode):
        if any("\ud800" <= c <= "\udfff" for c in node.value):
            problems.append(Diagnostic("E001", pos, "text holds an unpaired surrogate (\\ud800-\\udfff)",
                                       "write the character itself, or a \\U escape of a whole code point"))
        out: YNode = YScalar(node.value, pos, quoted=node.style in ("'", '"', "|", ">"))
    elif isinstance(node, yaml.SequenceNode):
        out = YSeq(tuple(_convert(v, name, problems, depth + 1, done) for v in node.value), pos)
    else:
        assert isinstance(node, yaml.MappingNode)
        seen: dict[str, Pos] = {}
        items: list[tuple[YScalar, YNode]] = []
        for k, v in node.value:
            key = _convert(k, name, problems, depth + 1, done)
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
            items.append((key, _convert(v, name, problems, depth + 1, done)))
        out = YMap(tuple(items), pos)
    done[id(node)] = out
    return out
