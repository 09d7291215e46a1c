"""Check a condition (SPEC 2) against an entity and lower it to IR predicates."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from segc.compiler import dates
from segc.compiler.ir import (
    And, CmpOp, Compare, DateLit, DateRange, Field, FieldRef, FieldType, Has, InSet, IsEmpty, ListMatch,
    ListOp, Not, Pred, Relation, RelationKind, Scalar, TextMatch, TextOp, TrueP, Unit, all_of,
    any_of, shift,
)
from segc.compiler.util import Checker, expect_list, expect_map, expect_scalar, suggest
from segc.compiler.yamlfile import YMap, YNode, YScalar, YSeq, kind_name
from segc.errors import Pos

MAX_CONDITION_DEPTH = 32

_T = FieldType
OPERATORS: dict[str, tuple[FieldType, ...]] = {
    "is_empty": tuple(FieldType),
    "=": (_T.STRING, _T.ENUM, _T.NUMBER, _T.BOOLEAN, _T.DATE, _T.TIMESTAMP),
    "!=": (_T.STRING, _T.ENUM, _T.NUMBER, _T.DATE, _T.TIMESTAMP),
    "in": (_T.STRING, _T.ENUM, _T.NUMBER),
    "not_in": (_T.STRING, _T.ENUM, _T.NUMBER),
    "contains": (_T.STRING,),
    "not_contains": (_T.STRING,),
    "starts_with": (_T.STRING,),
    "ends_with": (_T.STRING,),
    ">": (_T.NUMBER, _T.DATE, _T.TIMESTAMP),
    ">=": (_T.NUMBER, _T.DATE, _T.TIMESTAMP),
    "<": (_T.NUMBER, _T.DATE, _T.TIMESTAMP),
    "<=": (_T.NUMBER, _T.DATE, _T.TIMESTAMP),
    "between": (_T.NUMBER, _T.DATE, _T.TIMESTAMP),
    "in_period": (_T.DATE, _T.TIMESTAMP),
    "within_last": (_T.DATE, _T.TIMESTAMP),
    "at_least_ago": (_T.DATE, _T.TIMESTAMP),
    "within_next": (_T.DATE, _T.TIMESTAMP),
    "at_least_ahead": (_T.DATE, _T.TIMESTAMP),
    "contains_any": (_T.STRING_LIST,),
    "contains_all": (_T.STRING_LIST,),
    "contains_none": (_T.STRING_LIST,),
}
COMBINATORS = ("all", "any", "not", "has")
_NUMBER_RE = re.compile(r"\A[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\Z")
_TRUE, _FALSE = ("true", "True", "TRUE"), ("false", "False", "FALSE")
_CMP = {"=": CmpOp.EQ, "!=": CmpOp.NE, ">": CmpOp.GT, ">=": CmpOp.GE, "<": CmpOp.LT, "<=": CmpOp.LE}


@dataclass(frozen=True)
class Scope:
    """What a condition on one entity may name."""

    entity: str
    field: Callable[[str], Field | None]
    field_names: tuple[str, ...]
    relation: Callable[[str], Relation | None]
    relation_names: tuple[str, ...]
    broken: frozenset[str] = frozenset()  # relations whose definition is already reported


Resolver = Callable[[str], Scope]


def operators_for(ftype: FieldType) -> list[str]:
    return [op for op, types in OPERATORS.items() if ftype in types]


def check_condition(ck: Checker, node: YNode | None, entity: str, resolver: Resolver) -> Pred:
    return _Lowering(ck, resolver).condition(node, resolver(entity), 0)


class _Lowering:
    def __init__(self, ck: Checker, resolver: Resolver):
        self.ck = ck
        self.resolver = resolver

    def bad(self, code: str, pos: Pos, message: str, hint: str | None = None) -> Pred:
        self.ck.error(code, pos, message, hint)
        return TrueP()

    # -- structure ---------------------------------------------------------------------------

    def condition(self, node: YNode | None, scope: Scope, depth: int) -> Pred:
        if node is None:
            return TrueP()
        if depth > MAX_CONDITION_DEPTH:
            return self.bad("E120", node.pos, f"conditions nest more than {MAX_CONDITION_DEPTH} levels deep")
        if isinstance(node, YSeq):
            return self.bad("E120", node.pos, "a condition must be a mapping, not a list",
                            "wrap the list in all: [...] or any: [...]")
        if not isinstance(node, YMap) or not node.items:
            return self.bad("E120", node.pos, f"a condition must be a non-empty mapping, not {kind_name(node)}",
                            "e.g. {rank: A} or {all: [...]}")
        parts: list[Pred] = []
        for key, value in node.items:
            if key.text in ("all", "any"):
                parts.append(self.junction(key, value, scope, depth))
            elif key.text == "not":
                if isinstance(value, YSeq):
                    parts.append(self.bad("E120", value.pos, "not takes one condition, not a list",
                                          "write not: {any: [...]} to exclude several"))
                else:
                    parts.append(Not(self.condition_required(value, key, scope, depth + 1)))
            elif key.text == "has":
                parts.append(self.has(key, value, scope, depth))
            else:
                parts.append(self.field_test(key, value, scope))
        pred = all_of(parts)
        self.impossible(node, parts)
        return pred

    def condition_required(self, node: YNode | None, key: YScalar, scope: Scope, depth: int) -> Pred:
        if node is None or (isinstance(node, YScalar) and node.is_null):
            return self.bad("E120", key.pos, f"'{key.text}' needs a condition")
        return self.condition(node, scope, depth)

    def junction(self, key: YScalar, value: YNode, scope: Scope, depth: int) -> Pred:
        seq = expect_list(self.ck, value, f"'{key.text}'")
        if seq is None:
            return TrueP()
        if not seq.items:
            return self.bad("E120", seq.pos, f"'{key.text}' needs at least one condition")
        items = [self.condition(item, scope, depth + 1) for item in seq.items]
        return all_of(items) if key.text == "all" else any_of(items)

    def has(self, key: YScalar, value: YNode, scope: Scope, depth: int) -> Pred:
        spec = expect_map(self.ck, value, "has")
        if spec is None:
            return TrueP()
        parts: list[Pred] = []
        for rkey, rvalue in spec.items:
            rel = scope.relation(rkey.text)
            if rel is None and rkey.text in scope.broken:
                continue
            if rel is None:
                parts.append(self.bad("E121", rkey.pos, f"'{scope.entity}' has no relation '{rkey.text}'",
                                      suggest(rkey.text, scope.relation_names)))
                continue
            if rel.kind is not RelationKind.HAS_MANY:
                parts.append(self.bad("E121", rkey.pos, f"has needs a has_many relation; '{rel.name}' is belongs_to",
                                      "use a lookup field to test the other entity's fields"))
                continue
            where: Pred = TrueP()
            tests = ((CmpOp.GE, Decimal(1)),)
            if rvalue is not None and not (isinstance(rvalue, YScalar) and rvalue.is_null):
                body = expect_map(self.ck, rvalue, f"has {rel.name}")
                if body is None:
                    continue
                self.ck.known_keys(body, ("where", "count"), f"has {rel.name}")
                if body.get("where") is not None:
                    where = self.condition(body.get("where"), self.resolver(rel.target), depth + 1)
                if body.get("count") is not None:
                    tests = self.count_tests(body.get("count"))
            parts.append(Has(scope.entity, rel.name, where, tests))
        if not spec.items:
            return self.bad("E120", spec.pos, "has needs a relation", "e.g. has: {orders: {where: {status: won}}}")
        return all_of(parts)

    def count_tests(self, node: YNode) -> tuple[tuple[CmpOp, Decimal], ...]:
        if isinstance(node, YScalar):
            n = self.whole_number(node)
            return ((CmpOp.EQ, n),) if n is not None else ()
        spec = expect_map(self.ck, node, "count")
        if spec is None:
            return ()
        out: list[tuple[CmpOp, Decimal]] = []
        for op, v in spec.items:
            if op.text == "between":
                pair = self.pair(v, "between")
                if pair and (lo := self.whole_number(pair[0])) is not None and (hi := self.whole_number(pair[1])) is not None:
                    out += [(CmpOp.GE, lo), (CmpOp.LE, hi)]
            elif op.text in _CMP:
                if (n := self.whole_number(v)) is not None:
                    out.append((_CMP[op.text], n))
            else:
                self.ck.error("E122", op.pos, f"count takes =, !=, >, >=, <, <= or between, not '{op.text}'",
                              suggest(op.text, [*_CMP, "between"]))
        return tuple(out)

    def whole_number(self, node: YNode) -> Decimal | None:
        s = expect_scalar(self.ck, node, "count")
        if s is None:
            return None
        if not (s.text.isascii() and s.text.isdigit()):  # str.isdigit() also takes "²"
            self.ck.error("E123", s.pos, f"a count must be a whole number, not '{s.text}'")
            return None
        return Decimal(int(s.text))

    # -- field tests -------------------------------------------------------------------------

    def field_test(self, key: YScalar, value: YNode | None, scope: Scope) -> Pred:
        field = scope.field(key.text)
        if field is None:
            if key.text not in scope.field_names:
                return self.bad("E124", key.pos, f"'{scope.entity}' has no field '{key.text}'",
                                suggest(key.text, [*scope.field_names, *COMBINATORS]))
            return TrueP()  # the field itself is broken; that error is already reported
        ref = FieldRef(scope.entity, field.name)
        if value is None or (isinstance(value, YScalar) and value.is_null):
            return self.bad("E125", key.pos, f"'{field.name}' needs a value or a test",
                            "to find rows without a value, write is_empty: true")
        if isinstance(value, YSeq):
            items = ", ".join(x.text for x in value.items if isinstance(x, YScalar))
            hint = {FieldType.STRING_LIST: f"use contains_any: [{items}] or contains_all: [{items}]",
                    FieldType.DATE: "use between: [first day, last day]",
                    FieldType.TIMESTAMP: "use between: [first day, last day]",
                    FieldType.BOOLEAN: None}.get(field.type, f"use in: [{items}]")
            return self.bad("E126", value.pos, f"'{field.name}' is compared with a list", hint)
        if isinstance(value, YScalar):
            if field.type is FieldType.STRING_LIST:
                return self.bad("E127", value.pos, f"'{field.name}' is a string_list; it has no =",
                                f"use contains_any: [{value.text}]")
            return self.operator(field, ref, YScalar("=", value.pos), value)
        assert isinstance(value, YMap)
        parts = [self.operator(field, ref, op, v) for op, v in value.items]
        if not value.items:
            return self.bad("E125", value.pos, f"'{field.name}' needs at least one test")
        return all_of(parts)

    def operator(self, field: Field, ref: FieldRef, op: YScalar, v: YNode) -> Pred:
        name, ftype = op.text, field.type
        if name not in OPERATORS:
            return self.bad("E127", op.pos, f"unknown operator '{name}'",
                            suggest(name, operators_for(ftype)) or f"{ftype.value} fields take: {', '.join(operators_for(ftype))}")
        if ftype not in OPERATORS[name]:
            hint = f"{ftype.value} fields take: {', '.join(operators_for(ftype))}"
            if name == "=" and ftype is FieldType.STRING_LIST:
                hint = "use contains_any: [...]"
            return self.bad("E127", op.pos, f"operator '{name}' does not apply to {ftype.value} field '{field.name}'", hint)
        if name == "is_empty":
            b = self.boolean(v)
            if b is None:
                return TrueP()
            return IsEmpty(ref) if b else Not(IsEmpty(ref))
        if ftype.is_temporal:
            return self.temporal(field, ref, name, v)
        if name in ("=", "!=", ">", ">=", "<", "<="):
            if isinstance(v, YSeq) and name in ("=", "!="):
                vals = ", ".join(x.text for x in v.items if isinstance(x, YScalar))
                use = "in" if name == "=" else "not_in"
                return self.bad("E126", v.pos, f"'{name}' takes one value, not a list", f"use {use}: [{vals}]")
            value = self.value(field, v)
            if value is None:
                return TrueP()
            return Compare(ref, _CMP[name], value)
        if name in ("in", "not_in"):
            seq = self.value_list(v, name, field)
            values = tuple(x for item in seq if (x := self.value(field, item)) is not None)
            if len(values) != len(seq) or not values:
                return TrueP()
            return InSet(ref, values, negated=name == "not_in")
        if name == "between":
            pair = self.pair(v, "between")
            if pair is None:
                return TrueP()
            lo, hi = self.value(field, pair[0]), self.value(field, pair[1])
            if lo is None or hi is None:
                return TrueP()
            if lo > hi:  # type: ignore[operator]
                self.ck.error("E128", v.pos, f"between [{lo}, {hi}] is empty: the low bound is above the high one")
            return And((Compare(ref, CmpOp.GE, lo), Compare(ref, CmpOp.LE, hi)))
        if name in ("contains", "not_contains", "starts_with", "ends_with"):
            s = expect_scalar(self.ck, v, name)
            if s is None:
                return TrueP()
            if not s.text:
                return self.bad("E129", s.pos, f"'{name}' needs a non-empty text")
            textop = TextOp.CONTAINS if name.endswith("contains") else TextOp(name)
            return TextMatch(ref, textop, s.text, negated=name == "not_contains")
        if name in ("contains_any", "contains_all", "contains_none"):
            seq = self.value_list(v, name, field)
            values = []
            for item in seq:
                s = expect_scalar(self.ck, item, "list element")
                if s is not None:
                    values.append(s.text)
            if len(values) != len(seq) or not values:
                return TrueP()
            return ListMatch(ref, ListOp(name), tuple(values))
        raise AssertionError(f"operator without a handler: {name}")  # pragma: no cover

    # -- dates ---------------------------------------------------------------------------------

    def temporal(self, field: Field, ref: FieldRef, name: str, v: YNode) -> Pred:
        ck = self.ck
        if name in ("within_last", "at_least_ago", "within_next", "at_least_ahead"):
            s = expect_scalar(ck, v, name)
            if s is None:
                return TrueP()
            try:
                n, unit = dates.parse_duration(s.text)
            except dates.DateSyntaxError as exc:
                return self.bad("E130", s.pos, f"{name}: {exc}", exc.hint)
            start, end = dates.relative_range(name, n, unit)
            return DateRange(ref, start, end)
        if name == "in_period":
            s = expect_scalar(ck, v, name)
            if s is None:
                return TrueP()
            if s.text not in dates.PERIODS:
                return self.bad("E131", s.pos, f"unknown period '{s.text}'",
                                suggest(s.text, dates.PERIODS) or f"periods: {', '.join(dates.PERIODS)}")
            start, end = dates.period_range(s.text)
            return DateRange(ref, start, end)
        if name == "between":
            pair = self.pair(v, "between")
            if pair is None:
                return TrueP()
            lo, hi = self.date_value(pair[0]), self.date_value(pair[1])
            if lo is None or hi is None:
                return TrueP()
            if isinstance(lo, DateLit) and isinstance(hi, DateLit) and lo.value > hi.value:
                ck.error("E128", v.pos, f"between [{lo.value}, {hi.value}] is empty: the first day is after the last")
            return DateRange(ref, lo, shift(hi, 1, Unit.DAY))
        if isinstance(v, YSeq):
            return self.bad("E126", v.pos, f"'{name}' takes one date, not a list",
                            "use between: [first day, last day] for a range")
        d = self.date_value(v)
        if d is None:
            return TrueP()
        next_day = shift(d, 1, Unit.DAY)
        return {
            "=": lambda: DateRange(ref, d, next_day),
            "!=": lambda: DateRange(ref, d, next_day, negated=True),
            ">": lambda: DateRange(ref, next_day, None),
            ">=": lambda: DateRange(ref, d, None),
            "<": lambda: DateRange(ref, None, d),
            "<=": lambda: DateRange(ref, None, next_day),
        }[name]()

    def date_value(self, node: YNode):
        s = expect_scalar(self.ck, node, "date")
        if s is None:
            return None
        try:
            return dates.parse_date_value(s.text)
        except dates.DateSyntaxError as exc:
            self.ck.error("E130", s.pos, str(exc), exc.hint)
            return None

    # -- values --------------------------------------------------------------------------------

    def pair(self, node: YNode, what: str) -> tuple[YNode, YNode] | None:
        if not isinstance(node, YSeq) or len(node.items) != 2:
            self.ck.error("E132", node.pos, f"{what} takes a list of two values, not {kind_name(node)}",
                          f"{what}: [low, high]")
            return None
        return node.items[0], node.items[1]

    def value_list(self, node: YNode, what: str, field: Field) -> tuple[YNode, ...]:
        if isinstance(node, YSeq):
            if not node.items:
                self.ck.error("E132", node.pos, f"'{what}' needs at least one value")
            return node.items
        if isinstance(node, YScalar) and not node.is_null:
            self.ck.error("E132", node.pos, f"'{what}' takes a list, not a single value",
                          f"write {what}: [{node.text}]" if what in ("in", "not_in", "contains_any", "contains_all", "contains_none") else None)
        else:
            self.ck.error("E132", node.pos, f"'{what}' takes a list, not {kind_name(node)}")
        return ()

    def boolean(self, node: YNode) -> bool | None:
        s = expect_scalar(self.ck, node, "boolean")
        if s is None:
            return None
        if s.text in _TRUE:
            return True
        if s.text in _FALSE:
            return False
        self.ck.error("E133", s.pos, f"expected true or false, not '{s.text}'")
        return None

    def value(self, field: Field, node: YNode) -> Scalar | None:
        """One value, read by the field's type (never by YAML's guess)."""
        s = expect_scalar(self.ck, node, f"a value of '{field.name}'")
        if s is None:
            return None
        if field.type is FieldType.NUMBER:
            if not _NUMBER_RE.match(s.text.strip()):
                self.ck.error("E133", s.pos, f"'{field.name}' is a number; '{s.text}' is not")
                return None
            try:
                return Decimal(s.text.strip())
            except InvalidOperation:  # pragma: no cover - the regex admits only valid numbers
                self.ck.error("E133", s.pos, f"'{s.text}' is not a number")
                return None
        if field.type is FieldType.BOOLEAN:
            return self.boolean(s)
        if field.type is FieldType.ENUM:
            if s.text not in field.values:
                self.ck.error("E134", s.pos, f"'{s.text}' is not a value of '{field.name}'",
                              suggest(s.text, field.values) or f"values: {', '.join(field.values)}")
                return None
            return s.text
        if not s.text.strip():
            self.ck.error("E129", s.pos, f"a blank value never matches '{field.name}'",
                          "blank strings count as empty; test them with is_empty: true")
            return None
        return s.text

    # -- R10: rules that can never hold ---------------------------------------------------------

    def impossible(self, node: YMap, parts: list[Pred]) -> None:
        seen: dict[FieldRef, Scalar] = {}
        for p in parts:
            for q in (p.items if isinstance(p, And) else (p,)):
                if isinstance(q, Compare) and q.op is CmpOp.EQ:
                    if q.ref in seen and seen[q.ref] != q.value:
                        self.ck.warning("W001", node.pos,
                                        f"'{q.ref.field}' cannot equal both {seen[q.ref]} and {q.value}: this never holds",
                                        f"use {q.ref.field}: {{in: [{seen[q.ref]}, {q.value}]}} for either")
                    seen.setdefault(q.ref, q.value)
